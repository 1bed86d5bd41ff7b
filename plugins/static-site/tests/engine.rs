//! The static-site engine against the SDK's fake host: the same code that
//! runs in the component, driven the way the host drives it.

use serde_json::{Value, json};
use storeplane_plugin_sdk::testing::{FakeHost, Harness, check_bundle_sources, store_context};
use storeplane_plugin_sdk::{Capability, Phase, StoreContext};
use storeplane_plugin_static_site::StaticSite;

#[path = "../../testing/engine_contract.rs"]
mod contract;

fn plugin() -> Harness<StaticSite> {
    Harness::new()
}

fn host() -> FakeHost {
    FakeHost::for_engine::<StaticSite>().with_charts(&["static-site"])
}

fn store() -> StoreContext {
    store_context(json!({
        "shop_title": "Bean & Leaf",
        "products": [{"name": "Green tea", "price": "6.50"}]
    }))
}

fn deployment(status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "test-shop"},
        "spec": {"replicas": 1},
        "status": status,
    })
}

#[test]
fn bundle_sources_match_describe() {
    check_bundle_sources::<StaticSite>(env!("CARGO_MANIFEST_DIR"), &["charts/static-site"]);
}

#[test]
fn provision_ensures_the_admin_secret_then_installs_the_release() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();

    assert_eq!(
        host.call_summaries(),
        [
            "secrets.ensure-secret test-shop-admin",
            "helm.install-or-upgrade test-shop"
        ]
    );
    assert_eq!(
        host.secret_keys("test-shop-admin"),
        Some(vec!["password".to_owned()])
    );
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(values["ingress"]["host"], "test-shop.example.test");
    assert_eq!(values["ingress"]["tls"]["enabled"], false);
    assert_eq!(values["admin"]["existingSecret"], "test-shop-admin");
    assert_eq!(values["replicaCount"], 1);
    let index = values["site"]["indexHtml"].as_str().unwrap();
    assert!(
        index.contains("Bean &amp; Leaf") && index.contains("6.50 USD"),
        "{index}"
    );
}

#[test]
fn provision_twice_converges_to_the_same_release_content() {
    contract::provision_twice_converges::<StaticSite>(&host(), &store());
}

#[test]
fn provision_passes_tls_issuer_and_ingress_class_from_the_platform() {
    contract::provision_passes_tls_and_ingress_class::<StaticSite>(&host(), store(), "traefik");
}

#[test]
fn provision_fails_retryably_when_the_chart_engine_is_down_and_recovers() {
    contract::provision_retries_when_the_chart_engine_is_down::<StaticSite>(host(), &store());
}

#[test]
fn provision_without_the_secrets_grant_is_denied_before_installing() {
    let host = FakeHost::new().granting(&[Capability::Helm, Capability::KubeRead]);
    let err = plugin().provision(&host, &store()).unwrap_err();
    assert_eq!(err.reason, "HostCallDenied");
    assert!(host.release("test-shop").is_none());
}

#[test]
fn observe_before_install_is_provisioning_without_urls() {
    contract::observe_before_install_is_provisioning::<StaticSite>(&host(), &store());
}

#[test]
fn observe_moves_from_provisioning_to_ready_when_a_replica_is_available() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    // The fake does not render charts: the test plays the cluster.
    host.put_object(deployment(json!({"replicas": 1, "availableReplicas": 0})));
    let waiting = plugin().observe(&host, &store()).unwrap();
    assert_eq!(waiting.phase, Phase::Provisioning, "{waiting:?}");

    host.put_object(deployment(json!({"replicas": 1, "availableReplicas": 1})));
    let ready = plugin().observe(&host, &store()).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("http://test-shop.example.test/admin/")
    );
    assert_eq!(ready.credentials_secret.as_deref(), Some("test-shop-admin"));
}

#[test]
fn observe_reports_https_urls_when_tls_is_on() {
    let host = host().with_release("test-shop", "static-site");
    host.put_object(deployment(json!({"availableReplicas": 1})));
    let mut store = store();
    store.tls = true;
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("https://test-shop.example.test/")
    );
}

#[test]
fn observe_reports_progress_deadline_exceeded_as_failed() {
    let host = host()
        .with_release("test-shop", "static-site")
        .with_object(deployment(json!({
            "conditions": [{
                "type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"test-shop-5d4\" has timed out progressing."
            }]
        })));
    let failed = plugin().observe(&host, &store()).unwrap();
    assert_eq!(failed.phase, Phase::Failed);
    assert_eq!(failed.reason, "ProgressDeadlineExceeded");
    assert!(failed.message.contains("timed out"));
}

#[test]
fn observe_reports_image_pull_back_off_before_the_deadline() {
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "test-shop-5d4-x7",
            "labels": {"app.kubernetes.io/name": "static-site", "app.kubernetes.io/instance": "test-shop"}
        },
        "status": {"containerStatuses": [{
            "name": "nginx",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
        }]}
    });
    let host = host()
        .with_release("test-shop", "static-site")
        .with_object(deployment(json!({"replicas": 1})))
        .with_object(pod);
    let failed = plugin().observe(&host, &store()).unwrap();
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    assert_eq!(failed.reason, "ImagePullBackOff");
    assert_eq!(
        host.call_summaries(),
        [
            "helm.status test-shop",
            "kube.get Deployment/test-shop",
            "kube.list Pod"
        ]
    );
}

#[test]
fn observe_lists_no_pods_before_the_deployment_counts_a_replica() {
    let host = host()
        .with_release("test-shop", "static-site")
        .with_object(deployment(json!({})));
    let waiting = plugin().observe(&host, &store()).unwrap();
    assert_eq!(waiting.phase, Phase::Provisioning, "{waiting:?}");
    assert_eq!(
        host.call_summaries(),
        ["helm.status test-shop", "kube.get Deployment/test-shop"]
    );
}

#[test]
fn deprovision_uninstalls_the_release_and_deletes_the_secret_idempotently() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    host.clear_calls();
    plugin().deprovision(&host, &store()).unwrap();
    plugin().deprovision(&host, &store()).unwrap();
    assert!(host.release("test-shop").is_none());
    assert_eq!(
        host.call_summaries(),
        [
            "helm.uninstall test-shop",
            "kube.delete Secret/test-shop-admin",
            "helm.uninstall test-shop",
            "kube.delete Secret/test-shop-admin"
        ]
    );
}

#[test]
fn upgrade_installs_the_new_chart_over_the_old_release() {
    let host = host().with_release("test-shop", "static-site");
    plugin().upgrade(&host, &store(), "0.0.9").unwrap();
    assert_eq!(host.release("test-shop").unwrap().revision, 2);
    assert!(host.logs().iter().any(|l| l.message.contains("0.0.9")));
}

#[test]
fn validate_reports_unknown_fields_and_duplicate_products() {
    let unknown = plugin().validate(&json!({"shop_titel": "typo"}));
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].field, "shop_titel");

    let duplicates = plugin().validate(&json!({"products": [
        {"name": "Tea", "price": "1"}, {"name": "Tea", "price": "2"}
    ]}));
    assert_eq!(duplicates.len(), 1);
    assert_eq!(duplicates[0].field, "products.1.name");

    assert!(plugin().validate(&json!({})).is_empty());
}

#[test]
fn describe_declares_what_provision_and_observe_use() {
    let (info, schema) = plugin().describe();
    assert_eq!(info.id, "static-site");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(schema["properties"]["currency"]["default"], "USD");
}
