//! The store resource and its lifecycle phases.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Engine configuration: a JSON object validated against the engine's schema.
pub type Config = serde_json::Map<String, serde_json::Value>;

/// Identifies a tenant. Every store belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub String);

impl TenantId {
    /// The tenant that owns everything until authentication lands.
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    /// The resource name, `tenants/<id>`.
    pub fn resource_name(&self) -> String {
        format!("tenants/{}", self.0)
    }
}

/// Where a store is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Resources are being created or are not ready yet.
    Provisioning,
    /// The store takes orders.
    Ready,
    /// Provisioning gave up.
    Failed,
    /// Resources are being removed.
    Deleting,
    /// Paused by its owner: no workload runs, the data is kept.
    Suspended,
}

impl Phase {
    /// Every phase, for parsing and exhaustive tests.
    pub const ALL: [Phase; 5] = [
        Phase::Provisioning,
        Phase::Ready,
        Phase::Failed,
        Phase::Deleting,
        Phase::Suspended,
    ];

    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "Provisioning",
            Phase::Ready => "Ready",
            Phase::Failed => "Failed",
            Phase::Deleting => "Deleting",
            Phase::Suspended => "Suspended",
        }
    }

    /// Inverse of [`Phase::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Status of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// It does not.
    False,
    /// Not known yet.
    Unknown,
}

/// One observation about a store, Kubernetes style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// CamelCase kind, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// CamelCase reason for the last transition.
    pub reason: String,
    /// Human-readable details.
    pub message: String,
    /// When the status last changed.
    pub last_transition_time: DateTime<Utc>,
    /// The store generation the condition was observed for.
    #[serde(default)]
    pub observed_generation: i64,
}

/// Why a store failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// CamelCase machine-readable reason.
    pub reason: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Addresses of a ready store; empty until known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Urls {
    /// The shop visitors see.
    pub storefront: String,
    /// The shop's administration.
    pub admin: String,
}

/// An e-commerce store: desired state plus what the platform observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// Server-assigned UUIDv7 (time ordered).
    pub id: Uuid,
    /// Platform-unique DNS label.
    pub name: String,
    /// Owner.
    pub tenant: TenantId,
    /// Engine id.
    pub engine: String,
    /// Engine version the store runs (set once provisioned by a plugin).
    #[serde(default)]
    pub engine_version: String,
    /// Engine configuration.
    pub config: Config,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Observations, one per type.
    pub conditions: Vec<Condition>,
    /// Storefront and admin addresses.
    pub urls: Urls,
    /// Incremented on every change of the desired state.
    pub generation: i64,
    /// The generation the platform last acted on.
    pub observed_generation: i64,
    /// Incremented on every write; the etag.
    pub resource_version: i64,
    /// Set while the store is (or was last) failed.
    pub failure: Option<Failure>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write.
    pub updated_at: DateTime<Utc>,
    /// When the current provisioning began, for the overall timeout.
    #[serde(default)]
    pub provisioning_since: Option<DateTime<Utc>>,
    /// Failed attempts in a row, for backoff.
    #[serde(default)]
    pub attempts: i32,
    /// The configuration before the last upgrade, for rollback.
    #[serde(default)]
    pub previous_config: Option<Config>,
    /// The Secret (in the store's namespace) with the admin credentials, as
    /// the engine reported it when the store became Ready. Only the name is
    /// kept; the values are read from the cluster on an audited reveal.
    #[serde(default)]
    pub credentials_secret: Option<String>,
    /// The owner wants the store paused (desired state; [`Phase::Suspended`]
    /// once the engine has paused it).
    #[serde(default)]
    pub suspended: bool,
    /// Extra host names the store is served at, unique on the platform.
    #[serde(default)]
    pub custom_domains: Vec<String>,
    /// The backup or restore in flight.
    #[serde(default)]
    pub operation: Option<crate::backup::StoreOperation>,
    /// Scheduled backups.
    #[serde(default)]
    pub backup_schedule: Option<crate::backup::BackupSchedule>,
    /// The backup this store was cloned from.
    #[serde(default)]
    pub cloned_from: Option<Uuid>,
}

