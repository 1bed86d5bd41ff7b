//! Traces: `tracing` spans exported over OTLP (gRPC) when `serve
//! --otlp-endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! What makes one trace of a store's provision: the gRPC call's span
//! (`tonic`'s `trace_fn`, see `server.rs`) is remembered for the store it
//! created or changed ([`follow_store`]); every reconcile run of that store
//! takes it as its parent ([`reconcile_span`]) until the store settles, so
//! the runs, their steps, each plugin call and each Kubernetes request
//! (kube's own `HTTP` spans) land in the caller's trace. The link lives in
//! this process: a run on another replica starts a trace of its own.
//! Timeline entries and log lines carry the trace id ([`current_trace_id`]).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

use crate::domain::Phase;

/// Stores whose next runs belong to a caller's trace, and that trace.
static LINKS: LazyLock<Mutex<HashMap<Uuid, opentelemetry::Context>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Links kept at most: a burst of creates whose stores never settle must
/// not grow memory without bound (when full, every link is dropped and
/// those stores' next runs start traces of their own).
const MAX_LINKS: usize = 10_000;

/// The exporter and the `tracing` layer feeding it.
pub struct Tracing {
    /// The exporter's provider; [`Tracing::shutdown`] flushes and stops it
    /// (the server's `main` calls it on exit).
    provider: SdkTracerProvider,
}

impl Tracing {
    /// An OTLP/gRPC exporter to `endpoint` (e.g. `http://collector:4317`),
    /// batching spans on the tokio runtime, and the layer that turns
    /// `tracing` spans into OpenTelemetry spans.
    pub fn otlp<S>(
        endpoint: &str,
    ) -> anyhow::Result<(
        Self,
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    )>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        let processor =
            opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                exporter,
                opentelemetry_sdk::runtime::Tokio,
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("storeplane")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("storeplane");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer);
        Ok((Self { provider }, layer))
    }

    /// Exports what is buffered and stops.
    pub fn shutdown(&self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// The trace id of the current span, as 32 hex digits; empty when no
/// trace is being recorded.
pub fn current_trace_id() -> String {
    let context = Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if span_context.is_valid() {
        span_context.trace_id().to_string()
    } else {
        String::new()
    }
}

/// Called for each timeline entry written for store `id` (in `phase`
/// after the write): an entry written by an API call (inside its `grpc`
/// span, before the transaction commits and wakes the reconciler) makes
/// that call the parent of the store's next reconcile runs; once the store
/// is Ready or Failed, later runs (resyncs, drift checks) start traces of
/// their own.
pub fn follow_store(id: Uuid, phase: Phase) {
    let Ok(mut links) = LINKS.lock() else { return };
    if matches!(phase, Phase::Ready | Phase::Failed) {
        links.remove(&id);
        return;
    }
    let current = Span::current();
    let from_api = current.metadata().is_some_and(|m| m.name() == GRPC_SPAN);
    let context = current.context();
    if from_api && context.span().span_context().is_valid() {
        if links.len() >= MAX_LINKS {
            links.clear();
        }
        links.insert(id, context);
    }
}

/// A store that is gone: nothing more to link.
pub fn forget(id: Uuid) {
    if let Ok(mut links) = LINKS.lock() {
        links.remove(&id);
    }
}

/// The name of a gRPC call's span.
pub const GRPC_SPAN: &str = "grpc";

/// The span of one gRPC call (`tonic`'s `trace_fn`): the method, and the
/// trace id for the log lines inside it.
pub fn grpc_span<B>(request: &http::Request<B>) -> Span {
    let method = request.uri().path().trim_start_matches('/').to_owned();
    let span = tracing::info_span!(
        GRPC_SPAN,
        otel.name = %method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = %method,
        trace_id = tracing::field::Empty,
    );
    record_trace_id(&span);
    span
}

fn record_trace_id(span: &Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

/// The span of one reconcile run of store `id`, in the trace of the call
/// that asked for the work when there is one.
pub fn reconcile_span(id: Uuid) -> Span {
    let span = tracing::info_span!(
        "reconcile",
        otel.name = "reconcile",
        store = %id,
        trace_id = tracing::field::Empty,
    );
    let parent = LINKS.lock().ok().and_then(|links| links.get(&id).cloned());
    if let Some(parent) = parent {
        let _ = span.set_parent(parent);
    }
    record_trace_id(&span);
    span
}
