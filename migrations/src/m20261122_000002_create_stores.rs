//! The stores themselves: desired state (name, engine, config, generation)
//! and observed state (phase, conditions, URLs, failure).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Stores {
    Table,
    Id,
    Name,
    TenantId,
    Engine,
    Config,
    Phase,
    Conditions,
    StorefrontUrl,
    AdminUrl,
    Generation,
    ObservedGeneration,
    ResourceVersion,
    FailureReason,
    FailureMessage,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stores::Table)
                    // UUIDv7 as text: time-ordered, so ordering by id is
                    // creation order, and portable between SQLite and PostgreSQL.
                    .col(string_len(Stores::Id, 36).primary_key())
                    // Names are global: they become namespaces and hostnames.
                    .col(string_len_uniq(Stores::Name, 63))
                    .col(string_len(Stores::TenantId, 64))
                    .col(string_len(Stores::Engine, 64))
                    .col(text(Stores::Config))
                    .col(string_len(Stores::Phase, 16))
                    .col(text(Stores::Conditions))
                    .col(text(Stores::StorefrontUrl))
                    .col(text(Stores::AdminUrl))
                    .col(big_integer(Stores::Generation))
                    .col(big_integer(Stores::ObservedGeneration))
                    .col(big_integer(Stores::ResourceVersion))
                    .col(string_len(Stores::FailureReason, 128))
                    .col(text(Stores::FailureMessage))
                    .col(timestamp_with_time_zone(Stores::CreatedAt))
                    .col(timestamp_with_time_zone(Stores::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stores_tenant")
                            .from(Stores::Table, Stores::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stores_tenant_id")
                    .table(Stores::Table)
                    .col(Stores::TenantId)
                    .col(Stores::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stores::Table).to_owned())
            .await
    }
}
