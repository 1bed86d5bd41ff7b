//! The Job controller: one pod that runs for `job_duration` and then
//! succeeds (or fails, when told to), the Job's status from it, and the
//! Job's completion events. A finished Job is left alone.
//!
//! `spec.suspend` as Kubernetes' Job controller does it (checked against the
//! real control plane): a suspended Job runs no pod (a running one is
//! deleted), has no `startTime` and the condition `Suspended=True`
//! (`JobSuspended`, "Job suspended"); resumed, it starts over — a new
//! `startTime`, its clock from then — with `Suspended=False` (`JobResumed`,
//! "Job resumed"). Suspending a finished Job changes nothing.
//!
//! A Job with an archive transfer container (a backup or restore) does not
//! succeed before the kubelet has made the transfer, and fails when it
//! fails (`transfer`).

use std::time::Duration;

use serde_json::{Value, json};

use super::events::Severity;
use super::pods::{self, PodState};
use super::status::{self, Phase};
use super::workloads::{PodSync, Transition, Workload, WorkloadEvent};
use super::{Controller, Ids, Sim, WorkKey};
use crate::config::{Failure, SimConfig};
use crate::meta;
use crate::registry::ResId;

/// The Job controller.
pub(super) struct Jobs;

impl Controller for Jobs {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.jobs
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.job_duration
    }

    fn owner_of_pod(&self, _sim: &Sim, _pod: &Value, owner: &(String, String)) -> Option<String> {
        (owner.0 == "Job").then(|| owner.1.clone())
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration) {
        sim.reconcile_workload(self, key, obj, delay);
    }
}

impl Workload for Jobs {
    /// A Job runs once.
    fn finished(&self, job: &Value) -> bool {
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

    /// A Job's clock starts at `status.startTime`, and again when it is
    /// resumed: only `spec.suspend` (and the few other mutable fields)
    /// change a Job's spec, and so its `metadata.generation`.
    fn generation(&self, job: &Value) -> i64 {
        meta::generation(job)
    }

    fn desired_pods(&self, job: &Value) -> Vec<(String, Value)> {
        if suspended(job) {
            return Vec::new();
        }
        let name = meta::name(job).unwrap_or("");
        let pod_name = format!("{name}-{}", meta::stable_hash(&json!(meta::uid(job)), 5));
        vec![(pod_name.clone(), pods::build(job, &pod_name, json!({})))]
    }

    /// A Job with a transfer container succeeds only after the transfer
    /// did, and fails when it failed.
    fn hold(&self, sim: &mut Sim, key: &WorkKey, job: &Value, phase: Phase) -> Phase {
        if suspended(job) {
            return phase;
        }
        sim.transfer_phase(key, job, phase)
    }

    /// Its running pod makes the Job's transfer, if it has one.
    fn pods_running(
        &self,
        sim: &mut Sim,
        key: &WorkKey,
        job: &Value,
        phase: Phase,
        pods: &PodSync,
    ) {
        // A refused pod never runs; without simulated pods, admission's
        // dry run stands for the pod.
        let runs = pods.failure.is_none() && (pods.existing > 0 || !sim.config.simulate_pods);
        if suspended(job) || !runs {
            return;
        }
        if let Some((pod, _)) = self.desired_pods(job).into_iter().next() {
            sim.pod_transfer(key, job, phase, &pod);
        }
    }

    /// Its pod runs while the Job does and ends with it.
    fn pod_state(&self, phase: Phase) -> PodState {
        match phase {
            Phase::Starting => PodState::Running,
            Phase::Ready => PodState::Succeeded,
            Phase::Failed(Failure::JobFail) => PodState::Failed,
            other => pods::state_for(other),
        }
    }

    fn component(&self) -> &'static str {
        "job-controller"
    }

    fn status(
        &self,
        _sim: &mut Sim,
        _key: &WorkKey,
        job: &Value,
        phase: &mut Phase,
        pods: &PodSync,
    ) -> Value {
        let start = job
            .pointer("/status/startTime")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(meta::now);
        if suspended(job) {
            // Runs nothing until resumed, so never ends meanwhile.
            *phase = Phase::Starting;
            return status::suspended_job(job);
        }
        if pods.failure.is_some() {
            // A Job whose pod is refused never runs, so never ends.
            *phase = Phase::Starting;
        }
        status::job(job, *phase, &start, pods.existing.min(1))
    }

    fn events(&self, transition: &Transition) -> Vec<WorkloadEvent> {
        let job = transition.after;
        let mut events = Vec::new();
        let started = transition.before.pointer("/status/startTime").is_none();
        // With simulated pods, their creation records this.
        if !transition.simulated && started && transition.created {
            let pod = self
                .desired_pods(job)
                .into_iter()
                .next()
                .map(|(n, _)| n)
                .unwrap_or_default();
            let message = self.created_message(&pod, meta::name(job).unwrap_or(""));
            events.push((Severity::Normal, "SuccessfulCreate", message));
        }
        match transition.phase {
            Phase::Ready => {
                events.push((Severity::Normal, "Completed", "Job completed".to_owned()));
            }
            Phase::Failed(Failure::JobFail) => events.push((
                Severity::Warning,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".to_owned(),
            )),
            _ => {}
        }
        events
    }
}

/// Whether the Job is suspended (`spec.suspend`).
fn suspended(job: &Value) -> bool {
    job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}
