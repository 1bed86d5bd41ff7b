//! The transfer container of backup and restore Jobs, played by the
//! simulated kubelet. A real cluster runs that container (it uploads the
//! backup archive with an HTTP PUT, or downloads it with a GET, at a URL the
//! control plane serves); the simulator runs no container, so it makes the
//! same request itself. This is a deliberate divergence from a real
//! cluster, so that backups work end to end on the simulator.
//!
//! The contract, shared with the control plane and the engines:
//!
//! - A Secret in the Job's namespace with the annotation
//!   `storeplane.dev/archive-transfer: upload` (or `download`), the
//!   annotation `storeplane.dev/archive-engine: <engine id>`, the label
//!   `storeplane.dev/archive: <backup id>`, and `data.url` (base64) the URL.
//! - A transfer container: a container or init container of the Job's pod
//!   template with an env entry whose `valueFrom.secretKeyRef` has
//!   `key: url` and names such a Secret. A Job has at most one (the first
//!   found, init containers first); a Secret without the annotation makes
//!   no transfer container, and a Job without one runs as before.
//! - When the Job's pod runs, the kubelet makes the transfer on a task of
//!   its own (the controllers never wait on the network), with a
//!   [`TIMEOUT`]:
//!   - upload: PUT of a small gzip'd tar (`Content-Type:
//!     application/gzip`) holding `manifest` (`format
//!     storeplane-backup/1`, `engine <engine>`, `created <UTC time>`,
//!     `simulated true`, `file simulated.txt <sha256> <bytes> <time>`) and
//!     `simulated.txt`; any 2xx is success.
//!   - download: GET; success is a 2xx whose body is a gzip'd tar with a
//!     `manifest` of that format naming the Secret's engine, every file it
//!     lists present with its sha256 — what the restore scripts' `verify`
//!     accepts (another engine's backup is refused, as they refuse it).
//! - The pod does not succeed before the transfer has: it still runs for
//!   `job_duration`, and longer if the transfer takes longer. A failed
//!   transfer (no connection, a status other than 2xx, a bad archive, the
//!   timeout) fails the pod at once: phase `Failed`, the transfer container
//!   terminated with exit code 1, reason `Error` and a message such as
//!   `archive upload failed: HTTP 403` (main containers waiting
//!   `PodInitializing` when it is an init container), and the Job `Failed`
//!   (`BackoffLimitExceeded`) as an injected `job-fail` would. A real Job
//!   retries a failed pod up to its `backoffLimit`; the simulator tries once.
//! - The outcome is an Event on the pod from the kubelet: Normal
//!   `ArchiveUploaded` / `ArchiveDownloaded`, or Warning
//!   `ArchiveTransferFailed` with the message (on the Job when pods are not
//!   simulated). Messages never carry the URL, which may hold a token.
//! - Plain `http://` only (no TLS, proxy or redirects; a 3xx is a failure):
//!   an `https://` URL fails the pod with `archive upload failed: https
//!   URLs are not supported: the simulated cluster transfers over plain
//!   http only`.
//!
//! An injected failure (`sim.storeplane.io/fail`) wins: the pod fails
//! without transferring. A suspended Job transfers nothing; resumed, it
//! transfers again (its generation changed).

mod archive;
mod http;

use std::collections::HashMap;
use std::time::Duration;

use ::http::Method;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use self::http::TransferError;
use super::events::{self, Severity};
use super::status::Phase;
use super::{KUBELET, Msg, Sim, WorkKey};
use crate::config::Failure;
use crate::meta;
use crate::store::WriteCtx;

/// The Secret annotation that makes a container a transfer container:
/// `upload` or `download`.
pub(crate) const TRANSFER_ANNOTATION: &str = "storeplane.dev/archive-transfer";
/// The Secret annotation naming the engine whose backup it is.
pub(crate) const ENGINE_ANNOTATION: &str = "storeplane.dev/archive-engine";
/// The Secret label naming the backup.
pub(crate) const ARCHIVE_LABEL: &str = "storeplane.dev/archive";
/// The Secret key (and `secretKeyRef.key`) holding the URL.
const URL_KEY: &str = "url";
/// How long one transfer may take, connection to last byte.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// Which way the archive goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Upload,
    Download,
}

impl Direction {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "upload" => Some(Direction::Upload),
            "download" => Some(Direction::Download),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }
}

/// What a Job's transfer container does, read from its Secret.
#[derive(Debug, Clone)]
struct Transfer {
    direction: Direction,
    /// The container's name, and whether it is an init container.
    container: String,
    init: bool,
    secret: String,
    url: Option<String>,
    engine: Option<String>,
    /// The backup id (the Secret's label), for messages.
    archive: String,
    namespace: String,
}

/// One run of a Job: a resumed Job (new generation) or a Job recreated
/// under the same name (new uid) transfers again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    uid: String,
    generation: i64,
}

impl Run {
    fn of(job: &Value) -> Self {
        Self {
            uid: meta::uid(job).to_owned(),
            generation: meta::generation(job),
        }
    }
}

