//! Provisioning end to end: the real control plane, real plugins (built
//! components), SQLite and PostgreSQL, and two clusters: the simulated one
//! and a real Kubernetes control plane with fake nodes (`tests/k8s/`). The
//! same scenario runs unchanged on both (`on_every_cluster!`).

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{LimitRange, Namespace, ResourceQuota, Service},
    networking::v1::NetworkPolicy,
};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use storeplane_e2e::{
    Backend, Server, clusters::Env, engine_request as request, on_both_backends, on_both_clusters,
    on_every_cluster, to_struct, v1 as pb, wait_for,
};

on_every_cluster!(
    a_store_becomes_ready_then_is_deleted_with_its_namespace,
    woocommerce_and_medusa_stores_become_ready_with_every_object_and_their_setup_done,
    a_create_retried_ten_times_provisions_one_store,
    an_injected_failure_fails_the_store_and_retry_recovers_it,
    upgrade_then_rollback_changes_and_restores_the_rendered_revision,
    a_control_plane_killed_mid_provision_converges_after_restart,
    objects_changed_or_deleted_by_hand_are_put_back,
    a_store_is_paused_resumed_and_served_at_its_custom_domain,
    a_store_is_backed_up_cloned_and_restored,
);

on_both_clusters!(
    provisioning_that_outlasts_its_timeout_fails_with_the_reason,
    a_helm_binary_renders_the_engine_charts,
);

// Scenarios where the cluster makes no difference (plugin failures) or
// that load the shared real cluster for no gain.
on_both_backends!(fifty_concurrent_creates_all_become_ready);

async fn timeline(server: &Server, name: &str) -> Result<Vec<pb::StoreEvent>> {
    server.timeline(name).await
}

async fn events(server: &Server, name: &str) -> Result<Vec<String>> {
    Ok(timeline(server, name)
        .await?
        .into_iter()
        .map(|e| e.reason)
        .collect())
}

