//! The cluster adapter: every cluster — a real one from a kubeconfig or
//! in-cluster config, or the simulated one — is reached through
//! `kube::Client` only. Nothing above this module knows which one it has,
//! except to report it ([`ClusterInfo`]).

mod backend;
mod error;
mod ops;
pub mod ownership;
mod secrets;

use std::path::Path;

use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};

pub use backend::{LABEL_RELEASE, PlatformBackend};
pub use error::{Error, ErrorKind};
pub use ops::{FIELD_MANAGER, KubeOps, PLATFORM_FIELD_MANAGER};
pub use ownership::{
    LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_STORE, LABEL_TENANT, MANAGED_BY, Owner, Ownership,
};

/// Which cluster the control plane talks to, for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `simulated` or `kubernetes`.
    pub kind: &'static str,
    /// The API server URL.
    pub server: String,
}

/// Why the cluster could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig could not be read or used.
    #[error("cannot load kubeconfig: {0}")]
    Kubeconfig(String),
    /// The client could not be built.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// Connects with a kubeconfig file (or `KUBECONFIG` / `~/.kube/config` /
/// in-cluster config when `path` is `None`), optionally choosing a context.
pub async fn connect(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), ConnectError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match path {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|e| ConnectError::Kubeconfig(e.to_string()))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| ConnectError::Kubeconfig(e.to_string()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ConnectError::Kubeconfig(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| ConnectError::Kubeconfig(e.to_string()))?,
    };
    let server = config.cluster_url.to_string();
    let mut config = config;
    // Operators find storeplane's requests in the API server's audit log
    // by this (kube-rs sends no User-Agent of its own).
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("storeplane/", env!("CARGO_PKG_VERSION"))),
    ));
    let client = Client::try_from(config).map_err(ConnectError::Client)?;
    Ok((client, server))
}

/// Whether a kubeconfig can be found without flags.
pub fn kubeconfig_available() -> bool {
    std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(".kube/config").is_file())
            .unwrap_or(false)
}
