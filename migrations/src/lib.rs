//! storeplane's database schema.
//!
//! Migrations are append-only: a shipped migration is never edited, a change
//! is a new file `mYYYYMMDD_HHMMSS_verb_noun.rs`, and every `up` has a `down`.
//! The same migrations run on SQLite (the embedded default) and PostgreSQL.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261122_000001_create_tenants;
mod m20261122_000002_create_stores;
mod m20261122_000003_create_store_events;
mod m20261122_000004_create_store_changes;
mod m20261122_000005_create_idempotency_keys;

/// Runs storeplane's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tenants::Migration),
            Box::new(m20261122_000002_create_stores::Migration),
            Box::new(m20261122_000003_create_store_events::Migration),
            Box::new(m20261122_000004_create_store_changes::Migration),
            Box::new(m20261122_000005_create_idempotency_keys::Migration),
        ]
    }
}
