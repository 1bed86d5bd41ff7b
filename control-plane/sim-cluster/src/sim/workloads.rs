//! The Deployment (ReplicaSet), StatefulSet and Job controllers: pods for
//! each workload, status from those pods, and what the real controllers do
//! when admission refuses a pod (PodSecurity, LimitRanger, ResourceQuota):
//! a `FailedCreate` Warning event, a `ReplicaFailure` condition on the
//! Deployment, no progress — and retries with back-off until the pod is
//! admitted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::{self, Severity};
use super::history;
use super::status::{self, Phase};
use super::{CONTROLLER, KUBELET, Kind, Msg, Sim, WorkKey, controller_owner_uid, pods};
use crate::config::Failure;
use crate::meta;
use crate::store::WriteCtx;

/// The first retry after a refused pod; each further one waits twice as
/// long, up to [`RETRY_MAX`] (the real controllers' rate-limited requeue).
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between retries of a refused pod.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// A pod admission refused.
#[derive(Debug, Clone)]
pub(super) struct CreateFailure {
    /// The pod's name.
    pub pod: String,
    /// The API server's message (`pods "x" is forbidden: ...`).
    pub message: String,
}

/// What syncing a workload's pods found.
#[derive(Debug, Default)]
pub(super) struct PodSync {
    /// How many of its pods exist.
    pub existing: i64,
    /// The refusal that stopped pod creation, if any.
    pub failure: Option<CreateFailure>,
}

impl Sim {
    /// Pods and status of a Deployment, StatefulSet or Job.
    pub(super) fn reconcile_workload(
        &mut self,
        kind: Kind,
        key: &WorkKey,
        obj: &Value,
        delay: Duration,
    ) {
        if kind == Kind::Job && job_finished(obj) {
            // A Job runs once.
            return;
        }
        if kind == Kind::StatefulSet {
            self.create_claims(obj);
            if self.config.simulate_pods {
                self.sync_revisions(obj);
            }
        }
        let generation = if kind == Kind::Job {
            // A Job's clock starts once, at status.startTime.
            0
        } else {
            meta::generation(obj)
        };
        // A pod whose claims are not bound is not scheduled (and the clock
        // of its readiness delay does not start).
        let ready = self.claims_bound(kind, obj) && self.due(key, generation, delay);
        let mut phase = match (ready, self.failure_for(obj)) {
            (false, _) => Phase::Starting,
            (true, None) => Phase::Ready,
            (true, Some(f)) => Phase::Failed(f),
        };
        let pods = self.ensure_pods(kind, key, obj, phase);
        let status = match (kind, &pods.failure) {
            (Kind::Deployment, None) => {
                if phase == Phase::Ready {
                    self.deadlines.remove(key);
                }
                let exceeded = phase != Phase::Ready && self.progress_deadline_passed(key, obj);
                status::deployment(obj, phase, exceeded)
            }
            (Kind::Deployment, Some(f)) => {
                status::deployment_failed_create(obj, phase, pods.existing, &f.message)
            }
            (Kind::StatefulSet, None) => status::stateful_set(obj, phase),
            (Kind::StatefulSet, Some(_)) => {
                let ready = if phase == Phase::Ready {
                    pods.existing
                } else {
                    0
                };
                status::stateful_set_with(obj, pods.existing, ready)
            }
            _ => {
                let start = obj
                    .pointer("/status/startTime")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(meta::now);
                if pods.failure.is_some() {
                    // A Job whose pod is refused never runs, so never ends.
                    phase = Phase::Starting;
                }
                status::job(obj, phase, &start, pods.existing.min(1))
            }
        };
        self.write_workload(kind, obj, phase, status, &pods);
    }

    /// Makes the workload's pods match it (or, without simulated pods, asks
    /// admission whether its first pod would be admitted); records and
    /// schedules a retry of a refusal.
    fn ensure_pods(&mut self, kind: Kind, key: &WorkKey, obj: &Value, phase: Phase) -> PodSync {
        let sync = if self.config.simulate_pods {
            self.sync_pods(kind, obj, phase)
        } else {
            self.dry_run_pod(kind, obj)
        };
        match &sync.failure {
            Some(failure) => {
                self.record_failed_create(kind, obj, failure);
                self.retry_later(key);
            }
            None => {
                self.failed_creates.remove(key);
            }
        }
        sync
    }

