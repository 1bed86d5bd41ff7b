//! The values passed between the platform and a plugin, as plain Rust types.

use serde::de::DeserializeOwned;

use crate::ids::{EngineId, Namespace, StoreId, StoreName, TenantName};
use crate::{Failure, Result};

/// What a plugin may ask the operator for. Each host call needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// `kube_get` and `kube_list` in the store's namespace.
    KubeRead,
    /// `kube_apply` and `kube_delete` in the store's namespace.
    KubeWrite,
    /// `helm_*`: install the charts shipped in the plugin's bundle.
    Helm,
    /// `ensure_secret`: generated random secrets.
    Secrets,
}

impl Capability {
    /// Every capability, in the WIT enum's order.
    pub const ALL: [Capability; 4] = [
        Capability::KubeRead,
        Capability::KubeWrite,
        Capability::Helm,
        Capability::Secrets,
    ];

    /// The name used in WIT and in `plugin.toml`, e.g. `kube-read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::KubeRead => "kube-read",
            Capability::KubeWrite => "kube-write",
            Capability::Helm => "helm",
            Capability::Secrets => "secrets",
        }
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Detail useful when debugging the plugin.
    Debug,
    /// Progress worth showing in the store's timeline.
    Info,
    /// Something unexpected the plugin recovered from.
    Warn,
    /// Something failed.
    Error,
}

/// Who an engine is and what it needs (the WIT `engine-info`, minus the
/// schema, which [`Engine::config_schema`](crate::Engine::config_schema) gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// Stable id; must equal the bundle manifest's `id`.
    pub id: EngineId,
    /// Name shown in the dashboard.
    pub display_name: String,
    /// Engine version (semver); must equal the bundle manifest's `version`.
    pub version: String,
    /// One or two sentences for the create dialog.
    pub description: String,
    /// Capabilities the plugin needs; must equal the manifest's.
    pub capabilities: Vec<Capability>,
}

/// One invalid configuration field, returned by `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path inside the configuration, e.g. `admin_email`.
    pub field: String,
    /// What is wrong and what would be right.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A store's phase as the plugin observes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Still coming up.
    Provisioning,
    /// Takes orders.
    Ready,
    /// Will not come up without help.
    Failed,
    /// Paused by [`Engine::suspend`](crate::Engine::suspend): no workload
    /// runs, the data is kept. WIT 0.2; a 0.1 build reports it as
    /// provisioning.
    Suspended,
}

/// What `observe` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The phase.
    pub phase: Phase,
    /// Human-readable progress or failure detail.
    pub message: String,
    /// CamelCase reason when failed (may be set in other phases too).
    pub reason: String,
    /// The shop's address once known.
    pub storefront_url: Option<String>,
    /// The shop's administration address once known.
    pub admin_url: Option<String>,
    /// Name of the Secret holding the admin credentials, if any.
    pub credentials_secret: Option<String>,
}

impl Observation {
    fn with_phase(phase: Phase, reason: String, message: String) -> Self {
        Observation {
            phase,
            message,
            reason,
            storefront_url: None,
            admin_url: None,
            credentials_secret: None,
        }
    }

    /// Still coming up, with a progress message.
    pub fn provisioning(message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Provisioning, String::new(), message.into())
    }

    /// Takes orders.
    pub fn ready(message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Ready, String::new(), message.into())
    }

    /// Paused: nothing runs, the data is kept (plugin API 0.2).
    pub fn suspended(message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Suspended, String::new(), message.into())
    }

    /// Will not come up without help.
    pub fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Failed, reason.into(), message.into())
    }

    /// Sets the CamelCase reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Sets the storefront URL.
    pub fn storefront_url(mut self, url: impl Into<String>) -> Self {
        self.storefront_url = Some(url.into());
        self
    }

    /// Sets the admin URL.
    pub fn admin_url(mut self, url: impl Into<String>) -> Self {
        self.admin_url = Some(url.into());
        self
    }

    /// Sets the name of the Secret holding the admin credentials.
    pub fn credentials_secret(mut self, name: impl Into<String>) -> Self {
        self.credentials_secret = Some(name.into());
        self
    }
}

