//! The medusa engine against the SDK's fake host: the same code that runs in
//! the component, driven the way the host drives it. The fake does not
//! render charts, so the tests play the cluster with `put_object`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a store context that does not deserialize fails the test"
)]

use serde_json::{Value, json};
use storeplane_plugin_medusa::{Config, Medusa, Names, helm_values};
use storeplane_plugin_sdk::testing::{FakeHost, Harness, check_bundle_sources, store_context};
use storeplane_plugin_sdk::{Phase, Store, StoreContext};

#[path = "../../testing/engine_contract.rs"]
mod contract;

fn plugin() -> Harness<Medusa> {
    Harness::new()
}

fn host() -> FakeHost {
    FakeHost::for_engine::<Medusa>().with_charts(&["medusa"])
}

fn store() -> StoreContext {
    store_context(json!({"admin_email": "owner@example.com", "region": "in"}))
}

/// The init Job's name for a store context, as the engine computes it.
fn job_name(context: &StoreContext) -> String {
    let store: Store<Config> = Store::from_context(context.clone()).unwrap();
    let values = helm_values(&store).unwrap();
    Names::new("test-shop").init_job(values["init"]["jobSuffix"].as_str().unwrap())
}

fn statefulset(ready: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "test-shop-postgres"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "readyReplicas": ready}
    })
}

fn deployment(name: &str, available: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "availableReplicas": available}
    })
}

fn all_deployments(host: &FakeHost, available: i64) {
    for name in [
        "test-shop-redis",
        "test-shop-backend",
        "test-shop-storefront",
    ] {
        host.put_object(deployment(name, available));
    }
}

fn job(name: &str, status: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "status": status})
}

fn complete() -> Value {
    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
}

fn stuck_pod(name: &str, component: &str, reason: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {
            "app.kubernetes.io/name": "medusa",
            "app.kubernetes.io/instance": "test-shop",
            "app.kubernetes.io/component": component
        }},
        "status": {"initContainerStatuses": [{
            "name": "wait-for-migrations",
            "state": {"waiting": {"reason": reason, "message": "Back-off pulling image \"ghcr.io/storeplane/medusa-backend:2.21.2\""}}
        }]}
    })
}

#[test]
fn bundle_sources_match_describe() {
    check_bundle_sources::<Medusa>(env!("CARGO_MANIFEST_DIR"), &["charts/medusa"]);
}

#[test]
fn schema_is_the_one_the_api_offers_in_engines_json() {
    contract::assert_offered_as_described::<Medusa>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn provision_ensures_the_three_secrets_then_installs_the_release() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    assert_eq!(
        host.call_summaries(),
        [
            "secrets.ensure-secret test-shop-admin",
            "secrets.ensure-secret test-shop-db",
            "secrets.ensure-secret test-shop-app",
            "helm.install-or-upgrade test-shop"
        ]
    );
    assert_eq!(
        host.secret_keys("test-shop-app").unwrap(),
        [
            "jwt-secret",
            "cookie-secret",
            "redis-password",
            "publishable-key",
            "revalidate-secret"
        ]
    );
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(
        values["store"],
        json!({
            "url": "http://test-shop.example.test",
            "adminEmail": "owner@example.com",
            "region": {
                "code": "in", "name": "India", "currency": "inr",
                "countries": ["in"], "defaultCountry": "in"
            },
            "seedDemoData": true
        })
    );
    assert_eq!(
        values["secrets"],
        json!({"admin": "test-shop-admin", "database": "test-shop-db", "app": "test-shop-app"})
    );
    assert_eq!(values["ingress"]["host"], "test-shop.example.test");
    assert_eq!(values["init"]["jobSuffix"].as_str().unwrap().len(), 10);
}

#[test]
fn provision_passes_tls_issuer_ingress_class_and_storage_class() {
    let mut store = store();
    store.storage_class = Some("longhorn".into());
    let values =
        contract::provision_passes_tls_and_ingress_class::<Medusa>(&host(), store, "nginx");
    assert_eq!(values["storageClass"], "longhorn");
    assert_eq!(values["store"]["url"], "https://test-shop.example.test");
}

#[test]
fn region_and_demo_data_come_from_the_config_and_rename_the_init_job() {
    let host = host();
    let mut us = store();
    us.config =
        json!({"admin_email": "owner@example.com", "region": "us", "seed_demo_data": false})
            .to_string();
    plugin().provision(&host, &us).unwrap();
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(values["store"]["region"]["currency"], "usd");
    assert_eq!(values["store"]["region"]["defaultCountry"], "us");
    assert_eq!(values["store"]["seedDemoData"], false);
    assert_ne!(job_name(&us), job_name(&store()));
}

#[test]
fn provision_twice_converges_to_the_same_release_content() {
    contract::provision_twice_converges::<Medusa>(&host(), &store());
}

#[test]
fn provision_fails_retryably_when_the_chart_engine_is_down_and_recovers() {
    contract::provision_retries_when_the_chart_engine_is_down::<Medusa>(host(), &store());
}

#[test]
fn observe_before_install_is_provisioning_without_urls() {
    contract::observe_before_install_is_provisioning::<Medusa>(&host(), &store());
}

