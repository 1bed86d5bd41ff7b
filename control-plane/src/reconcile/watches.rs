//! Kubernetes watches that wake the reconciler: store namespaces, the
//! workloads in them, and the platform baseline, selected by the store
//! label. Namespace events also feed the orphan report; baseline events
//! that show drift ask for the baseline to be re-applied.

use std::sync::Arc;

use futures::StreamExt as _;
use kube::{
    api::{Api, DynamicObject},
    runtime::{WatchStreamExt as _, watcher},
};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{Context, Queue, namespace, orphans, store_id};
use crate::cluster::{LABEL_INSTANCE, LABEL_STORE};

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

/// Starts one watcher per kind; they end with `cancel`.
pub fn spawn(ctx: Arc<Context>, queue: Queue, cancel: CancellationToken) {
    let kinds = std::iter::once(("v1", "Namespace"))
        .chain(WORKLOADS)
        .chain(BASELINE);
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
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    event = events.next() => match event {
                        None => return,
                        Some(Err(err)) => warn!(kind, error = %err, "watch error; the watcher retries"),
                        Some(Ok(event)) => {
                            let (object, deleted) = match event {
                                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => (o, false),
                                watcher::Event::Delete(o) => (o, true),
                                watcher::Event::Init | watcher::Event::InitDone => continue,
                            };
                            handle(&ctx, &queue, api_version, kind, object, deleted).await;
                        }
                    }
                }
            }
        });
    }
}

async fn handle(
    ctx: &Arc<Context>,
    queue: &Queue,
    api_version: &str,
    kind: &str,
    object: DynamicObject,
    deleted: bool,
) {
    let Ok(mut value) = serde_json::to_value(&object) else {
        return;
    };
    // Watch items come without apiVersion/kind.
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    let Some(id) = value["metadata"]["labels"][LABEL_STORE]
        .as_str()
        .and_then(store_id)
    else {
        return;
    };
    let ours = match value["metadata"]["labels"][LABEL_INSTANCE].as_str() {
        Some(instance) => instance == ctx.installation.to_string(),
        // Legacy objects (no installation label) are judged by the store.
        None => true,
    };
    if kind == "Namespace" {
        orphans::observe(ctx, &value, deleted).await;
        if ours && !deleted && namespace::drifted(ctx, &value) {
            ctx.mark_drifted(id);
        }
        queue.enqueue(id);
        return;
    }
    let name = value["metadata"]["name"].as_str().unwrap_or_default();
    if namespace::is_baseline(kind, name) {
        // Status updates (the quota's usage) are not drift and need no run.
        if ours && (deleted || namespace::drifted(ctx, &value)) {
            ctx.mark_drifted(id);
            queue.enqueue(id);
        }
        return;
    }
    queue.enqueue(id);
}
