//! `storeplane serve`: the API server with its reconciler, from flags and
//! environment variables to a `server::ServeConfig`.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use storeplane::{
    domain::tenancy::GlobalLimits,
    grpc::gate::{AuthMode, ClientAddresses, IpRange, RateLimit, RateLimits},
    server,
};
use tokio_util::sync::CancellationToken;

use super::db::DbArgs;

/// `storeplane serve`.
#[derive(Args)]
pub struct ServeArgs {
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
    /// Where backup archives are kept (on a cluster: a volume of their
    /// own, shared by the replicas). Default: `<data dir>/backups`.
    #[arg(long, env = "STOREPLANE_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// How backup and restore Jobs reach this API port, e.g.
    /// `http://storeplane.storeplane.svc:50051`. Default: `http://` and the
    /// listen address.
    #[arg(long, env = "STOREPLANE_BACKUP_URL")]
    backup_url: Option<String>,
    /// How long a Job's archive URL stays valid (with a bucket: at most
    /// 7 days).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    backup_url_ttl: Duration,
    /// Keep backups in this S3-compatible bucket instead of
    /// `--backup-dir`: Jobs get presigned URLs of
    /// `<prefix><backup id>.tar.gz`; the keys come from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`) and never reach the plugins. The control plane
    /// downloads each finished backup once to measure its size and SHA-256.
    #[arg(long, env = "STOREPLANE_BACKUP_S3_BUCKET")]
    backup_s3_bucket: Option<String>,
    /// The bucket's S3 endpoint, addressed path-style, e.g.
    /// `https://s3.eu-central-1.amazonaws.com` or `http://minio:9000`.
    /// Default: AWS's endpoint of `--backup-s3-region`.
    #[arg(
        long,
        env = "STOREPLANE_BACKUP_S3_ENDPOINT",
        requires = "backup_s3_bucket"
    )]
    backup_s3_endpoint: Option<String>,
    /// The bucket's region (signed into every URL).
    #[arg(long, env = "STOREPLANE_BACKUP_S3_REGION", default_value = "us-east-1")]
    backup_s3_region: String,
    /// Prefix of the archives' object keys in the bucket.
    #[arg(
        long,
        env = "STOREPLANE_BACKUP_S3_PREFIX",
        default_value = "storeplane/"
    )]
    backup_s3_prefix: String,
    /// Image of the containers that move backup archives (needs `sh`,
    /// `tar`, `gzip`, `sha256sum` and `curl`).
    #[arg(long, env = "STOREPLANE_TRANSFER_IMAGE", default_value = storeplane::reconcile::DEFAULT_TRANSFER_IMAGE)]
    transfer_image: String,
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

impl ServeArgs {
    /// `--otlp-endpoint`, read before the server starts because logging
    /// must be set up first.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref()
    }
}

/// `--cluster`.
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

/// `--auth`. (Its values carry no doc comments on purpose: clap would
/// print them in `--help`.)
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum AuthArg {
    Required,
    Disabled,
}

/// Serves until `shutdown` is cancelled, then stops gracefully (see
/// `server::serve`).
pub async fn run(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
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
                .unwrap_or_else(|| args.db.data_dir().join("admin-token")),
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
            audit_retention: (!args.audit_retention.is_zero()).then_some(args.audit_retention),
            limits: GlobalLimits {
                max_stores: args.max_stores,
                max_concurrent_provisions: args.max_concurrent_provisions,
            },
            dashboard_dir: args.dashboard_dir.clone(),
            backups: server::BackupOptions {
                dir: args
                    .backup_dir
                    .clone()
                    .unwrap_or_else(|| args.db.data_dir().join("backups")),
                url: args.backup_url.clone(),
                url_ttl: args.backup_url_ttl,
                s3: args
                    .backup_s3_bucket
                    .clone()
                    .map(|bucket| storeplane::archives::S3Options {
                        endpoint: args.backup_s3_endpoint.clone().unwrap_or_else(|| {
                            format!("https://s3.{}.amazonaws.com", args.backup_s3_region)
                        }),
                        bucket,
                        region: args.backup_s3_region.clone(),
                        prefix: args.backup_s3_prefix.clone(),
                    }),
            },
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

/// A rate limit from its two flags: a rate of 0 turns it off, and a burst
/// of 0 would refuse every call, so it counts as 1.
fn rate_limit(per_second: u32, burst: u32) -> Option<RateLimit> {
    Some(RateLimit {
        per_second: NonZeroU32::new(per_second)?,
        burst: NonZeroU32::new(burst.max(1))?,
    })
}

/// Resolves `--cluster auto`: a kubeconfig that can be found means the
/// operator has a cluster in mind.
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

/// The plugin host's options, or none without `--plugins-dir`.
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

/// What the reconciler needs to know about the cluster it provisions on.
fn platform(args: &ServeArgs) -> storeplane::reconcile::PlatformConfig {
    let mut platform = storeplane::reconcile::PlatformConfig::local();
    platform.base_domain = args.base_domain.clone();
    platform.ingress_class = args.ingress_class.clone();
    platform.ingress_namespace = args.ingress_namespace.clone();
    platform.storage_class = args.storage_class.clone();
    platform.tls = args.cluster_issuer.is_some();
    platform.cluster_issuer = args.cluster_issuer.clone();
    platform.provision_timeout = args.provision_timeout;
    platform.transfer_image = args.transfer_image.clone();
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
