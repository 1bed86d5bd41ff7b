//! The storeplane plugin SDK: write a store engine as a WebAssembly component.
//!
//! A plugin is a type implementing [`Engine`], exported with
//! [`register_plugin!`]. Its methods receive a [`&dyn Host`](Host) — the
//! platform's kube, Helm, secret and log calls, scoped to the store's
//! namespace — and a typed [`Store`]. Built for `wasm32-wasip2` the host is
//! the real one; in native unit tests it is `testing::FakeHost` (feature
//! `testing`), so the same code is tested without a cluster.
//!
//! ```
//! use serde::Deserialize;
//! use storeplane_plugin_sdk::{Capability, Engine, EngineId, EngineInfo, Host, Observation, Result, Store};
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! #[derive(Deserialize)]
//! struct Config {
//!     title: String,
//! }
//!
//! impl Engine for Hello {
//!     type Config = Config;
//!
//!     fn describe(&self) -> EngineInfo {
//!         EngineInfo {
//!             id: EngineId::new("hello"),
//!             display_name: "Hello".into(),
//!             version: "0.1.0".into(),
//!             description: "A ConfigMap that says hello.".into(),
//!             capabilities: vec![Capability::KubeWrite],
//!         }
//!     }
//!
//!     fn provision(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
//!         let page = storeplane_plugin_sdk::objects::config_map("hello", [("title", store.config.title.as_str())]);
//!         host.kube_apply(&page)?;
//!         Ok(())
//!     }
//!
//!     fn observe(&self, _host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
//!         Ok(Observation::ready("says hello").storefront_url(store.url("/")))
//!     }
//! }
//!
//! storeplane_plugin_sdk::register_plugin!(Hello);
//! # fn main() {}
//! ```
//!
//! See the crate's README for the tutorial, the bundle format and the
//! host/SDK compatibility table.

pub mod archive;
#[cfg(any(target_arch = "wasm32", test, feature = "testing"))]
mod dispatch;
mod engine;
mod error;
mod host;
mod ids;
pub mod objects;
pub mod readiness;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;
pub mod validate;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use engine::Engine;
pub use error::{Failure, HostError, Result};
pub use host::Host;
pub use ids::{EngineId, Namespace, StoreId, StoreName, TenantName};
pub use types::{
    Archive, Capability, EngineInfo, FieldError, JobPhase, JobStatus, LogLevel, Observation,
    Operation, Phase, Release, SecretRef, Store, StoreContext,
};

/// The version of the `storeplane:engine` WIT package this build of the SDK
/// makes components against (the `wit` field of `plugin.toml`): `0.2.0`, or
/// `0.1.0` with the feature `wit-0-1` (for plugins that must keep loading
/// on hosts older than 0.2; the optional operations then do not exist for
/// the host).
#[cfg(not(feature = "wit-0-1"))]
pub const WIT_VERSION: &str = "0.2.0";
/// See above: the `wit-0-1` build.
#[cfg(feature = "wit-0-1")]
pub const WIT_VERSION: &str = "0.1.0";

/// What [`register_plugin!`] expands to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::bindings::__storeplane_export_engine as export;
    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::{Exports, bindings};
}

/// Exports the WIT `plugin` interface from a type implementing [`Engine`]
/// (and `Default`). Invoke it once, at the root of the plugin crate.
///
/// In native builds (unit tests) it only checks that the type is an
/// `Engine`; the exports exist only in the `wasm32` component.
#[macro_export]
macro_rules! register_plugin {
    ($engine:ty) => {
        const _: () = {
            fn assert_engine<E: $crate::Engine>() {}
            let _ = assert_engine::<$engine>;
        };
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // wit-bindgen's export macro takes an identifier, not a path.
            type __StoreplaneExports = $crate::__private::Exports<$engine>;
            $crate::__private::export!(
                __StoreplaneExports with_types_in $crate::__private::bindings
            );
        };
    };
}
