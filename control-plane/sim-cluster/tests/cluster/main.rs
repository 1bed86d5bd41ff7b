//! Component tests of the simulated cluster, driven the way storeplane and
//! operators drive a real one: through `kube::Client`, kube-runtime, the
//! kubeconfig of the standalone mode, and the real `kubectl` binary.
//!
//! One test binary (modules below) keeps link time down.

// Helpers here are test code: a failed step should panic with its cause.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admission;
mod api;
mod controllers;
mod defaults;
mod http;
mod kubectl;
mod kubelet;
mod pod_security;
mod standalone;
mod transfer;

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use storeplane_sim_cluster::{SimCluster, SimConfig};

/// A cluster with no delays, and a client for it.
pub fn instant_cluster() -> (SimCluster, kube::Client) {
    let cluster = SimCluster::new(SimConfig::instant());
    let client = cluster.client();
    (cluster, client)
}

/// Creates a namespace.
pub async fn namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// Builds a typed object from JSON.
pub fn object<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).unwrap()
}

/// A typed object as JSON, so assertions do not depend on k8s-openapi's
/// field optionality.
pub fn json_of<K: serde::Serialize>(obj: &K) -> Value {
    serde_json::to_value(obj).unwrap()
}

/// Waits (by watching, not polling) until `cond` holds for the named object.
pub async fn wait_for<K>(api: &Api<K>, name: &str, cond: impl Condition<K>) -> K
where
    K: kube::Resource + Clone + Debug + Send + DeserializeOwned + 'static,
{
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(api.clone(), name, cond),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {name}"))
    .unwrap()
    .unwrap_or_else(|| panic!("{name} was deleted while waiting"))
}

/// Waits (by watching) until a pod of `api` labelled `labels` satisfies
/// `cond`, and returns it as JSON.
pub async fn wait_for_pod(
    api: &Api<k8s_openapi::api::core::v1::Pod>,
    labels: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    use futures::TryStreamExt as _;
    use kube::runtime::{WatchStreamExt as _, watcher};
    let stream = watcher(api.clone(), watcher::Config::default().labels(labels)).applied_objects();
    let mut stream = std::pin::pin!(stream);
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(pod) = stream.try_next().await.unwrap() {
            let pod = json_of(&pod);
            if cond(&pod) {
                return pod;
            }
        }
        panic!("the pod watch ended")
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for a pod labelled {labels}"))
}

/// The waiting reason of a pod's first container.
pub fn waiting_reason(pod: &Value) -> &str {
    pod.pointer("/status/containerStatuses/0/state/waiting/reason")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A Deployment of `replicas` pods labelled `app=<name>`.
pub fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "main", "image": "nginx:1.27" }] }
            }
        }
    })
}

/// The condition of `type_` in a status, as JSON.
pub fn condition(obj: &Value, type_: &str) -> Value {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// Events in `namespace` with `reason`, as JSON.
pub async fn events_with_reason(
    client: &kube::Client,
    namespace: &str,
    reason: &str,
) -> Vec<Value> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), namespace);
    events
        .list(&kube::api::ListParams::default().fields(&format!("reason={reason}")))
        .await
        .unwrap()
        .items
        .iter()
        .map(json_of)
        .collect()
}
