//! The component side: the wit-bindgen bindings, [`WitHost`] calling the
//! imports, and [`Exports`] implementing the exported `plugin` interface by
//! dispatching to an [`Engine`]. Compiled only for `wasm32`.

use std::marker::PhantomData;

use serde_json::Value;

#[cfg(not(feature = "wit-0-1"))]
use crate::{Archive, JobPhase, JobStatus};
use crate::{
    Capability, Engine, EngineId, EngineInfo, Failure, FieldError, Host, HostError, LogLevel,
    Namespace, Observation, Operation, Phase, Release, SecretRef, StoreContext, StoreId, StoreName,
    TenantName, dispatch,
};

/// Generated from `wit/0.2.0` (or `wit/0.1.0` with the feature `wit-0-1`;
/// both versions generate the same module paths, so the code below differs
/// only where 0.2 added something). Public only so that `register_plugin!`
/// can name it from the plugin crate, through `__private`.
#[allow(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
#[allow(missing_docs, clippy::all, reason = "generated code")]
pub mod bindings {
    #[cfg(not(feature = "wit-0-1"))]
    wit_bindgen::generate!({
        path: "wit/0.2.0",
        world: "engine",
        pub_export_macro: true,
        export_macro_name: "__storeplane_export_engine",
        default_bindings_module: "storeplane_plugin_sdk::__private::bindings",
    });
    #[cfg(feature = "wit-0-1")]
    wit_bindgen::generate!({
        path: "wit/0.1.0",
        world: "engine",
        pub_export_macro: true,
        export_macro_name: "__storeplane_export_engine",
        default_bindings_module: "storeplane_plugin_sdk::__private::bindings",
    });
}

use bindings::exports::storeplane::engine::plugin as wit_plugin;
use bindings::storeplane::engine::{helm, kube, log, secrets, types as wit};

/// The host as seen from inside the component: each method is one import.
pub(crate) struct WitHost;

impl Host for WitHost {
    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => log::Level::Trace,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Info => log::Level::Info,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    fn kube_apply(&self, object: &Value) -> Result<Value, HostError> {
        let stored = kube::apply(&object.to_string()).map_err(host_error)?;
        parse_object(&stored)
    }

    fn kube_get(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<Value>, HostError> {
        kube::get(api_version, kind, name)
            .map_err(host_error)?
            .map(|text| parse_object(&text))
            .transpose()
    }

    fn kube_list(
        &self,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, HostError> {
        kube::list(api_version, kind, label_selector)
            .map_err(host_error)?
            .iter()
            .map(|text| parse_object(text))
            .collect()
    }

    fn kube_delete(&self, api_version: &str, kind: &str, name: &str) -> Result<bool, HostError> {
        kube::delete(api_version, kind, name).map_err(host_error)
    }

    fn helm_install_or_upgrade(
        &self,
        release: &str,
        chart: &str,
        values: &Value,
    ) -> Result<Release, HostError> {
        helm::install_or_upgrade(release, chart, &values.to_string())
            .map(release_from_wit)
            .map_err(host_error)
    }

    fn helm_uninstall(&self, release: &str) -> Result<bool, HostError> {
        helm::uninstall(release).map_err(host_error)
    }

    fn helm_status(&self, release: &str) -> Result<Option<Release>, HostError> {
        helm::status(release)
            .map(|r| r.map(release_from_wit))
            .map_err(host_error)
    }

    fn ensure_secret(&self, name: &str, keys: &[&str]) -> Result<SecretRef, HostError> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        secrets::ensure_secret(name, &keys)
            .map(|s| SecretRef {
                name: s.name,
                keys: s.keys,
            })
            .map_err(host_error)
    }
}

/// The host sends JSON text; a host that sends something else is broken, and
/// the plugin sees that as a rejected request rather than a trap.
fn parse_object(text: &str) -> Result<Value, HostError> {
    serde_json::from_str(text)
        .map_err(|e| HostError::Invalid(format!("the host returned invalid JSON: {e}")))
}

fn host_error(error: wit::HostError) -> HostError {
    match error {
        wit::HostError::Denied(m) => HostError::Denied(m),
        wit::HostError::NotFound(m) => HostError::NotFound(m),
        wit::HostError::Conflict(m) => HostError::Conflict(m),
        wit::HostError::Invalid(m) => HostError::Invalid(m),
        wit::HostError::Unavailable(m) => HostError::Unavailable(m),
    }
}

fn release_from_wit(r: helm::Release) -> Release {
    Release {
        name: r.name,
        chart: r.chart,
        chart_version: r.chart_version,
        revision: r.revision,
        digest: r.digest,
    }
}

fn context_from_wit(c: wit::StoreContext) -> StoreContext {
    StoreContext {
        id: StoreId::new(c.id),
        name: StoreName::new(c.name),
        namespace: Namespace::new(c.namespace),
        tenant: TenantName::new(c.tenant),
        config: c.config,
        generation: c.generation,
        host: c.host,
        ingress_class: c.ingress_class,
        storage_class: c.storage_class,
        tls: c.tls,
        cluster_issuer: c.cluster_issuer,
        #[cfg(not(feature = "wit-0-1"))]
        extra_hosts: c.extra_hosts,
        #[cfg(not(feature = "wit-0-1"))]
        suspended: c.suspended,
        #[cfg(feature = "wit-0-1")]
        extra_hosts: Vec::new(),
        #[cfg(feature = "wit-0-1")]
        suspended: false,
    }
}

fn failure_to_wit(f: Failure) -> wit::Failure {
    wit::Failure {
        reason: f.reason,
        message: f.message,
        retryable: f.retryable,
    }
}

fn capability_to_wit(c: Capability) -> wit::Capability {
    match c {
        Capability::KubeRead => wit::Capability::KubeRead,
        Capability::KubeWrite => wit::Capability::KubeWrite,
        Capability::Helm => wit::Capability::Helm,
        Capability::Secrets => wit::Capability::Secrets,
    }
}

fn info_to_wit(
    info: EngineInfo,
    config_schema: String,
    operations: Vec<Operation>,
) -> wit::EngineInfo {
    #[cfg(feature = "wit-0-1")]
    let _ = operations;
    let EngineInfo {
        id,
        display_name,
        version,
        description,
        capabilities,
    } = info;
    wit::EngineInfo {
        id: EngineId::into_string(id),
        display_name,
        version,
        description,
        config_schema,
        capabilities: capabilities.into_iter().map(capability_to_wit).collect(),
        #[cfg(not(feature = "wit-0-1"))]
        operations: operations.into_iter().map(operation_to_wit).collect(),
    }
}

#[cfg(not(feature = "wit-0-1"))]
fn operation_to_wit(o: Operation) -> wit::Operation {
    match o {
        Operation::Backup => wit::Operation::Backup,
        Operation::Restore => wit::Operation::Restore,
        Operation::Suspend => wit::Operation::Suspend,
        Operation::Resume => wit::Operation::Resume,
    }
}

#[cfg(not(feature = "wit-0-1"))]
fn archive_from_wit(a: wit::Archive) -> Archive {
    Archive {
        id: a.id,
        secret: a.secret,
        transfer_image: a.transfer_image,
    }
}

#[cfg(not(feature = "wit-0-1"))]
fn job_status_to_wit(s: JobStatus) -> wit::JobStatus {
    wit::JobStatus {
        phase: match s.phase {
            JobPhase::Running => wit::JobPhase::Running,
            JobPhase::Succeeded => wit::JobPhase::Succeeded,
            JobPhase::Failed => wit::JobPhase::Failed,
        },
        message: s.message,
        reason: s.reason,
        size_bytes: s.size_bytes,
        sha256: s.sha256,
    }
}

fn observation_to_wit(o: Observation) -> wit::Observation {
    wit::Observation {
        phase: match o.phase {
            Phase::Provisioning => wit::Phase::Provisioning,
            Phase::Ready => wit::Phase::Ready,
            Phase::Failed => wit::Phase::Failed,
            #[cfg(not(feature = "wit-0-1"))]
            Phase::Suspended => wit::Phase::Suspended,
            // 0.1 has no such phase; a 0.1 host never suspends a store.
            #[cfg(feature = "wit-0-1")]
            Phase::Suspended => wit::Phase::Provisioning,
        },
        message: o.message,
        reason: o.reason,
        storefront_url: o.storefront_url,
        admin_url: o.admin_url,
        credentials_secret: o.credentials_secret,
    }
}

/// The exported `plugin` interface for engine `E`. `register_plugin!`
/// exports it; plugins do not name it.
pub struct Exports<E>(PhantomData<E>);

impl<E: Engine> wit_plugin::Guest for Exports<E> {
    fn describe() -> wit::EngineInfo {
        let engine = E::default();
        info_to_wit(
            engine.describe(),
            engine.config_schema().to_string(),
            engine.operations(),
        )
    }

