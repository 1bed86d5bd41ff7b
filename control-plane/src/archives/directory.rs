//! The default target: a directory of the control plane's (a
//! PersistentVolumeClaim when it runs on a cluster), served over HTTP at
//! `/v1/archives/<backup id>` on the API's port for the backup and restore
//! Jobs.
//!
//! The URL is signed with HMAC-SHA256 over the backup id, the direction
//! and the expiry, under a key kept beside the archives (so replicas
//! sharing the volume share it). The receiver measures what it stores (size
//! and SHA-256, written beside the archive once the upload is complete).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use axum::{
    Router,
    body::Body,
    extract::{Path as UrlPath, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::put,
};
use futures::StreamExt as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt as _;
use tracing::{info, warn};
use uuid::Uuid;

use super::{Direction, Stored, hex};
use crate::domain;

/// Largest archive accepted (a guard against a runaway Job filling the
/// volume, not a product limit).
const MAX_ARCHIVE_BYTES: u64 = 256 * 1024 * 1024 * 1024;

/// The archive directory and the URLs into it.
pub(super) struct Directory {
    dir: PathBuf,
    /// Keyed once; cloned for each signature.
    signer: Signer,
    base_url: String,
    ttl: Duration,
}

type Signer = Hmac<Sha256>;

impl Directory {
    /// Archives under `dir` (created, with its signing key, when missing),
    /// reached by Jobs at `base_url` (`http://host:port`, no trailing
    /// slash); URLs last `ttl`.
    ///
    /// # Errors
    ///
    /// When the directory or the key cannot be created or read.
    pub(super) fn open(dir: &Path, base_url: &str, ttl: Duration) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the backup directory {}", dir.display()))?;
        let key_path = dir.join(".signing-key");
        let key = match std::fs::read(&key_path) {
            Ok(key) if key.len() >= 32 => key,
            _ => {
                let mut key = vec![0_u8; 32];
                getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
                write_private(&key_path, &key)
                    .with_context(|| format!("cannot write {}", key_path.display()))?;
                key
            }
        };
        Ok(Self {
            dir: dir.to_owned(),
            signer: Signer::new_from_slice(&key).context("signing key")?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl,
        })
    }

    /// The URL a Job uses to move backup `id`'s archive in `direction`.
    pub(super) fn url(&self, id: Uuid, direction: Direction) -> String {
        let expires = chrono::Utc::now().timestamp()
            + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let signature = self.sign(id, direction, expires);
        format!(
            "{}/v1/archives/{id}?direction={}&expires={expires}&signature={signature}",
            self.base_url,
            direction.as_str()
        )
    }

    fn mac(&self, id: Uuid, direction: &str, expires: i64) -> Signer {
        let mut mac = self.signer.clone();
        mac.update(format!("{id}\n{direction}\n{expires}").as_bytes());
        mac
    }

    fn sign(&self, id: Uuid, direction: Direction, expires: i64) -> String {
        hex(&self
            .mac(id, direction.as_str(), expires)
            .finalize()
            .into_bytes())
    }

    /// Whether `query` allows `direction` on `id` now (constant-time).
    fn allows(&self, id: Uuid, direction: Direction, query: &Grant) -> bool {
        if query.direction != direction.as_str() || query.expires < chrono::Utc::now().timestamp() {
            return false;
        }
        let Some(signature) = unhex(&query.signature) else {
            return false;
        };
        self.mac(id, &query.direction, query.expires)
            .verify_slice(&signature)
            .is_ok()
    }

    fn archive(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.tar.gz"))
    }

    fn measurement(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// What was stored for backup `id`, once its upload completed.
    pub(super) async fn stored(&self, id: Uuid) -> Option<Stored> {
        let text = tokio::fs::read(self.measurement(id)).await.ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The HTTP routes Jobs use.
    pub(super) fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/archives/{id}", put(upload).get(download))
            .with_state(Arc::clone(self))
    }

    /// Stores `body` as backup `id`'s archive, measuring it. Written to a
    /// temporary file first: a broken upload leaves no archive behind.
    async fn receive(&self, id: Uuid, body: Body) -> Result<Stored, (StatusCode, String)> {
        let partial = self.dir.join(format!("{id}.part"));
        let internal = |what: &str, e: std::io::Error| {
            warn!(backup = %id, error = %e, "{what}");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
        };
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| internal("cannot create the archive", e))?;
        let mut hasher = Sha256::new();
        let mut size = 0_u64;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    drop(file);
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err((StatusCode::BAD_REQUEST, format!("upload broken off: {e}")));
                }
            };
            size += chunk.len() as u64;
            if size > MAX_ARCHIVE_BYTES {
                drop(file);
                let _ = tokio::fs::remove_file(&partial).await;
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("archives are limited to {MAX_ARCHIVE_BYTES} bytes"),
                ));
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| internal("cannot write the archive", e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| internal("cannot flush the archive", e))?;
        drop(file);
        let stored = Stored {
            size_bytes: size,
            sha256: hex(&hasher.finalize()),
        };
        tokio::fs::rename(&partial, self.archive(id))
            .await
            .map_err(|e| internal("cannot store the archive", e))?;
        let measured = serde_json::to_vec(&stored).unwrap_or_default();
        tokio::fs::write(self.measurement(id), measured)
            .await
            .map_err(|e| internal("cannot record the archive's size", e))?;
        info!(backup = %id, size_bytes = stored.size_bytes, sha256 = %stored.sha256, "archive stored");
        Ok(stored)
    }
}

