//! The woocommerce engine against the SDK's fake host: the same code that
//! runs in the component, driven the way the host drives it. The fake does
//! not render charts, so the tests play the cluster with `put_object`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a store context that does not deserialize fails the test"
)]

use serde_json::{Value, json};
use storeplane_plugin_sdk::testing::{FakeHost, Harness, check_bundle_sources, store_context};
use storeplane_plugin_sdk::{Engine, Operation, Phase, Store, StoreContext};
use storeplane_plugin_woocommerce::{Config, Names, WooCommerce, helm_values};

#[path = "../../testing/engine_contract.rs"]
mod contract;

fn plugin() -> Harness<WooCommerce> {
    Harness::new()
}

fn host() -> FakeHost {
    FakeHost::for_engine::<WooCommerce>().with_charts(&["woocommerce"])
}

fn store() -> StoreContext {
    store_context(json!({
        "store_title": "Bean & Leaf",
        "admin_email": "owner@example.com",
        "currency": "EUR",
        "sample_products": 4
    }))
}

/// The setup Job's name for a store context, as the engine computes it.
fn job_name(context: &StoreContext) -> String {
    let store: Store<Config> = Store::from_context(context.clone()).unwrap();
    let values = helm_values(&store);
    Names::new("test-shop").setup_job(values["setup"]["jobSuffix"].as_str().unwrap())
}

fn statefulset(ready: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "test-shop-mysql"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "readyReplicas": ready}
    })
}

fn deployment(available: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "test-shop-wordpress"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "availableReplicas": available}
    })
}

fn job(name: &str, status: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "status": status
    })
}

fn complete() -> Value {
    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
}

fn pod(name: &str, component: &str, waiting_reason: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {
            "app.kubernetes.io/name": "woocommerce",
            "app.kubernetes.io/instance": "test-shop",
            "app.kubernetes.io/component": component
        }},
        "status": {"containerStatuses": [{
            "name": component,
            "state": {"waiting": {"reason": waiting_reason, "message": "Back-off pulling image \"wordpress:7.1.2-php8.4-apache\""}}
        }]}
    })
}

#[test]
fn bundle_sources_match_describe() {
    check_bundle_sources::<WooCommerce>(env!("CARGO_MANIFEST_DIR"), &["charts/woocommerce"]);
}

#[test]
fn schema_is_the_one_the_api_offers_in_engines_json() {
    contract::assert_offered_as_described::<WooCommerce>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn provision_ensures_both_secrets_then_installs_the_release() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();

    assert_eq!(
        host.call_summaries(),
        [
            "secrets.ensure-secret test-shop-admin",
            "secrets.ensure-secret test-shop-db",
            "helm.install-or-upgrade test-shop"
        ]
    );
    assert_eq!(
        host.secret_keys("test-shop-admin"),
        Some(vec!["password".to_owned()])
    );
    assert_eq!(
        host.secret_keys("test-shop-db"),
        Some(vec!["root-password".to_owned(), "password".to_owned()])
    );
    let values = host.release_values("test-shop").unwrap();
    assert_eq!(
        values["store"],
        json!({
            "url": "http://test-shop.example.test",
            "title": "Bean & Leaf",
            "adminUser": "admin",
            "adminEmail": "owner@example.com",
            "currency": "EUR",
            "baseLocation": "DE",
            "sampleProducts": 4
        })
    );
    assert_eq!(
        values["secrets"],
        json!({"admin": "test-shop-admin", "database": "test-shop-db"})
    );
    assert_eq!(values["ingress"]["host"], "test-shop.example.test");
    assert_eq!(values["ingress"]["tls"]["enabled"], false);
    assert_eq!(values["storageClass"], "");
    assert_eq!(
        values["setup"]["jobSuffix"].as_str().unwrap().len(),
        10,
        "{values}"
    );
}

