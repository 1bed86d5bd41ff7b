//! Backup and restore Jobs: the simulated kubelet plays their transfer
//! container, uploading or downloading the archive at the URL of their
//! Secret, against a small HTTP server started by each test.

use std::convert::Infallible;
use std::io::Read as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use storeplane_sim_cluster::{SimCluster, SimConfig};
use tokio::sync::{mpsc, watch};

use super::{condition, events_with_reason, instant_cluster, json_of, namespace, object, wait_for};

/// A request the archive server received.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// A stand-in for the control plane's archive endpoint: answers every
/// request with `status` and `body` once its gate is open.
struct ArchiveServer {
    base: String,
    requests: mpsc::UnboundedReceiver<Received>,
    gate: watch::Sender<bool>,
}

impl ArchiveServer {
    async fn start(status: u16, body: Vec<u8>, open: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, requests) = mpsc::unbounded_channel();
        let (gate, gate_rx) = watch::channel(open);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, gate, body) = (tx.clone(), gate_rx.clone(), body.clone());
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let (tx, mut gate, body) = (tx.clone(), gate.clone(), body.clone());
                    async move {
                        let content_type = req
                            .headers()
                            .get(http::header::CONTENT_TYPE)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        let method = req.method().to_string();
                        let path = req.uri().to_string();
                        let sent = req.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send(Received {
                            method,
                            path,
                            content_type,
                            body: sent.to_vec(),
                        });
                        let _ = gate.wait_for(|open| *open).await;
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base,
            requests,
            gate,
        }
    }

    async fn next_request(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("no request reached the archive server")
            .unwrap()
    }
}

