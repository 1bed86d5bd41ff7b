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
mod m20261122_000006_add_tenant_quotas;
mod m20261122_000007_create_tokens;
mod m20261122_000008_create_audit_log;
mod m20261122_000009_add_reconcile_state;
mod m20261122_000010_create_releases;
mod m20261122_000011_add_credentials_secret;
mod m20261205_000001_create_installation;
mod m20261205_000002_key_releases_by_store;
mod m20261205_000003_add_event_trace_id;
mod m20261206_000001_add_suspension_and_domains;
mod m20261206_000002_create_backups;
mod m20261206_000003_index_stores_by_phase;

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
            Box::new(m20261122_000006_add_tenant_quotas::Migration),
            Box::new(m20261122_000007_create_tokens::Migration),
            Box::new(m20261122_000008_create_audit_log::Migration),
            Box::new(m20261122_000009_add_reconcile_state::Migration),
            Box::new(m20261122_000010_create_releases::Migration),
            Box::new(m20261122_000011_add_credentials_secret::Migration),
            Box::new(m20261205_000001_create_installation::Migration),
            Box::new(m20261205_000002_key_releases_by_store::Migration),
            Box::new(m20261205_000003_add_event_trace_id::Migration),
            Box::new(m20261206_000001_add_suspension_and_domains::Migration),
            Box::new(m20261206_000002_create_backups::Migration),
            Box::new(m20261206_000003_index_stores_by_phase::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    use super::*;

    #[tokio::test]
    async fn every_migration_goes_down_and_up_again() -> Result<(), DbErr> {
        let path = std::env::temp_dir().join(format!(
            "storeplane-migrations-{}-{}.db",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display())).await?;
        Migrator::up(&db, None).await?;
        let tables = |db: &sea_orm_migration::sea_orm::DatabaseConnection| {
            let db = db.clone();
            async move {
                let rows = db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Sqlite,
                        "SELECT name FROM sqlite_master WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite_%' AND name != 'seaql_migrations' ORDER BY name",
                    ))
                    .await?;
                rows.iter()
                    .map(|r| r.try_get::<String>("", "name"))
                    .collect::<Result<Vec<_>, _>>()
            }
        };
        assert_eq!(
            tables(&db).await?,
            [
                "audit_log",
                "backups",
                "idempotency_keys",
                "installation",
                "releases",
                "store_changes",
                "store_domains",
                "store_events",
                "stores",
                "tenants",
                "tokens"
            ]
        );
        Migrator::down(&db, None).await?;
        assert!(tables(&db).await?.is_empty());
        Migrator::up(&db, None).await?;
        assert_eq!(tables(&db).await?.len(), 11);
        db.close().await?;
        let _ = std::fs::remove_file(path);
        Ok(())
    }
}
