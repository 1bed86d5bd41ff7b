//! Persistence adapter: sea-orm over SQLite (embedded default) or PostgreSQL.

pub(crate) mod entities;
mod error;
mod releases;
mod repo;
mod tenants;

use std::{path::Path, sync::Arc, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use storeplane_migrations::{Migrator, MigratorTrait};
use tokio::sync::Notify;

use crate::domain::tenancy::GlobalLimits;

pub use error::{Error, Result};
pub use releases::{ObjectRef, ReleaseRepository, Revision};
pub use repo::SqlStoreRepository;
pub use tenants::SqlTenantRepository;

/// PostgreSQL channel on which every committed store change is announced.
pub const CHANGES_CHANNEL: &str = "storeplane_store_changes";

/// Opens the database at `url` (`sqlite://…` or `postgres://…`), creating
/// the parent directory of a SQLite file when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        if let Some(dir) = sqlite_path(url)
            .and_then(|path| Path::new(path).parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        // One connection: SQLite has one writer anyway, and a single
        // connection makes every write transaction serial without
        // SQLITE_BUSY retries. WAL keeps readers of other processes unblocked.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(16);
    }
    Database::connect(options)
        .await
        .map_err(|source| Error::Connect {
            url: redact(url),
            source,
        })
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Migrator::up(db, None).await.map_err(Error::Migrate)
}

/// Builds the store repository over `db`; `wake` is signalled after every
/// commit.
pub fn repository(
    db: DatabaseConnection,
    wake: Arc<Notify>,
    history: u64,
    limits: GlobalLimits,
) -> Arc<SqlStoreRepository> {
    Arc::new(SqlStoreRepository::new(db, wake, history, limits))
}

/// Stores by (phase, engine), for the metrics gauge; empty on error (logged).
pub async fn store_counts(db: &DatabaseConnection) -> Vec<(String, String, i64)> {
    use sea_orm::{ColumnTrait, EntityTrait, QuerySelect};
    let rows: Result<Vec<(String, String, i64)>, _> = entities::stores::Entity::find()
        .select_only()
        .column(entities::stores::Column::Phase)
        .column(entities::stores::Column::Engine)
        .column_as(entities::stores::Column::Id.count(), "n")
        .group_by(entities::stores::Column::Phase)
        .group_by(entities::stores::Column::Engine)
        .into_tuple()
        .all(db)
        .await;
    rows.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "cannot count stores for metrics");
        Vec::new()
    })
}

/// Whether the database can announce changes to other processes.
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/sp"),
            "postgres://app:***@db:5432/sp"
        );
        assert_eq!(redact("postgres://app@db/sp"), "postgres://app@db/sp");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn sqlite_path_ignores_options_and_memory() {
        assert_eq!(
            sqlite_path("sqlite://data/x.db?mode=rwc"),
            Some("data/x.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