/// The Secret the control plane makes for a transfer (`direction` `None`:
/// a Secret without the transfer annotation).
async fn transfer_secret(client: &kube::Client, ns: &str, direction: Option<&str>, url: &str) {
    let mut annotations = json!({ "storeplane.dev/archive-engine": "woocommerce" });
    if let Some(direction) = direction {
        annotations["storeplane.dev/archive-transfer"] = json!(direction);
    }
    let secret = json!({
        "metadata": {
            "name": "archive-url",
            "annotations": annotations,
            "labels": { "storeplane.dev/archive": "b-1" },
        },
        "data": { "url": base64::engine::general_purpose::STANDARD.encode(url) },
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .create(&PostParams::default(), &object(secret))
        .await
        .unwrap();
}

/// A Job whose `transfer` container takes its URL from the Secret: the last
/// container (an upload after the dump), or the first init container (a
/// download before the restore).
fn transfer_job(name: &str, init: bool) -> Value {
    let transfer = json!({ "name": "transfer", "image": "curlimages/curl:8.11.0",
        "env": [{ "name": "ARCHIVE_URL",
            "valueFrom": { "secretKeyRef": { "name": "archive-url", "key": "url" } } }] });
    let other = json!({ "name": "work", "image": "busybox:1.37" });
    let spec = if init {
        json!({ "restartPolicy": "Never", "initContainers": [transfer], "containers": [other] })
    } else {
        json!({ "restartPolicy": "Never", "initContainers": [other], "containers": [transfer] })
    };
    json!({ "metadata": { "name": name },
        "spec": { "backoffLimit": 0, "template": { "spec": spec } } })
}

fn finished(type_: &'static str) -> impl Fn(Option<&Job>) -> bool {
    move |job| job.is_some_and(|j| condition(&json_of(j), type_)["status"] == "True")
}

async fn only_pod(client: &kube::Client, ns: &str) -> Value {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut items = pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(items.len(), 1, "{items:?}");
    json_of(&items.remove(0))
}

/// The files of a gzip'd tar, by name.
fn untar(archive: &[u8]) -> Vec<(String, String)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    tar.entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

/// A backup as an engine's backup Job writes it, made by `engine`.
fn backup_archive(engine: &str) -> Vec<u8> {
    let dump = b"-- a database dump\n";
    let sha: String = Sha256::digest(dump)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let manifest = format!(
        "format storeplane-backup/1\nengine {engine}\ncreated 2026-01-01T00:00:00Z\n\
         file database.sql.gz {sha} {} 2026-01-01T00:00:01Z\n",
        dump.len()
    );
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in [
        ("./manifest", manifest.as_bytes()),
        ("./database.sql.gz", dump),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// The state of the container `name` in a pod's `field` statuses.
fn container_state<'a>(pod: &'a Value, field: &str, name: &str) -> &'a Value {
    pod["status"][field]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .map_or(&Value::Null, |c| &c["state"])
}

#[tokio::test]
async fn a_backup_job_uploads_its_archive_before_it_completes() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let mut server = ArchiveServer::start(201, Vec::new(), false).await;
    let url = format!("{}/backups/b-1/archive?token=t0k3n", server.base);
    transfer_secret(&client, "shop", Some("upload"), &url).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    jobs.create(
        &PostParams::default(),
        &object(transfer_job("backup", false)),
    )
    .await
    .unwrap();

    let upload = server.next_request().await;
    assert_eq!(upload.method, "PUT");
    assert_eq!(upload.path, "/backups/b-1/archive?token=t0k3n");
    assert_eq!(upload.content_type, "application/gzip");
    let files = untar(&upload.body);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["manifest", "simulated.txt"]);
    let data = &files[1].1;
    assert!(data.contains("shop"), "{data}");
    let lines: Vec<&str> = files[0].1.lines().collect();
    assert_eq!(
        lines[..2],
        ["format storeplane-backup/1", "engine woocommerce"]
    );
    assert!(lines[2].starts_with("created 20") && lines[2].ends_with('Z'));
    assert_eq!(lines[3], "simulated true");
    let record: Vec<&str> = lines[4].split(' ').collect();
    let sha: String = Sha256::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        record[..4],
        ["file", "simulated.txt", &sha, &data.len().to_string()]
    );
    assert_eq!(lines.len(), 5, "{lines:?}");

    // The instant cluster would have completed the Job already, were it
    // not waiting for the upload's answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = json_of(&jobs.get("backup").await.unwrap());
    assert!(condition(&running, "Complete").is_null(), "{running:#}");
    assert_eq!(
        only_pod(&client, "shop").await["status"]["phase"],
        "Running"
    );

    server.gate.send(true).unwrap();
    wait_for(&jobs, "backup", finished("Complete")).await;
    assert_eq!(
        only_pod(&client, "shop").await["status"]["phase"],
        "Succeeded"
    );
    let uploaded = events_with_reason(&client, "shop", "ArchiveUploaded").await;
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    assert_eq!(uploaded[0]["involvedObject"]["kind"], "Pod");
    let message = uploaded[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("archive upload of backup b-1 succeeded"),
        "{message}"
    );
    assert!(
        !message.contains("t0k3n"),
        "the URL's token leaked: {message}"
    );
    assert!(server.requests.try_recv().is_err(), "a second upload");
}

#[tokio::test]
async fn a_refused_upload_fails_the_job_with_the_status() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let mut server = ArchiveServer::start(403, b"forbidden".to_vec(), true).await;
    transfer_secret(
        &client,
        "shop",
        Some("upload"),
        &format!("{}/a", server.base),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    jobs.create(
        &PostParams::default(),
        &object(transfer_job("backup", false)),
    )
    .await
    .unwrap();

    let failed = json_of(&wait_for(&jobs, "backup", finished("Failed")).await);
    assert_eq!(
        condition(&failed, "Failed")["reason"],
        "BackoffLimitExceeded"
    );
    assert!(condition(&failed, "Complete").is_null(), "{failed:#}");
    assert_eq!(server.next_request().await.method, "PUT");
    let pod = only_pod(&client, "shop").await;
    assert_eq!(pod["status"]["phase"], "Failed");
    let terminated = &container_state(&pod, "containerStatuses", "transfer")["terminated"];
    assert_eq!(terminated["exitCode"], 1, "{pod:#}");
    assert_eq!(terminated["reason"], "Error");
    assert_eq!(terminated["message"], "archive upload failed: HTTP 403");
    let warnings = events_with_reason(&client, "shop", "ArchiveTransferFailed").await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["type"], "Warning");
    assert_eq!(warnings[0]["message"], "archive upload failed: HTTP 403");
}

