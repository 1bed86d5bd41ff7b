//! Whether the workloads a store is made of are ready, worded for
//! `observe`: each [`Workload`] is ready, still waited for (and for what)
//! or failed, and [`observe_all`] sums a store's workloads up the way the
//! engines report them.
//!
//! ```
//! use storeplane_plugin_sdk::readiness::{Readiness, Workload};
//! use serde_json::json;
//!
//! let mysql = Workload::stateful_set("MySQL", "shop-mysql");
//! let set = json!({"spec": {"replicas": 1}, "status": {"readyReplicas": 0}});
//! assert_eq!(mysql.readiness(Some(&set)), Readiness::Waiting("MySQL (0/1 ready)".into()));
//! assert_eq!(
//!     mysql.readiness(None),
//!     Readiness::Waiting("StatefulSet shop-mysql to be created".into())
//! );
//! ```

use serde_json::Value;

use crate::objects::{
    JobHealth, SetHealth, WorkloadHealth, deployment_health, job_health, statefulset_health,
    stuck_container,
};
use crate::{Host, Result};

/// The reason a store fails with when one of its Jobs gave up: engines run
/// Jobs to set a store up (database, admin user, seed data).
pub const JOB_FAILED_REASON: &str = "SetupJobFailed";

/// How far one workload, or a whole store, is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Done: a Deployment has an available replica, every StatefulSet
    /// replica is ready, a Job completed.
    Ready,
    /// Not yet. What the store still waits for, to follow `waiting for `,
    /// e.g. `MySQL (0/1 ready)`.
    Waiting(String),
    /// It will not get there by itself: the store has failed, with this
    /// reason (CamelCase) and message.
    Failed {
        /// CamelCase reason, e.g. `ProgressDeadlineExceeded`.
        reason: String,
        /// What happened, naming the workload.
        message: String,
    },
}

impl Readiness {
    /// Whether this is [`Readiness::Ready`].
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

/// The kinds of workload a [`Workload`] can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment: ready when a replica is available
    /// ([`deployment_health`]).
    Deployment,
    /// `apps/v1` StatefulSet: ready when every replica is
    /// ([`statefulset_health`]).
    StatefulSet,
    /// `batch/v1` Job: ready when complete ([`job_health`]).
    Job,
}

impl WorkloadKind {
    /// The `apiVersion` to read it with.
    pub fn api_version(self) -> &'static str {
        match self {
            WorkloadKind::Deployment | WorkloadKind::StatefulSet => "apps/v1",
            WorkloadKind::Job => "batch/v1",
        }
    }

    /// The `kind`.
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Job => "Job",
        }
    }
}

/// One workload a store needs: its kind, its object name and the name a
/// store owner knows it by (`"WordPress"`, `"PostgreSQL"`, `"setup"`), which
/// the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload<'a> {
    kind: WorkloadKind,
    label: &'a str,
    name: &'a str,
    doing: Option<&'a str>,
}

impl<'a> Workload<'a> {
    /// A Deployment named `name`, shown as `label`.
    pub fn deployment(label: &'a str, name: &'a str) -> Self {
        Self::new(WorkloadKind::Deployment, label, name)
    }

    /// A StatefulSet named `name`, shown as `label`.
    pub fn stateful_set(label: &'a str, name: &'a str) -> Self {
        Self::new(WorkloadKind::StatefulSet, label, name)
    }

    /// A Job named `name`, shown as `<label> Job <name>` (`setup Job
    /// shop-setup-…`).
    pub fn job(label: &'a str, name: &'a str) -> Self {
        Self::new(WorkloadKind::Job, label, name)
    }

    fn new(kind: WorkloadKind, label: &'a str, name: &'a str) -> Self {
        Workload {
            kind,
            label,
            name,
            doing: None,
        }
    }

    /// What a Job does, said while it runs (`migrations, admin user, seed`):
    /// a setup Job can run for minutes. Not shown for other kinds.
    #[must_use]
    pub fn doing(mut self, what: &'a str) -> Self {
        self.doing = Some(what);
        self
    }

