//! Where backups are kept: the backup target the operator configures.
//!
//! A Job never gets credentials, only a URL (in a Secret of its store's
//! namespace) that allows one thing: `PUT` of that backup's archive
//! ([`Direction::Upload`]) or `GET` of it ([`Direction::Download`]), until
//! it expires. Two targets hand out such URLs behind the same methods
//! ([`Archives::url`], [`Archives::stored`], [`Archives::router`] and
//! [`ArchiveStore::remove`]), so the reconciler and the plugin contract do
//! not care which one is configured:
//!
//! - a directory of the control plane's (the default, `--backup-dir`; a
//!   volume on a cluster), reached at `/v1/archives/<id>` on the API port
//!   with HMAC-signed URLs; the receiver measures what it stores
//!   (`directory.rs`);
//! - an S3-compatible bucket (`--backup-s3-bucket`): the Jobs get
//!   presigned (SigV4 query-signed) URLs of the object
//!   `<prefix><backup id>.tar.gz`; the credentials stay in the control
//!   plane (`s3.rs`).
//!
//! Either way a backup's size and checksum are the platform's own
//! measurement, never the Job's word. With a bucket that costs a
//! verification read: the control plane downloads each finished backup's
//! archive once, hashing it as it streams.
//!
//! Decision: the default keeps archives in the control plane rather than
//! in an object store, so an installation needs nothing but a volume; a
//! bucket is the option for operators who have one.

mod directory;
mod s3;

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::Router;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{self, ports::ArchiveStore};

pub use s3::{S3Credentials, S3Options};

/// How a Job uses its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `PUT` the archive (a backup).
    Upload,
    /// `GET` the archive (a restore).
    Download,
}

impl Direction {
    /// The word in URLs and the Secret's annotation.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }
}

/// What the platform measured of a complete archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Bytes.
    pub size_bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// What went wrong asking the backup target about an archive.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket could not be reached or the connection broke.
    #[error("cannot {action} on the backup bucket")]
    Request {
        /// What was being done.
        action: &'static str,
        /// The client's error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The bucket did not answer in time.
    #[error("the backup bucket did not answer in time ({action})")]
    Timeout {
        /// What was being done.
        action: &'static str,
    },
    /// The bucket answered with an unexpected status.
    #[error("the backup bucket answered {status} ({action})")]
    Status {
        /// What was being done.
        action: &'static str,
        /// Its answer.
        status: http::StatusCode,
    },
    /// A signed URL the HTTP client does not take.
    #[error("the signed URL cannot be requested ({action})")]
    Url {
        /// What was being done.
        action: &'static str,
        /// Why.
        #[source]
        source: http::Error,
    },
    /// Reading an archive from the bucket broke off.
    #[error("reading backup {id}'s archive from the bucket broke off")]
    Body {
        /// The backup.
        id: Uuid,
        /// The client's error.
        #[source]
        source: hyper::Error,
    },
}

/// `Result` of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The backup target and the URLs into it.
pub struct Archives {
    target: Target,
}

enum Target {
    Directory(Arc<directory::Directory>),
    Bucket(Box<s3::Bucket>),
}

impl Archives {
    /// Archives under `dir` (created, with its signing key, when missing),
    /// reached by Jobs at `base_url` (`http://host:port`, no trailing
    /// slash); URLs last `ttl`.
    ///
    /// # Errors
    ///
    /// When the directory or the key cannot be created or read.
    pub fn open(dir: &Path, base_url: &str, ttl: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            target: Target::Directory(Arc::new(directory::Directory::open(dir, base_url, ttl)?)),
        })
    }

    /// Archives in an S3-compatible bucket, signed with `credentials`;
    /// Jobs' URLs last `ttl` (S3 accepts 1 second to 7 days). Whether the
    /// bucket answers is checked once and logged: an unreachable bucket
    /// does not keep the control plane from starting.
    ///
    /// # Errors
    ///
    /// When the options are invalid, `ttl` is out of S3's range or (for an
    /// `https` endpoint) the system has no root certificates.
    pub async fn bucket(
        options: &S3Options,
        credentials: S3Credentials,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let bucket = s3::Bucket::new(options, credentials, ttl).await?;
        bucket.check().await;
        Ok(Self {
            target: Target::Bucket(Box::new(bucket)),
        })
    }

    /// The URL a Job uses to move backup `id`'s archive in `direction`.
    pub fn url(&self, id: Uuid, direction: Direction) -> String {
        match &self.target {
            Target::Directory(dir) => dir.url(id, direction),
            Target::Bucket(bucket) => bucket.url(id, direction),
        }
    }

    /// What is stored for backup `id` (`None`: nothing, or an upload that
    /// has not completed), as measured by the control plane.
    ///
    /// # Errors
    ///
    /// When the bucket cannot be asked (worth a retry: it says nothing
    /// about the archive).
    pub async fn stored(&self, id: Uuid) -> Result<Option<Stored>> {
        match &self.target {
            Target::Directory(dir) => Ok(dir.stored(id).await),
            Target::Bucket(bucket) => bucket.stored(id).await,
        }
    }

    /// The HTTP routes Jobs use (none for a bucket: Jobs talk to it).
    pub fn router(&self) -> Router {
        match &self.target {
            Target::Directory(dir) => dir.router(),
            Target::Bucket(_) => Router::new(),
        }
    }
}

#[async_trait]
impl ArchiveStore for Archives {
    async fn remove(&self, id: Uuid) -> domain::Result<()> {
        match &self.target {
            Target::Directory(dir) => dir.remove(id).await,
            Target::Bucket(bucket) => bucket
                .remove(id)
                .await
                .map_err(|e| domain::Error::internal("remove archive", e)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