impl Store {
    /// The condition of `type_`, if any.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether condition `type_` is true for the current generation.
    pub fn is_done(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| {
            c.status == ConditionStatus::True && c.observed_generation == self.generation
        })
    }

    /// Sets a condition; returns whether anything changed. The transition
    /// time moves only when the status does, as in Kubernetes.
    pub fn set_condition(
        &mut self,
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let generation = self.generation;
        match self.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status == status
                    && c.reason == reason
                    && c.message == message
                    && c.observed_generation == generation
                {
                    return false;
                }
                if c.status != status {
                    c.last_transition_time = now;
                }
                c.status = status;
                c.reason = reason.to_owned();
                c.message = message.to_owned();
                c.observed_generation = generation;
                true
            }
            None => {
                self.conditions.push(Condition {
                    type_: type_.to_owned(),
                    status,
                    reason: reason.to_owned(),
                    message: message.to_owned(),
                    last_transition_time: now,
                    observed_generation: generation,
                });
                true
            }
        }
    }

    /// The opaque etag clients pass back to guard writes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.resource_version)
    }

    /// The Kubernetes namespace the store's resources live in.
    pub fn namespace(&self) -> String {
        namespace_for(&self.name)
    }
}

/// Prefix of every store namespace.
pub const NAMESPACE_PREFIX: &str = "store-";

/// The namespace of the store called `name`.
pub fn namespace_for(name: &str) -> String {
    format!("{NAMESPACE_PREFIX}{name}")
}

/// Identifies a store by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRef {
    /// By server-assigned id.
    Id(Uuid),
    /// By platform-unique name.
    Name(String),
}

impl std::fmt::Display for StoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreRef::Id(id) => write!(f, "{id}"),
            StoreRef::Name(name) => f.write_str(name),
        }
    }
}

/// A validated create request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStore {
    /// Owner.
    pub tenant: TenantId,
    /// Validated name.
    pub name: String,
    /// Known engine id.
    pub engine: String,
    /// Configuration valid for the engine.
    pub config: Config,
    /// Validated custom domains (uniqueness is the repository's to check).
    pub custom_domains: Vec<String>,
    /// A clone: the backup (checked restorable) it starts from.
    pub from_backup: Option<Uuid>,
    /// Validated backup schedule.
    pub backup_schedule: Option<crate::backup::BackupSchedule>,
}

/// An idempotency key and the fingerprint of the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The client's `request_id`.
    pub request_id: String,
    /// SHA-256 (hex) of the canonical request.
    pub request_hash: String,
}

/// Which stores a list or watch returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFilter {
    /// Only these phases (empty: all).
    pub phases: Vec<Phase>,
    /// Only this engine.
    pub engine: Option<String>,
}

/// Outcome of a timeline step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The step worked.
    Succeeded,
    /// The step failed.
    Failed,
    /// Informational.
    Info,
}

impl Outcome {
    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "Succeeded",
            Outcome::Failed => "Failed",
            Outcome::Info => "Info",
        }
    }

    /// Inverse of [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Succeeded, Outcome::Failed, Outcome::Info]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One entry of a store's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvent {
    /// Monotonic id.
    pub id: i64,
    /// The store it is about.
    pub store_id: Uuid,
    /// CamelCase step.
    pub reason: String,
    /// Details.
    pub message: String,
    /// How it went.
    pub outcome: Outcome,
    /// When it ended.
    pub time: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
    /// The trace of the work that recorded it (32 hex digits), or empty.
    pub trace_id: String,
}

/// A timeline entry to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// CamelCase step.
    pub reason: String,
    /// Details.
    pub message: String,
    /// How it went.
    pub outcome: Outcome,
    /// How long it took.
    pub duration_ms: i64,
}

impl NewEvent {
    /// An instantaneous informational event.
    pub fn info(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            outcome: Outcome::Info,
            duration_ms: 0,
        }
    }
}

/// Kind of change in the watch log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeType {
    /// The store was created.
    Added,
    /// The store changed.
    Modified,
    /// The store is gone.
    Deleted,
}

impl ChangeType {
    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "Added",
            ChangeType::Modified => "Modified",
            ChangeType::Deleted => "Deleted",
        }
    }

    /// Inverse of [`ChangeType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [ChangeType::Added, ChangeType::Modified, ChangeType::Deleted]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One entry of the change log that `WatchStores` streams.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreChange {
    /// Position in the log; the resume token.
    pub seq: i64,
    /// What happened.
    pub change_type: ChangeType,
    /// The store after the change (before it, for deletions).
    pub store: Store,
}

/// The stores that exist at one point of the change log.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The stores, oldest first.
    pub stores: Vec<Store>,
    /// The last change the snapshot includes.
    pub seq: i64,
}

/// Changes after a resume point.
#[derive(Debug, Clone)]
pub enum ChangesSince {
    /// Every change after the point, in order (possibly none).
    Changes(Vec<StoreChange>),
    /// Some changes after the point were pruned: the client must resync.
    Gone,
}