    /// Its kind.
    pub fn kind(&self) -> WorkloadKind {
        self.kind
    }

    /// Its object name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Its readiness from the object as read (`None`: not created yet).
    /// With `x` the name and `L` the label:
    ///
    /// - not created yet: waiting for `Deployment x to be created` (or
    ///   `StatefulSet x ...`, `L Job x ...`);
    /// - Deployment: ready when a replica is available; failed when it
    ///   reports it will not progress (the condition's reason, message
    ///   `L Deployment x: <its message>`); else waiting for `L (<its
    ///   progress message>)`;
    /// - StatefulSet: ready when every replica is; else waiting for
    ///   `L (0/1 ready)`. It never fails by itself: a stuck Pod says more
    ///   ([`stuck_release_container`]);
    /// - Job: ready when complete; failed when it gave up (reason
    ///   [`JOB_FAILED_REASON`], message `L Job x failed (<reason>):
    ///   <message>; its Pod logs name the step that failed`); else waiting
    ///   for `L Job x (<doing>; 1 running, 0 failed attempts)`.
    pub fn readiness(&self, object: Option<&Value>) -> Readiness {
        let (label, name) = (self.label, self.name);
        let Some(object) = object else {
            return Readiness::Waiting(match self.kind {
                WorkloadKind::Job => format!("{label} Job {name} to be created"),
                kind => format!("{} {name} to be created", kind.kind()),
            });
        };
        match self.kind {
            WorkloadKind::Deployment => match deployment_health(object) {
                WorkloadHealth::Available { .. } => Readiness::Ready,
                WorkloadHealth::Progressing { message } => {
                    Readiness::Waiting(format!("{label} ({message})"))
                }
                WorkloadHealth::Failed { reason, message } => Readiness::Failed {
                    reason,
                    message: format!("{label} Deployment {name}: {message}"),
                },
            },
            WorkloadKind::StatefulSet => match statefulset_health(object) {
                SetHealth::Ready => Readiness::Ready,
                SetHealth::Waiting { ready, desired } => {
                    Readiness::Waiting(format!("{label} ({ready}/{desired} ready)"))
                }
            },
            WorkloadKind::Job => match job_health(object) {
                JobHealth::Complete => Readiness::Ready,
                JobHealth::Running { active, failed } => {
                    let doing = self.doing.map(|d| format!("{d}; ")).unwrap_or_default();
                    Readiness::Waiting(format!(
                        "{label} Job {name} ({doing}{active} running, {failed} failed attempts)"
                    ))
                }
                JobHealth::Failed { reason, message } => Readiness::Failed {
                    reason: JOB_FAILED_REASON.to_owned(),
                    message: format!(
                        "{label} Job {name} failed ({reason}): {message}; \
                         its Pod logs name the step that failed"
                    ),
                },
            },
        }
    }

    /// Reads the workload from the store's namespace and says how far it is.
    ///
    /// # Errors
    ///
    /// The host's error when the read fails (e.g. `kube-read` not granted).
    pub fn observe(&self, host: &dyn Host) -> Result<Readiness> {
        let object = host.kube_get(self.kind.api_version(), self.kind.kind(), self.name)?;
        Ok(self.readiness(object.as_ref()))
    }
}

/// Reads `workloads` in order and sums them up: [`Readiness::Failed`] as
/// soon as one has failed (the rest are not read), [`Readiness::Ready`]
/// when all are ready, else [`Readiness::Waiting`] with what each of the
/// others waits for, joined by `; `.
///
/// # Errors
///
/// The host's error when a read fails.
pub fn observe_all(host: &dyn Host, workloads: &[Workload<'_>]) -> Result<Readiness> {
    let mut waiting = Vec::new();
    for workload in workloads {
        match workload.observe(host)? {
            Readiness::Ready => {}
            Readiness::Waiting(what) => waiting.push(what),
            failed @ Readiness::Failed { .. } => return Ok(failed),
        }
    }
    Ok(if waiting.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Waiting(waiting.join("; "))
    })
}

