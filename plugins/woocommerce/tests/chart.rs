//! The chart, rendered by the platform's chart engine (`storeplane-chart`)
//! with its defaults, values-local.yaml, values-prod.yaml and the values the
//! engine sends, held to the platform's policy: resources on every
//! container, probes on long-running ones, pinned images, passwords only
//! from Secrets, bounded Jobs, non-root Pods, within the namespace quota.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a chart that does not load or render fails the test"
)]

// The platform's chart policy, shared by every engine's chart tests.
#[path = "../../testing/chart_policy.rs"]
mod policy;

use serde_json::{Value, json};
use storeplane_chart::{Chart, RenderOptions, Values};
use storeplane_plugin_sdk::Store;
use storeplane_plugin_sdk::testing::store_context;
use storeplane_plugin_woocommerce::{Config, Names, helm_values};

const CHART_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/woocommerce");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{CHART_DIR}/{file}")).unwrap()
}

fn render(values: Value) -> Vec<Value> {
    let chart = Chart::load(CHART_DIR).unwrap();
    let rendered = chart
        .render(&RenderOptions {
            release_name: "test-shop".into(),
            namespace: "store-test".into(),
            values,
            ..RenderOptions::default()
        })
        .unwrap();
    assert!(
        rendered.hooks.is_empty(),
        "the chart must not rely on hooks"
    );
    rendered.manifests.into_iter().map(|m| m.object).collect()
}

fn values_file(file: &str) -> Value {
    Values::from_yaml(&read(file)).unwrap()
}

fn plugin_store() -> Store<Config> {
    let mut context = store_context(json!({
        "store_title": "Bean & Leaf", "admin_email": "owner@example.com",
        "currency": "GBP", "sample_products": 12
    }));
    context.tls = true;
    context.cluster_issuer = Some("letsencrypt-prod".into());
    context.ingress_class = Some("traefik".into());
    context.storage_class = Some("local-path".into());
    Store::from_context(context).unwrap()
}

fn plugin_values() -> Value {
    helm_values(&plugin_store())
}

fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", Value::Null),
        ("values-local.yaml", values_file("values-local.yaml")),
        ("values-prod.yaml", values_file("values-prod.yaml")),
        ("engine values", plugin_values()),
    ]
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn every_rendering_meets_the_platform_policy() {
    for (case, values) in cases() {
        let objects = render(values);
        let problems = policy::check(&objects);
        assert!(problems.is_empty(), "{case}: {problems:#?}");
    }
}

#[test]
fn the_engine_values_name_objects_as_observe_expects() {
    let values = plugin_values();
    let objects = render(values.clone());
    let names = Names::new("test-shop");
    find(&objects, "StatefulSet", &names.mysql);
    find(&objects, "Deployment", &names.wordpress);
    let job = find(
        &objects,
        "Job",
        &names.setup_job(values["setup"]["jobSuffix"].as_str().unwrap()),
    );
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap().clone();
    assert_eq!(var("STORE_URL")["value"], "https://test-shop.example.test");
    assert_eq!(var("STORE_CURRENCY")["value"], "GBP");
    assert_eq!(var("SAMPLE_PRODUCTS")["value"], "12");
    assert_eq!(
        var("ADMIN_PASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": names.admin_secret, "key": "password"})
    );
}

#[test]
fn the_engine_values_set_host_tls_class_and_storage() {
    let objects = render(plugin_values());
    let ingress = find(&objects, "Ingress", "test-shop");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-prod"
    );
    assert_eq!(
        ingress["spec"]["tls"][0],
        json!({"hosts": ["test-shop.example.test"], "secretName": "test-shop-tls"})
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "test-shop.example.test"
    );
    let claim = find(&objects, "PersistentVolumeClaim", "test-shop-wordpress");
    assert_eq!(claim["spec"]["storageClassName"], "local-path");
    let mysql = find(&objects, "StatefulSet", "test-shop-mysql");
    assert_eq!(
        mysql["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "local-path"
    );
}

#[test]
fn without_a_storage_class_the_cluster_default_is_used() {
    let objects = render(values_file("values.yaml"));
    let claim = find(&objects, "PersistentVolumeClaim", "test-shop-wordpress");
    assert!(claim["spec"].get("storageClassName").is_none(), "{claim}");
}

#[test]
fn the_setup_script_is_mounted_verbatim() {
    let objects = render(Value::Null);
    let config_map = find(&objects, "ConfigMap", "test-shop-setup-script");
    assert_eq!(config_map["data"]["setup.sh"], read("files/setup.sh"));
}

#[test]
fn every_value_the_plugin_sends_is_declared_by_the_chart() {
    let schema: Value = serde_json::from_str(&read("values.schema.json")).unwrap();
    let problems = policy::undeclared(&plugin_values(), &schema, "");
    assert!(problems.is_empty(), "{problems:#?}");
    let values_yaml = read("values.yaml");
    for key in plugin_values().as_object().unwrap().keys() {
        assert!(
            values_yaml
                .lines()
                .any(|l| l.starts_with(&format!("{key}:"))),
            "values.yaml has no top-level `{key}:`"
        );
    }
}

#[test]
fn images_are_the_official_ones() {
    let objects = render(Value::Null);
    let images = policy::images(&objects);
    assert_eq!(
        images,
        [
            "mysql:8.4.11",
            "wordpress:7.1.2-php8.4-apache",
            "wordpress:cli-2.12.0-php8.4"
        ]
    );
}
