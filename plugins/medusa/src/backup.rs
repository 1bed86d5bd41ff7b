//! `backup` and `restore`: one Job each, built from the chart's proven
//! scripts (`charts/medusa/files/{backup,restore}.sh`) and the SDK's
//! [`archive`] pieces, in the chart's PostgreSQL image (`pg_dump -Fc`).
//!
//! - Backup: `db` (`backup.sh`), then the upload.
//! - Restore: the download, `db` (`restore.sh`), then `clone`
//!   (`after-restore.sh`: the restored login of this store's admin goes).
//!   Once the Job completed the engine deletes the store's init Job and
//!   installs the release again, so `init.sh` runs on the restored database:
//!   it recreates the admin with this store's password and points the
//!   storefront's publishable key at this store's Secret — what a backup of
//!   another store needs to work here.
//!
//! The shop keeps running during both (no scale-down): `pg_dump` reads one
//! snapshot, and the restore replaces the database in one transaction.

use serde_json::{Map, Value, json};
use storeplane_plugin_sdk::archive::{self, JobSpec, Part, Transfer};
use storeplane_plugin_sdk::{Archive, Host, JobPhase, JobStatus, Result, Store};

use crate::{Config, DB_PASSWORD_KEY, Names, helm_values, release_name};

/// The chart's PostgreSQL image (`images.postgres`): `pg_dump` and
/// `pg_restore` of the server's version.
pub const POSTGRES_IMAGE: &str = "postgres:17.11-alpine";
/// uid of `postgres` in the Alpine image.
pub const POSTGRES_UID: i64 = 70;
/// The chart's database and user (`postgres.database`, `postgres.user`).
pub const DB_NAME: &str = "medusa";
/// See [`DB_NAME`].
pub const DB_USER: &str = "medusa";

/// The chart's backup script.
pub const BACKUP_SCRIPT: &str = include_str!("../charts/medusa/files/backup.sh");
/// The chart's restore script.
pub const RESTORE_SCRIPT: &str = include_str!("../charts/medusa/files/restore.sh");
/// What the restore Job runs last (see the script's header).
pub const AFTER_RESTORE_SCRIPT: &str = include_str!("backup/after-restore.sh");

/// Where the scripts ConfigMap is mounted.
const SCRIPTS_DIR: &str = "/scripts";
/// A backup or restore gives up after this long.
const DEADLINE_SECONDS: i64 = 3 * 3600;

/// The ConfigMap holding the three scripts.
pub fn scripts_config_map(names: &Names) -> Value {
    storeplane_plugin_sdk::objects::config_map(
        &names.backup_scripts,
        [
            ("backup.sh", BACKUP_SCRIPT),
            ("restore.sh", RESTORE_SCRIPT),
            ("after-restore.sh", AFTER_RESTORE_SCRIPT),
        ],
    )
}

/// Applies the Job for `transfer` (and what it needs) and reports it.
pub fn run(
    host: &dyn Host,
    store: &Store<Config>,
    archive: &Archive,
    transfer: Transfer,
) -> Result<JobStatus> {
    let names = Names::new(&release_name(store));
    let needs = [
        scripts_config_map(&names),
        archive::egress_policy(&names.archive_egress, selector(store)),
    ];
    archive::run_job(host, &needs, &job(store, archive, transfer), transfer)
}

/// After a completed restore: the store's init Job is deleted and the
/// release installed again, so the Job runs again on the restored database
/// (`init.sh` is idempotent; running it twice is harmless).
pub fn init_again(host: &dyn Host, store: &Store<Config>) -> Result<()> {
    let names = Names::new(&release_name(store));
    let values = helm_values(store)?;
    let init = names.init_job(values["init"]["jobSuffix"].as_str().unwrap_or_default());
    host.kube_delete("batch/v1", "Job", &init)?;
    host.info(format!(
        "restored: init Job {init} runs again (this store's admin password and storefront key)"
    ));
    Ok(())
}

/// Whether `status` is the first success of a restore (its caller then
/// runs [`init_again`] and provisions).
pub fn restored(status: &JobStatus) -> bool {
    status.phase == JobPhase::Succeeded
}

/// The backup or restore Job of `store` for `archive`.
pub fn job(store: &Store<Config>, archive: &Archive, transfer: Transfer) -> Value {
    let release = release_name(store);
    let names = Names::new(&release);
    let parts = match transfer {
        Transfer::Upload => vec![db_part(&names, "db", "backup.sh", Vec::new())],
        Transfer::Download => vec![
            db_part(&names, "db", "restore.sh", Vec::new()),
            db_part(
                &names,
                "clone",
                "after-restore.sh",
                vec![json!({ "name": "ADMIN_EMAIL", "value": store.config.admin_email })],
            ),
        ],
    };
    archive::job(
        archive,
        &JobSpec {
            name: archive::job_name(&names.prefix, transfer, archive),
            transfer,
            parts,
            volumes: vec![
                json!({ "name": "scripts", "configMap": { "name": names.backup_scripts } }),
            ],
            labels: labels(&release, transfer.operation()),
            fs_group: POSTGRES_UID,
            affinity: None,
            active_deadline_seconds: DEADLINE_SECONDS,
        },
    )
}

fn labels(release: &str, component: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/name".into(), json!(crate::CHART));
    labels.insert("app.kubernetes.io/instance".into(), json!(release));
    labels.insert("app.kubernetes.io/component".into(), json!(component));
    labels.insert("app.kubernetes.io/part-of".into(), json!("storeplane"));
    labels
}

/// The backup and restore Pods of the store.
fn selector(store: &Store<Config>) -> Value {
    json!({
        "matchLabels": {
            "app.kubernetes.io/name": crate::CHART,
            "app.kubernetes.io/instance": release_name(store),
        },
        "matchExpressions": [{
            "key": "app.kubernetes.io/component",
            "operator": "In",
            "values": ["backup", "restore"],
        }],
    })
}

/// What the chart's `medusa.backendEnv` names the database with.
fn database_env(names: &Names) -> Vec<Value> {
    vec![
        json!({ "name": "DB_HOST", "value": names.postgres }),
        json!({ "name": "DB_PORT", "value": "5432" }),
        json!({ "name": "DB_NAME", "value": DB_NAME }),
        json!({ "name": "DB_USER", "value": DB_USER }),
        json!({
            "name": "DB_PASSWORD",
            "valueFrom": { "secretKeyRef": { "name": names.database_secret, "key": DB_PASSWORD_KEY } },
        }),
    ]
}

fn db_part(names: &Names, name: &str, script: &str, extra_env: Vec<Value>) -> Part {
    let mut env = database_env(names);
    env.extend(extra_env);
    Part {
        name: name.into(),
        image: POSTGRES_IMAGE.into(),
        uid: POSTGRES_UID,
        command: vec!["sh".into(), format!("{SCRIPTS_DIR}/{script}")],
        env,
        volume_mounts: vec![
            json!({ "name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": true }),
        ],
        resources: json!({
            "requests": { "cpu": "100m", "memory": "256Mi" },
            "limits": { "cpu": "1", "memory": "1Gi" },
        }),
    }
}
