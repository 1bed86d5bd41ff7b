//! [`StoreRepository`] over sea-orm.
//!
//! Every write runs in one transaction that also appends to `store_changes`.
//! On PostgreSQL the transaction first takes a transaction-scoped advisory
//! lock, so change sequence numbers commit in order (a reader that has seen
//! `seq = n` has seen every change before it — the property resume tokens
//! rely on) and check-then-insert races (names, idempotency keys) cannot
//! happen; it then `NOTIFY`s other processes, delivered at commit. On SQLite
//! the single connection serialises writes the same way.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    AccessMode, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, SqlErr, Statement, TransactionTrait, sea_query::Expr,
};
use tokio::sync::Notify;
use uuid::Uuid;

mod backups;
mod write;

use write::{WriteTxn, sqlite_batch};

use super::CHANGES_CHANNEL;
use super::entities::{
    backups as backup_rows, idempotency_keys, releases, store_changes, store_domains, store_events,
    stores, tenants,
};
use crate::domain::{
    ChangeType, ChangesSince, Condition, Config, Error, Failure, IdempotencyKey, NewEvent,
    NewStore, Outcome, Phase, Result, Snapshot, Store, StoreChange, StoreEvent, StoreFilter,
    StoreRef, TenantId, Urls,
    backup::{Backup, OperationOutcome},
    lifecycle::claims_provisioning_slot,
    needs_reconcile,
    ports::{BackupFilter, ChangeEventsFn, Claim, Created, ScheduledStore, StoreRepository, Taken},
    tenancy::{Counted, GlobalLimits, Quota, Scope},
};

/// Arbitrary key of the advisory lock that orders change-log writes.
pub(super) const CHANGE_LOG_LOCK: i64 = 0x5354_4f52_4550_4c4e;
/// Pruning runs at most when a change's sequence number is a multiple of
/// this (more often when the history kept is shorter).
const PRUNE_EVERY: i64 = 128;
/// Ids per query of [`StoreRepository::existing`].
const EXISTING_CHUNK: usize = 500;

/// sea-orm implementation of the store repository.
pub struct SqlStoreRepository {
    db: DatabaseConnection,
    wake: Arc<Notify>,
    history: i64,
    limits: GlobalLimits,
}

