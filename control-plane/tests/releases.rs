//! Chart releases against the simulated cluster: install, upgrade with
//! prune, rollback and uninstall through [`PlatformBackend`], with the
//! revisions recorded in a real (SQLite) database.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails by panicking"
)]

use std::{path::PathBuf, sync::Arc};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace},
};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde_json::json;
use storeplane::{
    cluster::{KubeOps, LABEL_RELEASE, LABEL_STORE, PlatformBackend},
    domain::{ports::StoreRepository, tenancy::GlobalLimits},
    persistence::{self, ReleaseRepository},
};
use storeplane_plugin_host::{HostBackend, HostError, StoreContext};
use storeplane_sim_cluster::{SimCluster, SimConfig};

struct Fixture {
    backend: PlatformBackend,
    client: kube::Client,
    store: StoreContext,
    chart: PathBuf,
    _cluster: SimCluster,
}

/// A chart whose `extra` ConfigMap exists only while `.Values.extra` is set.
fn write_chart(dir: &std::path::Path) {
    let files = [
        ("Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.2.3\n"),
        ("values.yaml", "greeting: hello\nextra: true\nreplicas: 1\n"),
        (
            "templates/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
        ),
        (
            "templates/extra.yaml",
            "{{- if .Values.extra }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\ndata:\n  revision: {{ .Release.Revision | quote }}\n{{- end }}\n",
        ),
        (
            "templates/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      securityContext: {runAsNonRoot: true, runAsUser: 101, seccompProfile: {type: RuntimeDefault}}\n      containers:\n        - name: web\n          image: nginx:1.27.3\n          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n",
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("storeplane-releases-{}", uuid::Uuid::new_v4()));
    let chart = dir.join("chart");
    write_chart(&chart);
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let db = persistence::connect(&url).await.unwrap();
    persistence::migrate(&db).await.unwrap();
    let stores: Arc<dyn StoreRepository> = persistence::repository(
        db.clone(),
        Arc::new(tokio::sync::Notify::new()),
        1000,
        GlobalLimits::default(),
    );
    let cluster = SimCluster::new(SimConfig::instant());
    let client = cluster.client();
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some("store-shop".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let backend = PlatformBackend::new(
        Arc::new(KubeOps::new(client.clone())),
        uuid::Uuid::new_v4(),
        Arc::new(ReleaseRepository::new(db)),
        stores,
    );
    let store = StoreContext {
        id: uuid::Uuid::new_v4().to_string(),
        name: "shop".into(),
        namespace: "store-shop".into(),
        tenant: "tenants/acme".into(),
        config: json!({}),
        generation: 1,
        host: "shop.localhost".into(),
        ingress_class: None,
        storage_class: None,
        tls: false,
        cluster_issuer: None,
        extra_hosts: Vec::new(),
        suspended: false,
    };
    Fixture {
        backend,
        client,
        store,
        chart,
        _cluster: cluster,
    }
}

async fn config_maps(f: &Fixture) -> Vec<ConfigMap> {
    let mut items = Api::<ConfigMap>::namespaced(f.client.clone(), "store-shop")
        .list(&ListParams::default().labels(&format!("{LABEL_RELEASE}=shop")))
        .await
        .unwrap()
        .items;
    items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    items
}

fn names(items: &[ConfigMap]) -> Vec<String> {
    items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect()
}

#[tokio::test]
async fn install_upgrade_with_prune_rollback_and_uninstall() {
    let f = fixture().await;
    let values = |extra: bool, greeting: &str| json!({"extra": extra, "greeting": greeting});

    // Install: every object, labelled with the store, tenant and release.
    let first = f
        .backend
        .install_or_upgrade(&f.store, "shop", &f.chart, values(true, "hello"))
        .await
        .unwrap();
    assert_eq!(
        (
            first.revision,
            first.chart.as_str(),
            first.chart_version.as_str()
        ),
        (1, "shop", "1.2.3")
    );
    let maps = config_maps(&f).await;
    assert_eq!(names(&maps), ["shop-config", "shop-extra"]);
    let labels = maps[0].metadata.labels.clone().unwrap();
    assert_eq!(labels.get(LABEL_STORE), Some(&f.store.id));
    assert_eq!(
        labels.get("storeplane.dev/tenant").map(String::as_str),
        Some("acme")
    );
    let deployments = Api::<Deployment>::namespaced(f.client.clone(), "store-shop");
    assert!(deployments.get_opt("shop-web").await.unwrap().is_some());

    // Upgrade: what the new revision no longer renders is pruned; the rest
    // is updated in place.
    let second = f
        .backend
        .install_or_upgrade(&f.store, "shop", &f.chart, values(false, "bonjour"))
        .await
        .unwrap();
    assert_eq!(second.revision, 2);
    assert_ne!(first.digest, second.digest);
    let maps = config_maps(&f).await;
    assert_eq!(names(&maps), ["shop-config"]);
    assert_eq!(maps[0].data.clone().unwrap()["greeting"], "bonjour");
    assert!(deployments.get_opt("shop-web").await.unwrap().is_some());

    // Rollback: revision 1's values as revision 3; the pruned object returns.
    let third = f.backend.rollback(&f.store, "shop").await.unwrap();
    assert_eq!(third.revision, 3);
    assert_eq!(third.digest.len(), first.digest.len());
    let maps = config_maps(&f).await;
    assert_eq!(names(&maps), ["shop-config", "shop-extra"]);
    assert_eq!(maps[0].data.clone().unwrap()["greeting"], "hello");
    assert_eq!(maps[1].data.clone().unwrap()["revision"], "3");
    let history = f
        .backend
        .releases()
        .history(&f.store.id, "shop")
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|r| r.revision).collect::<Vec<_>>(),
        [3, 2, 1]
    );

    // Uninstall: every object of the release goes, then the record; a second
    // uninstall finds nothing to do.
    assert!(f.backend.uninstall(&f.store, "shop").await.unwrap());
    assert!(config_maps(&f).await.is_empty());
    assert!(deployments.get_opt("shop-web").await.unwrap().is_none());
    assert!(
        f.backend
            .release_status(&f.store, "shop")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!f.backend.uninstall(&f.store, "shop").await.unwrap());
}

