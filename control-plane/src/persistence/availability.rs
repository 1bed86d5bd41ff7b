//! Whether the database answers, learnt from the calls that fail.
//!
//! Nothing polls while the database is healthy. The first query that fails
//! because the database does not answer (a pool timeout, a refused or
//! dropped connection, a PostgreSQL shutdown code, SQLite's `BUSY`/`FULL`)
//! marks it down: its error becomes [`Error::Unavailable`] (`UNAVAILABLE`
//! with `RetryInfo` at the API, a back-off in the reconciler), watchers of
//! [`Availability::subscribe`] (the health service) see `false`, and one
//! probe task asks the database with exponential back-off until it answers,
//! then marks it up again and ends.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, TransactionTrait,
};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::domain::Error;

/// What a client is told to wait before retrying a call the database could
/// not answer.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// First pause of the probe; doubled after every failure up to
/// [`PROBE_MAX_DELAY`].
const PROBE_FIRST_DELAY: Duration = Duration::from_millis(250);
/// Longest pause between two probes.
const PROBE_MAX_DELAY: Duration = Duration::from_secs(5);

/// Whether a database failure is transient: the database did not answer
/// (so a retry later can succeed), as opposed to a query it refused.
pub fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => match runtime {
            RuntimeErr::SqlxError(sqlx) => is_transient_sqlx(sqlx),
            _ => false,
        },
        _ => false,
    }
}

fn is_transient_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i32>() {
                // SQLite (extended result codes): BUSY, LOCKED, IOERR, FULL.
                Ok(extended) => matches!(extended & 0xff, 5 | 6 | 10 | 13),
                // PostgreSQL SQLSTATEs: connection exceptions (08…),
                // shutdown and start-up (57P0x), statement_timeout (57014),
                // too many connections (53300).
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("57P0")
                        || code == "57014"
                        || code == "53300"
                }
            }
        }
        _ => false,
    }
}

/// How long the probe's one check of a busy pool may take.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `err` only says that no pooled connection was free in time.
fn is_pool_timeout(err: &Error) -> bool {
    let Error::Unavailable { source, .. } = err else {
        return false;
    };
    match source.downcast_ref::<DbErr>() {
        Some(DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout)) => true,
        Some(
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)),
        ) => {
            matches!(**e, sqlx::Error::PoolTimedOut)
        }
        _ => false,
    }
}

/// Turns an internal error caused by a database that does not answer into
/// [`Error::Unavailable`]; every other error is returned unchanged.
pub fn classify(err: Error) -> Error {
    match err {
        Error::Internal { context, source }
            if source.downcast_ref::<DbErr>().is_some_and(is_transient) =>
        {
            Error::Unavailable {
                context,
                retry_after: RETRY_AFTER,
                source,
            }
        }
        other => other,
    }
}

/// The database's availability as the control plane last saw it.
#[derive(Clone)]
pub struct Availability {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the probe asks.
    db: DatabaseConnection,
    /// `true` while the database answers.
    state: watch::Sender<bool>,
    /// Whether a probe task is running.
    probing: AtomicBool,
    /// Whether a check of a busy pool is running.
    verifying: AtomicBool,
}

