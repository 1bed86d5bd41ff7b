//! The store configuration a tenant fills in, its JSON Schema (the same as
//! `plugins/engines.json` offers) and the checks the schema cannot express.

use serde::Deserialize;
use serde_json::{Value, json};
use storeplane_plugin_sdk::FieldError;
use storeplane_plugin_sdk::validate::{MAX_EMAIL_CHARS, is_email, looks_like_an_option};

/// Currencies WooCommerce is set up with.
pub const CURRENCIES: [&str; 7] = ["USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD"];
/// At most this many sample products are seeded.
pub const MAX_SAMPLE_PRODUCTS: u32 = 50;
/// Longest store title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// The store configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site title (`blogname`), shown in the Storefront header.
    #[serde(default = "default_title")]
    pub store_title: String,
    /// The administrator's e-mail address (user `admin`).
    pub admin_email: String,
    /// ISO 4217 code of the shop currency.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// How many sample products the setup Job creates.
    #[serde(default = "default_sample_products")]
    pub sample_products: u32,
}

fn default_title() -> String {
    "My Store".to_owned()
}

fn default_currency() -> String {
    "USD".to_owned()
}

fn default_sample_products() -> u32 {
    6
}

/// The JSON Schema (draft 2020-12) of [`Config`], identical to the one in
/// `plugins/engines.json`.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "store_title": {
                "type": "string", "title": "Store title",
                "minLength": 1, "maxLength": MAX_TITLE_CHARS, "default": "My Store"
            },
            "admin_email": {
                "type": "string", "title": "Administrator e-mail",
                "format": "email", "maxLength": MAX_EMAIL_CHARS
            },
            "currency": {
                "type": "string", "title": "Currency", "enum": CURRENCIES, "default": "USD"
            },
            "sample_products": {
                "type": "integer", "title": "Sample products to seed",
                "minimum": 0, "maximum": MAX_SAMPLE_PRODUCTS, "default": 6
            }
        },
        "required": ["admin_email"]
    })
}

/// What the schema says, checked again (tools may skip the schema), plus
/// what it cannot say: a title that is not only spaces and has no control
/// characters, and no free-text value that starts with `-`.
pub fn validate(config: &Config) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("store_title", &config.store_title),
        ("admin_email", &config.admin_email),
    ] {
        if looks_like_an_option(value) {
            errors.push(FieldError::new(field, "must not start with '-'"));
        }
    }
    let title = &config.store_title;
    if title.trim().is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "store_title",
            format!(
                "must have 1 to {MAX_TITLE_CHARS} characters, not only spaces, no control characters"
            ),
        ));
    }
    if !is_email(&config.admin_email) {
        errors.push(FieldError::new(
            "admin_email",
            "must be an e-mail address such as owner@example.com",
        ));
    }
    if !CURRENCIES.contains(&config.currency.as_str()) {
        errors.push(FieldError::new(
            "currency",
            format!("must be one of {}", CURRENCIES.join(", ")),
        ));
    }
    if config.sample_products > MAX_SAMPLE_PRODUCTS {
        errors.push(FieldError::new(
            "sample_products",
            format!("must be between 0 and {MAX_SAMPLE_PRODUCTS}"),
        ));
    }
    errors
}

/// WooCommerce's store base location (`woocommerce_default_country`) for a
/// currency, so taxes and the checkout's default country fit the currency.
pub fn base_location(currency: &str) -> &'static str {
    match currency {
        "EUR" => "DE",
        "GBP" => "GB",
        "INR" => "IN:MH",
        "JPY" => "JP:JP13",
        "CAD" => "CA:ON",
        "AUD" => "AU:NSW",
        _ => "US:CA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> Config {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn defaults_fill_everything_but_the_email() {
        let c = config(json!({"admin_email": "owner@example.com"}));
        assert_eq!(
            (
                c.store_title.as_str(),
                c.currency.as_str(),
                c.sample_products
            ),
            ("My Store", "USD", 6)
        );
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn the_admin_email_follows_the_sdk_rule() {
        // The SDK's `is_email` is tested there; this pins that WooCommerce
        // uses it (WordPress accepts quotes in an address).
        for email in ["a@b", "owner", "a b@c.d"] {
            let errors = validate(&config(json!({"admin_email": email})));
            assert_eq!(errors.len(), 1, "{email}: {errors:?}");
            assert_eq!(errors[0].field, "admin_email");
        }
        assert!(validate(&config(json!({"admin_email": "o'brien@example.com"}))).is_empty());
    }

    #[test]
    fn blank_title_bad_email_unknown_currency_and_too_many_products_are_reported() {
        let c = config(json!({
            "store_title": " ", "admin_email": "nope", "currency": "XYZ", "sample_products": 51
        }));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["store_title", "admin_email", "currency", "sample_products"]
        );
    }

    #[test]
    fn free_text_that_starts_like_an_option_is_rejected() {
        let c = config(json!({"store_title": "--exec=phpinfo();", "admin_email": "a@b.co"}));
        let errors = validate(&c);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "store_title");
        assert!(errors[0].message.contains("'-'"));
        let c = config(json!({"store_title": " -x", "admin_email": "--require=/x@b.co"}));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["store_title", "admin_email"]);
        let c = config(json!({"store_title": "Shop - Coffee & Tea", "admin_email": "a-b@c.co"}));
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn a_title_with_a_newline_is_rejected() {
        let c = config(json!({"store_title": "Shop\nX", "admin_email": "a@b.co"}));
        assert_eq!(validate(&c)[0].field, "store_title");
    }

    #[test]
    fn every_currency_has_a_base_location() {
        assert_eq!(base_location("USD"), "US:CA");
        assert_eq!(base_location("EUR"), "DE");
        for currency in CURRENCIES {
            assert!(!base_location(currency).is_empty());
        }
    }
}
