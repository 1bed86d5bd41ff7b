//! Kubernetes watches that wake the reconciler: store namespaces and the
//! workloads in them, selected by the store label. Also reports and cleans
//! up orphaned namespaces (labelled as a store's, with no store record).

use std::sync::Arc;

use futures::StreamExt as _;
use kube::{
    api::{Api, DynamicObject},
    runtime::{WatchStreamExt as _, watcher},
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Context, Queue, store_id};
use crate::{
    cluster::{LABEL_MANAGED_BY, LABEL_STORE},
    domain::{Error, NewEvent, StoreRef, tenancy::Scope},
};

/// Kinds whose changes can move a store's phase.
const WATCHED: [(&str, &str); 5] = [
    ("v1", "Namespace"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("v1", "PersistentVolumeClaim"),
];

/// Starts one watcher per kind; they end with `cancel`.
pub fn spawn(ctx: Arc<Context>, queue: Queue, cancel: CancellationToken) {
    for (api_version, kind) in WATCHED {
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
                            let object = match event {
                                watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o) => o,
                                watcher::Event::Init | watcher::Event::InitDone => continue,
                            };
                            let Some(id) = object.metadata.labels.as_ref()
                                .and_then(|l| l.get(LABEL_STORE))
                                .and_then(|v| store_id(v)) else { continue };
                            if kind == "Namespace" && object.metadata.deletion_timestamp.is_none() {
                                check_orphan(&ctx, id, &object).await;
                            }
                            queue.enqueue(id);
                        }
                    }
                }
            }
        });
    }
}

/// Deletes a namespace labelled as a store's when that store has no record.
/// Only a definite "not found" counts: a database error never deletes.
async fn check_orphan(ctx: &Context, id: uuid::Uuid, namespace: &DynamicObject) {
    let managed = namespace
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_MANAGED_BY))
        .is_some_and(|v| v == "storeplane");
    let Some(name) = namespace.metadata.name.as_deref() else {
        return;
    };
    if !managed {
        return;
    }
    // Only a definite NotFound counts: a database error never deletes.
    if let Err(Error::NotFound { .. }) = ctx.repo.get(&Scope::All, &StoreRef::Id(id)).await {
        warn!(namespace = name, store = %id, "orphaned store namespace (no store record); deleting it");
        match ctx.kube.delete(None, "v1", "Namespace", name).await {
            Ok(_) => {
                info!(namespace = name, "orphaned namespace deleted");
                ctx.metrics.orphan_deleted();
                let _ = ctx
                    .repo
                    .record_event(
                        id,
                        NewEvent::info(
                            "OrphanDeleted",
                            format!("namespace {name} had no store record"),
                        ),
                    )
                    .await;
            }
            Err(err) => {
                warn!(namespace = name, error = %err, "cannot delete orphaned namespace")
            }
        }
    }
}
