//! The write transaction of the store repository.
//!
//! On PostgreSQL it is sea-orm's transaction. On SQLite it holds the one
//! writer connection (a [`PoolConnection`]) and sends the transaction's
//! `BEGIN` with its first statement and, when the caller knows its last
//! statements, the `COMMIT` with them ([`Held::finish`]). Each
//! statement sent to SQLite is a round trip to sqlx's worker thread and
//! back, two thread switches that cost more than the statement (see
//! `SqlStoreRepository::record`); sea-orm's transaction sends `BEGIN` and
//! `COMMIT` each on its own, so a store update (begin, its batch, commit)
//! was three round trips where one does.
//!
//! A transaction that ends without its commit (an error, a caller that
//! returns early, a future dropped mid-write) is rolled back on the same
//! connection before the connection goes back to the pool: the pool has
//! that one connection, and whatever ran on it next would otherwise run
//! inside the abandoned transaction.

use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt as _;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, RuntimeErr, Statement, TransactionTrait, Values, error::ConnAcquireErr,
};
use sea_query_sqlx::SqlxValues;
use sqlx::{
    Either, Sqlite,
    pool::PoolConnection,
    sqlite::{SqliteQueryResult, SqliteRow},
};
use tokio::sync::Mutex;

/// A write transaction (see the module documentation).
pub(in crate::persistence) enum WriteTxn {
    /// sea-orm's transaction (PostgreSQL).
    Pooled(DatabaseTransaction),
    /// The SQLite writer connection, held for the transaction.
    Held(Held),
}

/// The SQLite half of [`WriteTxn`].
pub(in crate::persistence) struct Held {
    state: Mutex<HeldState>,
}

struct HeldState {
    /// `None` once the transaction has ended and the connection is back.
    conn: Option<PoolConnection<Sqlite>>,
    /// Whether `BEGIN` has been sent (with the first statement).
    begun: bool,
}

/// What SQLite answered to one trip: each statement's result in order,
/// and the rows the statements returned.
struct Trip {
    results: Vec<SqliteQueryResult>,
    rows: Vec<SqliteRow>,
}

impl WriteTxn {
    /// Starts a write transaction on `db`: sea-orm's on PostgreSQL, the
    /// held writer connection on SQLite (nothing is sent yet).
    pub(in crate::persistence) async fn begin(db: &DatabaseConnection) -> Result<Self, DbErr> {
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let conn = db
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(acquire_error)?;
                Ok(Self::Held(Held {
                    state: Mutex::new(HeldState {
                        conn: Some(conn),
                        begun: false,
                    }),
                }))
            }
            _ => Ok(Self::Pooled(db.begin().await?)),
        }
    }

    /// Commits what the transaction wrote (nothing to send on SQLite when
    /// nothing was).
    pub(in crate::persistence) async fn commit(self) -> Result<(), DbErr> {
        match self {
            Self::Pooled(txn) => txn.commit().await,
            Self::Held(held) => {
                let mut state = held.state.lock().await;
                if state.begun {
                    state
                        .trip(Statement::from_string(DbBackend::Sqlite, "COMMIT"), false)
                        .await?;
                }
                state.conn = None;
                Ok(())
            }
        }
    }

    /// Ends the transaction without writing anything of it.
    pub(in crate::persistence) async fn rollback(self) -> Result<(), DbErr> {
        match self {
            Self::Pooled(txn) => txn.rollback().await,
            Self::Held(held) => {
                let mut state = held.state.lock().await;
                state.rollback().await
            }
        }
    }
}

