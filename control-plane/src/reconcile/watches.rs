//! Kubernetes watches that wake the reconciler: store namespaces, the
//! workloads in them, the platform baseline and the engines' Services and
//! Ingresses, selected by the store label. Namespace events also feed the
//! orphan report; baseline events that show drift ask for the baseline to
//! be re-applied, engine objects changed or deleted behind storeplane's
//! back for the store to be converged again ([`super::drift`]).

use std::sync::Arc;

use futures::StreamExt as _;
use kube::{
    api::{Api, DynamicObject},
    runtime::{WatchStreamExt as _, watcher},
};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{
    Context, Queue,
    drift::{self, Drift, EditMemory},
    namespace, orphans, store_id,
};
use crate::cluster::{LABEL_INSTANCE, LABEL_RELEASE, LABEL_STORE};

/// Kinds whose changes can move a store's phase.
const WORKLOADS: [(&str, &str); 4] = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("v1", "PersistentVolumeClaim"),
];

/// Kinds of the platform baseline (besides the namespace itself).
const BASELINE: [(&str, &str); 3] = [
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
];

/// Engine objects watched only for their drift (their changes cannot move
/// a store's phase).
const DRIFT_ONLY: [(&str, &str); 2] = [("v1", "Service"), ("networking.k8s.io/v1", "Ingress")];

/// Starts one watcher per kind; they end with `cancel`.
pub fn spawn(ctx: Arc<Context>, queue: Queue, cancel: CancellationToken) {
    let kinds: Vec<_> = std::iter::once(("v1", "Namespace"))
        .chain(WORKLOADS)
        .chain(BASELINE)
        .chain(DRIFT_ONLY)
        .collect();
    // Every kind is listed as not synced before any watch starts, so the
    // metric never shows a partial set of kinds as complete.
    for (_, kind) in &kinds {
        ctx.metrics.watch_synced(kind, false);
    }
    for (api_version, kind) in kinds {
        let ctx = Arc::clone(&ctx);
        let queue = queue.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let resource = match ctx.kube.resolve(api_version, kind).await {
                Ok((resource, _)) => resource,
                Err(err) => {
                    warn!(kind, error = %err, "cannot watch kind; store phases update only on resync");
                    return;
                }
            };
            let api: Api<DynamicObject> = Api::all_with(ctx.kube.client().clone(), &resource);
            let config = watcher::Config::default().labels(LABEL_STORE);
            let mut events = watcher(api, config).default_backoff().boxed();
            let mut statuses = StatusMemory::default();
            // Namespaces of the current list, checked for orphans together
            // once it is complete.
            let mut listed_namespaces = Vec::new();
            let mut edits = EditMemory::default();
            let corrected = drift::CORRECTED.iter().any(|(_, k)| *k == kind);
            let drift_only = DRIFT_ONLY.iter().any(|(_, k)| *k == kind);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    event = events.next() => match event {
                        None => return,
                        Some(Err(err)) => warn!(kind, error = %err, "watch error; the watcher retries"),
                        Some(Ok(event)) => {
                            let (object, deleted, listed) = match event {
                                watcher::Event::Apply(o) => (o, false, false),
                                watcher::Event::InitApply(o) => (o, false, true),
                                watcher::Event::Delete(o) => (o, true, false),
                                watcher::Event::Init => {
                                    ctx.metrics.watch_synced(kind, false);
                                    continue;
                                }
                                watcher::Event::InitDone => {
                                    if !listed_namespaces.is_empty() {
                                        let listed = std::mem::take(&mut listed_namespaces);
                                        orphans::observe_listed(&ctx, listed).await;
                                    }
                                    ctx.metrics.watch_synced(kind, true);
                                    continue;
                                }
                            };
                            if corrected {
                                note_drift(&ctx, &queue, kind, &object, deleted, &mut edits);
                            }
                            if drift_only {
                                continue;
                            }
                            // A workload's readiness lives in its status:
                            // an event that leaves the status as it was (the
                            // echo of our own apply, a label change) cannot
                            // move a store, so it wakes nobody.
                            if WORKLOADS.iter().any(|(_, k)| *k == kind)
                                && !statuses.changed(&object, deleted, listed)
                            {
                                continue;
                            }
                            let listed = listed.then_some(&mut listed_namespaces);
                            handle(&ctx, &queue, api_version, kind, object, deleted, listed).await;
                        }
                    }
                }
            }
        });
    }
}

/// Records drift of an engine object of a store this installation owns: a
/// deletion, or a new edit of its spec by another field manager.
fn note_drift(
    ctx: &Context,
    queue: &Queue,
    kind: &str,
    object: &DynamicObject,
    deleted: bool,
    edits: &mut EditMemory,
) {
    let Some(labels) = object.metadata.labels.as_ref() else {
        return;
    };
    let (Some(id), Some(release)) = (
        labels.get(LABEL_STORE).and_then(|v| store_id(v)),
        labels.get(LABEL_RELEASE),
    ) else {
        return;
    };
    if !labels
        .get(LABEL_INSTANCE)
        .is_some_and(|label| ctx.is_this_installation(label))
    {
        return;
    }
    let by = match edits.new_edit(object, deleted) {
        Some(manager) => Some(manager),
        None if deleted => None,
        None => return,
    };
    ctx.drift.record(
        id,
        Drift {
            kind: kind.to_owned(),
            name: object.metadata.name.clone().unwrap_or_default(),
            release: release.clone(),
            by,
        },
    );
    queue.enqueue(id);
}

