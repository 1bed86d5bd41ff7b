//! `storeplane serve`: wires the adapters together and serves gRPC,
//! gRPC-web, reflection and health on one port.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use http::{HeaderName, HeaderValue, Method};
use storeplane_proto::v1::{
    admin_service_server::AdminServiceServer, audit_service_server::AuditServiceServer,
    engine_service_server::EngineServiceServer, info_service_server::InfoServiceServer,
    store_service_server::StoreServiceServer,
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tower::Layer as _;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

use storeplane_plugin_host::{Grants, HostConfig, PluginHost};
use storeplane_sim_cluster::{SimCluster, SimConfig};

use crate::{
    cluster::{self, KubeOps, PlatformBackend},
    domain::{
        admin::{Admin, random_token},
        ports::{EngineCatalog, StoreRepository, TenantRepository},
        ports::{ReleaseStore, SecretReader},
        service::{NoCluster, StoreService},
        tenancy::GlobalLimits,
    },
    engines::FileCatalog,
    grpc::{
        AdminApi, AuditApi, EngineApi, InfoApi, StoreApi, connections,
        gate::{AuthMode, ClientAddresses, Gate, RateLimits},
    },
    metrics::Metrics,
    persistence,
    plugins::PluginCatalog,
    reconcile::{Context, PlatformConfig, Reconciler},
    watch::{self, ChangeHub, WatchOptions},
};

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address of the gRPC / gRPC-web port (port 0 picks a free one).
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// JSON file listing the engines; none means no engines.
    pub engines_file: Option<PathBuf>,
    /// Heartbeat interval of idle watch streams.
    pub watch_heartbeat: Duration,
    /// How many changes are kept for resuming watches.
    pub watch_history: u64,
    /// Origins allowed to call the API from a browser; `*` for any. Empty
    /// (the default): same origin only, no CORS headers at all.
    pub cors_allow_origins: Vec<String>,
    /// Whether callers need tokens.
    pub auth: AuthMode,
    /// Where the first administrator token is written (mode 0600).
    pub admin_token_file: PathBuf,
    /// Rate limits of reads and writes, per tenant and per client address.
    pub rate_limits: RateLimits,
    /// Whose `X-Forwarded-For` names the client (trusted proxies).
    pub client_addresses: ClientAddresses,
    /// Most open connections per client address (`None`: no cap).
    pub max_connections_per_address: Option<usize>,
    /// Most open `WatchStores` streams per tenant (`None`: no cap).
    pub max_watches_per_tenant: Option<usize>,
    /// Audit entries older than this are deleted (`None`: kept forever).
    pub audit_retention: Option<Duration>,
    /// Platform-wide caps.
    pub limits: GlobalLimits,
    /// Built dashboard (index.html, JS, wasm, CSS) served at `/`.
    pub dashboard_dir: Option<PathBuf>,
    /// Where backups are kept and how Jobs reach them.
    pub backups: BackupOptions,
    /// Which cluster stores are provisioned on.
    pub cluster: ClusterChoice,
    /// Plugin bundles; `None` keeps the engines file's catalog.
    pub plugins: Option<PluginOptions>,
    /// How stores are laid out on the cluster.
    pub platform: PlatformConfig,
    /// Stores reconciled at once.
    pub reconcile_concurrency: usize,
    /// Where to serve Prometheus metrics; `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// This replica's name (lease holder); defaults to host name + pid.
    pub replica: String,
    /// `--delete-orphans`: delete this installation's orphaned namespaces
    /// after this grace period; `None`: report them only.
    pub orphan_deletion: Option<Duration>,
    /// After SIGTERM: how long reconcile runs in flight may take before
    /// they are abandoned (their leases handed back), and how long open
    /// connections may take to close.
    pub shutdown_timeout: Duration,
}

