//! Backup and restore Jobs: the parts every engine's Job shares, so that
//! each engine only says which containers dump or load its data.
//!
//! The contract with the platform (plugin API 0.2):
//!
//! - Before `backup`/`restore` the platform creates Secret
//!   [`Archive::secret`] in the store's namespace, whose key [`URL_KEY`] is
//!   an http(s) URL accepting the archive with `PUT` (backup) or serving it
//!   with `GET` (restore). Only the transfer container reads it, as
//!   [`URL_ENV`] from a `secretKeyRef`; the URL is never copied anywhere.
//! - The archive is one gzip'd tar of the backup directory ([`DIR`]): the
//!   `manifest` and the data files the engine's scripts write.
//! - A backup Job runs the engine's parts as init containers writing into
//!   [`DIR`], then the upload ([`transfer_container`]) as its container. A
//!   restore Job downloads first (the first init container), then runs the
//!   parts in order, the last one as its container.
//! - `backup`/`restore` are called again whenever the store's objects change
//!   until they report succeeded or failed: apply the same Job each time and
//!   report it with [`job_status`].

use serde_json::{Map, Value, json};

use crate::{Archive, Host, JobStatus, Result, objects};

/// Key of the archive Secret holding the URL.
pub const URL_KEY: &str = "url";
/// The transfer container's variable holding the URL.
pub const URL_ENV: &str = "ARCHIVE_URL";
/// Where the backup directory (an `emptyDir`) is mounted in every container;
/// also `BACKUP_DIR` in their environment.
pub const DIR: &str = "/backup";
/// The backup directory's volume.
pub const DIR_VOLUME: &str = "archive";
/// A writable `/tmp` for every container (root filesystems are read-only);
/// also `TMPDIR` in their environment.
pub const TMP_VOLUME: &str = "tmp";
/// Where an upload packs the archive before sending it (an `emptyDir` of
/// the transfer container's, the size of the archive), so that the `PUT`
/// carries a `Content-Length`: S3 refuses a presigned `PUT` without one.
pub const OUT_VOLUME: &str = "outgoing";
/// Where [`OUT_VOLUME`] is mounted.
pub const OUT_DIR: &str = "/outgoing";
/// The uid of `curl_user` in the default transfer image (curlimages/curl).
pub const TRANSFER_UID: i64 = 100;
/// How long a finished Job (and its Pod's logs) is kept.
pub const TTL_SECONDS_AFTER_FINISHED: i64 = 86_400;
/// Retries of a failed Pod: the scripts are idempotent, one retry covers a
/// lost node; more would hide a real failure for long.
pub const BACKOFF_LIMIT: i64 = 1;
/// Characters of the archive id in Job names.
pub const ID_CHARS: usize = 8;

/// Which way the archive moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transfer {
    /// A backup: the Job `PUT`s the archive.
    Upload,
    /// A restore: the Job `GET`s the archive.
    Download,
}

impl Transfer {
    /// `backup` or `restore`: the operation, in names and messages.
    pub fn operation(self) -> &'static str {
        match self {
            Transfer::Upload => "backup",
            Transfer::Download => "restore",
        }
    }

    /// The transfer container's name: `upload` or `download`.
    pub fn container_name(self) -> &'static str {
        match self {
            Transfer::Upload => "upload",
            Transfer::Download => "download",
        }
    }

    /// The reason a failed Job is reported with.
    pub fn failure_reason(self) -> &'static str {
        match self {
            Transfer::Upload => "BackupJobFailed",
            Transfer::Download => "RestoreJobFailed",
        }
    }

    /// The shell command moving the archive. POSIX sh has no `pipefail`: a
    /// failed `tar` (upload) or `curl` (download) is recorded in a file so
    /// the container fails instead of reporting the other side's success.
    fn script(self) -> String {
        match self {
            Transfer::Upload => format!(
                "set -eu\n\
                 tar -C \"$BACKUP_DIR\" -czf \"$OUTGOING/archive.tar.gz\" . \
                 || {{ echo 'tar of the backup failed' >&2; exit 1; }}\n\
                 curl -fsS --retry 3 -T \"$OUTGOING/archive.tar.gz\" \"${URL_ENV}\"\n\
                 echo \"archive uploaded: $(wc -c < \"$OUTGOING/archive.tar.gz\") bytes\"\n"
            ),
            Transfer::Download => format!(
                "set -eu\n\
                 {{ curl -fsS --retry 3 \"${URL_ENV}\" || : >/tmp/curl.failed; }} \
                 | tar -C \"$BACKUP_DIR\" -xzf -\n\
                 [ ! -e /tmp/curl.failed ] || {{ echo 'download of the archive failed' >&2; exit 1; }}\n\
                 echo \"archive downloaded: $(ls \"$BACKUP_DIR\" | tr '\\n' ' ')\"\n"
            ),
        }
    }
}

