//! Failures of the persistence adapter itself (connecting, migrating).
//! Query failures become `domain::Error::Internal`, or
//! `domain::Error::Unavailable` when the database did not answer (see
//! `availability::classify`).

/// What failed while opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached.
    #[error("cannot connect to database {url}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// Cause.
        #[source]
        source: sea_orm::DbErr,
    },
    /// The SQLite file's directory could not be created.
    #[error("cannot create data directory {path}")]
    CreateDataDir {
        /// The directory.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[source] sea_orm::DbErr),
}

/// Persistence results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