/// Where backups are kept (see [`crate::archives`]).
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The archive directory (a volume of its own on a cluster).
    pub dir: PathBuf,
    /// How backup Jobs reach this API port (`http://host:port`); `None`:
    /// `http://` and the listen address (a loopback address on a laptop,
    /// where the simulated cluster's Jobs run in this process).
    pub url: Option<String>,
    /// How long a Job's archive URL is valid.
    pub url_ttl: Duration,
    /// An S3-compatible bucket instead of `dir` (credentials from the
    /// environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub s3: Option<crate::archives::S3Options>,
}

/// Which cluster to provision on.
#[derive(Debug, Clone)]
pub enum ClusterChoice {
    /// None: stores are recorded but not provisioned (API development).
    None,
    /// The in-process simulated cluster, optionally also served over HTTP
    /// (for kubectl) and described by a kubeconfig written to a file.
    Simulated {
        /// Kubelet delays and watch history.
        config: SimConfig,
        /// Loopback address for the simulated API server.
        apiserver: Option<SocketAddr>,
        /// Where to write a kubeconfig for it.
        kubeconfig_out: Option<PathBuf>,
    },
    /// A real cluster from a kubeconfig (or in-cluster config).
    Kubernetes {
        /// Kubeconfig file; `None`: `KUBECONFIG`, `~/.kube/config`, in-cluster.
        kubeconfig: Option<PathBuf>,
        /// Context to use.
        context: Option<String>,
    },
}

/// How plugins are loaded and sandboxed.
#[derive(Debug, Clone)]
pub struct PluginOptions {
    /// Bundles directory.
    pub dir: PathBuf,
    /// Compiled-component cache.
    pub cache_dir: Option<PathBuf>,
    /// What the operator grants.
    pub grants: Grants,
    /// Deadline of one call.
    pub call_timeout: Duration,
    /// Memory limit of one call.
    pub memory_limit: usize,
    /// Render engine charts with `helm template` through this binary
    /// instead of the built-in engine.
    pub helm_binary: Option<PathBuf>,
}

