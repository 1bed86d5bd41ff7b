//! Chart release revisions, as the chart engine records them: what the
//! reconciler's cluster adapter needs to upgrade with prune and to roll
//! back. Persisted through [`crate::ports::ReleaseStore`].

use serde::{Deserialize, Serialize};

/// An object a revision applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apps/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// Object name.
    pub name: String,
}

/// One revision of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// Store the release belongs to.
    pub store_id: String,
    /// Namespace.
    pub namespace: String,
    /// Release name.
    pub name: String,
    /// 1, 2, ...
    pub revision: i32,
    /// Chart name.
    pub chart: String,
    /// Chart version.
    pub chart_version: String,
    /// Chart directory it was rendered from.
    pub chart_dir: String,
    /// User values.
    pub values: serde_json::Value,
    /// Digest of the rendered manifests.
    pub digest: String,
    /// Objects applied, in order.
    pub objects: Vec<ObjectRef>,
}
