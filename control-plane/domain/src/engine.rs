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
    /// The optional operations its plugin implements.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// The plugin API (`storeplane:engine` WIT) version its plugin was
    /// built against, e.g. `0.2.0`.
    #[serde(default)]
    pub plugin_api: String,
}

impl Engine {
    /// Whether the engine implements `operation`.
    pub fn supports(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }
}

/// Operations an engine may implement beyond provisioning (plugin API 0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Back a store's data up.
    Backup,
    /// Restore a backup into a store (and clone a store from one).
    Restore,
    /// Pause a store.
    Suspend,
    /// Bring a paused store back.
    Resume,
}

impl Operation {
    /// The name in the API and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Backup => "backup",
            Operation::Restore => "restore",
            Operation::Suspend => "suspend",
            Operation::Resume => "resume",
        }
    }
}
