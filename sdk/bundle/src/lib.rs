//! The storeplane plugin bundle: what the host loads from `--plugins-dir`.
//!
//! A bundle is a directory named after the plugin id:
//!
//! ```text
//! <id>/
//!   plugin.toml          the manifest (`Manifest`)
//!   plugin.wasm          the component (`component` in the manifest)
//!   config.schema.json   the store configuration's JSON Schema (`config-schema`)
//!   charts/<chart>/      Helm chart directories (`charts`)
//! ```
//!
//! This crate reads and writes the manifest and copies a plugin's files into
//! that layout. It depends on `std` and `thiserror` only, so build helpers can
//! use it without compiling anything heavy.

mod assemble;
mod error;
mod manifest;
mod toml;

pub use assemble::{assemble, is_component};
pub use error::{Error, Result};
pub use manifest::{CAPABILITIES, MANIFEST_FILE, Manifest};
