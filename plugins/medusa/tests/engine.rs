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
use storeplane_plugin_sdk::{Engine, Operation, Phase, Store, StoreContext};

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

// Suspend and resume.

/// The shop's own workloads: `(kind, name, label in messages)`.
const SHOP: [(&str, &str, &str); 4] = [
    ("StatefulSet", "test-shop-postgres", "PostgreSQL"),
    ("Deployment", "test-shop-redis", "Redis"),
    ("Deployment", "test-shop-backend", "backend"),
    ("Deployment", "test-shop-storefront", "storefront"),
];

/// A store the platform has paused (`store.suspended`), as `suspend` and
/// every later call see it.
fn suspended(mut store: StoreContext) -> StoreContext {
    store.suspended = true;
    store
}

/// A Deployment or StatefulSet with `desired` replicas of which `running`
/// exist and are ready and available.
fn scaled(kind: &str, name: &str, desired: i64, running: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": name},
        "spec": {"replicas": desired},
        "status": {"replicas": running, "readyReplicas": running, "availableReplicas": running}
    })
}

fn paused_page(available: i64) -> Value {
    scaled("Deployment", "test-shop-paused", 1, available)
}

/// Every shop workload at zero, the paused page up and the init Job done:
/// what a paused cluster looks like.
fn put_paused_cluster(host: &FakeHost, store: &StoreContext) {
    for (kind, name, _) in SHOP {
        host.put_object(scaled(kind, name, 0, 0));
    }
    host.put_object(paused_page(1));
    host.put_object(job(&job_name(store), complete()));
}

#[test]
fn describe_lists_suspend_resume_backup_and_restore() {
    assert_eq!(
        plugin().engine().operations(),
        [
            Operation::Suspend,
            Operation::Resume,
            Operation::Backup,
            Operation::Restore
        ]
    );
}

#[test]
fn suspend_installs_the_release_paused_with_the_same_init_job() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    let running = host.release_values("test-shop").unwrap();
    assert_eq!(running["suspended"], false);

    plugin().suspend(&host, &suspended(store())).unwrap();
    let paused = host.release_values("test-shop").unwrap();
    assert_eq!(paused["suspended"], true);
    assert_eq!(host.release("test-shop").unwrap().revision, 2);
    assert_eq!(paused["init"], running["init"]);
    assert_eq!(job_name(&suspended(store())), job_name(&store()));
    let without_state = |mut values: Value| {
        values.as_object_mut().unwrap().remove("suspended");
        values
    };
    assert_eq!(without_state(paused), without_state(running));
}

#[test]
fn suspend_pauses_even_when_called_with_a_running_store_context() {
    let host = host();
    plugin().suspend(&host, &store()).unwrap();
    assert_eq!(host.release_values("test-shop").unwrap()["suspended"], true);
}

#[test]
fn provisioning_a_suspended_store_keeps_it_suspended() {
    let host = host();
    plugin().provision(&host, &suspended(store())).unwrap();
    assert_eq!(host.release_values("test-shop").unwrap()["suspended"], true);
}

#[test]
fn observe_reports_suspended_only_once_every_workload_and_the_init_job_have_stopped() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    for (kind, name, _) in SHOP {
        host.put_object(scaled(kind, name, 0, 1));
    }
    host.put_object(job(&job_name(&store), json!({"active": 1})));
    let pausing = plugin().observe(&host, &store).unwrap();
    assert_eq!(pausing.phase, Phase::Provisioning, "{pausing:?}");
    assert!(
        pausing.message.starts_with("pausing: waiting for "),
        "{}",
        pausing.message
    );
    for (_, _, label) in SHOP {
        assert!(
            pausing.message.contains(&format!("{label} to stop")),
            "{label}: {}",
            pausing.message
        );
    }
    for part in ["init Job", "test-shop-paused"] {
        assert!(pausing.message.contains(part), "{}", pausing.message);
    }
    assert_eq!(
        pausing.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );

    // One workload left is enough to keep pausing.
    put_paused_cluster(&host, &store);
    host.put_object(scaled("Deployment", "test-shop-redis", 0, 1));
    let redis = plugin().observe(&host, &store).unwrap();
    assert_eq!(redis.phase, Phase::Provisioning, "{redis:?}");
    assert!(redis.message.contains("Redis to stop"), "{}", redis.message);

    put_paused_cluster(&host, &store);
    host.put_object(paused_page(0));
    let page = plugin().observe(&host, &store).unwrap();
    assert_eq!(page.phase, Phase::Provisioning, "{page:?}");
    assert!(page.message.contains("paused page"), "{}", page.message);

    host.put_object(paused_page(1));
    let paused = plugin().observe(&host, &store).unwrap();
    assert_eq!(paused.phase, Phase::Suspended, "{paused:?}");
    assert_eq!(paused.message, "paused: no workload runs, data kept");
    assert_eq!(
        paused.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );
    assert_eq!(
        paused.admin_url.as_deref(),
        Some("http://test-shop.example.test/app")
    );
    assert_eq!(
        paused.credentials_secret.as_deref(),
        Some("test-shop-admin")
    );
    contract::assert_storable(&paused);
}

