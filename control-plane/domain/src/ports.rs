//! Ports: what the domain needs from the outside world, as traits.

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    ChangesSince, Config, Error, FieldViolation, IdempotencyKey, NewEvent, NewStore, Result,
    Snapshot, Store, StoreEvent, StoreFilter, StoreRef, TenantId,
    backup::{Backup, BackupPhase, BackupSchedule, BackupTrigger, OperationOutcome},
    engine::Engine,
    release::Revision,
    tenancy::{Quota, Role, Scope, Tenant, Token},
};

/// Result of a create: a new store, or the one an earlier call with the same
/// idempotency key created.
#[derive(Debug, Clone)]
pub enum Created {
    /// The store was created now.
    New(Store),
    /// The request was a retry; this is the original store.
    Replayed(Store),
}

impl Created {
    /// The store either way.
    pub fn into_store(self) -> Store {
        match self {
            Created::New(s) | Created::Replayed(s) => s,
        }
    }
}

/// A change to a store: `Some(event)` to write it with that timeline
/// event, `None` when there is nothing to do, an error to refuse.
pub type ChangeFn<'f> =
    dyn for<'s> Fn(&'s mut Store) -> Result<Option<NewEvent>> + Send + Sync + 'f;

/// A change to a store recording any number of timeline events, in order:
/// none when there is nothing to do (then nothing is written).
pub type ChangeEventsFn<'f> =
    dyn for<'s> Fn(&'s mut Store) -> Result<Vec<NewEvent>> + Send + Sync + 'f;

