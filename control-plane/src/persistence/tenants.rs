//! [`TenantRepository`] and [`AuditLog`] over sea-orm.

use async_trait::async_trait;
use chrono::SubsecRound;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};

use super::availability::{Availability, classify};
use super::entities::{audit_log, tenants, tokens};
use super::repo::{CHANGE_LOG_LOCK, now};
use crate::domain::{
    Error, Result, TenantId,
    ports::{AuditEntry, AuditLog, AuditRecord, TenantRepository},
    tenancy::{Quota, Role, Scope, Tenant, Token},
};

/// sea-orm implementation of tenants, tokens and the audit log.
pub struct SqlTenantRepository {
    db: DatabaseConnection,
    /// Where token lookups (one per call) read; `db` unless set.
    reader: DatabaseConnection,
    availability: Option<Availability>,
}

/// Audit entries deleted per statement when pruning, so the writer is never
/// held for long.
const PRUNE_BATCH: u64 = 1000;

impl SqlTenantRepository {
    /// Tenants over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            reader: db.clone(),
            db,
            availability: None,
        }
    }

    /// Looks tokens up on `reader` (read-only connections beside the writer).
    pub fn with_reader(mut self, reader: DatabaseConnection) -> Self {
        self.reader = reader;
        self
    }

    /// Reports database outages to `availability`.
    pub fn with_availability(mut self, availability: Availability) -> Self {
        self.availability = Some(availability);
        self
    }

    /// A query error as a domain error: `Unavailable` when the database did
    /// not answer (and reported), else internal.
    fn db(&self, context: &'static str) -> impl FnOnce(sea_orm::DbErr) -> Error + '_ {
        move |e| {
            let err = Error::internal(context, e);
            match &self.availability {
                Some(availability) => availability.check(err),
                None => classify(err),
            }
        }
    }

    /// Deletes audit entries older than `cutoff`, [`PRUNE_BATCH`] at a time,
    /// and returns how many went. Batches keep each write short: the API's
    /// and the reconciler's writes interleave with a long purge.
    pub async fn prune_audit_log(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let ids: Vec<i64> = audit_log::Entity::find()
                .select_only()
                .column(audit_log::Column::Id)
                .filter(audit_log::Column::CreatedAt.lt(cutoff))
                .order_by_asc(audit_log::Column::Id)
                .limit(PRUNE_BATCH)
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(self.db("find expired audit entries"))?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let batch = ids.len() as u64;
            deleted += audit_log::Entity::delete_many()
                .filter(audit_log::Column::Id.is_in(ids))
                .exec(&self.db)
                .await
                .map_err(self.db("prune audit log"))?
                .rows_affected;
            if batch < PRUNE_BATCH {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }
}

pub(super) fn to_tenant(row: tenants::Model) -> Result<Tenant> {
    let allowed_engines: Vec<String> = serde_json::from_str(&row.allowed_engines)
        .map_err(|e| Error::internal("decode allowed engines", e))?;
    let limit = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    Ok(Tenant {
        id: TenantId(row.id),
        display_name: row.display_name,
        quota: Quota {
            max_stores: limit(row.max_stores),
            max_concurrent_provisions: limit(row.max_concurrent_provisions),
            allowed_engines,
        },
        created_at: row.created_at,
    })
}

fn to_token(row: tokens::Model) -> Result<(Token, String)> {
    let role = Role::parse(&row.role)
        .ok_or_else(|| Error::internal("decode role", format!("unknown role {:?}", row.role)))?;
    Ok((
        Token {
            id: row.id,
            tenant: TenantId(row.tenant_id),
            role,
            description: row.description,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        },
        row.secret_hash,
    ))
}

fn quota_columns(quota: &Quota) -> Result<(Option<i32>, Option<i32>, String)> {
    let limit = |v: Option<u32>| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
    let engines = serde_json::to_string(&quota.allowed_engines)
        .map_err(|e| Error::internal("encode allowed engines", e))?;
    Ok((
        limit(quota.max_stores),
        limit(quota.max_concurrent_provisions),
        engines,
    ))
}

#[async_trait]
impl TenantRepository for SqlTenantRepository {
    async fn create_tenant(
        &self,
        id: &TenantId,
        display_name: &str,
        quota: &Quota,
    ) -> Result<Tenant> {
        let (max_stores, max_concurrent_provisions, allowed_engines) = quota_columns(quota)?;
        let row = tenants::ActiveModel {
            id: Set(id.0.clone()),
            display_name: Set(display_name.to_owned()),
            created_at: Set(now()),
            max_stores: Set(max_stores),
            max_concurrent_provisions: Set(max_concurrent_provisions),
            allowed_engines: Set(allowed_engines),
        };
        tenants::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => Error::AlreadyExists {
                    resource_type: "tenant",
                    name: id.0.clone(),
                    description: "choose another id".into(),
                },
                _ => classify(Error::internal("insert tenant", e)),
            })?;
        self.tenant(id).await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>> {
        tenants::Entity::find()
            .order_by_asc(tenants::Column::Id)
            .all(&self.db)
            .await
            .map_err(self.db("list tenants"))?
            .into_iter()
            .map(to_tenant)
            .collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        tenants::Entity::find_by_id(id.0.clone())
            .one(&self.db)
            .await
            .map_err(self.db("read tenant"))?
            .ok_or_else(|| Error::NotFound {
                resource_type: "tenant",
                name: id.resource_name(),
            })
            .and_then(to_tenant)
    }

    async fn set_quota(&self, id: &TenantId, quota: &Quota) -> Result<Tenant> {
        let (max_stores, max_concurrent_provisions, allowed_engines) = quota_columns(quota)?;
        let updated = tenants::Entity::update_many()
            .col_expr(tenants::Column::MaxStores, max_stores.into())
            .col_expr(
                tenants::Column::MaxConcurrentProvisions,
                max_concurrent_provisions.into(),
            )
            .col_expr(tenants::Column::AllowedEngines, allowed_engines.into())
            .filter(tenants::Column::Id.eq(id.0.as_str()))
            .exec(&self.db)
            .await
            .map_err(self.db("update quota"))?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound {
                resource_type: "tenant",
                name: id.resource_name(),
            });
        }
        self.tenant(id).await
    }

    async fn create_token(
        &self,
        id: &str,
        tenant: &TenantId,
        role: Role,
        description: &str,
        hash: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Token> {
        self.tenant(tenant).await?;
        let row = tokens::ActiveModel {
            id: Set(id.to_owned()),
            tenant_id: Set(tenant.0.clone()),
            role: Set(role.as_str().to_owned()),
            secret_hash: Set(hash.to_owned()),
            description: Set(description.to_owned()),
            created_at: Set(now()),
            expires_at: Set(expires_at.map(|t| t.trunc_subsecs(6))),
            revoked_at: Set(None),
        };
        tokens::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(self.db("insert token"))?;
        self.token(id)
            .await?
            .map(|(token, _)| token)
            .ok_or_else(|| Error::internal("read token", "token vanished after insert"))
    }

    async fn token(&self, id: &str) -> Result<Option<(Token, String)>> {
        tokens::Entity::find_by_id(id.to_owned())
            .one(&self.reader)
            .await
            .map_err(self.db("read token"))?
            .map(to_token)
            .transpose()
    }

    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<Token>> {
        let mut query = tokens::Entity::find().order_by_asc(tokens::Column::CreatedAt);
        if let Some(tenant) = tenant {
            query = query.filter(tokens::Column::TenantId.eq(tenant.0.as_str()));
        }
        query
            .all(&self.db)
            .await
            .map_err(self.db("list tokens"))?
            .into_iter()
            .map(|row| to_token(row).map(|(token, _)| token))
            .collect()
    }

    async fn revoke_token(&self, id: &str) -> Result<Token> {
        tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(now()).into())
            .filter(tokens::Column::Id.eq(id))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(self.db("revoke token"))?;
        self.token(id)
            .await?
            .map(|(token, _)| token)
            .ok_or_else(|| Error::NotFound {
                resource_type: "token",
                name: id.to_owned(),
            })
    }

    async fn bootstrap_admin_token(&self, id: &str, hash: &str) -> Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .map_err(self.db("begin transaction"))?;
        if self.db.get_database_backend() == DbBackend::Postgres {
            // Replicas starting together must not both create one.
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHANGE_LOG_LOCK})"))
                .await
                .map_err(self.db("lock"))?;
        }
        let existing = tokens::Entity::find()
            .count(&txn)
            .await
            .map_err(self.db("count tokens"))?;
        if existing > 0 {
            txn.rollback().await.map_err(self.db("end transaction"))?;
            return Ok(false);
        }
        let row = tokens::ActiveModel {
            id: Set(id.to_owned()),
            tenant_id: Set(TenantId::default_tenant().0),
            role: Set(Role::Admin.as_str().to_owned()),
            secret_hash: Set(hash.to_owned()),
            description: Set("created at first start".into()),
            created_at: Set(now()),
            expires_at: Set(None),
            revoked_at: Set(None),
        };
        tokens::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(self.db("insert token"))?;
        txn.commit().await.map_err(self.db("commit"))?;
        Ok(true)
    }
}