#[test]
fn a_paused_page_that_cannot_pull_its_image_fails_the_store() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    put_paused_cluster(&host, &store);
    host.put_object(paused_page(0));
    host.put_object(stuck_pod(
        "test-shop-paused-5c8-x1",
        "paused",
        "ErrImagePull",
    ));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    assert_eq!(failed.reason, "ErrImagePull");
}

#[test]
fn a_stopping_backend_pod_in_back_off_does_not_fail_a_pausing_store() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    put_paused_cluster(&host, &store);
    host.put_object(scaled("Deployment", "test-shop-backend", 0, 1));
    host.put_object(stuck_pod(
        "test-shop-backend-7d9-x1",
        "backend",
        "CrashLoopBackOff",
    ));
    let seen = plugin().observe(&host, &store).unwrap();
    assert_eq!(seen.phase, Phase::Provisioning, "{seen:?}");
}

#[test]
fn resume_installs_the_running_release_again_and_observe_is_ready_as_before() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    let before = host.release_values("test-shop").unwrap();
    plugin().suspend(&host, &suspended(store())).unwrap();
    put_paused_cluster(&host, &suspended(store()));

    plugin().resume(&host, &store()).unwrap();
    assert_eq!(host.release_values("test-shop").unwrap(), before);
    assert_eq!(host.release("test-shop").unwrap().revision, 3);
    let waking = plugin().observe(&host, &store()).unwrap();
    assert_eq!(waking.phase, Phase::Provisioning, "{waking:?}");
    // The completed init Job kept its name: it is not run again.
    host.put_object(statefulset(1));
    all_deployments(&host, 1);
    let ready = plugin().observe(&host, &store()).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
}

#[test]
fn resume_brings_a_store_back_even_when_called_with_a_suspended_context() {
    let host = host();
    plugin().resume(&host, &suspended(store())).unwrap();
    assert_eq!(
        host.release_values("test-shop").unwrap()["suspended"],
        false
    );
}

// Custom domains.

fn with_domains(mut store: StoreContext, domains: &[&str]) -> StoreContext {
    store.extra_hosts = domains.iter().map(|d| (*d).to_owned()).collect();
    store
}

#[test]
fn custom_domains_are_served_and_the_first_one_is_the_shops_address() {
    let host = host();
    let mut store = with_domains(
        store(),
        &["shop.bean-leaf.example", "www.bean-leaf.example"],
    );
    store.tls = true;
    plugin().provision(&host, &store).unwrap();
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(values["ingress"]["host"], "test-shop.example.test");
    assert_eq!(
        values["ingress"]["extraHosts"],
        json!(["shop.bean-leaf.example", "www.bean-leaf.example"])
    );
    // The storefront's base URL and the first CORS origin.
    assert_eq!(values["store"]["url"], "https://shop.bean-leaf.example");

    host.put_object(statefulset(1));
    all_deployments(&host, 1);
    host.put_object(job(&job_name(&store), complete()));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("https://shop.bean-leaf.example/")
    );
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("https://shop.bean-leaf.example/app")
    );
}

#[test]
fn without_custom_domains_the_platform_host_is_the_address_and_no_extra_hosts_are_sent() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(values["store"]["url"], "http://test-shop.example.test");
    assert!(values["ingress"].get("extraHosts").is_none(), "{values}");
}

#[test]
fn changing_the_custom_domains_runs_the_init_job_again_for_the_new_cors_origins() {
    let one = with_domains(store(), &["shop.bean-leaf.example"]);
    let two = with_domains(
        store(),
        &["shop.bean-leaf.example", "www.bean-leaf.example"],
    );
    assert_ne!(job_name(&one), job_name(&store()));
    assert_ne!(job_name(&two), job_name(&one));
    assert_eq!(job_name(&suspended(two.clone())), job_name(&two));
}
