//! Chart revisions, as Helm keeps them: every install or upgrade of a
//! release records the chart, the values, a digest of the rendered manifests
//! and the objects applied, so an upgrade can prune what disappeared and a
//! rollback can re-apply an earlier revision.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Releases {
    Table,
    Id,
    StoreId,
    Namespace,
    Name,
    Revision,
    Chart,
    ChartVersion,
    ChartDir,
    Values,
    Digest,
    Objects,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Releases::Table)
                    .col(big_pk_auto(Releases::Id))
                    .col(string_len(Releases::StoreId, 36))
                    .col(string_len(Releases::Namespace, 63))
                    .col(string_len(Releases::Name, 63))
                    .col(integer(Releases::Revision))
                    .col(string_len(Releases::Chart, 128))
                    .col(string_len(Releases::ChartVersion, 64))
                    .col(text(Releases::ChartDir))
                    .col(text(Releases::Values))
                    .col(string_len(Releases::Digest, 64))
                    .col(text(Releases::Objects))
                    .col(timestamp_with_time_zone(Releases::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_releases_namespace_name_revision")
                    .table(Releases::Table)
                    .col(Releases::Namespace)
                    .col(Releases::Name)
                    .col(Releases::Revision)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Releases::Table).to_owned())
            .await
    }
}