/// Parameters stored in the audit log are free of secrets by construction
/// (the gRPC layer builds them); this is the storage side.
#[async_trait]
impl AuditLog for SqlTenantRepository {
    async fn append(&self, record: AuditRecord) -> Result<()> {
        let row = audit_log::ActiveModel {
            created_at: Set(now()),
            tenant_id: Set(record.tenant.map(|t| t.0).unwrap_or_default()),
            token_id: Set(record.token_id.unwrap_or_default()),
            client_address: Set(record.client_address),
            method: Set(record.method),
            resource: Set(record.resource),
            parameters: Set(record.parameters.to_string()),
            outcome: Set(record.outcome),
            message: Set(record.message),
            ..Default::default()
        };
        audit_log::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(self.db("append audit entry"))?;
        Ok(())
    }

    async fn entries(
        &self,
        scope: &Scope,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>> {
        let mut query = audit_log::Entity::find();
        if let Scope::Tenant(tenant) = scope {
            query = query.filter(audit_log::Column::TenantId.eq(tenant.0.as_str()));
        }
        if let Some(before) = before {
            query = query.filter(audit_log::Column::Id.lt(before));
        }
        query
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(self.db("list audit entries"))?
            .into_iter()
            .map(|row| {
                let parameters = serde_json::from_str(&row.parameters)
                    .map_err(|e| Error::internal("decode audit parameters", e))?;
                Ok(AuditEntry {
                    id: row.id,
                    time: row.created_at,
                    record: AuditRecord {
                        tenant: (!row.tenant_id.is_empty()).then_some(TenantId(row.tenant_id)),
                        token_id: (!row.token_id.is_empty()).then_some(row.token_id),
                        client_address: row.client_address,
                        method: row.method,
                        resource: row.resource,
                        parameters,
                        outcome: row.outcome,
                        message: row.message,
                    },
                })
            })
            .collect()
    }
}
