//! What the workload controllers keep per template: a Deployment's
//! ReplicaSets (the current one owns the pods; older ones are scaled to
//! zero and kept up to `revisionHistoryLimit`, which is what `kubectl
//! rollout history` and `kubectl get rs` read) and a StatefulSet's
//! ControllerRevisions (named in its pods' `controller-revision-hash` and
//! in its status).
//!
//! Both are made only when pods are simulated (`SimConfig::simulate_pods`):
//! they are the objects pods hang off, and a cluster without pods keeps
//! its memory for the stores.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::deployment::Deployments;
use super::events::{self, Severity};
use super::{CONTROLLER, Sim, controller_owner_uid, controller_ref, status};
use crate::meta;
use crate::store::WriteCtx;

/// Annotations the Deployment controller does not copy to its ReplicaSets
/// (`skipCopyAnnotation`).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

const REVISION: &str = "deployment.kubernetes.io/revision";

fn revision_of(rs: &Value) -> i64 {
    meta::annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn history_limit(owner: &Value) -> usize {
    owner
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10)
        .max(0) as usize
}

/// A rolling update's surge as a count (`maxSurge` of `replicas`, a
/// percentage rounded up), for the `max-replicas` annotation.
fn max_surge(deploy: &Value, replicas: i64) -> i64 {
    match deploy.pointer("/spec/strategy/rollingUpdate/maxSurge") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map(|p| (replicas * p + 99) / 100)
            .unwrap_or(0),
        _ => 0,
    }
}

/// The ReplicaSet the Deployment controller makes for the Deployment's
/// current template (without a uid until it is created).
pub(super) fn replica_set_for(deploy: &Value, revision: i64) -> Value {
    let hash = status::template_hash(deploy);
    let replicas = status::replicas(deploy);
    let mut template = deploy
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    meta::object_mut(meta::object_mut_value(&mut template, "metadata"), "labels")
        .insert("pod-template-hash".to_owned(), json!(hash));
    let mut selector = deploy
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    meta::object_mut(&mut selector, "matchLabels")
        .insert("pod-template-hash".to_owned(), json!(hash));
    let mut annotations: Map<String, Value> = deploy
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    annotations.retain(|k, _| !NOT_COPIED.contains(&k.as_str()));
    annotations.insert(
        "deployment.kubernetes.io/desired-replicas".to_owned(),
        json!(replicas.to_string()),
    );
    annotations.insert(
        "deployment.kubernetes.io/max-replicas".to_owned(),
        json!((replicas + max_surge(deploy, replicas)).to_string()),
    );
    annotations.insert(REVISION.to_owned(), json!(revision.to_string()));
    let mut spec = json!({ "replicas": replicas, "selector": selector, "template": template });
    if let Some(min_ready) = deploy.pointer("/spec/minReadySeconds") {
        spec["minReadySeconds"] = min_ready.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": status::replica_set_name(deploy),
            "namespace": meta::namespace(deploy),
            "labels": template.pointer("/metadata/labels"),
            "annotations": annotations,
            "ownerReferences": [controller_ref(deploy)],
        },
        "spec": spec,
    })
}

