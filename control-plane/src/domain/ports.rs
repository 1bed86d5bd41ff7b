//! Ports: what the domain needs from the outside world, as traits.

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    ChangesSince, Config, FieldViolation, IdempotencyKey, NewEvent, NewStore, Result, Snapshot,
    Store, StoreEvent, StoreFilter, StoreRef, TenantId, engine::Engine,
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
pub type ChangeFn = dyn for<'a> Fn(&'a mut Store) -> Result<Option<NewEvent>> + Send + Sync;

/// Durable store state. Every method that reads or writes a tenant's stores
/// takes the tenant, so isolation holds below the handlers. Every write
/// appends to the change log in the same transaction and wakes watchers.
#[async_trait]
pub trait StoreRepository: Send + Sync + 'static {
    /// Creates a store (with its `Created` timeline event and `Added` change),
    /// honouring the idempotency key. Name conflicts: `AlreadyExists`; a key
    /// reused for another request: `FailedPrecondition`.
    async fn create(&self, new: NewStore, key: Option<IdempotencyKey>) -> Result<Created>;

    /// One store of the tenant.
    async fn get(&self, tenant: &TenantId, store: &StoreRef) -> Result<Store>;

    /// A page of the tenant's stores after `after`, oldest first.
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &StoreFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Store>>;

    /// Applies `change` to a store of the tenant in one transaction. When it
    /// returns an event, records it in the store's timeline, bumps the
    /// resource version and logs a `Modified` change. `None` means nothing to
    /// do; an error refuses the change. Either way nothing is written then.
    async fn update(&self, tenant: &TenantId, store: &StoreRef, change: &ChangeFn)
    -> Result<Store>;

    /// Removes a store's record (its timeline stays) and logs `Deleted`.
    async fn remove(&self, id: Uuid, event: NewEvent) -> Result<()>;

    /// A page of a store's timeline after event `after`, oldest first.
    async fn events(
        &self,
        tenant: &TenantId,
        store: &StoreRef,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<StoreEvent>>;

    /// The tenant's stores and the change-log position they reflect, read
    /// consistently.
    async fn snapshot(&self, tenant: &TenantId) -> Result<Snapshot>;

    /// Up to `limit` changes (of every tenant) after `seq`, or `Gone` when
    /// some were pruned.
    async fn changes_since(&self, seq: i64, limit: u64) -> Result<ChangesSince>;

    /// The newest change-log position.
    async fn latest_seq(&self) -> Result<i64>;
}

/// The engines the platform can provision and how to check their configuration.
pub trait EngineCatalog: Send + Sync + 'static {
    /// Every engine.
    fn engines(&self) -> Vec<Engine>;

    /// `None` when the engine is unknown; else the configuration's violations
    /// (field paths start with `config`).
    fn validate_config(&self, engine: &str, config: &Config) -> Option<Vec<FieldViolation>>;
}

/// What happens after the API changed a store's desired state. The
/// reconciler implements it; until a cluster backend exists, the built-in
/// [`crate::domain::service::NoCluster`] driver finishes deletions at once
/// because there is nothing to tear down.
#[async_trait]
pub trait StoreDriver: Send + Sync + 'static {
    /// The store's desired state changed (created, retried, deletion requested).
    async fn store_changed(&self, store: &Store);
}
