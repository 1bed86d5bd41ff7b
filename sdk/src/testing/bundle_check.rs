//! Keeping a plugin's committed `plugin.toml` and `config.schema.json` in
//! step with what the code says in `describe()` and `config_schema()`.

use std::fs;
use std::path::Path;

use serde_json::Value;
use storeplane_plugin_bundle::{MANIFEST_FILE, Manifest};

use crate::{Engine, WIT_VERSION};

/// Set this environment variable to `1` to (re)write the files instead of
/// comparing them: `STOREPLANE_BLESS=1 cargo test`.
pub const BLESS_ENV: &str = "STOREPLANE_BLESS";

/// The component's file name in every bundle the SDK describes.
const COMPONENT_FILE: &str = "plugin.wasm";
/// The schema's file name in every bundle the SDK describes.
const SCHEMA_FILE: &str = "config.schema.json";

/// The WIT versions this SDK builds components against: [`WIT_VERSION`] by
/// default, `0.1.0` with the feature `wit-0-1`.
pub const BUILDABLE_WIT_VERSIONS: [&str; 2] = ["0.1.0", "0.2.0"];

/// Checks that `plugin_dir` (usually `env!("CARGO_MANIFEST_DIR")`) holds a
/// `plugin.toml` equal to what `E` describes (id, version, capabilities, a
/// WIT version this SDK builds — the file's own when it names one of
/// [`BUILDABLE_WIT_VERSIONS`], since native tests cannot see whether the
/// component enables `wit-0-1`; the host checks it against the component's
/// export at load — `component = "plugin.wasm"`,
/// `config-schema = "config.schema.json"`, `charts`), a
/// `config.schema.json` equal to `E::config_schema()`, and a `Chart.yaml` in
/// every chart directory. With `STOREPLANE_BLESS=1` it writes the two files
/// instead. Comments and formatting in the files are free; values are compared.
///
/// # Panics
///
/// When a file is missing or differs, with what it should contain.
#[track_caller]
pub fn check_bundle_sources<E: Engine>(plugin_dir: impl AsRef<Path>, charts: &[&str]) {
    let dir = plugin_dir.as_ref();
    let manifest_path = dir.join(MANIFEST_FILE);
    let wit = fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|text| Manifest::parse(&text).ok())
        .map(|m| m.wit)
        .filter(|w| BUILDABLE_WIT_VERSIONS.contains(&w.as_str()))
        .unwrap_or_else(|| WIT_VERSION.to_owned());
    let engine = E::default();
    let info = engine.describe();
    let manifest = Manifest {
        id: info.id.into_string(),
        version: info.version,
        wit,
        component: COMPONENT_FILE.to_owned(),
        capabilities: info
            .capabilities
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        config_schema: SCHEMA_FILE.to_owned(),
        charts: charts.iter().map(|c| (*c).to_owned()).collect(),
    };
    if let Err(err) = manifest.validate() {
        panic!("describe() does not make a valid manifest: {err}");
    }
    let schema = engine.config_schema();
    let schema_text = match serde_json::to_string_pretty(&schema) {
        Ok(text) => text + "\n",
        Err(err) => panic!("config_schema() does not serialize: {err}"),
    };
    let bless = std::env::var(BLESS_ENV).is_ok_and(|v| v == "1");
    let schema_path = dir.join(SCHEMA_FILE);
    if bless {
        write(&manifest_path, &manifest.to_toml());
        write(&schema_path, &schema_text);
    }

    let hint = format!("run `{BLESS_ENV}=1 cargo test` to write it");
    let committed = read(&manifest_path, &hint);
    match Manifest::parse(&committed) {
        Ok(found) if found == manifest => {}
        Ok(_) => panic!(
            "{} differs from describe(); it should read:\n{}\n({hint})",
            manifest_path.display(),
            manifest.to_toml()
        ),
        Err(err) => panic!("{}: {err}", manifest_path.display()),
    }
    match serde_json::from_str::<Value>(&read(&schema_path, &hint)) {
        Ok(found) if found == schema => {}
        Ok(_) => panic!(
            "{} differs from config_schema() ({hint})",
            schema_path.display()
        ),
        Err(err) => panic!("{}: {err}", schema_path.display()),
    }
    for chart in charts {
        let chart_yaml = dir.join(chart).join("Chart.yaml");
        assert!(
            chart_yaml.is_file(),
            "chart {chart}: {} is missing",
            chart_yaml.display()
        );
    }
}

#[track_caller]
fn read(path: &Path, hint: &str) -> String {
    match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => panic!("{}: {err} ({hint})", path.display()),
    }
}

#[track_caller]
fn write(path: &Path, text: &str) {
    if let Err(err) = fs::write(path, text) {
        panic!("{}: {err}", path.display());
    }
}