/// A Helm-style release as recorded by the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Chart directory name inside the bundle.
    pub chart: String,
    /// The chart's version.
    pub chart_version: String,
    /// Increments on every install or upgrade.
    pub revision: u32,
    /// SHA-256 of the rendered manifests.
    pub digest: String,
}

/// A generated Secret and the keys it holds. Plugins never see the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
    /// Its keys.
    pub keys: Vec<String>,
}

/// The store a call is about, as the host sends it (the WIT `store-context`):
/// the configuration is still JSON text. Engines receive a [`Store`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreContext {
    /// Server-assigned id (UUID).
    pub id: StoreId,
    /// DNS label chosen by the tenant.
    pub name: StoreName,
    /// The namespace every host call is scoped to.
    pub namespace: Namespace,
    /// Owner, `tenants/<id>`.
    pub tenant: TenantName,
    /// Engine configuration, a JSON object already valid per `validate`.
    pub config: String,
    /// Incremented on every change of the desired state.
    pub generation: i64,
    /// Host name the store is served at, e.g. `shop.example.com`.
    pub host: String,
    /// Ingress class to use, if the platform sets one.
    pub ingress_class: Option<String>,
    /// Storage class for PVCs, if the platform sets one.
    pub storage_class: Option<String>,
    /// Whether the Ingress terminates TLS (via cert-manager).
    pub tls: bool,
    /// Name of the cert-manager ClusterIssuer when `tls` is set.
    pub cluster_issuer: Option<String>,
    /// Custom domains served beside `host` (WIT 0.2; empty in a 0.1 build).
    pub extra_hosts: Vec<String>,
    /// Whether the store is to be paused (WIT 0.2; false in a 0.1 build).
    pub suspended: bool,
}

/// The store a call is about, with the configuration deserialized into the
/// engine's own type.
#[derive(Debug, Clone, PartialEq)]
pub struct Store<C> {
    /// Server-assigned id (UUID).
    pub id: StoreId,
    /// DNS label chosen by the tenant; a good Helm release name.
    pub name: StoreName,
    /// The namespace every host call is scoped to.
    pub namespace: Namespace,
    /// Owner, `tenants/<id>`.
    pub tenant: TenantName,
    /// The engine configuration.
    pub config: C,
    /// Incremented on every change of the desired state.
    pub generation: i64,
    /// Host name the store is served at, e.g. `shop.example.com`.
    pub host: String,
    /// Ingress class to use, if the platform sets one.
    pub ingress_class: Option<String>,
    /// Storage class for PVCs, if the platform sets one.
    pub storage_class: Option<String>,
    /// Whether the Ingress terminates TLS (via cert-manager).
    pub tls: bool,
    /// Name of the cert-manager ClusterIssuer when `tls` is set.
    pub cluster_issuer: Option<String>,
    /// Custom domains the platform guarantees are this store's alone; the
    /// Ingress should serve them beside `host` (see [`Store::hosts`]).
    pub extra_hosts: Vec<String>,
    /// Whether the store is to be paused.
    pub suspended: bool,
}

impl<C: DeserializeOwned> Store<C> {
    /// Deserializes the context's configuration.
    ///
    /// Fails with `InvalidConfig` (not retryable) when it does not fit `C`.
    pub fn from_context(context: StoreContext) -> Result<Self> {
        let config =
            serde_json::from_str(&context.config).map_err(|e| Failure::invalid_config(&e))?;
        Ok(Store {
            id: context.id,
            name: context.name,
            namespace: context.namespace,
            tenant: context.tenant,
            config,
            generation: context.generation,
            host: context.host,
            ingress_class: context.ingress_class,
            storage_class: context.storage_class,
            tls: context.tls,
            cluster_issuer: context.cluster_issuer,
            extra_hosts: context.extra_hosts,
            suspended: context.suspended,
        })
    }
}

impl<C: Clone> Store<C> {
    /// The same store with `suspended` set: how an engine's `suspend` and
    /// `resume` can reuse its `provision`, whatever context they were
    /// called with.
    #[must_use]
    pub fn with_suspended(&self, suspended: bool) -> Self {
        Store {
            suspended,
            ..self.clone()
        }
    }
}

impl<C> Store<C> {
    /// `https` when the Ingress terminates TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The host the shop treats as its own address: the first custom domain
    /// when the store has one (a tenant who adds `shop.my-brand.com` wants
    /// that to be the shop's address), else the platform host. Every other
    /// host is still served.
    pub fn canonical_host(&self) -> &str {
        self.extra_hosts.first().unwrap_or(&self.host)
    }