impl Directory {
    /// Removes backup `id`'s archive and measurement; none is fine.
    pub(super) async fn remove(&self, id: Uuid) -> domain::Result<()> {
        for path in [self.measurement(id), self.archive(id)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(domain::Error::internal("remove archive", e)),
            }
        }
        Ok(())
    }
}

/// The query of an archive URL.
#[derive(Debug)]
struct Grant {
    direction: String,
    expires: i64,
    signature: String,
}

impl Grant {
    /// The grant in a URL's query; `None` when a part is missing.
    fn parse(query: Option<&str>) -> Option<Self> {
        let (mut direction, mut expires, mut signature) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query?.as_bytes()) {
            match &*key {
                "direction" => direction = Some(value.into_owned()),
                "expires" => expires = value.parse().ok(),
                "signature" => signature = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(Self {
            direction: direction?,
            expires: expires?,
            signature: signature?,
        })
    }
}

fn refuse() -> Response {
    (
        StatusCode::FORBIDDEN,
        "this URL does not allow that (wrong direction, expired or not signed by this platform)",
    )
        .into_response()
}

async fn upload(
    State(archives): State<Arc<Directory>>,
    UrlPath(id): UrlPath<Uuid>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let Some(grant) = Grant::parse(query.as_deref()) else {
        return refuse();
    };
    if !archives.allows(id, Direction::Upload, &grant) {
        return refuse();
    }
    match archives.receive(id, body).await {
        Ok(stored) => (
            StatusCode::CREATED,
            format!("{} bytes, sha256 {}\n", stored.size_bytes, stored.sha256),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn download(
    State(archives): State<Arc<Directory>>,
    UrlPath(id): UrlPath<Uuid>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(grant) = Grant::parse(query.as_deref()) else {
        return refuse();
    };
    if !archives.allows(id, Direction::Download, &grant) {
        return refuse();
    }
    let Some(stored) = archives.stored(id).await else {
        return (
            StatusCode::NOT_FOUND,
            "no archive is stored for this backup",
        )
            .into_response();
    };
    match tokio::fs::File::open(archives.archive(id)).await {
        Ok(file) => Response::builder()
            .header("content-type", "application/gzip")
            .header("content-length", stored.size_bytes)
            .header("x-checksum-sha256", stored.sha256)
            .body(Body::from_stream(tokio_util::io::ReaderStream::new(file)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "no archive is stored for this backup",
        )
            .into_response(),
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(url: &str) -> Grant {
        Grant::parse(url.split_once('?').map(|(_, q)| q)).expect("a grant")
    }

    #[test]
    fn a_url_allows_its_backup_and_direction_only_until_it_expires() {
        let dir = tempfile::tempdir().expect("dir");
        let archives =
            Directory::open(dir.path(), "http://cp:8080/", Duration::from_secs(60)).expect("open");
        let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
        let url = archives.url(id, Direction::Upload);
        assert!(url.starts_with(&format!("http://cp:8080/v1/archives/{id}?direction=upload")));
        let upload = grant(&url);
        assert!(archives.allows(id, Direction::Upload, &upload));
        assert!(!archives.allows(other, Direction::Upload, &upload));
        assert!(!archives.allows(id, Direction::Download, &upload));
        let mut tampered = grant(&url);
        tampered.expires += 3600;
        assert!(!archives.allows(id, Direction::Upload, &tampered));
        let mut forged = grant(&url);
        forged.signature = "00".repeat(32);
        assert!(!archives.allows(id, Direction::Upload, &forged));
        let expired = Directory::open(dir.path(), "http://cp", Duration::ZERO).expect("open");
        let mut old = grant(&expired.url(id, Direction::Download));
        old.expires -= 2;
        old.signature = expired.sign(id, Direction::Download, old.expires);
        assert!(!expired.allows(id, Direction::Download, &old));
        // The key is kept: a second process over the same volume signs alike.
        let again =
            Directory::open(dir.path(), "http://cp:8080", Duration::from_secs(60)).expect("reopen");
        assert!(again.allows(id, Direction::Upload, &upload));
    }

    #[tokio::test]
    async fn an_upload_is_measured_and_removed_with_its_backup() {
        let dir = tempfile::tempdir().expect("dir");
        let archives =
            Directory::open(dir.path(), "http://cp", Duration::from_secs(60)).expect("open");
        let id = Uuid::now_v7();
        assert_eq!(archives.stored(id).await, None);
        let stored = archives
            .receive(id, Body::from("archive bytes"))
            .await
            .expect("stored");
        assert_eq!(stored.size_bytes, 13);
        assert_eq!(stored.sha256, hex(&Sha256::digest(b"archive bytes")));
        assert_eq!(archives.stored(id).await, Some(stored));
        archives.remove(id).await.expect("removed");
        assert_eq!(archives.stored(id).await, None);
        assert!(!archives.archive(id).exists());
        archives.remove(id).await.expect("removing twice is fine");
    }
}