/// A finished transfer: what succeeded, or the pod's failure message.
pub(crate) type Outcome = Result<String, String>;

/// The transfers the kubelet has started, by Job.
#[derive(Debug, Default)]
pub(super) struct Transfers(HashMap<WorkKey, Tracked>);

#[derive(Debug)]
struct Tracked {
    run: Run,
    transfer: Transfer,
    /// The pod that makes it.
    pod: String,
    outcome: Option<Outcome>,
}

impl Transfers {
    /// Forgets a deleted Job's transfer (a late result is then dropped).
    pub(super) fn forget(&mut self, key: &WorkKey) {
        self.0.remove(key);
    }
}

impl Sim {
    /// The Job's phase given its transfer: held at `Starting` until the
    /// transfer succeeded, `Failed` once it failed. An injected failure
    /// wins; a Job without a transfer container keeps `phase`.
    pub(super) fn transfer_phase(&self, key: &WorkKey, job: &Value, phase: Phase) -> Phase {
        if matches!(phase, Phase::Failed(_)) {
            return phase;
        }
        let run = Run::of(job);
        let tracked = self.transfers.0.get(key).filter(|t| t.run == run);
        match tracked.map(|t| &t.outcome) {
            Some(Some(Ok(_))) => phase,
            Some(Some(Err(_))) => Phase::Failed(Failure::JobFail),
            Some(None) => Phase::Starting,
            None if self.transfer_of(job).is_some() => Phase::Starting,
            None => phase,
        }
    }

    /// After the Job's pod `pod` was synced in `phase`: starts its transfer
    /// if the pod runs and has not made it yet, and puts a failed
    /// transfer's message on the pod.
    pub(super) fn pod_transfer(&mut self, key: &WorkKey, job: &Value, phase: Phase, pod: &str) {
        let run = Run::of(job);
        match self.transfers.0.get(key).filter(|t| t.run == run) {
            None if phase == Phase::Starting => {
                if let Some(transfer) = self.transfer_of(job) {
                    self.start_transfer(key, run, transfer, pod);
                }
            }
            Some(Tracked {
                outcome: Some(Err(message)),
                transfer,
                pod,
                ..
            }) if phase == Phase::Failed(Failure::JobFail) => {
                self.fail_container(transfer, pod, message);
            }
            _ => {}
        }
    }

    /// A transfer finished: keeps its outcome for the Job's run, records
    /// the kubelet's event and looks at the Job again.
    pub(super) fn transfer_done(&mut self, key: WorkKey, run: Run, outcome: Outcome) {
        let Some(tracked) = self.transfers.0.get_mut(&key).filter(|t| t.run == run) else {
            return;
        };
        tracked.outcome = Some(outcome.clone());
        let (severity, reason, message) = match outcome {
            Ok(summary) => (
                Severity::Normal,
                match tracked.transfer.direction {
                    Direction::Upload => "ArchiveUploaded",
                    Direction::Download => "ArchiveDownloaded",
                },
                summary,
            ),
            Err(message) => (Severity::Warning, "ArchiveTransferFailed", message),
        };
        let involved = self
            .store
            .get(self.ids.pods, &key.1, &tracked.pod)
            .or_else(|_| self.store.get(self.ids.jobs, &key.1, &key.2));
        if let Ok(involved) = involved {
            events::record(
                &self.store,
                self.ids.events,
                &involved,
                severity,
                reason,
                &message,
                KUBELET,
            );
        }
        self.reconcile(key.0, &key.1, &key.2);
    }

