//! Prometheus metrics, served on their own port (`--metrics-listen`).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstallationLabels {
    installation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    /// Which limit refused: `address`, `tenant`, `watches_per_tenant`.
    limiter: String,
    /// Full gRPC method name.
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

/// The control plane's metrics.
pub struct Metrics {
    registry: Registry,
    stores: Family<PhaseLabels, Gauge>,
    provisioning_seconds: Family<EngineLabels, Histogram>,
    failures: Family<FailureLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    orphans: Counter,
    orphans_found: Family<InstallationLabels, Gauge>,
    queue_depth: Gauge,
    refused_calls: Family<RefusalLabels, Counter>,
    unauthenticated_calls: Family<MethodLabels, Counter>,
    refused_connections: Counter,
    database_available: Gauge,
    audit_pruned: Counter,
    drift_corrections: Family<KindLabels, Counter>,
    watch_synced: Family<KindLabels, Gauge>,
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
        let orphans_found = Family::<InstallationLabels, Gauge>::default();
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
            "orphaned_namespaces",
            "Store namespaces labelled as storeplane's with no store record, by whether this \
             installation created them (`this`) or another one did (`other`)",
            orphans_found.clone(),
        );
        registry.register(
            "reconcile_queue_depth",
            "Stores waiting for a reconcile run",
            queue_depth.clone(),
        );
        let refused_calls = Family::<RefusalLabels, Counter>::default();
        let unauthenticated_calls = Family::<MethodLabels, Counter>::default();
        let refused_connections = Counter::default();
        let database_available = Gauge::default();
        database_available.set(1);
        let audit_pruned = Counter::default();
        let drift_corrections = Family::<KindLabels, Counter>::default();
        registry.register(
            "drift_corrections",
            "Engine objects changed or deleted behind storeplane's back and re-applied, by kind",
            drift_corrections.clone(),
        );
        registry.register(
            "refused_calls",
            "Calls refused by a limit (rate per address or tenant, watches per tenant); \
             counted here instead of the audit log",
            refused_calls.clone(),
        );
        registry.register(
            "unauthenticated_calls",
            "Calls refused for a missing, invalid, expired or revoked token; not audited",
            unauthenticated_calls.clone(),
        );
        registry.register(
            "refused_connections",
            "Connections closed at once because their address had too many open",
            refused_connections.clone(),
        );
        registry.register(
            "database_available",
            "1 while the database answers, 0 from a failure until a probe succeeds",
            database_available.clone(),
        );
        registry.register(
            "audit_entries_pruned",
            "Audit entries deleted for being older than the retention",
            audit_pruned.clone(),
        );
        let watch_synced = Family::<KindLabels, Gauge>::default();
        registry.register(
            "cluster_watch_synced",
            "1 when the watch of this kind holds the cluster's current list (its initial \
             list, or its relist after the watch was lost, is complete), else 0",
            watch_synced.clone(),
        );
        Self {
            registry,
            watch_synced,
            refused_calls,
            unauthenticated_calls,
            refused_connections,
            database_available,
            audit_pruned,
            drift_corrections,
            stores,
            provisioning_seconds,
            failures,
            reconcile_errors,
            orphans,
            orphans_found,
            queue_depth,
        }
    }

    /// The queue-depth gauge, for the reconciler's queue to keep current
    /// (metrics stay a leaf: they import nothing of the reconciler's).
    pub fn queue_depth(&self) -> Gauge {
        self.queue_depth.clone()
    }

    /// Whether the reconciler's watch of `kind` holds a complete list.
    pub fn watch_synced(&self, kind: &str, synced: bool) {
        self.watch_synced
            .get_or_create(&KindLabels { kind: kind.into() })
            .set(i64::from(synced));
    }

    /// An engine object of `kind` that drifted was re-applied.
    pub fn drift_corrected(&self, kind: &str) {
        self.drift_corrections
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
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

    /// The orphaned namespaces known now, this installation's and others'.
    pub fn set_orphans(&self, this: i64, other: i64) {
        for (installation, n) in [("this", this), ("other", other)] {
            self.orphans_found
                .get_or_create(&InstallationLabels {
                    installation: installation.into(),
                })
                .set(n);
        }
    }

    /// An orphaned namespace was deleted.
    pub fn orphan_deleted(&self) {
        self.orphans.inc();
    }

    /// A call to `method` was refused by `limiter`.
    pub fn refused(&self, limiter: &str, method: &str) {
        self.refused_calls
            .get_or_create(&RefusalLabels {
                limiter: limiter.into(),
                method: method.into(),
            })
            .inc();
    }

    /// A call to `method` came without valid credentials.
    pub fn unauthenticated(&self, method: &str) {
        self.unauthenticated_calls
            .get_or_create(&MethodLabels {
                method: method.into(),
            })
            .inc();
    }

    /// A connection was refused by the per-address connection limit.
    pub fn connection_refused(&self) {
        self.refused_connections.inc();
    }

    /// The database answers (`true`) or not.
    pub fn database_available(&self, up: bool) {
        self.database_available.set(i64::from(up));
    }

    /// `n` audit entries were pruned.
    pub fn audit_pruned(&self, n: u64) {
        self.audit_pruned.inc_by(n);
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