#[test]
fn provision_passes_tls_issuer_ingress_class_and_storage_class() {
    let mut store = store();
    store.storage_class = Some("local-path".into());
    let values =
        contract::provision_passes_tls_and_ingress_class::<WooCommerce>(&host(), store, "traefik");
    assert_eq!(values["storageClass"], "local-path");
    assert_eq!(values["store"]["url"], "https://test-shop.example.test");
}

#[test]
fn provision_twice_keeps_the_setup_job_and_a_config_change_renames_it() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    let first = host.release("test-shop").unwrap();
    plugin().provision(&host, &store()).unwrap();
    let second = host.release("test-shop").unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(second.revision, 2);

    let mut changed = store();
    changed.config = json!({"admin_email": "owner@example.com", "sample_products": 10}).to_string();
    assert_ne!(job_name(&store()), job_name(&changed));
}

#[test]
fn provision_fails_retryably_when_the_chart_engine_is_down_and_recovers() {
    contract::provision_retries_when_the_chart_engine_is_down::<WooCommerce>(host(), &store());
}

#[test]
fn observe_before_install_is_provisioning_without_urls() {
    contract::observe_before_install_is_provisioning::<WooCommerce>(&host(), &store());
}

#[test]
fn observe_waits_for_mysql_wordpress_and_the_setup_job_then_is_ready() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    let job_id = job_name(&store);

    let nothing = plugin().observe(&host, &store).unwrap();
    assert_eq!(nothing.phase, Phase::Provisioning);
    assert!(nothing.message.contains(&job_id), "{}", nothing.message);

    host.put_object(statefulset(0));
    host.put_object(deployment(0));
    host.put_object(job(&job_id, json!({"active": 1})));
    let waiting = plugin().observe(&host, &store).unwrap();
    assert_eq!(waiting.phase, Phase::Provisioning, "{waiting:?}");
    for part in ["MySQL (0/1 ready)", "WordPress", "1 running"] {
        assert!(waiting.message.contains(part), "{}", waiting.message);
    }

    host.put_object(statefulset(1));
    host.put_object(deployment(1));
    let only_job = plugin().observe(&host, &store).unwrap();
    assert_eq!(only_job.phase, Phase::Provisioning, "{only_job:?}");
    assert!(
        only_job.message.contains("setup Job"),
        "{}",
        only_job.message
    );
    assert!(!only_job.message.contains("MySQL"), "{}", only_job.message);

    host.put_object(job(&job_id, complete()));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("http://test-shop.example.test/wp-admin/")
    );
    assert_eq!(ready.credentials_secret.as_deref(), Some("test-shop-admin"));
    contract::assert_storable(&ready);
}

#[test]
fn a_completed_job_of_an_older_configuration_does_not_make_the_store_ready() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    host.put_object(deployment(1));
    host.put_object(job("test-shop-setup-0000000000", complete()));
    let seen = plugin().observe(&host, &store).unwrap();
    assert_eq!(seen.phase, Phase::Provisioning, "{seen:?}");
}

#[test]
fn observe_reports_https_urls_when_tls_is_on() {
    let host = host();
    let mut store = store();
    store.tls = true;
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    host.put_object(deployment(1));
    host.put_object(job(&job_name(&store), complete()));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("https://test-shop.example.test/wp-admin/")
    );
}

#[test]
fn a_failed_setup_job_fails_the_store_with_its_reason() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    host.put_object(deployment(1));
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
        failed.message.contains("BackoffLimitExceeded") && failed.message.contains("backoff limit"),
        "{}",
        failed.message
    );
}

#[test]
fn an_image_pull_back_off_fails_the_store_before_any_deadline() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(1));
    host.put_object(deployment(0));
    host.put_object(job(&job_name(&store), json!({})));
    host.put_object(pod(
        "test-shop-wordpress-7d9-x1",
        "wordpress",
        "ImagePullBackOff",
    ));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    assert_eq!(failed.reason, "ImagePullBackOff");
    assert!(
        failed.message.contains("test-shop-wordpress-7d9-x1"),
        "{}",
        failed.message
    );
}