impl Availability {
    /// Starts out available; probes through `db` once something fails.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                state: watch::Sender::new(true),
                probing: AtomicBool::new(false),
                verifying: AtomicBool::new(false),
            }),
        }
    }

    /// Classifies `err` (see [`classify`]) and, when the database did not
    /// answer, marks it down. A pool that had no free connection in time
    /// is only a suspicion: under a burst every connection is busy while
    /// the database answers fine, so the probe's own connection decides
    /// (the call itself still answers `UNAVAILABLE`, shedding load).
    pub fn check(&self, err: Error) -> Error {
        let err = classify(err);
        if err.is_unavailable() {
            if is_pool_timeout(&err) {
                self.suspect(&err);
            } else {
                self.mark_down(&err);
            }
        }
        err
    }

    /// Asks the database once, on the probe's connection, and marks it down
    /// only if it does not answer; one check at a time.
    fn suspect(&self, cause: &dyn std::fmt::Display) {
        if !self.is_up()
            || self
                .inner
                .verifying
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let this = self.clone();
        let cause = cause.to_string();
        tokio::spawn(async move {
            let answered = tokio::time::timeout(VERIFY_TIMEOUT, answers(&this.inner.db)).await;
            this.inner.verifying.store(false, Ordering::Release);
            match answered {
                Ok(Ok(())) => {
                    debug!(error = %cause, "a pool was busy but the database answers: overload, not an outage");
                }
                Ok(Err(err)) => this.mark_down(&err),
                Err(_) => this.mark_down(&format!("{cause}; the probe got no answer either")),
            }
        });
    }

    /// Marks the database down (something could not reach it) and starts
    /// the probe that marks it up again.
    pub fn mark_down(&self, cause: &dyn std::fmt::Display) {
        self.inner.state.send_if_modified(|up| {
            let was_up = *up;
            *up = false;
            if was_up {
                warn!(error = %cause, "the database does not answer; health is NOT_SERVING until it does");
            }
            was_up
        });
        if self
            .inner
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let inner = Arc::clone(&self.inner);
            tokio::spawn(async move { probe(inner).await });
        }
    }

    /// Whether the database answered last time it was asked.
    pub fn is_up(&self) -> bool {
        *self.inner.state.borrow()
    }

    /// Changes of availability, as they happen.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.inner.state.subscribe()
    }
}

/// Asks the database with exponential back-off until it answers.
async fn probe(inner: Arc<Inner>) {
    let mut delay = PROBE_FIRST_DELAY;
    loop {
        tokio::time::sleep(delay).await;
        match answers(&inner.db).await {
            Ok(()) => break,
            Err(err) => {
                warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "database still unavailable");
                delay = (delay * 2).min(PROBE_MAX_DELAY);
            }
        }
    }
    inner.probing.store(false, Ordering::Release);
    info!("the database answers again; health is SERVING");
    inner.state.send_replace(true);
}

/// One probe: PostgreSQL must run a query; SQLite must grant its write lock
/// (a file locked by another process is what makes it unavailable).
async fn answers(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let txn = db.begin().await?;
            // A write statement that changes nothing still takes the lock.
            txn.execute_unprepared("DELETE FROM store_changes WHERE 0")
                .await?;
            txn.rollback().await
        }
        _ => db.ping().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_and_io_errors_are_transient_but_query_errors_are_not() {
        let timeout = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(is_transient(&timeout));
        let io = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))));
        assert!(is_transient(&io));
        assert!(!is_transient(&DbErr::Custom("syntax error".into())));
        assert!(!is_transient(&DbErr::Query(RuntimeErr::SqlxError(
            Arc::new(sqlx::Error::RowNotFound)
        ))));
    }

    #[test]
    fn classify_turns_only_transient_database_errors_into_unavailable() {
        let down = classify(Error::internal(
            "read store",
            DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout),
        ));
        assert!(down.is_unavailable());
        let bug = classify(Error::internal("decode", "bad json"));
        assert!(matches!(bug, Error::Internal { .. }));
    }

    /// An in-memory SQLite with the table the probe reads.
    async fn memory_database() -> sea_orm::DatabaseConnection {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("in-memory sqlite");
        db.execute_unprepared("CREATE TABLE store_changes (seq INTEGER)")
            .await
            .expect("table");
        db
    }

    #[tokio::test]
    async fn a_busy_pool_with_a_database_that_answers_is_not_an_outage() {
        let db = memory_database().await;
        let availability = Availability::new(db);
        let mut changes = availability.subscribe();
        let err = availability.check(Error::internal(
            "read store",
            DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout),
        ));
        assert!(err.is_unavailable(), "the call itself still sheds load");
        // The check runs and finds the database answering: health never flips.
        let flipped = tokio::time::timeout(Duration::from_millis(500), changes.changed()).await;
        assert!(flipped.is_err(), "health flipped on a busy pool");
        assert!(availability.is_up());
    }

    #[tokio::test]
    async fn a_failure_marks_down_and_the_probe_marks_up_again() {
        let db = memory_database().await;
        let availability = Availability::new(db);
        let mut changes = availability.subscribe();
        let refused = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))));
        let err = availability.check(Error::internal("read store", refused));
        assert!(err.is_unavailable());
        assert!(!availability.is_up());
        tokio::time::timeout(Duration::from_secs(5), changes.wait_for(|up| *up))
            .await
            .expect("probe marks up")
            .expect("sender alive");
        assert!(availability.is_up());
    }
}
