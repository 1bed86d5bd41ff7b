//! The StatefulSet controller: pods with ordinal names and stable network
//! and storage identities, a claim per `volumeClaimTemplates` entry and
//! ordinal, a ControllerRevision per template (`history`), and its
//! messages, which are not the ReplicaSet's.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Severity};
use super::status::{self, Phase};
use super::workloads::{PodSync, Transition, Workload, WorkloadEvent};
use super::{CONTROLLER, Controller, Ids, Kind, Sim, WorkKey, claims, pods};
use crate::config::SimConfig;
use crate::meta;
use crate::registry::ResId;
use crate::store::WriteCtx;

/// The StatefulSet controller.
pub(super) struct StatefulSets;

/// The claim of template `claim` for the pod `ordinal` of `set`.
fn claim_name(claim: &str, set: &str, ordinal: i64) -> String {
    format!("{claim}-{set}-{ordinal}")
}

/// The names of the set's claim templates.
fn claim_templates(set: &Value) -> impl Iterator<Item = &str> {
    set.pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/metadata/name").and_then(Value::as_str))
}

impl Controller for StatefulSets {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.statefulsets
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.pod_start_delay
    }

    fn owner_of_pod(&self, _sim: &Sim, _pod: &Value, owner: &(String, String)) -> Option<String> {
        (owner.0 == "StatefulSet").then(|| owner.1.clone())
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration) {
        sim.reconcile_workload(self, key, obj, delay);
    }
}

impl Workload for StatefulSets {
    fn prepare(&self, sim: &mut Sim, set: &Value) {
        sim.create_claims(set);
        if sim.config.simulate_pods {
            sim.sync_revisions(set);
        }
    }

    /// The template's claims and each ordinal's claim of each claim
    /// template.
    fn claims(&self, set: &Value) -> Vec<String> {
        let mut claims = claims::template_claims(set);
        let name = meta::name(set).unwrap_or("");
        for claim in claim_templates(set) {
            for ordinal in 0..status::replicas(set) {
                claims.push(claim_name(claim, name, ordinal));
            }
        }
        claims
    }

    fn desired_pods(&self, set: &Value) -> Vec<(String, Value)> {
        let name = meta::name(set).unwrap_or("");
        let revision = status::revision_name(set);
        let service = set
            .pointer("/spec/serviceName")
            .and_then(Value::as_str)
            .unwrap_or("");
        (0..status::replicas(set))
            .map(|i| {
                let pod_name = format!("{name}-{i}");
                let labels = json!({
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": i.to_string(),
                });
                let mut pod = pods::build(set, &pod_name, labels);
                identity(set, &mut pod, &pod_name, i, service);
                (pod_name, pod)
            })
            .collect()
    }

    fn component(&self) -> &'static str {
        "statefulset-controller"
    }

    fn created_message(&self, pod: &str, set: &str) -> String {
        format!("Create Pod {pod} in StatefulSet {set} successful")
    }

    fn deleted_message(&self, pod: &str, set: &str) -> String {
        format!("Delete Pod {pod} in StatefulSet {set} successful")
    }

    fn refused_message(&self, pod: &str, set: &str, error: &str) -> String {
        format!("Create Pod {pod} in StatefulSet {set} failed error: {error}")
    }

    fn status(
        &self,
        _sim: &mut Sim,
        _key: &WorkKey,
        set: &Value,
        phase: &mut Phase,
        pods: &PodSync,
    ) -> Value {
        if pods.failure.is_none() {
            return status::stateful_set(set, *phase);
        }
        let ready = if *phase == Phase::Ready {
            pods.existing
        } else {
            0
        };
        status::stateful_set_with(set, pods.existing, ready)
    }

    fn events(&self, transition: &Transition) -> Vec<WorkloadEvent> {
        // With simulated pods, their creation records this.
        if transition.simulated || !transition.new_generation() || !transition.created {
            return Vec::new();
        }
        let name = meta::name(transition.after).unwrap_or("");
        let message = self.created_message(&format!("{name}-0"), name);
        vec![(Severity::Normal, "SuccessfulCreate", message)]
    }
}

/// The StatefulSet controller's `initIdentity` and `updateStorage`: the
/// pod's hostname and subdomain, and a volume per claim template (first,
/// replacing a template volume of the same name).
fn identity(set: &Value, pod: &mut Value, name: &str, ordinal: i64, service: &str) {
    let set_name = meta::name(set).unwrap_or("");
    let claims: Vec<Value> = claim_templates(set)
        .map(|claim| {
            json!({ "name": claim, "persistentVolumeClaim": {
                "claimName": claim_name(claim, set_name, ordinal) } })
        })
        .collect();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.insert("hostname".to_owned(), json!(name));
    if !service.is_empty() {
        spec.insert("subdomain".to_owned(), json!(service));
    }
    if claims.is_empty() {
        return;
    }
    let names: Vec<Value> = claims.iter().map(|c| c["name"].clone()).collect();
    let mut volumes = claims;
    volumes.extend(
        spec.get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| !names.contains(&v["name"]))
            .cloned(),
    );
    spec.insert("volumes".to_owned(), Value::Array(volumes));
}

impl Sim {
    /// The StatefulSet controller's claims, one per claim template and
    /// ordinal, with the template's labels and the set's selector labels.
    /// Like Kubernetes' default retention policy (Retain), they carry no
    /// owner and outlive the set; namespace deletion removes them. An
    /// existing claim is left as it is.
    fn create_claims(&mut self, set: &Value) {
        let Some(templates) = set
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
        else {
            return;
        };
        let (ns, set_name) = (
            meta::namespace(set).unwrap_or(""),
            meta::name(set).unwrap_or(""),
        );
        let selector = set
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for template in templates {
            let Some(claim) = template.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            let mut labels = template
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            labels.extend(selector.clone());
            for ordinal in 0..status::replicas(set) {
                let name = claim_name(claim, set_name, ordinal);
                if self.store.get(self.ids.pvcs, ns, &name).is_ok() {
                    continue;
                }
                let pvc = json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": labels,
                        "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
                    },
                    "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
                });
                if let Ok(created) =
                    self.store
                        .create(self.ids.pvcs, Some(ns), pvc, WriteCtx::new(CONTROLLER))
                {
                    // The PV controller takes the new claim at once.
                    let key = (Kind::Pvc, ns.to_owned(), name.clone());
                    let delay = self.delay_for(Kind::Pvc, &created);
                    self.reconcile_pvc(&key, &created, delay);
                    events::record(
                        &self.store,
                        self.ids.events,
                        set,
                        Severity::Normal,
                        "SuccessfulCreate",
                        &format!(
                            "Create Claim {name} Pod {set_name}-{ordinal} in StatefulSet {set_name} success"
                        ),
                        StatefulSets.component(),
                    );
                }
            }
        }
    }
}
