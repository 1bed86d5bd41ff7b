//! `plugin.toml`, the bundle manifest, and the operator's grants.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::error::LoadError;

/// A capability a plugin may ask for and an operator may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `kube.get`, `kube.list`.
    KubeRead,
    /// `kube.apply`, `kube.delete`.
    KubeWrite,
    /// `helm.*`.
    Helm,
    /// `secrets.ensure-secret`.
    Secrets,
}

impl Capability {
    /// The name used in manifests and grants.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::KubeRead => "kube-read",
            Capability::KubeWrite => "kube-write",
            Capability::Helm => "helm",
            Capability::Secrets => "secrets",
        }
    }
}

/// The parsed `plugin.toml` of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// Engine id.
    pub id: String,
    /// Engine version (semver).
    pub version: String,
    /// `storeplane:engine` version the component was built against.
    pub wit: String,
    /// Component file, relative to the bundle.
    pub component: PathBuf,
    /// Capabilities the plugin asks for.
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    /// JSON Schema of the configuration, relative to the bundle.
    pub config_schema: PathBuf,
    /// Chart directories shipped in the bundle.
    #[serde(default)]
    pub charts: Vec<PathBuf>,
}

impl Manifest {
    /// Reads and checks `<bundle>/plugin.toml`.
    pub fn load(bundle: &Path) -> Result<Self, LoadError> {
        let path = bundle.join("plugin.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::ReadFile {
            bundle: bundle.to_path_buf(),
            path: path.clone(),
            source,
        })?;
        let invalid = |reason: String| LoadError::Manifest {
            bundle: bundle.to_path_buf(),
            reason,
        };
        let manifest: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if manifest.id.is_empty()
            || !manifest
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(format!(
                "id {:?} must be lowercase letters, digits and '-'",
                manifest.id
            )));
        }
        semver::Version::parse(&manifest.version)
            .map_err(|e| invalid(format!("version {:?}: {e}", manifest.version)))?;
        semver::Version::parse(&manifest.wit)
            .map_err(|e| invalid(format!("wit {:?}: {e}", manifest.wit)))?;
        for path in std::iter::once(&manifest.component)
            .chain(std::iter::once(&manifest.config_schema))
            .chain(&manifest.charts)
        {
            if path.is_absolute()
                || path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(invalid(format!(
                    "{} must be a path inside the bundle",
                    path.display()
                )));
            }
        }
        for chart in &manifest.charts {
            if !bundle.join(chart).join("Chart.yaml").is_file() {
                return Err(invalid(format!(
                    "chart {} has no Chart.yaml",
                    chart.display()
                )));
            }
        }
        Ok(manifest)
    }
}

/// What the operator grants each plugin: `grants.toml`, e.g.
///
/// ```toml
/// [plugins.woocommerce]
/// capabilities = ["kube-read", "kube-write", "helm", "secrets"]
/// ```
///
/// A plugin gets the intersection of what it asks and what it is granted;
/// a call outside it fails with `denied`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    plugins: BTreeMap<String, PluginGrant>,
    /// Grant every plugin what it asks for (development only).
    #[serde(default, rename = "grant-all-requested")]
    grant_all_requested: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginGrant {
    capabilities: BTreeSet<Capability>,
}

impl Grants {
    /// Parses a grants file.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Grants every plugin what its manifest asks for.
    pub fn all_requested() -> Self {
        Self {
            plugins: BTreeMap::new(),
            grant_all_requested: true,
        }
    }

    /// Grants `capabilities` to plugin `id`.
    pub fn grant(mut self, id: &str, capabilities: impl IntoIterator<Item = Capability>) -> Self {
        self.plugins
            .entry(id.to_owned())
            .or_default()
            .capabilities
            .extend(capabilities);
        self
    }

    /// What `manifest`'s plugin may use.
    pub fn effective(&self, manifest: &Manifest) -> BTreeSet<Capability> {
        if self.grant_all_requested {
            return manifest.capabilities.clone();
        }
        let granted = self
            .plugins
            .get(&manifest.id)
            .map(|g| g.capabilities.clone())
            .unwrap_or_default();
        manifest
            .capabilities
            .intersection(&granted)
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(caps: &[Capability]) -> Manifest {
        Manifest {
            id: "shop".into(),
            version: "1.0.0".into(),
            wit: "0.1.0".into(),
            component: "plugin.wasm".into(),
            capabilities: caps.iter().copied().collect(),
            config_schema: "schema.json".into(),
            charts: vec![],
        }
    }

    #[test]
    fn plugins_get_what_they_ask_and_are_granted_only() {
        let grants = Grants::parse(
            r#"
            [plugins.shop]
            capabilities = ["kube-read", "helm"]
            "#,
        )
        .unwrap_or_default();
        let effective = grants.effective(&manifest(&[Capability::KubeRead, Capability::Secrets]));
        assert_eq!(effective, [Capability::KubeRead].into());
        assert!(
            Grants::default()
                .effective(&manifest(&[Capability::Helm]))
                .is_empty()
        );
        assert_eq!(
            Grants::all_requested().effective(&manifest(&[Capability::Helm])),
            [Capability::Helm].into()
        );
    }

    #[test]
    fn unknown_capabilities_are_rejected() {
        assert!(Grants::parse("[plugins.x]\ncapabilities = [\"root\"]").is_err());
    }
}
