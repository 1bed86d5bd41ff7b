//! Release records belong to a store, not to a namespace name: a later
//! store with the same name (so the same namespace) must start at revision
//! 1 with nothing to prune, never inherit an earlier store's revisions,
//! values or object list. Rows are now looked up by `(store_id, name)`, and
//! removed with the store.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Releases {
    Table,
    StoreId,
    Namespace,
    Name,
    Revision,
}

const OLD_INDEX: &str = "idx_releases_namespace_name_revision";
const NEW_INDEX: &str = "idx_releases_store_name_revision";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(Releases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NEW_INDEX)
                    .table(Releases::Table)
                    .col(Releases::StoreId)
                    .col(Releases::Name)
                    .col(Releases::Revision)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NEW_INDEX)
                    .table(Releases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD_INDEX)
                    .table(Releases::Table)
                    .col(Releases::Namespace)
                    .col(Releases::Name)
                    .col(Releases::Revision)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