    /// The workload's pods (for a Deployment, its current ReplicaSet's):
    /// missing ones created through admission, extra or outdated ones
    /// deleted, the others moved to the state `phase` implies.
    fn sync_pods(&self, kind: Kind, workload: &Value, phase: Phase) -> PodSync {
        let ns = meta::namespace(workload).unwrap_or("");
        let replica_set = match kind {
            Kind::Deployment => match self.sync_replica_sets(workload) {
                Some(rs) => Some(rs),
                None => return PodSync::default(),
            },
            _ => None,
        };
        let owner: &Value = replica_set.as_deref().unwrap_or(workload);
        let uid = meta::uid(owner);
        let existing: HashMap<String, Arc<Value>> = self
            .store
            .all_containing(self.ids.pods, ns, uid)
            .into_iter()
            .filter(|p| controller_owner_uid(p) == Some(uid))
            .map(|p| (meta::name(&p).unwrap_or("").to_owned(), p))
            .collect();
        let desired = pods::desired(kind, owner);
        let want_names: HashSet<&str> = desired.iter().map(|(n, _)| n.as_str()).collect();
        for (name, pod) in &existing {
            if !want_names.contains(name.as_str()) {
                self.delete_pod(kind, owner, pod);
            }
        }
        let mut sync = PodSync::default();
        let state = pods::state_for(kind, phase);
        for (name, mut pod) in desired {
            let current = existing.get(&name).filter(|current| {
                // A pod of an older revision is replaced.
                let outdated = pods::revision_label(&pod)
                    .is_some_and(|(k, v)| meta::labels(current).and_then(|l| l.get(k)) != Some(v));
                if outdated {
                    let _ = self
                        .store
                        .delete(self.ids.pods, ns, &name, &Default::default());
                }
                !outdated
            });
            let entered = match current {
                None => {
                    pod["status"] = pods::status(&pod, state);
                    match self
                        .store
                        .create(self.ids.pods, Some(ns), pod, WriteCtx::new(CONTROLLER))
                    {
                        Ok(created) => {
                            self.pod_created(kind, owner, &created);
                            Some(created)
                        }
                        Err(error) if error.is_namespace_terminating() => break,
                        Err(error) => {
                            // The controllers stop at the first refusal and
                            // try again later.
                            sync.failure = Some(CreateFailure {
                                pod: name,
                                message: error.message,
                            });
                            break;
                        }
                    }
                }
                Some(current) if pods::observed_state(current) != Some(state) => self
                    .store
                    .modify(
                        self.ids.pods,
                        ns,
                        &name,
                        Some("status"),
                        WriteCtx::new(KUBELET),
                        |cur| status::with_status(cur, pods::status(cur, state)),
                    )
                    .ok()
                    .flatten(),
                Some(_) => None,
            };
            sync.existing += 1;
            if let Some(pod) = entered {
                for (warning, reason, message) in pods::events_for(&pod, state) {
                    let severity = if warning {
                        Severity::Warning
                    } else {
                        Severity::Normal
                    };
                    events::record(
                        &self.store,
                        self.ids.events,
                        &pod,
                        severity,
                        reason,
                        &message,
                        KUBELET,
                    );
                }
            }
        }
        if let Some(rs) = &replica_set {
            let ready = if state == pods::PodState::Running {
                sync.existing
            } else {
                0
            };
            self.write_replica_set_status(rs, sync.existing, ready);
        }
        sync
    }

    /// Deletes one of `owner`'s pods, with its controller's
    /// `SuccessfulDelete` event.
    pub(super) fn delete_pod(&self, kind: Kind, owner: &Value, pod: &Value) {
        let ns = meta::namespace(pod).unwrap_or("");
        let name = meta::name(pod).unwrap_or("");
        if self
            .store
            .delete(self.ids.pods, ns, name, &Default::default())
            .is_err()
        {
            return;
        }
        let owner_name = meta::name(owner).unwrap_or("");
        let (message, component) = match kind {
            Kind::Deployment => (format!("Deleted pod: {name}"), "replicaset-controller"),
            Kind::StatefulSet => (
                format!("Delete Pod {name} in StatefulSet {owner_name} successful"),
                "statefulset-controller",
            ),
            _ => (format!("Deleted pod: {name}"), "job-controller"),
        };
        events::record(
            &self.store,
            self.ids.events,
            owner,
            Severity::Normal,
            "SuccessfulDelete",
            &message,
            component,
        );
    }

    /// The events of a pod's creation: the scheduler's `Scheduled` on the
    /// pod and its controller's `SuccessfulCreate` on the owner.
    fn pod_created(&self, kind: Kind, owner: &Value, pod: &Value) {
        let ns = meta::namespace(pod).unwrap_or("");
        let name = meta::name(pod).unwrap_or("");
        events::record(
            &self.store,
            self.ids.events,
            pod,
            Severity::Normal,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {}", events::NODE_NAME),
            "default-scheduler",
        );
        let owner_name = meta::name(owner).unwrap_or("");
        let (message, component) = match kind {
            Kind::Deployment => (format!("Created pod: {name}"), "replicaset-controller"),
            Kind::StatefulSet => (
                format!("Create Pod {name} in StatefulSet {owner_name} successful"),
                "statefulset-controller",
            ),
            _ => (format!("Created pod: {name}"), "job-controller"),
        };
        events::record(
            &self.store,
            self.ids.events,
            owner,
            Severity::Normal,
            "SuccessfulCreate",
            &message,
            component,
        );
    }

