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
use tokio_stream::wrappers::TcpListenerStream;
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
        ports::StoreDriver,
        ports::{EngineCatalog, StoreRepository, TenantRepository},
        service::{NoCluster, StoreService},
        tenancy::GlobalLimits,
    },
    engines::FileCatalog,
    grpc::{
        AdminApi, AuditApi, EngineApi, InfoApi, StoreApi,
        gate::{AuthMode, Gate, RateLimit},
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
    /// Origins allowed to call the API from a browser; `*` for any.
    pub cors_allow_origins: Vec<String>,
    /// Whether callers need tokens.
    pub auth: AuthMode,
    /// Rate limit of mutating calls per tenant.
    pub rate_limit_per_tenant: Option<RateLimit>,
    /// Rate limit of mutating calls per client address.
    pub rate_limit_per_address: Option<RateLimit>,
    /// Platform-wide caps.
    pub limits: GlobalLimits,
    /// Built dashboard (index.html, JS, wasm, CSS) served at `/`.
    pub dashboard_dir: Option<PathBuf>,
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

/// Runs the control plane until `shutdown` is cancelled. Prints
/// `storeplane listening on http://<addr>` on stdout once it accepts calls,
/// preceded, on the first start of a database, by the administrator token
/// (`storeplane admin token: spt_…`), which is shown nowhere else.
pub async fn serve(config: ServeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = persistence::connect(&config.database_url).await?;
    persistence::migrate(&db).await?;
    let backend = if persistence::is_postgres(&db) {
        "postgres"
    } else {
        "sqlite"
    };

    let wake = Arc::new(Notify::new());
    if persistence::is_postgres(&db) {
        watch::spawn_listener(
            db.get_postgres_connection_pool().clone(),
            Arc::clone(&wake),
            shutdown.clone(),
        );
    }
    let tenants = Arc::new(persistence::SqlTenantRepository::new(db.clone()));
    let config_db = db.clone();
    let repo: Arc<dyn StoreRepository> = persistence::repository(
        db.clone(),
        Arc::clone(&wake),
        config.watch_history,
        config.limits,
    );
    match config.auth {
        AuthMode::Required => {
            let secret = random_token()?;
            if tenants
                .bootstrap_admin_token(&secret.id, &secret.hash)
                .await?
            {
                info!(token = %secret.id, "created the first administrator token; it is printed once on stdout");
                println!("storeplane admin token: {}", secret.token);
                println!(
                    "  (shown once; use it as `authorization: Bearer <token>` and create more with `storeplane token create`)"
                );
            }
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
    let gate = Arc::new(Gate::new(
        config.auth,
        Arc::clone(&tenants) as Arc<dyn TenantRepository>,
        Arc::clone(&tenants) as Arc<dyn crate::domain::ports::AuditLog>,
        config.rate_limit_per_tenant,
        config.rate_limit_per_address,
    ));
    let start = repo
        .latest_seq()
        .await
        .context("reading the change log position")?;
    let hub = ChangeHub::spawn(Arc::clone(&repo), wake, start, shutdown.clone());

    // The cluster, real or simulated, as a kube::Client.
    let mut notices = Vec::new();
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

    let metrics = Arc::new(Metrics::new());
    let (catalog, plugin_host): (Arc<dyn EngineCatalog>, Option<Arc<PluginHost>>) =
        match (&config.plugins, &kube) {
            (Some(options), Some(kube)) => {
                let releases = Arc::new(persistence::ReleaseRepository::new(db.clone()));
                let backend = Arc::new(
                    PlatformBackend::new(Arc::clone(kube), releases, Arc::clone(&repo))
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
                    notices.push(format!("A plugin was rejected: {rejected}"));
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
    let driver: Arc<dyn StoreDriver> = match (&kube, &plugin_host) {
        (Some(kube), Some(host)) => Arc::new(
            Reconciler::start(
                Arc::new(Context {
                    repo: Arc::clone(&repo),
                    plugins: Arc::clone(host),
                    kube: Arc::clone(kube),
                    platform: config.platform.clone(),
                    replica: config.replica.clone(),
                    metrics: Arc::clone(&metrics),
                }),
                &hub,
                config.reconcile_concurrency,
                shutdown.clone(),
            )
            .await,
        ),
        _ => Arc::new(NoCluster::new(Arc::clone(&repo))),
    };
    if let Some(addr) = config.metrics_listen {
        let counts_db = config_db.clone();
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
    let service = StoreService::new(Arc::clone(&repo), Arc::clone(&catalog), driver);
    let store_api = StoreApi::new(
        service,
        Arc::clone(&gate),
        hub,
        WatchOptions {
            heartbeat: config.watch_heartbeat,
        },
        shutdown.clone(),
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<StoreServiceServer<StoreApi>>().await;
    health.set_serving::<EngineServiceServer<EngineApi>>().await;
    health.set_serving::<AdminServiceServer<AdminApi>>().await;
    health.set_serving::<AuditServiceServer<AuditApi>>().await;
    health.set_serving::<InfoServiceServer<InfoApi>>().await;
    let info_api = InfoApi::new(config.auth, backend, cluster_kind, notices);
    let admin_api = AdminApi::new(
        Admin::new(Arc::clone(&tenants) as Arc<dyn TenantRepository>),
        Arc::clone(&gate),
    );
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

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    info!(address = %local, database = backend, engines = engine_count, "storeplane serving");
    println!("storeplane listening on http://{local}");

    let stopping = shutdown.clone();
    let drain_health = health.clone();
    let stopped = async move {
        stopping.cancelled().await;
        drain_health
            .set_not_serving::<StoreServiceServer<StoreApi>>()
            .await;
        info!("shutting down: streams end, in-flight calls finish");
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
    if let Some(dir) = &config.dashboard_dir {
        crate::dashboard::mount(&mut routes, dir)?;
    }

    tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(cors(&config.cors_allow_origins)?)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopped)
        .await
        .context("serving gRPC")?;
    info!("stopped");
    Ok(())
}

/// CORS for browsers on other origins calling the gRPC-web API.
fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let allow_origin = if origins.is_empty() || origins.iter().any(|o| o == "*") {
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
    Ok(CorsLayer::new()
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
        .max_age(Duration::from_secs(24 * 60 * 60)))
}