/// Durable store state. Every method that reads or writes a tenant's stores
/// takes the tenant, so isolation holds below the handlers. Every write
/// appends to the change log in the same transaction and wakes watchers.
#[async_trait]
pub trait StoreRepository: Send + Sync + 'static {
    /// Creates a store (with its `Created` timeline event and `Added` change),
    /// honouring the idempotency key, and checking the tenant's quota and the
    /// platform's limits in the same transaction, so concurrent creates
    /// cannot overshoot. Name conflicts: `AlreadyExists`; a key reused for
    /// another request: `FailedPrecondition`; a quota: `QuotaExceeded`.
    async fn create(&self, new: NewStore, key: Option<IdempotencyKey>) -> Result<Created>;

    /// One store of the tenant.
    async fn get(&self, scope: &Scope, store: &StoreRef) -> Result<Store>;

    /// A page of the stores in scope after `after`, oldest first.
    async fn list(
        &self,
        scope: &Scope,
        filter: &StoreFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Store>>;

    /// Applies `change` to a store in scope in one transaction. When it
    /// returns an event, records it in the store's timeline, bumps the
    /// resource version and logs a `Modified` change. `None` means nothing to
    /// do; an error refuses the change. Either way nothing is written then.
    /// A change that moves the store into Provisioning (a retry, or an
    /// upgrade or rollback of a Failed store: see
    /// [`crate::lifecycle::claims_provisioning_slot`]) has the tenant's and
    /// the platform's concurrent-provisioning limits checked in the same
    /// transaction.
    async fn update(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &ChangeFn<'_>,
    ) -> Result<Store> {
        self.update_events(scope, store, &|s: &mut Store| {
            Ok(change(s)?.into_iter().collect())
        })
        .await
    }

    /// [`update`](Self::update) with several timeline events in one write
    /// (steps that follow each other in one run are recorded together:
    /// each write is a transaction, a change-log entry and a change sent to
    /// every watcher).
    async fn update_events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        change: &ChangeEventsFn<'_>,
    ) -> Result<Store>;

    /// [`update_events`](Self::update_events) of the store as the caller
    /// last read or wrote it (`seen`; the reconciler holding its lease):
    /// `change` is applied to `seen` and written on the condition that the
    /// store is still at `seen`'s resource version, without reading it
    /// again; when it is not (another writer came in between), as
    /// `update_events` does. `change` must not depend on fields only
    /// another writer sets unless it checks them (the reconciler checks
    /// generation and phase). A change with no event writes nothing.
    async fn update_seen(&self, seen: &Store, change: &ChangeEventsFn<'_>) -> Result<Store> {
        self.update_events(&Scope::All, &StoreRef::Id(seen.id), change)
            .await
    }

    /// Removes a store's record (its timeline stays) and logs `Deleted`.
    async fn remove(&self, id: Uuid, event: NewEvent) -> Result<()>;

    /// A page of a store's timeline after event `after`, oldest first.
    async fn events(
        &self,
        scope: &Scope,
        store: &StoreRef,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoreEvent>>;

    /// The stores in scope and the change-log position they reflect, read
    /// consistently.
    async fn snapshot(&self, scope: &Scope) -> Result<Snapshot>;

    /// Up to `limit` changes (of every tenant) after `seq`, or `Gone` when
    /// some were pruned.
    async fn changes_since(&self, seq: i64, limit: u64) -> Result<ChangesSince>;

    /// The newest change-log position.
    async fn latest_seq(&self) -> Result<i64>;

    /// Ids of every store the reconciler has work for (provisioning,
    /// deleting, or ready with a newer generation), of every tenant.
    async fn needing_work(&self) -> Result<Vec<Uuid>>;

    /// Which of `ids` have a store record (of any tenant): one read however
    /// many, for checks over a whole cluster list.
    async fn existing(&self, ids: &[Uuid]) -> Result<std::collections::HashSet<Uuid>>;

    /// Takes (or renews) the lease on a store for `holder` for `ttl`; says
    /// who holds it and until when when another replica has an unexpired
    /// lease, so the caller can come back when it lapses.
    async fn claim(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Claim>;

    /// Gives the lease up early.
    async fn release(&self, id: Uuid, holder: &str) -> Result<()>;

    /// [`claim`](Self::claim)s the lease, then reads the store as the
    /// claim left it: in that order, so that the store read is never older
    /// than the last holder's writes (they commit before it lets go). A
    /// read that fails gives the lease back. A database that can does both
    /// in one statement.
    async fn take(&self, id: Uuid, holder: &str, ttl: std::time::Duration) -> Result<Taken> {
        match self.claim(id, holder, ttl).await? {
            Claim::Held => {}
            Claim::NoStore => return Ok(Taken::Gone),
            Claim::Taken { holder, until } => return Ok(Taken::Busy { holder, until }),
        }
        match self.get(&Scope::All, &StoreRef::Id(id)).await {
            Ok(store) => Ok(Taken::Store(Box::new(store))),
            Err(Error::NotFound { .. }) => Ok(Taken::Gone),
            Err(err) => {
                // One that cannot be released expires by itself.
                let _ = self.release(id, holder).await;
                Err(err)
            }
        }
    }

    /// Adds a timeline entry without changing the store.
    async fn record_event(&self, id: Uuid, event: NewEvent) -> Result<()>;

    /// Ends the store's backup or restore with `outcome`, in one
    /// transaction: the store's operation is cleared (with its timeline
    /// entry) and a backup's record gets its phase, size and checksum.
    async fn finish_operation(&self, id: Uuid, outcome: &OperationOutcome) -> Result<Store>;

    /// The backup's Job runs: a Pending backup becomes Running (with
    /// `message`); any other is left as it is.
    async fn backup_running(&self, id: Uuid, message: &str) -> Result<()>;

    /// One backup in scope.
    async fn backup(&self, scope: &Scope, id: Uuid) -> Result<Backup>;

    /// A page of the backups in scope, newest first, before `before`.
    async fn backups(
        &self,
        scope: &Scope,
        filter: &BackupFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Backup>>;

    /// Removes a finished backup's record (the caller removes its archive).
    /// A backup being taken, or restored by a store: `FailedPrecondition`.
    async fn delete_backup(&self, scope: &Scope, id: Uuid) -> Result<Backup>;

    /// Every store with a backup schedule: its id, schedule, and when its
    /// newest scheduled backup was requested.
    async fn backup_schedules(&self) -> Result<Vec<ScheduledStore>>;
}

/// Which backups to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupFilter {
    /// Only this store's.
    pub store_id: Option<Uuid>,
    /// Only those of stores of this name (also deleted ones).
    pub store_name: Option<String>,
    /// Only these phases (empty: all).
    pub phases: Vec<BackupPhase>,
    /// Only these triggers (empty: all).
    pub triggers: Vec<BackupTrigger>,
}

/// A store whose backups are scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledStore {
    /// The store.
    pub id: Uuid,
    /// Its schedule.
    pub schedule: BackupSchedule,
    /// When its newest scheduled backup was requested (`None`: never).
    pub last: Option<chrono::DateTime<chrono::Utc>>,
    /// When the store was last written (the schedule was set no later).
    pub since: chrono::DateTime<chrono::Utc>,
}

/// Where archives are kept: the service removes a deleted backup's.
#[async_trait]
pub trait ArchiveStore: Send + Sync + 'static {
    /// Removes backup `id`'s archive; nothing to remove is fine.
    async fn remove(&self, id: Uuid) -> Result<()>;
}

/// The outcome of [`StoreRepository::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the lease now.
    Held,
    /// Another replica holds an unexpired lease.
    Taken {
        /// Its holder.
        holder: String,
        /// When it lapses unless renewed.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// There is no such store.
    NoStore,
}

