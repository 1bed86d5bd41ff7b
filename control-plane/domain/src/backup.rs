//! Backups of a store's data, and the operations (backup, restore) a store
//! runs on them.
//!
//! A backup is its own record: it outlives its store (a deleted store's
//! backups can still be cloned) and is listed newest first. While a backup
//! is taken or restored, the store carries the [`StoreOperation`]; that is
//! what the reconciler works on and what watchers see ("Backing up…").
//! The store's record and the backup's are written in one transaction (a
//! store whose `operation` becomes a backup gets the backup's record with
//! it), so neither can exist without the other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, FieldViolation, Result, TenantId};

/// Where a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackupPhase {
    /// Recorded; its Job is not running yet.
    Pending,
    /// Its Job is taking it.
    Running,
    /// The archive is stored and measured.
    Succeeded,
    /// It could not be taken.
    Failed,
}

impl BackupPhase {
    /// Every phase.
    pub const ALL: [BackupPhase; 4] = [
        BackupPhase::Pending,
        BackupPhase::Running,
        BackupPhase::Succeeded,
        BackupPhase::Failed,
    ];

    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupPhase::Pending => "Pending",
            BackupPhase::Running => "Running",
            BackupPhase::Succeeded => "Succeeded",
            BackupPhase::Failed => "Failed",
        }
    }

    /// Inverse of [`BackupPhase::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the backup is over (succeeded or failed).
    pub fn finished(self) -> bool {
        matches!(self, BackupPhase::Succeeded | BackupPhase::Failed)
    }
}

/// Why a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum BackupTrigger {
    /// Someone asked for it.
    #[default]
    Manual,
    /// The store's schedule; subject to its retention.
    Scheduled,
    /// Taken before the store's engine version moved.
    PreUpgrade,
}

impl BackupTrigger {
    /// Every trigger.
    pub const ALL: [BackupTrigger; 3] = [
        BackupTrigger::Manual,
        BackupTrigger::Scheduled,
        BackupTrigger::PreUpgrade,
    ];

    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupTrigger::Manual => "Manual",
            BackupTrigger::Scheduled => "Scheduled",
            BackupTrigger::PreUpgrade => "PreUpgrade",
        }
    }

    /// Inverse of [`BackupTrigger::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One backup of a store's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// UUIDv7, so id order is creation order.
    pub id: Uuid,
    /// The store it was taken of.
    pub store_id: Uuid,
    /// That store's name (kept once the store is gone).
    pub store_name: String,
    /// Owner (the store's tenant).
    pub tenant: TenantId,
    /// The engine that took it: only its stores can be restored from it.
    pub engine: String,
    /// The engine version that took it.
    pub engine_version: String,
    /// The store's configuration when it was taken (a clone's default).
    pub config: crate::Config,
    /// Where it is.
    pub phase: BackupPhase,
    /// Why it was taken.
    pub trigger: BackupTrigger,
    /// Archive size, once stored.
    pub size_bytes: Option<u64>,
    /// Archive SHA-256 (hex), once stored.
    pub sha256: Option<String>,
    /// Progress or failure detail.
    pub message: String,
    /// CamelCase reason of a failure.
    pub failure_reason: Option<String>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it succeeded or failed.
    pub completed_at: Option<DateTime<Utc>>,
    /// For a scheduled backup, the slot (`<store id>@<time>`) it fills:
    /// unique, so two replicas firing the same schedule take one backup.
    pub slot: Option<String>,
}

impl Backup {
    /// The resource name, `backups/<id>`.
    pub fn resource_name(&self) -> String {
        format!("backups/{}", self.id)
    }

    /// Refuses a restore from this backup into a store of `engine`.
    pub fn check_restorable(&self, engine: &str) -> Result<()> {
        if self.phase != BackupPhase::Succeeded {
            return Err(Error::FailedPrecondition {
                kind: "BACKUP_PHASE",
                subject: self.resource_name(),
                description: format!(
                    "backup {} is {}; only a Succeeded backup can be restored",
                    self.id,
                    self.phase.as_str()
                ),
            });
        }
        if self.engine != engine {
            return Err(Error::FailedPrecondition {
                kind: "BACKUP_ENGINE",
                subject: self.resource_name(),
                description: format!(
                    "backup {} was taken by engine {}; a store of engine {engine} cannot be \
                     restored from it",
                    self.id, self.engine
                ),
            });
        }
        Ok(())
    }
}

/// What a store is doing with a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    /// Taking one.
    Backup,
    /// Restoring one.
    Restore,
}

/// A backup or restore a store runs; at most one at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOperation {
    /// Backup or restore.
    pub kind: OperationKind,
    /// The backup taken or restored.
    pub backup: Uuid,
    /// When it was asked for.
    pub started_at: DateTime<Utc>,
    /// Why (a backup).
    #[serde(default)]
    pub trigger: BackupTrigger,
    /// The schedule slot a scheduled backup fills (see [`Backup::slot`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

/// Scheduled backups of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSchedule {
    /// 5-field cron expression, UTC.
    pub cron: String,
    /// Scheduled backups kept (the oldest beyond are deleted).
    pub retention: u32,
}

/// Scheduled backups kept when the request says 0.
pub const DEFAULT_RETENTION: u32 = 7;
/// Most scheduled backups kept per store.
pub const MAX_RETENTION: u32 = 100;

impl BackupSchedule {
    /// A checked schedule from a request's fields (`field` prefixes the
    /// violations): `None` for an empty cron (no schedule).
    ///
    /// # Errors
    ///
    /// `InvalidArgument` naming `<field>.cron` or `<field>.retention`.
    pub fn parse(cron: &str, retention: i32, field: &str) -> Result<Option<Self>> {
        let cron = cron.trim();
        if cron.is_empty() {
            return Ok(None);
        }
        let mut violations = Vec::new();
        if let Err(why) = next_run(cron, Utc::now()) {
            violations.push(FieldViolation::new(format!("{field}.cron"), why));
        }
        let retention = match u32::try_from(retention) {
            Ok(0) => DEFAULT_RETENTION,
            Ok(n) if n <= MAX_RETENTION => n,
            _ => {
                violations.push(FieldViolation::new(
                    format!("{field}.retention"),
                    format!("must be between 1 and {MAX_RETENTION} (0 means {DEFAULT_RETENTION})"),
                ));
                0
            }
        };
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        Ok(Some(Self {
            cron: cron.to_owned(),
            retention,
        }))
    }

    /// The first time the schedule fires after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        next_run(&self.cron, after).ok()
    }
}

/// The next time `cron` (5 fields, UTC) fires after `after`, or why it is
/// not a schedule.
fn next_run(cron: &str, after: DateTime<Utc>) -> std::result::Result<DateTime<Utc>, String> {
    if cron.split_whitespace().count() != 5 {
        return Err(format!(
            "{cron:?} is not a 5-field cron expression (minute hour day-of-month month \
             day-of-week, UTC), e.g. \"0 3 * * *\""
        ));
    }
    let pattern: croner::Cron = cron.parse().map_err(|e| format!("{cron:?}: {e}"))?;
    pattern
        .find_next_occurrence(&after, false)
        .map_err(|e| format!("{cron:?} never fires: {e}"))
}

/// How a backup or restore ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOutcome {
    /// Whether it succeeded.
    pub succeeded: bool,
    /// The archive's size (a backup that succeeded).
    pub size_bytes: Option<u64>,
    /// The archive's SHA-256 (a backup that succeeded).
    pub sha256: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// CamelCase reason of a failure.
    pub reason: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}
