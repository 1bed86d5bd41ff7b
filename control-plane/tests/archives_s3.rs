//! The S3 backup target against a real S3 API server: moto's (PyPI
//! `moto[server]`, installed by `cargo xtask test` into the tests' venv
//! and found through `STOREPLANE_PYTHON`). The Job's side is played by a
//! plain HTTP client with nothing but the URL, as the Job's curl would.
//!
//! moto does not check presigned signatures or their expiry, so the
//! signatures are checked against AWS's own SDK instead: botocore (moto's
//! dependency) signs the same request at the same instant and must give
//! the same signature, and one with another secret must not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use rusty_s3::S3Action as _;
use sha2::{Digest as _, Sha256};
use storeplane::archives::{Archives, Direction, S3Credentials, S3Options, Stored};
use storeplane::domain::ports::ArchiveStore as _;
use uuid::Uuid;

const KEY: &str = "AKIASTOREPLANETEST";
const SECRET: &str = "storeplane-test-secret-key";
const REGION: &str = "eu-central-1";
const BUCKET: &str = "backups";

/// The Python with moto; the test fails (it does not skip) without one.
fn python() -> PathBuf {
    let python = match std::env::var_os("STOREPLANE_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "STOREPLANE_PYTHON is not set. This test runs a real S3 API server (moto) and needs a \
             Python with `pip install \"moto[server]==5.2.6\"`: run the tests with \
             `cargo xtask test` (it installs moto into target/venv), or set STOREPLANE_PYTHON to \
             such an interpreter (e.g. target/venv/bin/python)."
        ),
    };
    let probe = Command::new(&python)
        .args(["-c", "import moto.server, botocore"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run STOREPLANE_PYTHON={}: {e}", python.display()));
    assert!(
        probe.status.success(),
        "STOREPLANE_PYTHON={} has no moto server: `{} -m pip install \"moto[server]==5.2.6\"` \
         (or run `cargo xtask test`): {}",
        python.display(),
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

/// moto's S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP request with nothing but a URL (and a body), as a Job's
/// curl sends it; returns the status and the body.
async fn send(method: &str, url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.expect("request");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

/// botocore's SigV4 query signature of `method url` (its `X-Amz-*`
/// parameters taken from the URL), signed with `secret`.
fn botocore_signature(method: &str, url: &str, secret: &str) -> String {
    const SCRIPT: &str = r#"
import sys, datetime
from urllib.parse import urlsplit, parse_qs
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
method, url, key, secret, region = sys.argv[1:6]
parts = urlsplit(url)
query = {k: v[0] for k, v in parse_qs(parts.query).items()}
signed_at = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda *a, **k: signed_at
request = AWSRequest(method=method, url=f"{parts.scheme}://{parts.netloc}{parts.path}")
auth = botocore.auth.S3SigV4QueryAuth(Credentials(key, secret), "s3", region, expires=int(query["X-Amz-Expires"]))
auth.add_auth(request)
print(parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0])
"#;
    let out = Command::new(python())
        .args(["-c", SCRIPT, method, url, KEY, secret, REGION])
        .output()
        .expect("run botocore");
    assert!(
        out.status.success(),
        "botocore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').expect("a query").1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

fn options(endpoint: &str) -> S3Options {
    S3Options {
        endpoint: endpoint.to_owned(),
        bucket: BUCKET.into(),
        region: REGION.into(),
        prefix: "storeplane/".into(),
    }
}

/// The operator's part: the bucket exists before the control plane uses it.
async fn create_bucket(endpoint: &str) {
    let bucket = rusty_s3::Bucket::new(
        endpoint.parse().unwrap(),
        rusty_s3::UrlStyle::Path,
        BUCKET,
        REGION,
    )
    .unwrap();
    let credentials = rusty_s3::Credentials::new(KEY, SECRET);
    let action = bucket.create_bucket(&credentials);
    let url = action.sign(Duration::from_secs(60));
    let location = format!(
        "<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint>\
         </CreateBucketConfiguration>"
    );
    let (status, body) = send("PUT", url.as_str(), location.into_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn bucket_target_hands_jobs_presigned_urls_and_measures_archives_itself() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint).await;
    let archives = Archives::bucket(
        &options(&moto.endpoint),
        S3Credentials::new(KEY, SECRET),
        Duration::from_secs(600),
    )
    .await
    .expect("bucket target");
    let id = Uuid::now_v7();
    assert_eq!(archives.stored(id).await.expect("asked"), None);

    // The Job's URL: one object, one method, the TTL; no secret in it.
    let upload = archives.url(id, Direction::Upload);
    assert!(
        upload.starts_with(&format!(
            "{}/{BUCKET}/storeplane/{id}.tar.gz?",
            moto.endpoint
        )),
        "{upload}"
    );
    assert_eq!(query_param(&upload, "X-Amz-Expires"), "600");
    assert!(query_param(&upload, "X-Amz-Credential").starts_with(&format!("{KEY}/")));
    assert!(!upload.contains(SECRET));
    // AWS's SDK signs the same request alike (a tampered URL no longer
    // matches what S3 computes); another secret gives another signature.
    let download = archives.url(id, Direction::Download);
    for (method, url) in [("PUT", &upload), ("GET", &download)] {
        let ours = query_param(url, "X-Amz-Signature");
        assert_eq!(ours, botocore_signature(method, url, SECRET), "{method}");
        assert_ne!(ours, botocore_signature(method, url, "another-secret"));
    }
    assert_ne!(
        botocore_signature("PUT", &download, SECRET),
        query_param(&download, "X-Amz-Signature"),
        "the download URL does not allow an upload"
    );

    // The Job uploads with a plain client; the control plane measures.
    let archive: Vec<u8> = (0..300_000_u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = send("PUT", &upload, archive.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let expected = Stored {
        size_bytes: archive.len() as u64,
        sha256: format!("{:x}", Sha256::digest(&archive)),
    };
    assert_eq!(
        archives.stored(id).await.expect("asked"),
        Some(expected.clone())
    );
    assert_eq!(
        archives.stored(id).await.expect("asked again"),
        Some(expected)
    );

    // A restore Job's URL gives the bytes back.
    let (status, body) = send("GET", &download, Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(body, archive);
    // No HTTP routes of the control plane's own are involved.
    assert!(!upload.contains("/v1/archives/"));

    // Deleting the backup deletes the object; twice is fine.
    archives.remove(id).await.expect("removed");
    assert_eq!(archives.stored(id).await.expect("asked"), None);
    assert_eq!(send("GET", &download, Vec::new()).await.0, 404);
    archives.remove(id).await.expect("removing twice is fine");
}

#[tokio::test]
async fn bucket_target_refuses_url_lifetimes_s3_does_not_accept() {
    // No server needed: the check comes before any request.
    let options = options("http://127.0.0.1:9");
    for ttl in [Duration::ZERO, Duration::from_secs(8 * 24 * 3600)] {
        let err = Archives::bucket(&options, S3Credentials::new(KEY, SECRET), ttl)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("7 days"), "{err}");
    }
}

#[tokio::test]
async fn an_unreachable_bucket_is_an_error_to_retry_not_a_missing_archive() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let archives = Archives::bucket(
        &options(&format!("http://127.0.0.1:{port}")),
        S3Credentials::new(KEY, SECRET),
        Duration::from_secs(60),
    )
    .await
    .expect("starts without the bucket answering");
    assert!(archives.stored(Uuid::now_v7()).await.is_err());
}