impl SqlStoreRepository {
    /// A repository over `db` keeping about `history` changes for resuming
    /// watches, signalling `wake` after each commit, enforcing `limits`.
    pub fn new(
        db: DatabaseConnection,
        wake: Arc<Notify>,
        history: u64,
        limits: GlobalLimits,
    ) -> Self {
        Self {
            db,
            wake,
            history: i64::try_from(history.max(1)).unwrap_or(i64::MAX),
            limits,
        }
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn begin_write(&self) -> Result<WriteTxn> {
        let txn = WriteTxn::begin(&self.db)
            .await
            .map_err(db("begin transaction"))?;
        if self.backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK})"))
                .await
                .map_err(db("lock change log"))?;
        }
        Ok(txn)
    }

    /// A read-only transaction that sees one consistent state.
    async fn begin_read(&self) -> Result<DatabaseTransaction> {
        let txn = if self.backend() == DbBackend::Postgres {
            self.db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        } else {
            self.db.begin().await
        };
        txn.map_err(db("begin read transaction"))
    }

    async fn commit(&self, txn: WriteTxn) -> Result<()> {
        txn.commit().await.map_err(db("commit"))?;
        self.wake.notify_one();
        Ok(())
    }

    /// The statement adding `event` to the store's timeline.
    fn event_insert(&self, store: &Store, event: NewEvent) -> Statement {
        let row = store_events::ActiveModel {
            store_id: Set(store.id.to_string()),
            tenant_id: Set(store.tenant.0.clone()),
            reason: Set(event.reason),
            message: Set(event.message),
            outcome: Set(event.outcome.as_str().to_owned()),
            duration_ms: Set(event.duration_ms),
            created_at: Set(now()),
            trace_id: Set(crate::telemetry::current_trace_id()),
            ..Default::default()
        };
        store_events::Entity::insert(row).build(self.backend())
    }

    /// Adds `event` to the store's timeline, inside `txn`.
    async fn insert_event(&self, txn: &WriteTxn, store: &Store, event: NewEvent) -> Result<()> {
        txn.execute_raw(self.event_insert(store, event))
            .await
            .map_err(db("record store event"))?;
        crate::telemetry::follow_store(store.id, store.phase);
        Ok(())
    }

    /// Ends a write of `store` inside `txn`: runs `write` (the store row's
    /// own statement, when nothing in between needs its result; it and
    /// each statement after it are to change one row each), adds
    /// `events` to the store's timeline and
    /// `change` to the change log (announced on PostgreSQL).
    ///
    /// On SQLite the statements go to the connection as one batch. Each
    /// statement sent on its own is a round trip to sqlx's worker thread
    /// and back, two thread switches that cost more than the statement: in
    /// a burst of creates the database was ~45 % of the control plane's
    /// CPU, most of it those hand-offs and not SQLite's work (a `perf`
    /// profile with call graphs). A store update was six round trips
    /// (begin, read, update, event, change, commit) and is two, one
    /// without the read (`update_seen`); a create without quotas was six
    /// (begin, name check, tenant read, insert, event and change, commit)
    /// and is two (the row joins the batch, the `BEGIN` and `COMMIT` travel
    /// with the first and last statements: see [`Self::record_last`] and
    /// [`write`]). PostgreSQL's extended protocol takes one statement per
    /// message, so there they go one by one.
    ///
    /// Says whether a statement changed no row (a conditional update whose
    /// condition did not hold) rather than failing: the transaction must
    /// then be rolled back ([`Recorded::written`] makes it an error).
    async fn record(
        &self,
        txn: &WriteTxn,
        write: Option<Statement>,
        store: &Store,
        events: Vec<NewEvent>,
        change: ChangeType,
    ) -> Result<Recorded> {
        let backend = self.backend();
        let (mut writes, row) = self.record_writes(write, store, events, change)?;
        let seq = if backend == DbBackend::Sqlite {
            // The change-log row last: the batch's rowid is its `seq`.
            writes.push(store_changes::Entity::insert(row).build(backend));
            let statements = writes.len() as u64;
            let written = txn
                .execute_raw(sqlite_batch(writes))
                .await
                .map_err(write_failed(store))?;
            // SQLite sums the rows each statement of the list changed.
            let rows = written.rows_affected();
            if rows != statements {
                return Ok(Recorded::Missed { statements, rows });
            }
            i64::try_from(written.last_insert_id()).unwrap_or(i64::MAX)
        } else {
            for write in writes {
                let written = txn.execute_raw(write).await.map_err(write_failed(store))?;
                let rows = written.rows_affected();
                if rows != 1 {
                    return Ok(Recorded::Missed {
                        statements: 1,
                        rows,
                    });
                }
            }
            store_changes::Entity::insert(row)
                .exec(txn)
                .await
                .map_err(db("append change"))?
                .last_insert_id
        };
        crate::telemetry::follow_store(store.id, store.phase);
        self.prune(txn, seq).await?;
        if backend == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', '')"))
                .await
                .map_err(db("notify change"))?;
        }
        Ok(Recorded::Written)
    }

    /// [`Self::record`] as the transaction's last write, and the
    /// transaction's end: committed when every statement changed its row,
    /// rolled back otherwise. On SQLite the statements and the `COMMIT`
    /// (and the `BEGIN`, when nothing ran before) are one round trip
    /// ([`write::Held::finish`]), and a miss commits nothing; there the
    /// change log is pruned after the commit, on its own.
    async fn record_last(
        &self,
        txn: WriteTxn,
        write: Option<Statement>,
        store: &Store,
        events: Vec<NewEvent>,
        change: ChangeType,
    ) -> Result<Recorded> {
        let WriteTxn::Held(held) = txn else {
            let recorded = self.record(&txn, write, store, events, change).await?;
            match recorded {
                Recorded::Written => self.commit(txn).await?,
                Recorded::Missed { .. } => txn.rollback().await.map_err(db("end transaction"))?,
            }
            return Ok(recorded);
        };
        let (mut writes, row) = self.record_writes(write, store, events, change)?;
        writes.push(store_changes::Entity::insert(row).build(DbBackend::Sqlite));
        let statements = writes.len() as u64;
        let results = held.finish(writes).await.map_err(write_failed(store))?;
        let rows = results.iter().map(|r| r.rows_affected()).sum();
        if rows != statements {
            return Ok(Recorded::Missed { statements, rows });
        }
        self.wake.notify_one();
        crate::telemetry::follow_store(store.id, store.phase);
        let seq = results.last().map_or(0, |r| r.last_insert_rowid());
        // Committed: a failed prune leaves more history, not a failed write.
        if let Err(err) = self.prune(&self.db, seq).await {
            tracing::warn!(error = %err, "cannot prune the change log; retried with a later change");
        }
        Ok(Recorded::Written)
    }

    /// The statements of a store write: `write` (the row's own) and the
    /// timeline's `events`, and the change-log row of `change`.
    fn record_writes(
        &self,
        write: Option<Statement>,
        store: &Store,
        events: Vec<NewEvent>,
        change: ChangeType,
    ) -> Result<(Vec<Statement>, store_changes::ActiveModel)> {
        let mut writes: Vec<Statement> = write.into_iter().collect();
        writes.extend(
            events
                .into_iter()
                .map(|event| self.event_insert(store, event)),
        );
        let snapshot = serde_json::to_string(store)
            .map_err(|e| Error::internal("serialize store snapshot", e))?;
        let row = store_changes::ActiveModel {
            store_id: Set(store.id.to_string()),
            tenant_id: Set(store.tenant.0.clone()),
            change_type: Set(change.as_str().to_owned()),
            snapshot: Set(snapshot),
            created_at: Set(now()),
            ..Default::default()
        };
        Ok((writes, row))
    }

    /// Drops the changes older than the history kept, when change `seq`
    /// is one of every [`PRUNE_EVERY`].
    async fn prune<C: ConnectionTrait>(&self, conn: &C, seq: i64) -> Result<()> {
        if seq % PRUNE_EVERY.min(self.history) == 0 {
            store_changes::Entity::delete_many()
                .filter(store_changes::Column::Seq.lte(seq - self.history))
                .exec(conn)
                .await
                .map_err(db("prune change log"))?;
        }
        Ok(())
    }

    /// Writes `store`'s row as it is now, with `event` and its change-log
    /// entry, inside `txn` (see [`Self::record`]).
    async fn record_update(
        &self,
        txn: &WriteTxn,
        store: &Store,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        self.record_update_if(txn, store, None, events)
            .await?
            .written()
    }

    /// [`Self::record_update`], on the condition that the row is still at
    /// resource version `was` when one is given.
    async fn record_update_if(
        &self,
        txn: &WriteTxn,
        store: &Store,
        was: Option<i64>,
        events: Vec<NewEvent>,
    ) -> Result<Recorded> {
        let update = self.update_statement(store, was)?;
        self.record(txn, Some(update), store, events, ChangeType::Modified)
            .await
    }

    /// The update of `store`'s row, on the condition that the row is still
    /// at resource version `was` when one is given.
    fn update_statement(&self, store: &Store, was: Option<i64>) -> Result<Statement> {
        let mut update = stores::Entity::update(to_active(store)?)
            .validate()
            .map_err(db("update store"))?;
        if let Some(was) = was {
            update = update.filter(stores::Column::ResourceVersion.eq(was));
        }
        Ok(update.build(self.backend()))
    }

    /// The write of [`StoreRepository::update_events`] once the change is
    /// applied to `current` (`before` is the store it was applied to):
    /// quota, domains and backup rows, then the row with its events and
    /// change-log entry (on the condition that the row is still at
    /// `before`'s resource version when `conditional`), ending the
    /// transaction (see [`Self::record_last`]).
    async fn write_update(
        &self,
        txn: WriteTxn,
        before: &Store,
        current: &mut Store,
        events: Vec<NewEvent>,
        conditional: bool,
    ) -> Result<Recorded> {
        if claims_provisioning_slot(before.phase, current.phase) {
            let quota = self.quota(&txn, &current.tenant).await?;
            self.check_quota(&txn, &current.tenant, &quota, false)
                .await?;
        }
        current.resource_version = before.resource_version + 1;
        current.updated_at = now();
        // Domains and backup rows first: their errors (a domain taken, a
        // backup gone) are the caller's, and the row's update waits for
        // them in the same transaction either way.
        if current.custom_domains != before.custom_domains {
            claim_domains(&txn, current, &before.custom_domains).await?;
        }
        backups::sync_operation(&txn, before.operation.as_ref(), current).await?;
        let was = conditional.then_some(before.resource_version);
        let update = self.update_statement(current, was)?;
        self.record_last(txn, Some(update), current, events, ChangeType::Modified)
            .await
    }

    async fn find<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &Scope,
        store: &StoreRef,
    ) -> Result<stores::Model> {
        let query = scoped(stores::Entity::find(), scope);
        let query = match store {
            StoreRef::Id(id) => query.filter(stores::Column::Id.eq(id.to_string())),
            StoreRef::Name(name) => query.filter(stores::Column::Name.eq(name.as_str())),
        };
        query
            .one(conn)
            .await
            .map_err(db("read store"))?
            .ok_or_else(|| Error::NotFound {
                resource_type: "store",
                name: store.to_string(),
            })
    }

    /// Whose the lease of store `id` is, after a claim that did not take
    /// it: say whose and until when, so the caller comes back when it lapses
    /// (its holder may have died) instead of guessing.
    async fn lease_elsewhere(&self, id: Uuid, now: DateTime<Utc>) -> Result<Claim> {
        let lease: Option<(String, Option<DateTime<Utc>>)> =
            stores::Entity::find_by_id(id.to_string())
                .select_only()
                .column(stores::Column::LeaseHolder)
                .column(stores::Column::LeaseUntil)
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(db("read store lease"))?;
        Ok(match lease {
            None => Claim::NoStore,
            // Released or lapsed in between: worth trying again at once.
            Some((holder, until)) => Claim::Taken {
                holder,
                until: until.unwrap_or(now),
            },
        })
    }

    /// Counts, inside `txn`, what the tenant's quota and the platform's
    /// limits ask for (the rule is the domain's: [`Quota::checks`]): store
    /// counts when `new_store`, concurrent provisions always.
    async fn check_quota(
        &self,
        txn: &WriteTxn,
        tenant: &TenantId,
        quota: &Quota,
        new_store: bool,
    ) -> Result<()> {
        let mut violations = Vec::new();
        for check in quota.checks(tenant, &self.limits, new_store) {
            let used: Option<i64> = quota_count(check.counts, tenant)
                .into_tuple()
                .one(txn)
                .await
                .map_err(db("count stores"))?;
            violations.extend(check.violation(used.map_or(0, i64::unsigned_abs)));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::QuotaExceeded(violations))
        }
    }

    /// The tenant's quota, read inside `txn`.
    async fn quota(&self, txn: &WriteTxn, tenant: &TenantId) -> Result<Quota> {
        let row = tenants::Entity::find_by_id(tenant.0.clone())
            .one(txn)
            .await
            .map_err(db("read tenant"))?
            .ok_or_else(|| Error::NotFound {
                resource_type: "tenant",
                name: tenant.resource_name(),
            })?;
        Ok(super::tenants::to_tenant(row)?.quota)
    }
}

