//! A store's backups: what its engine can do, the backup or restore it is
//! running (read from `Store.operation`, as the watch reports it), how a
//! backup reads (size in human units, short digest, phase), the schedule's
//! client-side checks, and the card's requests with the server's verdict
//! next to the action it refused.

use std::{collections::BTreeMap, rc::Rc};

use storeplane_proto::v1::{
    Backup, BackupPhase, BackupSchedule, BackupTrigger, CreateStoreRequest, Engine, Store,
    StorePhase, store_operation::Kind,
};
use yew::Reducible;

use crate::time::timestamp_ms;

pub use super::pause::engine_can;

/// `Engine.operations` entry for taking backups.
pub const BACKUP: &str = "backup";
/// `Engine.operations` entry for restoring one (in place, or into a clone).
pub const RESTORE: &str = "restore";
/// Scheduled backups kept when `BackupSchedule.retention` is 0.
pub const DEFAULT_RETENTION: i32 = 7;
/// The most scheduled backups a schedule may keep.
pub const MAX_RETENTION: i32 = 100;
/// Hex digits of a digest or id shown in lists (the full one on hover).
const SHORT_HEX: usize = 12;
/// Characters of a backup id shown where one is named in passing.
const SHORT_ID: usize = 8;

/// The backup or restore a store is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Taking a backup.
    BackingUp,
    /// Replacing the store's data with a backup's (also a clone's first
    /// restore).
    Restoring,
}

impl Operation {
    /// What the page says while it lasts.
    pub fn label(self) -> &'static str {
        match self {
            Self::BackingUp => "Backing up…",
            Self::Restoring => "Restoring…",
        }
    }

    /// A stable name (`data-operation`, for styles and tests).
    pub fn slug(self) -> &'static str {
        match self {
            Self::BackingUp => "backing-up",
            Self::Restoring => "restoring",
        }
    }
}

/// The operation `store` is running, if any.
pub fn operation(store: &Store) -> Option<Operation> {
    match store.operation.as_ref()?.kind() {
        Kind::Backup => Some(Operation::BackingUp),
        Kind::Restore => Some(Operation::Restoring),
        Kind::Unspecified => None,
    }
}

/// Why "Back up now" cannot be pressed for `store`, if it cannot (the
/// server refuses the same; it stays the authority).
pub fn backup_blocked(store: &Store) -> Option<&'static str> {
    if operation(store).is_some() {
        Some("Wait for the running backup or restore to finish.")
    } else if store.phase() != StorePhase::Ready {
        Some("Only a Ready store can be backed up.")
    } else {
        None
    }
}

/// A byte count as a person reads it: `0 B`, `512 B`, `1.5 KiB`,
/// `23.4 MiB`, `118 MiB` (one decimal below 100, none above).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let bytes = bytes.max(0);
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // Rounding may reach the next unit ("1024 KiB" reads as "1.0 MiB").
    if value.round() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// The first hex digits of a SHA-256, enough to compare by eye.
pub fn short_digest(sha256: &str) -> &str {
    sha256.get(..SHORT_HEX).unwrap_or(sha256)
}

/// The first characters of a backup id (`cloned from backup 3f2a9c1e`).
pub fn short_id(id: &str) -> &str {
    id.get(..SHORT_ID).unwrap_or(id)
}

/// A backup's phase as a badge slug and label.
pub fn phase_names(phase: BackupPhase) -> (&'static str, &'static str) {
    match phase {
        BackupPhase::Pending => ("pending", "Pending"),
        BackupPhase::Running => ("running", "Running"),
        BackupPhase::Succeeded => ("succeeded", "Succeeded"),
        BackupPhase::Failed => ("failed", "Failed"),
        BackupPhase::Unspecified => ("unknown", "Unknown"),
    }
}

/// Why a backup was taken, in a word or two.
pub fn trigger_label(trigger: BackupTrigger) -> &'static str {
    match trigger {
        BackupTrigger::Manual => "Manual",
        BackupTrigger::Scheduled => "Scheduled",
        BackupTrigger::PreUpgrade => "Before upgrade",
        BackupTrigger::Unspecified => "—",
    }
}

