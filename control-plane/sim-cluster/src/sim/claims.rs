//! PersistentVolumeClaims: the PV controller's binding (with the external
//! provisioner's annotations), the pvc-protection controller (the `Unused`
//! condition, on by default since 1.37, and the release of the
//! `kubernetes.io/pvc-protection` finalizer once no pod uses a deleting
//! claim), and the scheduler's wait for a pod's claims to bind. The
//! StatefulSet controller makes its own claims (`stateful_set`).

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Severity};
use super::{CONTROLLER, Controller, Ids, Kind, Msg, Sim, WorkKey, status};
use crate::config::{FAIL_ANNOTATION, SimConfig};
use crate::meta;
use crate::registry::ResId;
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

/// The claims named in a workload's pod template (a StatefulSet's pods
/// have theirs from `volumeClaimTemplates` too).
pub(super) fn template_claims(workload: &Value) -> Vec<String> {
    workload
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
        })
        .map(str::to_owned)
        .collect()
}

fn terminated(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// The PV controller and the pvc-protection controller, on claims.
pub(super) struct Claims;

impl Controller for Claims {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.pvcs
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.volume_bind_delay
    }

    fn acts_while_deleting(&self) -> bool {
        true
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, pvc: &Value, delay: Duration) {
        sim.reconcile_pvc(key, pvc, delay);
    }
}

impl Sim {
    /// Whether every one of `claims`, those the object's pods use, is Bound
    /// (a real scheduler leaves a pod with an unbound claim Pending).
    /// A workload (or pod) waiting for a claim is woken when it binds.
    pub(super) fn claims_bound(&mut self, kind: Kind, obj: &Value, claims: Vec<String>) -> bool {
        let ns = meta::namespace(obj).unwrap_or("");
        let name = meta::name(obj).unwrap_or("");
        let mut bound = true;
        for claim in claims {
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

    /// The PV controller: binds the claim once its delay has passed, or
    /// reports why it cannot.
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
