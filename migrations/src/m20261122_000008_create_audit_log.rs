//! The audit log: one row per mutating call or attempt. Append-only: the
//! application never updates or deletes rows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    CreatedAt,
    TenantId,
    TokenId,
    ClientAddress,
    Method,
    Resource,
    Parameters,
    Outcome,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .col(string_len(AuditLog::TenantId, 64))
                    .col(string_len(AuditLog::TokenId, 32))
                    .col(string_len(AuditLog::ClientAddress, 64))
                    .col(string_len(AuditLog::Method, 128))
                    .col(text(AuditLog::Resource))
                    .col(text(AuditLog::Parameters))
                    .col(string_len(AuditLog::Outcome, 32))
                    .col(text(AuditLog::Message))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_tenant_id")
                    .table(AuditLog::Table)
                    .col(AuditLog::TenantId)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}
