//! The sandbox that runs storeplane's store-engine plugins.
//!
//! A plugin is a WebAssembly component built against the WIT package
//! `storeplane:engine` (see `sdk/wit/`) and shipped as a bundle directory
//! (`plugin.toml`, the component, its config schema and charts). The host:
//!
//! - checks each bundle at load: manifest, component validity, the WIT
//!   version it exports (this host: `0.2.x` and `0.1.x`, side by side:
//!   one set of bindings each, the shared imports written once in
//!   `imports.rs`), that it links, and that its
//!   `describe()` agrees with its manifest — rejecting it with a message
//!   that says what is wrong;
//! - compiles each component once (optionally cached on disk, keyed by the
//!   component's hash and wasmtime's compatibility hash) and pre-links it;
//! - runs every call in a fresh `Store` from a pooling allocator, with a
//!   WASI context that grants nothing (no files, network, env or args;
//!   stderr captured into the store's log), an epoch deadline (wall clock)
//!   and a memory limit that traps when exceeded;
//! - checks every host call against the plugin's effective capabilities
//!   (asked in the manifest ∩ granted by the operator), against the object
//!   policy ([`policy`]: names, platform objects, kinds, hosts, Pod Security
//!   `restricted`) and scopes it to the store's namespace, refusing
//!   cluster-scoped kinds; every refusal reaches
//!   [`HostBackend::refused`] (the store's timeline);
//! - lets a computing guest yield to the async runtime at every epoch tick,
//!   so a looping plugin cannot hold a runtime worker, while still stopping
//!   it at its wall-clock deadline;
//! - bounds what a plugin hands back (reasons, messages, URLs, log lines;
//!   see `limits.rs`) before anyone stores it;
//! - keeps "the plugin returned a failure" apart from "the plugin trapped,
//!   timed out or ran out of memory" ([`CallError`]).

#![deny(unsafe_code)]

mod backend;
mod error;
mod exports;
mod guest;
mod host;
mod imports;
mod limits;
mod links;
mod manifest;
pub mod policy;
mod state;
mod v0_1;
mod v0_2;

pub use backend::{HostBackend, HostError, KindScope, Level, Release, SecretRef, StoreContext};
pub use error::{CallError, LoadError};
pub use guest::{Archive, JobPhase, Operation};
pub use host::{
    EngineDescription, FieldProblem, HostConfig, JobReport, Observed, ObservedPhase, PluginHost,
};
pub use manifest::{Capability, Grants, Manifest};