/// `<prefix>-backup-<id>` or `<prefix>-restore-<id>`, `<id>` being the
/// first [`ID_CHARS`] letters and digits of the archive id, lowercased. With
/// a prefix of at most 40 characters the name stays within 63 (Job names
/// label their Pods).
pub fn job_name(prefix: &str, transfer: Transfer, archive: &Archive) -> String {
    let id: String = archive
        .id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(ID_CHARS)
        .collect::<String>()
        .to_ascii_lowercase();
    let id = if id.is_empty() { "archive".into() } else { id };
    format!("{prefix}-{}-{id}", transfer.operation())
}

/// A container's `securityContext` that passes Pod Security `restricted`:
/// uid and gid `uid`, no privilege escalation, no capabilities, the
/// runtime's seccomp profile, a read-only root filesystem.
pub fn container_security(uid: i64) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "readOnlyRootFilesystem": true,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

fn env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn mount(volume: &str, path: &str, read_only: bool) -> Value {
    json!({ "name": volume, "mountPath": path, "readOnly": read_only })
}

/// The container moving the archive: `archive.transfer_image` running the
/// transfer as [`TRANSFER_UID`], the only container with [`URL_ENV`] (from
/// the archive Secret's [`URL_KEY`]). It mounts the backup directory
/// read-only for an upload.
pub fn transfer_container(archive: &Archive, transfer: Transfer) -> Value {
    json!({
        "name": transfer.container_name(),
        "image": archive.transfer_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", transfer.script()],
        "env": [
            env("BACKUP_DIR", DIR),
            env("TMPDIR", "/tmp"),
            // curl keeps nothing in $HOME; the image's home is not writable.
            env("HOME", "/tmp"),
            env("OUTGOING", OUT_DIR),
            {
                "name": URL_ENV,
                "valueFrom": { "secretKeyRef": { "name": archive.secret, "key": URL_KEY } },
            },
        ],
        "securityContext": container_security(TRANSFER_UID),
        "resources": {
            "requests": { "cpu": "50m", "memory": "64Mi" },
            "limits": { "cpu": "500m", "memory": "256Mi" },
        },
        "volumeMounts": match transfer {
            Transfer::Upload => json!([
                mount(DIR_VOLUME, DIR, true),
                mount(TMP_VOLUME, "/tmp", false),
                mount(OUT_VOLUME, OUT_DIR, false),
            ]),
            Transfer::Download => json!([
                mount(DIR_VOLUME, DIR, false),
                mount(TMP_VOLUME, "/tmp", false),
            ]),
        },
    })
}

/// One step of a backup or restore that an engine runs: a dump, a load, a
/// fix-up after the load.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Container name, e.g. `db`.
    pub name: String,
    /// Its image.
    pub image: String,
    /// The uid (and gid) it runs as; one the image supports.
    pub uid: i64,
    /// Its command.
    pub command: Vec<String>,
    /// Its environment, beside `BACKUP_DIR` and `TMPDIR`, which every part
    /// gets. Never the archive URL.
    pub env: Vec<Value>,
    /// Its volume mounts, beside the backup directory and `/tmp`.
    pub volume_mounts: Vec<Value>,
    /// Its `resources`.
    pub resources: Value,
}

impl Part {
    /// The part as a container of a `transfer` Job: the backup directory
    /// mounted (read-only in a restore, where only the download writes it)
    /// and a writable `/tmp`.
    pub fn container(&self, transfer: Transfer) -> Value {
        let mut env = vec![env("BACKUP_DIR", DIR), env("TMPDIR", "/tmp")];
        env.extend(self.env.iter().cloned());
        let mut mounts = vec![
            mount(DIR_VOLUME, DIR, transfer == Transfer::Download),
            mount(TMP_VOLUME, "/tmp", false),
        ];
        mounts.extend(self.volume_mounts.iter().cloned());
        json!({
            "name": self.name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": self.command,
            "env": env,
            "securityContext": container_security(self.uid),
            "resources": self.resources,
            "volumeMounts": mounts,
        })
    }
}

/// What an engine says about its backup or restore Job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The Job's name ([`job_name`]).
    pub name: String,
    /// Backup or restore.
    pub transfer: Transfer,
    /// The engine's steps, in order (at least one for a restore: the last
    /// one is the Job's container).
    pub parts: Vec<Part>,
    /// Volumes the parts mount (scripts, claims), beside the backup
    /// directory and `/tmp`.
    pub volumes: Vec<Value>,
    /// Labels of the Job and its Pod.
    pub labels: Map<String, Value>,
    /// The Pod's `fsGroup`: the group owning the claims it mounts.
    pub fs_group: i64,
    /// The Pod's `affinity`, if any (e.g. next to the Pod that mounts the
    /// same `ReadWriteOnce` claim).
    pub affinity: Option<Value>,
    /// The Job's `activeDeadlineSeconds`.
    pub active_deadline_seconds: i64,
}