    /// Without simulated pods: whether the workload's first pod would be
    /// admitted (a dry-run create), so refusals still show.
    fn dry_run_pod(&self, kind: Kind, owner: &Value) -> PodSync {
        let ns = meta::namespace(owner).unwrap_or("");
        // A Deployment's pods would come from its (unsimulated) ReplicaSet.
        let replica_set;
        let owner = if kind == Kind::Deployment {
            replica_set = history::replica_set_for(owner, 1);
            &replica_set
        } else {
            owner
        };
        let Some((name, pod)) = pods::desired(kind, owner).into_iter().next() else {
            return PodSync::default();
        };
        let mut ctx = WriteCtx::new(CONTROLLER);
        ctx.dry_run = true;
        match self.store.create(self.ids.pods, Some(ns), pod, ctx) {
            Err(error) if !error.is_namespace_terminating() => PodSync {
                existing: 0,
                failure: Some(CreateFailure {
                    pod: name,
                    message: error.message,
                }),
            },
            _ => PodSync::default(),
        }
    }

    /// The Warning event the workload's controller records for a refused
    /// pod: on the ReplicaSet for a Deployment (`Error creating: ...`), on
    /// the StatefulSet (`Create Pod ... failed error: ...`), on the Job.
    fn record_failed_create(&self, kind: Kind, obj: &Value, failure: &CreateFailure) {
        let name = meta::name(obj).unwrap_or("");
        let (involved, message, component) = match kind {
            Kind::Deployment => {
                let rs = status::replica_set_name(obj);
                let ns = meta::namespace(obj).unwrap_or("");
                // The ReplicaSet, or without simulated pods the one a real
                // cluster would have made.
                let replica_set = match self.store.get(self.ids.replica_sets, ns, &rs) {
                    Ok(stored) => (*stored).clone(),
                    Err(_) => json!({
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {
                            "name": rs,
                            "namespace": ns,
                            "uid": meta::stable_hash(&json!([meta::uid(obj), rs]), 36),
                        },
                    }),
                };
                (
                    replica_set,
                    format!("Error creating: {}", failure.message),
                    "replicaset-controller",
                )
            }
            Kind::StatefulSet => (
                obj.clone(),
                format!(
                    "Create Pod {} in StatefulSet {name} failed error: {}",
                    failure.pod, failure.message
                ),
                "statefulset-controller",
            ),
            _ => (
                obj.clone(),
                format!("Error creating: {}", failure.message),
                "job-controller",
            ),
        };
        events::record(
            &self.store,
            self.ids.events,
            &involved,
            Severity::Warning,
            "FailedCreate",
            &message,
            component,
        );
    }

