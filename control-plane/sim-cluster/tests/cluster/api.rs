//! API semantics through `kube::Client`, in-process.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use storeplane_sim_cluster::{SimCluster, SimConfig};

use super::{deployment, instant_cluster, json_of, namespace, object};

fn api_error(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn created_objects_get_identity_and_can_be_read_back() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let deployments: Api<Deployment> = Api::namespaced(client, "shop");
    let created = deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let fetched = deployments.get("web").await.unwrap();
    assert_eq!(fetched.metadata.uid, meta.uid);
    let listed = deployments.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());
}

#[tokio::test]
async fn creating_twice_is_already_exists() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = object(json!({ "metadata": { "name": "a" } }));
    maps.create(&PostParams::default(), &cm).await.unwrap();
    let err = api_error(maps.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(err.message, "configmaps \"a\" already exists");
}

#[tokio::test]
async fn creating_in_a_missing_namespace_is_not_found() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "nope");
    let err = api_error(
        maps.create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "a" } })),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "namespaces \"nope\" not found");
}

#[tokio::test]
async fn unknown_resources_are_not_found() {
    let (_cluster, client) = instant_cluster();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let err = api_error(widgets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn cluster_scoped_builtins_are_served() {
    let (_cluster, client) = instant_cluster();
    let roles: Api<ClusterRole> = Api::all(client);
    roles
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "reader" }, "rules": [] })),
        )
        .await
        .unwrap();
    assert_eq!(
        roles.get("reader").await.unwrap().metadata.name.as_deref(),
        Some("reader")
    );
}

#[tokio::test]
async fn update_with_a_stale_resource_version_conflicts() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "cfg" }, "data": { "a": "1" } })),
        )
        .await
        .unwrap();
    let mut fresh = created.clone();
    fresh.data = Some([("a".to_owned(), "2".to_owned())].into());
    maps.replace("cfg", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let err = api_error(
        maps.replace("cfg", &PostParams::default(), &created)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn spec_changes_bump_generation_but_status_and_labels_do_not() {
    let (_cluster, client) = instant_cluster();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let labelled = deployments
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({ "metadata": { "labels": { "x": "y" } } })),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let scaled = deployments
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({ "spec": { "replicas": 3 } })),
        )
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(json_of(&scaled)["spec"]["replicas"], 3);
    let status = deployments
        .patch_status(
            "web",
            &pp,
            &Patch::Merge(json!({ "status": { "observedGeneration": 99 } })),
        )
        .await
        .unwrap();
    assert_eq!(status.metadata.generation, Some(2));
}

#[tokio::test]
async fn status_subresource_and_main_resource_change_only_their_part() {
    // Only the ReplicaSets of Deployments are managed here, so no controller
    // races these writes.
    let (_cluster, client) = instant_cluster();
    let sets: Api<ReplicaSet> = Api::namespaced(client, "default");
    let mut rs = deployment("web", 1);
    rs["kind"] = json!("ReplicaSet");
    sets.create(&PostParams::default(), &object(rs))
        .await
        .unwrap();
    // Through /status, a spec change is ignored and the status is taken.
    let mut via_status = json_of(&sets.get("web").await.unwrap());
    via_status["spec"]["replicas"] = json!(7);
    via_status["status"] = json!({ "replicas": 5, "observedGeneration": 42 });
    let after = json_of(
        &sets
            .replace_status("web", &PostParams::default(), &object(via_status))
            .await
            .unwrap(),
    );
    assert_eq!(after["spec"]["replicas"], 1);
    assert_eq!(after["status"]["observedGeneration"], 42);
    assert_eq!(after["metadata"]["generation"], 1);
    // Through the main resource, a status change is ignored.
    let mut via_main = after.clone();
    via_main["status"] = json!({ "replicas": 0, "observedGeneration": 1 });
    via_main["spec"]["replicas"] = json!(2);
    let after = json_of(
        &sets
            .replace("web", &PostParams::default(), &object(via_main))
            .await
            .unwrap(),
    );
    assert_eq!(after["spec"]["replicas"], 2);
    assert_eq!(after["status"]["observedGeneration"], 42);
    assert_eq!(after["metadata"]["generation"], 2);
}