#[test]
fn a_crash_looping_mysql_fails_the_store() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(statefulset(0));
    host.put_object(pod("test-shop-mysql-0", "mysql", "CrashLoopBackOff"));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.reason, "CrashLoopBackOff");
}

#[test]
fn wordpress_past_its_progress_deadline_fails_the_store() {
    let host = host();
    let store = store();
    plugin().provision(&host, &store).unwrap();
    host.put_object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "test-shop-wordpress"},
        "status": {"conditions": [{
            "type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "timed out"
        }]}
    }));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.reason, "ProgressDeadlineExceeded");
}

#[test]
fn deprovision_uninstalls_and_removes_the_mysql_claim_and_secrets_idempotently() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    host.clear_calls();
    plugin().deprovision(&host, &store()).unwrap();
    plugin().deprovision(&host, &store()).unwrap();
    assert!(host.release("test-shop").is_none());
    let once = [
        "helm.uninstall test-shop",
        "kube.delete PersistentVolumeClaim/data-test-shop-mysql-0",
        "kube.delete Secret/test-shop-admin",
        "kube.delete Secret/test-shop-db",
    ];
    assert_eq!(host.call_summaries(), [once, once].concat());
}

#[test]
fn upgrade_reinstalls_the_release_with_a_new_revision() {
    let host = host().with_release("test-shop", "woocommerce");
    plugin().upgrade(&host, &store(), "0.0.9").unwrap();
    assert_eq!(host.release("test-shop").unwrap().revision, 2);
    assert!(host.logs().iter().any(|l| l.message.contains("0.0.9")));
}

#[test]
fn validate_rejects_bad_configurations_by_field() {
    let missing = plugin().validate(&json!({}));
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].field, "admin_email");

    let unknown = plugin().validate(&json!({"admin_email": "a@b.co", "shop_title": "x"}));
    assert_eq!(unknown[0].field, "shop_title");

    let bad = plugin().validate(&json!({
        "admin_email": "not-an-email", "currency": "BTC", "sample_products": 99, "store_title": "  "
    }));
    let fields: Vec<_> = bad.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["store_title", "admin_email", "currency", "sample_products"]
    );

    assert!(
        plugin()
            .validate(&json!({"admin_email": "owner@example.com"}))
            .is_empty()
    );
}

#[test]
fn validate_refuses_free_text_that_starts_like_an_option() {
    contract::free_text_may_not_start_like_an_option::<WooCommerce>(
        &json!({"admin_email": "owner@example.com", "store_title": "Bean & Leaf"}),
        &["store_title", "admin_email"],
    );
}

// Suspend and resume.

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

