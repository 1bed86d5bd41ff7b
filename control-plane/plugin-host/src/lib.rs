//! The sandbox that runs storeplane's store-engine plugins.
//!
//! A plugin is a WebAssembly component built against the WIT package
//! `storeplane:engine` (see `sdk/wit/`) and shipped as a bundle directory
//! (`plugin.toml`, the component, its config schema and charts). The host:
//!
//! - checks each bundle at load: manifest, component validity, the WIT
//!   version it exports (this host: `0.1.x`), that it links, and that its
//!   `describe()` agrees with its manifest — rejecting it with a message
//!   that says what is wrong;
//! - compiles each component once (optionally cached on disk, keyed by the
//!   component's hash and wasmtime's compatibility hash) and pre-links it;
//! - runs every call in a fresh `Store` from a pooling allocator, with a
//!   WASI context that grants nothing (no files, network, env or args;
//!   stderr captured into the store's log), an epoch deadline (wall clock)
//!   and a memory limit that traps when exceeded;
//! - checks every host call against the plugin's effective capabilities
//!   (asked in the manifest ∩ granted by the operator) and scopes it to the
//!   store's namespace, refusing cluster-scoped kinds;
//! - keeps "the plugin returned a failure" apart from "the plugin trapped,
//!   timed out or ran out of memory" ([`CallError`]).

#![deny(unsafe_code)]

mod backend;
mod error;
mod host;
mod manifest;
mod state;
mod v0_1;

pub use backend::{HostBackend, HostError, KindScope, Level, Release, SecretRef, StoreContext};
pub use error::{CallError, LoadError};
pub use host::{EngineDescription, FieldProblem, HostConfig, Observed, ObservedPhase, PluginHost};
pub use manifest::{Capability, Grants, Manifest};
