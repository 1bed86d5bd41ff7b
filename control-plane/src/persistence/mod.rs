//! Persistence adapter: sea-orm over SQLite (embedded default) or PostgreSQL.

mod availability;
pub(crate) mod entities;
mod error;
mod installation;
mod releases;
mod repo;
mod routing;
#[cfg(test)]
pub(crate) mod scripted;
mod tenants;

use std::{path::Path, sync::Arc, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use storeplane_migrations::{Migrator, MigratorTrait};
use tokio::sync::Notify;

use crate::domain::tenancy::GlobalLimits;

pub use availability::{Availability, RETRY_AFTER, classify, is_transient};
pub use error::{Error, Result};
pub use installation::installation_id;
pub use releases::{ObjectRef, ReleaseRepository, Revision};
pub use repo::SqlStoreRepository;
pub use routing::RoutedStoreRepository;
pub use tenants::SqlTenantRepository;

/// PostgreSQL channel on which every committed store change is announced.
pub const CHANGES_CHANNEL: &str = "storeplane_store_changes";

/// How long a call waits for a PostgreSQL connection from the pool. Short,
/// so that calls fail fast (`UNAVAILABLE`) while the database is down
/// instead of hanging until the client's deadline.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// PostgreSQL aborts any statement running longer (a stuck lock, a hung
/// query): a call never waits on the database for longer than this.
const PG_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for a lock held by another connection or process
/// before the statement fails with `SQLITE_BUSY` (then `UNAVAILABLE`).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a call waits for SQLite's one writer connection: queued behind
/// our own writes, never an outage by itself, but bounded all the same.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens the database at `url` (`sqlite://…` or `postgres://…`), creating
/// the parent directory of a SQLite file when needed. On SQLite this is the
/// one writer connection; see [`connect_reader`] for the readers.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
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
        // One writer connection: SQLite has one writer anyway, and a single
        // connection makes every write transaction serial without
        // SQLITE_BUSY between our own writers. WAL lets readers (ours, on
        // `connect_reader` connections, and other processes') run beside it.
        //
        // `synchronous = NORMAL`, SQLite's advice for WAL: a commit is
        // appended to the WAL without an fsync, which happens at each
        // checkpoint instead. The database cannot be corrupted by a crash
        // either way; what NORMAL gives up is the durability of the last
        // commits before a power loss or kernel crash (not a process
        // crash). The embedded database is the single-node default, whose
        // stores' cluster objects carry their store's id, so a store lost
        // that way shows up as an orphan (`storeplane orphans list`)
        // rather than vanishing; PostgreSQL is for installations that need
        // more. A burst of creates commits several times per store, and
        // an fsync per commit was 6 % of the control plane's CPU in one.
        //
        // No ping before each use or after (sqlx's default): a SQLite
        // connection is an open file that cannot hang up, and the ping is a
        // round trip to the connection's worker thread, two thread
        // switches, on every statement outside a transaction and every
        // transaction. Without the ping before use, the control plane's
        // threads switched a fifth less often in a burst of creates (about
        // 190k against 230–266k). The ping on release is unconditional in
        // sqlx 0.9: `test_on_release` is our patch (see
        // `control-plane/vendor/PATCHES.md`), and the connection goes back
        // to the pool without a task of its own.
        options
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .map_sqlx_sqlite_pool_opts(|o| o.test_on_release(false))
            .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
    } else {
        options
            .max_connections(16)
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .statement_timeout(PG_STATEMENT_TIMEOUT);
    }
    Database::connect(options)
        .await
        .map_err(|source| Error::Connect {
            url: redact(url),
            source,
        })
}

/// Opens up to `max` connections for reads only. On a SQLite file they are
/// read-only connections beside the writer of [`connect`] (open that one
/// first: it creates the file and turns WAL on). On PostgreSQL it is a pool
/// of its own. An in-memory SQLite database has no second connection: its
/// `writer` is returned.
pub async fn connect_reader(
    url: &str,
    writer: &DatabaseConnection,
    max: u32,
) -> Result<DatabaseConnection> {
    connect_beside(url, writer, max, true).await
}