/// One watch event. `listed` holds the namespaces of a list in progress
/// (`None`: a live event).
async fn handle(
    ctx: &Arc<Context>,
    queue: &Queue,
    api_version: &str,
    kind: &str,
    object: DynamicObject,
    deleted: bool,
    listed: Option<&mut Vec<orphans::Candidate>>,
) {
    let label = |key: &str| {
        object
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(key))
    };
    let Some(id) = label(LABEL_STORE).and_then(|v| store_id(v)) else {
        return;
    };
    let name = object.metadata.name.as_deref().unwrap_or_default();
    // A workload's event only wakes its store: no copy of the object as
    // JSON, which the namespace and baseline checks below need (a burst
    // of provisions brings a dozen such events per store).
    if kind != "Namespace" && !namespace::is_baseline(kind, name) {
        queue.enqueue(id);
        return;
    }
    let ours = match label(LABEL_INSTANCE) {
        Some(instance) => ctx.is_this_installation(instance),
        // Legacy objects (no installation label) are judged by the store.
        None => true,
    };
    let Ok(mut value) = serde_json::to_value(&object) else {
        return;
    };
    // Watch items come without apiVersion/kind.
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    if kind == "Namespace" {
        if let Some(name) = value["metadata"]["name"].as_str() {
            namespace::seen(ctx, name, (!deleted).then_some(&value));
        }
        let drifted = ours && !deleted && namespace::drifted(ctx, &value);
        if drifted {
            ctx.drifted.mark(id);
        }
        match listed {
            Some(listed) => {
                // A (re)list: a namespace as its run left it needs no run.
                // Start-up queues every store with work anyway; after a
                // lost watch, what changed meanwhile is drift or a
                // deletion under way. Queuing every listed store made a
                // relist of n stores n runs (a lease taken and given back
                // each).
                if drifted || !value["metadata"]["deletionTimestamp"].is_null() {
                    queue.enqueue(id);
                }
                listed.extend(orphans::candidate(ctx, &value, false));
            }
            None => {
                orphans::observe(ctx, &value, deleted).await;
                // A namespace gone, going or drifted is urgent for its
                // store; one just created (the echo of its store's first
                // run, which queued the store already) or changed harmlessly
                // waits behind what is.
                if deleted || drifted || !value["metadata"]["deletionTimestamp"].is_null() {
                    queue.enqueue(id);
                } else {
                    queue.enqueue_yielded(id);
                }
            }
        }
        return;
    }
    // A baseline object. Status updates (the quota's usage) are not drift
    // and need no run.
    if ours && (deleted || namespace::drifted(ctx, &value)) {
        ctx.drifted.mark(id);
        queue.enqueue(id);
    }
}

/// The last status seen of each watched object (a hash, by uid), so that
/// only status changes wake stores.
#[derive(Default)]
struct StatusMemory {
    seen: std::collections::HashMap<String, u64>,
}

impl StatusMemory {
    /// Whether this event may change what a store's engine observes: a
    /// deletion, a status different from the last one seen, or a first
    /// sight with a status (not on a start-up list: every store that needs
    /// work is queued at start anyway).
    fn changed(&mut self, object: &DynamicObject, deleted: bool, listed: bool) -> bool {
        use std::hash::{Hash as _, Hasher as _};
        let Some(uid) = object.metadata.uid.clone() else {
            return true;
        };
        if deleted {
            self.seen.remove(&uid);
            return true;
        }
        let status = object.data.get("status").filter(|s| !s.is_null());
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        status.map(ToString::to_string).hash(&mut hasher);
        let hash = hasher.finish();
        match self.seen.insert(uid, hash) {
            Some(previous) => previous != hash,
            None => !listed && status.is_some_and(|s| s.as_object().is_none_or(|o| !o.is_empty())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(status: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u1"},
            "spec": {"replicas": 1},
            "status": status,
        }))
        .expect("object")
    }

    #[test]
    fn only_status_changes_and_deletions_wake_stores() {
        let mut memory = StatusMemory::default();
        // Our own apply: no status yet.
        assert!(!memory.changed(&object(json!(null)), false, false));
        // The controller reports: a change.
        assert!(memory.changed(&object(json!({"replicas": 1})), false, false));
        // The same status again (a label or spec change): no change.
        assert!(!memory.changed(&object(json!({"replicas": 1})), false, false));
        assert!(memory.changed(
            &object(json!({"replicas": 1, "availableReplicas": 1})),
            false,
            false
        ));
        // A re-list after a gap shows what changed meanwhile.
        assert!(!memory.changed(
            &object(json!({"replicas": 1, "availableReplicas": 1})),
            false,
            true
        ));
        assert!(memory.changed(&object(json!({"replicas": 0})), false, true));
        assert!(memory.changed(&object(json!({"replicas": 0})), true, false));
    }

    #[test]
    fn a_start_up_list_wakes_nobody_but_a_new_object_with_status_does() {
        let mut memory = StatusMemory::default();
        assert!(!memory.changed(&object(json!({"replicas": 1})), false, true));
        let mut fresh = StatusMemory::default();
        assert!(fresh.changed(&object(json!({"phase": "Pending"})), false, false));
    }
}
