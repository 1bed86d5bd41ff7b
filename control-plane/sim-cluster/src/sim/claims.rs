//! PersistentVolumeClaims: the StatefulSet controller's claims from
//! `volumeClaimTemplates`, the PV controller's binding (with the external
//! provisioner's annotations), and the pvc-protection controller: the
//! `Unused` condition (on by default since 1.37) and the release of the
//! `kubernetes.io/pvc-protection` finalizer once no pod uses a deleting
//! claim.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Severity};
use super::{CONTROLLER, Kind, Msg, Sim, WorkKey, status};
use crate::config::FAIL_ANNOTATION;
use crate::meta;
use crate::store::WriteCtx;

/// The finalizer StorageObjectInUseProtection puts on every claim.
pub(super) const PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";

/// The provisioner of the simulated default StorageClass `standard`.
const PROVISIONER: &str = "sim.storeplane.io/hostpath";

/// The claims a pod references (`persistentVolumeClaim` volumes and the
/// claims of its generic ephemeral volumes, `<pod>-<volume>`).
pub(super) fn claims_of(pod: &Value) -> Vec<String> {
    let name = meta::name(pod).unwrap_or("");
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            if let Some(claim) = v
                .pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
            {
                return Some(claim.to_owned());
            }
            v.get("ephemeral")
                .and(v.get("name").and_then(Value::as_str))
                .map(|volume| format!("{name}-{volume}"))
        })
        .collect()
}

/// The claims a workload's pods (or a bare pod) need bound before they
/// can be scheduled: its template's claim volumes and, for a StatefulSet,
/// each ordinal's claim of each template.
fn claims_needed(kind: Kind, obj: &Value) -> Vec<String> {
    if kind == Kind::Pod {
        return claims_of(obj);
    }
    let template = obj
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let mut claims: Vec<String> = template
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
        })
        .map(str::to_owned)
        .collect();
    if kind == Kind::StatefulSet {
        let set = meta::name(obj).unwrap_or("");
        for template in obj
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(claim) = template.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            for ordinal in 0..status::replicas(obj) {
                claims.push(format!("{claim}-{set}-{ordinal}"));
            }
        }
    }
    claims
}

