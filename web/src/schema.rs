//! An engine's configuration JSON Schema turned into form fields, and the
//! form's text values turned back into the JSON object the API takes.
//!
//! Only the subset engines use is understood: an object of scalar
//! properties (`string` with `enum`/`format`/length bounds, `integer` and
//! `number` with bounds, `boolean`). Anything else becomes a JSON text
//! field, so an unusual plugin still gets a usable (if plain) form.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::validate;

/// Why a schema could not be turned into a form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    /// The text is not JSON.
    #[error("the engine's config schema is not valid JSON: {0}")]
    NotJson(String),
    /// The schema does not describe an object.
    #[error("the engine's config schema does not describe an object")]
    NotAnObject,
}

/// What kind of control a field needs.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Free text; `format` decides the input type (`email`, `uri`).
    Text {
        /// JSON Schema `format`, if any.
        format: Option<String>,
        /// `minLength`.
        min_length: Option<u64>,
        /// `maxLength`.
        max_length: Option<u64>,
    },
    /// One of a fixed list (`enum`), shown as a select.
    Choice {
        /// The allowed values, in schema order.
        options: Vec<Value>,
    },
    /// A whole number with optional bounds.
    Integer {
        /// `minimum`.
        minimum: Option<i64>,
        /// `maximum`.
        maximum: Option<i64>,
    },
    /// A number with optional bounds.
    Number {
        /// `minimum`.
        minimum: Option<f64>,
        /// `maximum`.
        maximum: Option<f64>,
    },
    /// A checkbox.
    Boolean,
    /// Anything else, edited as JSON text.
    Json,
}

/// One property of the config object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Property name; server violations name it `config.<key>`.
    pub key: String,
    /// `title`, or the key made readable.
    pub label: String,
    /// `description`, shown as a hint.
    pub description: Option<String>,
    /// The control.
    pub kind: FieldKind,
    /// Listed in `required`.
    pub required: bool,
    /// `default`, as the text the control starts with.
    pub default: Option<String>,
}

/// The fields of an engine's config form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigSchema {
    /// Required fields first (they are what a person must fill in), then
    /// the rest in schema order.
    pub fields: Vec<Field>,
}

/// How a JSON value reads in a text control: strings bare, the rest as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `sample_products` → `Sample products`.
fn humanize(key: &str) -> String {
    let spaced = key.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn field_kind(prop: &Map<String, Value>) -> FieldKind {
    if let Some(options) = prop.get("enum").and_then(Value::as_array) {
        return FieldKind::Choice {
            options: options.clone(),
        };
    }
    let uint = |k: &str| prop.get(k).and_then(Value::as_u64);
    match prop.get("type").and_then(Value::as_str) {
        Some("string") => FieldKind::Text {
            format: prop
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_owned),
            min_length: uint("minLength"),
            max_length: uint("maxLength"),
        },
        Some("integer") => FieldKind::Integer {
            minimum: prop.get("minimum").and_then(Value::as_i64),
            maximum: prop.get("maximum").and_then(Value::as_i64),
        },
        Some("number") => FieldKind::Number {
            minimum: prop.get("minimum").and_then(Value::as_f64),
            maximum: prop.get("maximum").and_then(Value::as_f64),
        },
        Some("boolean") => FieldKind::Boolean,
        _ => FieldKind::Json,
    }
}

