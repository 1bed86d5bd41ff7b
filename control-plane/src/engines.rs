//! The engine catalog from a configuration file.
//!
//! Until the plugin host loads engines from WebAssembly bundles, the
//! operator lists them in a JSON file (`--engines-file`): id, display name,
//! version, description and the JSON Schema of the store configuration.
//! The control plane holds no engine-specific code; it only validates
//! configurations against the schemas.

use std::{collections::BTreeMap, path::Path};

use jsonschema::{Validator, error::ValidationErrorKind, paths::LocationSegment};
use serde::Deserialize;

use crate::domain::{Config, FieldViolation, engine::Engine, ports::EngineCatalog};

/// Why an engines file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read engines file {path}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid engines document.
    #[error("engines file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    engines: Vec<Engine>,
}

/// Engines with compiled configuration validators.
#[derive(Default)]
pub struct FileCatalog {
    engines: BTreeMap<String, (Engine, Validator)>,
}

impl FileCatalog {
    /// An empty catalog: every create fails with "no engines are installed".
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads and checks the engines file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| Error::Malformed {
            path: shown,
            reason,
        })
    }

    /// Parses an engines document.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut engines = BTreeMap::new();
        for engine in file.engines {
            if let Err(why) = crate::domain::validate::store_name(&engine.id) {
                return Err(format!("engine id {:?} {why}", engine.id));
            }
            let validator = compile_schema(&engine.config_schema)
                .map_err(|e| format!("engine {}: invalid config schema: {e}", engine.id))?;
            if engines.contains_key(&engine.id) {
                return Err(format!("engine {} is listed twice", engine.id));
            }
            engines.insert(engine.id.clone(), (engine, validator));
        }
        Ok(Self { engines })
    }
}

/// Compiles a configuration schema, with `format` checks on.
pub fn compile_schema(schema: &serde_json::Value) -> Result<Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// The schema violations of `config`, as field violations under `config`.
pub fn schema_violations(validator: &Validator, config: &Config) -> Vec<FieldViolation> {
    let instance = serde_json::Value::Object(config.clone());
    validator
        .iter_errors(&instance)
        .map(|error| {
            let mut field = String::from("config");
            for segment in error.instance_path().segments() {
                match segment {
                    LocationSegment::Property(p) => {
                        field.push('.');
                        field.push_str(&p);
                    }
                    LocationSegment::Index(i) => field.push_str(&format!("[{i}]")),
                }
            }
            // A missing property is about that property, not its parent.
            if let ValidationErrorKind::Required { property } = error.kind()
                && let Some(name) = property.as_str()
            {
                field.push('.');
                field.push_str(name);
                return FieldViolation::new(field, "is required");
            }
            FieldViolation::new(field, error.to_string())
        })
        .collect()
}

#[async_trait::async_trait]
impl EngineCatalog for FileCatalog {
    fn engines(&self) -> Vec<Engine> {
        self.engines.values().map(|(e, _)| e.clone()).collect()
    }

    async fn validate_config(&self, engine: &str, config: &Config) -> Option<Vec<FieldViolation>> {
        let (_, validator) = self.engines.get(engine)?;
        Some(schema_violations(validator, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"engines": [{
        "id": "demo", "display_name": "Demo", "version": "1.0.0", "description": "d",
        "config_schema": {"type": "object", "additionalProperties": false,
            "required": ["admin_email"],
            "properties": {"admin_email": {"type": "string", "format": "email"},
                           "products": {"type": "integer", "minimum": 0, "maximum": 100}}}
    }]}"#;

    #[tokio::test]
    async fn violations_name_the_config_field() {
        let catalog = FileCatalog::parse(DOC).unwrap_or_default();
        let config: Config =
            serde_json::from_str(r#"{"products": 500, "extra": 1}"#).unwrap_or_default();
        let mut fields: Vec<String> = catalog
            .validate_config("demo", &config)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect();
        fields.sort();
        assert_eq!(fields, ["config", "config.admin_email", "config.products"]);
    }

    #[tokio::test]
    async fn unknown_engine_is_none_and_valid_config_has_no_violations() {
        let catalog = FileCatalog::parse(DOC).unwrap_or_default();
        let ok: Config =
            serde_json::from_str(r#"{"admin_email": "a@b.example"}"#).unwrap_or_default();
        assert_eq!(catalog.validate_config("demo", &ok).await, Some(vec![]));
        assert_eq!(catalog.validate_config("nope", &ok).await, None);
    }

    #[test]
    fn malformed_documents_are_rejected_with_a_reason() {
        assert!(FileCatalog::parse("{}").is_err());
        let bad_schema = r#"{"engines":[{"id":"x-y","display_name":"","version":"1",
            "description":"","config_schema":{"type":"no-such-type"}}]}"#;
        let err = FileCatalog::parse(bad_schema).err().unwrap_or_default();
        assert!(err.contains("invalid config schema"), "{err}");
    }
}
