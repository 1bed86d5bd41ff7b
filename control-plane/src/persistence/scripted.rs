//! Test helpers over the real repository: a migrated in-memory database,
//! a store to create, and a scriptable [`StoreRepository`] whose calls can
//! fail or let another writer act at a chosen moment.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use super::SqlStoreRepository;
use crate::domain::{
    NewEvent, NewStore, Store, StoreRef, TenantId,
    ports::{Claim, StoreRepository},
    tenancy::{GlobalLimits, Scope},
};

/// A fresh in-memory SQLite database with every migration applied.
pub(crate) async fn memory_db() -> DatabaseConnection {
    let db = super::connect("sqlite::memory:").await.expect("db");
    super::migrate(&db).await.expect("migrate");
    db
}

/// A repository over [`memory_db`] (a change log of 100, the default
/// limits) whose commits wake `wake`.
pub(crate) async fn memory_repo(wake: Arc<Notify>) -> Arc<SqlStoreRepository> {
    super::repository(memory_db().await, wake, 100, GlobalLimits::default())
}

/// A store named `name` of the default tenant, on `static-site`, with an
/// empty config.
pub(crate) fn new_store(name: &str) -> NewStore {
    NewStore {
        tenant: TenantId::default_tenant(),
        name: name.into(),
        engine: "static-site".into(),
        config: Default::default(),
        custom_domains: Vec::new(),
        from_backup: None,
        backup_schedule: None,
    }
}

/// A repository over `inner` whose `claim` can fail (the database does
/// not answer) or first let "another replica" finish its run (the moment a
/// stale read would miss), and whose `changes_since` can let a commit land
/// right after its read (the moment a reader of the log could miss).
pub(crate) struct Scripted {
    inner: Arc<dyn StoreRepository>,
    /// `claim` answers UNAVAILABLE while set.
    pub(crate) fail_claims: AtomicBool,
    /// Runs once, before the next `claim` reaches `inner`.
    pub(crate) before_claim: Mutex<Option<BoxFuture<'static, ()>>>,
    /// Runs once, after the next `changes_since` has read `inner` and
    /// before it answers.
    pub(crate) after_changes_read: Mutex<Option<BoxFuture<'static, ()>>>,
}

impl Scripted {
    /// `inner`, with no script yet.
    pub(crate) fn new(inner: Arc<dyn StoreRepository>) -> Self {
        Self {
            inner,
            fail_claims: false.into(),
            before_claim: Mutex::new(None),
            after_changes_read: Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl StoreRepository for Scripted {
    async fn create(
        &self,
        new: NewStore,
        key: Option<crate::domain::IdempotencyKey>,
    ) -> crate::domain::Result<crate::domain::ports::Created> {
        self.inner.create(new, key).await
    }
    async fn get(&self, scope: &Scope, store: &StoreRef) -> crate::domain::Result<Store> {
        self.inner.get(scope, store).await
    }
    async fn list(
        &self,
        scope: &Scope,
        filter: &crate::domain::StoreFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> crate::domain::Result<Vec<Store>> {
        self.inner.list(scope, filter, after, limit).await
    }
    async fn update_events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &crate::domain::ports::ChangeEventsFn<'_>,
    ) -> crate::domain::Result<Store> {
        self.inner.update_events(scope, store, change).await
    }
    async fn remove(&self, id: Uuid, event: NewEvent) -> crate::domain::Result<()> {
        self.inner.remove(id, event).await
    }
    async fn events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        after: Option<i64>,
        limit: u64,
    ) -> crate::domain::Result<Vec<crate::domain::StoreEvent>> {
        self.inner.events(scope, store, after, limit).await
    }
    async fn snapshot(&self, scope: &Scope) -> crate::domain::Result<crate::domain::Snapshot> {
        self.inner.snapshot(scope).await
    }
    async fn changes_since(
        &self,
        seq: i64,
        limit: u64,
    ) -> crate::domain::Result<crate::domain::ChangesSince> {
        let read = self.inner.changes_since(seq, limit).await;
        if let Some(commit) = self.after_changes_read.lock().await.take() {
            commit.await;
        }
        read
    }
    async fn latest_seq(&self) -> crate::domain::Result<i64> {
        self.inner.latest_seq().await
    }
    async fn needing_work(&self) -> crate::domain::Result<Vec<Uuid>> {
        self.inner.needing_work().await
    }
    async fn existing(
        &self,
        ids: &[Uuid],
    ) -> crate::domain::Result<std::collections::HashSet<Uuid>> {
        self.inner.existing(ids).await
    }
    async fn claim(&self, id: Uuid, holder: &str, ttl: Duration) -> crate::domain::Result<Claim> {
        if let Some(other_replica) = self.before_claim.lock().await.take() {
            other_replica.await;
        }
        if self.fail_claims.load(Ordering::SeqCst) {
            return Err(crate::domain::Error::unavailable(
                "claim store lease",
                Duration::from_millis(100),
                "connection refused",
            ));
        }
        self.inner.claim(id, holder, ttl).await
    }
    async fn release(&self, id: Uuid, holder: &str) -> crate::domain::Result<()> {
        self.inner.release(id, holder).await
    }
    async fn record_event(&self, id: Uuid, event: NewEvent) -> crate::domain::Result<()> {
        self.inner.record_event(id, event).await
    }
    async fn finish_operation(
        &self,
        id: Uuid,
        outcome: &crate::domain::backup::OperationOutcome,
    ) -> crate::domain::Result<Store> {
        self.inner.finish_operation(id, outcome).await
    }
    async fn backup_running(&self, id: Uuid, message: &str) -> crate::domain::Result<()> {
        self.inner.backup_running(id, message).await
    }
    async fn backup(
        &self,
        scope: &Scope,
        id: Uuid,
    ) -> crate::domain::Result<crate::domain::backup::Backup> {
        self.inner.backup(scope, id).await
    }
    async fn backups(
        &self,
        scope: &Scope,
        filter: &crate::domain::ports::BackupFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> crate::domain::Result<Vec<crate::domain::backup::Backup>> {
        self.inner.backups(scope, filter, before, limit).await
    }
    async fn delete_backup(
        &self,
        scope: &Scope,
        id: Uuid,
    ) -> crate::domain::Result<crate::domain::backup::Backup> {
        self.inner.delete_backup(scope, id).await
    }
    async fn backup_schedules(
        &self,
    ) -> crate::domain::Result<Vec<crate::domain::ports::ScheduledStore>> {
        self.inner.backup_schedules().await
    }
}
