//! `storeplane serve`: wires the adapters together and serves gRPC,
//! gRPC-web, reflection and health on one port.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use http::{HeaderName, HeaderValue, Method};
use storeplane_proto::v1::{
    engine_service_server::EngineServiceServer, store_service_server::StoreServiceServer,
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::info;

use crate::{
    domain::{
        ports::{EngineCatalog, StoreRepository},
        service::{NoCluster, StoreService},
    },
    engines::FileCatalog,
    grpc::{EngineApi, StoreApi},
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
}

/// Runs the control plane until `shutdown` is cancelled. Prints
/// `storeplane listening on http://<addr>` on stdout once it accepts calls.
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
    let repo: Arc<dyn StoreRepository> =
        persistence::repository(db, Arc::clone(&wake), config.watch_history);
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
        hub,
        WatchOptions {
            heartbeat: config.watch_heartbeat,
        },
        shutdown.clone(),
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<StoreServiceServer<StoreApi>>().await;
    health.set_serving::<EngineServiceServer<EngineApi>>().await;
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
        .add_service(EngineServiceServer::new(EngineApi::new(catalog)))
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