/// Backups newest first (the server lists them so; an order kept here too
/// so the list reads right whatever answered).
pub fn newest_first(mut backups: Vec<Backup>) -> Vec<Backup> {
    let created = |b: &Backup| timestamp_ms(b.create_time.as_ref()).unwrap_or(0.0);
    backups.sort_by(|a, b| created(b).total_cmp(&created(a)).then(b.id.cmp(&a.id)));
    backups
}

/// Why `cron` is not a 5-field cron expression, if it is not. Only the
/// shape: the server parses it for real.
pub fn cron_error(cron: &str) -> Option<String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "must have 5 fields (minute hour day-of-month month day-of-week), got {}",
            fields.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "*,-/?".contains(c);
    fields
        .iter()
        .find(|f| !f.chars().all(allowed))
        .map(|f| format!("field {f:?} may hold only digits, names, '*', ',', '-' and '/'"))
}

/// The retention typed (empty: the default), or why it is refused.
pub fn parse_retention(text: &str) -> Result<i32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    match text.parse::<i32>() {
        Ok(n) if (1..=MAX_RETENTION).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from 1 to {MAX_RETENTION} (empty keeps {DEFAULT_RETENTION})"
        )),
    }
}

/// A schedule in a sentence: `0 3 * * * (UTC), keeping the last 7`.
pub fn describe_schedule(schedule: &BackupSchedule) -> String {
    let keep = if schedule.retention > 0 {
        schedule.retention
    } else {
        DEFAULT_RETENTION
    };
    format!(
        "{} (UTC), keeping the last {keep} scheduled backup{}",
        schedule.cron.trim(),
        if keep == 1 { "" } else { "s" }
    )
}

/// The store's schedule, if it has one (an empty cron is none).
pub fn schedule_of(store: &Store) -> Option<&BackupSchedule> {
    store
        .backup_schedule
        .as_ref()
        .filter(|s| !s.cron.trim().is_empty())
}

/// Whether a store of `engine` can have backups taken (the card shows).
pub fn engine_backs_up(engine: Option<&Engine>) -> bool {
    engine_can(engine, BACKUP)
}

/// The request that clones `backup` into a new store `name`. Engine and
/// configuration are left empty: the server takes the backup's (those the
/// data was taken with), and none of the source's custom domains (unique
/// on the platform) nor its schedule come along.
pub fn clone_request(backup: &Backup, name: &str, request_id: String) -> CreateStoreRequest {
    CreateStoreRequest {
        name: name.trim().to_owned(),
        request_id,
        from_backup: backup.id.clone(),
        ..CreateStoreRequest::default()
    }
}

/// A request the card makes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Request {
    /// CreateBackup.
    Create,
    /// RestoreStore from this backup.
    Restore(String),
    /// DeleteBackup.
    Delete(String),
    /// SetStoreBackupSchedule (an empty cron removes it).
    Schedule,
}

/// The schedule editor's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleForm {
    /// The cron expression as typed.
    pub cron: String,
    /// The retention as typed (empty: the default).
    pub retention: String,
    /// Save was pressed: the client-side errors show.
    pub attempted: bool,
}

impl ScheduleForm {
    /// The form filled with `schedule`.
    pub fn of(schedule: Option<&BackupSchedule>) -> Self {
        Self {
            cron: schedule.map(|s| s.cron.clone()).unwrap_or_default(),
            retention: schedule
                .filter(|s| s.retention > 0)
                .map(|s| s.retention.to_string())
                .unwrap_or_default(),
            attempted: false,
        }
    }

    /// The client-side problems, by field (`cron`, `retention`).
    pub fn errors(&self) -> BTreeMap<&'static str, String> {
        let mut errors = BTreeMap::new();
        if let Some(why) = cron_error(&self.cron) {
            errors.insert("cron", why);
        }
        if let Err(why) = parse_retention(&self.retention) {
            errors.insert("retention", why);
        }
        errors
    }

    /// The schedule to send, if the fields pass.
    pub fn schedule(&self) -> Option<BackupSchedule> {
        let retention = parse_retention(&self.retention).ok()?;
        cron_error(&self.cron).is_none().then(|| BackupSchedule {
            cron: self.cron.split_whitespace().collect::<Vec<_>>().join(" "),
            retention,
        })
    }
}

