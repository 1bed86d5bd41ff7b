//! What the Deployment (ReplicaSet), StatefulSet and Job controllers do
//! alike: pods for each workload, status from those pods, and what the real
//! controllers do when admission refuses a pod (PodSecurity, LimitRanger,
//! ResourceQuota): a `FailedCreate` Warning event, no progress — and retries
//! with back-off until the pod is admitted. Where they differ is each one's
//! [`Workload`], in its own file.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::{self, Severity};
use super::pods::{self, PodState};
use super::status::{self, Phase};
use super::{CONTROLLER, Controller, KUBELET, Sim, WorkKey, claims, controller_owner_uid};
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

/// The object a workload's pods hang off.
pub(super) enum PodsOwner<'a> {
    /// The workload itself.
    Workload(&'a Value),
    /// An object the controller made for it (a Deployment's ReplicaSet).
    Made(Arc<Value>),
    /// None yet, so no pods either.
    Missing,
}

impl PodsOwner<'_> {
    fn get(&self) -> Option<&Value> {
        match self {
            PodsOwner::Workload(owner) => Some(owner),
            PodsOwner::Made(owner) => Some(owner),
            PodsOwner::Missing => None,
        }
    }
}

/// A status write on a workload, as its controller's events see it.
pub(super) struct Transition<'a> {
    /// The workload before the write.
    pub before: &'a Value,
    /// The workload as written.
    pub after: &'a Value,
    /// The phase written.
    pub phase: Phase,
    /// Whether its pods were admitted.
    pub created: bool,
    /// Whether pods are simulated: then their creations record their own
    /// events, and the workload's controller does not stand in for them.
    pub simulated: bool,
}

impl Transition<'_> {
    /// Whether this is the first status of a generation: when the real
    /// controller would have created the pods.
    pub fn new_generation(&self) -> bool {
        self.before.pointer("/status/observedGeneration")
            != self.after.pointer("/status/observedGeneration")
    }
}

/// An event a workload's controller records: `(severity, reason, message)`.
pub(super) type WorkloadEvent = (Severity, &'static str, String);

/// What one workload controller (Deployment, StatefulSet, Job) does its own
/// way; the rest is this file's.
pub(super) trait Workload: Controller {
    /// Whether it is done with the workload for good (a Job runs once).
    fn finished(&self, _workload: &Value) -> bool {
        false
    }

    /// What it makes before the pods (a StatefulSet's claims and revisions).
    fn prepare(&self, _sim: &mut Sim, _workload: &Value) {}

    /// The generation whose change restarts the readiness delay.
    fn generation(&self, workload: &Value) -> i64 {
        meta::generation(workload)
    }

    /// The claims its pods need bound before they are scheduled.
    fn claims(&self, workload: &Value) -> Vec<String> {
        claims::template_claims(workload)
    }

    /// The object its pods hang off.
    fn pods_owner<'a>(&self, _sim: &Sim, workload: &'a Value) -> PodsOwner<'a> {
        PodsOwner::Workload(workload)
    }

    /// The pods `owner` should have: `(name, pod without status)`. Names
    /// are stable (a deleted pod comes back under its name), where a real
    /// ReplicaSet or Job generates a new one each time.
    fn desired_pods(&self, owner: &Value) -> Vec<(String, Value)>;

    /// The state of its pods while the workload is in `phase`.
    fn pod_state(&self, phase: Phase) -> PodState {
        pods::state_for(phase)
    }

    /// Holds back or ends `phase` for what its pods do before they may
    /// finish (a Job's archive transfer); called once its pods can be
    /// scheduled, before they are synced.
    fn hold(&self, _sim: &mut Sim, _key: &WorkKey, _workload: &Value, phase: Phase) -> Phase {
        phase
    }

    /// After its pods were synced in `phase` (once they can be scheduled):
    /// starts what they do besides running (a Job's archive transfer).
    fn pods_running(
        &self,
        _sim: &mut Sim,
        _key: &WorkKey,
        _workload: &Value,
        _phase: Phase,
        _pods: &PodSync,
    ) {
    }

    /// After its simulated pods were synced: `existing` of them exist,
    /// `running` of those run.
    fn pods_synced(&self, _sim: &Sim, _owner: &Value, _existing: i64, _running: i64) {}

    /// The component of the events on the workload.
    fn component(&self) -> &'static str;

    /// The component that creates and deletes its pods.
    fn pods_component(&self) -> &'static str {
        self.component()
    }

    /// The `SuccessfulCreate` message of its pod `pod` of `owner`; this
    /// default and the two below are what the ReplicaSet and Job
    /// controllers (`RealPodControl`) say.
    fn created_message(&self, pod: &str, _owner: &str) -> String {
        format!("Created pod: {pod}")
    }

    /// The `SuccessfulDelete` message of its pod `pod` of `owner`.
    fn deleted_message(&self, pod: &str, _owner: &str) -> String {
        format!("Deleted pod: {pod}")
    }

    /// The `FailedCreate` message when admission refused `pod` of
    /// `workload` with `error`.
    fn refused_message(&self, _pod: &str, _workload: &str, error: &str) -> String {
        format!("Error creating: {error}")
    }

    /// The object the `FailedCreate` event is about.
    fn refused_subject(&self, _sim: &Sim, workload: &Value) -> Value {
        workload.clone()
    }

    /// The workload's status in `phase` with `pods`; may hold the phase
    /// back (a Job whose pod is refused never runs).
    fn status(
        &self,
        sim: &mut Sim,
        key: &WorkKey,
        workload: &Value,
        phase: &mut Phase,
        pods: &PodSync,
    ) -> Value;

    /// The events it records on a status write, besides the kubelet's.
    fn events(&self, transition: &Transition) -> Vec<WorkloadEvent>;
}