impl ConfigSchema {
    /// Reads the JSON Schema text of `Engine.config_schema`. An empty text
    /// means the engine takes no configuration.
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let root: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::NotJson(e.to_string()))?;
        let root = root.as_object().ok_or(SchemaError::NotAnObject)?;
        if root
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "object")
        {
            return Err(SchemaError::NotAnObject);
        }
        let required: Vec<&str> = root
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields: Vec<Field> = root
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(key, prop)| {
                        let empty = Map::new();
                        let prop = prop.as_object().unwrap_or(&empty);
                        let text = |k: &str| prop.get(k).and_then(Value::as_str).map(str::to_owned);
                        Field {
                            key: key.clone(),
                            label: text("title").unwrap_or_else(|| humanize(key)),
                            description: text("description"),
                            kind: field_kind(prop),
                            required: required.contains(&key.as_str()),
                            default: prop.get("default").map(value_text),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Stable: keeps schema order within each group.
        fields.sort_by_key(|f| !f.required);
        Ok(Self { fields })
    }

    /// The values a fresh form starts with: each field's default (unchecked
    /// for a boolean without one, empty otherwise).
    pub fn initial_values(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|f| {
                let start = match (&f.default, &f.kind) {
                    (Some(d), _) => d.clone(),
                    (None, FieldKind::Boolean) => "false".to_owned(),
                    (None, FieldKind::Choice { options }) if f.required => {
                        options.first().map(value_text).unwrap_or_default()
                    }
                    (None, _) => String::new(),
                };
                (f.key.clone(), start)
            })
            .collect()
    }

    /// Checks the form and builds the config object. On failure returns
    /// every problem, keyed like the server's violations (`config.<key>`),
    /// so client and server messages land in the same place.
    ///
    /// A select's value is not checked against its options: the control
    /// offers nothing else, and whatever arrives anyway is the server's to
    /// judge (its violation then shows next to the field).
    pub fn to_config(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, BTreeMap<String, String>> {
        let mut config = Map::new();
        let mut errors = BTreeMap::new();
        for field in &self.fields {
            let raw = values.get(&field.key).map(String::as_str).unwrap_or("");
            match field.value(raw) {
                Ok(Some(value)) => {
                    config.insert(field.key.clone(), value);
                }
                Ok(None) => {}
                Err(why) => {
                    errors.insert(format!("config.{}", field.key), why);
                }
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }
}

impl Field {
    /// The JSON value for `raw`, `None` when an optional field is left
    /// empty, or why `raw` will not do.
    pub fn value(&self, raw: &str) -> Result<Option<Value>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() && !matches!(self.kind, FieldKind::Boolean) {
            return if self.required {
                Err("is required".into())
            } else {
                Ok(None)
            };
        }
        let value = match &self.kind {
            FieldKind::Text {
                format,
                min_length,
                max_length,
            } => {
                let len = raw.chars().count() as u64;
                if let Some(min) = min_length.filter(|m| len < *m) {
                    return Err(format!("must be at least {min} characters long"));
                }
                if let Some(max) = max_length.filter(|m| len > *m) {
                    return Err(format!("must be at most {max} characters long"));
                }
                if format.as_deref() == Some("email") {
                    validate::email(trimmed)?;
                }
                Value::String(raw.to_owned())
            }
            FieldKind::Choice { options } => options
                .iter()
                .find(|o| value_text(o) == raw)
                .cloned()
                .unwrap_or_else(|| Value::String(raw.to_owned())),
            FieldKind::Integer { minimum, maximum } => {
                let n: i64 = trimmed
                    .parse()
                    .map_err(|_| "must be a whole number".to_owned())?;
                if let Some(min) = minimum.filter(|m| n < *m) {
                    return Err(format!("must be at least {min}"));
                }
                if let Some(max) = maximum.filter(|m| n > *m) {
                    return Err(format!("must be at most {max}"));
                }
                Value::from(n)
            }
            FieldKind::Number { minimum, maximum } => {
                let n: f64 = trimmed
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| "must be a number".to_owned())?;
                if let Some(min) = minimum.filter(|m| n < *m) {
                    return Err(format!("must be at least {min}"));
                }
                if let Some(max) = maximum.filter(|m| n > *m) {
                    return Err(format!("must be at most {max}"));
                }
                Value::from(n)
            }
            FieldKind::Boolean => Value::Bool(trimmed == "true"),
            FieldKind::Json => {
                serde_json::from_str(trimmed).map_err(|e| format!("must be valid JSON ({e})"))?
            }
        };
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plugins/engines.json`'s WooCommerce schema, as the server sends it.
    const WOO: &str = r#"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "store_title": {"type": "string", "title": "Store title", "minLength": 1, "maxLength": 80, "default": "My Store"},
          "admin_email": {"type": "string", "title": "Administrator e-mail", "format": "email", "maxLength": 254},
          "currency": {"type": "string", "title": "Currency", "enum": ["USD", "EUR", "GBP"], "default": "USD"},
          "sample_products": {"type": "integer", "title": "Sample products to seed", "minimum": 0, "maximum": 50, "default": 6},
          "seed": {"type": "boolean"}
        },
        "required": ["admin_email"]
    }"#;

    fn woo() -> ConfigSchema {
        match ConfigSchema::parse(WOO) {
            Ok(schema) => schema,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parse_maps_each_type_to_a_control_with_required_fields_first() {
        let schema = woo();
        let keys: Vec<&str> = schema.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys[0], "admin_email");
        let by_key = |k: &str| schema.fields.iter().find(|f| f.key == k).cloned();
        let email = by_key("admin_email").map(|f| (f.label, f.required, f.kind));
        assert_eq!(
            email,
            Some((
                "Administrator e-mail".into(),
                true,
                FieldKind::Text {
                    format: Some("email".into()),
                    min_length: None,
                    max_length: Some(254)
                }
            ))
        );
        assert!(matches!(
            by_key("currency").map(|f| f.kind),
            Some(FieldKind::Choice { options }) if options.len() == 3
        ));
        assert_eq!(
            by_key("sample_products").map(|f| f.kind),
            Some(FieldKind::Integer {
                minimum: Some(0),
                maximum: Some(50)
            })
        );
        // No title: the key, made readable.
        assert_eq!(
            by_key("seed").map(|f| (f.label, f.kind)),
            Some(("Seed".into(), FieldKind::Boolean))
        );
    }

    #[test]
    fn initial_values_are_the_defaults() {
        let values = woo().initial_values();
        assert_eq!(values["store_title"], "My Store");
        assert_eq!(values["currency"], "USD");
        assert_eq!(values["sample_products"], "6");
        assert_eq!(values["admin_email"], "");
        assert_eq!(values["seed"], "false");
    }

    #[test]
    fn to_config_types_values_and_omits_empty_optional_fields() {
        let schema = woo();
        let mut values = schema.initial_values();
        values.insert("admin_email".into(), "me@example.com".into());
        values.insert("store_title".into(), String::new());
        let Ok(config) = schema.to_config(&values) else {
            panic!("rejected");
        };
        assert_eq!(config["admin_email"], "me@example.com");
        assert_eq!(config["sample_products"], 6);
        assert_eq!(config["seed"], false);
        assert!(!config.contains_key("store_title"));
    }

    #[test]
    fn to_config_reports_every_problem_under_the_servers_field_names() {
        let schema = woo();
        let mut values = schema.initial_values();
        values.insert("sample_products".into(), "51".into());
        let Err(errors) = schema.to_config(&values) else {
            panic!("accepted");
        };
        assert_eq!(errors["config.admin_email"], "is required");
        assert_eq!(errors["config.sample_products"], "must be at most 50");
        values.insert("admin_email".into(), "not-an-address".into());
        values.insert("sample_products".into(), "2.5".into());
        let errors = schema.to_config(&values).err().unwrap_or_default();
        assert!(errors["config.admin_email"].contains("e-mail"));
        assert_eq!(errors["config.sample_products"], "must be a whole number");
    }

    #[test]
    fn a_choice_outside_the_enum_is_left_for_the_server_to_judge() {
        let schema = woo();
        let mut values = schema.initial_values();
        values.insert("admin_email".into(), "me@example.com".into());
        values.insert("currency".into(), "XYZ".into());
        let config = schema.to_config(&values).unwrap_or_default();
        assert_eq!(config["currency"], "XYZ");
    }

    #[test]
    fn empty_schema_means_no_fields_and_garbage_is_an_error() {
        assert_eq!(ConfigSchema::parse(""), Ok(ConfigSchema::default()));
        assert!(matches!(
            ConfigSchema::parse("{"),
            Err(SchemaError::NotJson(_))
        ));
        assert_eq!(
            ConfigSchema::parse(r#"{"type": "array"}"#),
            Err(SchemaError::NotAnObject)
        );
    }
}
