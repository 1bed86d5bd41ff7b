//! The store lifecycle as a state machine.
//!
//! Every change of a store's phase, generation, attempts or provisioning
//! clock goes through one of the transitions below; the API service, the
//! repository and the reconciler call them and never assign those fields
//! themselves. Each transition is pure (time comes in as an argument),
//! returns the timeline entry that records it, and refuses what the phase
//! does not allow with the error the API maps to `FAILED_PRECONDITION`.
//!
//! ```text
//!            create                observe: ready
//!   (none) ─────────► Provisioning ───────────────► Ready
//!                      │   ▲   │ failure / timeout    │ upgrade, rollback
//!                      │   │   ▼                      │ (new generation)
//!                      │   └─ Failed ◄────────────────┘
//!                      │  retry, upgrade, rollback
//!                      ▼
//!   any phase ── delete ──► Deleting ── namespace gone ──► (record removed)
//!
//!   Ready ── suspend (new generation) ──► observe: suspended ──► Suspended
//!   Suspended ── resume (new generation) ──► observe: ready ──► Ready
//! ```
//!
//! A new generation of a Ready or Suspended store (an upgrade, a suspend, a
//! resume, new custom domains) is worked on while the store keeps its
//! phase, as Kubernetes keeps serving during a rollout.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    ConditionStatus, Config, Error, Failure, NewEvent, NewStore, Outcome, Phase, Result, Store,
    Urls,
    backup::{
        Backup, BackupPhase, BackupSchedule, BackupTrigger, OperationKind, OperationOutcome,
        StoreOperation,
    },
};

/// Condition types the reconciler records, in step order.
pub mod conditions {
    /// The store's namespace and its platform baseline are in place.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// The engine applied its resources for the current generation.
    pub const ENGINE_PROVISIONED: &str = "EngineProvisioned";
    /// The store takes orders.
    pub const READY: &str = "Ready";
    /// The engine removed its resources (deletion).
    pub const ENGINE_DEPROVISIONED: &str = "EngineDeprovisioned";
    /// The engine paused the store (true while it is paused).
    pub const SUSPENDED: &str = "Suspended";
    /// A backup was taken before this generation's engine upgrade.
    pub const PRE_UPGRADE_BACKUP: &str = "PreUpgradeBackup";
}

/// Whether a store in `phase` with these generations has work for the
/// reconciler: it is provisioning or being deleted, or it is Ready with a
/// desired state it has not acted on. Failed stores wait for a person.
///
/// A Ready store with a backup or restore in flight (`operation`) has work
/// too.
///
/// The one copy of the rule: [`Store::needs_reconcile`], the repository's
/// start-up query and the reconciler's change filter all ask it.
pub fn needs_reconcile(
    phase: Phase,
    generation: i64,
    observed_generation: i64,
    operation: bool,
) -> bool {
    match phase {
        Phase::Provisioning | Phase::Deleting => true,
        Phase::Ready => generation != observed_generation || operation,
        Phase::Suspended => generation != observed_generation,
        Phase::Failed => false,
    }
}

/// Whether a change from phase `before` to `after` takes one of the
/// concurrent-provisioning slots the quotas limit: it starts provisioning
/// a store that was not.
pub fn claims_provisioning_slot(before: Phase, after: Phase) -> bool {
    before != Phase::Provisioning && after == Phase::Provisioning
}

/// What the engine reported of a store that became ready.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The shop visitors see.
    pub storefront_url: String,
    /// The shop's administration.
    pub admin_url: String,
    /// The Secret holding the admin login, if the engine keeps one.
    pub credentials_secret: Option<String>,
    /// The engine's own words.
    pub message: String,
}

/// What [`Store::next_attempt`] decides after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Try again: this is failure number `n` in a row.
    Retry(i32),
    /// `n` failures in a row reach the limit: the store fails.
    Exhausted(i32),
}