#[tokio::test]
async fn merge_strategic_and_json_patches_apply() {
    let (_cluster, client) = instant_cluster();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let strategic = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "main", "image": "nginx:2" }] } } } });
    let patched = json_of(
        &deployments
            .patch("web", &pp, &Patch::Strategic(strategic))
            .await
            .unwrap(),
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    let maps: Api<ConfigMap> = Api::namespaced(deployments.into_client(), "default");
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "cfg" }, "data": { "a": "1", "b": "2" } })),
    )
    .await
    .unwrap();
    let merged = maps
        .patch(
            "cfg",
            &pp,
            &Patch::Merge(json!({ "data": { "a": null, "c": "3" } })),
        )
        .await
        .unwrap();
    assert_eq!(json_of(&merged)["data"], json!({ "b": "2", "c": "3" }));
}

#[tokio::test]
async fn server_side_apply_creates_and_conflicts_only_across_managers() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let config = |value: &str| json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cfg" }, "data": { "key": value } });
    let storeplane = PatchParams::apply("storeplane");
    let created = maps
        .patch("cfg", &storeplane, &Patch::Apply(config("1")))
        .await
        .unwrap();
    assert_eq!(
        json_of(&created)["metadata"]["managedFields"][0]["manager"],
        "storeplane"
    );
    // The same manager re-applying a change never conflicts.
    maps.patch("cfg", &storeplane, &Patch::Apply(config("2")))
        .await
        .unwrap();
    let other = PatchParams::apply("other");
    let err = api_error(
        maps.patch("cfg", &other, &Patch::Apply(config("3")))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("conflict with \"storeplane\""),
        "{}",
        err.message
    );
    let forced = maps
        .patch("cfg", &other.force(), &Patch::Apply(config("3")))
        .await
        .unwrap();
    assert_eq!(json_of(&forced)["data"]["key"], "3");
}

#[tokio::test]
async fn apply_without_field_manager_is_rejected() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let config = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cfg" } });
    let err = maps
        .patch("cfg", &PatchParams::default(), &Patch::Apply(config))
        .await
        .unwrap_err();
    // kube-rs refuses locally or the server answers 422; either way no object.
    let _ = err;
    assert!(maps.get_opt("cfg").await.unwrap().is_none());
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "cache")] {
        let cm = object(json!({ "metadata": { "name": name, "labels": { "tier": tier } } }));
        maps.create(&PostParams::default(), &cm).await.unwrap();
    }
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "bare" } })),
    )
    .await
    .unwrap();
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect()
    };
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier=web"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier in (db,cache)"))
                .await
                .unwrap()
        ),
        ["b", "c"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier notin (db,cache),tier"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert!(
        names(
            maps.list(&ListParams::default().labels("!tier"))
                .await
                .unwrap()
        )
        .contains(&"bare".to_owned())
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().fields("metadata.name=b"))
                .await
                .unwrap()
        ),
        ["b"]
    );
}

#[tokio::test]
async fn lists_paginate_with_limit_and_continue() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..5 {
        maps.create(
            &PostParams::default(),
            &object(
                json!({ "metadata": { "name": format!("cm-{i}"), "labels": { "page": "yes" } } }),
            ),
        )
        .await
        .unwrap();
    }
    // Selected: the namespace also holds the published `kube-root-ca.crt`.
    let selected = ListParams::default().labels("page=yes");
    let first = maps.list(&selected.clone().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    // Counted only for lists without a selector, as upstream.
    assert_eq!(first.metadata.remaining_item_count, None);
    let token = first.metadata.continue_.clone().unwrap();
    let second = maps
        .list(&selected.limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 3);
    assert!(
        second
            .metadata
            .continue_
            .as_deref()
            .is_none_or(str::is_empty)
    );
}

#[tokio::test]
async fn a_selected_page_says_more_only_when_more_match() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, page) in [("a-0", "yes"), ("a-1", "yes"), ("a-2", "no"), ("a-3", "no")] {
        maps.create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": name, "labels": { "page": page } } })),
        )
        .await
        .unwrap();
    }
    let selected = ListParams::default().labels("page=yes");
    // The last match fills the page; what follows matches nothing.
    let full = maps.list(&selected.clone().limit(2)).await.unwrap();
    let names = |list: &kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .iter()
            .filter_map(|m| m.metadata.name.clone())
            .collect()
    };
    assert_eq!(names(&full), ["a-0", "a-1"]);
    assert!(full.metadata.continue_.as_deref().is_none_or(str::is_empty));
    let first = maps.list(&selected.limit(1)).await.unwrap();
    assert_eq!(names(&first), ["a-0"]);
    assert!(first.metadata.continue_.is_some_and(|c| !c.is_empty()));
    // Without a selector: the rest counted (with `kube-root-ca.crt`).
    let unselected = maps.list(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(unselected.metadata.remaining_item_count, Some(4));
}

