//! `plugin.toml`, the bundle manifest.

use crate::toml::{self, Value};
use crate::{Error, Result};

/// The manifest's file name inside a bundle.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// The capabilities a manifest may request, as spelled in `plugin.toml` and
/// in the WIT `capability` enum.
pub const CAPABILITIES: [&str; 4] = ["kube-read", "kube-write", "helm", "secrets"];

/// The bundle manifest, `plugin.toml`.
///
/// ```toml
/// id = "static-site"
/// version = "0.1.0"
/// wit = "0.1.0"
/// component = "plugin.wasm"
/// capabilities = ["kube-read", "kube-write", "helm", "secrets"]
/// config-schema = "config.schema.json"
/// charts = ["charts/static-site"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Engine id; equals the plugin's `describe().id`.
    pub id: String,
    /// Engine version (semver); equals `describe().version`.
    pub version: String,
    /// Version of the `storeplane:engine` WIT package the component targets.
    pub wit: String,
    /// The component file, relative to the bundle directory.
    pub component: String,
    /// Capabilities the plugin asks the operator for (see [`CAPABILITIES`]).
    pub capabilities: Vec<String>,
    /// The JSON Schema file of the store configuration, relative to the bundle.
    pub config_schema: String,
    /// Helm chart directories, relative to the bundle.
    pub charts: Vec<String>,
}

impl Manifest {
    /// Reads and validates a manifest.
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut id = None;
        let mut version = None;
        let mut wit = None;
        let mut component = None;
        let mut capabilities = None;
        let mut config_schema = None;
        let mut charts = None;
        for entry in toml::parse(text)? {
            let (slot, want_array) = match entry.key.as_str() {
                "id" => (&mut id, false),
                "version" => (&mut version, false),
                "wit" => (&mut wit, false),
                "component" => (&mut component, false),
                "capabilities" => (&mut capabilities, true),
                "config-schema" => (&mut config_schema, false),
                "charts" => (&mut charts, true),
                other => {
                    return Err(Error::Syntax {
                        line: entry.line,
                        message: format!("unknown key `{other}`"),
                    });
                }
            };
            let is_array = matches!(entry.value, Value::Array(_));
            if is_array != want_array {
                let want = if want_array {
                    "an array of strings"
                } else {
                    "a string"
                };
                return Err(Error::Syntax {
                    line: entry.line,
                    message: format!("`{}` must be {want}", entry.key),
                });
            }
            *slot = Some(entry.value);
        }
        let manifest = Manifest {
            id: string(id, "id")?,
            version: string(version, "version")?,
            wit: string(wit, "wit")?,
            component: string(component, "component")?,
            capabilities: array(capabilities),
            config_schema: string(config_schema, "config-schema")?,
            charts: array(charts),
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// Renders the manifest as `plugin.toml`, keys in the documented order.
    pub fn to_toml(&self) -> String {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|s| toml::quote(s)).collect();
            format!("[{}]", quoted.join(", "))
        };
        format!(
            "id = {}\nversion = {}\nwit = {}\ncomponent = {}\ncapabilities = {}\nconfig-schema = {}\ncharts = {}\n",
            toml::quote(&self.id),
            toml::quote(&self.version),
            toml::quote(&self.wit),
            toml::quote(&self.component),
            list(&self.capabilities),
            toml::quote(&self.config_schema),
            list(&self.charts),
        )
    }

    /// Checks what the host checks before it loads a bundle's files.
    pub fn validate(&self) -> Result<()> {
        if !is_dns_label(&self.id) {
            return Err(field(
                "id",
                "must be a DNS label: lowercase letters, digits and `-`, at most 63 characters",
            ));
        }
        if !is_semver(&self.version) {
            return Err(field("version", "must be a semantic version such as 0.1.0"));
        }
        if !is_semver(&self.wit) {
            return Err(field("wit", "must be a WIT package version such as 0.1.0"));
        }
        for capability in &self.capabilities {
            if !CAPABILITIES.contains(&capability.as_str()) {
                return Err(field(
                    "capabilities",
                    format!("unknown capability `{capability}`; known: {CAPABILITIES:?}"),
                ));
            }
        }
        check_relative("component", &self.component)?;
        check_relative("config-schema", &self.config_schema)?;
        for chart in &self.charts {
            check_relative("charts", chart)?;
        }
        Ok(())
    }
}

