//! The host side of the imports every `storeplane:engine` version shares
//! (`log`, `kube`, `helm`, `secrets`: unchanged since 0.1.0). Each version's
//! bindings are distinct Rust types, so [`shared_imports!`] expands the one
//! implementation inside each version's module.
//!
//! Every import first checks the sandbox rules — the capability is granted,
//! the object policy ([`crate::policy`]) allows it, the kind is namespaced —
//! and only then asks the [`HostBackend`](crate::HostBackend). Every
//! refusal is reported to the backend ([`crate::HostBackend::refused`]).

use crate::backend::{HostError, KindScope};

/// Checks that `api_version`/`kind` is namespaced, so a call cannot reach
/// cluster-scoped objects.
pub(crate) async fn namespaced(
    backend: std::sync::Arc<dyn crate::HostBackend>,
    api_version: &str,
    kind: &str,
) -> Result<(), HostError> {
    match backend.kind_scope(api_version, kind).await? {
        KindScope::Namespaced => Ok(()),
        KindScope::Cluster => Err(HostError::Denied(format!(
            "{kind} ({api_version}) is cluster-scoped; plugins may only touch objects in the store's namespace"
        ))),
    }
}

/// Implements the shared imports for the bindings in scope (`storeplane::
/// engine::*`, `WitHostError` and `CallState` named by the calling module).
macro_rules! shared_imports {
    () => {
        impl From<crate::HostError> for WitHostError {
            fn from(e: crate::HostError) -> Self {
                match e {
                    crate::HostError::Denied(m) => WitHostError::Denied(m),
                    crate::HostError::NotFound(m) => WitHostError::NotFound(m),
                    crate::HostError::Conflict(m) => WitHostError::Conflict(m),
                    crate::HostError::Invalid(m) => WitHostError::Invalid(m),
                    crate::HostError::Unavailable(m) => WitHostError::Unavailable(m),
                }
            }
        }

        impl storeplane::engine::types::Host for CallState {}

        impl storeplane::engine::log::Host for CallState {
            async fn log(&mut self, level: storeplane::engine::log::Level, message: String) {
                use storeplane::engine::log::Level as L;
                let level = match level {
                    L::Trace => crate::Level::Trace,
                    L::Debug => crate::Level::Debug,
                    L::Info => crate::Level::Info,
                    L::Warn => crate::Level::Warn,
                    L::Error => crate::Level::Error,
                };
                self.emit_log(level, &message);
            }
        }

        impl storeplane::engine::kube::Host for CallState {
            async fn apply(&mut self, object: String) -> Result<String, WitHostError> {
                const OP: &str = "kube.apply";
                let store = self.require(crate::Capability::KubeWrite, OP)?;
                let mut object: serde_json::Value = serde_json::from_str(&object)
                    .map_err(|e| crate::HostError::Invalid(format!("object is not JSON: {e}")))?;
                self.enforce(OP, crate::policy::check_apply(&store, &object))?;
                let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
                let kind = object["kind"].as_str().unwrap_or_default().to_owned();
                let scope = crate::imports::namespaced(self.backend(), &api_version, &kind).await;
                self.report(OP, scope)?;
                // The policy has checked that a namespace, if set, is the store's.
                object["metadata"]["namespace"] = serde_json::Value::String(store.namespace.clone());
                let applied = self.backend().apply(&store, object).await;
                Ok(self.report(OP, applied)?.to_string())
            }

            async fn get(
                &mut self,
                api_version: String,
                kind: String,
                name: String,
            ) -> Result<Option<String>, WitHostError> {
                const OP: &str = "kube.get";
                let store = self.require(crate::Capability::KubeRead, OP)?;
                self.enforce(OP, crate::policy::check_get(&api_version, &kind, &name))?;
                let scope = crate::imports::namespaced(self.backend(), &api_version, &kind).await;
                self.report(OP, scope)?;
                let found = self.backend().get(&store, &api_version, &kind, &name).await;
                Ok(self.report(OP, found)?.map(|o| o.to_string()))
            }

            async fn list(
                &mut self,
                api_version: String,
                kind: String,
                label_selector: Option<String>,
            ) -> Result<Vec<String>, WitHostError> {
                const OP: &str = "kube.list";
                let store = self.require(crate::Capability::KubeRead, OP)?;
                self.enforce(OP, crate::policy::check_list(&api_version, &kind))?;
                let scope = crate::imports::namespaced(self.backend(), &api_version, &kind).await;
                self.report(OP, scope)?;
                let found = self
                    .backend()
                    .list(&store, &api_version, &kind, label_selector.as_deref())
                    .await;
                Ok(self
                    .report(OP, found)?
                    .into_iter()
                    .map(|o| o.to_string())
                    .collect())
            }

            async fn delete(
                &mut self,
                api_version: String,
                kind: String,
                name: String,
            ) -> Result<bool, WitHostError> {
                const OP: &str = "kube.delete";
                let store = self.require(crate::Capability::KubeWrite, OP)?;
                self.enforce(OP, crate::policy::check_delete(&api_version, &kind, &name))?;
                let scope = crate::imports::namespaced(self.backend(), &api_version, &kind).await;
                self.report(OP, scope)?;
                let deleted = self
                    .backend()
                    .delete(&store, &api_version, &kind, &name)
                    .await;
                Ok(self.report(OP, deleted)?)
            }
        }

        fn release(r: crate::Release) -> storeplane::engine::helm::Release {
            storeplane::engine::helm::Release {
                name: r.name,
                chart: r.chart,
                chart_version: r.chart_version,
                revision: r.revision,
                digest: r.digest,
            }
        }

        impl storeplane::engine::helm::Host for CallState {
            async fn install_or_upgrade(
                &mut self,
                name: String,
                chart: String,
                values: String,
            ) -> Result<storeplane::engine::helm::Release, WitHostError> {
                const OP: &str = "helm.install-or-upgrade";
                let store = self.require(crate::Capability::Helm, OP)?;
                self.enforce(OP, crate::policy::check_release_name(&name))?;
                let chart_dir = self.chart_dir(&chart)?;
                // Checked at load for the whole bundle; again here, so a link that
                // appeared since is refused before the chart is read.
                match crate::links::first_symlink(&chart_dir) {
                    Ok(None) => {}
                    Ok(Some(link)) => {
                        let err = crate::HostError::Denied(format!(
                            "chart {chart} contains a symbolic link ({}); bundles may not contain links",
                            link.strip_prefix(&chart_dir).unwrap_or(&link).display()
                        ));
                        return Err(self.refuse(OP, err).into());
                    }
                    Err(e) => {
                        return Err(
                            crate::HostError::Unavailable(format!("cannot read chart {chart}: {e}")).into(),
                        );
                    }
                }
                let values: serde_json::Value = serde_json::from_str(&values)
                    .map_err(|e| crate::HostError::Invalid(format!("values are not JSON: {e}")))?;
                if !values.is_object() {
                    return Err(crate::HostError::Invalid("values must be a JSON object".into()).into());
                }
                // The backend checks every rendered object with
                // `policy::check_apply` (and every prune with `check_delete`); a
                // refusal comes back as `Denied` and is reported here.
                let installed = self
                    .backend()
                    .install_or_upgrade(&store, &name, &chart_dir, values)
                    .await;
                Ok(release(self.report(OP, installed)?))
            }

            async fn uninstall(&mut self, name: String) -> Result<bool, WitHostError> {
                const OP: &str = "helm.uninstall";
                let store = self.require(crate::Capability::Helm, OP)?;
                self.enforce(OP, crate::policy::check_release_name(&name))?;
                let removed = self.backend().uninstall(&store, &name).await;
                Ok(self.report(OP, removed)?)
            }

            async fn status(
                &mut self,
                name: String,
            ) -> Result<Option<storeplane::engine::helm::Release>, WitHostError> {
                const OP: &str = "helm.status";
                let store = self.require(crate::Capability::Helm, OP)?;
                self.enforce(OP, crate::policy::check_release_name(&name))?;
                let status = self.backend().release_status(&store, &name).await;
                Ok(self.report(OP, status)?.map(release))
            }
        }

        impl storeplane::engine::secrets::Host for CallState {
            async fn ensure_secret(
                &mut self,
                name: String,
                keys: Vec<String>,
            ) -> Result<storeplane::engine::secrets::SecretRef, WitHostError> {
                const OP: &str = "secrets.ensure-secret";
                let store = self.require(crate::Capability::Secrets, OP)?;
                self.enforce(OP, crate::policy::check_secret(&name, &keys))?;
                let secret = self.backend().ensure_secret(&store, &name, &keys).await;
                let secret = self.report(OP, secret)?;
                Ok(storeplane::engine::secrets::SecretRef {
                    name: secret.name,
                    keys: secret.keys,
                })
            }
        }
    };
}
pub(crate) use shared_imports;
