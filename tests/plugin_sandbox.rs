//! The plugin sandbox through the whole product (review finding 3): a
//! misbehaving engine plugin, provisioning through the real control plane
//! on the simulated and on the real cluster, cannot lift the platform's
//! baseline, run privileged pods, claim another store's host, create RBAC
//! objects or Endpoints, or smuggle paths into names. Each refusal fails
//! the store with the host's text and is on the tenant's timeline, and the
//! cluster shows that nothing got through.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use anyhow::{Result, ensure};
use k8s_openapi::api::{
    core::v1::{Endpoints, Pod, ResourceQuota},
    networking::v1::{Ingress, NetworkPolicy},
    rbac::v1::Role,
};
use kube::api::{Api, ListParams};
use storeplane_e2e::{
    Server, clusters::Env, engine_request as request, on_both_clusters, v1 as pb,
};

on_both_clusters!(
    every_escape_attempt_is_refused_reported_and_leaves_the_cluster_as_it_was,
    an_object_the_cluster_cannot_decode_fails_the_store_at_once_with_its_words,
);

/// The misbehave plugin's escape modes (plugins/testing/misbehave).
const MODES: [&str; 8] = [
    "privileged-pod",
    "host-path",
    "lift-quota",
    "delete-netpol",
    "foreign-host-ingress",
    "rbac-object",
    "endpoints",
    "path-like-name",
];

async fn every_escape_attempt_is_refused_reported_and_leaves_the_cluster_as_it_was(
    env: Env,
) -> Result<()> {
    let server = env.start(&[]).await?;
    let mut stores = server.stores().await?;
    let names: Vec<String> = MODES.iter().map(|m| env.name(m)).collect();
    for (name, mode) in names.iter().zip(MODES) {
        stores
            .create_store(request(
                name,
                "misbehave",
                serde_json::json!({"mode": mode}),
            ))
            .await?;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let failed = env.wait_for(&server, &refs, pb::StorePhase::Failed).await?;
    let kube = env.kube(&server).await?;
    for (store, mode) in failed.iter().zip(MODES) {
        let text = format!("{}: {}", store.failure_reason, store.failure_message);
        ensure!(
            !text.contains("EscapeSucceeded"),
            "{mode}: the host let it through: {text}"
        );
        ensure!(
            text.contains("denied") || text.contains("invalid"),
            "{mode}: not the host's refusal: {text}"
        );
        let timeline = reasons(&server, &store.name).await?;
        ensure!(
            timeline.iter().any(|r| r == "PluginDenied"),
            "{mode}: no PluginDenied on the timeline: {timeline:?}"
        );

        // The cluster shows nothing got through.
        let ns = format!("store-{}", store.name);
        let list = ListParams::default();
        let pods = Api::<Pod>::namespaced(kube.clone(), &ns)
            .list(&list)
            .await?;
        ensure!(
            pods.items.iter().all(|p| {
                let spec = p.spec.clone().unwrap_or_default();
                spec.volumes
                    .unwrap_or_default()
                    .iter()
                    .all(|v| v.host_path.is_none())
                    && spec.containers.iter().all(|c| {
                        c.security_context.as_ref().and_then(|s| s.privileged) != Some(true)
                    })
            }),
            "{mode}: a privileged or hostPath pod exists"
        );
        let quota = Api::<ResourceQuota>::namespaced(kube.clone(), &ns)
            .get("storeplane-quota")
            .await?;
        ensure!(
            quota
                .spec
                .and_then(|s| s.hard)
                .is_some_and(|h| h.contains_key("pods")),
            "{mode}: the quota was lifted"
        );
        Api::<NetworkPolicy>::namespaced(kube.clone(), &ns)
            .get("storeplane-default-deny")
            .await?;
        let roles = Api::<Role>::namespaced(kube.clone(), &ns)
            .list(&list)
            .await?;
        ensure!(roles.items.is_empty(), "{mode}: a Role exists");
        let endpoints = Api::<Endpoints>::namespaced(kube.clone(), &ns)
            .list(&list)
            .await?;
        ensure!(
            endpoints
                .items
                .iter()
                .all(|e| e.metadata.name.as_deref() != Some("misbehave")),
            "{mode}: the plugin's Endpoints exist"
        );
        let ingresses = Api::<Ingress>::namespaced(kube.clone(), &ns)
            .list(&list)
            .await?;
        ensure!(
            ingresses.items.iter().all(|i| {
                i.spec
                    .as_ref()
                    .and_then(|s| s.rules.clone())
                    .unwrap_or_default()
                    .iter()
                    .all(|r| r.host.as_deref() == Some(&format!("{}.localhost", store.name)))
            }),
            "{mode}: an Ingress for another host exists"
        );
    }
    Ok(())
}

/// A plugin applies what the sandbox allows but no API server can decode
/// (a Deployment asking for `cpu: lots`). A real API server refuses that
/// apply with a 500 that has no reason; taken for an outage, the store was
/// retried eight times with backoff before failing, and on the simulated
/// cluster, which took the value, it went Ready. Both now refuse it, and
/// the store fails on its first attempt with the server's words.
async fn an_object_the_cluster_cannot_decode_fails_the_store_at_once_with_its_words(
    env: Env,
) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("bad-quantity");
    server
        .stores()
        .await?
        .create_store(request(
            &name,
            "misbehave",
            serde_json::json!({"mode": "bad-quantity"}),
        ))
        .await?;
    let failed = env
        .wait_for(&server, &[name.as_str()], pb::StorePhase::Failed)
        .await?;
    let store = &failed[0];
    ensure!(
        store.failure_reason == "HostRejectedRequest"
            && store
                .failure_message
                .contains("quantities must match the regular expression"),
        "not the cluster's refusal: {}: {}",
        store.failure_reason,
        store.failure_message
    );
    let timeline = reasons(&server, &store.name).await?;
    ensure!(
        !timeline.iter().any(|r| r.ends_with("Retrying")),
        "retried as if the cluster had failed: {timeline:?}"
    );
    let kube = env.kube(&server).await?;
    let deployments = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
        kube,
        &format!("store-{}", store.name),
    )
    .list(&ListParams::default())
    .await?;
    ensure!(
        deployments.items.is_empty(),
        "the cluster stored the Deployment"
    );
    Ok(())
}

/// The reasons on a store's timeline (its first page).
async fn reasons(server: &Server, name: &str) -> Result<Vec<String>> {
    Ok(server
        .timeline(name)
        .await?
        .into_iter()
        .map(|e| e.reason)
        .collect())
}
