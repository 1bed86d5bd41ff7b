//! What the host's imports do once the sandbox rules allow a call: the
//! control plane implements [`HostBackend`] with its cluster client and
//! chart engine. Types here are plain Rust, independent of the WIT version.

use std::path::Path;

use async_trait::async_trait;
use serde_json::Value;

/// The store a plugin call is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreContext {
    /// Store id (UUID).
    pub id: String,
    /// Store name.
    pub name: String,
    /// The namespace every host call is scoped to.
    pub namespace: String,
    /// Owner, `tenants/<id>`.
    pub tenant: String,
    /// Engine configuration, a JSON object.
    pub config: Value,
    /// Desired-state generation.
    pub generation: i64,
    /// Host name the store is served at.
    pub host: String,
    /// Ingress class, if set.
    pub ingress_class: Option<String>,
    /// Storage class, if set.
    pub storage_class: Option<String>,
    /// Whether TLS is on.
    pub tls: bool,
    /// cert-manager ClusterIssuer, when TLS is on.
    pub cluster_issuer: Option<String>,
    /// Custom domains served beside `host` (WIT 0.2; a 0.1 plugin never
    /// sees them, and the platform refuses them for its stores).
    pub extra_hosts: Vec<String>,
    /// Whether the store is to be paused (WIT 0.2).
    pub suspended: bool,
}

/// Why a host call failed, as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Not granted, outside the store's namespace, or cluster-scoped.
    #[error("denied: {0}")]
    Denied(String),
    /// Does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A concurrent change won.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Malformed request.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The cluster or chart engine failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A release as the chart engine recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Chart directory name.
    pub chart: String,
    /// Chart version.
    pub chart_version: String,
    /// Revision number.
    pub revision: u32,
    /// SHA-256 of the rendered manifests.
    pub digest: String,
}

/// A generated Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// Keys it holds.
    pub keys: Vec<String>,
}

/// Log levels of the plugin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Whether a kind lives in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindScope {
    /// Namespaced.
    Namespaced,
    /// Cluster-scoped.
    Cluster,
}

/// The actions behind the host API, already authorised: the host has checked
/// capabilities and that everything stays in `store.namespace`.
#[async_trait]
pub trait HostBackend: Send + Sync + 'static {
    /// Whether `kind` of `api_version` is namespaced (discovery).
    async fn kind_scope(&self, api_version: &str, kind: &str) -> Result<KindScope, HostError>;

    /// Server-side applies `object` (namespace already set) in the store's namespace.
    async fn apply(&self, store: &StoreContext, object: Value) -> Result<Value, HostError>;

    /// Reads an object in the store's namespace.
    async fn get(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, HostError>;

    /// Lists objects in the store's namespace.
    async fn list(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, HostError>;

    /// Deletes an object in the store's namespace; false when absent.
    async fn delete(
        &self,
        store: &StoreContext,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, HostError>;

    /// Renders the chart at `chart_dir` (inside the plugin's bundle) and
    /// applies it as `release` in the store's namespace.
    async fn install_or_upgrade(
        &self,
        store: &StoreContext,
        release: &str,
        chart_dir: &Path,
        values: Value,
    ) -> Result<Release, HostError>;

    /// Deletes a release's objects; false when not installed.
    async fn uninstall(&self, store: &StoreContext, release: &str) -> Result<bool, HostError>;

    /// The current revision of a release.
    async fn release_status(
        &self,
        store: &StoreContext,
        release: &str,
    ) -> Result<Option<Release>, HostError>;

    /// Makes sure a Secret with random values for `keys` exists.
    async fn ensure_secret(
        &self,
        store: &StoreContext,
        name: &str,
        keys: &[String],
    ) -> Result<SecretRef, HostError>;

    /// A log line from the plugin (its `log` calls and its stderr), for the
    /// store's timeline and the platform's log. `store` is `None` at load.
    /// The host bounds these: each line is at most 1,024 characters, and
    /// one call sends at most 20 warn/error lines (plus one summary line
    /// when it dropped some), so a looping plugin cannot flood the timeline.
    fn log(&self, plugin: &str, store: Option<&StoreContext>, level: Level, message: &str);

    /// The host refused a plugin's request during a call about `store`:
    /// `operation` is the import (`kube.apply`, `helm.install-or-upgrade`,
    /// ...), `message` the text the plugin received (`denied: ...` or
    /// `invalid: ...`). Called once per refusal: for every `denied` error a
    /// plugin sees (capability, namespace, object policy, or a `Denied`
    /// returned by this backend, e.g. from [`crate::policy::check_apply`]
    /// on a rendered chart) and for names the object policy rejects as
    /// invalid. The control plane records it on the store's timeline; the
    /// default only logs a warning.
    fn refused(&self, plugin: &str, store: &StoreContext, operation: &str, message: &str) {
        tracing::warn!(
            plugin,
            store = %store.name,
            operation,
            "plugin request refused: {message}"
        );
    }
}
