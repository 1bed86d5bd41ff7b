//! Orphaned store namespaces: labelled as storeplane's, with no store
//! record in this database. They are reported (log, metric, the admin API),
//! and deleted only when the operator asked for it (`--delete-orphans`),
//! after a grace period, and only when they carry this installation's id:
//! an empty, restored or different database, or a second installation on
//! the same cluster, must never cost anyone a shop.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::{info, warn};
use uuid::Uuid;

use super::Context;
use crate::{
    cluster::ownership::claimed_by,
    domain::{Error, StoreRef, tenancy::Scope},
};

/// One orphaned namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The namespace.
    pub namespace: String,
    /// The store id its label names.
    pub store_id: String,
    /// The installation id its label names (`None`: unlabelled, from a
    /// storeplane before installation ids).
    pub installation: Option<String>,
    /// Whether that is this installation.
    pub this_installation: bool,
    /// When this process first saw it orphaned.
    pub first_seen: DateTime<Utc>,
    /// When it will be deleted (`--delete-orphans`, this installation's only).
    pub delete_after: Option<DateTime<Utc>>,
}

/// The orphans this process knows of, by namespace.
#[derive(Default)]
pub struct Orphans {
    found: Mutex<BTreeMap<String, Orphan>>,
}

impl Orphans {
    /// Every orphan known, by namespace name.
    pub fn list(&self) -> Vec<Orphan> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Orphan>> {
        self.found.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counts(&self) -> (i64, i64) {
        let found = self.lock();
        let this = found.values().filter(|o| o.this_installation).count();
        let total = found.len();
        (
            i64::try_from(this).unwrap_or(i64::MAX),
            i64::try_from(total - this).unwrap_or(i64::MAX),
        )
    }

    /// Forgets a namespace (deleted, or no longer an orphan).
    fn forget(&self, namespace: &str) -> bool {
        self.lock().remove(namespace).is_some()
    }
}

/// A namespace event: records, clears or (when allowed) schedules the
/// deletion of an orphan. Only a definite "no such store" makes an orphan:
/// a database error changes nothing.
pub async fn observe(ctx: &Arc<Context>, namespace: &Value, deleted: bool) {
    let Some(found) = candidate(ctx, namespace, deleted) else {
        return;
    };
    match ctx.repo.get(&Scope::All, &StoreRef::Id(found.id)).await {
        Err(Error::NotFound { .. }) => record(ctx, found),
        Ok(_) => {
            if ctx.orphans.forget(&found.name) {
                update_metric(ctx);
            }
        }
        Err(err) => {
            warn!(namespace = %found.name, error = %err, "cannot check whether a store namespace is orphaned");
        }
    }
}

/// [`observe`] for the namespaces of a watch's list (each kept as its
/// [`candidate`] while the list lasts, not as the whole object), with one
/// read of the database for all of them rather than one each: a relist of
/// 100,000 store namespaces is 200 queries, not 100,000.
pub async fn observe_listed(ctx: &Arc<Context>, candidates: Vec<Candidate>) {
    let ids: Vec<Uuid> = candidates.iter().map(|found| found.id).collect();
    let existing = match ctx.repo.existing(&ids).await {
        Ok(existing) => existing,
        Err(err) => {
            warn!(namespaces = ids.len(), error = %err, "cannot check whether store namespaces are orphaned");
            return;
        }
    };
    for found in candidates {
        if existing.contains(&found.id) {
            if ctx.orphans.forget(&found.name) {
                update_metric(ctx);
            }
        } else {
            record(ctx, found);
        }
    }
}

/// A live store namespace: what the orphan check needs of it.
pub struct Candidate {
    name: String,
    /// Its uid: a deletion after the grace period deletes this one only.
    uid: Option<String>,
    id: Uuid,
    /// The store label as written.
    store: String,
    installation: Option<String>,
}

/// A live store namespace to check. A deleted or terminating one is
/// forgotten instead.
pub fn candidate(ctx: &Context, namespace: &Value, deleted: bool) -> Option<Candidate> {
    let name = namespace["metadata"]["name"].as_str()?;
    let (store, installation) = claimed_by(namespace)?;
    if deleted || !namespace["metadata"]["deletionTimestamp"].is_null() {
        if ctx.orphans.forget(name) {
            update_metric(ctx);
        }
        return None;
    }
    let id = Uuid::parse_str(&store).ok()?;
    Some(Candidate {
        name: name.to_owned(),
        uid: namespace["metadata"]["uid"].as_str().map(str::to_owned),
        id,
        store,
        installation,
    })
}

/// A namespace whose store has no record: an orphan.
fn record(ctx: &Arc<Context>, found: Candidate) {
    let Candidate {
        name,
        uid,
        id,
        store,
        installation,
    } = found;
    let this = installation
        .as_deref()
        .is_some_and(|label| ctx.is_this_installation(label));
    let now = Utc::now();
    let delete_after = match ctx.orphan_deletion {
        Some(grace) if this => {
            Some(now + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero()))
        }
        _ => None,
    };
    let orphan = Orphan {
        namespace: name.clone(),
        store_id: store,
        installation,
        this_installation: this,
        first_seen: now,
        delete_after,
    };
    let new = {
        let mut found = ctx.orphans.lock();
        if found.contains_key(&name) {
            false
        } else {
            found.insert(name.clone(), orphan.clone());
            true
        }
    };
    if !new {
        return;
    }
    update_metric(ctx);
    warn!(
        namespace = %name,
        store = %orphan.store_id,
        installation = orphan.installation.as_deref().unwrap_or("none"),
        this_installation = this,
        delete_after = ?delete_after,
        "orphaned store namespace: labelled as storeplane's, no store record in this database"
    );
    if let Some(uid) = uid
        && let Some(grace) = ctx.orphan_deletion.filter(|_| this)
    {
        let ctx = Arc::clone(ctx);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            delete_if_still_orphaned(&ctx, &name, &uid, id).await;
        });
    }
}

/// After the grace period: deletes the namespace if it is still the same
/// one (uid), still this installation's, and its store still has no record.
async fn delete_if_still_orphaned(ctx: &Context, name: &str, uid: &str, id: Uuid) {
    if !ctx.orphans.lock().contains_key(name) {
        return;
    }
    let live = match ctx.kube.get(None, "v1", "Namespace", name).await {
        Ok(Some(live)) => live,
        Ok(None) => {
            ctx.orphans.forget(name);
            update_metric(ctx);
            return;
        }
        Err(err) => {
            warn!(namespace = name, error = %err, "cannot re-read an orphaned namespace; keeping it");
            return;
        }
    };
    let this = ctx.installation.to_string();
    let still_ours = live["metadata"]["uid"].as_str() == Some(uid)
        && claimed_by(&live).is_some_and(|(_, i)| i.as_deref() == Some(this.as_str()));
    if !still_ours {
        return;
    }
    if !matches!(
        ctx.repo.get(&Scope::All, &StoreRef::Id(id)).await,
        Err(Error::NotFound { .. })
    ) {
        return;
    }
    match ctx
        .kube
        .delete_uid(None, "v1", "Namespace", name, uid)
        .await
    {
        Ok(_) => {
            info!(namespace = name, store = %id, "orphaned namespace deleted (--delete-orphans)");
            ctx.metrics.orphan_deleted();
        }
        Err(err) => warn!(namespace = name, error = %err, "cannot delete orphaned namespace"),
    }
}

fn update_metric(ctx: &Context) {
    let (this, other) = ctx.orphans.counts();
    ctx.metrics.set_orphans(this, other);
}

/// The grace period before `--delete-orphans` deletes an orphan.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10 * 60);