fn field(field: &'static str, message: impl Into<String>) -> Error {
    Error::Field {
        field,
        message: message.into(),
    }
}

fn string(value: Option<Value>, name: &'static str) -> Result<String> {
    match value {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(field(name, "is required")),
    }
}

/// Both lists may be empty, and an absent list means the same. The value type
/// was checked while parsing.
fn array(value: Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Bundle paths stay inside the bundle: relative, no `..`, forward slashes.
fn check_relative(name: &'static str, path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(field(
            name,
            format!("`{path}` must be a relative path inside the bundle (no `..`, no leading `/`)"),
        ))
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre` / `+build` suffix.
fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
id = "static-site"            # = describe().id
version = "0.1.0"             # = describe().version
wit = "0.1.0"                 # storeplane:engine version built against
component = "plugin.wasm"     # the component file in this directory
capabilities = ["kube-read", "kube-write", "helm", "secrets"]
config-schema = "config.schema.json"
charts = ["charts/static-site"]   # chart directories in this bundle
"#;

    fn example() -> Manifest {
        Manifest {
            id: "static-site".into(),
            version: "0.1.0".into(),
            wit: "0.1.0".into(),
            component: "plugin.wasm".into(),
            capabilities: CAPABILITIES.iter().map(|s| s.to_string()).collect(),
            config_schema: "config.schema.json".into(),
            charts: vec!["charts/static-site".into()],
        }
    }

    #[test]
    fn parses_the_documented_example() {
        assert_eq!(Manifest::parse(EXAMPLE).unwrap(), example());
    }

    #[test]
    fn rendered_manifest_parses_back_to_itself() {
        let manifest = example();
        assert_eq!(Manifest::parse(&manifest.to_toml()).unwrap(), manifest);
    }

    #[test]
    fn charts_and_capabilities_may_be_omitted() {
        let text = "id = \"a\"\nversion = \"1.0.0\"\nwit = \"0.1.0\"\ncomponent = \"p.wasm\"\nconfig-schema = \"s.json\"\n";
        let manifest = Manifest::parse(text).unwrap();
        assert!(manifest.charts.is_empty() && manifest.capabilities.is_empty());
    }

    #[test]
    fn rejects_unknown_capability_and_escaping_paths() {
        let mut bad_capability = example();
        bad_capability.capabilities.push("network".into());
        assert!(matches!(
            bad_capability.validate(),
            Err(Error::Field {
                field: "capabilities",
                ..
            })
        ));

        for path in ["../evil", "/etc/passwd", "charts/../../x", ""] {
            let mut escaping = example();
            escaping.charts = vec![path.into()];
            assert!(
                matches!(
                    escaping.validate(),
                    Err(Error::Field {
                        field: "charts",
                        ..
                    })
                ),
                "{path:?} accepted"
            );
        }
    }

    #[test]
    fn rejects_bad_id_version_and_missing_fields() {
        let mut bad_id = example();
        bad_id.id = "Static_Site".into();
        assert!(matches!(
            bad_id.validate(),
            Err(Error::Field { field: "id", .. })
        ));

        let mut bad_version = example();
        bad_version.version = "1.0".into();
        assert!(matches!(
            bad_version.validate(),
            Err(Error::Field {
                field: "version",
                ..
            })
        ));

        let missing = EXAMPLE.replace("wit = \"0.1.0\"", "");
        assert!(matches!(
            Manifest::parse(&missing),
            Err(Error::Field { field: "wit", .. })
        ));
    }

    #[test]
    fn rejects_unknown_keys_and_wrong_value_types() {
        let unknown = format!("{EXAMPLE}entry = \"x\"\n");
        assert!(matches!(
            Manifest::parse(&unknown),
            Err(Error::Syntax { .. })
        ));
        let wrong = EXAMPLE.replace("charts = [\"charts/static-site\"]", "charts = \"charts\"");
        assert!(matches!(Manifest::parse(&wrong), Err(Error::Syntax { .. })));
    }
}
