//! `backup` and `restore` against the SDK's fake host: the Job applied (its
//! containers, the transfer wired to the archive Secret, Pod Security
//! `restricted`), the scripts shipped, the Job's state reported, and the
//! init Job run again after a restore.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a missing object fails the test"
)]

use serde_json::{Value, json};
use storeplane_plugin_medusa::backup::{
    AFTER_RESTORE_SCRIPT, BACKUP_SCRIPT, POSTGRES_IMAGE, RESTORE_SCRIPT,
};
use storeplane_plugin_medusa::{Config, Medusa, Names, helm_values};
use storeplane_plugin_sdk::archive;
use storeplane_plugin_sdk::testing::{Call, FakeHost, Harness, store_context};
use storeplane_plugin_sdk::{Archive, JobPhase, Store, StoreContext};
use storeplane_pod_security::{Level, Policy};

const BACKUP_JOB: &str = "test-shop-backup-7f3a9c01";
const RESTORE_JOB: &str = "test-shop-restore-7f3a9c01";

fn plugin() -> Harness<Medusa> {
    Harness::new()
}

fn host() -> FakeHost {
    FakeHost::for_engine::<Medusa>().with_charts(&["medusa"])
}

fn store() -> StoreContext {
    store_context(json!({"admin_email": "owner@example.com", "region": "in"}))
}

fn archive() -> Archive {
    Archive {
        id: "7f3a9c01-5d2e-4b6f-8a90-123456789abc".into(),
        secret: "test-shop-archive-7f3a9c01".into(),
        transfer_image: "curlimages/curl:8.11.1".into(),
    }
}

fn init_job_name() -> String {
    let store: Store<Config> = Store::from_context(store()).unwrap();
    let values = helm_values(&store).unwrap();
    Names::new("test-shop").init_job(values["init"]["jobSuffix"].as_str().unwrap())
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

fn complete() -> Value {
    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
}

#[test]
fn backup_dumps_the_database_then_uploads_with_the_secret() {
    let host = host();
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Running, "{status:?}");

    let job = applied_job(&host, BACKUP_JOB);
    assert_eq!(container_names(&job, "initContainers"), ["db"]);
    assert_eq!(container_names(&job, "containers"), ["upload"]);
    assert_eq!(archive::url_readers(&job, &archive().secret), ["upload"]);
    let upload = container(&job, "upload");
    assert_eq!(upload["image"], "curlimages/curl:8.11.1");
    assert_eq!(
        env(upload, archive::URL_ENV)["valueFrom"]["secretKeyRef"],
        json!({"name": archive().secret, "key": "url"})
    );
    let db = container(&job, "db");
    assert_eq!(db["image"], POSTGRES_IMAGE);
    assert_eq!(db["command"], json!(["sh", "/scripts/backup.sh"]));
    assert_eq!(env(db, "DB_HOST")["value"], "test-shop-postgres");
    assert_eq!(
        env(db, "DB_PASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": "test-shop-db", "key": "password"})
    );
    assert_eq!(pod(&job)["restartPolicy"], "Never");
}

#[test]
fn restore_downloads_first_loads_then_removes_the_restored_admin_login() {
    let host = host();
    plugin().restore(&host, &store(), &archive()).unwrap();
    let job = applied_job(&host, RESTORE_JOB);
    assert_eq!(container_names(&job, "initContainers"), ["download", "db"]);
    assert_eq!(container_names(&job, "containers"), ["clone"]);
    assert_eq!(archive::url_readers(&job, &archive().secret), ["download"]);
    assert_eq!(
        container(&job, "db")["command"],
        json!(["sh", "/scripts/restore.sh"])
    );
    let clone = container(&job, "clone");
    assert_eq!(clone["command"], json!(["sh", "/scripts/after-restore.sh"]));
    assert_eq!(env(clone, "ADMIN_EMAIL")["value"], "owner@example.com");
}

#[test]
fn backup_and_restore_pods_pass_pod_security_restricted() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    plugin().restore(&host, &store(), &archive()).unwrap();
    for name in [BACKUP_JOB, RESTORE_JOB] {
        let job = applied_job(&host, name);
        let violations =
            storeplane_pod_security::check_object(Policy::latest(Level::Restricted), &job).unwrap();
        assert_eq!(storeplane_pod_security::summary(&violations), "", "{name}");
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
        RESTORE_SCRIPT,
        std::fs::read_to_string("charts/medusa/files/restore.sh").unwrap()
    );
    let job = applied_job(&host, BACKUP_JOB);
    assert!(
        pod(&job)["volumes"].as_array().unwrap().contains(
            &json!({"name": "scripts", "configMap": {"name": "test-shop-backup-scripts"}})
        )
    );
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
}

#[test]
fn the_job_state_is_reported_running_succeeded_or_failed() {
    let host = host();
    plugin().backup(&host, &store(), &archive()).unwrap();
    with_status(&host, BACKUP_JOB, json!({"active": 1}));
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Running);

    with_status(&host, BACKUP_JOB, complete());
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    assert_eq!((status.size_bytes, status.sha256), (None, None));

    with_status(
        &host,
        BACKUP_JOB,
        json!({"failed": 2, "conditions": [{
            "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline"
        }]}),
    );
    let status = plugin().backup(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Failed);
    assert_eq!(status.reason, "BackupJobFailed");
    assert!(status.message.contains("deadline"), "{}", status.message);
}

#[test]
fn a_completed_restore_runs_the_init_job_again() {
    let init = init_job_name();
    let host = host().with_object(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": init},
        "status": complete(),
    }));
    // Running: the init Job stays.
    plugin().restore(&host, &store(), &archive()).unwrap();
    assert!(host.object("batch/v1", "Job", &init).is_some());
    assert!(host.release("test-shop").is_none());

    with_status(&host, RESTORE_JOB, complete());
    let status = plugin().restore(&host, &store(), &archive()).unwrap();
    assert_eq!(status.phase, JobPhase::Succeeded);
    assert!(
        host.object("batch/v1", "Job", &init).is_none(),
        "the completed init Job is deleted so that it runs again"
    );
    let release = host.release("test-shop").unwrap();
    assert_eq!(release.chart, "medusa");
}

#[test]
fn the_image_is_the_charts() {
    let values = std::fs::read_to_string("charts/medusa/values.yaml").unwrap();
    let (repository, tag) = POSTGRES_IMAGE.split_once(':').unwrap();
    assert!(values.contains(&format!("repository: {repository}\n    tag: \"{tag}\"")));
    assert!(values.contains("  database: medusa\n  user: medusa\n"));
}