#[tokio::test]
async fn watch_resumes_after_a_resource_version() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "one" } })),
        )
        .await
        .unwrap();
    let rv = first.metadata.resource_version.unwrap();
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "two" } })),
    )
    .await
    .unwrap();
    maps.delete("one", &DeleteParams::default()).await.unwrap();
    let mut stream = maps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("two")),
        other => panic!("expected ADDED two, got {other:?}"),
    }
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("one")),
        other => panic!("expected DELETED one, got {other:?}"),
    }
    // And then live changes.
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "three" } })),
    )
    .await
    .unwrap();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("three")),
        other => panic!("expected ADDED three, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_410_gone() {
    let mut config = SimConfig::instant();
    config.watch_history = 5;
    let cluster = SimCluster::new(config);
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let first = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "c0" } })),
        )
        .await
        .unwrap();
    for i in 1..20 {
        maps.create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": format!("c{i}") } })),
        )
        .await
        .unwrap();
    }
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = maps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            // The watch cache's words: `too old resource version: <asked> (<oldest - 1>)`.
            let prefix = format!("too old resource version: {rv} (");
            assert!(
                status.message.starts_with(&prefix) && status.message.ends_with(')'),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_sends_bookmarks_when_allowed() {
    let mut config = SimConfig::instant();
    config.bookmark_interval = std::time::Duration::from_millis(50);
    let cluster = SimCluster::new(config);
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let rv = cluster.resource_version().to_string();
    let mut stream = maps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    // As from the apiserver, a bookmark only comes once the watch has
    // something to move past.
    let moved = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "moved" } })),
        )
        .await
        .unwrap();
    let moved_rv: u64 = moved.metadata.resource_version.unwrap().parse().unwrap();
    loop {
        match stream.try_next().await.unwrap().unwrap() {
            // A bookmark carries the newest version the watcher has passed.
            WatchEvent::Bookmark(b) => {
                assert!(b.metadata.resource_version.parse::<u64>().unwrap() >= moved_rv);
                break;
            }
            WatchEvent::Added(_) | WatchEvent::Modified(_) => {}
            other => panic!("expected a bookmark, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn watch_gets_a_bookmark_before_its_timeout() {
    // Bookmarks every minute, but one 2 s before the watch's deadline, as
    // the apiserver's cacher sends, so a client re-watches from late.
    let (cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = cluster.resource_version().to_string();
    let started = std::time::Instant::now();
    let mut stream = maps
        .watch(&WatchParams::default().timeout(3), &rv)
        .await
        .unwrap()
        .boxed();
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "moved" } })),
    )
    .await
    .unwrap();
    let mut bookmarks = 0;
    while let Some(event) = stream.try_next().await.unwrap() {
        if let WatchEvent::Bookmark(_) = event {
            bookmarks += 1;
            let at = started.elapsed();
            assert!(
                at < std::time::Duration::from_secs(2) + std::time::Duration::from_millis(900),
                "{at:?}"
            );
        }
    }
    assert_eq!(bookmarks, 1);
}

#[tokio::test]
async fn filtered_watch_sees_objects_leave_its_selection_as_deleted() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "m", "labels": { "tier": "web" } } })),
    )
    .await
    .unwrap();
    let mut stream = maps
        .watch(&WatchParams::default().labels("tier=web"), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        stream.try_next().await.unwrap().unwrap(),
        WatchEvent::Added(_)
    ));
    maps.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "labels": { "tier": "db" } } })),
    )
    .await
    .unwrap();
    assert!(matches!(
        stream.try_next().await.unwrap().unwrap(),
        WatchEvent::Deleted(_)
    ));
}

#[tokio::test]
async fn kube_runtime_watcher_lists_and_follows_in_both_list_modes() {
    use kube::runtime::watcher::{self, Event};
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "before" } })),
    )
    .await
    .unwrap();
    for config in [
        watcher::Config::default().page_size(1),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut events = watcher::watcher(maps.clone(), config).boxed();
        let mut seen_init_done = false;
        while let Some(event) = events.try_next().await.unwrap() {
            if let Event::InitDone = event {
                seen_init_done = true;
                break;
            }
        }
        assert!(seen_init_done);
        let name = format!("after-{}", rand_suffix());
        maps.create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": name } })),
        )
        .await
        .unwrap();
        match events.try_next().await.unwrap().unwrap() {
            Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some(name.as_str())),
            other => panic!("expected the new object, got {other:?}"),
        }
    }
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}", nanos % 1_000_000)
}

