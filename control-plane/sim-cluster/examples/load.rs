//! Creates N simulated stores in-process with zero delays and reports time
//! and memory; a quick check of how the cluster scales.
//!
//! ```sh
//! cargo run --release --example load -- 1000
//! cargo run --release --example load -- 1000 platform   # with storeplane's namespace baseline
//! ```
//!
//! `platform` gives every namespace what storeplane's reconciler puts there:
//! a PodSecurity label (baseline, which the example's pods pass), a
//! ResourceQuota and a LimitRange, so admission and quota accounting run
//! on every write.

use std::time::Instant;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use storeplane_sim_cluster::{SimCluster, SimConfig};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn store(ns: &str) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let labels = json!({ "app": "shop" });
    vec![
        (
            "apps",
            "deployments",
            json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web", "namespace": ns },
            "spec": { "replicas": 1, "selector": { "matchLabels": labels }, "template": { "metadata": { "labels": labels },
            "spec": { "containers": [{ "name": "web", "image": "ghcr.io/example/shop:1.0", "ports": [{ "containerPort": 8080 }] }] } } } }),
        ),
        (
            "apps",
            "statefulsets",
            json!({ "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": { "name": "db", "namespace": ns },
            "spec": { "replicas": 1, "serviceName": "db", "selector": { "matchLabels": { "app": "db" } }, "template": { "metadata": { "labels": { "app": "db" } },
            "spec": { "containers": [{ "name": "db", "image": "postgres:16" }] } } } }),
        ),
        (
            "",
            "services",
            json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web", "namespace": ns }, "spec": { "selector": labels, "ports": [{ "port": 80, "targetPort": 8080 }] } }),
        ),
        (
            "",
            "persistentvolumeclaims",
            json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "data", "namespace": ns },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } }),
        ),
        (
            "",
            "secrets",
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "creds", "namespace": ns }, "stringData": { "password": "x" } }),
        ),
        (
            "networking.k8s.io",
            "ingresses",
            json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": { "name": "web", "namespace": ns },
            "spec": { "rules": [{ "host": format!("{ns}.example"), "http": { "paths": [{ "path": "/", "pathType": "Prefix", "backend": { "service": { "name": "web", "port": { "number": 80 } } } }] } }] } }),
        ),
        (
            "batch",
            "jobs",
            json!({ "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": "migrate", "namespace": ns },
            "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "m", "image": "ghcr.io/example/shop:1.0" }] } } } }),
        ),
    ]
}

/// storeplane's platform quota and limits (its defaults, `reconcile/mod.rs`).
fn platform_objects(ns: &str) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            "",
            "resourcequotas",
            json!({ "apiVersion": "v1", "kind": "ResourceQuota", "metadata": { "name": "storeplane-quota", "namespace": ns },
            "spec": { "hard": { "requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi",
                "persistentvolumeclaims": "10", "requests.storage": "50Gi", "pods": "30", "services": "20" } } }),
        ),
        (
            "",
            "limitranges",
            json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "storeplane-limits", "namespace": ns },
            "spec": { "limits": [{ "type": "Container", "default": { "cpu": "500m", "memory": "512Mi" },
                "defaultRequest": { "cpu": "100m", "memory": "128Mi" }, "max": { "cpu": "4", "memory": "8Gi" } }] } }),
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1000);
    let pods = std::env::args().nth(2).is_none_or(|p| p != "no-pods");
    let platform = std::env::args().nth(2).is_some_and(|p| p == "platform");
    let mut config = SimConfig::instant();
    config.simulate_pods = pods;
    if let Some(history) = std::env::var("HISTORY").ok().and_then(|h| h.parse().ok()) {
        config.watch_history = history;
    }
    let cluster = SimCluster::new(config);
    let client = cluster.client();
    let before = rss_mib();
    let started = Instant::now();
    for i in 0..count {
        let ns = format!("store-{i}");
        let namespaces: Api<kube::api::DynamicObject> = Api::all_with(
            client.clone(),
            &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
        );
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({ "apiVersion": "v1", "kind": "Namespace",
                    "metadata": { "name": ns, "labels": if platform {
                        json!({ "pod-security.kubernetes.io/enforce": "baseline" })
                    } else {
                        json!({})
                    } } }))?,
            )
            .await?;
        let mut objects = store(&ns);
        if platform {
            objects.splice(0..0, platform_objects(&ns));
        }
        for (group, plural, body) in objects {
            let version = "v1";
            let kind = body["kind"].as_str().unwrap_or("").to_owned();
            let resource = kube::api::ApiResource {
                group: group.to_owned(),
                version: version.to_owned(),
                api_version: body["apiVersion"].as_str().unwrap_or("").to_owned(),
                kind,
                plural: plural.to_owned(),
            };
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(client.clone(), &ns, &resource);
            api.create(&PostParams::default(), &serde_json::from_value(body)?)
                .await?;
        }
    }
    let created = started.elapsed();
    // Let the simulated controllers drain their queue before measuring.
    // (A benchmark harness may sample; product code never polls.)
    let mut last = 0;
    while cluster.resource_version() != last {
        last = cluster.resource_version();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let settled = started.elapsed();
    let settled_rss = rss_mib();
    let deployments: Api<Deployment> = Api::all(client.clone());
    let ready = deployments
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|d| d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1))
        .count();
    let mut total_bytes = 0usize;
    let mut total_objects = 0usize;
    for path in [
        "/api/v1/namespaces",
        "/api/v1/serviceaccounts",
        "/api/v1/events",
        "/api/v1/pods",
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/statefulsets",
        "/api/v1/services",
        "/api/v1/persistentvolumeclaims",
        "/api/v1/secrets",
        "/apis/networking.k8s.io/v1/ingresses",
        "/apis/batch/v1/jobs",
        "/api/v1/configmaps",
        "/apis/apps/v1/replicasets",
        "/apis/apps/v1/controllerrevisions",
        "/api/v1/endpoints",
        "/apis/discovery.k8s.io/v1/endpointslices",
    ] {
        let text = client
            .request_text(http::Request::get(path).body(Vec::new())?)
            .await?;
        // Every stored object has exactly one creationTimestamp string.
        total_objects += text.matches("\"creationTimestamp\":\"").count();
        total_bytes += text.len();
    }
    println!(
        "{count} stores (pods: {pods}, platform: {platform}): created in {created:.2?} ({:.2} ms/store), status settled after {settled:.2?}; \
         ready deployments: {ready}; {} changes; {total_objects} objects ({:.1} MiB as JSON); \
         RSS {before:.0} MiB -> {settled_rss:.0} MiB",
        created.as_secs_f64() * 1000.0 / count as f64,
        cluster.resource_version(),
        total_bytes as f64 / 1_048_576.0,
    );
    Ok(())
}
