//! The engine catalog from loaded plugins: each engine's JSON Schema
//! (checked by the control plane) plus the plugin's own `validate`.

use std::{collections::BTreeMap, sync::Arc};

use jsonschema::Validator;
use storeplane_plugin_host::PluginHost;
use tracing::warn;

use crate::{
    domain::{
        Config, FieldViolation,
        engine::{Engine, Operation},
        ports::EngineCatalog,
    },
    engines::{compile_schema, schema_violations},
};

/// Engines provided by plugins.
pub struct PluginCatalog {
    host: Arc<PluginHost>,
    validators: BTreeMap<String, Validator>,
}

impl PluginCatalog {
    /// The engines of `host`; an engine whose schema does not compile is
    /// left out with a warning.
    pub fn new(host: Arc<PluginHost>) -> Self {
        let mut validators = BTreeMap::new();
        for engine in host.engines() {
            match compile_schema(&engine.config_schema) {
                Ok(v) => {
                    validators.insert(engine.id.clone(), v);
                }
                Err(e) => {
                    warn!(engine = %engine.id, error = %e, "invalid config schema; engine unavailable")
                }
            }
        }
        Self { host, validators }
    }
}

/// The host's name for an optional operation, as the domain's.
pub fn operation(o: storeplane_plugin_host::Operation) -> Operation {
    use storeplane_plugin_host::Operation as Host;
    match o {
        Host::Backup => Operation::Backup,
        Host::Restore => Operation::Restore,
        Host::Suspend => Operation::Suspend,
        Host::Resume => Operation::Resume,
    }
}

#[async_trait::async_trait]
impl EngineCatalog for PluginCatalog {
    fn engines(&self) -> Vec<Engine> {
        self.host
            .engines()
            .filter(|e| self.validators.contains_key(&e.id))
            .map(|e| Engine {
                id: e.id.clone(),
                display_name: e.display_name.clone(),
                version: e.version.clone(),
                description: e.description.clone(),
                config_schema: e.config_schema.clone(),
                operations: e.operations.iter().map(|o| operation(*o)).collect(),
                plugin_api: e.wit_version.clone(),
            })
            .collect()
    }

    async fn validate_config(&self, engine: &str, config: &Config) -> Option<Vec<FieldViolation>> {
        let validator = self.validators.get(engine)?;
        let mut violations = schema_violations(validator, config);
        if violations.is_empty() {
            // The plugin's own checks run only on schema-valid input.
            match self
                .host
                .validate(engine, &serde_json::Value::Object(config.clone()))
                .await
            {
                Ok(problems) => violations.extend(problems.into_iter().map(|p| {
                    let field = if p.field.is_empty() {
                        "config".to_owned()
                    } else {
                        format!("config.{}", p.field)
                    };
                    FieldViolation::new(field, p.message)
                })),
                Err(err) => violations.push(FieldViolation::new(
                    "config",
                    format!("the engine could not check the configuration: {err}"),
                )),
            }
        }
        Some(violations)
    }
}
