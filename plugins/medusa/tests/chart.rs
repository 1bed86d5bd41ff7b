//! The chart, rendered by the platform's chart engine (`storeplane-chart`)
//! with its defaults, values-local.yaml, values-prod.yaml and the values the
//! engine sends, held to the platform's policy: resources on every
//! container, probes on long-running ones, pinned images, secrets only from
//! Secrets, bounded Jobs, non-root Pods, within the namespace quota.

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
use storeplane_plugin_medusa::{Config, Names, helm_values};
use storeplane_plugin_sdk::Store;
use storeplane_plugin_sdk::testing::store_context;

const CHART_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/medusa");

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

fn plugin_values(tls: bool) -> Value {
    let mut context = store_context(json!({
        "admin_email": "owner@example.com", "region": "eu", "seed_demo_data": false
    }));
    context.tls = tls;
    context.cluster_issuer = Some("letsencrypt-prod".into());
    context.ingress_class = Some("traefik".into());
    context.storage_class = Some("local-path".into());
    let store: Store<Config> = Store::from_context(context).unwrap();
    helm_values(&store).unwrap()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn env_of(container: &Value) -> Vec<Value> {
    container["env"].as_array().unwrap().clone()
}

fn var(env: &[Value], name: &str) -> Value {
    env.iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
        .clone()
}

#[test]
fn every_rendering_meets_the_platform_policy() {
    for (case, values) in [
        ("defaults", Value::Null),
        ("values-local.yaml", values_file("values-local.yaml")),
        ("values-prod.yaml", values_file("values-prod.yaml")),
        ("engine values", plugin_values(true)),
    ] {
        let objects = render(values);
        let problems = policy::check(&objects);
        assert!(problems.is_empty(), "{case}: {problems:#?}");
    }
}

#[test]
fn the_engine_values_name_objects_as_observe_expects() {
    let values = plugin_values(true);
    let objects = render(values.clone());
    let names = Names::new("test-shop");
    find(&objects, "StatefulSet", &names.postgres);
    for deployment in [&names.redis, &names.backend, &names.storefront] {
        find(&objects, "Deployment", deployment);
    }
    let job = find(
        &objects,
        "Job",
        &names.init_job(values["init"]["jobSuffix"].as_str().unwrap()),
    );
    let env = env_of(&job["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(var(&env, "REGION_CURRENCY")["value"], "eur");
    assert_eq!(
        var(&env, "REGION_COUNTRIES")["value"],
        "de,dk,es,fr,it,nl,se"
    );
    assert_eq!(var(&env, "SEED_DEMO_DATA")["value"], "false");
    assert_eq!(
        var(&env, "ADMIN_PASSWORD")["valueFrom"]["secretKeyRef"],
        json!({"name": names.admin_secret, "key": "password"})
    );
    assert_eq!(
        var(&env, "PUBLISHABLE_KEY_SECRET")["valueFrom"]["secretKeyRef"],
        json!({"name": names.app_secret, "key": "publishable-key"})
    );
}

#[test]
fn cors_region_and_publishable_key_are_consistent_across_components() {
    let objects = render(plugin_values(true));
    let backend = find(&objects, "Deployment", "test-shop-backend");
    let backend_env = env_of(&backend["spec"]["template"]["spec"]["containers"][0]);
    for cors in ["STORE_CORS", "ADMIN_CORS", "AUTH_CORS"] {
        assert_eq!(
            var(&backend_env, cors)["value"],
            "https://test-shop.example.test"
        );
    }
    assert_eq!(var(&backend_env, "COOKIE_SECURE")["value"], "true");

    let storefront = find(&objects, "Deployment", "test-shop-storefront");
    let storefront_env = env_of(&storefront["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(
        var(&storefront_env, "NEXT_PUBLIC_DEFAULT_REGION")["value"],
        "de"
    );
    assert_eq!(
        var(&storefront_env, "MEDUSA_BACKEND_URL")["value"],
        "http://test-shop-backend:9000"
    );
    assert_eq!(
        var(&storefront_env, "NEXT_PUBLIC_BASE_URL")["value"],
        "https://test-shop.example.test"
    );
    // The storefront and the init Job read the key from the same Secret key.
    let init = objects.iter().find(|o| o["kind"] == "Job").unwrap();
    let init_env = env_of(&init["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(
        var(&storefront_env, "PUBLISHABLE_KEY_SECRET")["valueFrom"],
        var(&init_env, "PUBLISHABLE_KEY_SECRET")["valueFrom"]
    );
}

#[test]
fn plain_http_stores_send_cookies_without_the_secure_flag() {
    let objects = render(plugin_values(false));
    let backend = find(&objects, "Deployment", "test-shop-backend");
    let env = env_of(&backend["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(var(&env, "COOKIE_SECURE")["value"], "false");
    assert_eq!(
        var(&env, "STORE_CORS")["value"],
        "http://test-shop.example.test"
    );
}

#[test]
fn the_backend_waits_for_the_init_jobs_migrations() {
    let objects = render(Value::Null);
    let backend = find(&objects, "Deployment", "test-shop-backend");
    let init = &backend["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], "wait-for-migrations");
    assert!(
        init["command"][2]
            .as_str()
            .unwrap()
            .contains("db.mjs wait-migrated")
    );
}

#[test]
fn the_ingress_routes_backend_paths_and_the_rest_to_the_storefront() {
    let objects = render(plugin_values(true));
    let ingress = find(&objects, "Ingress", "test-shop");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-prod"
    );
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        "test-shop.example.test"
    );
    let paths = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .unwrap();
    let route = |path: &str| {
        paths
            .iter()
            .find(|p| p["path"] == path)
            .unwrap_or_else(|| panic!("no path {path}"))["backend"]["service"]["name"]
            .clone()
    };
    for path in ["/app", "/admin", "/store", "/auth", "/static", "/health"] {
        assert_eq!(route(path), "test-shop-backend", "{path}");
    }
    assert_eq!(route("/"), "test-shop-storefront");
}

#[test]
fn the_engine_values_set_the_storage_class() {
    let objects = render(plugin_values(true));
    let postgres = find(&objects, "StatefulSet", "test-shop-postgres");
    assert_eq!(
        postgres["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "local-path"
    );
    let defaults = render(Value::Null);
    let postgres = find(&defaults, "StatefulSet", "test-shop-postgres");
    assert!(
        postgres["spec"]["volumeClaimTemplates"][0]["spec"]
            .get("storageClassName")
            .is_none()
    );
}

#[test]
fn the_init_script_is_mounted_verbatim() {
    let objects = render(Value::Null);
    let config_map = find(&objects, "ConfigMap", "test-shop-init-script");
    assert_eq!(config_map["data"]["init.sh"], read("files/init.sh"));
}

#[test]
fn every_value_the_plugin_sends_is_declared_by_the_chart() {
    let schema: Value = serde_json::from_str(&read("values.schema.json")).unwrap();
    let problems = policy::undeclared(&plugin_values(true), &schema, "");
    assert!(problems.is_empty(), "{problems:#?}");
    let values_yaml = read("values.yaml");
    for key in plugin_values(true).as_object().unwrap().keys() {
        assert!(
            values_yaml
                .lines()
                .any(|l| l.starts_with(&format!("{key}:"))),
            "values.yaml has no top-level `{key}:`"
        );
    }
}

#[test]
fn images_are_pinned_official_or_built_from_this_crate() {
    let objects = render(Value::Null);
    assert_eq!(
        policy::images(&objects),
        [
            "ghcr.io/storeplane/medusa-backend:2.21.2",
            "ghcr.io/storeplane/medusa-storefront:2.21.2",
            "postgres:17.11-alpine",
            "redis:8.10.1-alpine"
        ]
    );
}
