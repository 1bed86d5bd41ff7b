//! The `storeplane` command.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use storeplane::{
    domain::{
        TenantId,
        admin::Admin,
        ports::TenantRepository,
        tenancy::{Caller, GlobalLimits, Quota, Role},
    },
    grpc::gate::{AuthMode, ClientAddresses, IpRange, RateLimit, RateLimits},
    persistence, server,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

mod cli;

/// mimalloc instead of glibc's malloc: a provisioning burst allocates many
/// short-lived values on every thread, where glibc spent about a third of
/// the process's CPU (see the provisioning benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[derive(Args)]
struct SimClusterArgs {
    /// Address of the simulated API server.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write a kubeconfig for it here.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Kubelet delays: `0s` for tests, a few seconds for demos.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    delay: Duration,
}

#[derive(Subcommand)]
enum ChartCommand {
    /// Print a chart's manifests like `helm template`.
    Render {
        /// Chart directory.
        chart: PathBuf,
        /// Release name.
        #[arg(long, default_value = "release-name")]
        release: String,
        /// Namespace.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Values files, in order.
        #[arg(short = 'f', long = "values")]
        values: Vec<PathBuf>,
        /// `key=value` overrides, Helm's `--set` syntax.
        #[arg(long = "set")]
        set: Vec<String>,
        /// `key=value` overrides kept as strings.
        #[arg(long = "set-string")]
        set_string: Vec<String>,
        /// Render with `helm template` through this Helm binary instead of
        /// the built-in engine (the output is parsed and printed the same way).
        #[arg(long, env = "STOREPLANE_HELM_BINARY")]
        helm_binary: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ClusterArg {
    /// A kubeconfig if one is found, else the simulated cluster.
    Auto,
    /// The in-process simulated cluster.
    Simulated,
    /// A real cluster from the kubeconfig.
    Kubernetes,
    /// No cluster: record stores only.
    None,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Tenants, in the database.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API tokens, in the database.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Lowercase DNS label, e.g. `acme`.
        id: String,
        /// Name shown to people (default: the id).
        #[arg(long, default_value = "")]
        display_name: String,
        #[command(flatten)]
        quota: cli::QuotaArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tenants and their quotas.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (once).
    Create {
        #[command(flatten)]
        token: cli::TokenArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this tenant's.
        #[arg(long, default_value = "")]
        tenant: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (the part after `spt_`, before the second `_`).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum AuthArg {
    Required,
    Disabled,
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
    /// Browser origins on other sites allowed to call the API (comma
    /// separated; `*`: any, refused with `--auth disabled`). Default: none,
    /// same origin only (the dashboard is served from the API's origin).
    #[arg(long, env = "STOREPLANE_CORS_ALLOW_ORIGINS", value_delimiter = ',')]
    cors_allow_origins: Vec<String>,
    /// `disabled` makes every caller an administrator: local development only.
    #[arg(long, env = "STOREPLANE_AUTH", value_enum, default_value_t = AuthArg::Required)]
    auth: AuthArg,
    /// Where the first administrator token is written (mode 0600) when the
    /// database has none. Default: `<data dir>/admin-token`.
    #[arg(long, env = "STOREPLANE_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// Mutating calls per second per tenant (0: unlimited).
    #[arg(long, env = "STOREPLANE_RATE_LIMIT_PER_TENANT", default_value_t = 10)]
    rate_limit_per_tenant: u32,
    /// Burst of mutating calls per tenant.
    #[arg(
        long,
        env = "STOREPLANE_RATE_LIMIT_BURST_PER_TENANT",
        default_value_t = 50
    )]
    rate_limit_burst_per_tenant: u32,
    /// Mutating calls per second per client address (0: unlimited).
    #[arg(long, env = "STOREPLANE_RATE_LIMIT_PER_ADDRESS", default_value_t = 20)]
    rate_limit_per_address: u32,
    /// Burst of mutating calls per client address.
    #[arg(
        long,
        env = "STOREPLANE_RATE_LIMIT_BURST_PER_ADDRESS",
        default_value_t = 100
    )]
    rate_limit_burst_per_address: u32,
    /// Reads (gets, lists, watch starts, events) per second per tenant (0: unlimited).
    #[arg(
        long,
        env = "STOREPLANE_READ_RATE_LIMIT_PER_TENANT",
        default_value_t = 50
    )]
    read_rate_limit_per_tenant: u32,
    /// Burst of reads per tenant.
    #[arg(
        long,
        env = "STOREPLANE_READ_RATE_LIMIT_BURST_PER_TENANT",
        default_value_t = 200
    )]
    read_rate_limit_burst_per_tenant: u32,
    /// Reads per second per client address, before authentication (0: unlimited).
    #[arg(
        long,
        env = "STOREPLANE_READ_RATE_LIMIT_PER_ADDRESS",
        default_value_t = 100
    )]
    read_rate_limit_per_address: u32,
    /// Burst of reads per client address.
    #[arg(
        long,
        env = "STOREPLANE_READ_RATE_LIMIT_BURST_PER_ADDRESS",
        default_value_t = 400
    )]
    read_rate_limit_burst_per_address: u32,
    /// Proxies (addresses or CIDR ranges, comma separated) whose
    /// `X-Forwarded-For` names the client for per-address limits. Default:
    /// none; the header is ignored and the peer address counts.
    #[arg(long, env = "STOREPLANE_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Most open connections per client address (0: unlimited). Trusted
    /// proxies are exempt.
    #[arg(
        long,
        env = "STOREPLANE_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 64
    )]
    max_connections_per_address: usize,
    /// Most open WatchStores streams per tenant (0: unlimited).
    #[arg(long, env = "STOREPLANE_MAX_WATCHES_PER_TENANT", default_value_t = 100)]
    max_watches_per_tenant: usize,
    /// Audit entries older than this are deleted, hourly and at start-up
    /// (`0s`: kept forever).
    #[arg(long, env = "STOREPLANE_AUDIT_RETENTION", default_value = "90d", value_parser = humantime::parse_duration)]
    audit_retention: Duration,
    /// Most stores on the platform (default: unlimited).
    #[arg(long, env = "STOREPLANE_MAX_STORES")]
    max_stores: Option<u32>,
    /// Most stores provisioning at once on the platform (default: unlimited).
    #[arg(long, env = "STOREPLANE_MAX_CONCURRENT_PROVISIONS")]
    max_concurrent_provisions: Option<u32>,
    /// Built dashboard to serve at `/` (`cargo xtask run` builds and sets it).
    #[arg(long, env = "STOREPLANE_DASHBOARD_DIR")]
    dashboard_dir: Option<PathBuf>,
    /// Which cluster to provision on.
    #[arg(long, env = "STOREPLANE_CLUSTER", value_enum, default_value_t = ClusterArg::Auto)]
    cluster: ClusterArg,
    /// Kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, in-cluster).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long, env = "STOREPLANE_KUBE_CONTEXT")]
    kube_context: Option<String>,
    /// Also serve the simulated cluster's API here (for kubectl).
    #[arg(long, env = "STOREPLANE_SIM_APISERVER_ADDR")]
    sim_apiserver_addr: Option<SocketAddr>,
    /// Write a kubeconfig for the simulated API server here.
    #[arg(long)]
    sim_write_kubeconfig: Option<PathBuf>,
    /// Simulated kubelet delay (`0s`: instant).
    #[arg(long, env = "STOREPLANE_SIM_DELAY", default_value = "3s", value_parser = humantime::parse_duration)]
    sim_delay: Duration,
    /// Directory of plugin bundles (engines).
    #[arg(long, env = "STOREPLANE_PLUGINS_DIR")]
    plugins_dir: Option<PathBuf>,
    /// Operator grants for plugins (TOML); default: grant what each asks.
    #[arg(long, env = "STOREPLANE_PLUGIN_GRANTS")]
    plugin_grants: Option<PathBuf>,
    /// Cache of compiled plugins.
    #[arg(long, env = "STOREPLANE_PLUGIN_CACHE")]
    plugin_cache: Option<PathBuf>,
    /// Render engine charts with `helm template` through this Helm binary
    /// instead of the built-in engine (`.Release.Revision` is then always 1).
    #[arg(long, env = "STOREPLANE_HELM_BINARY")]
    helm_binary: Option<PathBuf>,
    /// Wall-clock deadline of one plugin call.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    plugin_timeout: Duration,
    /// Memory limit of one plugin call, in MiB.
    #[arg(long, default_value_t = 128)]
    plugin_memory_mib: usize,
    /// Stores are served at `<name>.<base-domain>`.
    #[arg(long, env = "STOREPLANE_BASE_DOMAIN", default_value = "localhost")]
    base_domain: String,
    /// ClusterRole to bind, in each store namespace storeplane creates, to
    /// `--store-role-subject` (RoleBinding `storeplane-access`): how
    /// storeplane's own access to store namespaces is granted when its
    /// ServiceAccount holds no namespaced rights of its own (the chart).
    #[arg(long, env = "STOREPLANE_STORE_ROLE", requires = "store_role_subject")]
    store_role: Option<String>,
    /// Who `--store-role` is bound to: this process's own user name in the
    /// API server, `system:serviceaccount:<namespace>:<name>` (a
    /// ServiceAccount) or any other name (a User).
    #[arg(long, env = "STOREPLANE_STORE_ROLE_SUBJECT", requires = "store_role")]
    store_role_subject: Option<String>,
    /// Ingress class for store Ingresses.
    #[arg(long, env = "STOREPLANE_INGRESS_CLASS")]
    ingress_class: Option<String>,
    /// Namespace of the ingress controller, which each store's network
    /// policy lets in (`ingress-nginx`; k3s's Traefik runs in `kube-system`).
    #[arg(
        long,
        env = "STOREPLANE_INGRESS_NAMESPACE",
        default_value = "ingress-nginx"
    )]
    ingress_namespace: String,
    /// Storage class for store volumes.
    #[arg(long, env = "STOREPLANE_STORAGE_CLASS")]
    storage_class: Option<String>,
    /// cert-manager ClusterIssuer; setting it turns TLS on.
    #[arg(long, env = "STOREPLANE_CLUSTER_ISSUER")]
    cluster_issuer: Option<String>,
    /// Provisioning that takes longer fails.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    provision_timeout: Duration,
    /// Stores reconciled at once.
    #[arg(long, default_value_t = 16)]
    reconcile_concurrency: usize,
    /// Where to serve Prometheus metrics (`/metrics`).
    #[arg(long, env = "STOREPLANE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Export traces over OTLP/gRPC to this collector, e.g.
    /// `http://127.0.0.1:4317` (spans from each API call through the
    /// reconciler, plugin calls and Kubernetes requests).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Delete orphaned store namespaces (labelled as this installation's,
    /// with no store record) after `--orphan-grace`. Off by default:
    /// orphans are only reported (log, metric, `AdminService`).
    #[arg(long, env = "STOREPLANE_DELETE_ORPHANS")]
    delete_orphans: bool,
    /// How long an orphan is reported before `--delete-orphans` deletes it.
    #[arg(long, env = "STOREPLANE_ORPHAN_GRACE", default_value = "10m", value_parser = humantime::parse_duration)]
    orphan_grace: Duration,
    /// This replica's identity for store leases (default: host name and
    /// process id). A stable identity (e.g. the StatefulSet pod name) lets a
    /// restarted replica resume its own leases at once. Never give two
    /// running replicas the same one: they would both hold its leases.
    #[arg(long, env = "STOREPLANE_REPLICA_ID")]
    replica_id: Option<String>,
    /// How long a replica's claim on a store lasts unless renewed (it is
    /// renewed every third of this while a run lasts). A replica that dies
    /// holding a store delays it by at most this much.
    #[arg(long, env = "STOREPLANE_STORE_LEASE", default_value = "15s", value_parser = humantime::parse_duration)]
    store_lease: Duration,
    /// On SIGTERM, how long reconcile runs in flight may take before they
    /// are abandoned and their leases handed back to the other replicas
    /// (and how long open connections may take to close). A second signal
    /// exits at once.
    #[arg(long, env = "STOREPLANE_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
}

