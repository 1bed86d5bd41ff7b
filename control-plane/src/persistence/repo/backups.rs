//! The backup half of the repository: backup rows written in the same
//! transaction as the store whose operation they are.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use uuid::Uuid;

use super::{SqlStoreRepository, db, now, parse_id, scoped_backups, to_domain};
use crate::domain::{
    Error, Result, Store, TenantId,
    backup::{Backup, BackupPhase, BackupTrigger, OperationKind, OperationOutcome, StoreOperation},
    ports::{BackupFilter, ScheduledStore},
    tenancy::Scope,
};
use crate::persistence::entities::{backups, stores};

/// What a store write that changed the store's operation from `before`
/// brings along: a new backup operation inserts the backup's row (Pending);
/// a new restore checks, in the same transaction, that its backup is still
/// there and restorable (a concurrent delete loses).
pub(super) async fn sync_operation(
    txn: &super::WriteTxn,
    before: Option<&StoreOperation>,
    store: &Store,
) -> Result<()> {
    let Some(operation) = &store.operation else {
        return Ok(());
    };
    if before == Some(operation) {
        return Ok(());
    }
    match operation.kind {
        OperationKind::Backup => {
            let backup = store.pending_backup(operation);
            backups::Entity::insert(to_row(&backup)?)
                .exec_without_returning(txn)
                .await
                .map_err(|e| match e.sql_err() {
                    Some(SqlErr::UniqueConstraintViolation(_)) => Error::AlreadyExists {
                        resource_type: "backup",
                        name: backup.slot.clone().unwrap_or_else(|| backup.id.to_string()),
                        description: "this scheduled backup has been taken already".into(),
                    },
                    _ => Error::internal("insert backup", e),
                })?;
            Ok(())
        }
        OperationKind::Restore => {
            let backup = find(txn, &Scope::Tenant(store.tenant.clone()), operation.backup).await?;
            backup.check_restorable(&store.engine)
        }
    }
}

/// Marks the unfinished backups of a store whose record goes as Failed.
pub(super) async fn fail_unfinished(txn: &super::WriteTxn, store: Uuid) -> Result<()> {
    backups::Entity::update_many()
        .col_expr(backups::Column::Phase, BackupPhase::Failed.as_str().into())
        .col_expr(backups::Column::FailureReason, Some("StoreDeleted").into())
        .col_expr(
            backups::Column::Message,
            "the store was deleted before the backup finished".into(),
        )
        .col_expr(backups::Column::CompletedAt, Some(now()).into())
        .filter(backups::Column::StoreId.eq(store.to_string()))
        .filter(
            backups::Column::Phase
                .is_in([BackupPhase::Pending.as_str(), BackupPhase::Running.as_str()]),
        )
        .exec(txn)
        .await
        .map_err(db("fail the store's unfinished backups"))?;
    Ok(())
}

async fn find(txn: &impl sea_orm::ConnectionTrait, scope: &Scope, id: Uuid) -> Result<Backup> {
    scoped_backups(backups::Entity::find_by_id(id.to_string()), scope)
        .one(txn)
        .await
        .map_err(db("read backup"))?
        .map(to_backup)
        .transpose()?
        .ok_or_else(|| Error::NotFound {
            resource_type: "backup",
            name: id.to_string(),
        })
}

impl SqlStoreRepository {
    pub(super) async fn finish_operation_in(
        &self,
        id: Uuid,
        outcome: &OperationOutcome,
    ) -> Result<Store> {
        let txn = self.begin_write().await?;
        let row = stores::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(db("read store"))?
            .ok_or_else(|| Error::NotFound {
                resource_type: "store",
                name: id.to_string(),
            })?;
        let mut store = to_domain(row)?;
        let operation = store.operation.clone();
        let event = store.finish_operation(outcome)?;
        if let Some(operation) = operation
            && operation.kind == OperationKind::Backup
        {
            let phase = if outcome.succeeded {
                BackupPhase::Succeeded
            } else {
                BackupPhase::Failed
            };
            backups::Entity::update_many()
                .col_expr(backups::Column::Phase, phase.as_str().into())
                .col_expr(
                    backups::Column::SizeBytes,
                    outcome
                        .size_bytes
                        .and_then(|s| i64::try_from(s).ok())
                        .into(),
                )
                .col_expr(backups::Column::Sha256, outcome.sha256.clone().into())
                .col_expr(backups::Column::Message, outcome.message.clone().into())
                .col_expr(
                    backups::Column::FailureReason,
                    outcome.reason.clone().into(),
                )
                .col_expr(backups::Column::CompletedAt, Some(now()).into())
                .filter(backups::Column::Id.eq(operation.backup.to_string()))
                .exec(&txn)
                .await
                .map_err(db("record the backup's outcome"))?;
        }
        store.resource_version += 1;
        store.updated_at = now();
        self.record_update(&txn, &store, vec![event]).await?;
        self.commit(txn).await?;
        Ok(store)
    }

    pub(super) async fn backup_running_in(&self, id: Uuid, message: &str) -> Result<()> {
        backups::Entity::update_many()
            .col_expr(backups::Column::Phase, BackupPhase::Running.as_str().into())
            .col_expr(backups::Column::Message, message.into())
            .filter(backups::Column::Id.eq(id.to_string()))
            .filter(backups::Column::Phase.eq(BackupPhase::Pending.as_str()))
            .exec(&self.db)
            .await
            .map_err(db("mark backup running"))?;
        Ok(())
    }

    pub(super) async fn backup_in(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        find(&self.db, scope, id).await
    }