impl Held {
    /// Runs `statements`, each meant to change one row, as the
    /// transaction's last and commits, in one round trip (with the `BEGIN`
    /// too when nothing ran before). Says how many rows each changed and
    /// the last inserted row id of each.
    ///
    /// Every statement after the first must be a single-row `INSERT …
    /// VALUES (…)`: it runs only if the statement before it changed exactly
    /// one row (see [`chained`]), so a first statement that misses (a
    /// conditional update whose condition no longer holds) commits nothing
    /// at all, and the caller sees the miss in the counts.
    pub(in crate::persistence) async fn finish(
        self,
        statements: Vec<Statement>,
    ) -> Result<Vec<SqliteQueryResult>, DbErr> {
        let count = statements.len();
        let mut batch = Vec::with_capacity(count);
        for (i, statement) in statements.into_iter().enumerate() {
            batch.push(if i == 0 {
                statement
            } else {
                chained(statement)?
            });
        }
        let mut state = self.state.lock().await;
        let trip = state.trip(sqlite_batch(batch), true).await?;
        // Committed: the connection goes back to the pool.
        state.conn = None;
        Ok(trip.results)
    }
}

impl HeldState {
    /// Sends `statement` (a list of statements) to SQLite, after `BEGIN`
    /// when nothing was sent before and followed by `COMMIT` when
    /// `commit`; the results and rows are the statement's own. A failed
    /// statement leaves SQLite's transaction open, as on any connection
    /// (the caller may go on, as a create does to tell a taken name from
    /// another refusal); a trip that was to commit rolls back instead.
    async fn trip(&mut self, statement: Statement, commit: bool) -> Result<Trip, DbErr> {
        let begin = !self.begun;
        let mut sql = String::with_capacity(statement.sql.len() + 32);
        if begin {
            // IMMEDIATE: the write lock at once, so a transaction that
            // reads before it writes cannot fail to upgrade its lock.
            sql.push_str("BEGIN IMMEDIATE;\n");
        }
        sql.push_str(&statement.sql);
        if commit {
            sql.push_str(";\nCOMMIT");
        }
        let values = SqlxValues(statement.values.unwrap_or(Values(Vec::new())));
        let conn = self.conn.as_mut().ok_or_else(ended)?;
        // Begun from the moment the `BEGIN` may run: a call dropped while
        // this trip is in flight leaves the rollback to `Drop`.
        self.begun = true;
        let mut results = Vec::new();
        let mut rows = Vec::new();
        let outcome = {
            // A list of statements with bound values, one result per
            // statement: only SQLite's driver runs them, and sqlx marks
            // that deprecated in favour of `raw_sql`, which binds nothing.
            // sea-orm's own SQLite connections run the same way whenever
            // a statement holds several (the batches of `record`).
            #[allow(deprecated)]
            let mut answers =
                sqlx::query_with(sqlx::AssertSqlSafe(sql), values).fetch_many(&mut **conn);
            loop {
                match answers.try_next().await {
                    Ok(Some(Either::Left(result))) => results.push(result),
                    Ok(Some(Either::Right(row))) => rows.push(row),
                    Ok(None) => break Ok(()),
                    Err(err) => break Err(err),
                }
            }
        };
        // Not begun after all if the `BEGIN` sent with this trip failed.
        self.begun = !begin || !results.is_empty();
        if let Err(err) = outcome {
            if commit {
                // The `COMMIT` did not run: end the transaction here.
                let _ = self.rollback().await;
            }
            return Err(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))));
        }
        if begin && !results.is_empty() {
            results.remove(0);
        }
        if commit {
            // SQLite reports the last change count again for `COMMIT`.
            results.pop();
        }
        Ok(Trip { results, rows })
    }

    /// Rolls back on the held connection; one that cannot is closed
    /// instead of going back to the pool (closing rolls back).
    async fn rollback(&mut self) -> Result<(), DbErr> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        if !self.begun {
            return Ok(());
        }
        match sqlx::query("ROLLBACK").execute(&mut *conn).await {
            Ok(_) => Ok(()),
            // A failure that rolled back by itself leaves no transaction.
            Err(err) if err.to_string().contains("no transaction is active") => Ok(()),
            Err(err) => {
                conn.close_on_drop();
                Err(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err))))
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if state.conn.is_none() || !state.begun {
            return;
        }
        // Ended without commit or rollback (an early return, a cancelled
        // call): the connection stays out of the pool until rolled back.
        let mut state = HeldState {
            conn: state.conn.take(),
            begun: true,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(err) = state.rollback().await {
                        tracing::warn!(error = %err, "cannot roll back an abandoned write; its connection is closed");
                    }
                });
            }
            Err(_) => {
                if let Some(conn) = state.conn.as_mut() {
                    conn.close_on_drop();
                }
            }
        }
    }
}

