//! A store's backup or restore, one step per run: the platform gives the
//! engine's Job a URL to move the archive (a Secret in the store's
//! namespace), asks the engine to start or report on its Job, and ends the
//! operation when the engine says the Job is over. Runs are woken by the
//! Job's watch events (Jobs are among the watched workloads); the timer is
//! only the resync.
//!
//! A backup succeeds only when the archive reached the backup storage: its
//! size and SHA-256 are what the platform measured, and a plugin that
//! reports a different checksum fails it. A restore starts only when the
//! backup's archive is still stored.

use std::time::Instant;

use serde_json::json;
use storeplane_plugin_host::{Archive, CallError, JobPhase, JobReport};
use tracing::{info, warn};
use uuid::Uuid;

use super::steps::{Halt, ms, store_context};
use super::{Context, Next, namespace};
use crate::archives::Direction;
use crate::domain::{
    Store,
    backup::{OperationKind, OperationOutcome, StoreOperation},
};

/// Annotation telling which way the Secret's URL moves the archive (the
/// simulated cluster plays the transfer by it).
pub const TRANSFER_ANNOTATION: &str = "storeplane.dev/archive-transfer";
/// Annotation naming the engine whose archive it is.
pub const ENGINE_ANNOTATION: &str = "storeplane.dev/archive-engine";
/// Label naming the backup a Secret is for.
pub const ARCHIVE_LABEL: &str = "storeplane.dev/archive";

/// Where an operation stands after a run.
pub(super) enum Step {
    /// Its Job runs: come back then.
    Running(Next),
    /// It ended.
    Finished {
        /// The store as written.
        store: Box<Store>,
        /// Whether it succeeded.
        succeeded: bool,
        /// What happened.
        message: String,
    },
}

/// The Secret holding the archive URL of `backup` in a store's namespace.
pub fn secret_name(backup: Uuid) -> String {
    format!("storeplane-archive-{backup}")
}

/// Runs one step of the store's operation.
pub(super) async fn step(
    ctx: &Context,
    store: &Store,
    operation: &StoreOperation,
) -> Result<Step, Halt> {
    let step = Instant::now();
    let outcome = match run(ctx, store, operation).await? {
        Ok(next) => return Ok(Step::Running(next)),
        Err(outcome) => outcome,
    };
    let secret = secret_name(operation.backup);
    if let Err(err) = ctx
        .kube
        .delete(Some(&store.namespace()), "v1", "Secret", &secret)
        .await
    {
        // It expires anyway; the namespace's deletion takes it at the latest.
        warn!(store = %store.name, secret, error = %err, "cannot delete the archive Secret");
    }
    let outcome = OperationOutcome {
        duration_ms: (chrono::Utc::now() - operation.started_at)
            .num_milliseconds()
            .max(ms(step)),
        ..outcome
    };
    let written = ctx.repo.finish_operation(store.id, &outcome).await?;
    ctx.own_writes.record(written.id, written.resource_version);
    info!(store = %store.name, backup = %operation.backup, kind = ?operation.kind, succeeded = outcome.succeeded, "{}", outcome.message);
    Ok(Step::Finished {
        store: Box::new(written),
        succeeded: outcome.succeeded,
        message: outcome.message,
    })
}

