//! Prometheus metrics, served on their own port (`--metrics-listen`).

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::reconcile::Queue;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabels {
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    engine: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
}

/// The control plane's metrics.
pub struct Metrics {
    registry: Registry,
    stores: Family<PhaseLabels, Gauge>,
    provisioning_seconds: Family<EngineLabels, Histogram>,
    failures: Family<FailureLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    orphans: Counter,
    queue_depth: Gauge,
    queue: OnceLock<Queue>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("storeplane");
        let stores = Family::<PhaseLabels, Gauge>::default();
        let provisioning_seconds = Family::<EngineLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0])
        });
        let failures = Family::<FailureLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let orphans = Counter::default();
        let queue_depth = Gauge::default();
        registry.register("stores", "Stores by phase and engine", stores.clone());
        registry.register(
            "provisioning_duration_seconds",
            "Time from provisioning start to Ready",
            provisioning_seconds.clone(),
        );
        registry.register(
            "store_failures",
            "Stores that failed, by reason",
            failures.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile runs that hit an error",
            reconcile_errors.clone(),
        );
        registry.register(
            "orphaned_namespaces_deleted",
            "Store namespaces without a record, deleted",
            orphans.clone(),
        );
        registry.register(
            "reconcile_queue_depth",
            "Stores waiting for a reconcile run",
            queue_depth.clone(),
        );
        Self {
            registry,
            stores,
            provisioning_seconds,
            failures,
            reconcile_errors,
            orphans,
            queue_depth,
            queue: OnceLock::new(),
        }
    }

    /// Lets the queue-depth gauge read the reconciler's queue.
    pub fn set_queue(&self, queue: Queue) {
        let _ = self.queue.set(queue);
    }

    /// A store became ready after `took`.
    pub fn provisioned(&self, engine: &str, took: Duration) {
        self.provisioning_seconds
            .get_or_create(&EngineLabels {
                engine: engine.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// A store failed for `reason`.
    pub fn failed(&self, engine: &str, reason: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                engine: engine.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// A reconcile run hit an error of `kind`.
    pub fn reconcile_error(&self, kind: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels { kind: kind.into() })
            .inc();
    }

    /// An orphaned namespace was deleted.
    pub fn orphan_deleted(&self) {
        self.orphans.inc();
    }

    /// The text exposition, with `counts` (phase, engine, n) as the store gauge.
    pub fn render(&self, counts: &[(String, String, i64)]) -> String {
        self.stores.clear();
        for (phase, engine, n) in counts {
            self.stores
                .get_or_create(&PhaseLabels {
                    phase: phase.clone(),
                    engine: engine.clone(),
                })
                .set(*n);
        }
        if let Some(queue) = self.queue.get() {
            self.queue_depth
                .set(i64::try_from(queue.depth()).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            warn!("cannot encode metrics");
        }
        out
    }
}

/// Serves `GET /metrics` on `addr` until `cancel`; `counts` reads the store
/// counts at scrape time, so the gauge is never stale.
pub async fn serve<F, Fut>(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    counts: F,
    cancel: CancellationToken,
) -> anyhow::Result<SocketAddr>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<(String, String, i64)>> + Send,
{
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = Arc::clone(&metrics);
            let counts = counts.clone();
            async move {
                let body = metrics.render(&counts().await);
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    info!(address = %local, "metrics at /metrics");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await
        {
            warn!(error = %err, "metrics server stopped");
        }
    });
    Ok(local)
}