/// How often expired audit entries are deleted. A retention is counted in
/// days, so an hourly purge keeps the table within an hour of it.
const AUDIT_PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// HTTP/2 PING interval on idle connections: dead peers (a laptop that
/// went to sleep, a dropped NAT mapping) are found and their watches freed.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a PING may go unanswered before the connection is closed.
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the control plane until `shutdown` is cancelled. Prints
/// `storeplane listening on http://<addr>` on stdout once it accepts calls,
/// preceded, on the first start of a database, by
/// `storeplane admin token written to <path>`: the first administrator
/// token goes to that file (mode 0600), never to stdout or the log.
///
/// Shutting down (SIGTERM), in this order and within about
/// `shutdown_timeout` plus a few seconds:
/// 1. every service's health turns NOT_SERVING, and only then the listener
///    closes; calls in flight finish, open watches send what was committed
///    and end with `UNAVAILABLE` (`ShuttingDown`), to be resumed elsewhere;
/// 2. meanwhile the reconciler starts no run; runs in flight get
///    `shutdown_timeout` to finish, then are abandoned and hand their leases
///    back;
/// 3. on PostgreSQL the other replicas are told (`storeplane_handoff`),
///    and queue every store that needs work again: they take this
///    replica's stores over at once, not when its leases or timers lapse.
pub async fn serve(config: ServeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.auth == AuthMode::Disabled && config.cors_allow_origins.iter().any(|o| o == "*") {
        anyhow::bail!(
            "--cors-allow-origins '*' with --auth disabled would let any web page the \
             browser opens act as an administrator; name the origins instead"
        );
    }
    let db = persistence::connect(&config.database_url).await?;
    persistence::migrate(&db).await?;
    let backend = if persistence::is_postgres(&db) {
        "postgres"
    } else {
        "sqlite"
    };
    let connections = persistence::Connections::open(&config.database_url, db.clone()).await?;
    let availability = persistence::Availability::new(connections.probe.clone());

    let wake = Arc::new(Notify::new());
    let handed_back = Arc::new(Notify::new());
    let postgres = persistence::is_postgres(&db).then(|| db.get_postgres_connection_pool().clone());
    if let Some(pool) = &postgres {
        watch::spawn_listener(
            pool.clone(),
            Arc::clone(&wake),
            Arc::clone(&handed_back),
            availability.clone(),
            shutdown.clone(),
        );
    }
    let tenants = Arc::new(
        persistence::SqlTenantRepository::new(connections.writer.clone())
            .with_reader(connections.api_reader.clone())
            .with_availability(availability.clone()),
    );
    let counts_db = connections.api_reader.clone();
    // The API and the reconciler write through the same writer (on SQLite,
    // its one connection) but read on connections of their own: see
    // `persistence::Connections`.
    let repo: Arc<dyn StoreRepository> = persistence::routed_repository(
        connections.writer.clone(),
        connections.api_reader.clone(),
        Arc::clone(&wake),
        config.watch_history,
        config.limits,
        availability.clone(),
    );
    let reconciler_repo: Arc<dyn StoreRepository> = persistence::routed_repository(
        connections.reconciler_writer.clone(),
        connections.reconciler_reader.clone(),
        Arc::clone(&wake),
        config.watch_history,
        config.limits,
        availability.clone(),
    );
    match config.auth {
        AuthMode::Required => {
            bootstrap_admin_token(&tenants, &config.admin_token_file).await?;
        }
        AuthMode::Disabled => {
            warn!(
                "AUTHENTICATION IS DISABLED: every caller is an administrator; local development only"
            );
            println!(
                "storeplane: WARNING authentication is disabled (--auth disabled): every caller is an administrator"
            );
        }
    }
    let metrics = Arc::new(Metrics::new());
    let gate = Arc::new(Gate::new(
        config.auth,
        Arc::clone(&tenants) as Arc<dyn TenantRepository>,
        Arc::clone(&tenants) as Arc<dyn crate::domain::ports::AuditLog>,
        config.rate_limits,
        config.client_addresses.clone(),
        Arc::clone(&metrics),
    ));
    if let Some(retention) = config.audit_retention {
        spawn_audit_pruning(
            Arc::clone(&tenants),
            retention,
            Arc::clone(&metrics),
            shutdown.clone(),
        );
    }
    let start = repo
        .latest_seq()
        .await
        .context("reading the change log position")?;
    let hub = ChangeHub::spawn(Arc::clone(&repo), wake, start, shutdown.clone());

    // The cluster, real or simulated, as a kube::Client.
    let mut notices = Vec::new();
    let mut admin_notices = Vec::new();
    let (kube, cluster_kind) = match &config.cluster {
        ClusterChoice::None => {
            notices.push(
                "No cluster is configured: stores are recorded but not provisioned.".to_owned(),
            );
            (None, "none")
        }
        ClusterChoice::Simulated {
            config: sim,
            apiserver,
            kubeconfig_out,
        } => {
            let cluster = SimCluster::new(sim.clone());
            if let Some(addr) = apiserver {
                let listener = TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot listen on {addr} for the simulated API server")
                })?;
                let url = format!("http://{}", listener.local_addr()?);
                let serving = cluster.serve(listener);
                tokio::spawn(async move {
                    if let Err(err) = serving.await {
                        warn!(error = %err, "simulated API server stopped");
                    }
                });
                if let Some(path) = kubeconfig_out {
                    storeplane_sim_cluster::write_kubeconfig(path, &url).await?;
                }
                info!(%url, "simulated cluster API served (kubectl --server {url})");
                println!("storeplane simulated cluster at {url}");
            }
            notices.push(format!(
                "The cluster is simulated: nothing really runs; workloads become ready after about {} s.",
                sim.pod_start_delay.as_secs()
            ));
            (Some(cluster.client()), "simulated")
        }
        ClusterChoice::Kubernetes {
            kubeconfig,
            context,
        } => {
            let (client, server) =
                cluster::connect(kubeconfig.as_deref(), context.as_deref()).await?;
            info!(%server, "using Kubernetes cluster");
            (Some(client), "kubernetes")
        }
    };
    let kube = kube.map(|client| Arc::new(KubeOps::new(client)));
    // Every object storeplane creates carries this id; it acts only on
    // objects that do (see `cluster::ownership`).
    let installation = persistence::installation_id(&db)
        .await
        .context("reading the installation id")?;
    info!(%installation, "installation");
    let orphans = Arc::new(crate::reconcile::Orphans::default());

    // Release records are written by plugin calls and read by the
    // reconciler: on its connections.
    let releases: Arc<dyn ReleaseStore> = Arc::new(persistence::ReleaseRepository::new(
        connections.reconciler_writer.clone(),
    ));
    let (catalog, plugin_host): (Arc<dyn EngineCatalog>, Option<Arc<PluginHost>>) =
        match (&config.plugins, &kube) {
            (Some(options), Some(kube)) => {
                let backend = Arc::new(
                    PlatformBackend::new(
                        Arc::clone(kube),
                        installation,
                        Arc::clone(&releases),
                        Arc::clone(&reconciler_repo),
                    )
                    .with_helm_binary(
                        options
                            .helm_binary
                            .clone()
                            .map(storeplane_chart::HelmBinary::new),
                    ),
                );
                let host = PluginHost::load(
                    HostConfig {
                        plugins_dir: options.dir.clone(),
                        cache_dir: options.cache_dir.clone(),
                        grants: options.grants.clone(),
                        call_timeout: options.call_timeout,
                        memory_limit: options.memory_limit,
                        max_concurrent_calls: u32::try_from(config.reconcile_concurrency * 2 + 8)
                            .unwrap_or(64),
                    },
                    backend,
                )
                .await?;
                for rejected in host.rejected() {
                    warn!(error = %rejected, "plugin bundle rejected");
                    admin_notices.push(format!("A plugin was rejected: {rejected}"));
                }
                let host = Arc::new(host);
                (Arc::new(PluginCatalog::new(Arc::clone(&host))), Some(host))
            }
            (Some(_), None) => {
                anyhow::bail!("--plugins-dir needs a cluster (--cluster simulated or a kubeconfig)")
            }
            (None, _) => match &config.engines_file {
                Some(path) => (Arc::new(FileCatalog::load(path)?), None),
                None => (Arc::new(FileCatalog::empty()), None),
            },
        };
    let engine_count = catalog.engines().len();
    // Bound before the reconciler starts: its backup Jobs are handed URLs
    // of this port (with port 0, known only once bound). Calls wait in the
    // backlog until the services are served below.
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    let archives = match (&kube, &config.backups.s3) {
        (Some(_), Some(s3)) => {
            let credentials = crate::archives::S3Credentials::from_env().context(
                "a backup bucket needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
            )?;
            Some(Arc::new(
                crate::archives::Archives::bucket(s3, credentials, config.backups.url_ttl).await?,
            ))
        }
        (Some(_), None) => {
            let url = config
                .backups
                .url
                .clone()
                .unwrap_or_else(|| format!("http://{local}"));
            Some(Arc::new(crate::archives::Archives::open(
                &config.backups.dir,
                &url,
                config.backups.url_ttl,
            )?))
        }
        (None, _) => None,
    };
    let reconciler = match (&kube, &plugin_host) {
        (Some(kube), Some(host)) => Some(
            Reconciler::start(
                Arc::new(Context {
                    orphans: Arc::clone(&orphans),
                    orphan_deletion: config.orphan_deletion,
                    archives: archives.clone(),
                    ..Context::new(
                        Arc::clone(&reconciler_repo),
                        Arc::clone(host) as Arc<dyn crate::reconcile::EngineRuntime>,
                        Arc::clone(&releases),
                        Arc::clone(kube),
                        config.platform.clone(),
                        config.replica.clone(),
                        Arc::clone(&metrics),
                        installation,
                    )
                }),
                &hub,
                Arc::clone(&handed_back),
                config.reconcile_concurrency,
                shutdown.clone(),
            )
            .await,
        ),
        _ => None,
    };
    // With a reconciler, committed changes reach it through the change
    // hub; without one, NoCluster finishes deletions and answers reveals.
    let no_cluster = Arc::new(NoCluster::new(Arc::clone(&repo)));
    let secrets: Arc<dyn SecretReader> = match &kube {
        Some(kube) if reconciler.is_some() => Arc::clone(kube) as Arc<dyn SecretReader>,
        _ => Arc::clone(&no_cluster) as Arc<dyn SecretReader>,
    };
    if let Some(addr) = config.metrics_listen {
        let local = crate::metrics::serve(
            addr,
            Arc::clone(&metrics),
            move || {
                let db = counts_db.clone();
                async move { persistence::store_counts(&db).await }
            },
            shutdown.clone(),
        )
        .await?;
        println!("storeplane metrics at http://{local}/metrics");
    }
    let mut service = StoreService::new(Arc::clone(&repo), Arc::clone(&catalog), secrets)
        .with_platform_domain(config.platform.base_domain.clone());
    if let Some(archives) = &archives {
        service = service
            .with_archives(Arc::clone(archives) as Arc<dyn crate::domain::ports::ArchiveStore>);
    }
    if reconciler.is_none() {
        service = service.with_driver(no_cluster);
    } else if archives.is_some() {
        crate::schedule::spawn(service.clone(), &hub, shutdown.clone());
    }
    let store_api = StoreApi::new(
        service,
        Arc::clone(&gate),
        hub,
        WatchOptions {
            heartbeat: config.watch_heartbeat,
        },
        shutdown.clone(),
    )
    .with_max_watches_per_tenant(config.max_watches_per_tenant);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<StoreServiceServer<StoreApi>>().await;
    health.set_serving::<EngineServiceServer<EngineApi>>().await;
    health.set_serving::<AdminServiceServer<AdminApi>>().await;
    health.set_serving::<AuditServiceServer<AuditApi>>().await;
    health.set_serving::<InfoServiceServer<InfoApi>>().await;
    // Liveness says only that the process serves: a database outage makes
    // every other service NOT_SERVING (out of the load balancer), but
    // restarting the process would not bring the database back.
    health
        .set_service_status(LIVENESS_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    let health_down = spawn_health_follower(
        health.clone(),
        availability.clone(),
        Arc::clone(&metrics),
        shutdown.clone(),
    );
    let info_api = InfoApi::new(
        Arc::clone(&gate),
        backend,
        cluster_kind,
        notices,
        admin_notices,
    )
    .with_installation(&installation)
    .with_base_domain(if kube.is_some() {
        &config.platform.base_domain
    } else {
        ""
    });
    let admin_api = AdminApi::new(
        Admin::new(Arc::clone(&tenants) as Arc<dyn TenantRepository>),
        Arc::clone(&gate),
    )
    .with_orphans(kube.is_some().then(|| Arc::clone(&orphans)), &installation);
    let audit_api = AuditApi::new(tenants, Arc::clone(&gate));
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(storeplane_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // google.rpc error details, so grpcurl can print BadRequest & co.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building reflection v1")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(storeplane_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    info!(address = %local, database = backend, engines = engine_count, "storeplane serving");
    println!("storeplane listening on http://{local}");

    // The listener closes when this completes: only once health says
    // NOT_SERVING for every service, so no probe sees a closed port while
    // health still says SERVING.
    let stopping = shutdown.clone();
    let stopped = async move {
        stopping.cancelled().await;
        if health_down.await.is_err() {
            warn!("health reporting stopped early; closing the listener anyway");
        }
        info!(
            "shutting down: health NOT_SERVING, listener closed, streams end, calls in flight finish"
        );
    };

    // gRPC-web wraps each gRPC service rather than the whole server, so
    // plain HTTP/1.1 GETs for the dashboard's files reach the fallback.
    let web = tonic_web::GrpcWebLayer::new();
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(web.layer(health_service))
        .add_service(web.layer(reflection_v1))
        .add_service(web.layer(reflection_v1alpha))
        .add_service(web.layer(StoreServiceServer::new(store_api)))
        .add_service(web.layer(EngineServiceServer::new(EngineApi::new(catalog, gate))))
        .add_service(web.layer(AdminServiceServer::new(admin_api)))
        .add_service(web.layer(AuditServiceServer::new(audit_api)))
        .add_service(web.layer(InfoServiceServer::new(info_api)));
    let mut routes = routes.routes();
    if let Some(archives) = &archives {
        let router = std::mem::take(routes.axum_router_mut());
        *routes.axum_router_mut() = router.merge(archives.router());
    }
    if let Some(dir) = &config.dashboard_dir {
        crate::dashboard::mount(&mut routes, dir)?;
    }

    let incoming = connections::incoming(
        listener,
        config.max_connections_per_address,
        config.client_addresses.clone(),
        Arc::clone(&metrics),
    );
    let serving = tonic::transport::Server::builder()
        .trace_fn(crate::telemetry::grpc_span)
        .accept_http1(true)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .layer(tower::util::option_layer(cors(&config.cors_allow_origins)?))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stopped);
    let timeout = config.shutdown_timeout;
    let api = async {
        tokio::pin!(serving);
        // Graceful shutdown waits for every connection to close; a client
        // that keeps a stream open (a health Watch) must not hold the
        // replica up for ever.
        let overdue = async {
            shutdown.cancelled().await;
            tokio::time::sleep(timeout).await;
        };
        let served = tokio::select! {
            served = &mut serving => served.context("serving gRPC"),
            () = overdue => {
                warn!(timeout_ms = timeout.as_millis() as u64, "connections still open at the shutdown deadline; closing them");
                Ok(())
            }
        };
        // A server that failed takes the rest down with it.
        shutdown.cancel();
        served
    };
    let reconcile = async {
        shutdown.cancelled().await;
        let began = std::time::Instant::now();
        if let Some(reconciler) = &reconciler {
            reconciler.drain(timeout).await;
        }
        began
    };
    let (served, began) = tokio::join!(api, reconcile);
    // Only a replica that reconciles has work to hand back; after its
    // leases are released, so the others find the stores free.
    if let (Some(pool), Some(_)) = (&postgres, &reconciler) {
        match watch::hand_back(pool, &config.replica).await {
            Ok(()) => info!("told the other replicas to take this one's work over"),
            Err(err) => {
                warn!(error = %err, "cannot tell the other replicas; they take over as leases lapse")
            }
        }
    }
    info!(elapsed_ms = began.elapsed().as_millis() as u64, "stopped");
    served
}