#[tokio::test]
async fn delete_waits_for_finalizers() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm =
        object(json!({ "metadata": { "name": "held", "finalizers": ["storeplane.io/cleanup"] } }));
    maps.create(&PostParams::default(), &cm).await.unwrap();
    let pending = maps.delete("held", &DeleteParams::default()).await.unwrap();
    let held = pending
        .left()
        .expect("a finalized object is returned, not a Status");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(maps.get("held").await.is_ok());
    let err = api_error(
        maps.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({ "metadata": { "finalizers": ["storeplane.io/cleanup", "new"] } }),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    maps.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
    )
    .await
    .unwrap();
    assert!(maps.get_opt("held").await.unwrap().is_none());
}

#[tokio::test]
async fn namespace_teardown_terminates_then_removes_content_and_namespace() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "doomed").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "doomed");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "held", "finalizers": ["storeplane.io/x"] } })),
    )
    .await
    .unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deleting = namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(json_of(&deleting)["status"]["phase"], "Terminating");

    // The held object keeps the namespace Terminating; new content is refused.
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(json_of(&ns)["status"]["phase"], "Terminating");
    let err = api_error(
        maps.create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "late" } })),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    let cause = &err.details.as_ref().unwrap().causes[0];
    assert_eq!(
        (
            cause.reason.as_str(),
            cause.message.as_str(),
            cause.field.as_str()
        ),
        (
            "NamespaceTerminating",
            "namespace doomed is being terminated",
            "metadata.namespace"
        )
    );
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let rv = namespaces
        .get("doomed")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = namespaces
        .watch(&WatchParams::default().fields("metadata.name=doomed"), &rv)
        .await
        .unwrap()
        .boxed();
    maps.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
    )
    .await
    .unwrap();
    loop {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Deleted(_) => break,
            WatchEvent::Modified(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(namespaces.get_opt("doomed").await.unwrap().is_none());
}

#[tokio::test]
async fn a_watch_of_events_from_a_compacted_version_is_gone_in_etcds_words() {
    // Events are not in the apiserver's watch cache: etcd's compaction
    // decides what is too old. Cached resources are not affected.
    let mut config = SimConfig::instant();
    config.compaction_interval = std::time::Duration::from_millis(50);
    let cluster = SimCluster::new(config);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client(), "default");
    let mut stream = events
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert_eq!(
                status.message,
                "The resourceVersion for the provided watch is too old."
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let mut stream = maps
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        stream.try_next().await.unwrap().unwrap(),
        WatchEvent::Added(_)
    ));
}

#[tokio::test]
async fn only_resources_whose_registry_keeps_a_generation_have_one() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "g" }, "data": { "a": "1" } })),
        )
        .await
        .unwrap();
    assert_eq!(map.metadata.generation, None);
    let changed = maps
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "a": "2" } })),
        )
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, None);
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let created = deployments
        .create(&PostParams::default(), &object(deployment("g", 1)))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
}

#[tokio::test]
async fn delete_preconditions_fail_in_the_words_of_the_registry() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map = maps
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": "p" } })),
        )
        .await
        .unwrap();
    let uid = map.metadata.uid.unwrap();
    let wrong = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let status = api_error(maps.delete("p", &wrong).await.unwrap_err());
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"p\": the UID in the precondition \
             (00000000-0000-0000-0000-000000000000) does not match the UID in record ({uid}). \
             The object might have been deleted and then recreated"
        )
    );
    // Namespaces check in storage's words.
    namespace(&client, "kept").await;
    let namespaces: Api<Namespace> = Api::all(client);
    let status = api_error(namespaces.delete("kept", &wrong).await.unwrap_err());
    assert!(
        status
            .message
            .contains("Precondition failed: UID in precondition: 00000000-"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn every_namespace_gets_the_published_root_ca() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "fresh").await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "fresh");
    let published = super::wait_for(&maps, "kube-root-ca.crt", |m: Option<&ConfigMap>| {
        m.is_some()
    })
    .await;
    let pem = published.data.unwrap_or_default();
    assert!(pem["ca.crt"].starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn removing_the_last_label_leaves_no_empty_map() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    maps.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "l", "labels": { "a": "b" } } })),
    )
    .await
    .unwrap();
    let unlabelled = maps
        .patch(
            "l",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "a": null } } })),
        )
        .await
        .unwrap();
    assert_eq!(json_of(&unlabelled)["metadata"].get("labels"), None);
}