/// The `count(*)` of what a quota check counts for `tenant`, which the
/// `(phase, tenant_id)` index answers from the provisioning stores alone.
/// A statement of its own (not sea-orm's `count`) so that the test can
/// explain exactly the statement the check runs.
fn quota_count(counts: Counted, tenant: &TenantId) -> Select<stores::Entity> {
    let provisioning = stores::Column::Phase.eq(Phase::Provisioning.as_str());
    let of_tenant = stores::Column::TenantId.eq(tenant.0.as_str());
    let query = stores::Entity::find()
        .select_only()
        .column_as(Expr::cust("count(*)"), "used");
    match counts {
        Counted::TenantStores => query.filter(of_tenant),
        Counted::TenantProvisioning => query.filter(provisioning).filter(of_tenant),
        Counted::PlatformStores => query,
        Counted::PlatformProvisioning => query.filter(provisioning),
    }
}

/// Restricts a backup query to the scope.
fn scoped_backups(
    query: Select<backup_rows::Entity>,
    scope: &Scope,
) -> Select<backup_rows::Entity> {
    match scope {
        Scope::Tenant(tenant) => query.filter(backup_rows::Column::TenantId.eq(tenant.0.as_str())),
        Scope::All => query,
    }
}

/// Restricts a store query to the scope.
fn scoped(query: Select<stores::Entity>, scope: &Scope) -> Select<stores::Entity> {
    match scope {
        Scope::Tenant(tenant) => query.filter(stores::Column::TenantId.eq(tenant.0.as_str())),
        Scope::All => query,
    }
}

#[async_trait]
impl StoreRepository for SqlStoreRepository {
    async fn create(&self, new: NewStore, key: Option<IdempotencyKey>) -> Result<Created> {
        let txn = self.begin_write().await?;
        if let Some(key) = &key {
            let existing = idempotency_keys::Entity::find_by_id((
                new.tenant.0.clone(),
                key.request_id.clone(),
            ))
            .one(&txn)
            .await
            .map_err(db("read idempotency key"))?;
            if let Some(existing) = existing {
                if existing.request_hash != key.request_hash {
                    return Err(Error::FailedPrecondition {
                        kind: "IDEMPOTENCY_KEY",
                        subject: format!("request_id/{}", key.request_id),
                        description: "request_id was already used for a different request; \
                                      use a new request_id for a new request"
                            .into(),
                    });
                }
                let original = stores::Entity::find_by_id(existing.store_id.clone())
                    .filter(stores::Column::TenantId.eq(new.tenant.0.as_str()))
                    .one(&txn)
                    .await
                    .map_err(db("read store"))?;
                return match original {
                    Some(row) => Ok(Created::Replayed(to_domain(row)?)),
                    None => Err(Error::FailedPrecondition {
                        kind: "IDEMPOTENCY_KEY",
                        subject: format!("request_id/{}", key.request_id),
                        description: format!(
                            "the store this request created ({}) has since been deleted; \
                             use a new request_id to create it again",
                            existing.store_id
                        ),
                    }),
                };
            }
        }

        let now = now();
        let store = Store::new(Uuid::now_v7(), new, now);
        let admitted = async {
            let quota = self.quota(&txn, &store.tenant).await?;
            quota.check_engine(&store.tenant, &store.engine)?;
            self.check_quota(&txn, &store.tenant, &quota, true).await
        }
        .await;
        if let Err(refused) = admitted {
            // A database that failed answers as itself, at once (a locked
            // file has already cost the busy timeout once).
            if matches!(refused, Error::Internal { .. }) {
                return Err(refused);
            }
            // A taken name is the answer whatever else refuses the create
            // (a full platform, an engine the tenant may not use): asked
            // only then, the unique index answers it on the way in.
            let taken = stores::Entity::find()
                .filter(stores::Column::Name.eq(store.name.as_str()))
                .one(&txn)
                .await
                .map_err(db("check store name"))?;
            return Err(if taken.is_some() {
                name_taken(&store.name)
            } else {
                refused
            });
        }

        // The custom domains' and the operation's rows before the store's
        // own: its row's batch then ends the transaction, in one round trip
        // with the commit on SQLite (see `record_last`). So a domain another
        // store serves is the answer before a taken name; the failed
        // statement ends a PostgreSQL transaction, which cannot ask more.
        claim_domains(&txn, &store, &[]).await?;
        backups::sync_operation(&txn, None, &store).await?;
        if let Some(key) = key {
            let row = idempotency_keys::ActiveModel {
                tenant_id: Set(store.tenant.0.clone()),
                request_id: Set(key.request_id),
                request_hash: Set(key.request_hash),
                store_id: Set(store.id.to_string()),
                created_at: Set(now),
            };
            idempotency_keys::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(db("remember idempotency key"))?;
        }
        // The row goes with its timeline's first event and its change-log
        // entry (one batch on SQLite); a taken name is the unique index's
        // answer (a name check before every create was one more round trip
        // on the one writer connection: see `record`).
        let insert = stores::Entity::insert(to_active(&store)?).build(self.backend());
        let created = store.created_event();
        self.record_last(txn, Some(insert), &store, vec![created], ChangeType::Added)
            .await?
            .written()?;
        Ok(Created::New(store))
    }

