//! The trait a plugin implements.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{EngineInfo, FieldError, Host, Observation, Result, Store};

/// A store engine: how to provision, observe, upgrade and remove one kind of
/// e-commerce store in the store's namespace.
///
/// Export it from the component with [`register_plugin!`](crate::register_plugin).
/// The host may create a fresh instance for each call (`Default`), so keep no
/// state in `self` between calls: everything a call needs comes from the
/// [`Store`] and the cluster.
pub trait Engine: Default + 'static {
    /// The store configuration, deserialized from the JSON the tenant sent
    /// (already valid per [`Engine::config_schema`] and [`Engine::validate`]).
    type Config: DeserializeOwned;

    /// Who the engine is and which capabilities it needs. Called once at load.
    fn describe(&self) -> EngineInfo;

    /// JSON Schema (draft 2020-12) of [`Engine::Config`]. The platform
    /// validates configurations against it and builds the create dialog from
    /// it. Defaults to "any JSON object".
    fn config_schema(&self) -> Value {
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
        })
    }

    /// Checks a configuration beyond its schema (cross-field rules, ...).
    /// Only called with configurations that deserialize; one that does not is
    /// reported by the SDK. Defaults to no errors.
    fn validate(&self, config: &Self::Config) -> Vec<FieldError> {
        let _ = config;
        Vec::new()
    }

    /// Creates or converges the store's resources. Must be idempotent: it is
    /// called again after a crash, a retry or a configuration change.
    fn provision(&self, host: &dyn Host, store: &Store<Self::Config>) -> Result<()>;

    /// Reports the store's phase and URLs from its objects. Read-only.
    fn observe(&self, host: &dyn Host, store: &Store<Self::Config>) -> Result<Observation>;

    /// The Helm releases `provision` installs for `store`; the default
    /// `deprovision` uninstalls them. Defaults to none.
    fn releases(&self, store: &Store<Self::Config>) -> Vec<String> {
        let _ = store;
        Vec::new()
    }

    /// Removes what `provision` created; the platform then deletes the
    /// namespace. Defaults to uninstalling [`Engine::releases`] (a release
    /// that is already gone is fine).
    fn deprovision(&self, host: &dyn Host, store: &Store<Self::Config>) -> Result<()> {
        for release in self.releases(store) {
            if host.helm_uninstall(&release)? {
                host.info(format!("uninstalled release {release}"));
            }
        }
        Ok(())
    }

    /// Moves a store from engine version `from_version` to this one. Defaults
    /// to provisioning again, which is right when `provision` converges any
    /// earlier version's objects.
    fn upgrade(
        &self,
        host: &dyn Host,
        store: &Store<Self::Config>,
        from_version: &str,
    ) -> Result<()> {
        host.info(format!("upgrading from engine version {from_version}"));
        self.provision(host, store)
    }
}
