//! The store configuration a tenant fills in, its JSON Schema and the checks
//! the schema cannot express.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Value, json};
use storeplane_plugin_sdk::FieldError;
use storeplane_plugin_sdk::validate::looks_like_an_option;

/// Currencies the storefront formats prices in.
pub const CURRENCIES: [&str; 7] = ["USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD"];
/// At most this many replicas per store: a static site needs few.
pub const MAX_REPLICAS: u8 = 3;
/// At most this many products, so the page stays small.
pub const MAX_PRODUCTS: usize = 50;

/// The store configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The shop's name, shown as the page title.
    #[serde(default = "default_title")]
    pub shop_title: String,
    /// A line under the title.
    #[serde(default)]
    pub tagline: String,
    /// ISO 4217 code prices are shown in.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The catalogue; a few sample products when absent.
    #[serde(default = "sample_products")]
    pub products: Vec<Product>,
    /// nginx replicas.
    #[serde(default = "default_replicas")]
    pub replicas: u8,
}

/// One product on the page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Product name, unique in the shop.
    pub name: String,
    /// Decimal price such as `12.50`, kept as text so it is shown exactly.
    pub price: String,
    /// A sentence about it.
    #[serde(default)]
    pub description: String,
}

fn default_title() -> String {
    "My Shop".to_owned()
}

fn default_currency() -> String {
    "USD".to_owned()
}

fn default_replicas() -> u8 {
    1
}

fn sample_products() -> Vec<Product> {
    [
        ("Espresso cup", "9.00", "Porcelain, 80 ml."),
        ("Coffee beans", "14.50", "Single origin, 250 g."),
        ("Pour-over kettle", "39.90", "Gooseneck, 1 l."),
    ]
    .into_iter()
    .map(|(name, price, description)| Product {
        name: name.into(),
        price: price.into(),
        description: description.into(),
    })
    .collect()
}

/// `12`, `12.5` or `12.50`: digits, optionally a dot and one or two digits.
fn is_price(text: &str) -> bool {
    let (units, cents) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(units) && units.len() <= 9 && digits(cents) && cents.len() <= 2
}

/// The JSON Schema (draft 2020-12) of [`Config`].
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Static site",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "shop_title": {
                "type": "string", "title": "Shop title",
                "minLength": 1, "maxLength": 80, "default": "My Shop"
            },
            "tagline": {
                "type": "string", "title": "Tagline", "maxLength": 200, "default": ""
            },
            "currency": {
                "type": "string", "title": "Currency", "enum": CURRENCIES, "default": "USD"
            },
            "products": {
                "type": "array", "title": "Products", "maxItems": MAX_PRODUCTS,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "price"],
                    "properties": {
                        "name": { "type": "string", "title": "Name", "minLength": 1, "maxLength": 80 },
                        "price": {
                            "type": "string", "title": "Price",
                            "pattern": "^[0-9]{1,9}(\\.[0-9]{1,2})?$"
                        },
                        "description": { "type": "string", "title": "Description", "maxLength": 500 }
                    }
                }
            },
            "replicas": {
                "type": "integer", "title": "Replicas",
                "minimum": 1, "maximum": MAX_REPLICAS, "default": 1
            }
        }
    })
}

/// What the schema cannot say (unique product names, a title that is not
/// just spaces, no free text starting with `-`), plus the schema's own
/// rules again: `validate` may be called by tools that skipped the schema.
pub fn validate(config: &Config) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let free_text = [
        ("shop_title".to_owned(), &config.shop_title),
        ("tagline".to_owned(), &config.tagline),
    ]
    .into_iter()
    .chain(config.products.iter().enumerate().flat_map(|(i, p)| {
        [
            (format!("products.{i}.name"), &p.name),
            (format!("products.{i}.description"), &p.description),
        ]
    }));
    for (field, value) in free_text {
        if looks_like_an_option(value) {
            errors.push(FieldError::new(field, "must not start with '-'"));
        }
    }
    if config.shop_title.trim().is_empty() || config.shop_title.chars().count() > 80 {
        errors.push(FieldError::new(
            "shop_title",
            "must have 1 to 80 characters, not only spaces",
        ));
    }
    if !CURRENCIES.contains(&config.currency.as_str()) {
        errors.push(FieldError::new(
            "currency",
            format!("must be one of {}", CURRENCIES.join(", ")),
        ));
    }
    if !(1..=MAX_REPLICAS).contains(&config.replicas) {
        errors.push(FieldError::new(
            "replicas",
            format!("must be between 1 and {MAX_REPLICAS}"),
        ));
    }
    if config.products.len() > MAX_PRODUCTS {
        errors.push(FieldError::new(
            "products",
            format!("at most {MAX_PRODUCTS} products"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, product) in config.products.iter().enumerate() {
        if product.name.trim().is_empty() {
            errors.push(FieldError::new(
                format!("products.{i}.name"),
                "must not be empty",
            ));
        } else if !seen.insert(product.name.trim().to_lowercase()) {
            errors.push(FieldError::new(
                format!("products.{i}.name"),
                format!(
                    "{:?} is listed twice; product names must be unique",
                    product.name
                ),
            ));
        }
        if !is_price(&product.price) {
            errors.push(FieldError::new(
                format!("products.{i}.price"),
                "must be a decimal amount such as 12.50",
            ));
        }
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
    fn empty_config_gets_defaults_and_sample_products() {
        let c = config(json!({}));
        assert_eq!(
            (c.shop_title.as_str(), c.currency.as_str(), c.replicas),
            ("My Shop", "USD", 1)
        );
        assert_eq!(c.products.len(), 3);
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn duplicate_product_names_and_bad_prices_are_reported_per_item() {
        let c = config(json!({"products": [
            {"name": "Mug", "price": "5"},
            {"name": "mug ", "price": "5.999"},
        ]}));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["products.1.name", "products.1.price"]);
    }

    #[test]
    fn free_text_that_starts_like_an_option_is_rejected() {
        let c = config(json!({
            "shop_title": "--exec=phpinfo();",
            "tagline": " -v",
            "products": [{"name": "-x", "price": "1", "description": "--help"}]
        }));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "shop_title",
                "tagline",
                "products.0.name",
                "products.0.description"
            ]
        );
        let fine = config(json!({"shop_title": "Tea - and more", "tagline": "Loose-leaf"}));
        assert!(validate(&fine).is_empty());
    }

    #[test]
    fn prices_take_at_most_two_decimals() {
        for ok in ["0", "12", "12.5", "12.50"] {
            assert!(is_price(ok), "{ok}");
        }
        for bad in ["", "1.", ".5", "1.234", "-1", "1,50", "1e3"] {
            assert!(!is_price(bad), "{bad}");
        }
    }

    #[test]
    fn blank_title_unknown_currency_and_too_many_replicas_are_rejected() {
        let c = config(json!({"shop_title": "  ", "currency": "XYZ", "replicas": 9}));
        let fields: Vec<_> = validate(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["shop_title", "currency", "replicas"]);
    }
}