/// The outcome of [`StoreRepository::take`].
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    /// The caller holds the lease; the store as the claim left it.
    Store(Box<Store>),
    /// Another replica holds an unexpired lease.
    Busy {
        /// Its holder.
        holder: String,
        /// When it lapses unless renewed.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// There is no such store.
    Gone,
}

/// Tenants and their tokens.
#[async_trait]
pub trait TenantRepository: Send + Sync + 'static {
    /// Creates a tenant; `AlreadyExists` when the id is taken.
    async fn create_tenant(
        &self,
        id: &TenantId,
        display_name: &str,
        quota: &Quota,
    ) -> Result<Tenant>;

    /// Every tenant, by id.
    async fn tenants(&self) -> Result<Vec<Tenant>>;

    /// One tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Tenant>;

    /// Replaces a tenant's quota.
    async fn set_quota(&self, id: &TenantId, quota: &Quota) -> Result<Tenant>;

    /// Stores a new token (its secret only as `hash`).
    async fn create_token(
        &self,
        id: &str,
        tenant: &TenantId,
        role: Role,
        description: &str,
        hash: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Token>;

    /// A token with its secret hash, by id.
    async fn token(&self, id: &str) -> Result<Option<(Token, String)>>;

    /// Tokens, of one tenant or all.
    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<Token>>;

    /// Revokes a token (idempotent).
    async fn revoke_token(&self, id: &str) -> Result<Token>;

    /// Stores `hash` as an admin token of the default tenant if no token
    /// exists at all, atomically; returns whether it did.
    async fn bootstrap_admin_token(&self, id: &str, hash: &str) -> Result<bool>;
}

/// One mutating call or attempt, for the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Tenant of the caller, if authenticated.
    pub tenant: Option<TenantId>,
    /// Token used, if any.
    pub token_id: Option<String>,
    /// Client address.
    pub client_address: String,
    /// Full gRPC method name.
    pub method: String,
    /// What it acted on.
    pub resource: String,
    /// Parameters, secrets removed.
    pub parameters: serde_json::Value,
    /// gRPC code name.
    pub outcome: String,
    /// Error message, if any.
    pub message: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Monotonic id.
    pub id: i64,
    /// When.
    pub time: chrono::DateTime<chrono::Utc>,
    /// What.
    pub record: AuditRecord,
}

/// The append-only audit log.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends a record.
    async fn append(&self, record: AuditRecord) -> Result<()>;

    /// Entries in scope with ids below `before`, newest first.
    async fn entries(
        &self,
        scope: &Scope,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>>;
}

/// The engines the platform can provision and how to check their configuration.
#[async_trait]
pub trait EngineCatalog: Send + Sync + 'static {
    /// Every engine.
    fn engines(&self) -> Vec<Engine>;

    /// `None` when the engine is unknown; else the configuration's violations
    /// (field paths start with `config`).
    async fn validate_config(&self, engine: &str, config: &Config) -> Option<Vec<FieldViolation>>;
}

/// What happens after the API changed a store's desired state, when no
/// reconciler acts on it: the built-in [`crate::service::NoCluster`] driver
/// finishes deletions at once because there is nothing to tear down. With
/// a reconciler there is no driver: every committed change reaches it
/// through the change log (one wake path, for this replica's writes and
/// other replicas' alike).
#[async_trait]
pub trait StoreDriver: Send + Sync + 'static {
    /// The store's desired state changed (created, retried, deletion requested).
    async fn store_changed(&self, store: &Store);
}

/// Reads the Secrets engines keep store credentials in (the cluster
/// adapter implements it).
#[async_trait]
pub trait SecretReader: Send + Sync + 'static {
    /// The decoded values of Secret `secret` in the store's namespace, for
    /// an audited credentials reveal; `None` when the Secret does not exist.
    /// The values must not be logged.
    async fn secret_values(
        &self,
        store: &Store,
        secret: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>>;
}

/// Recorded chart release revisions (the chart engine's history).
#[async_trait]
pub trait ReleaseStore: Send + Sync + 'static {
    /// Every revision of a store's release, newest first.
    async fn history(&self, store_id: &str, name: &str) -> Result<Vec<Revision>>;

    /// The newest revision of a store's release.
    async fn latest(&self, store_id: &str, name: &str) -> Result<Option<Revision>>;

    /// Records a revision.
    async fn record(&self, revision: &Revision) -> Result<()>;

    /// Forgets a store's release (after uninstalling it).
    async fn forget(&self, store_id: &str, name: &str) -> Result<()>;
}
