//! Unit-testing plugins natively: [`FakeHost`], a [`Harness`] that calls the
//! engine the way the component exports do, [`store_context`] and
//! [`check_bundle_sources`].
//!
//! Enabled by the `testing` feature; add the SDK to `[dev-dependencies]`
//! with `features = ["testing"]`.

mod bundle_check;
mod calls;
mod fake_host;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use bundle_check::{BLESS_ENV, BUILDABLE_WIT_VERSIONS, check_bundle_sources};
pub use calls::{Call, Matcher, Op, Reply};
pub use fake_host::{CLUSTER_SCOPED_KINDS, DEFAULT_NAMESPACE, FakeHost, LogLine};

use crate::{
    Archive, Engine, EngineInfo, FieldError, JobStatus, Namespace, Observation, Result,
    StoreContext, StoreId, StoreName, TenantName, dispatch,
};

/// A store context for tests: store `test-shop` in [`DEFAULT_NAMESPACE`],
/// served at `test-shop.example.test` without TLS, generation 1, with
/// `config` as its configuration. Change the public fields for other cases.
pub fn store_context(config: Value) -> StoreContext {
    StoreContext {
        id: StoreId::new("00000000-0000-4000-8000-000000000001"),
        name: StoreName::new("test-shop"),
        namespace: Namespace::new(DEFAULT_NAMESPACE),
        tenant: TenantName::new("tenants/test"),
        config: config.to_string(),
        generation: 1,
        host: "test-shop.example.test".into(),
        ingress_class: None,
        storage_class: None,
        tls: false,
        cluster_issuer: None,
        extra_hosts: Vec::new(),
        suspended: false,
    }
}

/// Calls an engine the way the component's exports do: configurations go in
/// as JSON text and are deserialized by the SDK, so a test through the
/// harness covers the same path as the real host (everything but the
/// canonical ABI).
#[derive(Debug, Default)]
pub struct Harness<E> {
    engine: E,
}

impl<E: Engine> Harness<E> {
    /// A harness around `E::default()`.
    pub fn new() -> Self {
        Harness {
            engine: E::default(),
        }
    }

    /// The engine under test.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// `describe`: the engine info and its config schema.
    pub fn describe(&self) -> (EngineInfo, Value) {
        (self.engine.describe(), self.engine.config_schema())
    }

    /// `validate` of a configuration.
    pub fn validate(&self, config: &Value) -> Vec<FieldError> {
        dispatch::validate(&self.engine, &config.to_string())
    }

    /// `provision`.
    pub fn provision(&self, host: &FakeHost, store: &StoreContext) -> Result<()> {
        dispatch::provision(&self.engine, host, scoped(host, store))
    }

    /// `observe`.
    pub fn observe(&self, host: &FakeHost, store: &StoreContext) -> Result<Observation> {
        dispatch::observe(&self.engine, host, scoped(host, store))
    }

    /// `deprovision`.
    pub fn deprovision(&self, host: &FakeHost, store: &StoreContext) -> Result<()> {
        dispatch::deprovision(&self.engine, host, scoped(host, store))
    }

    /// `upgrade` from `from_version`.
    pub fn upgrade(&self, host: &FakeHost, store: &StoreContext, from_version: &str) -> Result<()> {
        dispatch::upgrade(&self.engine, host, scoped(host, store), from_version)
    }

    /// `suspend`.
    pub fn suspend(&self, host: &FakeHost, store: &StoreContext) -> Result<()> {
        dispatch::suspend(&self.engine, host, scoped(host, store))
    }

    /// `resume`.
    pub fn resume(&self, host: &FakeHost, store: &StoreContext) -> Result<()> {
        dispatch::resume(&self.engine, host, scoped(host, store))
    }

    /// `backup` into `archive`.
    pub fn backup(
        &self,
        host: &FakeHost,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobStatus> {
        dispatch::backup(&self.engine, host, scoped(host, store), archive)
    }

    /// `restore` from `archive`.
    pub fn restore(
        &self,
        host: &FakeHost,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobStatus> {
        dispatch::restore(&self.engine, host, scoped(host, store), archive)
    }
}

/// The real host scopes calls to the store's namespace; a fake scoped to
/// another one would make namespace checks meaningless, so that is a test bug.
#[track_caller]
fn scoped(host: &FakeHost, store: &StoreContext) -> StoreContext {
    assert_eq!(
        host.namespace(),
        store.namespace.as_str(),
        "FakeHost and the store context must use the same namespace"
    );
    store.clone()
}