async fn a_store_becomes_ready_then_is_deleted_with_its_namespace(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("corner");
    let mut stores = server.stores().await?;
    stores
        .create_store(request(&name, "static-site", serde_json::json!({})))
        .await?;
    let ready = env
        .wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    let store = &ready[0];
    let urls = store.urls.clone().context("urls")?;
    assert_eq!(urls.storefront, format!("http://{name}.localhost/"));
    ensure!(!urls.admin.is_empty());
    assert_eq!(store.observed_generation, store.generation);
    assert_eq!(store.engine_version, "0.1.0");
    let timeline = events(&server, &name).await?;
    for step in [
        "Created",
        "ProvisioningStarted",
        "NamespacePrepared",
        "EngineProvisioned",
        "Ready",
    ] {
        ensure!(
            timeline.iter().any(|r| r == step),
            "{step} missing from {timeline:?}"
        );
    }

    // Everything the platform promises is in the namespace.
    let kube = env.kube(&server).await?;
    let ns = format!("store-{name}");
    let namespace = Api::<Namespace>::all(kube.clone()).get(&ns).await?;
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("storeplane.dev/store"), Some(&store.id));
    assert_eq!(
        labels.get("storeplane.dev/tenant").map(String::as_str),
        Some("default")
    );
    assert_eq!(
        labels.get("storeplane.dev/instance"),
        Some(&server.installation_id().await?)
    );
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    Api::<ResourceQuota>::namespaced(kube.clone(), &ns)
        .get("storeplane-quota")
        .await?;
    Api::<LimitRange>::namespaced(kube.clone(), &ns)
        .get("storeplane-limits")
        .await?;
    let policies = Api::<NetworkPolicy>::namespaced(kube.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    ensure!(
        policies
            .items
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("storeplane-default-deny"))
    );
    let deployments = Api::<Deployment>::namespaced(kube.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    ensure!(
        !deployments.items.is_empty(),
        "the engine's Deployment is missing"
    );

    // Delete: Deleting until the namespace is gone, then the record goes.
    stores
        .delete_store(pb::DeleteStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    let deadline = tokio::time::Instant::now() + env.patience();
    let namespaces = Api::<Namespace>::all(kube);
    loop {
        let found = stores
            .get_store(pb::GetStoreRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await;
        match found {
            Err(s) if s.code() == tonic::Code::NotFound => break,
            Err(s) => return Err(s.into()),
            Ok(store) => {
                // While the record exists, the store says Deleting; the
                // namespace may be terminating but must not be gone.
                let store = store.into_inner();
                if namespaces.get_opt(&ns).await?.is_none() {
                    // The namespace is gone: the record must follow, still
                    // Deleting until then.
                    ensure!(
                        store.phase() == pb::StorePhase::Deleting,
                        "{:?}",
                        store.phase()
                    );
                }
            }
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "store never went away"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        namespaces.get_opt(&ns).await?.is_none(),
        "the record went before the namespace"
    );
    let timeline = events(&server, &name).await.err();
    ensure!(timeline.is_some(), "a deleted store has no public timeline");
    Ok(())
}

/// Both shipped engines, through their real plugins and charts: Ready means
/// every workload is available, every claim bound, the setup Job complete,
/// the Ingress at the store's host and the URLs set.
async fn woocommerce_and_medusa_stores_become_ready_with_every_object_and_their_setup_done(
    env: Env,
) -> Result<()> {
    let server = env.start(&[]).await?;
    let (woo, medu) = (env.name("woo"), env.name("medu"));
    let mut stores = server.stores().await?;
    stores
        .create_store(request(
            &woo,
            "woocommerce",
            serde_json::json!({"admin_email": "owner@example.com", "currency": "EUR"}),
        ))
        .await?;
    stores
        .create_store(request(
            &medu,
            "medusa",
            serde_json::json!({"admin_email": "owner@example.com"}),
        ))
        .await?;
    let ready = env
        .wait_for(&server, &[&woo, &medu], pb::StorePhase::Ready)
        .await?;
    let kube = env.kube(&server).await?;
    // (store, StatefulSets, Deployments at least, PVCs at least)
    for (store, statefulsets, deployments, claims) in [(&ready[0], 1, 1, 2), (&ready[1], 1, 3, 1)] {
        let name = store.name.as_str();
        let ns = format!("store-{name}");
        let urls = store.urls.clone().context("urls")?;
        assert_eq!(urls.storefront, format!("http://{name}.localhost/"));
        ensure!(
            urls.admin.starts_with(&format!("http://{name}.localhost/")),
            "{urls:?}"
        );
        ensure!(
            store.credentials_available,
            "{name}: no credentials reported"
        );

        let list = |kind: &'static str| {
            let kube = kube.clone();
            let ns = ns.clone();
            async move { objects(&kube, &ns, kind).await }
        };
        let sets = list("StatefulSet").await?;
        ensure!(sets.len() == statefulsets, "{name}: StatefulSets {sets:#?}");
        for set in &sets {
            let want = set["spec"]["replicas"].as_i64().unwrap_or(1);
            ensure!(
                set["status"]["readyReplicas"].as_i64() == Some(want),
                "{name}: not ready: {set:#}"
            );
        }
        let deploys = list("Deployment").await?;
        ensure!(
            deploys.len() >= deployments,
            "{name}: Deployments {deploys:#?}"
        );
        for d in &deploys {
            let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
            ensure!(
                d["status"]["availableReplicas"].as_i64() >= Some(want),
                "{name}: unavailable: {d:#}"
            );
        }
        let jobs = list("Job").await?;
        ensure!(!jobs.is_empty(), "{name}: no setup Job");
        for job in &jobs {
            let complete = job["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True");
            ensure!(
                complete && job["status"]["succeeded"].as_i64() >= Some(1),
                "{name}: Job not complete: {job:#}"
            );
        }
        let pvcs = list("PersistentVolumeClaim").await?;
        ensure!(pvcs.len() >= claims, "{name}: claims {pvcs:#?}");
        for pvc in &pvcs {
            ensure!(
                pvc["status"]["phase"] == "Bound",
                "{name}: claim not bound: {pvc:#}"
            );
        }
        ensure!(!list("Service").await?.is_empty(), "{name}: no Service");
        let ingresses = list("Ingress").await?;
        ensure!(
            ingresses
                .iter()
                .any(|i| i["spec"]["rules"][0]["host"] == format!("{name}.localhost")),
            "{name}: no Ingress at its host: {ingresses:#?}"
        );
        ensure!(
            list("Secret").await?.len() >= 2,
            "{name}: generated Secrets missing"
        );
        let timeline = events(&server, name).await?;
        ensure!(
            timeline.iter().any(|r| r == "Ready"),
            "{name}: {timeline:?}"
        );
    }
    Ok(())
}

/// A client that retries a create (the same `request_id`) ten times, some
/// concurrently and some after the store exists, gets one store: one record,
/// one namespace, one chart release.
async fn a_create_retried_ten_times_provisions_one_store(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("once");
    let mut req = request(
        &name,
        "woocommerce",
        serde_json::json!({"admin_email": "owner@example.com"}),
    );
    req.request_id = format!("6f1c2a9e-retried-create-{name}");
    let mut calls = Vec::new();
    for _ in 0..5 {
        let mut client = server.stores().await?;
        let req = req.clone();
        calls.push(tokio::spawn(async move { client.create_store(req).await }));
    }
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await??.into_inner().id);
    }
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    let mut stores = server.stores().await?;
    for _ in 0..5 {
        ids.push(stores.create_store(req.clone()).await?.into_inner().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "retries created different stores: {ids:?}");
    let listed = stores
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner()
        .stores;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].generation, 1, "a retry changed the store");
    let kube = env.kube(&server).await?;
    let namespaces = Api::<Namespace>::all(kube.clone())
        .list(&ListParams::default().labels(&format!("storeplane.dev/store={}", ids[0])))
        .await?;
    assert_eq!(namespaces.items.len(), 1);
    let statefulsets = objects(&kube, &format!("store-{name}"), "StatefulSet").await?;
    assert_eq!(statefulsets.len(), 1, "{statefulsets:#?}");
    let timeline = events(&server, &name).await?;
    let created = timeline.iter().filter(|r| *r == "Created").count();
    assert_eq!(created, 1, "{timeline:?}");
    Ok(())
}