    async fn get(&self, scope: &Scope, store: &StoreRef) -> Result<Store> {
        to_domain(self.find(&self.db, scope, store).await?)
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &StoreFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Store>> {
        let mut query = scoped(stores::Entity::find(), scope);
        if !filter.phases.is_empty() {
            query =
                query.filter(stores::Column::Phase.is_in(filter.phases.iter().map(|p| p.as_str())));
        }
        if let Some(engine) = &filter.engine {
            query = query.filter(stores::Column::Engine.eq(engine.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(stores::Column::Id.gt(after.to_string()));
        }
        query
            .order_by_asc(stores::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db("list stores"))?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn update_events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &ChangeEventsFn<'_>,
    ) -> Result<Store> {
        let txn = self.begin_write().await?;
        let before = to_domain(self.find(&txn, scope, store).await?)?;
        let mut current = before.clone();
        let events = change(&mut current)?;
        if events.is_empty() {
            // Nothing to write: end the transaction without a change.
            txn.rollback().await.map_err(db("end transaction"))?;
            return Ok(current);
        }
        self.write_update(txn, &before, &mut current, events, false)
            .await?
            .written()?;
        Ok(current)
    }

    async fn update_seen(&self, seen: &Store, change: &ChangeEventsFn<'_>) -> Result<Store> {
        let mut current = seen.clone();
        let events = change(&mut current)?;
        if events.is_empty() {
            return Ok(current);
        }
        // Without the read `update_events` starts with: on SQLite one
        // round trip (begin, the row's batch, commit) where that is two.
        let txn = self.begin_write().await?;
        match self
            .write_update(txn, seen, &mut current, events, true)
            .await?
        {
            Recorded::Written => Ok(current),
            Recorded::Missed { .. } => {
                tracing::debug!(store = %seen.id, version = seen.resource_version, "written since seen; reading it again");
                // Written by someone else since `seen` (and rolled back):
                // read it and apply the change to what it is now.
                self.update_events(&Scope::All, &StoreRef::Id(seen.id), change)
                    .await
            }
        }
    }

    async fn remove(&self, id: Uuid, event: NewEvent) -> Result<()> {
        crate::telemetry::forget(id);
        let txn = self.begin_write().await?;
        let Some(row) = stores::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(db("read store"))?
        else {
            txn.rollback().await.map_err(db("end transaction"))?;
            return Ok(());
        };
        let store = to_domain(row)?;
        stores::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(db("delete store"))?;
        // Its release records go with it: a later store of the same name
        // starts from revision 1 (see the releases migration).
        releases::Entity::delete_many()
            .filter(releases::Column::StoreId.eq(id.to_string()))
            .exec(&txn)
            .await
            .map_err(db("delete the store's releases"))?;
        store_domains::Entity::delete_many()
            .filter(store_domains::Column::StoreId.eq(id.to_string()))
            .exec(&txn)
            .await
            .map_err(db("free the store's domains"))?;
        backups::fail_unfinished(&txn, id).await?;
        self.record(&txn, None, &store, vec![event], ChangeType::Deleted)
            .await?
            .written()?;
        self.commit(txn).await
    }

    async fn events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoreEvent>> {
        let row = self.find(&self.db, scope, store).await?;
        let mut query =
            store_events::Entity::find().filter(store_events::Column::StoreId.eq(row.id.as_str()));
        if let Some(after) = after {
            query = query.filter(store_events::Column::Id.gt(after));
        }
        query
            .order_by_asc(store_events::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db("list store events"))?
            .into_iter()
            .map(|e| {
                Ok(StoreEvent {
                    id: e.id,
                    store_id: parse_id(&e.store_id)?,
                    reason: e.reason,
                    message: e.message,
                    outcome: Outcome::parse(&e.outcome).unwrap_or(Outcome::Info),
                    time: e.created_at,
                    duration_ms: e.duration_ms,
                    trace_id: e.trace_id,
                })
            })
            .collect()
    }

    async fn snapshot(&self, scope: &Scope) -> Result<Snapshot> {
        let txn = self.begin_read().await?;
        let stores = decoded(
            scoped(stores::Entity::find(), scope).order_by_asc(stores::Column::Id),
            &txn,
            "list stores",
            to_domain,
        )
        .await?;
        let seq = max_seq(&txn).await?;
        txn.commit().await.map_err(db("end read transaction"))?;
        Ok(Snapshot { stores, seq })
    }

    async fn changes_since(&self, seq: i64, limit: u64) -> Result<ChangesSince> {
        // The common case, one statement: the log continues right after
        // `seq`, so nothing was pruned past it and it was not reset. Each
        // commit wakes the change hub, which reads here; the bounds checks
        // below (a transaction and two more statements) were a third of
        // its cost in a burst of creates.
        let changes = changes_after(&self.db, seq, limit).await?;
        if changes.first().is_some_and(|first| first.seq == seq + 1) {
            return Ok(ChangesSince::Changes(changes));
        }
        if changes.is_empty() {
            // Caught up (a wake for a commit an earlier read already had),
            // or past the end of a log that was reset. Nothing after `seq` means nothing was
            // pruned past it either, so the end alone decides.
            return if seq > max_seq(&self.db).await? {
                Ok(ChangesSince::Gone)
            } else {
                Ok(ChangesSince::Changes(Vec::new()))
            };
        }
        let txn = self.begin_read().await?;
        let oldest = min_seq(&txn).await?;
        let newest = max_seq(&txn).await?;
        // A position past the end means the log was reset; one before the
        // oldest retained change means changes were pruned.
        if seq > newest || oldest.is_some_and(|oldest| seq < oldest - 1) {
            txn.commit().await.map_err(db("end read transaction"))?;
            return Ok(ChangesSince::Gone);
        }
        let changes = changes_after(&txn, seq, limit).await?;
        txn.commit().await.map_err(db("end read transaction"))?;
        Ok(ChangesSince::Changes(changes))
    }

    async fn latest_seq(&self) -> Result<i64> {
        max_seq(&self.db).await
    }

    async fn existing(&self, ids: &[Uuid]) -> Result<std::collections::HashSet<Uuid>> {
        let mut found = std::collections::HashSet::new();
        // Chunks stay under every database's limit of bound parameters.
        for chunk in ids.chunks(EXISTING_CHUNK) {
            let rows: Vec<String> = stores::Entity::find()
                .select_only()
                .column(stores::Column::Id)
                .filter(stores::Column::Id.is_in(chunk.iter().map(Uuid::to_string)))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(db("check which stores exist"))?;
            found.extend(rows.iter().filter_map(|id| Uuid::parse_str(id).ok()));
        }
        Ok(found)
    }

    async fn needing_work(&self) -> Result<Vec<Uuid>> {
        let rows: Vec<(String, String, i64, i64, String)> = stores::Entity::find()
            .select_only()
            .column(stores::Column::Id)
            .column(stores::Column::Phase)
            .column(stores::Column::Generation)
            .column(stores::Column::ObservedGeneration)
            .column(stores::Column::Operation)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db("list stores needing work"))?;
        rows.into_iter()
            .filter(|(_, phase, generation, observed, operation)| {
                // A phase this build does not know is left alone (to_domain
                // reports it when the store is read).
                Phase::parse(phase).is_some_and(|phase| {
                    needs_reconcile(phase, *generation, *observed, !operation.is_empty())
                })
            })
            .map(|(id, ..)| parse_id(&id))
            .collect()
    }

    async fn claim(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Claim> {
        let now = now();
        let claimed = lease_update(id, holder, ttl, now)
            .exec(&self.db)
            .await
            .map_err(db("claim store lease"))?;
        if claimed.rows_affected == 1 {
            return Ok(Claim::Held);
        }
        self.lease_elsewhere(id, now).await
    }

    async fn take(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Taken> {
        let now = now();
        // The claim's UPDATE returns the row it wrote: the store as the
        // claim left it, without a read of its own.
        let claimed = lease_update(id, holder, ttl, now)
            .exec_with_returning(&self.db)
            .await
            .map_err(db("claim store lease"))?;
        if let Some(row) = claimed.into_iter().next() {
            return match to_domain(row) {
                Ok(store) => Ok(Taken::Store(Box::new(store))),
                Err(err) => {
                    // One that cannot be released expires by itself.
                    let _ = self.release(id, holder).await;
                    Err(err)
                }
            };
        }
        Ok(match self.lease_elsewhere(id, now).await? {
            Claim::Taken { holder, until } => Taken::Busy { holder, until },
            Claim::Held | Claim::NoStore => Taken::Gone,
        })
    }

    async fn release(&self, id: Uuid, holder: &str) -> Result<()> {
        stores::Entity::update_many()
            .col_expr(
                stores::Column::LeaseUntil,
                Option::<DateTime<Utc>>::None.into(),
            )
            .filter(stores::Column::Id.eq(id.to_string()))
            .filter(stores::Column::LeaseHolder.eq(holder))
            .exec(&self.db)
            .await
            .map_err(db("release store lease"))?;
        Ok(())
    }

    async fn record_event(&self, id: Uuid, event: NewEvent) -> Result<()> {
        // Read and insert in one transaction: a store deleted in between
        // gets no event written after its removal.
        let txn = WriteTxn::begin(&self.db)
            .await
            .map_err(db("begin transaction"))?;
        let Some(row) = stores::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(db("read store"))?
        else {
            return Ok(());
        };
        self.insert_event(&txn, &to_domain(row)?, event).await?;
        txn.commit().await.map_err(db("commit"))
    }

    async fn finish_operation(&self, id: Uuid, outcome: &OperationOutcome) -> Result<Store> {
        self.finish_operation_in(id, outcome).await
    }

    async fn backup_running(&self, id: Uuid, message: &str) -> Result<()> {
        self.backup_running_in(id, message).await
    }

    async fn backup(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        self.backup_in(scope, id).await
    }

    async fn backups(
        &self,
        scope: &Scope,
        filter: &BackupFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Backup>> {
        self.backups_in(scope, filter, before, limit).await
    }

    async fn delete_backup(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        self.delete_backup_in(scope, id).await
    }

    async fn backup_schedules(&self) -> Result<Vec<ScheduledStore>> {
        self.backup_schedules_in().await
    }
}

/// Whether a store write's statements, each meant to change one row, did.
/// An update of a row that is not there, or no longer at the version it
/// was read at, must not leave a timeline entry or a change behind: the
/// caller rolls back (for a row read in the same transaction this is a
/// guard, not a path).
enum Recorded {
    /// Every statement changed its row.
    Written,
    /// `statements` statements changed `rows` rows.
    Missed { statements: u64, rows: u64 },
}

impl Recorded {
    /// A miss as the error of a write that expected none.
    fn written(self) -> Result<()> {
        match self {
            Recorded::Written => Ok(()),
            Recorded::Missed { statements, rows } => Err(Error::internal(
                "write store",
                format!("{statements} statements changed {rows} rows"),
            )),
        }
    }
}

// The log's two ends are read by two queries, never by one selecting both
// `min(seq)` and `max(seq)`: SQLite answers a lone `min` or `max` of the
// key from the index's end, but scans the whole table for the pair, and
// the hub reads the bounds after every commit.

/// Up to `limit` changes of the log after position `seq`, in order.
async fn changes_after<C: ConnectionTrait + sea_orm::StreamTrait>(
    conn: &C,
    seq: i64,
    limit: u64,
) -> Result<Vec<StoreChange>> {
    decoded(
        store_changes::Entity::find()
            .filter(store_changes::Column::Seq.gt(seq))
            .order_by_asc(store_changes::Column::Seq)
            .limit(limit),
        conn,
        "read change log",
        decode_change,
    )
    .await
}

/// The rows `select` reads, each decoded as it arrives. Reading them all
/// first (`.all()`) held every driver row, then every model, beside what
/// they decode to: a watch's initial list of 10,000 stores peaked at
/// 57 MiB that way.
async fn decoded<E, C, T>(
    select: Select<E>,
    conn: &C,
    what: &'static str,
    decode: impl Fn(E::Model) -> Result<T>,
) -> Result<Vec<T>>
where
    E: EntityTrait,
    C: ConnectionTrait + sea_orm::StreamTrait + Send,
{
    use futures::TryStreamExt as _;
    let mut rows = select.stream(conn).await.map_err(db(what))?;
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(db(what))? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// One row of the log as a change.
fn decode_change(row: store_changes::Model) -> Result<StoreChange> {
    let store: Store = serde_json::from_str(&row.snapshot)
        .map_err(|e| Error::internal("decode store snapshot", e))?;
    let change_type = ChangeType::parse(&row.change_type).ok_or_else(|| {
        Error::internal(
            "decode change type",
            format!("unknown change type {:?}", row.change_type),
        )
    })?;
    Ok(StoreChange {
        seq: row.seq,
        change_type,
        store,
    })
}

/// The newest position in the change log (0 when it is empty).
async fn max_seq<C: ConnectionTrait>(conn: &C) -> Result<i64> {
    let newest = log_end(
        conn,
        store_changes::Column::Seq.max(),
        "read change log position",
    )
    .await?;
    Ok(newest.unwrap_or(0))
}

/// The oldest position the change log still holds.
async fn min_seq<C: ConnectionTrait>(conn: &C) -> Result<Option<i64>> {
    log_end(
        conn,
        store_changes::Column::Seq.min(),
        "read change log bounds",
    )
    .await
}

/// One end of the change log: `end` is `min(seq)` or `max(seq)`.
async fn log_end<C: ConnectionTrait>(
    conn: &C,
    end: sea_orm::sea_query::SimpleExpr,
    context: &'static str,
) -> Result<Option<i64>> {
    let value: Option<Option<i64>> = store_changes::Entity::find()
        .select_only()
        .column_as(end, "seq")
        .into_tuple()
        .one(conn)
        .await
        .map_err(db(context))?;
    Ok(value.flatten())
}

/// The current time at the database's precision (PostgreSQL keeps
/// microseconds), so a store returned by a write equals the one read back.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(super) fn db(context: &'static str) -> impl FnOnce(DbErr) -> Error {
    move |e| Error::internal(context, e)
}

/// The error of a statement writing `store` (its row, its timeline, its
/// change-log entry): a unique index can only refuse the row's name, the
/// other keys being generated.
fn write_failed(store: &Store) -> impl FnOnce(DbErr) -> Error + '_ {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => name_taken(&store.name),
        _ => Error::internal("write store", e),
    }
}

/// The same answer whoever holds the name, the caller's tenant or another:
/// it names no store, id or tenant. Names are platform-unique (they are
/// namespaces and hostnames), so a member unavoidably learns that a name
/// is not available; comparing with its own list it may infer another
/// tenant holds it, and nothing more.
fn name_taken(name: &str) -> Error {
    Error::AlreadyExists {
        resource_type: "store",
        name: name.to_owned(),
        description: "the name is not available; store names are unique on the platform \
                      (they name the store's namespace and host); choose another name"
            .into(),
    }
}

/// Makes `store`'s custom domains its own in `store_domains`, freeing the
/// ones of `before` it no longer has. A domain another store holds fails
/// the whole write with `ALREADY_EXISTS` naming the field, not the store
/// (which may be another tenant's).
/// The conditional UPDATE that takes (or renews) a store's lease for
/// `holder`: of two replicas claiming at once, the second waits for the
/// first's row lock and then sees its lease (PostgreSQL re-checks the
/// condition on the updated row).
fn lease_update(
    id: Uuid,
    holder: &str,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<stores::Entity> {
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    stores::Entity::update_many()
        .col_expr(stores::Column::LeaseHolder, holder.into())
        .col_expr(stores::Column::LeaseUntil, Some(until).into())
        .filter(stores::Column::Id.eq(id.to_string()))
        .filter(
            sea_orm::Condition::any()
                .add(stores::Column::LeaseUntil.is_null())
                .add(stores::Column::LeaseUntil.lt(now))
                .add(stores::Column::LeaseHolder.eq(holder)),
        )
}

async fn claim_domains(txn: &WriteTxn, store: &Store, before: &[String]) -> Result<()> {
    let gone: Vec<&String> = before
        .iter()
        .filter(|d| !store.custom_domains.contains(d))
        .collect();
    if !gone.is_empty() {
        store_domains::Entity::delete_many()
            .filter(store_domains::Column::StoreId.eq(store.id.to_string()))
            .filter(store_domains::Column::Domain.is_in(gone.iter().map(|d| d.as_str())))
            .exec(txn)
            .await
            .map_err(db("free custom domains"))?;
    }
    for (i, domain) in store.custom_domains.iter().enumerate() {
        if before.contains(domain) {
            continue;
        }
        let row = store_domains::ActiveModel {
            domain: Set(domain.clone()),
            store_id: Set(store.id.to_string()),
        };
        store_domains::Entity::insert(row)
            .exec_without_returning(txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => Error::AlreadyExists {
                    resource_type: "domain",
                    name: domain.clone(),
                    description: format!(
                        "custom_domains[{i}]: {domain} is already served by another store; \
                         a domain belongs to one store on the platform"
                    ),
                },
                _ => Error::internal("claim custom domain", e),
            })?;
    }
    Ok(())
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|e| Error::internal("decode store id", e))
}

/// JSON text of an optional value; empty for none.
fn optional_json<T: serde::Serialize>(what: &'static str, value: Option<&T>) -> Result<String> {
    value.map_or(Ok(String::new()), |v| {
        serde_json::to_string(v).map_err(|e| Error::internal(what, e))
    })
}

/// Inverse of [`optional_json`].
fn parse_optional<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<Option<T>> {
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| Error::internal(what, e))
}

fn to_active(store: &Store) -> Result<stores::ActiveModel> {
    let json =
        |what: &'static str, v: serde_json::Result<String>| v.map_err(|e| Error::internal(what, e));
    let (failure_reason, failure_message) = store
        .failure
        .as_ref()
        .map(|f| (f.reason.clone(), f.message.clone()))
        .unwrap_or_default();
    Ok(stores::ActiveModel {
        id: Set(store.id.to_string()),
        name: Set(store.name.clone()),
        tenant_id: Set(store.tenant.0.clone()),
        engine: Set(store.engine.clone()),
        config: Set(json("encode config", serde_json::to_string(&store.config))?),
        phase: Set(store.phase.as_str().to_owned()),
        conditions: Set(json(
            "encode conditions",
            serde_json::to_string(&store.conditions),
        )?),
        storefront_url: Set(store.urls.storefront.clone()),
        admin_url: Set(store.urls.admin.clone()),
        generation: Set(store.generation),
        observed_generation: Set(store.observed_generation),
        resource_version: Set(store.resource_version),
        failure_reason: Set(failure_reason),
        failure_message: Set(failure_message),
        created_at: Set(store.created_at),
        updated_at: Set(store.updated_at),
        engine_version: Set(store.engine_version.clone()),
        provisioning_since: Set(store.provisioning_since),
        attempts: Set(store.attempts),
        previous_config: Set(match &store.previous_config {
            Some(c) => json("encode previous config", serde_json::to_string(c))?,
            None => String::new(),
        }),
        credentials_secret: Set(store.credentials_secret.clone().unwrap_or_default()),
        suspended: Set(store.suspended),
        custom_domains: Set(json(
            "encode custom domains",
            serde_json::to_string(&store.custom_domains),
        )?),
        operation: Set(optional_json("encode operation", store.operation.as_ref())?),
        backup_schedule: Set(optional_json(
            "encode backup schedule",
            store.backup_schedule.as_ref(),
        )?),
        cloned_from: Set(store.cloned_from.map(|b| b.to_string()).unwrap_or_default()),
        // The lease is written only by `claim`.
        lease_holder: sea_orm::ActiveValue::NotSet,
        lease_until: sea_orm::ActiveValue::NotSet,
    })
}

fn to_domain(row: stores::Model) -> Result<Store> {
    let config: Config =
        serde_json::from_str(&row.config).map_err(|e| Error::internal("decode config", e))?;
    let conditions: Vec<Condition> = serde_json::from_str(&row.conditions)
        .map_err(|e| Error::internal("decode conditions", e))?;
    let phase = Phase::parse(&row.phase)
        .ok_or_else(|| Error::internal("decode phase", format!("unknown phase {:?}", row.phase)))?;
    let failure = (!row.failure_reason.is_empty()).then_some(Failure {
        reason: row.failure_reason,
        message: row.failure_message,
    });
    Ok(Store {
        id: parse_id(&row.id)?,
        name: row.name,
        tenant: TenantId(row.tenant_id),
        engine: row.engine,
        config,
        phase,
        conditions,
        urls: Urls {
            storefront: row.storefront_url,
            admin: row.admin_url,
        },
        generation: row.generation,
        observed_generation: row.observed_generation,
        resource_version: row.resource_version,
        failure,
        created_at: row.created_at,
        updated_at: row.updated_at,
        engine_version: row.engine_version,
        provisioning_since: row.provisioning_since,
        attempts: row.attempts,
        credentials_secret: (!row.credentials_secret.is_empty()).then_some(row.credentials_secret),
        suspended: row.suspended,
        custom_domains: serde_json::from_str(&row.custom_domains)
            .map_err(|e| Error::internal("decode custom domains", e))?,
        operation: parse_optional("decode operation", &row.operation)?,
        backup_schedule: parse_optional("decode backup schedule", &row.backup_schedule)?,
        cloned_from: if row.cloned_from.is_empty() {
            None
        } else {
            Some(parse_id(&row.cloned_from)?)
        },
        previous_config: if row.previous_config.is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(&row.previous_config)
                    .map_err(|e| Error::internal("decode previous config", e))?,
            )
        },
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait as _;

    use super::*;
    use crate::domain::{
        ConditionStatus, Readiness,
        ports::{ChangeFn, TenantRepository},
        tenancy::{Quota, Scope},
    };

    async fn repo(
        limits: GlobalLimits,
    ) -> (Arc<SqlStoreRepository>, super::super::SqlTenantRepository) {
        let db = super::super::scripted::memory_db().await;
        let tenants = super::super::SqlTenantRepository::new(db.clone());
        (
            super::super::repository(db, Arc::new(Notify::new()), 100, limits),
            tenants,
        )
    }

    fn new_store(tenant: &str, name: &str, engine: &str) -> NewStore {
        NewStore {
            tenant: TenantId(tenant.into()),
            engine: engine.into(),
            ..super::super::scripted::new_store(name)
        }
    }

    /// The reasons of a store's timeline, oldest first.
    async fn timeline(repo: &SqlStoreRepository, id: Uuid) -> Vec<String> {
        repo.events(&Scope::All, &StoreRef::Id(id), None, 100)
            .await
            .expect("timeline")
            .into_iter()
            .map(|e| e.reason)
            .collect()
    }

    async fn create(repo: &SqlStoreRepository, new: NewStore) -> Result<Store> {
        repo.create(new, None).await.map(Created::into_store)
    }

    /// A store write sends its update, event and change-log entry to SQLite
    /// as one statement list: all three land, and an update that finds no
    /// row fails the write instead of leaving an event and a change for a
    /// store that is not there.
    #[tokio::test]
    async fn a_store_write_lands_with_its_event_and_change_or_not_at_all() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let store = create(&repo, new_store("default", "batched", "static-site"))
            .await
            .expect("create");
        let rows = |id: Uuid| {
            let db = repo.db.clone();
            async move {
                let events = store_events::Entity::find()
                    .filter(store_events::Column::StoreId.eq(id.to_string()))
                    .all(&db)
                    .await
                    .expect("events");
                let changes = store_changes::Entity::find()
                    .filter(store_changes::Column::StoreId.eq(id.to_string()))
                    .all(&db)
                    .await
                    .expect("changes");
                (events.len(), changes.len())
            }
        };
        assert_eq!(rows(store.id).await, (1, 1), "the create's own");

        let updated = repo
            .update(&Scope::All, &StoreRef::Id(store.id), &|s: &mut Store| {
                s.suspended = true;
                Ok(Some(NewEvent::info("Suspended", "paused by its owner")))
            })
            .await
            .expect("update");
        assert_eq!(rows(store.id).await, (2, 2));
        let read = repo
            .get(&Scope::All, &StoreRef::Id(store.id))
            .await
            .expect("read");
        assert!(read.suspended);
        assert_eq!(read.resource_version, updated.resource_version);
        let log = repo.changes_since(0, 10).await.expect("log");
        let ChangesSince::Changes(log) = log else {
            panic!("the log is complete");
        };
        assert_eq!(
            log.last().expect("change").store.resource_version,
            updated.resource_version
        );

        let mut ghost = read.clone();
        ghost.id = Uuid::now_v7();
        let txn = repo.begin_write().await.expect("begin");
        let err = repo
            .record_update(&txn, &ghost, vec![NewEvent::info("Suspended", "nobody")])
            .await
            .expect_err("an update of no row");
        assert!(
            matches!(err, Error::Internal { .. })
                && format!("{err:?}").contains("3 statements changed 2 rows"),
            "{err:?}"
        );
        drop(txn);
        assert_eq!(rows(ghost.id).await, (0, 0));
        assert_eq!(rows(store.id).await, (2, 2));
    }