/// The Job: for a backup the parts as init containers and the upload as
/// container; for a restore the download as the first init container, then
/// the parts, the last one as container. Never restarted in place
/// (`restartPolicy: Never`, [`BACKOFF_LIMIT`]), kept for
/// [`TTL_SECONDS_AFTER_FINISHED`], no service account token.
pub fn job(archive: &Archive, spec: &JobSpec) -> Value {
    let transfer = spec.transfer;
    let mut parts: Vec<Value> = spec.parts.iter().map(|p| p.container(transfer)).collect();
    let (init, main) = match transfer {
        Transfer::Upload => (parts, vec![transfer_container(archive, transfer)]),
        Transfer::Download => {
            let last = parts.pop().map(|p| vec![p]).unwrap_or_default();
            let mut init = vec![transfer_container(archive, transfer)];
            init.extend(parts);
            (init, last)
        }
    };
    let mut volumes = vec![
        json!({ "name": DIR_VOLUME, "emptyDir": {} }),
        json!({ "name": TMP_VOLUME, "emptyDir": { "sizeLimit": "256Mi" } }),
    ];
    if spec.transfer == Transfer::Upload {
        volumes.push(json!({ "name": OUT_VOLUME, "emptyDir": {} }));
    }
    volumes.extend(spec.volumes.iter().cloned());
    let mut pod = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "securityContext": {
            "runAsNonRoot": true,
            "fsGroup": spec.fs_group,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "initContainers": init,
        "containers": main,
        "volumes": volumes,
    });
    if let Some(affinity) = &spec.affinity {
        pod["affinity"] = affinity.clone();
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": spec.name, "labels": spec.labels },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": spec.active_deadline_seconds,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "template": {
                "metadata": { "labels": spec.labels },
                "spec": pod,
            },
        },
    })
}

/// A NetworkPolicy letting the Pods matching `selector` (the backup and
/// restore Jobs' labels) reach any address: the archive URL's host and port
/// are the platform's choice, and the plugin never sees the URL. The
/// namespace baseline denies egress outside the namespace otherwise.
pub fn egress_policy(name: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": name },
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Egress"],
            "egress": [{ "to": [
                { "ipBlock": { "cidr": "0.0.0.0/0" } },
                { "ipBlock": { "cidr": "::/0" } },
            ]}],
        },
    })
}

/// What a backup or restore Job reports, read from the Job (`None`: not
/// created yet): its `Complete` condition is success, its `Failed` one
/// failure (reason [`Transfer::failure_reason`], the condition's words in
/// the message), anything else running. Sizes and checksums stay unset: the
/// platform measures the archive it received.
pub fn job_status(job: Option<&Value>, transfer: Transfer) -> JobStatus {
    let what = transfer.operation();
    let Some(job) = job else {
        return JobStatus::running(format!("{what} Job is being created"));
    };
    let name = job["metadata"]["name"].as_str().unwrap_or("?");
    match objects::job_health(job) {
        objects::JobHealth::Complete => {
            JobStatus::succeeded(format!("{what} Job {name} completed"))
        }
        objects::JobHealth::Failed { reason, message } => JobStatus::failed(
            transfer.failure_reason(),
            format!("{what} Job {name} failed ({reason}): {message}")
                .trim_end_matches([' ', ':'])
                .to_owned(),
        ),
        objects::JobHealth::Running { active, failed } => {
            let mut message = format!("{what} Job {name}: ");
            message.push_str(if active > 0 {
                "running"
            } else {
                "waiting for its Pod"
            });
            if failed > 0 {
                message.push_str(&format!(", retrying after {failed} failed Pod(s)"));
            }
            JobStatus::running(message)
        }
    }
}

/// One step of a backup or restore, as `backup` and `restore` take it:
/// applies what the Job needs (`needs`: its scripts, its egress policy),
/// then the Job itself (server-side apply: the same objects each call), and
/// reports the Job as it is now.
///
/// # Errors
///
/// The host's error when an apply or the read fails.
pub fn run_job(
    host: &dyn Host,
    needs: &[Value],
    job: &Value,
    transfer: Transfer,
) -> Result<JobStatus> {
    for object in needs {
        host.kube_apply(object)?;
    }
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    host.kube_apply(job)?;
    let live = host.kube_get("batch/v1", "Job", name)?;
    let status = job_status(live.as_ref(), transfer);
    host.debug(&status.message);
    Ok(status)
}

/// The names of a Job's containers (init containers first) whose
/// environment reads key [`URL_KEY`] of Secret `secret`: how the platform
/// recognises the transfer container, and what a test of an engine's Job
/// checks (exactly the transfer container, nothing else).
pub fn url_readers(job: &Value, secret: &str) -> Vec<String> {
    let pod = &job["spec"]["template"]["spec"];
    ["initContainers", "containers"]
        .iter()
        .filter_map(|key| pod[key].as_array())
        .flatten()
        .filter(|c| {
            c["env"].as_array().is_some_and(|env| {
                env.iter().any(|e| {
                    let source = &e["valueFrom"]["secretKeyRef"];
                    source["key"] == URL_KEY && source["name"] == secret
                })
            })
        })
        .map(|c| c["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[cfg(test)]
mod tests;
