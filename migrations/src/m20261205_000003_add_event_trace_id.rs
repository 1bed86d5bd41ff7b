//! The trace id of the work that recorded a timeline entry (OpenTelemetry,
//! 32 hex digits; empty when no trace was recorded), so an entry leads to
//! its trace.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoreEvents {
    Table,
    TraceId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StoreEvents::Table)
                    .add_column(string_len(StoreEvents::TraceId, 32).default("").to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StoreEvents::Table)
                    .drop_column(StoreEvents::TraceId)
                    .to_owned(),
            )
            .await
    }
}
