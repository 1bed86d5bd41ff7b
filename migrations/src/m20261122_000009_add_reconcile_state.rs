//! What the reconciler needs on each store: which engine version it runs,
//! when provisioning started (for the overall timeout), how many attempts
//! failed in a row (for backoff), and a lease so that one replica at a time
//! works on a store.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    EngineVersion,
    ProvisioningSince,
    Attempts,
    LeaseHolder,
    LeaseUntil,
    PreviousConfig,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len(Stores::EngineVersion, 64).default("").to_owned(),
            timestamp_with_time_zone_null(Stores::ProvisioningSince),
            integer(Stores::Attempts).default(0).to_owned(),
            string_len(Stores::LeaseHolder, 64).default("").to_owned(),
            timestamp_with_time_zone_null(Stores::LeaseUntil),
            text(Stores::PreviousConfig).default("").to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Stores::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Stores::EngineVersion,
            Stores::ProvisioningSince,
            Stores::Attempts,
            Stores::LeaseHolder,
            Stores::LeaseUntil,
            Stores::PreviousConfig,
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
