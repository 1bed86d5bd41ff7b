//! Day-2 desired state: whether the owner paused the store, and its custom
//! domains. The domains are also rows of `store_domains`, whose primary key
//! is the domain: the database itself refuses a domain two stores claim,
//! even when two replicas write at the same time. The stores column keeps
//! the tenant's order for the API; the table is the uniqueness index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    Suspended,
    CustomDomains,
}

#[derive(DeriveIden)]
enum StoreDomains {
    Table,
    Domain,
    StoreId,
}

const STORE_INDEX: &str = "idx_store_domains_store_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Stores::Table)
                    .add_column(boolean(Stores::Suspended).default(false).to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Stores::Table)
                    .add_column(text(Stores::CustomDomains).default("[]").to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StoreDomains::Table)
                    .col(string_len(StoreDomains::Domain, 253).primary_key())
                    .col(string_len(StoreDomains::StoreId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(STORE_INDEX)
                    .table(StoreDomains::Table)
                    .col(StoreDomains::StoreId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StoreDomains::Table).to_owned())
            .await?;
        for column in [Stores::CustomDomains, Stores::Suspended] {
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