fn rate_limit(per_second: u32, burst: u32) -> Option<RateLimit> {
    Some(RateLimit {
        per_second: NonZeroU32::new(per_second)?,
        burst: NonZeroU32::new(burst.max(1))?,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let otlp = match &cli.command {
        Command::Serve(args) => args.otlp_endpoint.clone(),
        _ => None,
    };
    let tracing_export = match init_logging(cli.log_format, otlp.as_deref()) {
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
            let trusted = args
                .trusted_proxies
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    IpRange::parse(p).with_context(|| {
                        format!("--trusted-proxies: {p:?} is not an address or CIDR range")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            server::serve(
                server::ServeConfig {
                    listen: args.listen,
                    database_url: args.db.url(),
                    engines_file: args.engines_file.clone(),
                    watch_heartbeat: args.watch_heartbeat,
                    watch_history: args.watch_history,
                    cors_allow_origins: args.cors_allow_origins.clone(),
                    auth: match args.auth {
                        AuthArg::Required => AuthMode::Required,
                        AuthArg::Disabled => AuthMode::Disabled,
                    },
                    admin_token_file: args
                        .admin_token_file
                        .clone()
                        .unwrap_or_else(|| args.db.data_dir.join("admin-token")),
                    rate_limits: RateLimits {
                        write_per_tenant: rate_limit(
                            args.rate_limit_per_tenant,
                            args.rate_limit_burst_per_tenant,
                        ),
                        write_per_address: rate_limit(
                            args.rate_limit_per_address,
                            args.rate_limit_burst_per_address,
                        ),
                        read_per_tenant: rate_limit(
                            args.read_rate_limit_per_tenant,
                            args.read_rate_limit_burst_per_tenant,
                        ),
                        read_per_address: rate_limit(
                            args.read_rate_limit_per_address,
                            args.read_rate_limit_burst_per_address,
                        ),
                    },
                    client_addresses: ClientAddresses::new(trusted),
                    max_connections_per_address: (args.max_connections_per_address > 0)
                        .then_some(args.max_connections_per_address),
                    max_watches_per_tenant: (args.max_watches_per_tenant > 0)
                        .then_some(args.max_watches_per_tenant),
                    audit_retention: (!args.audit_retention.is_zero())
                        .then_some(args.audit_retention),
                    limits: GlobalLimits {
                        max_stores: args.max_stores,
                        max_concurrent_provisions: args.max_concurrent_provisions,
                    },
                    dashboard_dir: args.dashboard_dir.clone(),
                    cluster: cluster_choice(&args),
                    plugins: plugin_options(&args)?,
                    platform: platform(&args),
                    reconcile_concurrency: args.reconcile_concurrency.max(1),
                    metrics_listen: args.metrics_listen,
                    orphan_deletion: args.delete_orphans.then_some(args.orphan_grace),
                    shutdown_timeout: args.shutdown_timeout,
                    replica: args.replica_id.clone().unwrap_or_else(|| {
                        format!(
                            "{}-{}",
                            std::env::var("HOSTNAME").unwrap_or_else(|_| "storeplane".into()),
                            std::process::id()
                        )
                    }),
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
        Command::Db(DbCommand::Tenant(command)) | Command::Tenant(command) => {
            tenant_command(command).await
        }
        Command::Db(DbCommand::Token(command)) | Command::Token(command) => {
            token_command(command).await
        }
        Command::SimCluster(args) => sim_cluster(args).await,
        Command::Chart(command) => chart_command(command),
        Command::Login(_)
        | Command::Stores { .. }
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

fn cluster_choice(args: &ServeArgs) -> server::ClusterChoice {
    let simulated = || server::ClusterChoice::Simulated {
        config: storeplane_sim_cluster::SimConfig::default().with_delays(args.sim_delay),
        apiserver: args.sim_apiserver_addr,
        kubeconfig_out: args.sim_write_kubeconfig.clone(),
    };
    let kubernetes = || server::ClusterChoice::Kubernetes {
        kubeconfig: args.kubeconfig.clone(),
        context: args.kube_context.clone(),
    };
    match args.cluster {
        ClusterArg::None => server::ClusterChoice::None,
        ClusterArg::Simulated => simulated(),
        ClusterArg::Kubernetes => kubernetes(),
        ClusterArg::Auto
            if args.kubeconfig.is_some() || storeplane::cluster::kubeconfig_available() =>
        {
            kubernetes()
        }
        ClusterArg::Auto => simulated(),
    }
}

fn plugin_options(args: &ServeArgs) -> anyhow::Result<Option<server::PluginOptions>> {
    let Some(dir) = &args.plugins_dir else {
        return Ok(None);
    };
    let grants = match &args.plugin_grants {
        Some(path) => storeplane_plugin_host::Grants::parse(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        None => storeplane_plugin_host::Grants::all_requested(),
    };
    Ok(Some(server::PluginOptions {
        dir: dir.clone(),
        cache_dir: args.plugin_cache.clone(),
        grants,
        call_timeout: args.plugin_timeout,
        memory_limit: args.plugin_memory_mib.max(1) << 20,
        helm_binary: args.helm_binary.clone(),
    }))
}

fn platform(args: &ServeArgs) -> storeplane::reconcile::PlatformConfig {
    let mut platform = storeplane::reconcile::PlatformConfig::local();
    platform.base_domain = args.base_domain.clone();
    platform.ingress_class = args.ingress_class.clone();
    platform.ingress_namespace = args.ingress_namespace.clone();
    platform.storage_class = args.storage_class.clone();
    platform.tls = args.cluster_issuer.is_some();
    platform.cluster_issuer = args.cluster_issuer.clone();
    platform.provision_timeout = args.provision_timeout;
    // A lease shorter than a second would be renewed more often than the
    // database is worth asking.
    platform.lease = args.store_lease.max(Duration::from_secs(1));
    platform.store_access = args
        .store_role
        .as_ref()
        .zip(args.store_role_subject.as_ref())
        .map(|(role, subject)| storeplane::reconcile::StoreAccess::new(role, subject));
    platform
}

async fn sim_cluster(args: SimClusterArgs) -> anyhow::Result<()> {
    let cluster = storeplane_sim_cluster::SimCluster::new(
        storeplane_sim_cluster::SimConfig::default().with_delays(args.delay),
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(path) = &args.write_kubeconfig {
        storeplane_sim_cluster::write_kubeconfig(path, &url).await?;
    }
    println!("storeplane simulated cluster at {url}");
    info!(%url, "simulated cluster serving; try: kubectl --server {url} get ns");
    tokio::select! {
        result = cluster.serve(listener) => result?,
        _ = tokio::signal::ctrl_c() => info!("stopping"),
    }
    Ok(())
}

fn chart_command(command: ChartCommand) -> anyhow::Result<()> {
    use storeplane_chart::{Chart, RenderOptions, Values};
    match command {
        ChartCommand::Render {
            chart,
            release,
            namespace,
            values,
            set,
            set_string,
            helm_binary,
        } => {
            let dir = chart;
            let chart = Chart::load(&dir)?;
            let mut merged = serde_json::Value::Object(serde_json::Map::new());
            for file in &values {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                merged = Values::merge(&merged, &Values::from_yaml(&text)?);
            }
            for expression in &set {
                Values::apply_set(&mut merged, expression)?;
            }
            for expression in &set_string {
                Values::apply_set_string(&mut merged, expression)?;
            }
            let options = RenderOptions {
                release_name: release,
                namespace,
                values: merged,
                ..RenderOptions::default()
            };
            let rendered = match helm_binary {
                Some(helm) => {
                    storeplane_chart::HelmBinary::new(helm).render(&chart, &dir, &options)?
                }
                None => chart.render(&options)?,
            };
            print!("{}", rendered.to_helm_template_output());
            Ok(())
        }
    }
}

/// The operator at the command line acts as an administrator.
fn operator() -> Caller {
    Caller {
        tenant: TenantId::default_tenant(),
        token_id: None,
        role: Role::Admin,
        address: None,
        expires_at: None,
    }
}

async fn admin(db: &DbArgs) -> anyhow::Result<Admin> {
    let conn = persistence::connect(&db.url()).await?;
    persistence::migrate(&conn).await?;
    let repo: Arc<dyn TenantRepository> = Arc::new(persistence::SqlTenantRepository::new(conn));
    Ok(Admin::new(repo))
}

fn show_limit(limit: Option<u32>) -> String {
    limit.map_or_else(|| "unlimited".into(), |l| l.to_string())
}

async fn tenant_command(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            id,
            display_name,
            quota,
            db,
        } => {
            let quota = Quota {
                max_stores: quota.max_stores,
                max_concurrent_provisions: quota.max_concurrent_provisions,
                allowed_engines: quota.allowed_engines.clone(),
            };
            let tenant = admin(&db)
                .await?
                .create_tenant(&operator(), &id, &display_name, quota)
                .await?;
            println!("created tenants/{}", tenant.id.0);
        }
        TenantCommand::List { db } => {
            println!(
                "{:<24} {:<32} {:>10} {:>13}  ENGINES",
                "ID", "NAME", "STORES", "PROVISIONING"
            );
            for t in admin(&db).await?.tenants(&operator()).await? {
                let engines = if t.quota.allowed_engines.is_empty() {
                    "all".to_owned()
                } else {
                    t.quota.allowed_engines.join(",")
                };
                println!(
                    "{:<24} {:<32} {:>10} {:>13}  {engines}",
                    t.id.0,
                    t.display_name,
                    show_limit(t.quota.max_stores),
                    show_limit(t.quota.max_concurrent_provisions),
                );
            }
        }
    }
    Ok(())
}

async fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { token, db } => {
            let role = match token.role {
                cli::RoleArg::Admin => Role::Admin,
                cli::RoleArg::Member => Role::Member,
            };
            let issued = admin(&db)
                .await?
                .create_token(
                    &operator(),
                    &token.tenant,
                    Some(role),
                    &token.description,
                    token.expires_in,
                )
                .await?;
            eprintln!(
                "created token {} for tenants/{} ({}); it is shown once:",
                issued.token.id,
                issued.token.tenant.0,
                issued.token.role.as_str()
            );
            println!("{}", issued.secret);
        }
        TokenCommand::List { tenant, db } => {
            println!(
                "{:<18} {:<24} {:<7} {:<26} {:<10}  DESCRIPTION",
                "ID", "TENANT", "ROLE", "EXPIRES", "STATE"
            );
            for t in admin(&db).await?.tokens(&operator(), &tenant).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.is_valid_at(chrono::Utc::now()) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "{:<18} {:<24} {:<7} {:<26} {:<10}  {}",
                    t.id,
                    t.tenant.0,
                    t.role.as_str(),
                    t.expires_at
                        .map_or_else(|| "never".into(), |e| e.to_rfc3339()),
                    state,
                    t.description
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let token = admin(&db).await?.revoke_token(&operator(), &id).await?;
            println!("revoked token {}", token.id);
        }
    }
    Ok(())
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