#[tokio::test]
async fn unreachable_and_https_urls_fail_the_job_with_their_reason() {
    let (_cluster, client) = instant_cluster();
    // A port nothing listens on any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    for (ns, url, expected) in [
        (
            "refused",
            format!("http://{addr}/a"),
            format!("archive upload failed: cannot connect to {addr}: "),
        ),
        (
            "tls",
            "https://127.0.0.1:1/a".to_owned(),
            "archive upload failed: https URLs are not supported: the simulated cluster transfers over plain http only".to_owned(),
        ),
    ] {
        namespace(&client, ns).await;
        transfer_secret(&client, ns, Some("upload"), &url).await;
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        jobs.create(&PostParams::default(), &object(transfer_job("backup", false)))
            .await
            .unwrap();
        wait_for(&jobs, "backup", finished("Failed")).await;
        let pod = only_pod(&client, ns).await;
        let state = container_state(&pod, "containerStatuses", "transfer");
        let message = state["terminated"]["message"].as_str().unwrap_or("");
        assert!(message.starts_with(&expected), "{message:?} for {ns}");
    }
}

#[tokio::test]
async fn a_restore_job_downloads_a_valid_archive_and_completes_after_its_duration() {
    let mut config = SimConfig::instant();
    config.job_duration = Duration::from_millis(400);
    let cluster = SimCluster::new(config);
    let client = cluster.client();
    namespace(&client, "shop").await;
    let mut server = ArchiveServer::start(200, backup_archive("woocommerce"), true).await;
    transfer_secret(
        &client,
        "shop",
        Some("download"),
        &format!("{}/b-1", server.base),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let started = Instant::now();
    jobs.create(
        &PostParams::default(),
        &object(transfer_job("restore", true)),
    )
    .await
    .unwrap();

    let download = server.next_request().await;
    assert_eq!(
        (download.method.as_str(), download.path.as_str()),
        ("GET", "/b-1")
    );
    wait_for(&jobs, "restore", finished("Complete")).await;
    // The download took far less than the Job's duration, which still holds.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        only_pod(&client, "shop").await["status"]["phase"],
        "Succeeded"
    );
    let downloaded = events_with_reason(&client, "shop", "ArchiveDownloaded").await;
    assert_eq!(downloaded.len(), 1, "{downloaded:?}");
    assert!(server.requests.try_recv().is_err(), "a second download");
}

#[tokio::test]
async fn a_restore_of_another_engines_backup_fails() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let server = ArchiveServer::start(200, backup_archive("medusa"), true).await;
    transfer_secret(
        &client,
        "shop",
        Some("download"),
        &format!("{}/b-1", server.base),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    jobs.create(
        &PostParams::default(),
        &object(transfer_job("restore", true)),
    )
    .await
    .unwrap();

    wait_for(&jobs, "restore", finished("Failed")).await;
    let pod = only_pod(&client, "shop").await;
    assert_eq!(pod["status"]["phase"], "Failed");
    let transfer = &container_state(&pod, "initContainerStatuses", "transfer")["terminated"];
    assert_eq!(transfer["exitCode"], 1, "{pod:#}");
    assert_eq!(
        transfer["message"],
        "archive download failed: this is a backup of a medusa store, not a woocommerce one"
    );
    // Behind a failed init container the main container never started.
    let work = container_state(&pod, "containerStatuses", "work");
    assert_eq!(work["waiting"]["reason"], "PodInitializing", "{pod:#}");
}

#[tokio::test]
async fn a_job_without_a_transfer_container_makes_no_request() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let mut server = ArchiveServer::start(200, Vec::new(), true).await;
    // The same env reference, to a Secret that is not a transfer's.
    transfer_secret(&client, "shop", None, &format!("{}/a", server.base)).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    jobs.create(
        &PostParams::default(),
        &object(transfer_job("plain", false)),
    )
    .await
    .unwrap();

    let done = json_of(&wait_for(&jobs, "plain", finished("Complete")).await);
    assert_eq!(done["status"]["succeeded"], 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        server.requests.try_recv().is_err(),
        "the Job made a request"
    );
    assert!(
        events_with_reason(&client, "shop", "ArchiveUploaded")
            .await
            .is_empty()
    );
}