#[test]
fn observe_waits_for_every_workload_and_the_init_job_then_is_ready() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    let job_id = job_name(&store);

    let nothing = plugin().observe(&host, &store).unwrap();
    assert_eq!(nothing.phase, Phase::Provisioning);
    assert!(nothing.message.contains(&job_id), "{}", nothing.message);

    host.put_object(statefulset(0));
    all_deployments(&host, 0);
    host.put_object(job(&job_id, json!({"active": 1})));
    let waiting = plugin().observe(&host, &store).unwrap();
    assert_eq!(waiting.phase, Phase::Provisioning, "{waiting:?}");
    for part in [
        "PostgreSQL (0/1 ready)",
        "Redis",
        "backend",
        "storefront",
        "1 running",
    ] {
        assert!(
            waiting.message.contains(part),
            "{part}: {}",
            waiting.message
        );
    }

    host.put_object(statefulset(1));
    all_deployments(&host, 1);
    let only_job = plugin().observe(&host, &store).unwrap();
    assert_eq!(only_job.phase, Phase::Provisioning, "{only_job:?}");
    assert!(
        only_job.message.contains("init Job"),
        "{}",
        only_job.message
    );

    host.put_object(job(&job_id, complete()));
    host.put_object(deployment("test-shop-storefront", 0));
    let storefront = plugin().observe(&host, &store).unwrap();
    assert_eq!(storefront.phase, Phase::Provisioning, "{storefront:?}");
    assert!(
        storefront.message.contains("storefront"),
        "{}",
        storefront.message
    );

    host.put_object(deployment("test-shop-storefront", 1));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("http://test-shop.example.test/app")
    );
    assert_eq!(ready.credentials_secret.as_deref(), Some("test-shop-admin"));
    contract::assert_storable(&ready);
}

#[test]
fn observe_reports_https_urls_when_tls_is_on() {
    let host = host();
    let mut store = store();
    store.tls = true;
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    all_deployments(&host, 1);
    host.put_object(job(&job_name(&store), complete()));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(ready.phase, Phase::Ready);
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("https://test-shop.example.test/app")
    );
}

#[test]
fn a_failed_init_job_fails_the_store_with_its_reason() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    all_deployments(&host, 0);
    host.put_object(job(
        &job_name(&store),
        json!({"failed": 5, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"
        }]}),
    ));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.phase, Phase::Failed);
    assert_eq!(failed.reason, "SetupJobFailed");
    assert!(
        failed.message.contains("init Job") && failed.message.contains("BackoffLimitExceeded"),
        "{}",
        failed.message
    );
}

#[test]
fn an_image_pull_back_off_in_an_init_container_fails_the_store_at_once() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    all_deployments(&host, 0);
    host.put_object(stuck_pod(
        "test-shop-backend-5f-x",
        "backend",
        "ImagePullBackOff",
    ));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    assert_eq!(failed.reason, "ImagePullBackOff");
    assert!(
        failed.message.contains("wait-for-migrations"),
        "{}",
        failed.message
    );
}

#[test]
fn a_storefront_past_its_progress_deadline_fails_the_store() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    all_deployments(&host, 1);
    host.put_object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "test-shop-storefront"},
        "status": {"conditions": [{
            "type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "timed out"
        }]}
    }));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.reason, "ProgressDeadlineExceeded");
    assert!(failed.message.contains("storefront"), "{}", failed.message);
}

#[test]
fn deprovision_uninstalls_and_removes_the_postgres_claim_and_secrets_idempotently() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    host.clear_calls();
    plugin().deprovision(&host, &store()).unwrap();
    plugin().deprovision(&host, &store()).unwrap();
    assert!(host.release("test-shop").is_none());
    let once = [
        "helm.uninstall test-shop",
        "kube.delete PersistentVolumeClaim/data-test-shop-postgres-0",
        "kube.delete Secret/test-shop-admin",
        "kube.delete Secret/test-shop-db",
        "kube.delete Secret/test-shop-app",
    ];
    assert_eq!(host.call_summaries(), [once, once].concat());
}

#[test]
fn upgrade_reinstalls_the_release_with_a_new_revision() {
    let host = host().with_release("test-shop", "medusa");
    plugin().upgrade(&host, &store(), "0.0.9").unwrap();
    assert_eq!(host.release("test-shop").unwrap().revision, 2);
    assert!(host.logs().iter().any(|l| l.message.contains("0.0.9")));
}

#[test]
fn validate_rejects_bad_configurations_by_field() {
    let missing = plugin().validate(&json!({"region": "eu"}));
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].field, "admin_email");

    let unknown = plugin().validate(&json!({"admin_email": "a@b.co", "currency": "EUR"}));
    assert_eq!(unknown[0].field, "currency");

    let bad = plugin().validate(&json!({"admin_email": "nope", "region": "apac"}));
    let fields: Vec<_> = bad.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["admin_email", "region"]);

    let wrong_type = plugin().validate(&json!({"admin_email": "a@b.co", "seed_demo_data": "yes"}));
    assert_eq!(wrong_type.len(), 1, "{wrong_type:?}");

    assert!(
        plugin()
            .validate(&json!({"admin_email": "owner@example.com"}))
            .is_empty()
    );
}

#[test]
fn validate_refuses_free_text_that_starts_like_an_option() {
    contract::free_text_may_not_start_like_an_option::<Medusa>(
        &json!({"admin_email": "owner@example.com"}),
        &["admin_email"],
    );
}
