//! The `storeplane` command: parses the command line, sets up logging and
//! hands each subcommand to its module (`commands` for the server's own,
//! `cli` for the client commands).

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use commands::{
    chart::{self, ChartCommand},
    db::{self, DbArgs, DbCommand},
    serve::{self, ServeArgs},
    sim_cluster::{self, SimClusterArgs},
    tenant::{self, TenantCommand},
    token::{self, TokenCommand},
};

mod cli;
mod commands;

/// jemalloc instead of glibc's malloc: a provisioning burst allocates many
/// short-lived values on every thread, where glibc spent about a third of
/// the process's CPU (see the provisioning benchmark). jemalloc rather
/// than mimalloc (the allocator before it, as fast in a burst): its
/// background threads give the memory a burst freed back to the system
/// once it has been unused for about 10 s, whichever thread freed it,
/// where mimalloc kept the burst's high-water mark resident (managing
/// 3,050 stores, idle: 92.0 MiB with mimalloc, 74.9 with jemalloc;
/// ARCHITECTURE.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

/// `--log-format`: text for people, JSON for a log pipeline.
#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The subcommands. The server's own take their arguments from
/// `commands`, the client commands from `cli`.
#[derive(Subcommand)]
enum Command {
    /// Serve the API (gRPC, gRPC-web, reflection, health) on one port.
    /// Runs pending migrations first.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Administer tenants and tokens directly in the database (no server
    /// needed: the first administrator token, recovery).
    #[command(subcommand)]
    Db(DbCommand),
    /// `db tenant`, under its first name.
    #[command(subcommand, hide = true)]
    Tenant(TenantCommand),
    /// `db token`, under its first name.
    #[command(subcommand, hide = true)]
    Token(TokenCommand),
    /// Check a server and token and save them for the client commands
    /// (`$XDG_CONFIG_HOME/storeplane/config.toml`, mode 0600).
    Login(cli::ClientArgs),
    /// Stores, through the API.
    Stores {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::StoresCommand,
    },
    /// Backups, through the API (take and restore them with `stores
    /// backup|restore`, clone with `stores create --from-backup`).
    Backups {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::BackupsCommand,
    },
    /// Engines, through the API.
    Engines {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::EnginesCommand,
    },
    /// The audit log, through the API.
    Audit {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::AuditCommand,
    },
    /// API tokens, through the API (administrators).
    Tokens {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::TokensCommand,
    },
    /// Tenants, through the API (administrators).
    Tenants {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::TenantsCommand,
    },
    /// Orphaned store namespaces, through the API (administrators).
    Orphans {
        #[command(flatten)]
        client: cli::ClientArgs,
        #[command(subcommand)]
        command: cli::OrphansCommand,
    },
    /// Print shell completions, e.g. `storeplane completions bash >
    /// /etc/bash_completion.d/storeplane`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Run the simulated cluster as its own process (kubectl-compatible).
    SimCluster(SimClusterArgs),
    /// Render and inspect Helm charts with storeplane's chart engine.
    #[command(subcommand)]
    Chart(ChartCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let otlp = match &cli.command {
        Command::Serve(args) => args.otlp_endpoint(),
        _ => None,
    };
    let tracing_export = match init_logging(cli.log_format, otlp) {
        Ok(export) => export,
        Err(error) => {
            eprintln!("Error: {error:?}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The client commands exit with their documented codes.
    match &cli.command {
        Command::Login(args) => return cli::run(cli::login(args)).await,
        Command::Stores { client, command } => return cli::run(cli::stores(client, command)).await,
        Command::Backups { client, command } => {
            return cli::run(cli::backups(client, command)).await;
        }
        Command::Engines { client, command } => {
            return cli::run(cli::engines(client, command)).await;
        }
        Command::Audit { client, command } => return cli::run(cli::audit(client, command)).await,
        Command::Tokens { client, command } => return cli::run(cli::tokens(client, command)).await,
        Command::Tenants { client, command } => {
            return cli::run(cli::tenants(client, command)).await;
        }
        Command::Orphans { client, command } => {
            return cli::run(cli::orphans(client, command)).await;
        }
        Command::Completions { shell } => {
            cli::completions(*shell, &mut <Cli as clap::CommandFactory>::command());
            return std::process::ExitCode::SUCCESS;
        }
        _ => {}
    }
    let result = server_command(cli.command).await;
    if let Some(export) = tracing_export {
        export.shutdown();
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The server's own commands (serve, migrate, db, sim-cluster, chart).
async fn server_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            serve::run(*args, shutdown).await
        }
        Command::Migrate(db) => db::migrate(&db).await,
        Command::Db(DbCommand::Tenant(command)) | Command::Tenant(command) => {
            tenant::run(command).await
        }
        Command::Db(DbCommand::Token(command)) | Command::Token(command) => {
            token::run(command).await
        }
        Command::SimCluster(args) => sim_cluster::run(args).await,
        Command::Chart(command) => chart::run(command),
        Command::Login(_)
        | Command::Stores { .. }
        | Command::Backups { .. }
        | Command::Engines { .. }
        | Command::Audit { .. }
        | Command::Tokens { .. }
        | Command::Tenants { .. }
        | Command::Orphans { .. }
        | Command::Completions { .. } => {
            anyhow::bail!("a client command reached the server's dispatch")
        }
    }
}

/// Log lines to stderr, and with `otlp` spans to an OTLP collector too.
fn init_logging(
    format: LogFormat,
    otlp: Option<&str>,
) -> anyhow::Result<Option<storeplane::telemetry::Tracing>> {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,h2=warn,tower=warn"));
    // Colour only for a person at a terminal, and never with NO_COLOR
    // (https://no-color.org): log files and pipes get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    }
    .with_filter(filter);
    let Some(endpoint) = otlp else {
        tracing_subscriber::registry().with(fmt).init();
        return Ok(None);
    };
    let (export, layer) = storeplane::telemetry::Tracing::otlp(endpoint)
        .with_context(|| format!("--otlp-endpoint {endpoint}"))?;
    // Spans of storeplane's own work, and kube's per-request `HTTP` spans
    // (at debug level there), whatever the log filter says.
    let spans = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("kube_client", tracing::Level::DEBUG)
        .with_target("h2", tracing::Level::WARN)
        .with_target("tower", tracing::Level::WARN);
    tracing_subscriber::registry()
        .with(fmt)
        .with(layer.with_filter(spans))
        .init();
    Ok(Some(export))
}

/// Cancels `shutdown` (a graceful stop, see `server::serve`) on SIGINT or
/// SIGTERM; a second signal exits at once, for an operator who will not
/// wait for the runs in flight.
async fn stop_on_signal(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received; shutting down"),
        _ = term.recv() => info!("SIGTERM received; shutting down"),
    }
    shutdown.cancel();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    warn!("second signal: exiting without waiting for the shutdown to finish");
    std::process::exit(130);
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks (duplicate flags, conflicting globals)
    /// over every subcommand, which otherwise only fail when one is run.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
