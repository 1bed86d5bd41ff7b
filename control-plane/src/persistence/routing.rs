//! A [`StoreRepository`] that sends reads and writes to different
//! connections and reports database outages.
//!
//! SQLite has one writer. Before, the API and the reconciler shared one
//! connection for everything, so a storm of reads (lists, watch snapshots,
//! lagging watchers re-reading the log) queued every provisioning write
//! behind it. Now writes go to the one writer connection (serial, no
//! `SQLITE_BUSY` between our own writers) and reads to read-only
//! connections, which WAL lets run beside the writer: the API reads on its
//! own pool and the reconciler on a connection of its own, so neither's
//! reads wait for the other's. A read transaction started after a commit
//! sees it (WAL), so reading on another connection loses no write.
//!
//! Every error passes through [`Availability::check`]: a database that does
//! not answer becomes [`crate::domain::Error::Unavailable`] and flips health.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::{SqlStoreRepository, availability::Availability};
use crate::domain::{
    ChangesSince, IdempotencyKey, NewEvent, NewStore, Result, Snapshot, Store, StoreEvent,
    StoreFilter, StoreRef,
    backup::{Backup, OperationOutcome},
    ports::{BackupFilter, ChangeEventsFn, Claim, Created, ScheduledStore, StoreRepository, Taken},
    tenancy::Scope,
};

/// Reads on `reader`, writes on `writer`, outages reported.
pub struct RoutedStoreRepository {
    writer: Arc<SqlStoreRepository>,
    reader: Arc<SqlStoreRepository>,
    availability: Availability,
}

impl RoutedStoreRepository {
    /// Writes through `writer`, reads through `reader` (which may be the
    /// same repository), errors checked by `availability`.
    pub fn new(
        writer: Arc<SqlStoreRepository>,
        reader: Arc<SqlStoreRepository>,
        availability: Availability,
    ) -> Self {
        Self {
            writer,
            reader,
            availability,
        }
    }

    fn checked<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|err| self.availability.check(err))
    }
}

#[async_trait]
impl StoreRepository for RoutedStoreRepository {
    async fn create(&self, new: NewStore, key: Option<IdempotencyKey>) -> Result<Created> {
        self.checked(self.writer.create(new, key).await)
    }

    async fn get(&self, scope: &Scope, store: &StoreRef) -> Result<Store> {
        self.checked(self.reader.get(scope, store).await)
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &StoreFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Store>> {
        self.checked(self.reader.list(scope, filter, after, limit).await)
    }

    async fn update_events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &ChangeEventsFn<'_>,
    ) -> Result<Store> {
        self.checked(self.writer.update_events(scope, store, change).await)
    }

    async fn update_seen(&self, seen: &Store, change: &ChangeEventsFn<'_>) -> Result<Store> {
        self.checked(self.writer.update_seen(seen, change).await)
    }

    async fn remove(&self, id: Uuid, event: NewEvent) -> Result<()> {
        self.checked(self.writer.remove(id, event).await)
    }

    async fn events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoreEvent>> {
        self.checked(self.reader.events(scope, store, after, limit).await)
    }

    async fn snapshot(&self, scope: &Scope) -> Result<Snapshot> {
        self.checked(self.reader.snapshot(scope).await)
    }

    async fn changes_since(&self, seq: i64, limit: u64) -> Result<ChangesSince> {
        self.checked(self.reader.changes_since(seq, limit).await)
    }

    async fn latest_seq(&self) -> Result<i64> {
        self.checked(self.reader.latest_seq().await)
    }

    async fn needing_work(&self) -> Result<Vec<Uuid>> {
        self.checked(self.reader.needing_work().await)
    }

    async fn existing(&self, ids: &[Uuid]) -> Result<std::collections::HashSet<Uuid>> {
        self.checked(self.reader.existing(ids).await)
    }

    async fn claim(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Claim> {
        self.checked(self.writer.claim(id, holder, ttl).await)
    }

    async fn release(&self, id: Uuid, holder: &str) -> Result<()> {
        self.checked(self.writer.release(id, holder).await)
    }

    async fn take(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Taken> {
        // On the writer: its claim returns the row it wrote (one statement
        // instead of a claim and a read on the reader).
        self.checked(self.writer.take(id, holder, ttl).await)
    }

    async fn record_event(&self, id: Uuid, event: NewEvent) -> Result<()> {
        self.checked(self.writer.record_event(id, event).await)
    }

    async fn finish_operation(&self, id: Uuid, outcome: &OperationOutcome) -> Result<Store> {
        self.checked(self.writer.finish_operation(id, outcome).await)
    }

    async fn backup_running(&self, id: Uuid, message: &str) -> Result<()> {
        self.checked(self.writer.backup_running(id, message).await)
    }

    async fn backup(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        self.checked(self.reader.backup(scope, id).await)
    }

    async fn backups(
        &self,
        scope: &Scope,
        filter: &BackupFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Backup>> {
        self.checked(self.reader.backups(scope, filter, before, limit).await)
    }

    async fn delete_backup(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        self.checked(self.writer.delete_backup(scope, id).await)
    }

    async fn backup_schedules(&self) -> Result<Vec<ScheduledStore>> {
        self.checked(self.reader.backup_schedules().await)
    }
}
