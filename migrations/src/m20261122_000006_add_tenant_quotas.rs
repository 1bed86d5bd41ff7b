//! Per-tenant quotas: how many stores, how many provisioning at once, which
//! engines. NULL limits are unlimited; an empty engine list allows all.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Quota {
    MaxStores,
    MaxConcurrentProvisions,
    AllowedEngines,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            integer_null(Quota::MaxStores),
            integer_null(Quota::MaxConcurrentProvisions),
            text(Quota::AllowedEngines).default("[]").to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Quota::MaxStores,
            Quota::MaxConcurrentProvisions,
            Quota::AllowedEngines,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