fn terminated(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

impl Sim {
    /// Whether every claim the object's pods use is Bound (a real scheduler
    /// leaves a pod with an unbound claim Pending).
    /// A workload (or pod) waiting for a claim is woken when it binds.
    pub(super) fn claims_bound(&mut self, kind: Kind, obj: &Value) -> bool {
        let ns = meta::namespace(obj).unwrap_or("");
        let name = meta::name(obj).unwrap_or("");
        let mut bound = true;
        for claim in claims_needed(kind, obj) {
            let ok = self
                .store
                .get(self.ids.pvcs, ns, &claim)
                .is_ok_and(|c| c.pointer("/status/phase").and_then(Value::as_str) == Some("Bound"));
            if !ok {
                bound = false;
                self.claim_waiters
                    .entry((ns.to_owned(), claim))
                    .or_default()
                    .insert((kind, ns.to_owned(), name.to_owned()));
            }
        }
        bound
    }

    /// A claim was bound: the workloads and pods waiting for it look again.
    fn wake_claim_users(&mut self, ns: &str, claim: &str) {
        let waiting = self
            .claim_waiters
            .remove(&(ns.to_owned(), claim.to_owned()))
            .unwrap_or_default();
        for key in waiting {
            let _ = self.tx.send(Msg::Due(key));
        }
    }

    /// The StatefulSet controller's claims: `<template>-<set>-<ordinal>`
    /// from `volumeClaimTemplates`, with the template's labels and the set's
    /// selector labels. Like Kubernetes' default retention policy (Retain),
    /// they carry no owner and outlive the set; namespace deletion removes
    /// them. An existing claim is left as it is.
    pub(super) fn create_claims(&mut self, set: &Value) {
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
                let name = format!("{claim}-{set_name}-{ordinal}");
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
                        "statefulset-controller",
                    );
                }
            }
        }
    }

    pub(super) fn reconcile_pvc(&mut self, key: &WorkKey, pvc: &Value, delay: Duration) {
        if pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound")
            || meta::is_deleting(pvc)
            || !self.due(key, 0, delay)
        {
            self.protect_claim(pvc);
            return;
        }
        let (ns, name) = (&key.1, &key.2);
        let class = pvc
            .pointer("/spec/storageClassName")
            .and_then(Value::as_str)
            .unwrap_or("standard")
            .to_owned();
        if self.failure_for(pvc).is_some() {
            let message = format!(
                "failed to provision volume with StorageClass \"{class}\": simulated failure ({FAIL_ANNOTATION})"
            );
            events::record(
                &self.store,
                self.ids.events,
                pvc,
                Severity::Warning,
                "ProvisioningFailed",
                &message,
                "persistentvolume-controller",
            );
            self.protect_claim(pvc);
            return;
        }
        let volume = format!("pvc-{}", meta::uid(pvc));
        let bound = self.store.modify(
            self.ids.pvcs,
            ns,
            name,
            None,
            WriteCtx::new(CONTROLLER),
            |cur| {
                let mut updated = cur.clone();
                meta::object_mut(&mut updated, "spec")
                    .insert("volumeName".to_owned(), json!(volume));
                let annotations = meta::object_mut(
                    meta::object_mut_value(&mut updated, "metadata"),
                    "annotations",
                );
                annotations.insert("pv.kubernetes.io/bind-completed".to_owned(), json!("yes"));
                annotations.insert(
                    "pv.kubernetes.io/bound-by-controller".to_owned(),
                    json!("yes"),
                );
                // The PV controller names the provisioner it waits for, in
                // the beta annotation too.
                for key in [
                    "volume.beta.kubernetes.io/storage-provisioner",
                    "volume.kubernetes.io/storage-provisioner",
                ] {
                    annotations.insert(key.to_owned(), json!(PROVISIONER));
                }
                Some(updated)
            },
        );
        if bound.is_err() {
            return;
        }
        // The pvc-protection controller's condition comes in the same write.
        let unused = unused_condition(self.claim_users(pvc).1);
        let written = self.store.modify(
            self.ids.pvcs,
            ns,
            name,
            Some("status"),
            WriteCtx::new(CONTROLLER),
            |cur| {
                let access = cur
                    .pointer("/spec/accessModes")
                    .cloned()
                    .unwrap_or(json!(["ReadWriteOnce"]));
                let size = cur
                    .pointer("/spec/resources/requests/storage")
                    .cloned()
                    .unwrap_or(json!("1Gi"));
                let mut new = cur.pointer("/status").cloned().unwrap_or_else(|| json!({}));
                new["phase"] = json!("Bound");
                new["accessModes"] = access;
                new["capacity"] = json!({ "storage": size });
                with_unused(&mut new, &unused);
                status::with_status(cur, new)
            },
        );
        if let Ok(Some(updated)) = written {
            self.wake_claim_users(ns, name);
            let message = format!("Successfully provisioned volume {volume}");
            events::record(
                &self.store,
                self.ids.events,
                &updated,
                Severity::Normal,
                "ProvisioningSucceeded",
                &message,
                PROVISIONER,
            );
        }
    }

    /// The pvc-protection controller on one claim of `ns`, after it or a
    /// pod that references it changed.
    pub(super) fn protect_claim_named(&self, ns: &str, name: &str) {
        if let Ok(pvc) = self.store.get(self.ids.pvcs, ns, name) {
            self.protect_claim(&pvc);
        }
    }

    /// Whether a scheduled pod references the claim (which keeps a
    /// deleting claim) and whether a live pod does (the `Unused` condition).
    fn claim_users(&self, pvc: &Value) -> (bool, bool) {
        let ns = meta::namespace(pvc).unwrap_or("");
        let name = meta::name(pvc).unwrap_or("");
        // Only pods whose JSON names the claim can reference it.
        let pods = self
            .store
            .all_containing(self.ids.pods, ns, &format!("\"{name}\""));
        let referencing: Vec<_> = pods
            .iter()
            .filter(|p| claims_of(p).iter().any(|c| c == name))
            .collect();
        let scheduled = referencing.iter().any(|p| {
            p.pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        });
        let live = referencing.iter().any(|p| !terminated(p));
        (scheduled, live)
    }

    /// A deleting claim no scheduled pod references loses its protection
    /// finalizer (and so goes); a live one gets its `Unused` condition.
    fn protect_claim(&self, pvc: &Value) {
        let ns = meta::namespace(pvc).unwrap_or("");
        let name = meta::name(pvc).unwrap_or("");
        let (scheduled, live) = self.claim_users(pvc);
        if meta::is_deleting(pvc) {
            let protected = meta::finalizers(pvc).contains(&PROTECTION_FINALIZER);
            if protected && !scheduled {
                let _ = self.store.modify(
                    self.ids.pvcs,
                    ns,
                    name,
                    None,
                    WriteCtx::new(CONTROLLER),
                    |cur| {
                        let mut new = cur.clone();
                        if let Some(list) = new
                            .pointer_mut("/metadata/finalizers")
                            .and_then(Value::as_array_mut)
                        {
                            list.retain(|f| f != PROTECTION_FINALIZER);
                        }
                        Some(new)
                    },
                );
            }
            return;
        }
        let unused = unused_condition(live);
        let current = pvc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Unused"));
        if current.is_some_and(|c| c["status"] == unused["status"]) {
            return;
        }
        let _ = self.store.modify(
            self.ids.pvcs,
            ns,
            name,
            Some("status"),
            WriteCtx::new(CONTROLLER),
            |cur| {
                let mut new = cur.pointer("/status").cloned().unwrap_or_else(|| json!({}));
                with_unused(&mut new, &unused);
                status::with_status(cur, new)
            },
        );
    }
}

/// The pvc-protection controller's `Unused` condition.
fn unused_condition(used: bool) -> Value {
    let (state, reason, message) = if used {
        (
            "False",
            "PodUsingPVC",
            "A pod is currently referencing this PVC",
        )
    } else {
        (
            "True",
            "NoPodsUsingPVC",
            "No pods are currently referencing this PVC",
        )
    };
    json!({
        "type": "Unused", "status": state, "reason": reason, "message": message,
        "lastTransitionTime": meta::now(),
    })
}

/// A claim status with `condition` in place of its `Unused` one (kept as
/// it is when its status is the same).
fn with_unused(status: &mut Value, condition: &Value) {
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match conditions.iter_mut().find(|c| c["type"] == "Unused") {
        Some(existing) if existing["status"] == condition["status"] => {}
        Some(existing) => *existing = condition.clone(),
        None => conditions.push(condition.clone()),
    }
    status["conditions"] = Value::Array(conditions);
}
