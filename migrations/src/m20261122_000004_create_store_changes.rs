//! The change log behind `WatchStores`: one row per store change, written in
//! the same transaction as the change. `seq` is the resume token; old rows
//! are pruned, and a token older than the oldest row means "resync".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoreChanges {
    Table,
    Seq,
    StoreId,
    TenantId,
    ChangeType,
    Snapshot,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StoreChanges::Table)
                    .col(big_pk_auto(StoreChanges::Seq))
                    .col(string_len(StoreChanges::StoreId, 36))
                    .col(string_len(StoreChanges::TenantId, 64))
                    .col(string_len(StoreChanges::ChangeType, 16))
                    .col(text(StoreChanges::Snapshot))
                    .col(timestamp_with_time_zone(StoreChanges::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StoreChanges::Table).to_owned())
            .await
    }
}
