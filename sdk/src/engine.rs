//! The trait a plugin implements.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Archive, EngineInfo, Failure, FieldError, Host, JobStatus, Observation, Operation, Result,
    Store,
};

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

    /// The optional operations this engine implements (WIT 0.2): list each
    /// one whose method below it overrides. The platform refuses the others
    /// for the engine's stores (`FAILED_PRECONDITION` naming the engine)
    /// without calling it. Defaults to none, which is what a 0.1-style
    /// engine written before these existed means.
    fn operations(&self) -> Vec<Operation> {
        Vec::new()
    }

    /// Pauses the store: scale every workload to zero, keep the data, and
    /// have the store's hosts answer with a "store paused" page. Idempotent;
    /// [`Engine::observe`] should then report [`Phase::Suspended`](crate::Phase::Suspended)
    /// once nothing runs. Defaults to "not supported".
    fn suspend(&self, host: &dyn Host, store: &Store<Self::Config>) -> Result<()> {
        let _ = (host, store);
        Err(Failure::unsupported(Operation::Suspend))
    }

    /// Brings a suspended store back (observe reports ready once it takes
    /// orders). Idempotent. Defaults to "not supported".
    fn resume(&self, host: &dyn Host, store: &Store<Self::Config>) -> Result<()> {
        let _ = (host, store);
        Err(Failure::unsupported(Operation::Resume))
    }

    /// Starts a Job that writes the store's data into `archive`, or reports
    /// on the one started earlier (called again whenever it changes, until
    /// it succeeds or fails). Defaults to "not supported".
    fn backup(
        &self,
        host: &dyn Host,
        store: &Store<Self::Config>,
        archive: &Archive,
    ) -> Result<JobStatus> {
        let _ = (host, store, archive);
        Err(Failure::unsupported(Operation::Backup))
    }

    /// Starts a Job that replaces the store's data with `archive`'s (taken
    /// by this engine, possibly from another store), or reports on it.
    /// Defaults to "not supported".
    fn restore(
        &self,
        host: &dyn Host,
        store: &Store<Self::Config>,
        archive: &Archive,
    ) -> Result<JobStatus> {
        let _ = (host, store, archive);
        Err(Failure::unsupported(Operation::Restore))
    }
}
