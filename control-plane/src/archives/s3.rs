//! The S3 target: archives are objects `<prefix><backup id>.tar.gz` of an
//! S3-compatible bucket (AWS, MinIO, Ceph, …), addressed path-style
//! (`<endpoint>/<bucket>/<key>`, which every implementation serves).
//!
//! Jobs get presigned URLs (SigV4 query signing, by `rusty-s3`): `PUT` or
//! `GET` of their one object until the URL expires. The credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
//! `AWS_SESSION_TOKEN`) stay in the control plane.
//!
//! The verification read: the bucket's word that an object exists is not
//! the platform's measurement, and a Job's is not either, so
//! [`Bucket::stored`] downloads the object and hashes it as it streams
//! (never holding it whole): one download per finished backup, remembered
//! in memory per backup id. A missing object (`404`) is `None`.
//!
//! AWS takes at most 5 GiB in one `PUT`; larger archives need a store that
//! accepts more in one request (MinIO does) or the directory target.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use rusty_s3::{Credentials, S3Action as _, UrlStyle};
use sha2::{Digest as _, Sha256};
use tracing::{info, warn};
use uuid::Uuid;

use super::{Direction, Error, Result, Stored, hex};

/// Where the bucket is (`serve --backup-s3-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://minio:9000`, …
    pub endpoint: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The bucket's region (part of every signature).
    pub region: String,
    /// Prepended to `<backup id>.tar.gz`, e.g. `storeplane/`.
    pub prefix: String,
}

/// The keys that sign requests to the bucket.
#[derive(Clone)]
pub struct S3Credentials(Credentials);

impl S3Credentials {
    /// An access key and its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self(Credentials::new(access_key_id, secret_access_key))
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
    /// `AWS_SESSION_TOKEN`; `None` when one of the first two is missing.
    pub fn from_env() -> Option<Self> {
        Credentials::from_env().map(Self)
    }
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.0.key())
            .finish_non_exhaustive()
    }
}

/// How long the control plane's own signed requests are valid.
const OWN_REQUEST_TTL: Duration = Duration::from_secs(5 * 60);
/// S3 refuses presigned URLs valid for longer.
const MAX_URL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Connecting, and waiting for an answer's head.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest pause while an archive streams in.
const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The bucket, the keys, and what was measured already.
pub(super) struct Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    prefix: String,
    ttl: Duration,
    client: HttpClient,
    /// Archives are written once: a measurement stays true.
    measured: Mutex<HashMap<Uuid, Stored>>,
}

impl Bucket {
    pub(super) async fn new(
        options: &S3Options,
        credentials: S3Credentials,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        if ttl < Duration::from_secs(1) || ttl > MAX_URL_TTL {
            anyhow::bail!(
                "with an S3 bucket, archive URLs must be valid for 1 second to 7 days \
                 (--backup-url-ttl is {})",
                humantime::format_duration(ttl)
            );
        }
        let endpoint: url::Url = options
            .endpoint
            .parse()
            .with_context(|| format!("the S3 endpoint {:?} is not a URL", options.endpoint))?;
        let https = endpoint.scheme() == "https";
        let bucket = rusty_s3::Bucket::new(
            endpoint,
            UrlStyle::Path,
            options.bucket.clone(),
            options.region.clone(),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "the S3 endpoint {:?} and bucket {:?} make no bucket URL: {e:?}",
                options.endpoint,
                options.bucket
            )
        })?;
        // Loading the system's roots reads files: off the async threads.
        let client = tokio::task::spawn_blocking(move || http_client(https))
            .await
            .context("building the S3 client")??;
        Ok(Self {
            bucket,
            credentials: credentials.0,
            prefix: options.prefix.clone(),
            ttl,
            client,
            measured: Mutex::new(HashMap::new()),
        })
    }

    fn key(&self, id: Uuid) -> String {
        format!("{}{id}.tar.gz", self.prefix)
    }

    pub(super) fn url(&self, id: Uuid, direction: Direction) -> String {
        let key = self.key(id);
        let credentials = Some(&self.credentials);
        match direction {
            Direction::Upload => self.bucket.put_object(credentials, &key).sign(self.ttl),
            Direction::Download => self.bucket.get_object(credentials, &key).sign(self.ttl),
        }
        .into()
    }

    /// Logs whether the bucket answers with these keys.
    pub(super) async fn check(&self) {
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(OWN_REQUEST_TTL);
        let bucket = self.bucket.name();
        match self.send(Method::HEAD, url, "check the bucket").await {
            Ok(answer) if answer.status().is_success() => {
                info!(bucket, prefix = %self.prefix, "backups go to an S3 bucket");
            }
            Ok(answer) => {
                warn!(bucket, status = %answer.status(), "the backup bucket refuses these credentials or does not exist");
            }
            Err(err) => warn!(bucket, error = %err, "the backup bucket cannot be reached"),
        }
    }

    /// The verification read (see the module's documentation).
    pub(super) async fn stored(&self, id: Uuid) -> Result<Option<Stored>> {
        if let Some(stored) = self.remembered(id) {
            return Ok(Some(stored));
        }
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &self.key(id))
            .sign(OWN_REQUEST_TTL);
        let action = "read an archive";
        let answer = self.send(Method::GET, url, action).await?;
        match answer.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            status => return Err(Error::Status { action, status }),
        }
        let mut body = answer.into_body();
        let mut hasher = Sha256::new();
        let mut size = 0_u64;
        loop {
            let frame = tokio::time::timeout(READ_IDLE_TIMEOUT, body.frame())
                .await
                .map_err(|_| Error::Timeout { action })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|source| Error::Body { id, source })?;
            if let Ok(data) = frame.into_data() {
                size += data.len() as u64;
                hasher.update(&data);
            }
        }
        let stored = Stored {
            size_bytes: size,
            sha256: hex(&hasher.finalize()),
        };
        info!(backup = %id, size_bytes = size, sha256 = %stored.sha256, "archive in the bucket measured");
        if let Ok(mut measured) = self.measured.lock() {
            measured.insert(id, stored.clone());
        }
        Ok(Some(stored))
    }

    fn remembered(&self, id: Uuid) -> Option<Stored> {
        self.measured.lock().ok()?.get(&id).cloned()
    }

    /// Deletes backup `id`'s object; a missing one is fine.
    pub(super) async fn remove(&self, id: Uuid) -> Result<()> {
        if let Ok(mut measured) = self.measured.lock() {
            measured.remove(&id);
        }
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &self.key(id))
            .sign(OWN_REQUEST_TTL);
        let action = "delete an archive";
        let status = self.send(Method::DELETE, url, action).await?.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Error::Status { action, status })
        }
    }

    async fn send(
        &self,
        method: Method,
        url: url::Url,
        action: &'static str,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        let request = Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(Empty::new())
            .map_err(|source| Error::Url { action, source })?;
        tokio::time::timeout(ANSWER_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| Error::Timeout { action })?
            .map_err(|source| Error::Request { action, source })
    }
}

/// An HTTP/1.1 client for `https` (rustls with ring and the system's
/// roots, the stack kube uses) and plain `http` (MinIO in the cluster, a
/// test server); an `http` endpoint needs no roots.
fn http_client(https: bool) -> anyhow::Result<HttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = if https {
        HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .context("no root certificates for the S3 endpoint's TLS")?
    } else {
        HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .context("TLS versions")?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        )
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(ANSWER_TIMEOUT));
    let connector = tls.https_or_http().enable_http1().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
