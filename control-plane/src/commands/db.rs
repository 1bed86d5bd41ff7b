//! The database, straight from the command line: `storeplane migrate` and
//! `storeplane db …`. No server is needed, which is how the first
//! administrator token is made and how a lost one is recovered.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::{Args, Subcommand};
use storeplane::{
    domain::{
        TenantId,
        admin::Admin,
        ports::TenantRepository,
        tenancy::{Caller, Role},
    },
    persistence,
};
use tracing::info;

use super::{tenant::TenantCommand, token::TokenCommand};

/// Which database: shared by `serve`, `migrate` and `db`, so that they all
/// find the same one by default.
#[derive(Args)]
pub struct DbArgs {
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`) URL. Default: a
    /// SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded default keeps its SQLite database.
    #[arg(long, env = "STOREPLANE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

impl DbArgs {
    /// The database URL, `--database-url` or else the SQLite file in the
    /// data directory (created on first use: `mode=rwc`).
    pub fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("storeplane.db").display()
            )
        })
    }

    /// The data directory, also the default home of other local files.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// `storeplane db …`
#[derive(Subcommand)]
pub enum DbCommand {
    /// Tenants, in the database.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API tokens, in the database.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `storeplane migrate`: applies the pending migrations.
pub async fn migrate(db: &DbArgs) -> anyhow::Result<()> {
    let url = db.url();
    let conn = persistence::connect(&url).await?;
    persistence::migrate(&conn).await?;
    info!(database = %persistence::redact(&url), "migrations applied");
    Ok(())
}

/// The administration use cases on the database, migrated first so that
/// `db` works on a database no server has opened yet.
pub async fn admin(db: &DbArgs) -> anyhow::Result<Admin> {
    let conn = persistence::connect(&db.url()).await?;
    persistence::migrate(&conn).await?;
    let repo: Arc<dyn TenantRepository> = Arc::new(persistence::SqlTenantRepository::new(conn));
    Ok(Admin::new(repo))
}

/// The operator at the command line acts as an administrator.
pub fn operator() -> Caller {
    Caller {
        tenant: TenantId::default_tenant(),
        token_id: None,
        role: Role::Admin,
        address: None,
        expires_at: None,
    }
}
