//! The `storeplane` command.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use storeplane::{persistence, server};
use tokio_util::sync::CancellationToken;
use tracing::info;
use tracing_subscriber::EnvFilter;

/// storeplane: provisions isolated e-commerce stores on Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log line format.
    #[arg(long, env = "STOREPLANE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (gRPC, gRPC-web, reflection, health) on one port.
    /// Runs pending migrations first.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
}

#[derive(Args)]
struct DbArgs {
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`) URL. Default: a
    /// SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded default keeps its SQLite database.
    #[arg(long, env = "STOREPLANE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

impl DbArgs {
    fn url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("storeplane.db").display()
            )
        })
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address for gRPC and gRPC-web (port 0: any free port).
    #[arg(long, env = "STOREPLANE_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    /// JSON file listing the engines and their configuration schemas.
    #[arg(long, env = "STOREPLANE_ENGINES_FILE")]
    engines_file: Option<PathBuf>,
    /// Heartbeat interval of idle WatchStores streams.
    #[arg(long, env = "STOREPLANE_WATCH_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    watch_heartbeat: Duration,
    /// How many store changes are kept so watchers can resume.
    #[arg(long, env = "STOREPLANE_WATCH_HISTORY", default_value_t = 10_000)]
    watch_history: u64,
    /// Browser origins allowed to call the API (comma separated; `*`: any).
    #[arg(
        long,
        env = "STOREPLANE_CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    cors_allow_origins: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            server::serve(
                server::ServeConfig {
                    listen: args.listen,
                    database_url: args.db.url(),
                    engines_file: args.engines_file,
                    watch_heartbeat: args.watch_heartbeat,
                    watch_history: args.watch_history,
                    cors_allow_origins: args.cors_allow_origins,
                },
                shutdown,
            )
            .await
        }
        Command::Migrate(db) => {
            let url = db.url();
            let conn = persistence::connect(&url).await?;
            persistence::migrate(&conn).await?;
            info!(database = %persistence::redact(&url), "migrations applied");
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,h2=warn,tower=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
        _ = term.recv() => info!("SIGTERM received"),
    }
    shutdown.cancel();
    Ok(())
}