#[async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pooled(txn) => txn.get_database_backend(),
            Self::Held(_) => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pooled(txn) => txn.execute_raw(stmt).await,
            Self::Held(held) => {
                let trip = held.state.lock().await.trip(stmt, false).await?;
                Ok(ExecResult::from(summed(trip.results)))
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pooled(txn) => txn.execute_unprepared(sql).await,
            Self::Held(_) => {
                self.execute_raw(Statement::from_string(DbBackend::Sqlite, sql))
                    .await
            }
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pooled(txn) => txn.query_one_raw(stmt).await,
            Self::Held(_) => Ok(self.query_all_raw(stmt).await?.into_iter().next()),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pooled(txn) => txn.query_all_raw(stmt).await,
            Self::Held(held) => {
                let trip = held.state.lock().await.trip(stmt, false).await?;
                Ok(trip.rows.into_iter().map(QueryResult::from).collect())
            }
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Self::Pooled(txn) => txn.support_returning(),
            // sea-orm's `sqlite-use-returning-for-3_35`, as for its own
            // SQLite connections.
            Self::Held(_) => true,
        }
    }
}

/// The results of a list of statements as one, as sqlx sums them.
fn summed(results: Vec<SqliteQueryResult>) -> SqliteQueryResult {
    let mut total = SqliteQueryResult::default();
    total.extend(results);
    total
}

/// `statements` as one SQLite statement list: their placeholders are
/// positional (`?`), and sqlx binds a list's values in order across its
/// statements, so the values concatenate as the text does.
pub(in crate::persistence) fn sqlite_batch(statements: Vec<Statement>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&statement.sql);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

/// A single-row `INSERT INTO t (…) VALUES (…)` as `INSERT INTO t (…)
/// SELECT … WHERE changes() = 1`: it inserts its row only if the statement
/// run just before it changed exactly one row, which SQLite's `changes()`
/// says. sea-query builds every insert of one row in the first form, its
/// values bound as parameters, so the text has no literal that could hold
/// the keyword; any other shape is refused rather than run unchained.
fn chained(insert: Statement) -> Result<Statement, DbErr> {
    const VALUES: &str = " VALUES (";
    let sql = insert.sql.as_str();
    let rewritten = sql
        .starts_with("INSERT INTO ")
        .then(|| sql.rfind(VALUES))
        .flatten()
        .filter(|_| sql.ends_with(')'))
        .and_then(|at| {
            let values = &sql[at + VALUES.len()..sql.len() - 1];
            // Placeholders only: one row, nothing after it.
            values
                .chars()
                .all(|c| matches!(c, '?' | ',' | ' '))
                .then(|| format!("{} SELECT {values} WHERE changes() = 1", &sql[..at]))
        })
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "a statement after a batch's first must be a one-row insert: {sql}"
            ))
        })?;
    Ok(Statement {
        sql: rewritten,
        ..insert
    })
}

fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn ended() -> DbErr {
    DbErr::Custom("the write transaction has already ended".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_after_the_first_statement_runs_only_if_the_one_before_changed_a_row() {
        let insert = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            r#"INSERT INTO "store_events" ("store_id", "reason") VALUES (?, ?)"#,
            ["a".into(), "b".into()],
        );
        let rewritten = chained(insert).expect("a one-row insert");
        assert_eq!(
            rewritten.sql,
            r#"INSERT INTO "store_events" ("store_id", "reason") SELECT ?, ? WHERE changes() = 1"#
        );
        assert_eq!(rewritten.values.expect("values").0.len(), 2);
        for refused in [
            r#"UPDATE "stores" SET "name" = ?"#,
            r#"INSERT INTO "t" ("a") VALUES (?), (?)"#,
            r#"INSERT INTO "t" ("a") VALUES (?) RETURNING "a""#,
        ] {
            assert!(
                chained(Statement::from_string(DbBackend::Sqlite, refused)).is_err(),
                "{refused}"
            );
        }
    }
}