    pub(super) async fn backups_in(
        &self,
        scope: &Scope,
        filter: &BackupFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Backup>> {
        let mut query = scoped_backups(backups::Entity::find(), scope);
        if let Some(store) = filter.store_id {
            query = query.filter(backups::Column::StoreId.eq(store.to_string()));
        }
        if let Some(name) = &filter.store_name {
            query = query.filter(backups::Column::StoreName.eq(name.as_str()));
        }
        if !filter.phases.is_empty() {
            query = query
                .filter(backups::Column::Phase.is_in(filter.phases.iter().map(|p| p.as_str())));
        }
        if !filter.triggers.is_empty() {
            query = query
                .filter(backups::Column::Trigger.is_in(filter.triggers.iter().map(|t| t.as_str())));
        }
        if let Some(before) = before {
            query = query.filter(backups::Column::Id.lt(before.to_string()));
        }
        query
            .order_by_desc(backups::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db("list backups"))?
            .into_iter()
            .map(to_backup)
            .collect()
    }

    pub(super) async fn delete_backup_in(&self, scope: &Scope, id: Uuid) -> Result<Backup> {
        let txn = self.begin_write().await?;
        let backup = find(&txn, scope, id).await?;
        if !backup.phase.finished() {
            return Err(Error::FailedPrecondition {
                kind: "BACKUP_PHASE",
                subject: backup.resource_name(),
                description: format!(
                    "backup {id} is still being taken ({}); delete it once it has ended",
                    backup.phase.as_str()
                ),
            });
        }
        // A restore in flight (or a clone waiting to restore) reads it.
        let user = stores::Entity::find()
            .filter(stores::Column::Operation.contains(id.to_string()))
            .one(&txn)
            .await
            .map_err(db("find stores restoring the backup"))?;
        if let Some(user) = user {
            return Err(Error::FailedPrecondition {
                kind: "BACKUP_IN_USE",
                subject: backup.resource_name(),
                description: format!(
                    "backup {id} is being restored into store {}; delete it once that ended",
                    user.name
                ),
            });
        }
        backups::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(db("delete backup"))?;
        txn.commit().await.map_err(db("commit"))?;
        Ok(backup)
    }

    pub(super) async fn backup_schedules_in(&self) -> Result<Vec<ScheduledStore>> {
        let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>)> = stores::Entity::find()
            .select_only()
            .column(stores::Column::Id)
            .column(stores::Column::BackupSchedule)
            .column(stores::Column::UpdatedAt)
            .filter(stores::Column::BackupSchedule.ne(""))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db("list backup schedules"))?;
        // The newest scheduled backup of every store, in one query.
        let last: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = backups::Entity::find()
            .select_only()
            .column(backups::Column::StoreId)
            .column_as(backups::Column::CreatedAt.max(), "last")
            .filter(backups::Column::Trigger.eq(BackupTrigger::Scheduled.as_str()))
            .group_by(backups::Column::StoreId)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db("read the last scheduled backups"))?;
        let last: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> = last
            .into_iter()
            .filter_map(|(id, at)| Some((id, at?)))
            .collect();
        let mut scheduled = Vec::with_capacity(rows.len());
        for (id, schedule, since) in rows {
            scheduled.push(ScheduledStore {
                schedule: serde_json::from_str(&schedule)
                    .map_err(|e| Error::internal("decode backup schedule", e))?,
                last: last.get(&id).copied(),
                id: parse_id(&id)?,
                since,
            });
        }
        Ok(scheduled)
    }
}

fn to_row(backup: &Backup) -> Result<backups::ActiveModel> {
    Ok(backups::ActiveModel {
        id: Set(backup.id.to_string()),
        store_id: Set(backup.store_id.to_string()),
        store_name: Set(backup.store_name.clone()),
        tenant_id: Set(backup.tenant.0.clone()),
        engine: Set(backup.engine.clone()),
        engine_version: Set(backup.engine_version.clone()),
        config: Set(serde_json::to_string(&backup.config)
            .map_err(|e| Error::internal("encode config", e))?),
        phase: Set(backup.phase.as_str().to_owned()),
        trigger: Set(backup.trigger.as_str().to_owned()),
        size_bytes: Set(backup.size_bytes.and_then(|s| i64::try_from(s).ok())),
        sha256: Set(backup.sha256.clone()),
        message: Set(backup.message.clone()),
        failure_reason: Set(backup.failure_reason.clone()),
        created_at: Set(backup.created_at),
        completed_at: Set(backup.completed_at),
        slot: Set(backup.slot.clone()),
    })
}

fn to_backup(row: backups::Model) -> Result<Backup> {
    Ok(Backup {
        id: parse_id(&row.id)?,
        store_id: parse_id(&row.store_id)?,
        store_name: row.store_name,
        tenant: TenantId(row.tenant_id),
        engine: row.engine,
        engine_version: row.engine_version,
        config: serde_json::from_str(&row.config)
            .map_err(|e| Error::internal("decode backup config", e))?,
        phase: BackupPhase::parse(&row.phase).ok_or_else(|| {
            Error::internal(
                "decode backup phase",
                format!("unknown phase {:?}", row.phase),
            )
        })?,
        trigger: BackupTrigger::parse(&row.trigger).unwrap_or_default(),
        size_bytes: row.size_bytes.and_then(|s| u64::try_from(s).ok()),
        sha256: row.sha256,
        message: row.message,
        failure_reason: row.failure_reason,
        created_at: row.created_at,
        completed_at: row.completed_at,
        slot: row.slot,
    })
}
