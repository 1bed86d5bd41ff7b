//! A kubeconfig pointing at the simulated cluster: plain HTTP, no
//! credentials, one context.

use std::path::Path;

use crate::error::{Error, Result};

/// The name of the cluster, user and context in the written kubeconfig.
pub const CONTEXT_NAME: &str = "storeplane-sim";

/// The kubeconfig text for a cluster served at `server_url`
/// (e.g. `http://127.0.0.1:6443`), with `default` as its namespace.
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {CONTEXT_NAME}\n  \
           cluster:\n    \
             server: {server_url}\n\
         users:\n\
         - name: {CONTEXT_NAME}\n  \
           user: {{}}\n\
         contexts:\n\
         - name: {CONTEXT_NAME}\n  \
           context:\n    \
             cluster: {CONTEXT_NAME}\n    \
             user: {CONTEXT_NAME}\n    \
             namespace: default\n\
         current-context: {CONTEXT_NAME}\n\
         preferences: {{}}\n"
    )
}

/// Writes [`kubeconfig_yaml`] to `path`, atomically (a temporary file renamed
/// into place) so a reader never sees half a file.
pub async fn write_kubeconfig(path: &Path, server_url: &str) -> Result<()> {
    let error = |source| Error::WriteKubeconfig {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(error)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    tokio::fs::write(&temporary, kubeconfig_yaml(server_url))
        .await
        .map_err(error)?;
    tokio::fs::rename(&temporary, path).await.map_err(error)
}
