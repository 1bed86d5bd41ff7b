//! `plugins/engines.json` (the record-only catalog, `--engines-file`) must
//! offer exactly what each engine plugin describes, so a store recorded
//! without a cluster validates the same way as with one.

use serde_json::Value;
use storeplane_plugin_sdk::{Engine, testing::Harness};

/// Panics when `engines.json`'s entry for `E` differs from `E::describe()`
/// (schema, version, description).
#[track_caller]
pub fn assert_offered_as_described<E: Engine>(plugin_dir: &str) {
    let path = std::path::Path::new(plugin_dir).join("../engines.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let engines: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let (info, schema) = Harness::<E>::new().describe();
    let id = info.id.as_str();
    let offered = engines["engines"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["id"] == id))
        .unwrap_or_else(|| panic!("engines.json does not offer {id}"));
    assert_eq!(schema, offered["config_schema"], "{id}: config schema");
    assert_eq!(info.version, offered["version"], "{id}: version");
    assert_eq!(
        info.description, offered["description"],
        "{id}: description"
    );
}
