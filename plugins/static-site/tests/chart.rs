//! The values the engine passes must be values the chart declares: every
//! key the plugin sends exists in `values.schema.json` and `values.yaml`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a missing chart file should fail the test"
)]

use serde_json::{Value, json};
use storeplane_plugin_sdk::Store;
use storeplane_plugin_sdk::testing::store_context;
use storeplane_plugin_static_site::helm_values;

const CHART_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/static-site");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{CHART_DIR}/{file}")).unwrap()
}

fn sent_values() -> Value {
    let mut context = store_context(json!({}));
    context.tls = true;
    context.cluster_issuer = Some("letsencrypt".into());
    helm_values(&Store::from_context(context).unwrap())
}

/// Walks `values` beside the schema, collecting paths the schema lacks or
/// types it disagrees with.
fn check(values: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let want = schema["type"].as_str().unwrap_or("any");
    let got = match values {
        Value::Object(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Null => "null",
    };
    if want != "any" && want != got {
        problems.push(format!(
            "{path}: the plugin sends {got}, the schema wants {want}"
        ));
    }
    if let Value::Object(fields) = values {
        for (key, value) in fields {
            let sub = &schema["properties"][key];
            if sub.is_null() {
                problems.push(format!("{path}.{key}: not in values.schema.json"));
            } else {
                check(value, sub, &format!("{path}.{key}"), problems);
            }
        }
    }
}

#[test]
fn every_value_the_plugin_sends_is_declared_by_the_chart_schema() {
    let schema: Value = serde_json::from_str(&read("values.schema.json")).unwrap();
    let mut problems = Vec::new();
    check(&sent_values(), &schema, "", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_top_level_value_the_plugin_sends_has_a_default_in_values_yaml() {
    let values_yaml = read("values.yaml");
    let sent = sent_values();
    for key in sent.as_object().unwrap().keys() {
        assert!(
            values_yaml
                .lines()
                .any(|l| l.starts_with(&format!("{key}:"))),
            "values.yaml has no top-level `{key}:`"
        );
    }
}

#[test]
fn chart_declares_its_name_and_a_pinned_non_root_image() {
    let chart = read("Chart.yaml");
    assert!(chart.lines().any(|l| l == "name: static-site"), "{chart}");
    let values_yaml = read("values.yaml");
    assert!(values_yaml.contains("repository: nginxinc/nginx-unprivileged"));
    let tag = values_yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("tag: "))
        .unwrap()
        .trim_matches('"');
    assert!(
        tag.ends_with("-alpine") && tag.split('.').count() == 3,
        "tag {tag} is not pinned"
    );
}
