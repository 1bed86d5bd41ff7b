//! The store configuration a tenant fills in, its JSON Schema (the same as
//! `plugins/engines.json` offers), the checks the schema cannot express and
//! the regions a store can be seeded with.

use serde::Deserialize;
use serde_json::{Value, json};
use storeplane_plugin_sdk::FieldError;
use storeplane_plugin_sdk::validate::{MAX_EMAIL_CHARS, is_email, looks_like_an_option};

/// A region the init Job seeds: its Medusa name, currency, countries (ISO
/// 3166-1 alpha-2, lower case) and the storefront's default country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The configuration value: `eu`, `us` or `in`.
    pub code: &'static str,
    /// The Medusa region's name.
    pub name: &'static str,
    /// ISO 4217, lower case as Medusa stores it.
    pub currency: &'static str,
    /// Countries in the region.
    pub countries: &'static [&'static str],
    /// `NEXT_PUBLIC_DEFAULT_REGION`: a country of the region, the one the
    /// storefront redirects `/` to.
    pub default_country: &'static str,
}

/// The regions on offer, in the schema's order.
pub const REGIONS: [Region; 3] = [
    Region {
        code: "eu",
        name: "Europe",
        currency: "eur",
        countries: &["de", "dk", "es", "fr", "it", "nl", "se"],
        default_country: "de",
    },
    Region {
        code: "us",
        name: "United States",
        currency: "usd",
        countries: &["us"],
        default_country: "us",
    },
    Region {
        code: "in",
        name: "India",
        currency: "inr",
        countries: &["in"],
        default_country: "in",
    },
];

/// The region for a configuration value.
pub fn region(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code == code)
}

/// The store configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The admin user's e-mail address (its login).
    pub admin_email: String,
    /// The region seeded: `eu`, `us` or `in`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Whether the seed adds demo categories and products.
    #[serde(default = "default_seed")]
    pub seed_demo_data: bool,
}

fn default_region() -> String {
    "eu".to_owned()
}

fn default_seed() -> bool {
    true
}

/// The JSON Schema (draft 2020-12) of [`Config`], identical to the one in
/// `plugins/engines.json`.
pub fn schema() -> Value {
    let codes: Vec<&str> = REGIONS.iter().map(|r| r.code).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "admin_email": {
                "type": "string", "title": "Administrator e-mail",
                "format": "email", "maxLength": MAX_EMAIL_CHARS
            },
            "region": {
                "type": "string", "title": "Default region", "enum": codes, "default": "eu"
            },
            "seed_demo_data": {
                "type": "boolean", "title": "Seed demo products", "default": true
            }
        },
        "required": ["admin_email"]
    })
}

/// Whether Medusa takes the address as an administrator's login: the
/// address is passed to `medusa user` and used to log in, and quotes and
/// backslashes are not part of a login it accepts.
fn is_medusa_login(email: &str) -> bool {
    !email.contains(['"', '\'', '\\'])
}

/// What the schema says, checked again (tools may skip the schema), and no
/// free-text value that starts with `-`.
pub fn validate(config: &Config) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if looks_like_an_option(&config.admin_email) {
        errors.push(FieldError::new("admin_email", "must not start with '-'"));
    } else if !is_email(&config.admin_email) || !is_medusa_login(&config.admin_email) {
        errors.push(FieldError::new(
            "admin_email",
            "must be an e-mail address such as owner@example.com",
        ));
    }
    if region(&config.region).is_none() {
        let codes: Vec<&str> = REGIONS.iter().map(|r| r.code).collect();
        errors.push(FieldError::new(
            "region",
            format!("must be one of {}", codes.join(", ")),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> Config {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn defaults_are_europe_with_demo_data() {
        let c = config(json!({"admin_email": "owner@example.com"}));
        assert_eq!((c.region.as_str(), c.seed_demo_data), ("eu", true));
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn every_region_is_self_consistent() {
        for r in REGIONS {
            assert!(r.countries.contains(&r.default_country), "{r:?}");
            assert_eq!(r.currency.len(), 3);
            assert!(
                r.countries
                    .iter()
                    .all(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_lowercase()))
            );
        }
        assert_eq!(region("in").unwrap().currency, "inr");
        assert_eq!(region("xx"), None);
    }

    #[test]
    fn an_email_that_starts_like_an_option_is_rejected() {
        for email in ["--invite@example.com", " -p@example.com"] {
            let errors = validate(&config(json!({"admin_email": email})));
            assert_eq!(errors.len(), 1, "{email}: {errors:?}");
            assert_eq!(errors[0].field, "admin_email");
            assert!(errors[0].message.contains("'-'"), "{email}");
        }
        assert!(validate(&config(json!({"admin_email": "a-b@c.co"}))).is_empty());
    }

    #[test]
    fn quotes_and_backslashes_are_no_medusa_login() {
        for email in ["o'brien@example.com", "a\"b@c.d", "a\\b@c.d", "a@b'c.d"] {
            let errors = validate(&config(json!({"admin_email": email})));
            assert_eq!(errors.len(), 1, "{email}: {errors:?}");
            assert_eq!(
                errors[0].message,
                "must be an e-mail address such as owner@example.com"
            );
        }
    }

    #[test]
    fn bad_email_and_unknown_region_are_reported() {
        let c = config(json!({"admin_email": "a\"b@c.d", "region": "apac"}));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["admin_email", "region"]);
    }
}