    fn validate(config: String) -> Vec<wit::FieldError> {
        dispatch::validate(&E::default(), &config)
            .into_iter()
            .map(|FieldError { field, message }| wit::FieldError { field, message })
            .collect()
    }

    fn provision(store: wit::StoreContext) -> Result<(), wit::Failure> {
        dispatch::provision(&E::default(), &WitHost, context_from_wit(store))
            .map_err(failure_to_wit)
    }

    fn observe(store: wit::StoreContext) -> Result<wit::Observation, wit::Failure> {
        dispatch::observe(&E::default(), &WitHost, context_from_wit(store))
            .map(observation_to_wit)
            .map_err(failure_to_wit)
    }

    fn deprovision(store: wit::StoreContext) -> Result<(), wit::Failure> {
        dispatch::deprovision(&E::default(), &WitHost, context_from_wit(store))
            .map_err(failure_to_wit)
    }

    fn upgrade(store: wit::StoreContext, from_version: String) -> Result<(), wit::Failure> {
        dispatch::upgrade(
            &E::default(),
            &WitHost,
            context_from_wit(store),
            &from_version,
        )
        .map_err(failure_to_wit)
    }

    #[cfg(not(feature = "wit-0-1"))]
    fn backup(
        store: wit::StoreContext,
        archive: wit::Archive,
    ) -> Result<wit::JobStatus, wit::Failure> {
        dispatch::backup(
            &E::default(),
            &WitHost,
            context_from_wit(store),
            &archive_from_wit(archive),
        )
        .map(job_status_to_wit)
        .map_err(failure_to_wit)
    }

    #[cfg(not(feature = "wit-0-1"))]
    fn restore(
        store: wit::StoreContext,
        archive: wit::Archive,
    ) -> Result<wit::JobStatus, wit::Failure> {
        dispatch::restore(
            &E::default(),
            &WitHost,
            context_from_wit(store),
            &archive_from_wit(archive),
        )
        .map(job_status_to_wit)
        .map_err(failure_to_wit)
    }

    #[cfg(not(feature = "wit-0-1"))]
    fn suspend(store: wit::StoreContext) -> Result<(), wit::Failure> {
        dispatch::suspend(&E::default(), &WitHost, context_from_wit(store)).map_err(failure_to_wit)
    }

    #[cfg(not(feature = "wit-0-1"))]
    fn resume(store: wit::StoreContext) -> Result<(), wit::Failure> {
        dispatch::resume(&E::default(), &WitHost, context_from_wit(store)).map_err(failure_to_wit)
    }
}