/// The first container stuck for a reason that needs help (see
/// [`stuck_container`]) among the Pods of a Helm release, as `(reason,
/// message)`. The Pods are found by the labels Helm's chart conventions set,
/// `app.kubernetes.io/name=<chart>` and `app.kubernetes.io/instance=<release>`.
///
/// Worth asking while a store waits: a workload only gives up after a long
/// deadline, but a Pod that cannot pull its image or keeps crashing says so
/// at once.
///
/// # Errors
///
/// The host's error when listing Pods fails.
pub fn stuck_release_container(
    host: &dyn Host,
    chart: &str,
    release: &str,
) -> Result<Option<(String, String)>> {
    let selector = format!("app.kubernetes.io/name={chart},app.kubernetes.io/instance={release}");
    let pods = host.kube_list("v1", "Pod", Some(&selector))?;
    Ok(stuck_container(&pods))
}

/// What a Deployment or StatefulSet that should run no Pod (a suspended
/// store's) still waits for, worded to follow `waiting for ` (`WordPress to
/// stop (1 running)`), or `None` once it is at zero: `spec.replicas` 0 and
/// no current, ready or terminating replica in its status. A workload that
/// does not exist runs nothing. The opposite question to [`Workload::readiness`].
pub fn still_running(label: &str, object: Option<&Value>) -> Option<String> {
    let object = object?;
    if object["spec"]["replicas"].as_i64().unwrap_or(1) != 0 {
        return Some(format!("{label} to be scaled to 0"));
    }
    let status = &object["status"];
    let count = |key: &str| status[key].as_i64().unwrap_or(0);
    let left = count("replicas")
        .max(count("readyReplicas"))
        .max(count("terminatingReplicas"));
    (left > 0).then(|| format!("{label} to stop ({left} running)"))
}

/// What a Job of a suspended store still waits for: its running Pods to
/// stop (a suspended Job's Pods are deleted). `None` when none runs.
pub fn job_still_running(label: &str, name: &str, object: Option<&Value>) -> Option<String> {
    let active = object?["status"]["active"].as_i64().unwrap_or(0);
    (active > 0).then(|| format!("{label} Job {name} to stop ({active} running)"))
}

/// A suspended store from its objects: [`Phase::Suspended`](crate::Phase::Suspended)
/// once every workload of `stopped` runs nothing (Deployments and
/// StatefulSets at zero, no Job Pod active) and `page`, the Deployment
/// answering for the store meanwhile, is available; Failed when the page
/// cannot come up (also a stuck container among the Pods `page_pods`
/// selects: the shop's own Pods are being stopped, so only the page's
/// count); otherwise Provisioning, `pausing: waiting for …`.
///
/// # Errors
///
/// The host's error when a read fails.
pub fn observe_paused(
    host: &dyn Host,
    stopped: &[Workload<'_>],
    page: &Workload<'_>,
    page_pods: &str,
) -> Result<crate::Observation> {
    use crate::Observation;
    let mut waiting = Vec::new();
    for workload in stopped {
        let object = host.kube_get(
            workload.kind.api_version(),
            workload.kind.kind(),
            workload.name,
        )?;
        waiting.extend(match workload.kind {
            WorkloadKind::Job => job_still_running(workload.label, workload.name, object.as_ref()),
            WorkloadKind::Deployment | WorkloadKind::StatefulSet => {
                still_running(workload.label, object.as_ref())
            }
        });
    }
    match page.observe(host)? {
        Readiness::Ready => {}
        Readiness::Waiting(what) => waiting.push(what),
        Readiness::Failed { reason, message } => return Ok(Observation::failed(reason, message)),
    }
    if waiting.is_empty() {
        return Ok(Observation::suspended(
            "paused: no workload runs, data kept",
        ));
    }
    if let Some((reason, message)) =
        stuck_container(&host.kube_list("v1", "Pod", Some(page_pods))?)
    {
        return Ok(Observation::failed(reason, message));
    }
    Ok(Observation::provisioning(format!(
        "pausing: waiting for {}",
        waiting.join("; ")
    )))
}

#[cfg(test)]
mod tests;
