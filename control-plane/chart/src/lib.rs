//! Renders Helm charts to Kubernetes manifests, the way Argo CD uses Helm:
//! the chart is rendered here and the caller applies the manifests.
//!
//! ```no_run
//! use storeplane_chart::{Chart, RenderOptions, Values};
//!
//! # fn main() -> storeplane_chart::Result<()> {
//! let chart = Chart::load("charts/shop")?;
//! // `-f values-prod.yaml --set replicas=3`:
//! let mut values = Values::from_yaml(&std::fs::read_to_string("values-prod.yaml").unwrap())?;
//! Values::apply_set(&mut values, "replicas=3")?;
//! let rendered = chart.render(&RenderOptions {
//!     release_name: "shop-1".into(),
//!     namespace: "store-1".into(),
//!     values,
//!     ..RenderOptions::default()
//! })?;
//! for manifest in &rendered.manifests {
//!     println!("{} {}", manifest.kind(), manifest.name());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The output matches `helm template` (Helm v4) byte for byte for the charts
//! under `testdata/`, which the oracle test checks against Helm's own Go
//! engine. What Helm does that this crate does not, and where it
//! deliberately differs, is listed in the crate's README.

mod chart;
mod engine;
mod error;
mod glob;
mod gofmt;
mod helm_binary;
mod manifest;
mod render;
mod semver;
mod values;
mod yaml;

pub use chart::{Chart, ChartFile, Metadata};
pub use error::{Error, Result};
pub use helm_binary::HelmBinary;
pub use manifest::{INSTALL_ORDER, Manifest};
pub use render::{DEFAULT_KUBE_VERSION, RenderOptions, Rendered};
pub use values::Values;

/// Go-compatible YAML for callers that need to read or write documents the
/// way Kubernetes tooling does.
pub mod goyaml {
    use serde_json::Value;

    use crate::error::{Error, Result};
    use crate::yaml::{self, Numbers};

    /// Parses one YAML document as Kubernetes reads a manifest: YAML 1.1
    /// scalars (`yes` is `true`, `0644` is 420), integers kept integers.
    pub fn parse_manifest(text: &str) -> Result<Value> {
        yaml::from_yaml(text, Numbers::Typed).map_err(|e| Error::Yaml {
            file: "document".to_owned(),
            line: e.line,
            message: e.message,
        })
    }

    /// Writes `value` as Helm's `toYaml` would (sorted keys, go-yaml style),
    /// with the trailing newline.
    pub fn to_yaml(value: &Value) -> String {
        yaml::to_yaml(value)
    }
}