/// The card's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackupsCard {
    /// The request in flight.
    pub in_flight: Option<Request>,
    /// A Create or Restore the server took for the store at this etag:
    /// shown as under way until the watch reports the store changed.
    pub accepted: Option<(Request, String)>,
    /// The server's refusal, by the request it refused.
    pub errors: BTreeMap<Request, String>,
    /// The schedule editor, while open.
    pub editing: Option<ScheduleForm>,
    /// Bumped after a change the watched store does not reflect (a
    /// deleted backup): the list is fetched again.
    pub revision: u32,
}

/// Changes to the card.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupsAction {
    /// A request went out.
    Send(Request),
    /// The server took it; `etag` is the store's as it was shown.
    Accepted {
        /// The store's etag when the request was made.
        etag: String,
    },
    /// The server refused it (its words), or could not be reached.
    Failed(String),
    /// Opens the schedule editor with the store's schedule.
    Edit(Option<BackupSchedule>),
    /// The editor's cron changed.
    SetCron(String),
    /// The editor's retention changed.
    SetRetention(String),
    /// Save pressed with client-side errors.
    Attempted,
    /// Closes the editor.
    CancelEdit,
}

impl BackupsCard {
    /// The operation to show for `store`: its own, else one the server
    /// just took and the watch has not reported yet.
    pub fn under_way(&self, store: &Store) -> Option<Operation> {
        operation(store).or_else(|| match &self.accepted {
            Some((Request::Create, etag)) if *etag == store.etag => Some(Operation::BackingUp),
            Some((Request::Restore(_), etag)) if *etag == store.etag => Some(Operation::Restoring),
            _ => None,
        })
    }

    /// The server's word about `request`, if it refused it.
    pub fn error(&self, request: &Request) -> Option<&str> {
        self.errors.get(request).map(String::as_str)
    }
}

impl Reducible for BackupsCard {
    type Action = BackupsAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            // One request at a time: what the card shows is what was sent.
            BackupsAction::Send(_) if self.in_flight.is_some() => return self,
            BackupsAction::Send(request) => {
                next.errors.remove(&request);
                next.in_flight = Some(request);
            }
            BackupsAction::Accepted { etag } => match next.in_flight.take() {
                Some(request @ (Request::Create | Request::Restore(_))) => {
                    next.accepted = Some((request, etag));
                }
                Some(Request::Delete(_)) => next.revision += 1,
                Some(Request::Schedule) => next.editing = None,
                None => return self,
            },
            BackupsAction::Failed(message) => {
                let Some(request) = next.in_flight.take() else {
                    return self;
                };
                next.errors.insert(request, message);
            }
            BackupsAction::Edit(schedule) => {
                next.errors.remove(&Request::Schedule);
                next.editing = Some(ScheduleForm::of(schedule.as_ref()));
            }
            BackupsAction::SetCron(_) | BackupsAction::SetRetention(_)
                if self.in_flight == Some(Request::Schedule) =>
            {
                return self;
            }
            BackupsAction::SetCron(cron) => {
                if let Some(form) = next.editing.as_mut() {
                    form.cron = cron;
                    form.attempted = false;
                }
                next.errors.remove(&Request::Schedule);
            }
            BackupsAction::SetRetention(retention) => {
                if let Some(form) = next.editing.as_mut() {
                    form.retention = retention;
                    form.attempted = false;
                }
                next.errors.remove(&Request::Schedule);
            }
            BackupsAction::Attempted => {
                if let Some(form) = next.editing.as_mut() {
                    form.attempted = true;
                }
            }
            BackupsAction::CancelEdit => {
                next.editing = None;
                next.errors.remove(&Request::Schedule);
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests;