    /// The store's URL for `path` on its [canonical host](Store::canonical_host).
    pub fn canonical_url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.canonical_host(), path)
    }

    /// Every host name the store is served at: `host`, then the extra ones.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.host.as_str()).chain(self.extra_hosts.iter().map(String::as_str))
    }

    /// The store's URL for `path` (which should start with `/`), e.g.
    /// `https://shop.example.com/admin`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.host, path)
    }
}

/// Operations an engine may implement beyond the required ones; list the
/// ones it does in [`Engine::operations`](crate::Engine::operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// [`Engine::backup`](crate::Engine::backup).
    Backup,
    /// [`Engine::restore`](crate::Engine::restore).
    Restore,
    /// [`Engine::suspend`](crate::Engine::suspend).
    Suspend,
    /// [`Engine::resume`](crate::Engine::resume).
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

/// A backup's files as one archive the platform stores (the WIT `archive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Backup id (UUID); name the Job after it.
    pub id: String,
    /// Secret in the store's namespace whose key `url` is where the Job
    /// `PUT`s (backup) or `GET`s (restore) the archive. Reference it with
    /// `secretKeyRef`; never copy the value.
    pub secret: String,
    /// The image the operator chose to move archives (`sh`, `tar`,
    /// `sha256sum`, `curl`).
    pub transfer_image: String,
}

/// Where a backup or restore Job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobPhase {
    /// Not finished; the platform calls again when the Job changes.
    Running,
    /// Finished with success.
    Succeeded,
    /// Finished without success.
    Failed,
}

/// What [`Engine::backup`](crate::Engine::backup) and
/// [`Engine::restore`](crate::Engine::restore) report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The phase.
    pub phase: JobPhase,
    /// Progress or failure detail.
    pub message: String,
    /// CamelCase reason when failed.
    pub reason: String,
    /// Archive size in bytes, once known.
    pub size_bytes: Option<u64>,
    /// Archive SHA-256 (lowercase hex), once known.
    pub sha256: Option<String>,
}

impl JobStatus {
    /// Still running.
    pub fn running(message: impl Into<String>) -> Self {
        JobStatus {
            phase: JobPhase::Running,
            message: message.into(),
            reason: String::new(),
            size_bytes: None,
            sha256: None,
        }
    }

    /// Finished with success.
    pub fn succeeded(message: impl Into<String>) -> Self {
        JobStatus {
            phase: JobPhase::Succeeded,
            ..JobStatus::running(message)
        }
    }

    /// Finished without success.
    pub fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        JobStatus {
            phase: JobPhase::Failed,
            reason: reason.into(),
            ..JobStatus::running(message)
        }
    }

    /// With the archive's size and SHA-256.
    pub fn archive(mut self, size_bytes: u64, sha256: impl Into<String>) -> Self {
        self.size_bytes = Some(size_bytes);
        self.sha256 = Some(sha256.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(config: &str) -> StoreContext {
        StoreContext {
            id: StoreId::new("id"),
            name: StoreName::new("shop"),
            namespace: Namespace::new("store-shop"),
            tenant: TenantName::new("tenants/t"),
            config: config.into(),
            generation: 3,
            host: "shop.example.com".into(),
            ingress_class: None,
            storage_class: None,
            tls: true,
            cluster_issuer: Some("letsencrypt".into()),
            extra_hosts: Vec::new(),
            suspended: false,
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Config {
        title: String,
    }

    #[test]
    fn store_deserializes_config_and_builds_urls() {
        let store: Store<Config> = Store::from_context(context(r#"{"title":"Shop"}"#)).unwrap();
        assert_eq!(store.config.title, "Shop");
        assert_eq!(store.url("/admin"), "https://shop.example.com/admin");
        assert_eq!(store.generation, 3);
    }

    #[test]
    fn config_that_does_not_fit_is_a_non_retryable_invalid_config() {
        let err = Store::<Config>::from_context(context("{}")).unwrap_err();
        assert_eq!(err.reason, "InvalidConfig");
        assert!(!err.retryable);
        assert!(err.message.contains("title"), "{}", err.message);
    }
}