impl Sim {
    /// The Deployment controller's ReplicaSets: the current template's one
    /// exists and wants `replicas` pods, older ones are scaled to zero
    /// (their pods go with the scaling) and pruned beyond the history
    /// limit, and the Deployment carries the current revision. Returns
    /// the current ReplicaSet, which owns the pods.
    pub(super) fn sync_replica_sets(&self, deploy: &Value) -> Option<Arc<Value>> {
        let ns = meta::namespace(deploy).unwrap_or("");
        let uid = meta::uid(deploy);
        let current_name = status::replica_set_name(deploy);
        let owned: Vec<Arc<Value>> = self
            .store
            .all_containing(self.ids.replica_sets, ns, uid)
            .into_iter()
            .filter(|rs| controller_owner_uid(rs) == Some(uid))
            .collect();
        let newest = owned.iter().map(|rs| revision_of(rs)).max().unwrap_or(0);
        let existing = owned
            .iter()
            .find(|rs| meta::name(rs) == Some(current_name.as_str()));
        let revision = match existing {
            Some(rs) if revision_of(rs) == newest => newest,
            _ => newest + 1,
        };
        let wanted = replica_set_for(deploy, revision);
        let current = match existing {
            None => {
                let created = self
                    .store
                    .create(
                        self.ids.replica_sets,
                        Some(ns),
                        wanted,
                        WriteCtx::new(CONTROLLER),
                    )
                    .ok()?;
                self.scaled(deploy, &current_name, 0, status::replicas(deploy));
                created
            }
            Some(rs)
                if rs["spec"]["replicas"] == wanted["spec"]["replicas"]
                    && rs["metadata"]["annotations"] == wanted["metadata"]["annotations"] =>
            {
                Arc::clone(rs)
            }
            Some(rs) => {
                let before = rs
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let updated = self
                    .store
                    .modify(
                        self.ids.replica_sets,
                        ns,
                        &current_name,
                        None,
                        WriteCtx::new(CONTROLLER),
                        |cur| {
                            let mut new = cur.clone();
                            new["spec"]["replicas"] = wanted["spec"]["replicas"].clone();
                            new["metadata"]["annotations"] =
                                wanted["metadata"]["annotations"].clone();
                            (new != *cur).then_some(new)
                        },
                    )
                    .ok()?;
                let after = status::replicas(deploy);
                if before != after {
                    self.scaled(deploy, &current_name, before, after);
                }
                updated.unwrap_or_else(|| Arc::clone(rs))
            }
        };
        // Older ReplicaSets: scaled down, then pruned oldest first.
        let mut old: Vec<&Arc<Value>> = owned
            .iter()
            .filter(|rs| meta::name(rs) != Some(current_name.as_str()))
            .collect();
        for rs in &old {
            let replicas = rs
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if replicas == 0 {
                continue;
            }
            let name = meta::name(rs).unwrap_or("");
            let scaled = self.store.modify(
                self.ids.replica_sets,
                ns,
                name,
                None,
                WriteCtx::new(CONTROLLER),
                |cur| {
                    let mut new = cur.clone();
                    new["spec"]["replicas"] = json!(0);
                    new["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                        json!(status::replicas(deploy).to_string());
                    Some(new)
                },
            );
            self.scaled(deploy, name, replicas, 0);
            if let Ok(Some(scaled)) = scaled {
                self.delete_pods_of(&scaled);
                self.write_replica_set_status(&scaled, 0, 0);
            }
        }
        old.sort_by_key(|rs| revision_of(rs));
        let excess = old.len().saturating_sub(history_limit(deploy));
        for rs in old.iter().take(excess) {
            let _ = self.store.delete(
                self.ids.replica_sets,
                ns,
                meta::name(rs).unwrap_or(""),
                &Default::default(),
            );
        }
        let revision_text = revision.to_string();
        if meta::annotation(deploy, REVISION) != Some(revision_text.as_str()) {
            let _ = self.store.modify(
                self.ids.deployments,
                ns,
                meta::name(deploy).unwrap_or(""),
                None,
                WriteCtx::new(CONTROLLER),
                |cur| {
                    let mut new = cur.clone();
                    meta::object_mut(meta::object_mut_value(&mut new, "metadata"), "annotations")
                        .insert(REVISION.to_owned(), json!(revision_text));
                    Some(new)
                },
            );
        }
        Some(current)
    }

    /// The Deployment controller's `ScalingReplicaSet` event.
    fn scaled(&self, deploy: &Value, rs: &str, from: i64, to: i64) {
        let direction = if to >= from { "up" } else { "down" };
        events::record(
            &self.store,
            self.ids.events,
            deploy,
            Severity::Normal,
            "ScalingReplicaSet",
            &format!("Scaled {direction} replica set {rs} from {from} to {to}"),
            "deployment-controller",
        );
    }

    /// Deletes the pods a ReplicaSet owns, as its controller does when it
    /// is scaled to zero.
    fn delete_pods_of(&self, rs: &Value) {
        let ns = meta::namespace(rs).unwrap_or("");
        for pod in self.store.all_containing(self.ids.pods, ns, meta::uid(rs)) {
            if controller_owner_uid(&pod) == Some(meta::uid(rs)) {
                self.delete_pod(&Deployments, rs, &pod);
            }
        }
    }

    /// A ReplicaSet's status from its pods: `existing` of which `ready`
    /// are ready (and, with no `minReadySeconds` here, available).
    pub(super) fn write_replica_set_status(&self, rs: &Value, existing: i64, ready: i64) {
        let mut status = json!({ "replicas": existing, "terminatingReplicas": 0 });
        // The other counts are `omitempty`.
        for (field, value) in [
            ("fullyLabeledReplicas", existing),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
            ("observedGeneration", meta::generation(rs)),
        ] {
            if value != 0 {
                status[field] = json!(value);
            }
        }
        if rs.get("status") == Some(&status) {
            return;
        }
        let _ = self.store.modify(
            self.ids.replica_sets,
            meta::namespace(rs).unwrap_or(""),
            meta::name(rs).unwrap_or(""),
            Some("status"),
            WriteCtx::new(CONTROLLER),
            |cur| status::with_status(cur, status),
        );
    }

    /// The StatefulSet controller's ControllerRevision of the current
    /// template (created once, numbered after the newest), older ones
    /// pruned beyond the history limit.
    pub(super) fn sync_revisions(&self, set: &Value) {
        let ns = meta::namespace(set).unwrap_or("");
        let uid = meta::uid(set);
        let name = status::revision_name(set);
        let mut owned: Vec<Arc<Value>> = self
            .store
            .all_containing(self.ids.controller_revisions, ns, uid)
            .into_iter()
            .filter(|r| controller_owner_uid(r) == Some(uid))
            .collect();
        if owned.iter().any(|r| meta::name(r) == Some(name.as_str())) {
            return;
        }
        let newest = owned
            .iter()
            .filter_map(|r| r.get("revision").and_then(Value::as_i64))
            .max()
            .unwrap_or(0);
        let mut labels = set
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        labels.insert(
            "controller.kubernetes.io/hash".to_owned(),
            json!(status::template_hash(set)),
        );
        let mut template = set
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Value::Object(t) = &mut template {
            t.insert("$patch".to_owned(), json!("replace"));
        }
        let revision = json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": set.pointer("/metadata/annotations"),
                "ownerReferences": [controller_ref(set)],
            },
            "data": { "spec": { "template": template } },
            "revision": newest + 1,
        });
        let _ = self.store.create(
            self.ids.controller_revisions,
            Some(ns),
            revision,
            WriteCtx::new(CONTROLLER),
        );
        owned.sort_by_key(|r| r.get("revision").and_then(Value::as_i64).unwrap_or(0));
        // The new one is the newest; keep `revisionHistoryLimit` older ones.
        let excess = owned.len().saturating_sub(history_limit(set));
        for old in owned.iter().take(excess) {
            let _ = self.store.delete(
                self.ids.controller_revisions,
                ns,
                meta::name(old).unwrap_or(""),
                &Default::default(),
            );
        }
    }
}
