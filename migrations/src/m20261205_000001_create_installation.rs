//! The installation's identity: one row holding a random id generated when
//! the database is first migrated. Every namespace and object storeplane
//! creates carries it (label `storeplane.dev/instance`), so an installation
//! adopts, prunes and deletes only what it created itself — never another
//! installation's stores on the same cluster, and nothing at all when it
//! starts on an empty or different database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Installation {
    Table,
    Singleton,
    Id,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Installation::Table)
                    // Always 1: replicas migrating at once race to insert
                    // the row, and the primary key lets exactly one win.
                    .col(integer(Installation::Singleton).primary_key())
                    .col(string_len(Installation::Id, 36))
                    .col(timestamp_with_time_zone(Installation::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Installation::Table).to_owned())
            .await
    }
}