/// Creates store `name` in a namespace an operator prepared with the
/// failure-injection annotation `fault`: storeplane first refuses the
/// namespace (it is not its own), then adopts it once it is labelled for
/// the store and this installation, and retries. Returns the store's id.
async fn create_in_faulty_namespace(
    env: &Env,
    server: &Server,
    name: &str,
    fault: &str,
) -> Result<String> {
    let kube = env.kube(server).await?;
    let namespaces: Api<Namespace> = Api::all(kube);
    let ns = format!("store-{name}");
    let mut namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespace.metadata.annotations =
        Some([("sim.storeplane.io/fail".to_owned(), fault.to_owned())].into());
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;

    let mut stores = server.stores().await?;
    let created = stores
        .create_store(request(name, "static-site", serde_json::json!({})))
        .await?
        .into_inner();
    let refused = env
        .wait_for(server, &[name], pb::StorePhase::Failed)
        .await?;
    assert_eq!(refused[0].failure_reason, "NamespaceConflict");

    let adopt = serde_json::json!({"metadata": {"labels": {
        "app.kubernetes.io/managed-by": "storeplane",
        "storeplane.dev/store": created.id,
        "storeplane.dev/instance": server.installation_id().await?,
    }}});
    namespaces
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&adopt))
        .await?;
    stores
        .retry_store(pb::RetryStoreRequest {
            name: name.into(),
            ..Default::default()
        })
        .await?;
    Ok(created.id)
}

