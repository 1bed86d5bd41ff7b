//! storeplane acts only on what it owns (review findings 1, 2 and the
//! baseline part of 3): it never takes over or deletes a namespace it did
//! not create, an empty or different database deletes nothing, orphans are
//! deleted only on request and only this installation's, and the platform
//! baseline is restored when something changes it.

#![allow(clippy::expect_used)] // A failed expectation is the test failing.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::{
    core::v1::{ConfigMap, Namespace, ResourceQuota},
    networking::v1::NetworkPolicy,
};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use storeplane_e2e::{
    Server, clusters::Env, engine_request as request, fresh_database, on_both_clusters, v1 as pb,
};

on_both_clusters!(
    a_namespace_storeplane_did_not_create_is_never_taken_over_or_deleted,
    an_empty_database_deletes_nothing_and_delete_orphans_removes_only_this_installations,
    the_platform_baseline_is_restored_when_it_drifts,
);

fn namespace(name: &str, labels: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn events(server: &Server, name: &str) -> Result<Vec<pb::StoreEvent>> {
    server.timeline(name).await
}

async fn eventually<F, Fut>(env: &Env, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + env.patience();
    while !check().await? {
        ensure!(tokio::time::Instant::now() < deadline, "{what}: timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Review finding 1: a tenant creates (then deletes) a store whose
/// namespace already exists and is someone else's.
async fn a_namespace_storeplane_did_not_create_is_never_taken_over_or_deleted(
    env: Env,
) -> Result<()> {
    let server = env.start(&[]).await?;
    let kube = env.kube(&server).await?;
    let name = env.name("victim");
    let ns = format!("store-{name}");
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    namespaces
        .create(&PostParams::default(), &namespace(&ns, &[]))
        .await?;
    let data = ConfigMap {
        metadata: ObjectMeta {
            name: Some("their-data".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(kube.clone(), &ns)
        .create(&PostParams::default(), &data)
        .await?;

    let mut stores = server.stores().await?;
    stores
        .create_store(request(&name, "static-site", serde_json::json!({})))
        .await?;
    let failed = env
        .wait_for(&server, &[&name], pb::StorePhase::Failed)
        .await?;
    assert_eq!(failed[0].failure_reason, "NamespaceConflict");
    ensure!(
        failed[0].failure_message.contains(&ns)
            && failed[0].failure_message.contains("changed nothing"),
        "{}",
        failed[0].failure_message
    );
    // Untouched: no labels, no policies (their workloads keep their network).
    let live = namespaces.get(&ns).await?;
    let labels = live.metadata.labels.unwrap_or_default();
    ensure!(
        !labels.keys().any(|k| k.starts_with("storeplane.dev/")),
        "{labels:?}"
    );
    let policies = Api::<NetworkPolicy>::namespaced(kube.clone(), &ns)
        .list(&Default::default())
        .await?;
    assert!(policies.items.is_empty(), "policies were applied");

    stores
        .delete_store(pb::DeleteStoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await?;
    eventually(&env, "the record is removed", || {
        let mut stores = stores.clone();
        let name = name.clone();
        async move {
            Ok(stores
                .get_store(pb::GetStoreRequest {
                    name,
                    ..Default::default()
                })
                .await
                .is_err_and(|s| s.code() == tonic::Code::NotFound))
        }
    })
    .await?;
    let live = namespaces.get(&ns).await?;
    ensure!(
        live.metadata.deletion_timestamp.is_none(),
        "it is being deleted"
    );
    Api::<ConfigMap>::namespaced(kube, &ns)
        .get("their-data")
        .await
        .context("their data is gone")?;
    Ok(())
}

/// Review finding 2 and the acceptance: a control plane started on
/// an empty database, against a cluster that holds store namespaces of
/// this and of another installation, deletes nothing; with
/// `--delete-orphans` only this installation's orphan goes, after the grace
/// period.
async fn an_empty_database_deletes_nothing_and_delete_orphans_removes_only_this_installations(
    env: Env,
) -> Result<()> {
    let mut cluster = env.shared_cluster("0s").await?;
    let kube = cluster.client().await?;
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    let args = cluster.serve_args()?;
    let (keep, gone) = (env.name("keep"), env.name("gone"));
    let (theirs, legacy) = (
        format!("store-{}", env.name("theirs")),
        format!("store-{}", env.name("legacy")),
    );
    let (keep_ns, gone_ns) = (format!("store-{keep}"), format!("store-{gone}"));

    // This installation (database `db`) provisions two stores.
    let db = fresh_database(storeplane_e2e::Backend::Sqlite).await?;
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = Server::start_on(&db, &argv).await?;
    let token = first.admin_token.clone();
    let mut stores = first.stores().await?;
    for name in [&keep, &gone] {
        stores
            .create_store(request(name, "static-site", serde_json::json!({})))
            .await?;
    }
    env.wait_for(&first, &[&keep, &gone], pb::StorePhase::Ready)
        .await?;
    let this = first.installation_id().await?;
    first.terminate().await?;
    // `gone` loses its record, as after restoring an older backup.
    let pool = sqlx::SqlitePool::connect(&db).await?;
    sqlx::query("DELETE FROM stores WHERE name = ?1")
        .bind(&gone)
        .execute(&pool)
        .await?;
    pool.close().await;

    // Another installation's store and one from before installation ids.
    let other_store = uuid::Uuid::new_v4().to_string();
    let other_instance = uuid::Uuid::new_v4().to_string();
    namespaces
        .create(
            &PostParams::default(),
            &namespace(
                &theirs,
                &[
                    ("app.kubernetes.io/managed-by", "storeplane"),
                    ("storeplane.dev/store", &other_store),
                    ("storeplane.dev/instance", &other_instance),
                ],
            ),
        )
        .await?;
    let legacy_store = uuid::Uuid::new_v4().to_string();
    namespaces
        .create(
            &PostParams::default(),
            &namespace(
                &legacy,
                &[
                    ("app.kubernetes.io/managed-by", "storeplane"),
                    ("storeplane.dev/store", &legacy_store),
                ],
            ),
        )
        .await?;
    let all = [&keep_ns, &gone_ns, &theirs, &legacy];

    // 1. An empty database (a new installation id) with --delete-orphans:
    // every namespace is someone else's orphan, and nothing is deleted.
    let mut empty_args = args.clone();
    empty_args.extend([
        "--delete-orphans".into(),
        "--orphan-grace".into(),
        "0s".into(),
    ]);
    let argv: Vec<&str> = empty_args.iter().map(String::as_str).collect();
    let mut empty = Server::start_on(
        &fresh_database(storeplane_e2e::Backend::Sqlite).await?,
        &argv,
    )
    .await?;
    let orphans = list_orphans(&env, &empty, &all).await?;
    ensure!(
        orphans
            .namespaces
            .iter()
            .all(|o| !o.this_installation && o.delete_after.is_none()),
        "{orphans:?}"
    );
    assert_ne!(orphans.installation_id, this);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for ns in all {
        let live = namespaces
            .get(ns)
            .await
            .with_context(|| format!("{ns} was deleted"))?;
        ensure!(
            live.metadata.deletion_timestamp.is_none(),
            "{ns} is being deleted"
        );
    }
    ensure!(
        empty.log().contains("orphaned store namespace"),
        "the orphans were not logged"
    );
    empty.terminate().await?;

    // 2. This installation's database with --delete-orphans: only its own
    // orphan goes, after the grace period.
    let mut own_args = args.clone();
    own_args.extend([
        "--delete-orphans".into(),
        "--orphan-grace".into(),
        "2s".into(),
    ]);
    let argv: Vec<&str> = own_args.iter().map(String::as_str).collect();
    let mut second = Server::start_on(&db, &argv).await?;
    second.admin_token = token;
    let orphans = list_orphans(&env, &second, &[&gone_ns, &theirs, &legacy]).await?;
    for o in &orphans.namespaces {
        if o.namespace == gone_ns {
            ensure!(o.this_installation && o.delete_after.is_some(), "{o:?}");
        } else {
            ensure!(!o.this_installation && o.delete_after.is_none(), "{o:?}");
        }
    }
    ensure!(
        namespaces.get_opt(&gone_ns).await?.is_some(),
        "deleted before its grace period"
    );
    eventually(&env, "the orphan is deleted after its grace period", || {
        let namespaces = namespaces.clone();
        let gone_ns = gone_ns.clone();
        async move {
            Ok(namespaces
                .get_opt(&gone_ns)
                .await?
                .is_none_or(|n| n.metadata.deletion_timestamp.is_some()))
        }
    })
    .await?;
    for ns in [&keep_ns, &theirs, &legacy] {
        let live = namespaces.get_opt(ns).await?;
        ensure!(
            live.is_some_and(|n| n.metadata.deletion_timestamp.is_none()),
            "{ns} was deleted"
        );
    }
    let kept = env
        .wait_for(&second, &[&keep], pb::StorePhase::Ready)
        .await?;
    assert_eq!(kept.len(), 1);
    second.terminate().await?;
    // Clean up what the real cluster would otherwise keep for the run.
    for ns in [&theirs, &legacy] {
        namespaces.delete(ns, &Default::default()).await?;
    }
    cluster.stop().await?;
    Ok(())
}

/// Waits until the admin API lists every one of `expected` (among the
/// orphans of other tests sharing a real cluster); returns those.
async fn list_orphans(
    env: &Env,
    server: &Server,
    expected: &[&String],
) -> Result<pb::ListOrphanedNamespacesResponse> {
    let mut admin = server.admin_as(&server.admin_token).await?;
    let deadline = tokio::time::Instant::now() + env.patience();
    loop {
        let mut found = admin
            .list_orphaned_namespaces(pb::ListOrphanedNamespacesRequest {})
            .await?
            .into_inner();
        found
            .namespaces
            .retain(|o| expected.iter().any(|e| **e == o.namespace));
        if found.namespaces.len() == expected.len() {
            return Ok(found);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "only {} orphans listed: {found:?}",
            found.namespaces.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Review finding 3 (baseline part): whoever changes the quota, deletes
/// the deny-all policy or drops the Pod Security label, the platform puts
/// it back and says so in the store's timeline.
async fn the_platform_baseline_is_restored_when_it_drifts(env: Env) -> Result<()> {
    let server = env.start(&[]).await?;
    let (name, ns) = env.ready_static_site(&server, "steady").await?;
    let kube = env.kube(&server).await?;
    let ns = ns.as_str();
    let quotas: Api<ResourceQuota> = Api::namespaced(kube.clone(), ns);
    let original = quotas.get("storeplane-quota").await?.spec;

    // Someone lifts the quota (merge patch, another field manager).
    let lift = serde_json::json!({"spec": {"hard": {"pods": "1000", "requests.cpu": "1000"}}});
    quotas
        .patch(
            "storeplane-quota",
            &PatchParams::default(),
            &Patch::Merge(&lift),
        )
        .await?;
    eventually(&env, "the quota is restored", || {
        let quotas = quotas.clone();
        let original = original.clone();
        async move { Ok(quotas.get("storeplane-quota").await?.spec == original) }
    })
    .await?;

    // Someone deletes the deny-all policy.
    let policies: Api<NetworkPolicy> = Api::namespaced(kube.clone(), ns);
    policies
        .delete("storeplane-default-deny", &Default::default())
        .await?;
    eventually(&env, "the deny-all policy is recreated", || {
        let policies = policies.clone();
        async move { Ok(policies.get_opt("storeplane-default-deny").await?.is_some()) }
    })
    .await?;

    // Someone drops the Pod Security label.
    let namespaces: Api<Namespace> = Api::all(kube);
    let drop =
        serde_json::json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": null}}});
    namespaces
        .patch(ns, &PatchParams::default(), &Patch::Merge(&drop))
        .await?;
    eventually(&env, "the Pod Security label is back", || {
        let namespaces = namespaces.clone();
        async move {
            let labels = namespaces
                .get(ns)
                .await?
                .metadata
                .labels
                .unwrap_or_default();
            Ok(labels
                .get("pod-security.kubernetes.io/enforce")
                .map(String::as_str)
                == Some("restricted"))
        }
    })
    .await?;
    let restored = events(&server, &name)
        .await?
        .iter()
        .filter(|e| e.reason == "BaselineRestored")
        .count();
    ensure!(restored >= 3, "{restored} BaselineRestored events");
    Ok(())
}