impl Store {
    /// A store as created: Provisioning its first generation, nothing
    /// observed yet.
    pub fn new(id: Uuid, new: NewStore, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: new.name,
            tenant: new.tenant,
            engine: new.engine,
            engine_version: String::new(),
            config: new.config,
            phase: Phase::Provisioning,
            conditions: Vec::new(),
            urls: Urls::default(),
            generation: 1,
            observed_generation: 0,
            resource_version: 1,
            failure: None,
            created_at: now,
            updated_at: now,
            provisioning_since: None,
            attempts: 0,
            previous_config: None,
            credentials_secret: None,
            suspended: false,
            custom_domains: new.custom_domains,
            // A clone restores its backup once provisioned, before it is
            // Ready.
            operation: new.from_backup.map(|backup| StoreOperation {
                kind: OperationKind::Restore,
                backup,
                started_at: now,
                trigger: BackupTrigger::Manual,
                slot: None,
            }),
            backup_schedule: new.backup_schedule,
            cloned_from: new.from_backup,
        }
    }

    /// The timeline entry of [`Store::new`].
    pub fn created_event(&self) -> NewEvent {
        let clone = self
            .cloned_from
            .map(|b| format!(", cloned from backup {b}"))
            .unwrap_or_default();
        NewEvent::info(
            "Created",
            format!(
                "store {} created with engine {}{clone}",
                self.name, self.engine
            ),
        )
    }

    /// The store starts taking backup `backup` (its record is written in
    /// the same transaction, by the repository, from the store and this
    /// operation). Only a Ready store, with no other backup or restore
    /// running: a backup of a store that is not up would dump a database
    /// that may not exist. `slot` names a scheduled backup's slot.
    pub fn start_backup(
        &mut self,
        id: Uuid,
        trigger: BackupTrigger,
        slot: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<NewEvent> {
        // The backup before an upgrade also runs for a store provisioning
        // again (a retried upgrade): its workloads still run the old version.
        let provisioning =
            trigger == BackupTrigger::PreUpgrade && self.phase == Phase::Provisioning;
        self.refuse_busy("back up", provisioning)?;
        self.operation = Some(StoreOperation {
            kind: OperationKind::Backup,
            backup: id,
            started_at: now,
            trigger,
            slot,
        });
        Ok(NewEvent::info(
            "BackupRequested",
            format!(
                "backup {id} requested ({})",
                match trigger {
                    BackupTrigger::Manual => "manual",
                    BackupTrigger::Scheduled => "scheduled",
                    BackupTrigger::PreUpgrade => "before the upgrade",
                }
            ),
        ))
    }

    /// The record of the backup the store's operation takes (Pending), as
    /// the repository writes it with the store.
    pub fn pending_backup(&self, operation: &StoreOperation) -> Backup {
        Backup {
            id: operation.backup,
            store_id: self.id,
            store_name: self.name.clone(),
            tenant: self.tenant.clone(),
            engine: self.engine.clone(),
            engine_version: self.engine_version.clone(),
            config: self.config.clone(),
            phase: BackupPhase::Pending,
            trigger: operation.trigger,
            size_bytes: None,
            sha256: None,
            message: "waiting for the backup Job".into(),
            failure_reason: None,
            created_at: operation.started_at,
            completed_at: None,
            slot: operation.slot.clone(),
        }
    }

    /// The store's data is to be replaced with `backup`'s (checked: of the
    /// store's engine and Succeeded). Only a Ready store, with no other
    /// backup or restore running.
    pub fn start_restore(&mut self, backup: &Backup, now: DateTime<Utc>) -> Result<NewEvent> {
        self.refuse_busy("restore", false)?;
        backup.check_restorable(&self.engine)?;
        self.operation = Some(StoreOperation {
            kind: OperationKind::Restore,
            backup: backup.id,
            started_at: now,
            trigger: BackupTrigger::Manual,
            slot: None,
        });
        Ok(NewEvent::info(
            "RestoreRequested",
            format!(
                "restore of backup {} (of store {}, taken {}) requested",
                backup.id,
                backup.store_name,
                backup.created_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ))
    }

    /// The operation in flight ended with `outcome`.
    pub fn finish_operation(&mut self, outcome: &OperationOutcome) -> Result<NewEvent> {
        let Some(operation) = self.operation.take() else {
            return Err(Error::FailedPrecondition {
                kind: "OPERATION",
                subject: format!("stores/{}", self.id),
                description: format!("store {} runs no backup or restore", self.name),
            });
        };
        let reason = match (operation.kind, outcome.succeeded) {
            (OperationKind::Backup, true) => "BackupSucceeded",
            (OperationKind::Backup, false) => "BackupFailed",
            (OperationKind::Restore, true) => "Restored",
            (OperationKind::Restore, false) => "RestoreFailed",
        };
        Ok(NewEvent {
            reason: reason.into(),
            message: outcome.message.clone(),
            outcome: if outcome.succeeded {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            duration_ms: outcome.duration_ms,
        })
    }

    /// New (or no) scheduled backups. `None` when unchanged.
    pub fn set_backup_schedule(
        &mut self,
        schedule: Option<BackupSchedule>,
    ) -> Result<Option<NewEvent>> {
        self.refuse_deleting()?;
        if self.backup_schedule == schedule {
            return Ok(None);
        }
        let message = match &schedule {
            Some(s) => format!(
                "backups scheduled at \"{}\" (UTC), keeping the last {}",
                s.cron, s.retention
            ),
            None => "scheduled backups removed".to_owned(),
        };
        self.backup_schedule = schedule;
        Ok(Some(NewEvent::info("BackupScheduleChanged", message)))
    }

    /// Refuses a change while a backup or restore runs.
    fn refuse_operation_in_flight(&self) -> Result<()> {
        match &self.operation {
            Some(op) => Err(Error::FailedPrecondition {
                kind: "OPERATION_IN_PROGRESS",
                subject: format!("stores/{}", self.id),
                description: format!(
                    "store {} is {} backup {}; wait until it ends",
                    self.name,
                    match op.kind {
                        OperationKind::Backup => "taking",
                        OperationKind::Restore => "restoring",
                    },
                    op.backup
                ),
            }),
            None => Ok(()),
        }
    }

    /// Refuses an operation unless the store is Ready (or, `provisioning`,
    /// Provisioning) and runs none.
    fn refuse_busy(&self, what: &str, provisioning: bool) -> Result<()> {
        self.refuse_deleting()?;
        self.refuse_operation_in_flight()?;
        if self.suspended {
            // Paused or being paused: its Jobs could not reach a running
            // database, and a Suspended store runs no operation.
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!("store {} is paused; resume it to {what}", self.name),
            });
        }
        if self.phase != Phase::Ready && !(provisioning && self.phase == Phase::Provisioning) {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!(
                    "store {} is {}; only a Ready store can {what}",
                    self.name,
                    self.phase.as_str()
                ),
            });
        }
        Ok(())
    }

    /// Whether the reconciler has work for this store (see [`needs_reconcile`]).
    pub fn needs_reconcile(&self) -> bool {
        needs_reconcile(
            self.phase,
            self.generation,
            self.observed_generation,
            self.operation.is_some(),
        )
    }

    /// Refuses a write guarded by an etag the store no longer has (an empty
    /// etag guards nothing).
    pub fn check_etag(&self, etag: &str) -> Result<()> {
        if !etag.is_empty() && etag != self.etag() {
            return Err(Error::Aborted(format!(
                "store {} changed since etag {etag} was read (now {}); get it again and retry",
                self.name,
                self.etag()
            )));
        }
        Ok(())
    }

    /// The owner asked for the store to go. `None` when it is already going:
    /// asking twice changes nothing.
    pub fn request_deletion(&mut self) -> Option<NewEvent> {
        if self.phase == Phase::Deleting {
            return None;
        }
        self.phase = Phase::Deleting;
        self.generation += 1;
        Some(NewEvent::info(
            "DeleteRequested",
            "deletion requested; removing the store's resources",
        ))
    }

    /// A new desired state: a new generation the platform works on from
    /// the start (a Failed store provisions again, the attempt count and
    /// the provisioning clock start over).
    pub fn restart(&mut self) {
        self.generation += 1;
        if self.phase == Phase::Failed {
            self.phase = Phase::Provisioning;
            self.failure = None;
        }
        self.attempts = 0;
        self.provisioning_since = None;
    }

    /// Provisions a Failed store again; any other phase is refused.
    pub fn retry(&mut self) -> Result<NewEvent> {
        if self.phase != Phase::Failed {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!(
                    "store {} is {}; only Failed stores can be retried",
                    self.name,
                    self.phase.as_str()
                ),
            });
        }
        let why = self
            .failure
            .take()
            .map(|f| format!(" (last failure: {}: {})", f.reason, f.message))
            .unwrap_or_default();
        self.restart();
        Ok(NewEvent::info(
            "RetryRequested",
            format!("retry requested{why}"),
        ))
    }

    /// Moves to `config` (or re-applies the current one with the installed
    /// engine version), remembering the current configuration for a
    /// rollback. Refused while the store is being deleted.
    pub fn upgrade(&mut self, config: Option<Config>) -> Result<NewEvent> {
        self.refuse_deleting()?;
        self.previous_config = Some(self.config.clone());
        if let Some(config) = config {
            self.config = config;
        }
        self.restart();
        Ok(NewEvent::info(
            "UpgradeRequested",
            format!("upgrade to generation {} requested", self.generation),
        ))
    }

    /// Goes back to the configuration before the last upgrade (which then
    /// becomes the one to roll back to). Refused while deleting and when
    /// there has been no upgrade.
    pub fn rollback(&mut self) -> Result<NewEvent> {
        self.refuse_deleting()?;
        let Some(previous) = self.previous_config.take() else {
            return Err(Error::FailedPrecondition {
                kind: "NO_PREVIOUS_REVISION",
                subject: format!("stores/{}", self.id),
                description: format!(
                    "store {} has not been upgraded; nothing to roll back to",
                    self.name
                ),
            });
        };
        self.previous_config = Some(std::mem::replace(&mut self.config, previous));
        self.restart();
        Ok(NewEvent::info(
            "RollbackRequested",
            format!(
                "rollback to the previous configuration as generation {}",
                self.generation
            ),
        ))
    }

    /// The owner pauses the store: a new generation the engine applies by
    /// suspending it. `None` when it is already to be paused. Refused while
    /// deleting, and for a Failed store (retry or delete it first: pausing
    /// a store that never came up would hide why).
    pub fn suspend(&mut self) -> Result<Option<NewEvent>> {
        self.refuse_deleting()?;
        if self.phase == Phase::Failed {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!(
                    "store {} is Failed; retry or delete it instead of suspending it",
                    self.name
                ),
            });
        }
        if self.suspended {
            return Ok(None);
        }
        // A paused store's operation would never be run again (a Suspended
        // store has no work): let the backup or restore end first.
        self.refuse_operation_in_flight()?;
        self.suspended = true;
        self.restart();
        Ok(Some(NewEvent::info(
            "SuspendRequested",
            format!(
                "suspend requested as generation {}: workloads stop, data is kept",
                self.generation
            ),
        )))
    }

    /// The owner brings a paused store back. `None` when it is not to be
    /// paused. Refused while deleting.
    pub fn resume(&mut self) -> Result<Option<NewEvent>> {
        self.refuse_deleting()?;
        if !self.suspended {
            return Ok(None);
        }
        self.suspended = false;
        self.restart();
        Ok(Some(NewEvent::info(
            "ResumeRequested",
            format!("resume requested as generation {}", self.generation),
        )))
    }

    /// Whether the engine paused the store and has not brought it back
    /// since: the next run resumes it rather than provisioning it.
    pub fn was_suspended(&self) -> bool {
        self.condition(conditions::SUSPENDED)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// New custom domains (already validated, and unique on the platform
    /// by the repository's check): a new generation the engine applies.
    /// `None` when they are unchanged. Refused while deleting.
    pub fn set_custom_domains(&mut self, domains: Vec<String>) -> Result<Option<NewEvent>> {
        self.refuse_deleting()?;
        if self.custom_domains == domains {
            return Ok(None);
        }
        let message = if domains.is_empty() {
            "custom domains removed".to_owned()
        } else {
            format!("custom domains set to {}", domains.join(", "))
        };
        self.custom_domains = domains;
        self.restart();
        Ok(Some(NewEvent::info("CustomDomainsChanged", message)))
    }

    /// The engine reports the store paused: the current generation is
    /// observed and the store waits in Suspended until resumed.
    pub fn mark_suspended(
        &mut self,
        message: &str,
        duration_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<NewEvent> {
        self.refuse_unless_provisioning("mark suspended")?;
        if !self.suspended {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!("store {} is not to be suspended", self.name),
            });
        }
        self.phase = Phase::Suspended;
        self.observed_generation = self.generation;
        self.provisioning_since = None;
        self.attempts = 0;
        self.failure = None;
        self.set_condition(
            conditions::READY,
            ConditionStatus::False,
            "Suspended",
            message,
            now,
        );
        self.set_condition(
            conditions::SUSPENDED,
            ConditionStatus::True,
            "Suspended",
            message,
            now,
        );
        Ok(NewEvent {
            reason: "Suspended".into(),
            message: format!("the store is paused: {message}"),
            outcome: Outcome::Succeeded,
            duration_ms,
        })
    }

    /// Starts the provisioning clock of the current generation, which the
    /// overall timeout counts from. `None` when it already runs.
    pub fn begin_provisioning(&mut self, now: DateTime<Utc>) -> Result<Option<NewEvent>> {
        self.refuse_unless_provisioning("begin provisioning")?;
        if self.provisioning_since.is_some() {
            return Ok(None);
        }
        self.provisioning_since = Some(now);
        Ok(Some(NewEvent::info(
            "ProvisioningStarted",
            format!("provisioning generation {}", self.generation),
        )))
    }

    /// How long the current provisioning has run at `now` (zero before it
    /// began).
    pub fn provisioning_elapsed(&self, now: DateTime<Utc>) -> Duration {
        self.provisioning_since
            .map(|since| (now - since).to_std().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Whether the current provisioning has run longer than `timeout`.
    pub fn provisioning_timed_out(&self, now: DateTime<Utc>, timeout: Duration) -> bool {
        self.provisioning_elapsed(now) > timeout
    }

    /// The engine reports the store ready: the current generation is
    /// observed, the failure history is cleared and the addresses are
    /// known. `duration_ms` is how long the provisioning took.
    pub fn mark_ready(
        &mut self,
        readiness: Readiness,
        duration_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<NewEvent> {
        self.refuse_unless_provisioning("mark ready")?;
        if self.suspended {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!("store {} is to be suspended, not ready", self.name),
            });
        }
        self.phase = Phase::Ready;
        self.observed_generation = self.generation;
        self.provisioning_since = None;
        self.attempts = 0;
        self.failure = None;
        self.urls = Urls {
            storefront: readiness.storefront_url,
            admin: readiness.admin_url,
        };
        self.credentials_secret = readiness.credentials_secret;
        self.set_condition(
            conditions::READY,
            ConditionStatus::True,
            "Ready",
            &readiness.message,
            now,
        );
        if self.was_suspended() {
            self.set_condition(
                conditions::SUSPENDED,
                ConditionStatus::False,
                "Resumed",
                "the store runs again",
                now,
            );
        }
        Ok(NewEvent {
            reason: "Ready".into(),
            message: format!("the store is ready: {}", self.urls.storefront),
            outcome: Outcome::Succeeded,
            duration_ms,
        })
    }

    /// Provisioning gave up: the store waits in Failed, with the reason,
    /// for a retry, an upgrade or a rollback.
    pub fn mark_failed(&mut self, failure: Failure, now: DateTime<Utc>) -> Result<NewEvent> {
        self.refuse_unless_provisioning("mark failed")?;
        self.phase = Phase::Failed;
        self.observed_generation = self.generation;
        self.provisioning_since = None;
        self.set_condition(
            conditions::READY,
            ConditionStatus::False,
            &failure.reason,
            &failure.message,
            now,
        );
        let event = NewEvent {
            reason: "Failed".into(),
            message: format!("{}: {}", failure.reason, failure.message),
            outcome: Outcome::Failed,
            duration_ms: 0,
        };
        self.failure = Some(failure);
        Ok(event)
    }

    /// What one more retryable failure in a row means with at most
    /// `max_attempts` of them.
    pub fn next_attempt(&self, max_attempts: i32) -> Attempt {
        let attempt = self.attempts + 1;
        if attempt >= max_attempts {
            Attempt::Exhausted(attempt)
        } else {
            Attempt::Retry(attempt)
        }
    }

    /// Records failure number `attempt` in a row (from
    /// [`Store::next_attempt`]); the backoff before the next try grows
    /// with it.
    pub fn record_attempt(&mut self, attempt: i32, event: NewEvent) -> Result<NewEvent> {
        self.refuse_unless_provisioning("record an attempt")?;
        self.attempts = attempt;
        Ok(event)
    }

    fn refuse_deleting(&self) -> Result<()> {
        if self.phase == Phase::Deleting {
            return Err(Error::FailedPrecondition {
                kind: "STORE_PHASE",
                subject: format!("stores/{}", self.id),
                description: format!("store {} is being deleted", self.name),
            });
        }
        Ok(())
    }

    /// Provisioning transitions apply to a store provisioning its current
    /// generation: Provisioning, or Ready or Suspended with a generation not
    /// yet observed (an upgrade, a suspend, a resume).
    fn refuse_unless_provisioning(&self, what: &str) -> Result<()> {
        let provisioning = match self.phase {
            Phase::Provisioning => true,
            Phase::Ready | Phase::Suspended => self.generation != self.observed_generation,
            Phase::Failed | Phase::Deleting => false,
        };
        if provisioning {
            return Ok(());
        }
        Err(Error::FailedPrecondition {
            kind: "STORE_PHASE",
            subject: format!("stores/{}", self.id),
            description: format!(
                "cannot {what}: store {} is {} at generation {} (observed {})",
                self.name,
                self.phase.as_str(),
                self.generation,
                self.observed_generation
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn store() -> Store {
        Store::new(
            Uuid::nil(),
            NewStore {
                tenant: TenantId::default_tenant(),
                name: "shop".into(),
                engine: "static-site".into(),
                config: Config::new(),
                custom_domains: Vec::new(),
                from_backup: None,
                backup_schedule: None,
            },
            now(),
        )
    }

    fn config(key: &str) -> Config {
        let mut config = Config::new();
        config.insert(key.into(), serde_json::Value::Bool(true));
        config
    }

    fn ready(store: &mut Store) {
        store
            .mark_ready(Readiness::default(), 0, now())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn failed(store: &mut Store) {
        let failure = Failure {
            reason: "Broken".into(),
            message: "it broke".into(),
        };
        store
            .mark_failed(failure, now())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn refused_kind(result: Result<impl std::fmt::Debug>) -> &'static str {
        match result {
            Err(Error::FailedPrecondition { kind, .. }) => kind,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_new_store_provisions_its_first_generation() {
        let s = store();
        assert_eq!(
            (s.phase, s.generation, s.observed_generation),
            (Phase::Provisioning, 1, 0)
        );
        assert!(s.needs_reconcile());
        assert_eq!(s.created_event().reason, "Created");
    }

    #[test]
    fn the_reconciler_has_work_exactly_for_unfinished_generations() {
        for phase in Phase::ALL {
            for (generation, observed) in [(2, 2), (2, 1)] {
                for operation in [false, true] {
                    let expected = match phase {
                        Phase::Provisioning | Phase::Deleting => true,
                        // A backup or restore runs on a Ready store.
                        Phase::Ready => generation != observed || operation,
                        Phase::Suspended => generation != observed,
                        Phase::Failed => false,
                    };
                    assert_eq!(
                        needs_reconcile(phase, generation, observed, operation),
                        expected,
                        "{phase:?} {generation}/{observed} {operation}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_ready_store_runs_one_backup_or_restore_at_a_time() {
        let mut s = store();
        let id = Uuid::now_v7();
        // Not before it is Ready.
        assert_eq!(
            refused_kind(s.start_backup(id, BackupTrigger::Manual, None, now())),
            "STORE_PHASE"
        );
        ready(&mut s);
        let generation = s.generation;
        let event = s
            .start_backup(id, BackupTrigger::Manual, None, now())
            .expect("a Ready store backs up");
        assert_eq!(event.reason, "BackupRequested");
        assert_eq!(s.generation, generation, "a backup is no new desired state");
        assert!(s.needs_reconcile());
        let op = s.operation.clone().expect("in flight");
        let backup = s.pending_backup(&op);
        assert_eq!(
            (backup.id, backup.phase, backup.store_id),
            (id, BackupPhase::Pending, s.id)
        );
        assert_eq!(
            refused_kind(s.start_backup(Uuid::now_v7(), BackupTrigger::Manual, None, now())),
            "OPERATION_IN_PROGRESS"
        );
        // Paused, it would never run again.
        assert_eq!(refused_kind(s.suspend()), "OPERATION_IN_PROGRESS");
        assert!(!s.suspended);
        let mut pausing = s.clone();
        pausing.operation = None;
        assert!(pausing.suspend().is_ok());
        assert_eq!(
            refused_kind(pausing.start_backup(Uuid::now_v7(), BackupTrigger::Manual, None, now())),
            "STORE_PHASE"
        );
        let done = OperationOutcome {
            succeeded: true,
            size_bytes: Some(42),
            sha256: Some("0".repeat(64)),
            message: "stored".into(),
            reason: None,
            duration_ms: 5,
        };
        assert_eq!(
            s.finish_operation(&done).map(|e| e.reason).ok().as_deref(),
            Some("BackupSucceeded")
        );
        assert!(!s.needs_reconcile());

        // A restore needs a Succeeded backup of the store's engine.
        let mut other = backup.clone();
        other.phase = BackupPhase::Succeeded;
        other.engine = "medusa".into();
        assert_eq!(
            refused_kind(s.start_restore(&other, now())),
            "BACKUP_ENGINE"
        );
        let mut failed = backup.clone();
        failed.phase = BackupPhase::Failed;
        assert_eq!(
            refused_kind(s.start_restore(&failed, now())),
            "BACKUP_PHASE"
        );
        let mut good = backup;
        good.phase = BackupPhase::Succeeded;
        assert_eq!(
            s.start_restore(&good, now())
                .map(|e| e.reason)
                .ok()
                .as_deref(),
            Some("RestoreRequested")
        );
        assert_eq!(
            s.finish_operation(&OperationOutcome {
                succeeded: false,
                ..done
            })
            .map(|e| e.reason)
            .ok()
            .as_deref(),
            Some("RestoreFailed")
        );
        assert_eq!(refused_kind(s.finish_operation(&done_again())), "OPERATION");
    }

    fn done_again() -> OperationOutcome {
        OperationOutcome {
            succeeded: true,
            size_bytes: None,
            sha256: None,
            message: String::new(),
            reason: None,
            duration_ms: 0,
        }
    }

    #[test]
    fn a_clone_starts_with_the_restore_of_its_backup() {
        let backup = Uuid::now_v7();
        let s = Store::new(
            Uuid::now_v7(),
            NewStore {
                tenant: crate::TenantId::default_tenant(),
                name: "staging".into(),
                engine: "e".into(),
                config: Config::new(),
                custom_domains: Vec::new(),
                from_backup: Some(backup),
                backup_schedule: None,
            },
            now(),
        );
        assert_eq!(s.cloned_from, Some(backup));
        let op = s.operation.clone().expect("a restore");
        assert_eq!((op.kind, op.backup), (OperationKind::Restore, backup));
        assert!(s.created_event().message.contains(&backup.to_string()));
    }

    #[test]
    fn a_schedule_is_five_cron_fields_and_a_bounded_retention() {
        let daily = BackupSchedule::parse("0 3 * * *", 0, "schedule")
            .expect("valid")
            .expect("some");
        assert_eq!(daily.retention, crate::backup::DEFAULT_RETENTION);
        let after = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| now());
        assert_eq!(
            daily.next_after(after).map(|t| t.to_rfc3339()),
            Some("2026-12-07T03:00:00+00:00".into())
        );
        assert!(matches!(BackupSchedule::parse("", 5, "schedule"), Ok(None)));
        for (cron, retention, field) in [
            ("0 3 * *", 1, "schedule.cron"),
            ("0 3 * * * *", 1, "schedule.cron"),
            ("61 3 * * *", 1, "schedule.cron"),
            ("0 3 * * *", 101, "schedule.retention"),
            ("0 3 * * *", -1, "schedule.retention"),
        ] {
            match BackupSchedule::parse(cron, retention, "schedule") {
                Err(Error::InvalidArgument(v)) => assert_eq!(v[0].field, field, "{cron}"),
                other => panic!("{cron} {retention}: {other:?}"),
            }
        }
    }

    #[test]
    fn provisioning_starts_its_clock_once_and_times_out_after_the_limit() {
        let mut s = store();
        let event = s.begin_provisioning(now()).unwrap_or_default();
        assert_eq!(event.map(|e| e.reason), Some("ProvisioningStarted".into()));
        let later = now() + chrono::Duration::seconds(30);
        assert_eq!(s.begin_provisioning(later).ok(), Some(None));
        assert_eq!(s.provisioning_since, Some(now()));
        assert_eq!(s.provisioning_elapsed(later), Duration::from_secs(30));
        assert!(!s.provisioning_timed_out(later, Duration::from_secs(30)));
        assert!(s.provisioning_timed_out(later, Duration::from_secs(29)));
    }

    #[test]
    fn ready_observes_the_generation_and_clears_the_failure_history() {
        let mut s = store();
        s.begin_provisioning(now()).ok();
        s.attempts = 3;
        let event = s
            .mark_ready(
                Readiness {
                    storefront_url: "http://shop.localhost".into(),
                    admin_url: "http://shop.localhost/admin".into(),
                    credentials_secret: Some("admin".into()),
                    message: "up".into(),
                },
                1200,
                now(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.message, "the store is ready: http://shop.localhost");
        assert_eq!(event.duration_ms, 1200);
        assert_eq!(s.phase, Phase::Ready);
        assert_eq!(s.observed_generation, s.generation);
        assert_eq!((s.attempts, s.provisioning_since), (0, None));
        assert_eq!(s.credentials_secret.as_deref(), Some("admin"));
        assert!(s.is_done(conditions::READY));
        assert!(!s.needs_reconcile());
    }

    #[test]
    fn a_failure_is_final_until_a_person_acts() {
        let mut s = store();
        failed(&mut s);
        assert_eq!(s.phase, Phase::Failed);
        assert_eq!(
            s.failure.as_ref().map(|f| f.reason.as_str()),
            Some("Broken")
        );
        assert!(!s.needs_reconcile());
        assert_eq!(
            s.condition(conditions::READY).map(|c| c.reason.as_str()),
            Some("Broken")
        );
    }

    #[test]
    fn attempts_are_exhausted_at_the_limit() {
        let mut s = store();
        assert_eq!(s.next_attempt(3), Attempt::Retry(1));
        s.record_attempt(1, NewEvent::info("r", "r")).ok();
        s.record_attempt(2, NewEvent::info("r", "r")).ok();
        assert_eq!(s.attempts, 2);
        assert_eq!(s.next_attempt(3), Attempt::Exhausted(3));
    }

    #[test]
    fn only_failed_stores_are_retried_and_a_retry_starts_over() {
        let mut s = store();
        assert_eq!(refused_kind(s.retry()), "STORE_PHASE");
        s.record_attempt(5, NewEvent::info("r", "r")).ok();
        failed(&mut s);
        let event = s.retry().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            event.message,
            "retry requested (last failure: Broken: it broke)"
        );
        assert_eq!(
            (s.phase, s.generation, s.attempts),
            (Phase::Provisioning, 2, 0)
        );
        assert!(s.failure.is_none() && s.provisioning_since.is_none());
        ready(&mut s);
        assert_eq!(refused_kind(s.retry()), "STORE_PHASE");
    }

    #[test]
    fn an_upgrade_is_a_new_generation_and_remembers_the_old_config() {
        let mut s = store();
        ready(&mut s);
        s.upgrade(Some(config("new")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.phase, s.generation), (Phase::Ready, 2));
        assert!(s.needs_reconcile(), "an upgrade of a Ready store is work");
        assert_eq!(s.previous_config, Some(Config::new()));
        assert_eq!(s.config, config("new"));
        // A failed store provisions again on an upgrade.
        failed(&mut s);
        s.upgrade(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.phase, Phase::Provisioning);
    }

    #[test]
    fn a_rollback_swaps_back_and_needs_an_upgrade_first() {
        let mut s = store();
        assert_eq!(refused_kind(s.rollback()), "NO_PREVIOUS_REVISION");
        s.upgrade(Some(config("new"))).ok();
        s.rollback().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.config, Config::new());
        assert_eq!(s.previous_config, Some(config("new")));
        assert_eq!(s.generation, 3);
    }

    #[test]
    fn a_store_being_deleted_refuses_every_other_transition() {
        let mut s = store();
        assert!(s.request_deletion().is_some());
        assert_eq!(s.request_deletion(), None, "asking twice changes nothing");
        assert_eq!((s.phase, s.generation), (Phase::Deleting, 2));
        assert!(s.needs_reconcile());
        assert_eq!(refused_kind(s.upgrade(None)), "STORE_PHASE");
        assert_eq!(refused_kind(s.rollback()), "STORE_PHASE");
        assert_eq!(refused_kind(s.retry()), "STORE_PHASE");
        assert_eq!(refused_kind(s.begin_provisioning(now())), "STORE_PHASE");
        assert_eq!(
            refused_kind(s.mark_ready(Readiness::default(), 0, now())),
            "STORE_PHASE"
        );
        let failure = Failure {
            reason: "x".into(),
            message: "y".into(),
        };
        assert_eq!(refused_kind(s.mark_failed(failure, now())), "STORE_PHASE");
        assert_eq!(
            refused_kind(s.record_attempt(1, NewEvent::info("r", "r"))),
            "STORE_PHASE"
        );
        assert_eq!(
            s.phase,
            Phase::Deleting,
            "a refused transition changes nothing"
        );
    }

    #[test]
    fn a_ready_or_failed_store_is_not_provisioned_behind_its_owners_back() {
        let mut s = store();
        ready(&mut s);
        assert_eq!(refused_kind(s.begin_provisioning(now())), "STORE_PHASE");
        let mut f = store();
        failed(&mut f);
        assert_eq!(
            refused_kind(f.mark_ready(Readiness::default(), 0, now())),
            "STORE_PHASE"
        );
    }

    #[test]
    fn only_starting_to_provision_takes_a_slot() {
        use Phase::*;
        assert!(claims_provisioning_slot(Failed, Provisioning));
        assert!(!claims_provisioning_slot(Provisioning, Provisioning));
        assert!(
            !claims_provisioning_slot(Ready, Ready),
            "an upgrade of a Ready store"
        );
        assert!(!claims_provisioning_slot(Ready, Deleting));
    }

    #[test]
    fn an_etag_guards_against_lost_updates() {
        let s = store();
        assert!(s.check_etag("").is_ok());
        assert!(s.check_etag(&s.etag()).is_ok());
        assert!(matches!(s.check_etag("\"7\""), Err(Error::Aborted(_))));
    }

    #[test]
    fn a_ready_store_is_suspended_and_resumed_through_new_generations() {
        let mut s = store();
        ready(&mut s);
        let ready_generation = s.generation;
        assert!(s.suspend().unwrap_or_else(|e| panic!("{e}")).is_some());
        assert!(s.suspended);
        assert_eq!(s.phase, Phase::Ready, "serving until the engine paused it");
        assert_eq!(s.generation, ready_generation + 1);
        assert!(s.needs_reconcile());
        // Asking twice changes nothing.
        assert!(s.suspend().unwrap_or_else(|e| panic!("{e}")).is_none());
        assert_eq!(s.generation, ready_generation + 1);
        // The engine paused it; ready is refused while it is to be paused.
        assert_eq!(
            refused_kind(s.clone().mark_ready(Readiness::default(), 0, now())),
            "STORE_PHASE"
        );
        let event = s
            .mark_suspended("no workload runs", 5, now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.reason, "Suspended");
        assert_eq!(s.phase, Phase::Suspended);
        assert_eq!(s.observed_generation, s.generation);
        assert!(!s.needs_reconcile(), "a paused store has no work");
        assert!(s.was_suspended());
        assert!(!s.is_done(conditions::READY));

        assert!(s.resume().unwrap_or_else(|e| panic!("{e}")).is_some());
        assert!(!s.suspended);
        assert_eq!(
            s.phase,
            Phase::Suspended,
            "paused until the engine says ready"
        );
        assert!(s.needs_reconcile());
        assert!(
            s.was_suspended(),
            "the next run resumes rather than provisions"
        );
        assert!(s.resume().unwrap_or_else(|e| panic!("{e}")).is_none());
        // Suspended is refused once the store is no longer to be paused.
        assert_eq!(
            refused_kind(s.clone().mark_suspended("x", 0, now())),
            "STORE_PHASE"
        );
        ready(&mut s);
        assert_eq!(s.phase, Phase::Ready);
        assert!(!s.was_suspended());
    }

    #[test]
    fn failed_and_deleting_stores_are_not_suspended() {
        let mut s = store();
        failed(&mut s);
        assert_eq!(refused_kind(s.suspend()), "STORE_PHASE");
        let mut s = store();
        ready(&mut s);
        s.request_deletion();
        assert_eq!(refused_kind(s.suspend()), "STORE_PHASE");
        assert_eq!(refused_kind(s.resume()), "STORE_PHASE");
        assert_eq!(
            refused_kind(s.set_custom_domains(vec!["a.example.org".into()])),
            "STORE_PHASE"
        );
    }

    #[test]
    fn new_custom_domains_are_a_new_generation_and_the_same_ones_are_none() {
        let mut s = store();
        ready(&mut s);
        let generation = s.generation;
        let domains = vec!["shop.example.org".to_owned()];
        let event = s
            .set_custom_domains(domains.clone())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no event"));
        assert_eq!(event.message, "custom domains set to shop.example.org");
        assert_eq!(s.generation, generation + 1);
        assert!(
            s.set_custom_domains(domains)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
        assert_eq!(s.generation, generation + 1);
        let event = s
            .set_custom_domains(Vec::new())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no event"));
        assert_eq!(event.message, "custom domains removed");
    }
}