/// MySQL and WordPress at zero, the paused page up and the setup Job done:
/// what a paused cluster looks like.
fn put_paused_cluster(host: &FakeHost, store: &StoreContext) {
    host.put_object(scaled("StatefulSet", "test-shop-mysql", 0, 0));
    host.put_object(scaled("Deployment", "test-shop-wordpress", 0, 0));
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
fn suspend_installs_the_release_paused_with_the_same_setup_job() {
    let host = host();
    plugin().provision(&host, &store()).unwrap();
    let running = host.release_values("test-shop").unwrap();
    assert_eq!(running["suspended"], false);

    plugin().suspend(&host, &suspended(store())).unwrap();
    let paused = host.release_values("test-shop").unwrap();
    assert_eq!(paused["suspended"], true);
    assert_eq!(host.release("test-shop").unwrap().revision, 2);
    assert_eq!(paused["setup"], running["setup"]);
    assert_eq!(job_name(&suspended(store())), job_name(&store()));
    // Everything else is the store as it was.
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
fn observe_reports_suspended_only_once_mysql_wordpress_and_setup_have_stopped() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    // Scaled down but not gone yet; the paused page not created yet.
    host.put_object(scaled("StatefulSet", "test-shop-mysql", 0, 1));
    host.put_object(scaled("Deployment", "test-shop-wordpress", 0, 1));
    host.put_object(job(&job_name(&store), json!({"active": 1})));
    let pausing = plugin().observe(&host, &store).unwrap();
    assert_eq!(pausing.phase, Phase::Provisioning, "{pausing:?}");
    for part in [
        "pausing: waiting for ",
        "MySQL to stop",
        "WordPress to stop",
        "setup Job",
        "test-shop-paused",
    ] {
        assert!(pausing.message.contains(part), "{}", pausing.message);
    }
    assert_eq!(
        pausing.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );

    put_paused_cluster(&host, &store);
    host.put_object(paused_page(0));
    let page = plugin().observe(&host, &store).unwrap();
    assert_eq!(page.phase, Phase::Provisioning, "{page:?}");
    assert!(page.message.contains("paused page"), "{}", page.message);
    assert!(!page.message.contains("WordPress"), "{}", page.message);

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
        Some("http://test-shop.example.test/wp-admin/")
    );
    assert_eq!(
        paused.credentials_secret.as_deref(),
        Some("test-shop-admin")
    );
    contract::assert_storable(&paused);
}

#[test]
fn a_workload_not_yet_scaled_down_keeps_the_store_pausing() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    put_paused_cluster(&host, &store);
    // The release's new revision has not reached WordPress yet.
    host.put_object(scaled("Deployment", "test-shop-wordpress", 1, 0));
    let seen = plugin().observe(&host, &store).unwrap();
    assert_eq!(seen.phase, Phase::Provisioning, "{seen:?}");
    assert!(
        seen.message.contains("WordPress to be scaled to 0"),
        "{}",
        seen.message
    );
}

#[test]
fn a_paused_page_that_cannot_pull_its_image_fails_the_store() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    put_paused_cluster(&host, &store);
    host.put_object(paused_page(0));
    host.put_object(pod("test-shop-paused-5c8-x1", "paused", "ImagePullBackOff"));
    let failed = plugin().observe(&host, &store).unwrap();
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    assert_eq!(failed.reason, "ImagePullBackOff");
}

#[test]
fn a_stopping_wordpress_pod_in_back_off_does_not_fail_a_pausing_store() {
    let host = host();
    let store = suspended(store());
    plugin().suspend(&host, &store).unwrap();
    put_paused_cluster(&host, &store);
    host.put_object(scaled("Deployment", "test-shop-wordpress", 0, 1));
    host.put_object(pod(
        "test-shop-wordpress-7d9-x1",
        "wordpress",
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
    // Still at zero: coming back up is provisioning.
    let waking = plugin().observe(&host, &store()).unwrap();
    assert_eq!(waking.phase, Phase::Provisioning, "{waking:?}");
    // The completed setup Job kept its name: it is not run again.
    host.put_object(statefulset(1));
    host.put_object(deployment(1));
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
    // WordPress's home/siteurl, which the setup Job applies.
    assert_eq!(values["store"]["url"], "https://shop.bean-leaf.example");

    host.put_object(statefulset(1));
    host.put_object(deployment(1));
    host.put_object(job(&job_name(&store), complete()));
    let ready = plugin().observe(&host, &store).unwrap();
    assert_eq!(ready.phase, Phase::Ready, "{ready:?}");
    assert_eq!(
        ready.storefront_url.as_deref(),
        Some("https://shop.bean-leaf.example/")
    );
    assert_eq!(
        ready.admin_url.as_deref(),
        Some("https://shop.bean-leaf.example/wp-admin/")
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
fn adding_a_custom_domain_runs_the_setup_job_again_for_the_new_address() {
    let domains = with_domains(store(), &["shop.bean-leaf.example"]);
    assert_ne!(job_name(&domains), job_name(&store()));
    assert_eq!(job_name(&suspended(domains.clone())), job_name(&domains));
}