    /// Each quota count is answered from an index (the provisioning ones
    /// from the provisioning stores alone), never by reading every store:
    /// they run inside the write transaction of every create.
    #[tokio::test]
    async fn quota_counts_search_an_index_instead_of_reading_every_store() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let tenant = TenantId("default".into());
        // The index searched; `None`: every store is what it counts, so
        // any covering index scanned will do.
        for (counts, index) in [
            (Counted::TenantStores, Some("idx_stores_tenant_id")),
            (
                Counted::TenantProvisioning,
                Some("idx_stores_phase_tenant_id"),
            ),
            (
                Counted::PlatformProvisioning,
                Some("idx_stores_phase_tenant_id"),
            ),
            (Counted::PlatformStores, None),
        ] {
            let query = quota_count(counts, &tenant).build(DbBackend::Sqlite);
            let plan = repo
                .db
                .query_all_raw(sea_orm::Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {}", query.sql),
                    query.values.clone().map(|v| v.0).unwrap_or_default(),
                ))
                .await
                .expect("explain");
            let plan: Vec<String> = plan
                .iter()
                .map(|row| row.try_get::<String>("", "detail").expect("detail"))
                .collect();
            let [step] = plan.as_slice() else {
                panic!("{counts:?}: one step expected: {plan:?}");
            };
            assert!(step.contains("COVERING INDEX"), "{counts:?}: {step}");
            match index {
                Some(index) => assert!(
                    step.starts_with("SEARCH") && step.contains(index),
                    "{counts:?}: {step}"
                ),
                None => assert!(step.starts_with("SCAN"), "{counts:?}: {step}"),
            }
        }
    }

    #[tokio::test]
    async fn take_returns_the_store_as_its_claim_left_it_or_says_whose_it_is() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let store = create(&repo, new_store("default", "leased", "static-site"))
            .await
            .expect("create");
        let lease = std::time::Duration::from_secs(30);
        let Taken::Store(taken) = repo.take(store.id, "one", lease).await.expect("take") else {
            panic!("a free store is taken");
        };
        assert_eq!(*taken, store, "the store as it was written");
        match repo.take(store.id, "two", lease).await.expect("take") {
            Taken::Busy { holder, until } => {
                assert_eq!(holder, "one");
                assert!(until > Utc::now());
            }
            other => panic!("another replica's store is not taken: {other:?}"),
        }
        // The holder renews it; after a release anyone takes it.
        assert!(matches!(
            repo.take(store.id, "one", lease).await,
            Ok(Taken::Store(_))
        ));
        repo.release(store.id, "one").await.expect("release");
        assert!(matches!(
            repo.take(store.id, "two", lease).await,
            Ok(Taken::Store(_))
        ));
        assert_eq!(
            repo.take(Uuid::now_v7(), "one", lease).await.expect("take"),
            Taken::Gone
        );
    }

    /// A write of the store as the caller last saw it lands without a
    /// read while nobody else wrote it, and is applied to the store as it
    /// is now when somebody did: nothing the other writer wrote is lost,
    /// and each event is in the timeline once.
    #[tokio::test]
    async fn a_write_of_the_store_as_seen_applies_to_what_it_is_now() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let seen = create(&repo, new_store("default", "seen", "static-site"))
            .await
            .expect("create");
        // Counts the calls of the change: once without a read, twice with.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let condition = |kind: &'static str| {
            let calls = &calls;
            move |s: &mut Store| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                s.set_condition(kind, ConditionStatus::True, "Done", "done", Utc::now());
                Ok(vec![NewEvent::info(kind, "done")])
            }
        };
        let first = repo
            .update_seen(&seen, &condition("First"))
            .await
            .expect("write");
        assert_eq!(first.resource_version, seen.resource_version + 1);
        assert_eq!(
            calls.swap(0, std::sync::atomic::Ordering::Relaxed),
            1,
            "not read again"
        );
        // Another writer, after `first` was seen.
        repo.update_events(&Scope::All, &StoreRef::Id(seen.id), &|s: &mut Store| {
            s.suspended = true;
            Ok(vec![NewEvent::info("Suspended", "by another writer")])
        })
        .await
        .expect("other write");
        let second = repo
            .update_seen(&first, &condition("Second"))
            .await
            .expect("write over a newer store");
        assert_eq!(second.resource_version, seen.resource_version + 3);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "read again"
        );
        assert!(second.suspended, "the other writer's change is kept");
        let read = repo
            .get(&Scope::All, &StoreRef::Id(seen.id))
            .await
            .expect("read");
        assert_eq!(read, second);
        assert!(read.is_done("First") && read.is_done("Second"));
        let reasons = timeline(&repo, seen.id).await;
        assert_eq!(reasons, ["Created", "First", "Suspended", "Second"]);
        // The write that missed left no change behind either.
        let ChangesSince::Changes(log) = repo.changes_since(0, 100).await.expect("log") else {
            panic!("the log is complete");
        };
        let versions: Vec<i64> = log.iter().map(|c| c.store.resource_version).collect();
        assert_eq!(
            versions,
            (0..4)
                .map(|n| seen.resource_version + n)
                .collect::<Vec<_>>()
        );
        // No event, no write.
        let unchanged = repo
            .update_seen(&read, &|_: &mut Store| Ok(Vec::new()))
            .await
            .expect("no write");
        assert_eq!(unchanged.resource_version, read.resource_version);
    }

    /// A write whose call is dropped mid-way (a client that hangs up) is
    /// rolled back whole on its connection before anyone else writes on
    /// it: on SQLite that is the one writer connection, and a transaction
    /// left open there would swallow every later write.
    #[tokio::test]
    async fn a_write_dropped_mid_way_is_rolled_back_and_the_next_writes_land() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let store = create(&repo, new_store("default", "dropped", "static-site"))
            .await
            .expect("create");
        let suspend = |s: &mut Store| {
            s.suspended = true;
            Ok(vec![NewEvent::info("Suspended", "dropped mid-way")])
        };
        let id = StoreRef::Id(store.id);
        for _ in 0..3 {
            let write = repo.update_events(&Scope::All, &id, &suspend);
            futures::pin_mut!(write);
            // One poll: its first round trip (the `BEGIN` and the read) is
            // on its way when the call is dropped.
            let _ = futures::poll!(&mut write);
        }
        let read = repo
            .get(&Scope::All, &StoreRef::Id(store.id))
            .await
            .expect("read");
        let next = repo
            .update_events(&Scope::All, &StoreRef::Id(store.id), &|s: &mut Store| {
                s.suspended = false;
                Ok(vec![NewEvent::info("Resumed", "after")])
            })
            .await
            .expect("a write after the dropped ones");
        assert_eq!(next.resource_version, read.resource_version + 1);
        let reasons = timeline(&repo, store.id).await;
        // Each dropped write landed whole or not at all.
        let suspended = reasons.iter().filter(|r| *r == "Suspended").count();
        assert_eq!(
            i64::try_from(suspended).expect("count"),
            read.resource_version - store.resource_version
        );
        assert_eq!(reasons.last().map(String::as_str), Some("Resumed"));
    }

    #[tokio::test]
    async fn only_stores_with_work_are_listed_for_the_reconciler() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let provisioning = create(&repo, new_store("default", "pending", "e"))
            .await
            .expect("create");
        let ready = create(&repo, new_store("default", "ready", "e"))
            .await
            .expect("create");
        let failed = create(&repo, new_store("default", "failed", "e"))
            .await
            .expect("create");
        let deleting = create(&repo, new_store("default", "deleting", "e"))
            .await
            .expect("create");
        let change = |id: Uuid, change: &'static ChangeFn<'static>| {
            let repo = Arc::clone(&repo);
            async move {
                repo.update(&Scope::All, &StoreRef::Id(id), change)
                    .await
                    .expect("update");
            }
        };
        change(ready.id, &|s| {
            s.mark_ready(Readiness::default(), 0, now()).map(Some)
        })
        .await;
        change(failed.id, &|s| {
            s.mark_failed(
                Failure {
                    reason: "Broken".into(),
                    message: "broken".into(),
                },
                now(),
            )
            .map(Some)
        })
        .await;
        change(deleting.id, &|s| Ok(s.request_deletion())).await;
        let mut expected = vec![provisioning.id, deleting.id];
        expected.sort();
        let mut listed = repo.needing_work().await.expect("needing work");
        listed.sort();
        assert_eq!(listed, expected);
        // An upgrade of the Ready store is work again.
        change(ready.id, &|s| s.upgrade(None).map(Some)).await;
        assert_eq!(repo.needing_work().await.expect("needing work").len(), 3);
    }

    #[tokio::test]
    async fn create_checks_the_tenants_engines_and_counts_its_quota() {
        let (repo, tenants) = repo(GlobalLimits::default()).await;
        let quota = Quota {
            max_stores: Some(1),
            max_concurrent_provisions: None,
            allowed_engines: vec!["static-site".into()],
        };
        tenants
            .create_tenant(&TenantId("acme".into()), "Acme", &quota)
            .await
            .expect("tenant");
        let refused = create(&repo, new_store("acme", "big", "medusa")).await;
        assert!(
            matches!(
                refused,
                Err(Error::PermissionDenied {
                    reason: "ENGINE_NOT_ALLOWED",
                    ..
                })
            ),
            "{refused:?}"
        );
        create(&repo, new_store("acme", "small", "static-site"))
            .await
            .expect("within quota");
        let over = create(&repo, new_store("acme", "second", "static-site")).await;
        let Err(Error::QuotaExceeded(violations)) = over else {
            panic!("over quota: {over:?}");
        };
        assert_eq!(violations[0].subject, "tenants/acme");
        // A taken name is the answer however else the create is refused,
        // and without a quota in the way too (the unique index's).
        for (tenant, engine) in [
            ("acme", "static-site"),
            ("acme", "medusa"),
            ("default", "e"),
        ] {
            let taken = create(&repo, new_store(tenant, "small", engine)).await;
            assert!(
                matches!(
                    taken,
                    Err(Error::AlreadyExists {
                        resource_type: "store",
                        ..
                    })
                ),
                "{tenant} {engine}: {taken:?}"
            );
        }
        // Nothing was written for the refused creates.
        let all = repo
            .list(&Scope::All, &StoreFilter::default(), None, 10)
            .await
            .expect("list");
        assert_eq!(all.len(), 1);
    }

    #[tokio::test]
    async fn a_custom_domain_belongs_to_one_store_and_is_freed_with_it() {
        let (repo, _) = repo(GlobalLimits::default()).await;
        let mut first = new_store("default", "first", "static-site");
        first.custom_domains = vec!["shop.example.org".into(), "www.example.org".into()];
        let first = create(&repo, first).await.expect("first");
        let mut second = new_store("default", "second", "static-site");
        second.custom_domains = vec!["www.example.org".into()];
        let taken = create(&repo, second.clone()).await;
        let Err(Error::AlreadyExists { description, .. }) = taken else {
            panic!("taken: {taken:?}");
        };
        assert!(
            description.starts_with("custom_domains[0]: www.example.org is already served"),
            "{description}"
        );
        // Nothing was written for the refused create.
        assert!(
            repo.get(&Scope::All, &StoreRef::Name("second".into()))
                .await
                .is_err()
        );
        second.custom_domains = Vec::new();
        let second = create(&repo, second).await.expect("second without domains");
        let set = |id, domains: Vec<String>| {
            let repo = Arc::clone(&repo);
            async move {
                repo.update(&Scope::All, &StoreRef::Id(id), &move |s: &mut Store| {
                    s.set_custom_domains(domains.clone())
                })
                .await
            }
        };
        let refused = set(second.id, vec!["shop.example.org".into()]).await;
        assert!(
            matches!(refused, Err(Error::AlreadyExists { .. })),
            "{refused:?}"
        );
        assert!(
            repo.get(&Scope::All, &StoreRef::Id(second.id))
                .await
                .expect("second")
                .custom_domains
                .is_empty(),
            "the refused write left nothing"
        );
        // The first store drops one; the other may take it.
        let kept = set(first.id, vec!["shop.example.org".into()])
            .await
            .expect("drop one");
        assert_eq!(kept.custom_domains, ["shop.example.org"]);
        set(second.id, vec!["www.example.org".into()])
            .await
            .expect("freed domain");
        // Removing a store frees its domains.
        repo.remove(first.id, NewEvent::info("Deleted", "gone"))
            .await
            .expect("remove");
        let moved = set(
            second.id,
            vec!["www.example.org".into(), "shop.example.org".into()],
        )
        .await
        .expect("domains of a removed store");
        assert_eq!(
            moved.custom_domains,
            ["www.example.org", "shop.example.org"]
        );
    }

    #[tokio::test]
    async fn the_change_log_reads_on_from_a_position_and_says_gone_when_it_cannot() {
        let db = super::super::scripted::memory_db().await;
        // Four changes kept: pruned every fourth.
        let repo =
            super::super::repository(db, Arc::new(Notify::new()), 4, GlobalLimits::default());
        for i in 0..3 {
            create(&repo, new_store("default", &format!("shop-{i}"), "e"))
                .await
                .expect("create");
        }
        let seqs = |changes: ChangesSince| match changes {
            ChangesSince::Changes(changes) => changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
            ChangesSince::Gone => panic!("gone"),
        };
        // From the start, from the middle, in batches, at the end.
        assert_eq!(
            seqs(repo.changes_since(0, 10).await.expect("read")),
            [1, 2, 3]
        );
        assert_eq!(seqs(repo.changes_since(1, 1).await.expect("read")), [2]);
        assert_eq!(
            seqs(repo.changes_since(3, 10).await.expect("read")),
            Vec::<i64>::new()
        );
        // Past the end: the log was reset under this position.
        assert!(matches!(
            repo.changes_since(9, 10).await.expect("read"),
            ChangesSince::Gone
        ));
        // Change 4 prunes what is 4 behind it (nothing yet), change 8 the
        // changes up to 4: a reader at 1 lost 2 to 4.
        for i in 3..8 {
            create(&repo, new_store("default", &format!("shop-{i}"), "e"))
                .await
                .expect("create");
        }
        assert!(matches!(
            repo.changes_since(1, 10).await.expect("read"),
            ChangesSince::Gone
        ));
        // Right before the oldest kept change is still a position.
        assert_eq!(
            seqs(repo.changes_since(4, 10).await.expect("read")),
            [5, 6, 7, 8]
        );
    }
}