    /// Schedules another attempt at a refused workload, backing off.
    fn retry_later(&mut self, key: &WorkKey) {
        let attempts = self.failed_creates.entry(key.clone()).or_insert(0);
        let wait = RETRY_FIRST
            .saturating_mul(1 << (*attempts).min(16))
            .min(RETRY_MAX);
        *attempts += 1;
        let at = Instant::now() + wait;
        if self.scheduled.get(key).is_some_and(|t| *t <= at) {
            return;
        }
        self.scheduled.insert(key.clone(), at);
        let tx = self.tx.clone();
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let _ = tx.send(Msg::Due(key));
        });
    }

    /// Retries every workload of `namespace` whose pods were refused, now:
    /// something admission reads (labels, quotas, limits) changed.
    pub(super) fn retry_refused(&mut self, namespace: &str) {
        let keys: Vec<WorkKey> = self
            .failed_creates
            .keys()
            .filter(|k| k.1 == namespace)
            .cloned()
            .collect();
        for key in keys {
            self.reconcile(key.0, &key.1, &key.2);
        }
    }

    fn write_workload(
        &mut self,
        kind: Kind,
        obj: &Value,
        phase: Phase,
        status: Value,
        pods: &PodSync,
    ) {
        let res = self.ids.res(kind);
        let ns = meta::namespace(obj).unwrap_or("");
        let name = meta::name(obj).unwrap_or("");
        let written = self
            .store
            .modify(
                res,
                ns,
                name,
                Some("status"),
                WriteCtx::new(CONTROLLER),
                |cur| status::with_status(cur, status),
            )
            .ok()
            .flatten();
        if let Some(updated) = &written {
            self.workload_events(kind, obj, updated, phase, pods);
        }
    }

    /// Events the workload's own controller records on a transition.
    fn workload_events(
        &self,
        kind: Kind,
        before: &Value,
        obj: &Value,
        phase: Phase,
        pods: &PodSync,
    ) {
        let component = match kind {
            Kind::Deployment => "deployment-controller",
            Kind::StatefulSet => "statefulset-controller",
            Kind::Job => "job-controller",
            _ => CONTROLLER,
        };
        let record = |severity, reason: &str, message: &str| {
            events::record(
                &self.store,
                self.ids.events,
                obj,
                severity,
                reason,
                message,
                component,
            );
        };
        let name = meta::name(obj).unwrap_or("");
        let created = pods.failure.is_none();
        // The first status written for a generation is when the real
        // controller would have created the pods.
        let new_generation = before.pointer("/status/observedGeneration")
            != obj.pointer("/status/observedGeneration");
        let job_started = before.pointer("/status/startTime").is_none();
        // With simulated pods these come from the ReplicaSet and pod
        // creations themselves (`sync_replica_sets`, `pod_created`).
        let simulated = self.config.simulate_pods;
        match kind {
            _ if simulated => {}
            Kind::Deployment if new_generation => {
                let rs = status::replica_set_name(obj);
                record(
                    Severity::Normal,
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled up replica set {rs} from 0 to {}",
                        status::replicas(obj)
                    ),
                );
            }
            Kind::StatefulSet if new_generation && created => {
                record(
                    Severity::Normal,
                    "SuccessfulCreate",
                    &format!("Create Pod {name}-0 in StatefulSet {name} successful"),
                );
            }
            Kind::Job if job_started && created => {
                let pod = pods::desired(Kind::Job, obj)
                    .into_iter()
                    .next()
                    .map(|(n, _)| n)
                    .unwrap_or_default();
                record(
                    Severity::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {pod}"),
                );
            }
            _ => {}
        }
        match (kind, phase) {
            (Kind::Job, Phase::Ready) => record(Severity::Normal, "Completed", "Job completed"),
            (Kind::Job, Phase::Failed(Failure::JobFail)) => {
                record(
                    Severity::Warning,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                );
            }
            _ => {}
        }
        // Without pods, the kubelet's warnings go on the workload itself so
        // the failure is still visible as an Event.
        if !self.config.simulate_pods
            && created
            && let Phase::Failed(failure) = phase
        {
            let pod_like = json!({ "metadata": { "name": name, "namespace": meta::namespace(obj), "uid": meta::uid(obj) }, "spec": obj.pointer("/spec/template/spec") });
            let state = pods::state_for(kind, Phase::Failed(failure));
            for (warning, reason, message) in pods::events_for(&pod_like, state) {
                if warning {
                    events::record(
                        &self.store,
                        self.ids.events,
                        obj,
                        Severity::Warning,
                        reason,
                        &message,
                        KUBELET,
                    );
                }
            }
        }
    }
}

impl Sim {
    /// Whether a Deployment that is not available has gone
    /// `progressDeadlineSeconds` without progress, as the deployment
    /// controller judges it: from its `Progressing` condition's last update
    /// (a new ReplicaSet, hence a new message, is progress). If not yet, a
    /// timer looks again when the deadline comes.
    pub(super) fn progress_deadline_passed(&mut self, key: &WorkKey, deploy: &Value) -> bool {
        let Some(seconds) = deploy
            .pointer("/spec/progressDeadlineSeconds")
            .and_then(Value::as_i64)
        else {
            return false;
        };
        let rs = status::replica_set_name(deploy);
        let progressing = deploy
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"));
        let about_current = progressing
            .and_then(|c| c["message"].as_str())
            .is_some_and(|m| m.contains(&format!("\"{rs}\"")));
        let since = match progressing {
            Some(c) if about_current && c["reason"] == "ProgressDeadlineExceeded" => return true,
            Some(c) if about_current && c["reason"] == "ReplicaSetUpdated" => c["lastUpdateTime"]
                .as_str()
                .and_then(meta::parse_time)
                .unwrap_or_else(jiff::Timestamp::now),
            // Progress now: the condition is about to be written.
            _ => jiff::Timestamp::now(),
        };
        let deadline = since.as_second() + seconds;
        let left = deadline - jiff::Timestamp::now().as_second();
        if left <= 0 {
            self.deadlines.remove(key);
            return true;
        }
        if self.deadlines.get(key) != Some(&deadline) {
            self.deadlines.insert(key.clone(), deadline);
            let tx = self.tx.clone();
            let key = key.clone();
            let at = Instant::now() + Duration::from_secs(left.unsigned_abs());
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let _ = tx.send(Msg::Due(key));
            });
        }
        false
    }
}

fn job_finished(job: &Value) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter().any(|c| {
                matches!(
                    c.get("type").and_then(Value::as_str),
                    Some("Complete" | "Failed")
                )
            })
        })
}
