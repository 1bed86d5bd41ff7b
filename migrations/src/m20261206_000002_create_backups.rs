//! Backups: one row per backup (it outlives its store, so no foreign key),
//! and on `stores` the operation in flight, the backup schedule and the
//! backup a clone came from. `slot` is unique: two replicas firing the same
//! schedule at once write one backup (NULLs, the unscheduled ones, do not
//! collide on either database).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    Operation,
    BackupSchedule,
    ClonedFrom,
}

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    StoreId,
    StoreName,
    TenantId,
    Engine,
    EngineVersion,
    Config,
    Phase,
    Trigger,
    SizeBytes,
    Sha256,
    Message,
    FailureReason,
    CreatedAt,
    CompletedAt,
    Slot,
}

const STORE_INDEX: &str = "idx_backups_store_id";
const TENANT_INDEX: &str = "idx_backups_tenant_id";
const SLOT_INDEX: &str = "idx_backups_slot";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            Stores::Operation,
            Stores::BackupSchedule,
            Stores::ClonedFrom,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Stores::Table)
                        .add_column(text(column).default("").to_owned())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Backups::Table)
                    .col(string_len(Backups::Id, 36).primary_key())
                    .col(string_len(Backups::StoreId, 36))
                    .col(string_len(Backups::StoreName, 63))
                    .col(string_len(Backups::TenantId, 63))
                    .col(string(Backups::Engine))
                    .col(string(Backups::EngineVersion))
                    .col(text(Backups::Config))
                    .col(string_len(Backups::Phase, 16))
                    .col(string_len(Backups::Trigger, 16))
                    .col(big_integer_null(Backups::SizeBytes))
                    .col(string_len_null(Backups::Sha256, 64))
                    .col(text(Backups::Message))
                    .col(string_null(Backups::FailureReason))
                    .col(timestamp_with_time_zone(Backups::CreatedAt))
                    .col(timestamp_with_time_zone_null(Backups::CompletedAt))
                    .col(string_null(Backups::Slot))
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            (STORE_INDEX, Backups::StoreId, false),
            (TENANT_INDEX, Backups::TenantId, false),
            (SLOT_INDEX, Backups::Slot, true),
        ] {
            let mut index = Index::create();
            index.name(name).table(Backups::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Backups::Table).to_owned())
            .await?;
        for column in [
            Stores::ClonedFrom,
            Stores::BackupSchedule,
            Stores::Operation,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Stores::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