/// Installs the fixture chart with one more template, which must be
/// refused: nothing applied, no release recorded. Returns the refusal.
async fn refused_with_template(template: &str) -> HostError {
    let f = fixture().await;
    std::fs::write(f.chart.join("templates/extra-object.yaml"), template).unwrap();
    let err = f
        .backend
        .install_or_upgrade(&f.store, "shop", &f.chart, json!({}))
        .await
        .unwrap_err();
    assert!(
        config_maps(&f).await.is_empty(),
        "objects applied before the refusal: {err:?}"
    );
    let release = f.backend.release_status(&f.store, "shop").await.unwrap();
    assert!(release.is_none(), "a refused release was recorded");
    err
}

#[tokio::test]
async fn a_chart_with_a_cluster_scoped_object_is_refused_before_anything_is_applied() {
    let err = refused_with_template(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: escalate\nrules: []\n",
    )
    .await;
    assert!(
        matches!(&err, HostError::Denied(m) if m.contains("ClusterRole")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_chart_that_does_not_render_is_an_invalid_release_and_records_nothing() {
    let err =
        refused_with_template("{{ required \"greeting is required\" .Values.missing }}\n").await;
    assert!(
        matches!(&err, HostError::Invalid(m) if m.contains("greeting is required")),
        "{err:?}"
    );
}

/// Review finding 11: release records belong to a store. A later store
/// with the same name (same namespace) starts at revision 1 and does not
/// prune by the earlier store's object list.
#[tokio::test]
async fn a_new_store_with_a_reused_name_starts_at_revision_one() {
    let mut f = fixture().await;
    let first = f
        .backend
        .install_or_upgrade(&f.store, "shop", &f.chart, json!({"extra": true}))
        .await
        .unwrap();
    assert_eq!(first.revision, 1);
    // The first store's record is gone, its deprovision never ran; a new
    // store of the same name comes along.
    f.store.id = uuid::Uuid::new_v4().to_string();
    let second = f
        .backend
        .install_or_upgrade(&f.store, "shop", &f.chart, json!({"extra": true}))
        .await
        .unwrap();
    assert_eq!(
        second.revision, 1,
        "inherited the earlier store's revisions"
    );
    assert_eq!(
        f.backend
            .releases()
            .history(&f.store.id, "shop")
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Pruning and uninstalling delete only what still carries the release's
/// labels: an object someone else put under the same name stays.
#[tokio::test]
async fn pruning_and_uninstall_leave_objects_that_are_not_the_releases() {
    let f = fixture().await;
    f.backend
        .install_or_upgrade(&f.store, "shop", &f.chart, json!({"extra": true}))
        .await
        .unwrap();
    let maps = Api::<ConfigMap>::namespaced(f.client.clone(), "store-shop");
    let theirs = |name: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    maps.delete("shop-extra", &Default::default())
        .await
        .unwrap();
    maps.create(&PostParams::default(), &theirs("shop-extra"))
        .await
        .unwrap();
    // Revision 2 no longer renders shop-extra: it would be pruned.
    f.backend
        .install_or_upgrade(&f.store, "shop", &f.chart, json!({"extra": false}))
        .await
        .unwrap();
    assert!(
        maps.get_opt("shop-extra").await.unwrap().is_some(),
        "pruned"
    );
    // Uninstall removes the release's own objects only.
    maps.delete("shop-config", &Default::default())
        .await
        .unwrap();
    maps.create(&PostParams::default(), &theirs("shop-config"))
        .await
        .unwrap();
    assert!(f.backend.uninstall(&f.store, "shop").await.unwrap());
    let deployments = Api::<Deployment>::namespaced(f.client.clone(), "store-shop");
    assert!(deployments.get_opt("shop-web").await.unwrap().is_none());
    assert!(
        maps.get_opt("shop-config").await.unwrap().is_some(),
        "uninstalled"
    );
}
