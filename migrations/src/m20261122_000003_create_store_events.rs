//! The per-store timeline. Not a foreign key to `stores`: a deleted store's
//! timeline stays as a record of what the platform did.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoreEvents {
    Table,
    Id,
    StoreId,
    TenantId,
    Reason,
    Message,
    Outcome,
    DurationMs,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StoreEvents::Table)
                    .col(big_pk_auto(StoreEvents::Id))
                    .col(string_len(StoreEvents::StoreId, 36))
                    .col(string_len(StoreEvents::TenantId, 64))
                    .col(string_len(StoreEvents::Reason, 128))
                    .col(text(StoreEvents::Message))
                    .col(string_len(StoreEvents::Outcome, 16))
                    .col(big_integer(StoreEvents::DurationMs))
                    .col(timestamp_with_time_zone(StoreEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_store_events_store_id")
                    .table(StoreEvents::Table)
                    .col(StoreEvents::StoreId)
                    .col(StoreEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StoreEvents::Table).to_owned())
            .await
    }
}
