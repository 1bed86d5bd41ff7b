//! Traces for real: an OTLP/gRPC trace receiver (the collector's
//! `TraceService`, from the OpenTelemetry protos) started by the test,
//! `storeplane serve --otlp-endpoint` pointed at it, one store provisioned.
//! The provision must be one trace: the `CreateStore` call, the reconcile
//! runs under it, the namespace step, each plugin call with its outcome and
//! the Kubernetes requests; its id is in the store's timeline entries and
//! in the server's JSON log lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use storeplane_e2e::{
    Backend, Server, SimClusterProcess, engine_request, fresh_database, provisioning_args,
    v1 as pb, wait_for,
};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// A span as received.
#[derive(Clone, Debug)]
struct Received {
    trace: String,
    id: String,
    parent: String,
    name: String,
    attributes: HashMap<String, String>,
    start: u64,
    end: u64,
}

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = Vec::new();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let attributes = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            let value = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                                Some(AnyValue::StringValue(s)) => s,
                                Some(AnyValue::IntValue(i)) => i.to_string(),
                                Some(AnyValue::BoolValue(b)) => b.to_string(),
                                Some(other) => format!("{other:?}"),
                                None => String::new(),
                            };
                            (kv.key.clone(), value)
                        })
                        .collect();
                    received.push(Received {
                        trace: hex(&span.trace_id),
                        id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                        name: span.name,
                        attributes,
                        start: span.start_time_unix_nano,
                        end: span.end_time_unix_nano,
                    });
                }
            }
        }
        if let Ok(mut spans) = self.spans.lock() {
            spans.extend(received);
        }
        self.arrived.notify_waiters();
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts the receiver on a free port; returns it and its URL.
async fn receiver() -> Result<(Receiver, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let receiver = Receiver::default();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Ok((receiver, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_provision_is_one_trace_from_the_call_to_the_kubernetes_requests() -> Result<()> {
    let (receiver, url) = receiver().await?;
    // The cluster as its own process, reached through a kubeconfig like a
    // real one: kube's client then traces each request.
    let cluster = SimClusterProcess::start("0s").await?;
    let mut args = provisioning_args();
    let sim = args
        .iter()
        .position(|a| a == "--cluster")
        .context("no --cluster in the provisioning arguments")?;
    args.drain(sim..sim + 2);
    let addr = args
        .iter()
        .position(|a| a == "--sim-apiserver-addr")
        .context("no --sim-apiserver-addr")?;
    args.drain(addr..addr + 2);
    args.extend(cluster.serve_args());
    args.extend([
        "--otlp-endpoint".into(),
        url,
        "--log-format".into(),
        "json".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_on(&fresh_database(Backend::Sqlite).await?, &args).await?;

    let mut stores = server.stores().await?;
    let created = stores
        .create_store(engine_request(
            "traced-shop",
            "static-site",
            serde_json::json!({}),
        ))
        .await?
        .into_inner();
    wait_for(&server, &["traced-shop"], pb::StorePhase::Ready).await?;

    // The batch exporter sends every few seconds.
    let create_name = "storeplane.v1.StoreService/CreateStore";
    let trace = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let arrived = receiver.arrived.notified();
            let found = receiver.spans.lock().ok().and_then(|spans| {
                let create = spans.iter().find(|s| s.name == create_name)?;
                let in_trace: Vec<Received> = spans
                    .iter()
                    .filter(|s| s.trace == create.trace)
                    .cloned()
                    .collect();
                in_trace
                    .iter()
                    .any(|s| {
                        s.name == "plugin static-site observe"
                            && s.attributes.get("outcome").is_some_and(|o| o == "ok")
                    })
                    .then(|| (create.clone(), in_trace))
            });
            if let Some(found) = found {
                return found;
            }
            arrived.await;
        }
    })
    .await
    .context("no trace of CreateStore reaching a successful observe arrived within 30 s")?;
    let (create, spans) = trace;

    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let runs: Vec<&Received> = spans.iter().filter(|s| s.name == "reconcile").collect();
    ensure!(!runs.is_empty(), "no reconcile run in the trace: {names:?}");
    ensure!(
        runs.iter().all(|r| r.parent == create.id),
        "the reconcile runs are not children of the CreateStore call"
    );
    ensure!(names.contains(&"prepare namespace"), "{names:?}");
    let provision = spans
        .iter()
        .find(|s| s.name == "plugin static-site provision")
        .with_context(|| format!("no provision call in {names:?}"))?;
    ensure!(
        provision.attributes.get("outcome").map(String::as_str) == Some("ok"),
        "{:?}",
        provision.attributes
    );
    let kube: Vec<&Received> = spans
        .iter()
        .filter(|s| s.attributes.contains_key("http.method"))
        .collect();
    ensure!(
        !kube.is_empty(),
        "no Kubernetes request in the trace: {names:?}"
    );
    ensure!(
        kube.iter().any(|k| k.parent == provision.id),
        "no Kubernetes request made by the plugin's provision call"
    );

    // The timeline and the log lines lead to the trace.
    let events = stores
        .list_store_events(pb::ListStoreEventsRequest {
            id: created.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .events;
    for reason in ["Created", "Ready"] {
        let event = events
            .iter()
            .find(|e| e.reason == reason)
            .with_context(|| format!("no {reason} entry"))?;
        ensure!(
            event.trace_id == create.trace,
            "the {reason} entry has trace {:?}, not {}",
            event.trace_id,
            create.trace
        );
    }
    ensure!(
        server
            .log()
            .contains(&format!("\"trace_id\":\"{}\"", create.trace)),
        "no JSON log line carries the trace id"
    );

    // The trace as a tree, for people: name, duration, outcome.
    eprintln!(
        "one provision, one trace {} ({} spans):",
        create.trace,
        spans.len()
    );
    let mut ordered = spans.clone();
    ordered.sort_by_key(|s| s.start);
    print_tree(&ordered, &create.parent, 0);
    Ok(())
}

fn print_tree(spans: &[Received], parent: &str, depth: usize) {
    for span in spans.iter().filter(|s| s.parent == parent) {
        let ms = span.end.saturating_sub(span.start) as f64 / 1e6;
        let outcome = span
            .attributes
            .get("outcome")
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        eprintln!(
            "  {:indent$}{} {ms:.1} ms{outcome}",
            "",
            span.name,
            indent = depth * 2
        );
        print_tree(spans, &span.id, depth + 1);
    }
}