/// Page cache of each read-only SQLite connection, in SQLite's notation
/// (negative: KiB): 512 KiB instead of the default 2 MiB. In WAL mode a
/// reader's cache is dropped at every read transaction that follows a
/// commit, so on a control plane that writes all the time a big cache
/// holds little that is read again, but it stays resident: ten open
/// `WatchStores` streams, whose initial lists read every store on these
/// connections, left 17 MiB more resident after 12 s idle with the
/// default, 7–9 MiB with this (`bench 1000 10000`).
const READER_CACHE_SIZE: &str = "-512";

/// A pool of up to `max` connections beside the writer of [`connect`] (see
/// [`connect_reader`]); on SQLite read-only when `read_only`.
async fn connect_beside(
    url: &str,
    writer: &DatabaseConnection,
    max: u32,
    read_only: bool,
) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(max.max(1))
        .min_connections(0);
    if url.starts_with("sqlite:") {
        if sqlite_path(url).is_none() {
            return Ok(writer.clone());
        }
        // No ping before or after each use, as for the writer (see
        // [`connect`]).
        options
            .test_before_acquire(false)
            .map_sqlx_sqlite_pool_opts(|o| o.test_on_release(false))
            .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(move |o| {
                let o = o
                    .read_only(read_only)
                    .create_if_missing(false)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                if read_only {
                    o.pragma("cache_size", READER_CACHE_SIZE)
                } else {
                    o
                }
            });
    } else {
        options
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .statement_timeout(PG_STATEMENT_TIMEOUT);
    }
    Database::connect(options)
        .await
        .map_err(|source| Error::Connect {
            url: redact(url),
            source,
        })
}

/// The connections of one control plane: the API and the reconciler each
/// read on connections of their own, so a storm of API reads cannot stall
/// provisioning.
///
/// | | SQLite | PostgreSQL |
/// |---|---|---|
/// | writes (API and reconciler) | the one writer connection | the main pool (16) |
/// | API reads | a read-only pool (4) | the main pool |
/// | reconciler reads and writes | reads: one read-only connection; writes: the writer | a pool of its own (4) |
#[derive(Clone)]
pub struct Connections {
    /// Writes of the API (and on SQLite of the reconciler too); migrations,
    /// tokens, the audit log.
    pub writer: DatabaseConnection,
    /// Reads of the API (store reads, watch snapshots, token lookups).
    pub api_reader: DatabaseConnection,
    /// Writes of the reconciler: the writer on SQLite (one writer), a pool
    /// of its own on PostgreSQL.
    pub reconciler_writer: DatabaseConnection,
    /// Reads of the reconciler.
    pub reconciler_reader: DatabaseConnection,
    /// One connection of its own for [`Availability`]'s probe: under a
    /// burst every pool can be busy, and only a connection nobody queues
    /// for tells "overloaded" from "does not answer".
    pub probe: DatabaseConnection,
}

/// Connections the API reads on (SQLite) or shares with nobody (PostgreSQL).
const API_READERS: u32 = 4;
/// Connections of the reconciler's own (PostgreSQL).
const RECONCILER_CONNECTIONS: u32 = 4;

impl Connections {
    /// Opens every connection of `url`; `writer` is [`connect`]'s.
    pub async fn open(url: &str, writer: DatabaseConnection) -> Result<Self> {
        let api_reader = connect_reader(url, &writer, API_READERS).await?;
        let (reconciler_writer, reconciler_reader) = if url.starts_with("sqlite:") {
            (writer.clone(), connect_reader(url, &writer, 1).await?)
        } else {
            let own = connect_reader(url, &writer, RECONCILER_CONNECTIONS).await?;
            (own.clone(), own)
        };
        // Read-write: on SQLite the probe takes the write lock.
        let probe = connect_beside(url, &writer, 1, false).await?;
        Ok(Self {
            writer,
            api_reader,
            reconciler_writer,
            reconciler_reader,
            probe,
        })
    }
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

/// A store repository writing on `writer` and reading on `reader`, with
/// database outages reported to `availability` (see [`RoutedStoreRepository`]).
pub fn routed_repository(
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    wake: Arc<Notify>,
    history: u64,
    limits: GlobalLimits,
    availability: Availability,
) -> Arc<RoutedStoreRepository> {
    let writer = repository(writer, Arc::clone(&wake), history, limits);
    let reader = repository(reader, wake, history, limits);
    Arc::new(RoutedStoreRepository::new(writer, reader, availability))
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