/// `Ok(next)` while the Job runs, `Err(outcome)` once the operation is over.
async fn run(
    ctx: &Context,
    store: &Store,
    operation: &StoreOperation,
) -> Result<Result<Next, OperationOutcome>, Halt> {
    let id = operation.backup;
    let Some(archives) = &ctx.archives else {
        return Ok(Err(failed(
            "NoBackupStorage",
            "this control plane keeps no backups (it has no backup directory)".into(),
        )));
    };
    let direction = match operation.kind {
        OperationKind::Backup => Direction::Upload,
        OperationKind::Restore => Direction::Download,
    };
    if operation.kind == OperationKind::Restore {
        match archives.stored(id).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Ok(Err(failed(
                    "ArchiveMissing",
                    format!("the archive of backup {id} is not in the backup storage"),
                )));
            }
            Err(err) => return Ok(Ok(storage_unanswered(ctx, store, id, &err))),
        }
    }
    let secret = secret_name(id);
    let namespace = store.namespace();
    if ctx
        .kube
        .get(Some(&namespace), "v1", "Secret", &secret)
        .await
        .map_err(|source| cluster_error("read the archive Secret", source))?
        .is_none()
    {
        let mut object = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret,
                "namespace": namespace,
                "annotations": {
                    TRANSFER_ANNOTATION: direction.as_str(),
                    ENGINE_ANNOTATION: store.engine,
                },
            },
            "type": "Opaque",
            "stringData": { "url": archives.url(id, direction) },
        });
        namespace::owner(ctx, store).label(&mut object);
        object["metadata"]["labels"][ARCHIVE_LABEL] = json!(id.to_string());
        match ctx
            .kube
            .create(
                crate::cluster::PLATFORM_FIELD_MANAGER,
                Some(&namespace),
                &object,
            )
            .await
        {
            Ok(_) => {}
            // Another run created it meanwhile: the same URL's grant.
            Err(err) if err.is_conflict() => {}
            Err(err) => return Err(cluster_error("create the archive Secret", err)),
        }
    }
    let archive = Archive {
        id: id.to_string(),
        secret,
        transfer_image: ctx.platform.transfer_image.clone(),
    };
    let plugin_ctx = store_context(ctx, store);
    let report = match operation.kind {
        OperationKind::Backup => {
            ctx.engines
                .backup(&store.engine, &plugin_ctx, &archive)
                .await
        }
        OperationKind::Restore => {
            ctx.engines
                .restore(&store.engine, &plugin_ctx, &archive)
                .await
        }
    };
    let report = match report {
        Ok(report) => report,
        Err(err) if err.is_retryable() => {
            warn!(store = %store.name, backup = %id, error = %err, "engine call failed; retrying");
            return Ok(Ok(Next::After(
                ctx.backoff.delay(super::ERROR_RETRY_ATTEMPT),
            )));
        }
        Err(err) => return Ok(Err(call_failed(operation.kind, &err))),
    };
    Ok(match report.phase {
        JobPhase::Running => {
            if operation.kind == OperationKind::Backup {
                ctx.repo.backup_running(id, &report.message).await?;
            }
            Ok(Next::After(ctx.platform.resync))
        }
        JobPhase::Failed => Err(failed(
            if report.reason.is_empty() {
                match operation.kind {
                    OperationKind::Backup => "BackupJobFailed",
                    OperationKind::Restore => "RestoreJobFailed",
                }
            } else {
                &report.reason
            },
            report.message,
        )),
        JobPhase::Succeeded => match operation.kind {
            OperationKind::Backup => match archives.stored(id).await {
                Ok(stored) => Err(backed_up(stored, &report, id)),
                Err(err) => Ok(storage_unanswered(ctx, store, id, &err)),
            },
            OperationKind::Restore => Err(OperationOutcome {
                succeeded: true,
                size_bytes: None,
                sha256: None,
                message: format!("backup {id} restored"),
                reason: None,
                duration_ms: 0,
            }),
        },
    })
}

/// The backup storage could not say whether the archive is there (a
/// bucket out of reach): that says nothing about the backup, so ask again.
fn storage_unanswered(
    ctx: &Context,
    store: &Store,
    id: Uuid,
    err: &crate::archives::Error,
) -> Next {
    warn!(store = %store.name, backup = %id, error = %err, "cannot ask the backup storage; retrying");
    Next::After(ctx.backoff.delay(super::ERROR_RETRY_ATTEMPT))
}

/// A backup whose Job reports success: it succeeded if its archive was
/// stored (and matches the checksum the plugin reported, if any).
fn backed_up(
    stored: Option<crate::archives::Stored>,
    report: &JobReport,
    id: Uuid,
) -> OperationOutcome {
    let Some(stored) = stored else {
        return failed(
            "ArchiveMissing",
            format!(
                "the backup Job finished but no archive of backup {id} reached the backup storage"
            ),
        );
    };
    if let Some(sha256) = &report.sha256
        && *sha256 != stored.sha256
    {
        return failed(
            "ChecksumMismatch",
            format!(
                "the engine reports sha256 {sha256}, the stored archive has {}",
                stored.sha256
            ),
        );
    }
    OperationOutcome {
        succeeded: true,
        message: format!(
            "backup {id} stored: {} bytes, sha256 {}",
            stored.size_bytes, stored.sha256
        ),
        size_bytes: Some(stored.size_bytes),
        sha256: Some(stored.sha256),
        reason: None,
        duration_ms: 0,
    }
}

fn cluster_error(doing: &'static str, source: crate::cluster::Error) -> Halt {
    Halt::Failed(super::Error::Cluster { doing, source })
}

fn failed(reason: &str, message: String) -> OperationOutcome {
    OperationOutcome {
        succeeded: false,
        size_bytes: None,
        sha256: None,
        message,
        reason: Some(reason.to_owned()),
        duration_ms: 0,
    }
}

fn call_failed(kind: OperationKind, err: &CallError) -> OperationOutcome {
    let what = match kind {
        OperationKind::Backup => "backup",
        OperationKind::Restore => "restore",
    };
    failed(err.reason(), format!("the engine's {what} failed: {err}"))
}