    /// The Job's transfer container, if it has one.
    fn transfer_of(&self, job: &Value) -> Option<Transfer> {
        let namespace = meta::namespace(job)?;
        let spec = job.pointer("/spec/template/spec")?;
        for (field, init) in [("initContainers", true), ("containers", false)] {
            for container in spec
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let envs = container.get("env").and_then(Value::as_array);
                for env in envs.into_iter().flatten() {
                    let Some(source) = env.pointer("/valueFrom/secretKeyRef") else {
                        continue;
                    };
                    if source.get("key").and_then(Value::as_str) != Some(URL_KEY) {
                        continue;
                    }
                    let Some(secret) = source.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let Ok(found) = self.store.get(self.ids.secrets, namespace, secret) else {
                        continue;
                    };
                    let Some(direction) =
                        meta::annotation(&found, TRANSFER_ANNOTATION).and_then(Direction::parse)
                    else {
                        continue;
                    };
                    let url = found
                        .pointer("/data/url")
                        .and_then(Value::as_str)
                        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                        .and_then(|b| String::from_utf8(b).ok())
                        .filter(|u| !u.trim().is_empty());
                    let label = meta::labels(&found)
                        .and_then(|l| l.get(ARCHIVE_LABEL))
                        .and_then(Value::as_str);
                    return Some(Transfer {
                        direction,
                        container: container
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        init,
                        secret: secret.to_owned(),
                        url,
                        engine: meta::annotation(&found, ENGINE_ANNOTATION)
                            .map(str::trim)
                            .filter(|e| !e.is_empty())
                            .map(str::to_owned),
                        archive: label.unwrap_or(secret).to_owned(),
                        namespace: namespace.to_owned(),
                    });
                }
            }
        }
        None
    }

    /// Runs the transfer on a task of its own; its outcome comes back as
    /// [`Msg::Transferred`].
    fn start_transfer(&mut self, key: &WorkKey, run: Run, transfer: Transfer, pod: &str) {
        let tx = self.tx.clone();
        let (msg_key, msg_run, task_transfer) = (key.clone(), run.clone(), transfer.clone());
        tokio::spawn(async move {
            let outcome = perform(&task_transfer).await;
            match &outcome {
                Ok(summary) => {
                    tracing::info!(namespace = %msg_key.1, job = %msg_key.2, "{summary}")
                }
                Err(message) => {
                    tracing::warn!(namespace = %msg_key.1, job = %msg_key.2, "{message}");
                }
            }
            let _ = tx.send(Msg::Transferred {
                key: msg_key,
                run: msg_run,
                outcome,
            });
        });
        self.transfers.0.insert(
            key.clone(),
            Tracked {
                run,
                transfer,
                pod: pod.to_owned(),
                outcome: None,
            },
        );
    }

    /// The kubelet's status of a pod whose transfer container failed: that
    /// container terminated with exit code 1 and `message`; behind a failed
    /// init container, the main containers never started.
    fn fail_container(&self, transfer: &Transfer, pod: &str, message: &str) {
        let field = if transfer.init {
            "initContainerStatuses"
        } else {
            "containerStatuses"
        };
        let _ = self.store.modify(
            self.ids.pods,
            &transfer.namespace,
            pod,
            Some("status"),
            WriteCtx::new(KUBELET),
            |cur| {
                let mut pod = cur.clone();
                let statuses = pod
                    .pointer_mut(&format!("/status/{field}"))?
                    .as_array_mut()?;
                let status = statuses
                    .iter_mut()
                    .find(|s| s["name"] == transfer.container.as_str())?;
                if status.pointer("/state/terminated/message") == Some(&json!(message)) {
                    return None;
                }
                let now = meta::now();
                let started = status
                    .pointer("/state/terminated/startedAt")
                    .cloned()
                    .unwrap_or_else(|| json!(now));
                status["state"] = json!({ "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "message": message,
                    "startedAt": started,
                    "finishedAt": now,
                } });
                status["ready"] = json!(false);
                if transfer.init {
                    let main = pod.pointer_mut("/status/containerStatuses")?;
                    for status in main.as_array_mut()?.iter_mut() {
                        status["state"] = json!({ "waiting": { "reason": "PodInitializing" } });
                        status["started"] = json!(false);
                        status["ready"] = json!(false);
                    }
                }
                Some(pod)
            },
        );
    }
}

/// Makes the transfer, within [`TIMEOUT`].
async fn perform(transfer: &Transfer) -> Outcome {
    let made = async {
        match transfer.direction {
            Direction::Upload => upload(transfer).await,
            Direction::Download => download(transfer).await,
        }
    };
    tokio::time::timeout(TIMEOUT, made)
        .await
        .unwrap_or(Err(TransferError::Timeout(TIMEOUT.as_secs())))
        .map_err(|error| format!("archive {} failed: {error}", transfer.direction.as_str()))
}

impl Transfer {
    fn url(&self) -> Result<&str, TransferError> {
        self.url
            .as_deref()
            .ok_or_else(|| TransferError::NoUrl(self.secret.clone()))
    }

    fn engine(&self) -> Result<&str, TransferError> {
        self.engine
            .as_deref()
            .ok_or_else(|| TransferError::NoEngine(self.secret.clone()))
    }
}

async fn upload(transfer: &Transfer) -> Result<String, TransferError> {
    let url = transfer.url()?;
    let archive = archive::build(transfer.engine()?, &transfer.namespace, &meta::now())
        .map_err(TransferError::Build)?;
    let size = archive.len();
    let body = Some((Bytes::from(archive), "application/gzip"));
    let exchange = http::send(Method::PUT, url, body).await?;
    let status = exchange.response.status().as_u16();
    exchange.drain().await;
    Ok(format!(
        "archive upload of backup {} succeeded: {size} bytes, HTTP {status}",
        transfer.archive
    ))
}

async fn download(transfer: &Transfer) -> Result<String, TransferError> {
    let url = transfer.url()?;
    let engine = transfer.engine()?.to_owned();
    let exchange = http::send(Method::GET, url, None).await?;
    let status = exchange.response.status().as_u16();
    let checked = exchange
        .read_blocking(move |body| archive::check(body, &engine))
        .await??;
    Ok(format!(
        "archive download of backup {} succeeded: {} files checked against the manifest, HTTP {status}",
        transfer.archive, checked.files
    ))
}
