//! `backup` and `restore` against the SDK's fake host: the Job applied (its
//! containers, the transfer wired to the archive Secret, Pod Security
//! `restricted`), the scripts shipped, and the Job's state reported.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a missing object fails the test"
)]

use serde_json::{Value, json};
use storeplane_plugin_sdk::archive;
use storeplane_plugin_sdk::testing::{Call, FakeHost, Harness, store_context};
use storeplane_plugin_sdk::{Archive, JobPhase, StoreContext};
use storeplane_plugin_woocommerce::WooCommerce;
use storeplane_plugin_woocommerce::backup::{
    AFTER_RESTORE_SCRIPT, BACKUP_SCRIPT, CLI_IMAGE, MYSQL_IMAGE, RESTORE_SCRIPT, WORDPRESS_IMAGE,
};
use storeplane_pod_security::{Level, Policy};

const BACKUP_JOB: &str = "test-shop-backup-7f3a9c01";
const RESTORE_JOB: &str = "test-shop-restore-7f3a9c01";

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

fn archive() -> Archive {
    Archive {
        id: "7f3a9c01-5d2e-4b6f-8a90-123456789abc".into(),
        secret: "test-shop-archive-7f3a9c01".into(),
        transfer_image: "curlimages/curl:8.11.1".into(),
    }
}

fn applied_job(host: &FakeHost, name: &str) -> Value {
    host.object("batch/v1", "Job", name).unwrap()
}

fn pod(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]
}

fn container_names(job: &Value, key: &str) -> Vec<String> {
    pod(job)[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn container<'a>(job: &'a Value, name: &str) -> &'a Value {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|key| pod(job)[key].as_array().unwrap())
        .find(|c| c["name"] == name)
        .unwrap()
}

fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or(&Value::Null)
}

fn with_status(host: &FakeHost, name: &str, status: Value) {
    let mut job = applied_job(host, name);
    job["status"] = status;
    host.put_object(job);
}

fn restricted_violations(job: &Value) -> String {
    let violations =
        storeplane_pod_security::check_object(Policy::latest(Level::Restricted), job).unwrap();
    storeplane_pod_security::summary(&violations)
}

#[test]
fn backup_dumps_the_database_and_files_then_uploads_with_the_secret() {
    let host = host();
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Running, "{status:?}");

    let job = applied_job(&host, BACKUP_JOB);
    assert_eq!(container_names(&job, "initContainers"), ["db", "files"]);
    assert_eq!(container_names(&job, "containers"), ["upload"]);
    assert_eq!(
        archive::url_readers(&job, &archive().secret),
        ["upload"],
        "only the upload reads the archive URL"
    );
    let upload = container(&job, "upload");
    assert_eq!(upload["image"], "curlimages/curl:8.11.1");
    assert_eq!(
        env(upload, archive::URL_ENV)["valueFrom"]["secretKeyRef"],
        json!({"name": archive().secret, "key": "url"})
    );

    let db = container(&job, "db");
    assert_eq!(db["image"], MYSQL_IMAGE);
    assert_eq!(db["command"], json!(["sh", "/scripts/backup.sh", "db"]));
    assert_eq!(
        env(db, "WORDPRESS_DB_HOST")["value"],
        "test-shop-mysql:3306"
    );
    assert_eq!(
        env(db, "WORDPRESS_DB_PASSWORD")["valueFrom"]["secretKeyRef"]["name"],
        "test-shop-db"
    );
    let files = container(&job, "files");
    assert_eq!(files["image"], WORDPRESS_IMAGE);
    assert_eq!(
        files["command"],
        json!(["sh", "/scripts/backup.sh", "files"])
    );
    let html = pod(&job)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "html")
        .unwrap();
    assert_eq!(
        html["persistentVolumeClaim"]["claimName"],
        "test-shop-wordpress"
    );
    assert_eq!(html["persistentVolumeClaim"]["readOnly"], true);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert!(job["spec"]["ttlSecondsAfterFinished"].as_i64().unwrap() > 0);
}

#[test]
fn restore_downloads_first_loads_then_makes_the_shop_this_stores() {
    let host = host();
    plugin().restore(&host, &store(), &archive()).unwrap();

    let job = applied_job(&host, RESTORE_JOB);
    assert_eq!(
        container_names(&job, "initContainers"),
        ["download", "db", "files"]
    );
    assert_eq!(container_names(&job, "containers"), ["clone"]);
    assert_eq!(archive::url_readers(&job, &archive().secret), ["download"]);
    assert_eq!(
        container(&job, "db")["command"],
        json!(["sh", "/scripts/restore.sh", "db"])
    );
    let clone = container(&job, "clone");
    assert_eq!(clone["image"], CLI_IMAGE);
    assert_eq!(clone["command"], json!(["sh", "/scripts/after-restore.sh"]));
    assert_eq!(
        env(clone, "STORE_URL")["value"],
        "http://test-shop.example.test"
    );
    assert_eq!(
        env(clone, "ADMIN_PASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": "test-shop-admin", "key": "password"})
    );
    let html = pod(&job)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "html")
        .unwrap();
    assert_eq!(html["persistentVolumeClaim"]["readOnly"], false);
}