/// The cluster fails the store's workloads (the failure-injection
/// annotation on its namespace): the store fails with a readable reason,
/// and a retry after the cluster is fixed makes it Ready.
async fn an_injected_failure_fails_the_store_and_retry_recovers_it(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("flaky");
    create_in_faulty_namespace(&env, &server, &name, "image-pull").await?;
    let failed = wait_for_failure_other_than(&env, &server, &name, "NamespaceConflict").await?;
    let (reason, message) = (&failed.failure_reason, &failed.failure_message);
    // Kubernetes reports a stuck image pull on the pods and, at the
    // Deployment, as a progress deadline; either is a readable reason.
    ensure!(
        ["ImagePull", "ProgressDeadlineExceeded"]
            .iter()
            .any(|w| reason.contains(w) || message.contains(w)),
        "unreadable failure: {reason}: {message}"
    );

    // Fix the cluster, retry: the store recovers.
    let patch = serde_json::json!({"metadata": {"annotations": {"sim.storeplane.io/fail": null}}});
    Api::<Namespace>::all(env.kube(&server).await?)
        .patch(
            &format!("store-{name}"),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    server
        .stores()
        .await?
        .retry_store(pb::RetryStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    Ok(())
}

/// Waits until `name` is Failed for a reason other than `not`.
async fn wait_for_failure_other_than(
    env: &Env,
    server: &Server,
    name: &str,
    not: &str,
) -> Result<pb::Store> {
    let deadline = tokio::time::Instant::now() + env.patience();
    let mut stores = server.stores().await?;
    loop {
        let store = stores
            .get_store(pb::GetStoreRequest {
                name: name.into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        if store.phase() == pb::StorePhase::Failed && store.failure_reason != not {
            return Ok(store);
        }
        ensure!(
            store.phase() != pb::StorePhase::Ready,
            "{name} became Ready instead of failing"
        );
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} did not fail: {store:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A store still coming up when the overall provisioning timeout passes
/// fails with a reason that says so (its pods never become ready).
async fn provisioning_that_outlasts_its_timeout_fails_with_the_reason(env: Env) -> Result<()> {
    let server = env.start(&["--provision-timeout", "5s"]).await?;
    let name = env.name("stuck");
    create_in_faulty_namespace(&env, &server, &name, "never-ready").await?;
    let failed = wait_for_failure_other_than(&env, &server, &name, "NamespaceConflict").await?;
    assert_eq!(
        failed.failure_reason, "ProvisioningTimedOut",
        "{}",
        failed.failure_message
    );
    let timeline = events(&server, &name).await?;
    ensure!(
        timeline.iter().any(|r| r == "EngineProvisioned"),
        "{timeline:?}"
    );
    Ok(())
}

/// With `--helm-binary`, charts are rendered by `helm template` of the real
/// Helm (built by `cargo xtask test` from helm.sh/helm/v4,
/// `STOREPLANE_TEST_HELM`) and the store comes up the same way.
async fn a_helm_binary_renders_the_engine_charts(env: Env) -> Result<()> {
    let helm = std::env::var("STOREPLANE_TEST_HELM").context(
        "STOREPLANE_TEST_HELM (the helm binary `cargo xtask cluster build` makes) is needed; \
         run `cargo xtask test`",
    )?;
    let server = env.start(&["--helm-binary", &helm]).await?;
    let name = env.name("helmed");
    server
        .stores()
        .await?
        .create_store(request(
            &name,
            "woocommerce",
            serde_json::json!({"admin_email": "owner@example.com"}),
        ))
        .await?;
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    let kube = env.kube(&server).await?;
    let ns = format!("store-{name}");
    ensure!(objects(&kube, &ns, "StatefulSet").await?.len() == 1);
    ensure!(!objects(&kube, &ns, "Job").await?.is_empty());
    ensure!(
        server
            .log()
            .lines()
            .any(|l| l.contains("release applied") && l.contains(&helm)),
        "the release was not rendered by the helm binary:\n{}",
        storeplane_e2e::tail(&server.log())
    );
    Ok(())
}

/// Every object of `kind` (core, apps, batch or networking) in `ns`, as JSON.
async fn objects(kube: &kube::Client, ns: &str, kind: &str) -> Result<Vec<serde_json::Value>> {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let (group, version) = match kind {
        "StatefulSet" | "Deployment" => ("apps", "v1"),
        "Job" => ("batch", "v1"),
        "Ingress" => ("networking.k8s.io", "v1"),
        _ => ("", "v1"),
    };
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let items = Api::<DynamicObject>::namespaced_with(kube.clone(), ns, &resource)
        .list(&ListParams::default())
        .await?
        .items;
    Ok(items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?)
}

async fn fifty_concurrent_creates_all_become_ready(backend: Backend) -> Result<()> {
    let server = Env::simulated(backend)
        .start(&["--reconcile-concurrency", "16"])
        .await?;
    let names: Vec<String> = (0..50).map(|i| format!("shop-{i:02}")).collect();
    let mut calls = Vec::new();
    for name in &names {
        let mut client = server.stores().await?;
        let req = request(name, "static-site", serde_json::json!({}));
        calls.push(tokio::spawn(async move { client.create_store(req).await }));
    }
    for call in calls {
        call.await??;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ready = wait_for(&server, &refs, pb::StorePhase::Ready).await?;
    assert_eq!(ready.len(), 50);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_errors_traps_and_timeouts_are_distinct_failure_reasons() -> Result<()> {
    let server = Env::simulated(Backend::Sqlite)
        .start(&["--plugin-timeout", "2s"])
        .await?;
    let mut stores = server.stores().await?;
    let cases = [
        ("said-no", "fail", "PluginSaidNo"),
        ("crashed", "panic", "PluginCrashed"),
        ("spinner", "loop", "PluginTimedOut"),
    ];
    for (name, mode, _) in cases {
        stores
            .create_store(request(
                name,
                "misbehave",
                serde_json::json!({"mode": mode}),
            ))
            .await?;
    }
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let failed = wait_for(&server, &names, pb::StorePhase::Failed).await?;
    for ((name, _, reason), store) in cases.iter().zip(&failed) {
        assert_eq!(&store.name, name);
        assert_eq!(
            store.failure_reason, *reason,
            "{name}: {}",
            store.failure_message
        );
    }
    ensure!(
        failed[2].failure_message.contains("timed out"),
        "{}",
        failed[2].failure_message
    );
    Ok(())
}

async fn upgrade_then_rollback_changes_and_restores_the_rendered_revision(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("versioned");
    let mut stores = server.stores().await?;
    stores
        .create_store(request(
            &name,
            "woocommerce",
            serde_json::json!({"admin_email": "o@example.com", "currency": "USD"}),
        ))
        .await?;
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    stores
        .upgrade_store(pb::UpgradeStoreRequest {
            name: name.clone(),
            config: Some(to_struct(
                serde_json::json!({"admin_email": "o@example.com", "currency": "EUR"}),
            )),
            ..Default::default()
        })
        .await?;
    wait_until_observed(&env, &server, &name, 2).await?;
    stores
        .rollback_store(pb::RollbackStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    let store = wait_until_observed(&env, &server, &name, 3).await?;
    let config = store.config.context("config")?;
    assert_eq!(
        config.fields.get("currency").and_then(|v| v.kind.clone()),
        Some(prost_types::value::Kind::StringValue("USD".into()))
    );
    let digests = release_digests(&server.database_url, &format!("store-{name}")).await?;
    assert_eq!(digests.len(), 3, "{digests:?}");
    assert_ne!(digests[0], digests[1], "the upgrade changed nothing");
    assert_eq!(
        digests[0], digests[2],
        "the rollback did not restore revision 1"
    );
    Ok(())
}

async fn wait_until_observed(
    env: &Env,
    server: &Server,
    name: &str,
    generation: i64,
) -> Result<pb::Store> {
    let deadline = tokio::time::Instant::now() + env.patience();
    let mut stores = server.stores().await?;
    loop {
        let store = stores
            .get_store(pb::GetStoreRequest {
                name: name.into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        if store.observed_generation >= generation && store.phase() == pb::StorePhase::Ready {
            return Ok(store);
        }
        ensure!(
            store.phase() != pb::StorePhase::Failed,
            "{}: {}",
            store.failure_reason,
            store.failure_message
        );
        ensure!(
            tokio::time::Instant::now() < deadline,
            "generation {generation} never observed: {store:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn release_digests(database_url: &str, namespace: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        let rows =
            sqlx::query_as("SELECT digest FROM releases WHERE namespace = ?1 ORDER BY revision")
                .bind(namespace)
                .fetch_all(&pool)
                .await?;
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        let rows =
            sqlx::query_as("SELECT digest FROM releases WHERE namespace = $1 ORDER BY revision")
                .bind(namespace)
                .fetch_all(&pool)
                .await?;
        pool.close().await;
        rows
    };
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The control plane is killed (SIGKILL) mid-provision and restarted against
/// a cluster that keeps its state (the simulated cluster as its own
/// process, or the real one).
async fn a_control_plane_killed_mid_provision_converges_after_restart(env: Env) -> Result<()> {
    let mut cluster = env.shared_cluster("3s").await?;
    let db = storeplane_e2e::fresh_database(env.backend).await?;
    let name = env.name("survivor");
    let ns = format!("store-{name}");
    // The same replica identity across the restart, like a StatefulSet pod:
    // the restarted process takes over its own lease at once.
    let mut args = cluster.serve_args()?;
    args.extend(["--replica-id".into(), "control-plane-0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = Server::start_on(&db, &args).await?;
    let token = first.admin_token.clone();
    first
        .stores()
        .await?
        .create_store(request(&name, "static-site", serde_json::json!({})))
        .await?;
    // Kill it once the engine has applied its chart, before the workloads are ready.
    let kube = cluster.client().await?;
    let deadline = tokio::time::Instant::now() + env.patience();
    loop {
        let deployments = Api::<Deployment>::namespaced(kube.clone(), &ns)
            .list(&ListParams::default())
            .await?;
        if !deployments.items.is_empty() {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the engine never applied its chart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await?;

    let mut second = Server::start_on(&db, &args).await?;
    second.admin_token = token;
    let ready = env
        .wait_for(&second, &[&name], pb::StorePhase::Ready)
        .await?;
    assert_eq!(ready.len(), 1);
    // No duplicates: one store namespace, one Deployment per name.
    let namespaces = Api::<Namespace>::all(kube.clone())
        .list(&ListParams::default().labels(&format!("storeplane.dev/store={}", ready[0].id)))
        .await?;
    assert_eq!(namespaces.items.len(), 1);
    let deployments = Api::<Deployment>::namespaced(kube, &ns)
        .list(&ListParams::default())
        .await?;
    let mut names: Vec<String> = deployments
        .items
        .iter()
        .filter_map(|d| d.metadata.name.clone())
        .collect();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before);
    let listed = second
        .stores()
        .await?
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner();
    assert_eq!(listed.stores.len(), 1);
    cluster.stop().await?;
    Ok(())
}

/// Waits until the store's timeline has a `DriftCorrected` entry whose
/// message starts with `what`; returns the message.
async fn drift_corrected(env: &Env, server: &Server, name: &str, what: &str) -> Result<String> {
    let deadline = tokio::time::Instant::now() + env.patience();
    loop {
        let events = timeline(server, name).await?;
        if let Some(event) = events
            .iter()
            .find(|e| e.reason == "DriftCorrected" && e.message.starts_with(what))
        {
            return Ok(event.message.clone());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no DriftCorrected for {what:?} in {:?}",
            events
                .iter()
                .map(|e| (&e.reason, &e.message))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drift correction: a hand edit of the engine's Deployment (another field
/// manager) is taken back, a deleted Service is created again, and each is
/// on the timeline naming the object and who changed it.
async fn objects_changed_or_deleted_by_hand_are_put_back(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let (name, ns) = env.ready_static_site(&server, "drift").await?;
    let kube = env.kube(&server).await?;

    let deployments = Api::<Deployment>::namespaced(kube.clone(), &ns);
    let deployment = deployments
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .next()
        .context("the engine's Deployment")?;
    let web = deployment.metadata.name.clone().context("name")?;
    let replicas = deployment.spec.replicas;
    deployments
        .patch(
            &web,
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
        )
        .await?;
    let message = drift_corrected(
        &env,
        &server,
        &name,
        &format!("Deployment {web} changed by kubectl-edit"),
    )
    .await?;
    ensure!(
        message.ends_with("the store's resources were re-applied"),
        "{message}"
    );
    let now = deployments.get(&web).await?;
    assert_eq!(now.spec.replicas, replicas, "replicas put back");

    let services = Api::<Service>::namespaced(kube.clone(), &ns);
    let service = services
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .next()
        .context("the engine's Service")?;
    let svc = service.metadata.name.clone().context("name")?;
    let uid = service.metadata.uid.clone();
    services.delete(&svc, &Default::default()).await?;
    drift_corrected(&env, &server, &name, &format!("Service {svc} deleted")).await?;
    let back = services.get(&svc).await?;
    ensure!(back.metadata.uid != uid, "the Service was created again");
    let store = server
        .stores()
        .await?
        .get_store(pb::GetStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(
        store.phase() == pb::StorePhase::Ready && store.generation == 1,
        "a correction changes neither phase nor generation: {store:?}"
    );
    Ok(())
}

/// The replicas a store's workloads ask for, by kind and name.
async fn replicas(kube: &kube::Client, ns: &str) -> Result<Vec<(String, i64)>> {
    let mut found = Vec::new();
    for kind in ["StatefulSet", "Deployment"] {
        for object in objects(kube, ns, kind).await? {
            found.push((
                format!(
                    "{kind}/{}",
                    object["metadata"]["name"].as_str().unwrap_or("")
                ),
                object["spec"]["replicas"].as_i64().unwrap_or(1),
            ));
        }
    }
    Ok(found)
}

/// A WooCommerce store with a custom domain is served at both hosts, is
/// paused (every shop workload at zero, every host on the paused page, the
/// data kept) and comes back Ready; an engine on plugin API 0.1 is refused
/// both, naming the engine.
async fn a_store_is_paused_resumed_and_served_at_its_custom_domain(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("napper");
    let domain = format!("{name}.shop.example.org");
    let mut stores = server.stores().await?;
    let mut create = request(
        &name,
        "woocommerce",
        serde_json::json!({"admin_email": "owner@example.com"}),
    );
    create.custom_domains = vec![domain.clone()];
    stores.create_store(create).await?;
    let ready = env
        .wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    let urls = ready[0].urls.clone().context("urls")?;
    assert_eq!(
        urls.storefront,
        format!("http://{domain}/"),
        "the first custom domain is the shop's address"
    );
    let kube = env.kube(&server).await?;
    let ns = format!("store-{name}");
    let ingresses = objects(&kube, &ns, "Ingress").await?;
    let hosts: Vec<&str> = ingresses
        .iter()
        .flat_map(|i| i["spec"]["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["host"].as_str())
        .collect();
    ensure!(
        hosts.contains(&format!("{name}.localhost").as_str()) && hosts.contains(&domain.as_str()),
        "{hosts:?}"
    );
    let claims_before = objects(&kube, &ns, "PersistentVolumeClaim").await?.len();

    stores
        .suspend_store(pb::SuspendStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    let paused = env
        .wait_for(&server, &[&name], pb::StorePhase::Suspended)
        .await?;
    ensure!(paused[0].suspended && paused[0].observed_generation == paused[0].generation);
    let running: Vec<(String, i64)> = replicas(&kube, &ns)
        .await?
        .into_iter()
        .filter(|(object, n)| *n > 0 && !object.ends_with("-paused"))
        .collect();
    ensure!(
        running.is_empty(),
        "shop workloads still asked to run: {running:?}"
    );
    let page = objects(&kube, &ns, "Deployment")
        .await?
        .into_iter()
        .find(|d| {
            d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-paused"))
        })
        .context("no paused page Deployment")?;
    ensure!(
        page["status"]["availableReplicas"].as_i64() >= Some(1),
        "paused page unavailable: {page:#}"
    );
    for ingress in objects(&kube, &ns, "Ingress").await? {
        for rule in ingress["spec"]["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                let service = path["backend"]["service"]["name"].as_str().unwrap_or("");
                ensure!(
                    service.ends_with("-paused"),
                    "{} still routed to {service}",
                    rule["host"]
                );
            }
        }
    }
    ensure!(
        objects(&kube, &ns, "PersistentVolumeClaim").await?.len() == claims_before,
        "a claim went away while paused"
    );

    // Scaled back up by hand while paused: paused again, on the timeline.
    let deployments = Api::<Deployment>::namespaced(kube.clone(), &ns);
    let shop = deployments
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .find(|n| !n.ends_with("-paused"))
        .context("the shop's Deployment")?;
    deployments
        .patch(
            &shop,
            &PatchParams {
                field_manager: Some("kubectl-scale".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
        )
        .await?;
    drift_corrected(
        &env,
        &server,
        &name,
        &format!("Deployment {shop} changed by kubectl-scale"),
    )
    .await?;
    let scaled = deployments.get(&shop).await?;
    ensure!(
        scaled.spec.replicas == Some(0),
        "the paused shop was not scaled back to zero"
    );

    stores
        .resume_store(pb::ResumeStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    let resumed = wait_until_observed(&env, &server, &name, paused[0].generation + 1).await?;
    assert_eq!(resumed.phase(), pb::StorePhase::Ready);
    let after = replicas(&kube, &ns).await?;
    ensure!(
        after
            .iter()
            .filter(|(object, _)| !object.ends_with("-paused"))
            .all(|(_, n)| *n >= 1),
        "after resume: {after:?}"
    );
    let timeline = events(&server, &name).await?;
    for reason in [
        "SuspendRequested",
        "EngineSuspended",
        "Suspended",
        "ResumeRequested",
        "EngineResumed",
    ] {
        ensure!(
            timeline.iter().any(|r| r == reason),
            "{reason} missing: {timeline:?}"
        );
    }

    // An engine on plugin API 0.1 has neither.
    let old = env.name("oldsite");
    stores
        .create_store(request(&old, "static-site", serde_json::json!({})))
        .await?;
    let status = stores
        .suspend_store(pb::SuspendStoreRequest {
            name: old.clone(),
            ..Default::default()
        })
        .await
        .expect_err("0.1 engines cannot suspend");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    ensure!(
        status.message().contains("engine static-site") && status.message().contains("suspend"),
        "{}",
        status.message()
    );
    let status = stores
        .set_store_custom_domains(pb::SetStoreCustomDomainsRequest {
            name: old,
            custom_domains: vec![format!("old.{domain}")],
            ..Default::default()
        })
        .await
        .expect_err("0.1 engines have no custom domains");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    Ok(())
}

/// Asks `check` every `period` until it answers `Ok(value)`; after
/// `patience`, fails with its last `Err(why)`.
async fn poll<T, Fut>(
    patience: Duration,
    period: Duration,
    mut check: impl FnMut() -> Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<std::result::Result<T, String>>>,
{
    let deadline = std::time::Instant::now() + patience;
    loop {
        match check().await? {
            Ok(value) => return Ok(value),
            Err(why) => ensure!(std::time::Instant::now() < deadline, "{why}"),
        }
        tokio::time::sleep(period).await;
    }
}

/// Waits until backup `id` has ended (Succeeded or Failed).
async fn finished_backup(env: Env, server: &Server, id: &str) -> Result<pb::Backup> {
    let stores = server.stores().await?;
    poll(env.patience(), Duration::from_millis(200), || {
        let mut stores = stores.clone();
        async move {
            let backup = stores
                .get_backup(pb::GetBackupRequest { id: id.into() })
                .await?
                .into_inner();
            let phase = pb::BackupPhase::try_from(backup.phase)?;
            Ok(
                if matches!(phase, pb::BackupPhase::Succeeded | pb::BackupPhase::Failed) {
                    Ok(backup)
                } else {
                    Err(format!("backup {id} still {phase:?}: {}", backup.message))
                },
            )
        }
    })
    .await
}

/// Waits until the store runs no backup or restore.
async fn idle(env: Env, server: &Server, name: &str) -> Result<pb::Store> {
    let stores = server.stores().await?;
    poll(env.patience(), Duration::from_millis(200), || {
        let mut stores = stores.clone();
        async move {
            let store = stores
                .get_store(pb::GetStoreRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok(match &store.operation {
                None => Ok(store),
                Some(op) => Err(format!("{name} still runs {op:?}")),
            })
        }
    })
    .await
}

/// A WooCommerce store's backup: a Job from the engine wired to the archive
/// Secret the platform made (and removed afterwards), admitted by the
/// cluster. On the simulated cluster, whose kubelet plays the transfer
/// container, the archive arrives and is measured; the backup is cloned
/// into a new store (Ready only after its restore) and restored in place.
/// On the real control plane, whose kwok nodes run no container, the Job
/// completes without uploading: the backup fails `ArchiveMissing`, never
/// succeeds on the Job's word. Refusals: an engine without backups, an
/// unknown backup, a clone of another engine.
async fn a_store_is_backed_up_cloned_and_restored(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("saver");
    let mut stores = server.stores().await?;
    stores
        .create_store(request(
            &name,
            "woocommerce",
            serde_json::json!({"admin_email": "owner@example.com"}),
        ))
        .await?;
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;

    let backup = stores
        .create_backup(pb::CreateBackupRequest {
            store_name: name.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(backup.phase, pb::BackupPhase::Pending as i32);
    assert_eq!(
        (backup.store_name.as_str(), backup.engine.as_str()),
        (name.as_str(), "woocommerce")
    );
    // One at a time.
    let busy = stores
        .create_backup(pb::CreateBackupRequest {
            store_name: name.clone(),
            ..Default::default()
        })
        .await;
    if let Err(status) = busy {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    }
    let done = finished_backup(env, &server, &backup.id).await?;
    let kube = env.kube(&server).await?;
    let ns = format!("store-{name}");
    let jobs = objects(&kube, &ns, "Job").await?;
    let job = jobs
        .iter()
        .find(|j| {
            j["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.contains(&format!("backup-{}", &backup.id[..8])))
        })
        .with_context(|| format!("no backup Job among {jobs:?}"))?;
    let secret = format!("storeplane-archive-{}", backup.id);
    let template = &job["spec"]["template"]["spec"];
    let readers: Vec<&serde_json::Value> =
        ["initContainers", "containers"]
            .iter()
            .flat_map(|k| template[k].as_array().into_iter().flatten())
            .filter(|c| {
                c["env"].as_array().into_iter().flatten().any(|e| {
                    e["valueFrom"]["secretKeyRef"]["name"].as_str() == Some(secret.as_str())
                })
            })
            .collect();
    assert_eq!(readers.len(), 1, "one transfer container reads the URL");
    let secrets = objects(&kube, &ns, "Secret").await?;
    ensure!(
        !secrets
            .iter()
            .any(|s| s["metadata"]["name"].as_str() == Some(secret.as_str())),
        "the archive Secret outlived its backup"
    );
    let timeline = events(&server, &name).await?;
    ensure!(
        timeline.iter().any(|e| e == "BackupRequested"),
        "{timeline:?}"
    );

    if env.cluster == storeplane_e2e::clusters::ClusterKind::Real {
        assert_eq!(done.phase, pb::BackupPhase::Failed as i32, "{done:?}");
        assert_eq!(done.failure_reason, "ArchiveMissing", "{done:?}");
        ensure!(timeline.iter().any(|e| e == "BackupFailed"), "{timeline:?}");
        return Ok(());
    }
    assert_eq!(done.phase, pb::BackupPhase::Succeeded as i32, "{done:?}");
    ensure!(done.size_bytes > 0 && done.sha256.len() == 64, "{done:?}");
    assert_eq!(done.trigger, pb::BackupTrigger::Manual as i32);
    ensure!(
        timeline.iter().any(|e| e == "BackupSucceeded"),
        "{timeline:?}"
    );
    let listed = stores
        .list_backups(pb::ListBackupsRequest {
            store_name: name.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .backups;
    assert_eq!(
        listed.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        [done.id.as_str()]
    );

    // A clone: provisioned, restored, then Ready.
    let clone = env.name("saver-copy");
    let created = stores
        .create_store(pb::CreateStoreRequest {
            name: clone.clone(),
            from_backup: done.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(
        (created.engine.as_str(), created.cloned_from.as_str()),
        ("woocommerce", done.id.as_str())
    );
    assert_eq!(
        created.config,
        request(
            &name,
            "woocommerce",
            serde_json::json!({"admin_email": "owner@example.com"})
        )
        .config,
        "the backup's configuration"
    );
    let ready = env
        .wait_for(&server, &[&clone], pb::StorePhase::Ready)
        .await?;
    assert_eq!(ready[0].operation, None);
    let clone_timeline = events(&server, &clone).await?;
    let restored = clone_timeline.iter().position(|e| e == "Restored");
    let became_ready = clone_timeline.iter().rposition(|e| e == "Ready");
    ensure!(
        restored.is_some() && restored < became_ready,
        "a clone is Ready once restored: {clone_timeline:?}"
    );

    // In place.
    let store = idle(env, &server, &name).await?;
    let restoring = stores
        .restore_store(pb::RestoreStoreRequest {
            name: name.clone(),
            backup: done.id.clone(),
            etag: store.etag.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let operation = restoring.operation.context("a restore in flight")?;
    assert_eq!(operation.kind, pb::store_operation::Kind::Restore as i32);
    // The backup is in use meanwhile.
    let in_use = stores
        .delete_backup(pb::DeleteBackupRequest {
            id: done.id.clone(),
        })
        .await;
    if let Err(status) = in_use {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    }
    let after = idle(env, &server, &name).await?;
    assert_eq!(after.phase, pb::StorePhase::Ready as i32);
    let timeline = events(&server, &name).await?;
    ensure!(timeline.iter().any(|e| e == "Restored"), "{timeline:?}");

    // Refusals.
    let static_site = env.name("plain");
    stores
        .create_store(request(&static_site, "static-site", serde_json::json!({})))
        .await?;
    env.wait_for(&server, &[&static_site], pb::StorePhase::Ready)
        .await?;
    let refused = stores
        .create_backup(pb::CreateBackupRequest {
            store_name: static_site.clone(),
            ..Default::default()
        })
        .await
        .expect_err("static-site has no backups");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    ensure!(
        refused.message().contains("static-site"),
        "{}",
        refused.message()
    );
    let unknown = stores
        .restore_store(pb::RestoreStoreRequest {
            name: name.clone(),
            backup: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .expect_err("no such backup");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let mismatch = stores
        .create_store(pb::CreateStoreRequest {
            name: env.name("wrong"),
            engine: "medusa".into(),
            from_backup: done.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another engine's backup");
    assert_eq!(mismatch.code(), tonic::Code::InvalidArgument);

    let deleted = stores
        .delete_backup(pb::DeleteBackupRequest {
            id: done.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(deleted.id, done.id);
    let gone = stores
        .get_backup(pb::GetBackupRequest {
            id: done.id.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    Ok(())
}

#[tokio::test]
async fn sqlite_sim_a_scheduled_backup_is_taken_at_its_slot() -> Result<()> {
    a_scheduled_backup_is_taken_at_its_slot(Env::simulated(Backend::Sqlite)).await
}

/// A schedule is validated, shown on the store, and fires at its next slot
/// (every minute: within 60 s) with no call from anyone; removing it is an
/// empty cron.
async fn a_scheduled_backup_is_taken_at_its_slot(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let name = env.name("nightly");
    let mut stores = server.stores().await?;
    stores
        .create_store(request(
            &name,
            "medusa",
            serde_json::json!({"admin_email": "owner@example.com"}),
        ))
        .await?;
    env.wait_for(&server, &[&name], pb::StorePhase::Ready)
        .await?;
    let schedule = |cron: &str, retention| pb::SetStoreBackupScheduleRequest {
        name: name.clone(),
        schedule: Some(pb::BackupSchedule {
            cron: cron.into(),
            retention,
        }),
        ..Default::default()
    };
    let refused = stores
        .set_store_backup_schedule(schedule("every minute", 1))
        .await
        .expect_err("not cron");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let set = stores
        .set_store_backup_schedule(schedule("* * * * *", 0))
        .await?
        .into_inner();
    assert_eq!(
        set.backup_schedule,
        Some(pb::BackupSchedule {
            cron: "* * * * *".into(),
            retention: 7
        })
    );
    let taken = poll(Duration::from_secs(75), Duration::from_millis(500), || {
        let mut stores = stores.clone();
        let name = name.clone();
        async move {
            let backups = stores
                .list_backups(pb::ListBackupsRequest {
                    store_name: name,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .backups;
            Ok(backups
                .into_iter()
                .find(|b| {
                    b.trigger == pb::BackupTrigger::Scheduled as i32
                        && b.phase == pb::BackupPhase::Succeeded as i32
                })
                .ok_or_else(|| "no scheduled backup within a minute".to_owned()))
        }
    })
    .await?;
    ensure!(taken.size_bytes > 0, "{taken:?}");
    let removed = stores
        .set_store_backup_schedule(schedule("", 0))
        .await?
        .into_inner();
    assert_eq!(removed.backup_schedule, None);
    Ok(())
}
