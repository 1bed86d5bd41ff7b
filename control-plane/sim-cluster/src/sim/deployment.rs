//! The Deployment controller and, under it, the ReplicaSet controller: a
//! Deployment's pods belong to its current ReplicaSet (`history`), its
//! status follows them, a refused pod shows as a `ReplicaFailure`
//! condition, and a Deployment that does not progress for its
//! `progressDeadlineSeconds` reports `ProgressDeadlineExceeded`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::Severity;
use super::status::{self, Phase};
use super::workloads::{PodSync, PodsOwner, Transition, Workload, WorkloadEvent};
use super::{Controller, Ids, Kind, Sim, WorkKey, controller_owner, history};
use crate::config::SimConfig;
use crate::meta;
use crate::registry::ResId;
use crate::store::{Record, parse};

/// The Deployment controller, with the ReplicaSet controller for the
/// ReplicaSets it makes.
pub(super) struct Deployments;

impl Controller for Deployments {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.deployments
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.pod_start_delay
    }

    fn owner_of_pod(&self, sim: &Sim, pod: &Value, owner: &(String, String)) -> Option<String> {
        let (kind, name) = owner;
        match kind.as_str() {
            "Deployment" => Some(name.clone()),
            "ReplicaSet" => {
                let ns = meta::namespace(pod).unwrap_or("");
                let rs = sim.store.get(sim.ids.replica_sets, ns, name).ok()?;
                match controller_owner(&rs)? {
                    (kind, name) if kind == "Deployment" => Some(name),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration) {
        sim.reconcile_workload(self, key, obj, delay);
    }
}

impl Workload for Deployments {
    /// The current ReplicaSet; without simulated pods, the one a real
    /// cluster would make (not stored).
    fn pods_owner<'a>(&self, sim: &Sim, deploy: &'a Value) -> PodsOwner<'a> {
        if !sim.config.simulate_pods {
            return PodsOwner::Made(Arc::new(history::replica_set_for(deploy, 1)));
        }
        match sim.sync_replica_sets(deploy) {
            Some(rs) => PodsOwner::Made(rs),
            None => PodsOwner::Missing,
        }
    }

    fn desired_pods(&self, rs: &Value) -> Vec<(String, Value)> {
        let name = meta::name(rs).unwrap_or("");
        let uid = meta::uid(rs);
        (0..status::replicas(rs))
            .map(|i| {
                let pod_name = format!("{name}-{}", meta::stable_hash(&json!([uid, i]), 5));
                let pod = super::pods::build(rs, &pod_name, json!({}));
                (pod_name, pod)
            })
            .collect()
    }

    fn pods_synced(&self, sim: &Sim, rs: &Value, existing: i64, running: i64) {
        sim.write_replica_set_status(rs, existing, running);
    }

    fn component(&self) -> &'static str {
        "deployment-controller"
    }

    fn pods_component(&self) -> &'static str {
        "replicaset-controller"
    }

    /// The ReplicaSet, or without simulated pods the one a real cluster
    /// would have made.
    fn refused_subject(&self, sim: &Sim, deploy: &Value) -> Value {
        let rs = status::replica_set_name(deploy);
        let ns = meta::namespace(deploy).unwrap_or("");
        match sim.store.get(sim.ids.replica_sets, ns, &rs) {
            Ok(stored) => (*stored).clone(),
            Err(_) => json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs,
                    "namespace": ns,
                    "uid": meta::stable_hash(&json!([meta::uid(deploy), rs]), 36),
                },
            }),
        }
    }

    fn status(
        &self,
        sim: &mut Sim,
        key: &WorkKey,
        deploy: &Value,
        phase: &mut Phase,
        pods: &PodSync,
    ) -> Value {
        let phase = *phase;
        if let Some(failure) = &pods.failure {
            return status::deployment_failed_create(
                deploy,
                phase,
                pods.existing,
                &failure.message,
            );
        }
        if phase == Phase::Ready {
            sim.deadlines.remove(key);
        }
        let exceeded = phase != Phase::Ready && sim.progress_deadline_passed(key, deploy);
        status::deployment(deploy, phase, exceeded)
    }

    fn events(&self, transition: &Transition) -> Vec<WorkloadEvent> {
        // With simulated pods this comes from the ReplicaSets' own scaling
        // (`sync_replica_sets`).
        if transition.simulated || !transition.new_generation() {
            return Vec::new();
        }
        let deploy = transition.after;
        let rs = status::replica_set_name(deploy);
        let message = format!(
            "Scaled up replica set {rs} from 0 to {}",
            status::replicas(deploy)
        );
        vec![(Severity::Normal, "ScalingReplicaSet", message)]
    }
}

impl Sim {
    /// A Deployment's ReplicaSet deleted under it is made again.
    pub(super) fn replica_set_deleted(&mut self, record: &Record) {
        let rs = parse(&record.object);
        if let Some(("Deployment", name)) = controller_owner(&rs)
            .as_ref()
            .map(|(k, n)| (k.as_str(), n.as_str()))
        {
            let ns = record.namespace.clone();
            self.reconcile(Kind::Deployment, &ns, name);
        }
    }

    /// Whether a Deployment that is not available has gone
    /// `progressDeadlineSeconds` without progress, as the deployment
    /// controller judges it: from its `Progressing` condition's last update
    /// (a new ReplicaSet, hence a new message, is progress). If not yet, a
    /// timer looks again when the deadline comes.
    fn progress_deadline_passed(&mut self, key: &WorkKey, deploy: &Value) -> bool {
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
            let at = Instant::now() + Duration::from_secs(left.unsigned_abs());
            self.wake_at(key, at);
        }
        false
    }
}
