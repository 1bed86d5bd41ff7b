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
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

use crate::{
    domain::{
        admin::{Admin, random_token},
        ports::{EngineCatalog, StoreRepository, TenantRepository},
        service::{NoCluster, StoreService},
        tenancy::GlobalLimits,
    },
    engines::FileCatalog,
    grpc::{
        AdminApi, AuditApi, EngineApi, InfoApi, StoreApi,
        gate::{AuthMode, Gate, RateLimit},
    },
    persistence,
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
    let repo: Arc<dyn StoreRepository> =
        persistence::repository(db, Arc::clone(&wake), config.watch_history, config.limits);
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

    let catalog: Arc<dyn EngineCatalog> = match &config.engines_file {
        Some(path) => Arc::new(FileCatalog::load(path)?),
        None => Arc::new(FileCatalog::empty()),
    };
    let engine_count = catalog.engines().len();
    let driver = Arc::new(NoCluster::new(Arc::clone(&repo)));
    let service = StoreService::new(repo, Arc::clone(&catalog), driver);
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
    let info_api = InfoApi::new(
        config.auth,
        backend,
        "none",
        vec!["No cluster backend is configured: stores are recorded but not provisioned.".into()],
    );
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

    tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(cors(&config.cors_allow_origins)?)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(StoreServiceServer::new(store_api))
        .add_service(EngineServiceServer::new(EngineApi::new(catalog, gate)))
        .add_service(AdminServiceServer::new(admin_api))
        .add_service(AuditServiceServer::new(audit_api))
        .add_service(InfoServiceServer::new(info_api))
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
