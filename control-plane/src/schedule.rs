//! Scheduled backups: one task per replica keeps every store's schedule in
//! memory (read once at start, then kept current from the change hub, the
//! same feed watchers get), sleeps until the earliest slot is due, and asks
//! for that store's backup. No timer per store and no polling: it wakes at
//! a slot or when a schedule changes.
//!
//! Replicas all run it; a slot is one backup whoever fires it (the backup
//! row's `slot` is unique, and a store runs one operation at a time). A slot
//! missed while no replica ran (or while the store was busy or not Ready)
//! is taken once, at the next wake, not once per missed slot.
//!
//! Retention: when a store's scheduled backup ends, its scheduled backups
//! beyond the newest `retention` are deleted (manual and pre-upgrade
//! backups never are).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::domain::{
    Error, StoreRef,
    backup::{BackupPhase, BackupSchedule, BackupTrigger, OperationKind},
    ports::BackupFilter,
    service::StoreService,
    tenancy::Scope,
};
use crate::watch::{ChangeHub, HubMessage};

/// A store's schedule and where it stands.
struct Entry {
    schedule: BackupSchedule,
    /// The slot to fire next.
    next: Option<DateTime<Utc>>,
    /// Whether the store is taking a scheduled backup (its end prunes).
    taking: bool,
}

/// Runs the scheduler until `cancel`.
pub fn spawn(service: StoreService, hub: &ChangeHub, cancel: CancellationToken) {
    let mut changes = hub.subscribe();
    tokio::spawn(async move {
        let mut entries = match load(&service).await {
            Ok(entries) => entries,
            Err(err) => {
                warn!(error = %err, "cannot read backup schedules; scheduled backups wait for the next change");
                HashMap::new()
            }
        };
        loop {
            let now = Utc::now();
            fire_due(&service, &mut entries, now).await;
            let wake = entries.values().filter_map(|e| e.next).min();
            let sleep = wake
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(std::time::Duration::from_secs(24 * 60 * 60));
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(sleep) => {}
                message = changes.recv() => match message {
                    Ok(HubMessage::Change(change)) => {
                        let store = &change.store;
                        let deleted = change.change_type == crate::domain::ChangeType::Deleted;
                        let ended = observe(&mut entries, store, deleted);
                        if ended && let Some(entry) = entries.get(&store.id) {
                            prune(&service, store.id, entry.schedule.retention).await;
                        }
                    }
                    Ok(HubMessage::Gone) | Err(RecvError::Lagged(_)) => {
                        // Missed changes: read every schedule again.
                        if let Ok(fresh) = load(&service).await {
                            entries = fresh;
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

async fn load(service: &StoreService) -> crate::domain::Result<HashMap<Uuid, Entry>> {
    let now = Utc::now();
    Ok(service
        .repository()
        .backup_schedules()
        .await?
        .into_iter()
        .map(|s| {
            let base = s.last.unwrap_or(s.since).min(now);
            let next = s.schedule.next_after(base);
            (
                s.id,
                Entry {
                    schedule: s.schedule,
                    next,
                    taking: false,
                },
            )
        })
        .collect())
}

/// Follows a store's change; true when a scheduled backup of it just ended.
fn observe(
    entries: &mut HashMap<Uuid, Entry>,
    store: &crate::domain::Store,
    deleted: bool,
) -> bool {
    let Some(schedule) = store.backup_schedule.clone().filter(|_| !deleted) else {
        entries.remove(&store.id);
        return false;
    };
    let taking = store.operation.as_ref().is_some_and(|op| {
        op.kind == OperationKind::Backup && op.trigger == BackupTrigger::Scheduled
    });
    match entries.get_mut(&store.id) {
        Some(entry) => {
            if entry.schedule != schedule {
                entry.next = schedule.next_after(Utc::now());
                entry.schedule = schedule;
            }
            let ended = entry.taking && !taking;
            entry.taking = taking;
            ended
        }
        None => {
            entries.insert(
                store.id,
                Entry {
                    next: schedule.next_after(Utc::now()),
                    schedule,
                    taking,
                },
            );
            false
        }
    }
}

async fn fire_due(service: &StoreService, entries: &mut HashMap<Uuid, Entry>, now: DateTime<Utc>) {
    for (id, entry) in entries.iter_mut() {
        let Some(slot) = entry.next.filter(|at| *at <= now) else {
            continue;
        };
        // The next slot after this one, whatever happens to this one: a
        // store that cannot be backed up now is tried at its next slot.
        entry.next = entry.schedule.next_after(slot.max(now));
        let name = format!("{id}@{}", slot.format("%Y-%m-%dT%H:%MZ"));
        match service
            .start_backup(
                &Scope::All,
                &StoreRef::Id(*id),
                BackupTrigger::Scheduled,
                Some(name.clone()),
            )
            .await
        {
            Ok(backup) => {
                info!(store = %id, backup = %backup.id, slot = %name, "scheduled backup started")
            }
            // Another replica took this slot.
            Err(Error::AlreadyExists { .. }) => {
                debug!(store = %id, slot = %name, "slot taken elsewhere")
            }
            Err(err) => {
                warn!(store = %id, slot = %name, error = %err, "scheduled backup skipped; next slot later")
            }
        }
    }
}

/// Deletes the store's scheduled backups beyond the newest `retention`.
async fn prune(service: &StoreService, store: Uuid, retention: u32) {
    let filter = BackupFilter {
        store_id: Some(store),
        triggers: vec![BackupTrigger::Scheduled],
        phases: vec![BackupPhase::Succeeded, BackupPhase::Failed],
        ..BackupFilter::default()
    };
    let backups = match service
        .repository()
        .backups(&Scope::All, &filter, None, u64::from(retention) + 64)
        .await
    {
        Ok(backups) => backups,
        Err(err) => {
            warn!(store = %store, error = %err, "cannot list scheduled backups to prune");
            return;
        }
    };
    for old in backups
        .iter()
        .skip(usize::try_from(retention).unwrap_or(usize::MAX))
    {
        match service
            .delete_backup(&Scope::All, &old.id.to_string())
            .await
        {
            Ok(_) | Err(Error::NotFound { .. }) => {
                info!(store = %store, backup = %old.id, retention, "scheduled backup beyond retention deleted");
            }
            Err(err) => {
                warn!(store = %store, backup = %old.id, error = %err, "cannot prune backup")
            }
        }
    }
}
