//! What plugins hand back, independent of the WIT version they were built
//! against: each version's module converts its generated types into these
//! before anything else (bounds in [`crate::limits`], the host's API) sees
//! them.

use crate::{host::ObservedPhase, manifest::Capability};

/// `describe`'s answer.
pub(crate) struct Info {
    pub id: String,
    pub display_name: String,
    pub version: String,
    pub description: String,
    pub config_schema: String,
    pub capabilities: Vec<Capability>,
    /// Empty for 0.1 plugins, which have no optional operations.
    pub operations: Vec<Operation>,
}

/// A plugin's refusal.
#[derive(Debug)]
pub(crate) struct Failure {
    pub reason: String,
    pub message: String,
    pub retryable: bool,
}

/// `observe`'s answer.
#[derive(Debug)]
pub(crate) struct Observation {
    pub phase: ObservedPhase,
    pub message: String,
    pub reason: String,
    pub storefront_url: Option<String>,
    pub admin_url: Option<String>,
    pub credentials_secret: Option<String>,
}

/// One of `validate`'s problems.
pub(crate) struct FieldError {
    pub field: String,
    pub message: String,
}

/// `backup`'s and `restore`'s answer.
pub(crate) struct JobStatus {
    pub phase: JobPhase,
    pub message: String,
    pub reason: String,
    pub size_bytes: Option<u64>,
    pub sha256: Option<String>,
}

/// Optional operations a plugin may implement (WIT 0.2 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Backs up a store's data into an archive.
    Backup,
    /// Replaces a store's data with an archive's (also: clones).
    Restore,
    /// Pauses a store, keeping its data.
    Suspend,
    /// Brings a suspended store back.
    Resume,
}

impl Operation {
    /// The name in WIT and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Backup => "backup",
            Operation::Restore => "restore",
            Operation::Suspend => "suspend",
            Operation::Resume => "resume",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a backup or restore Job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// Not finished.
    Running,
    /// Finished with success.
    Succeeded,
    /// Finished without success.
    Failed,
}

/// The archive a backup writes or a restore reads, as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Backup id.
    pub id: String,
    /// Secret in the store's namespace whose key `url` holds the archive's URL.
    pub secret: String,
    /// Image that moves archives.
    pub transfer_image: String,
}
