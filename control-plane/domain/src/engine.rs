//! Store engines as the API describes them.

use serde::{Deserialize, Serialize};

/// A store engine (WooCommerce, Medusa, or a third party's plugin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    /// Stable id, e.g. `woocommerce`.
    pub id: String,
    /// Name shown to people.
    pub display_name: String,
    /// Engine version (semver).
    pub version: String,
    /// One paragraph about it.
    pub description: String,
    /// JSON Schema of the store configuration.
    pub config_schema: serde_json::Value,
}
