//! Stores indexed by phase (then tenant). Every create, and every write
//! that moves a store into `Provisioning` (an upgrade, a resume), counts
//! the stores in `Provisioning` when a concurrent-provisions limit is set,
//! of the tenant and of the platform; without this index each count read
//! every store of the tenant or the whole table, inside the one write
//! transaction, so each such write cost in proportion to all the stores
//! there are. With it a count reads the provisioning stores only.
//! `ListStores` filtered by phase uses it too.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Stores {
    Table,
    Phase,
    TenantId,
}

const INDEX: &str = "idx_stores_phase_tenant_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Stores::Table)
                    .col(Stores::Phase)
                    .col(Stores::TenantId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Stores::Table).to_owned())
            .await
    }
}