impl Sim {
    /// Pods and status of a Deployment, StatefulSet or Job.
    pub(super) fn reconcile_workload(
        &mut self,
        workload: &dyn Workload,
        key: &WorkKey,
        obj: &Value,
        delay: Duration,
    ) {
        if workload.finished(obj) {
            return;
        }
        workload.prepare(self, obj);
        let generation = workload.generation(obj);
        // A pod whose claims are not bound is not scheduled (and the clock
        // of its readiness delay does not start).
        let bound = self.claims_bound(key.0, obj, workload.claims(obj));
        let ready = bound && self.due(key, generation, delay);
        let mut phase = match (ready, self.failure_for(obj)) {
            (false, _) => Phase::Starting,
            (true, None) => Phase::Ready,
            (true, Some(f)) => Phase::Failed(f),
        };
        if bound {
            phase = workload.hold(self, key, obj, phase);
        }
        let pods = self.ensure_pods(workload, key, obj, phase);
        if bound {
            workload.pods_running(self, key, obj, phase, &pods);
        }
        let status = workload.status(self, key, obj, &mut phase, &pods);
        self.write_workload(workload, obj, phase, status, &pods);
    }

    /// Makes the workload's pods match it (or, without simulated pods, asks
    /// admission whether its first pod would be admitted); records and
    /// schedules a retry of a refusal.
    fn ensure_pods(
        &mut self,
        workload: &dyn Workload,
        key: &WorkKey,
        obj: &Value,
        phase: Phase,
    ) -> PodSync {
        let sync = if self.config.simulate_pods {
            self.sync_pods(workload, obj, phase)
        } else {
            self.dry_run_pod(workload, obj)
        };
        match &sync.failure {
            Some(failure) => {
                self.record_failed_create(workload, obj, failure);
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
    fn sync_pods(&self, workload: &dyn Workload, obj: &Value, phase: Phase) -> PodSync {
        let ns = meta::namespace(obj).unwrap_or("");
        let owner = workload.pods_owner(self, obj);
        let Some(owner) = owner.get() else {
            return PodSync::default();
        };
        let uid = meta::uid(owner);
        let existing: HashMap<String, Arc<Value>> = self
            .store
            .all_containing(self.ids.pods, ns, uid)
            .into_iter()
            .filter(|p| controller_owner_uid(p) == Some(uid))
            .map(|p| (meta::name(&p).unwrap_or("").to_owned(), p))
            .collect();
        let desired = workload.desired_pods(owner);
        let want_names: HashSet<&str> = desired.iter().map(|(n, _)| n.as_str()).collect();
        for (name, pod) in &existing {
            if !want_names.contains(name.as_str()) {
                self.delete_pod(workload, owner, pod);
            }
        }
        let mut sync = PodSync::default();
        let state = workload.pod_state(phase);
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
                            self.pod_created(workload, owner, &created);
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
                Some(current) if pods::observed_state(current) != Some(state) => {
                    self.write_pod_state(ns, &name, state)
                }
                Some(_) => None,
            };
            sync.existing += 1;
            if let Some(pod) = entered {
                self.record_pod_events(&pod, state);
            }
        }
        let running = if state == PodState::Running {
            sync.existing
        } else {
            0
        };
        workload.pods_synced(self, owner, sync.existing, running);
        sync
    }

    /// Deletes one of `owner`'s pods, with its controller's
    /// `SuccessfulDelete` event.
    pub(super) fn delete_pod(&self, workload: &dyn Workload, owner: &Value, pod: &Value) {
        let ns = meta::namespace(pod).unwrap_or("");
        let name = meta::name(pod).unwrap_or("");
        if self
            .store
            .delete(self.ids.pods, ns, name, &Default::default())
            .is_err()
        {
            return;
        }
        let message = workload.deleted_message(name, meta::name(owner).unwrap_or(""));
        self.record_pods_event(workload, owner, "SuccessfulDelete", &message);
    }

    /// The events of a pod's creation: the scheduler's `Scheduled` on the
    /// pod and its controller's `SuccessfulCreate` on the owner.
    fn pod_created(&self, workload: &dyn Workload, owner: &Value, pod: &Value) {
        self.record_scheduled(pod);
        let name = meta::name(pod).unwrap_or("");
        let message = workload.created_message(name, meta::name(owner).unwrap_or(""));
        self.record_pods_event(workload, owner, "SuccessfulCreate", &message);
    }

    /// A Normal event on `owner` from the controller of the workload's pods.
    fn record_pods_event(
        &self,
        workload: &dyn Workload,
        owner: &Value,
        reason: &str,
        message: &str,
    ) {
        events::record(
            &self.store,
            self.ids.events,
            owner,
            Severity::Normal,
            reason,
            message,
            workload.pods_component(),
        );
    }

    /// Without simulated pods: whether the workload's first pod would be
    /// admitted (a dry-run create), so refusals still show.
    fn dry_run_pod(&self, workload: &dyn Workload, obj: &Value) -> PodSync {
        let ns = meta::namespace(obj).unwrap_or("");
        let owner = workload.pods_owner(self, obj);
        let Some(owner) = owner.get() else {
            return PodSync::default();
        };
        let Some((name, pod)) = workload.desired_pods(owner).into_iter().next() else {
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
    /// pod.
    fn record_failed_create(&self, workload: &dyn Workload, obj: &Value, failure: &CreateFailure) {
        let name = meta::name(obj).unwrap_or("");
        events::record(
            &self.store,
            self.ids.events,
            &workload.refused_subject(self, obj),
            Severity::Warning,
            "FailedCreate",
            &workload.refused_message(&failure.pod, name, &failure.message),
            workload.pods_component(),
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
        self.wake_at(key, at);
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
        workload: &dyn Workload,
        obj: &Value,
        phase: Phase,
        status: Value,
        pods: &PodSync,
    ) {
        let res = workload.resource(&self.ids);
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
            self.workload_events(workload, obj, updated, phase, pods);
        }
    }

    /// Events the workload's own controller records on a transition.
    fn workload_events(
        &self,
        workload: &dyn Workload,
        before: &Value,
        obj: &Value,
        phase: Phase,
        pods: &PodSync,
    ) {
        let created = pods.failure.is_none();
        let transition = Transition {
            before,
            after: obj,
            phase,
            created,
            simulated: self.config.simulate_pods,
        };
        for (severity, reason, message) in workload.events(&transition) {
            events::record(
                &self.store,
                self.ids.events,
                obj,
                severity,
                reason,
                &message,
                workload.component(),
            );
        }
        // Without pods, the kubelet's warnings go on the workload itself so
        // the failure is still visible as an Event.
        if !self.config.simulate_pods
            && created
            && let Phase::Failed(failure) = phase
        {
            let name = meta::name(obj).unwrap_or("");
            let pod_like = json!({ "metadata": { "name": name, "namespace": meta::namespace(obj), "uid": meta::uid(obj) }, "spec": obj.pointer("/spec/template/spec") });
            let state = workload.pod_state(Phase::Failed(failure));
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
