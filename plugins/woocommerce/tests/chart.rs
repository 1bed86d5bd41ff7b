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

/// The engine's values for the store paused, with two custom domains.
fn paused_values() -> Value {
    let mut store = plugin_store();
    store.suspended = true;
    store.extra_hosts = vec![
        "shop.bean-leaf.example".into(),
        "www.bean-leaf.example".into(),
    ];
    helm_values(&store)
}

fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", Value::Null),
        ("values-local.yaml", values_file("values-local.yaml")),
        ("values-prod.yaml", values_file("values-prod.yaml")),
        ("engine values", plugin_values()),
        ("engine values, paused, custom domains", paused_values()),
    ]
}

/// What `helm template` prints for `values`.
fn template_output(values: Value) -> String {
    Chart::load(CHART_DIR)
        .unwrap()
        .render(&RenderOptions {
            release_name: "test-shop".into(),
            namespace: "store-test".into(),
            values,
            ..RenderOptions::default()
        })
        .unwrap()
        .to_helm_template_output()
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

#[test]
fn a_running_store_renders_exactly_what_it_did_before_suspend_and_custom_domains() {
    // `suspended: false` and no `extraHosts` are the chart's defaults, so
    // leaving them out (as the engine did before they existed) must not
    // change a byte; and nothing of the paused page is rendered.
    let values = plugin_values();
    assert_eq!(values["suspended"], false);
    let mut before = values.clone();
    before.as_object_mut().unwrap().remove("suspended");
    let text = template_output(values.clone());
    assert_eq!(text, template_output(before));
    assert!(!text.contains("paused"), "{text}");
    let objects = render(values);
    for (kind, name) in [
        ("StatefulSet", "test-shop-mysql"),
        ("Deployment", "test-shop-wordpress"),
    ] {
        assert_eq!(find(&objects, kind, name)["spec"]["replicas"], 1);
    }
}

#[test]
fn a_suspended_store_runs_no_shop_pod_and_keeps_its_data_and_setup_job() {
    let values = paused_values();
    let objects = render(values.clone());
    let names = Names::new("test-shop");
    assert_eq!(
        find(&objects, "StatefulSet", &names.mysql)["spec"]["replicas"],
        0
    );
    assert_eq!(
        find(&objects, "Deployment", &names.wordpress)["spec"]["replicas"],
        0
    );
    // The data stays: the WordPress claim (MySQL's is the StatefulSet's own).
    find(&objects, "PersistentVolumeClaim", &names.wordpress);
    // The setup Job keeps its name; an unfinished one waits for the resume.
    let job = find(
        &objects,
        "Job",
        &names.setup_job(values["setup"]["jobSuffix"].as_str().unwrap()),
    );
    assert_eq!(job["spec"]["suspend"], true);
    let mut paused_only = plugin_store();
    paused_only.suspended = true;
    assert_eq!(
        helm_values(&paused_only)["setup"],
        plugin_values()["setup"],
        "pausing must not rename the setup Job"
    );
}

#[test]
fn a_suspended_store_serves_a_503_paused_page_on_every_host() {
    let objects = render(paused_values());
    let page = find(&objects, "Deployment", "test-shop-paused");
    assert_eq!(page["spec"]["replicas"], 1);
    let pod = &page["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 101);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    let config = find(&objects, "ConfigMap", "test-shop-paused");
    let html = config["data"]["paused.html"].as_str().unwrap();
    assert!(
        html.contains("<h1>Bean &amp; Leaf is paused</h1>"),
        "{html}"
    );
    let conf = config["data"]["default.conf"].as_str().unwrap();
    for directive in [
        "listen 8080;",
        "error_page 503 /paused.html;",
        "return 503;",
        "add_header Retry-After \"3600\" always;",
    ] {
        assert!(conf.contains(directive), "{directive} not in {conf}");
    }
    let service = find(&objects, "Service", "test-shop-paused");
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/component"],
        "paused"
    );

    let ingress = find(&objects, "Ingress", "test-shop");
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    for rule in rules {
        assert_eq!(
            rule["http"]["paths"][0]["backend"]["service"]["name"], "test-shop-paused",
            "{rule}"
        );
    }

    // The ingress controller reaches the page as it reaches WordPress.
    let wordpress = find(&objects, "NetworkPolicy", "test-shop-wordpress-ingress");
    let paused = find(&objects, "NetworkPolicy", "test-shop-paused-ingress");
    assert_eq!(
        paused["spec"]["ingress"][0]["from"],
        wordpress["spec"]["ingress"][0]["from"]
    );
    assert_eq!(
        paused["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "paused"
    );
    assert_eq!(paused["spec"]["ingress"][0]["ports"][0]["port"], 8080);
}

#[test]
fn the_paused_page_uses_the_static_site_charts_nginx_pin() {
    let static_site = Values::from_yaml(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../static-site/charts/static-site/values.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let ours = values_file("values.yaml");
    assert_eq!(
        ours["images"]["paused"]["repository"],
        static_site["image"]["repository"]
    );
    assert_eq!(ours["images"]["paused"]["tag"], static_site["image"]["tag"]);
    let objects = render(paused_values());
    assert!(
        policy::images(&objects).contains(&"nginxinc/nginx-unprivileged:1.27.4-alpine".to_owned())
    );
}

#[test]
fn custom_domains_get_a_rule_each_and_share_the_certificate() {
    let mut store = plugin_store();
    store.extra_hosts = vec![
        "shop.bean-leaf.example".into(),
        "www.bean-leaf.example".into(),
    ];
    let objects = render(helm_values(&store));
    let ingress = find(&objects, "Ingress", "test-shop");
    let hosts = [
        "test-shop.example.test",
        "shop.bean-leaf.example",
        "www.bean-leaf.example",
    ];
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"hosts": hosts, "secretName": "test-shop-tls"}])
    );
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    let rule_hosts: Vec<_> = rules.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(rule_hosts, hosts);
    for rule in rules {
        assert_eq!(rule["http"], rules[0]["http"]);
        assert_eq!(
            rule["http"]["paths"][0]["backend"]["service"]["name"],
            "test-shop-wordpress"
        );
    }
    // WordPress's address, set by the setup Job, is the first custom domain.
    let job = objects.iter().find(|o| o["kind"] == "Job").unwrap();
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let url = env.iter().find(|e| e["name"] == "STORE_URL").unwrap();
    assert_eq!(url["value"], "https://shop.bean-leaf.example");
}