/// Creates the first administrator token when the database has none and
/// writes it to `path` with mode 0600, never to stdout or the log (both end
/// up in log pipelines readable by more people than the token should be).
/// The token is written to a temporary file beside `path` first, so a file
/// that cannot be written loses no token: nothing is stored then.
async fn bootstrap_admin_token(
    tenants: &persistence::SqlTenantRepository,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

    let secret = random_token()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {} for the admin token", dir.display()))?;
    }
    let staged = path.with_extension(format!("tmp-{}", secret.id));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .with_context(|| format!("cannot write the admin token to {}", staged.display()))?;
    file.write_all(format!("{}\n", secret.token).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the admin token to {}", staged.display()))?;
    drop(file);
    let created = tenants
        .bootstrap_admin_token(&secret.id, &secret.hash)
        .await;
    if !matches!(created, Ok(true)) {
        let _ = std::fs::remove_file(&staged);
        created?;
        return Ok(());
    }
    std::fs::rename(&staged, path)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)))
        .with_context(|| {
            format!(
                "created the first administrator token {} but cannot move it to {}; it is in {}",
                secret.id,
                path.display(),
                staged.display()
            )
        })?;
    info!(token = %secret.id, path = %path.display(), "created the first administrator token");
    println!("storeplane admin token written to {}", path.display());
    println!(
        "  (mode 0600; send it as `authorization: Bearer <token>`, create more with `storeplane token create`, then delete the file)"
    );
    Ok(())
}