#[test]
fn restore_takes_the_canonical_address_of_a_store_with_a_custom_domain() {
    let host = host();
    let mut store = store();
    store.tls = true;
    store.extra_hosts = vec!["shop.bean-and-leaf.com".into()];
    plugin().restore(&host, &store, &archive()).unwrap();
    let job = applied_job(&host, RESTORE_JOB);
    assert_eq!(
        env(container(&job, "clone"), "STORE_URL")["value"],
        "https://shop.bean-and-leaf.com"
    );
}

#[test]
fn backup_and_restore_pods_pass_pod_security_restricted() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    plugin().restore(&host, &store(), &archive()).unwrap();
    for name in [BACKUP_JOB, RESTORE_JOB] {
        let job = applied_job(&host, name);
        assert_eq!(restricted_violations(&job), "", "{name}");
        for key in ["initContainers", "containers"] {
            for c in pod(&job)[key].as_array().unwrap() {
                assert!(c["resources"]["limits"]["memory"].is_string(), "{c}");
            }
        }
    }
}

#[test]
fn the_scripts_config_map_holds_the_shipped_scripts() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    let scripts = host
        .object("v1", "ConfigMap", "test-shop-backup-scripts")
        .unwrap();
    assert_eq!(scripts["data"]["backup.sh"], BACKUP_SCRIPT);
    assert_eq!(scripts["data"]["restore.sh"], RESTORE_SCRIPT);
    assert_eq!(scripts["data"]["after-restore.sh"], AFTER_RESTORE_SCRIPT);
    assert_eq!(
        BACKUP_SCRIPT,
        std::fs::read_to_string("charts/woocommerce/files/backup.sh").unwrap()
    );
    let job = applied_job(&host, BACKUP_JOB);
    let volume = pod(&job)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "scripts")
        .unwrap();
    assert_eq!(volume["configMap"]["name"], "test-shop-backup-scripts");
    assert!(
        container(&job, "db")["volumeMounts"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "scripts", "mountPath": "/scripts", "readOnly": true}))
    );
}

#[test]
fn the_job_pods_may_reach_the_archive_url() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    let policy = host
        .object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "test-shop-archive-egress",
        )
        .unwrap();
    let job = applied_job(&host, BACKUP_JOB);
    let pod_labels = &job["spec"]["template"]["metadata"]["labels"];
    for (key, value) in policy["spec"]["podSelector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&pod_labels[key], value, "{key}");
    }
    assert_eq!(pod_labels["app.kubernetes.io/component"], "backup");
}

#[test]
fn a_second_call_applies_the_same_job() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    let first = applied_job(&host, BACKUP_JOB);
    host.clear_calls();
    plugin().backup(&host, &store(), &archive()).unwrap();
    let applied: Vec<Value> = host
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            Call::KubeApply { object, .. } if object["kind"] == "Job" => Some(object),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["spec"], first["spec"]);
    assert_eq!(host.objects_of("Job").len(), 1);
    assert!(
        host.call_summaries()
            .iter()
            .any(|c| c.contains("get") && c.contains(BACKUP_JOB)),
        "{:?}",
        host.call_summaries()
    );
}

#[test]
fn the_job_state_is_reported_running_succeeded_or_failed() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();

    with_status(&host, BACKUP_JOB, json!({"active": 1}));
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Running);
    assert!(status.message.contains(BACKUP_JOB), "{}", status.message);

    with_status(
        &host,
        BACKUP_JOB,
        json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
    );
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    assert_eq!((status.size_bytes, status.sha256), (None, None));

    plugin().restore(&host, &store(), &archive()).unwrap();
    with_status(
        &host,
        RESTORE_JOB,
        json!({"failed": 2, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"
        }]}),
    );
    let status = plugin().restore(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Failed);
    assert_eq!(status.reason, "RestoreJobFailed");
    assert!(
        status.message.contains("backoff limit"),
        "{}",
        status.message
    );
}

#[test]
fn the_images_are_the_charts() {
    let values = std::fs::read_to_string("charts/woocommerce/values.yaml").unwrap();
    for image in [MYSQL_IMAGE, WORDPRESS_IMAGE, CLI_IMAGE] {
        let (repository, tag) = image.split_once(':').unwrap();
        assert!(
            values.contains(&format!("repository: {repository}\n    tag: \"{tag}\"")),
            "{image} is not an image of values.yaml"
        );
    }
    assert!(values.contains("  database: wordpress\n  user: wordpress\n"));
}
