//! `backup` and `restore`: one Job each, built from the chart's proven
//! scripts (`charts/woocommerce/files/{backup,restore}.sh`) and the SDK's
//! [`archive`] pieces.
//!
//! - Backup: `db` (the MySQL image: `backup.sh db`), `files` (the WordPress
//!   image, the WordPress claim mounted read-only: `backup.sh files`), then
//!   the upload.
//! - Restore: the download, `db`, `files` (`restore.sh`, the claim
//!   writable), then `clone` (WP-CLI: `after-restore.sh`), which makes a
//!   backup of another store this store's: its address and this store's
//!   admin password.
//!
//! The shop keeps running during both (no scale-down): the dump is one
//! consistent transaction, and a restore replaces the data under it.

use serde_json::{Map, Value, json};
use storeplane_plugin_sdk::archive::{self, JobSpec, Part, Transfer};
use storeplane_plugin_sdk::{Archive, Host, JobStatus, Result, Store};

use crate::{
    ADMIN_PASSWORD_KEY, ADMIN_USER, Config, DB_PASSWORD_KEY, Names, release_name, site_url,
};

/// The chart's MySQL image (`images.mysql`): its `mysqldump` matches the server.
pub const MYSQL_IMAGE: &str = "mysql:8.4.11";
/// The chart's WordPress image (`images.wordpress`).
pub const WORDPRESS_IMAGE: &str = "wordpress:7.1.2-php8.4-apache";
/// The chart's WP-CLI image (`images.cli`).
pub const CLI_IMAGE: &str = "wordpress:cli-2.12.0-php8.4";
/// The chart's database and user (`mysql.database`, `mysql.user`).
pub const DB_NAME: &str = "wordpress";
/// See [`DB_NAME`].
pub const DB_USER: &str = "wordpress";
/// uid of `mysql` in the MySQL image.
pub const MYSQL_UID: i64 = 999;
/// uid of `www-data` in the WordPress images: the owner of the WordPress files.
pub const WWW_DATA_UID: i64 = 33;

/// The chart's backup script.
pub const BACKUP_SCRIPT: &str = include_str!("../charts/woocommerce/files/backup.sh");
/// The chart's restore script.
pub const RESTORE_SCRIPT: &str = include_str!("../charts/woocommerce/files/restore.sh");
/// What the restore Job runs last (see the script's header).
pub const AFTER_RESTORE_SCRIPT: &str = include_str!("backup/after-restore.sh");

/// Where the scripts ConfigMap is mounted.
const SCRIPTS_DIR: &str = "/scripts";
/// Where the WordPress claim is mounted, as in the chart.
const WP_PATH: &str = "/var/www/html";
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

/// The backup or restore Job of `store` for `archive`.
pub fn job(store: &Store<Config>, archive: &Archive, transfer: Transfer) -> Value {
    let release = release_name(store);
    let names = Names::new(&release);
    let parts = match transfer {
        Transfer::Upload => vec![db_part(&names, "backup.sh"), files_part("backup.sh", true)],
        Transfer::Download => vec![
            db_part(&names, "restore.sh"),
            files_part("restore.sh", false),
            clone_part(store, &names),
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
                json!({
                    "name": "html",
                    "persistentVolumeClaim": {
                        "claimName": names.wordpress,
                        "readOnly": transfer == Transfer::Upload,
                    },
                }),
            ],
            labels: labels(&release, transfer.operation()),
            fs_group: WWW_DATA_UID,
            affinity: Some(next_to_wordpress(&release)),
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

/// The WordPress claim is `ReadWriteOnce` by default: prefer WordPress's
/// node, as the chart's setup Job does. Preferred, not required, so that
/// the Job still runs while the store is suspended (no WordPress Pod).
fn next_to_wordpress(release: &str) -> Value {
    json!({
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": { "matchLabels": {
                        "app.kubernetes.io/name": crate::CHART,
                        "app.kubernetes.io/instance": release,
                        "app.kubernetes.io/component": "wordpress",
                    }},
                },
            }],
        },
    })
}

fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

/// What the chart's `woocommerce.databaseEnv` gives WordPress.
fn database_env(names: &Names) -> Vec<Value> {
    vec![
        json!({ "name": "WORDPRESS_DB_HOST", "value": format!("{}:3306", names.mysql) }),
        json!({ "name": "WORDPRESS_DB_NAME", "value": DB_NAME }),
        json!({ "name": "WORDPRESS_DB_USER", "value": DB_USER }),
        secret_env(
            "WORDPRESS_DB_PASSWORD",
            &names.database_secret,
            DB_PASSWORD_KEY,
        ),
    ]
}

fn scripts_mount() -> Value {
    json!({ "name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": true })
}

fn html_mount(read_only: bool) -> Value {
    json!({ "name": "html", "mountPath": WP_PATH, "readOnly": read_only })
}

fn command(script: &str, args: &[&str]) -> Vec<String> {
    let mut command = vec!["sh".to_owned(), format!("{SCRIPTS_DIR}/{script}")];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    command
}

fn resources(cpu: &str, memory: &str) -> Value {
    json!({
        "requests": { "cpu": cpu, "memory": memory },
        "limits": { "cpu": "1", "memory": "768Mi" },
    })
}

fn db_part(names: &Names, script: &str) -> Part {
    Part {
        name: "db".into(),
        image: MYSQL_IMAGE.into(),
        uid: MYSQL_UID,
        command: command(script, &["db"]),
        env: database_env(names),
        volume_mounts: vec![scripts_mount()],
        resources: resources("100m", "256Mi"),
    }
}

fn files_part(script: &str, read_only: bool) -> Part {
    Part {
        name: "files".into(),
        image: WORDPRESS_IMAGE.into(),
        uid: WWW_DATA_UID,
        command: command(script, &["files"]),
        env: vec![json!({ "name": "WP_CONTENT", "value": format!("{WP_PATH}/wp-content") })],
        volume_mounts: vec![scripts_mount(), html_mount(read_only)],
        resources: resources("100m", "128Mi"),
    }
}

fn clone_part(store: &Store<Config>, names: &Names) -> Part {
    let mut env = database_env(names);
    env.extend([
        json!({ "name": "STORE_URL", "value": site_url(store) }),
        json!({ "name": "ADMIN_USER", "value": ADMIN_USER }),
        secret_env("ADMIN_PASSWORD", &names.admin_secret, ADMIN_PASSWORD_KEY),
        json!({ "name": "WP_PATH", "value": WP_PATH }),
        // WP-CLI keeps its cache under $HOME; the image's home is not ours.
        json!({ "name": "HOME", "value": "/tmp" }),
    ]);
    Part {
        name: "clone".into(),
        image: CLI_IMAGE.into(),
        uid: WWW_DATA_UID,
        command: command("after-restore.sh", &[]),
        env,
        volume_mounts: vec![scripts_mount(), html_mount(false)],
        resources: resources("100m", "256Mi"),
    }
}