/// Deletes audit entries older than `retention` at start-up and then every
/// [`AUDIT_PRUNE_INTERVAL`]: a purge on a long timer, in batches, rather
/// than work on every append.
fn spawn_audit_pruning(
    tenants: Arc<persistence::SqlTenantRepository>,
    retention: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(AUDIT_PRUNE_INTERVAL);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let Ok(retention) = chrono::Duration::from_std(retention) else {
                return;
            };
            match tenants
                .prune_audit_log(chrono::Utc::now() - retention)
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    metrics.audit_pruned(n);
                    info!(deleted = n, "pruned audit entries past their retention");
                }
                Err(err) => warn!(error = %err, "cannot prune the audit log; next try in an hour"),
            }
        }
    });
}

/// The health service name for liveness probes: SERVING while the process
/// runs, whatever the database does.
pub const LIVENESS_SERVICE: &str = "storeplane.liveness";

/// Every service name health reports on; "" is the server as a whole.
const HEALTH_SERVICES: [&str; 6] = [
    "",
    "storeplane.v1.StoreService",
    "storeplane.v1.EngineService",
    "storeplane.v1.AdminService",
    "storeplane.v1.AuditService",
    "storeplane.v1.InfoService",
];

/// Mirrors the database's availability in `grpc.health.v1`: NOT_SERVING
/// from the first call that could not reach it until the probe gets an
/// answer (see `persistence::Availability`), SERVING again after. On
/// `shutdown` it turns every service NOT_SERVING for good and then
/// completes the returned receiver. It is the only writer of health, so
/// nothing can flip it back to SERVING during a shutdown.
fn spawn_health_follower(
    health: tonic_health::server::HealthReporter,
    availability: persistence::Availability,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> tokio::sync::oneshot::Receiver<()> {
    let mut changes = availability.subscribe();
    let (down, health_down) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut following = true;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                changed = changes.changed(), if following => {
                    if changed.is_err() {
                        following = false;
                        continue;
                    }
                    let up = *changes.borrow_and_update();
                    metrics.database_available(up);
                    let status = if up {
                        tonic_health::ServingStatus::Serving
                    } else {
                        tonic_health::ServingStatus::NotServing
                    };
                    for service in HEALTH_SERVICES {
                        health.set_service_status(service, status).await;
                    }
                }
            }
        }
        for service in HEALTH_SERVICES {
            health
                .set_service_status(service, tonic_health::ServingStatus::NotServing)
                .await;
        }
        let _ = down.send(());
    });
    health_down
}

/// CORS for browsers on other origins calling the gRPC-web API. No origins
/// (the default) means no CORS layer: browsers then allow the same origin
/// only, which is where the dashboard is served from.
fn cors(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    let origins: Vec<&String> = origins.iter().filter(|o| !o.trim().is_empty()).collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|o| *o == "*") {
        AllowOrigin::any()
    } else {
        let parsed = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).with_context(|| format!("bad CORS origin {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(parsed)
    };
    let headers = |names: &[&'static str]| {
        names
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect::<Vec<_>>()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(headers(&[
                "content-type",
                "x-grpc-web",
                "x-user-agent",
                "grpc-timeout",
                "authorization",
            ]))
            .expose_headers(headers(&[
                "grpc-status",
                "grpc-message",
                "grpc-status-details-bin",
            ]))
            .max_age(Duration::from_secs(24 * 60 * 60)),
    ))
}
