//! The reconciler's port to the engines: what it asks of a store's engine,
//! whoever runs it. The plugin host runs WebAssembly plugins behind it; the
//! reconciler's tests script a fake.

use async_trait::async_trait;
use storeplane_plugin_host::{
    Archive, CallError, JobReport, Observed, Operation, PluginHost, StoreContext,
};

/// Runs engines for the reconciler.
#[async_trait]
pub trait EngineRuntime: Send + Sync + 'static {
    /// The version of `engine` installed now; `None` when nothing provides it.
    fn version(&self, engine: &str) -> Option<String>;

    /// Creates or converges the store's resources (idempotent).
    async fn provision(&self, engine: &str, store: &StoreContext) -> Result<(), CallError>;

    /// Moves the store's resources from engine version `from` to the
    /// installed one.
    async fn upgrade(
        &self,
        engine: &str,
        store: &StoreContext,
        from: &str,
    ) -> Result<(), CallError>;

    /// Reports the store's phase and addresses.
    async fn observe(&self, engine: &str, store: &StoreContext) -> Result<Observed, CallError>;

    /// Removes what provisioning created.
    async fn deprovision(&self, engine: &str, store: &StoreContext) -> Result<(), CallError>;

    /// Pauses the store (the engine must list `suspend`).
    async fn suspend(&self, engine: &str, store: &StoreContext) -> Result<(), CallError>;

    /// Brings a paused store back (the engine must list `resume`).
    async fn resume(&self, engine: &str, store: &StoreContext) -> Result<(), CallError>;

    /// The optional operations the installed `engine` implements.
    fn operations(&self, engine: &str) -> Vec<Operation>;

    /// Starts or reports on the backup of the store into `archive`.
    async fn backup(
        &self,
        engine: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError>;

    /// Starts or reports on restoring `archive` into the store.
    async fn restore(
        &self,
        engine: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError>;
}

#[async_trait]
impl EngineRuntime for PluginHost {
    fn version(&self, engine: &str) -> Option<String> {
        self.engine(engine).map(|e| e.version.clone())
    }

    async fn provision(&self, engine: &str, store: &StoreContext) -> Result<(), CallError> {
        PluginHost::provision(self, engine, store).await
    }

    async fn upgrade(
        &self,
        engine: &str,
        store: &StoreContext,
        from: &str,
    ) -> Result<(), CallError> {
        PluginHost::upgrade(self, engine, store, from).await
    }

    async fn observe(&self, engine: &str, store: &StoreContext) -> Result<Observed, CallError> {
        PluginHost::observe(self, engine, store).await
    }

    async fn deprovision(&self, engine: &str, store: &StoreContext) -> Result<(), CallError> {
        PluginHost::deprovision(self, engine, store).await
    }

    async fn suspend(&self, engine: &str, store: &StoreContext) -> Result<(), CallError> {
        PluginHost::suspend(self, engine, store).await
    }

    async fn resume(&self, engine: &str, store: &StoreContext) -> Result<(), CallError> {
        PluginHost::resume(self, engine, store).await
    }

    fn operations(&self, engine: &str) -> Vec<Operation> {
        self.engine(engine)
            .map(|e| e.operations.clone())
            .unwrap_or_default()
    }

    async fn backup(
        &self,
        engine: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError> {
        PluginHost::backup(self, engine, store, archive).await
    }

    async fn restore(
        &self,
        engine: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError> {
        PluginHost::restore(self, engine, store, archive).await
    }
}
