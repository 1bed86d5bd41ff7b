//! The name of the Secret holding a store's admin credentials, as its engine
//! reports it once the store is Ready. Only the name: the values stay in the
//! cluster and are read on an explicit, audited `RevealStoreCredentials`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    CredentialsSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Stores::Table)
                    .add_column(
                        string_len(Stores::CredentialsSecret, 253)
                            .default("")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Stores::Table)
                    .drop_column(Stores::CredentialsSecret)
                    .to_owned(),
            )
            .await
    }
}
