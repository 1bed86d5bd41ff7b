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

fn plugin_store(tls: bool) -> Store<Config> {
    let mut context = store_context(json!({
        "admin_email": "owner@example.com", "region": "eu", "seed_demo_data": false
    }));
    context.tls = tls;
    context.cluster_issuer = Some("letsencrypt-prod".into());
    context.ingress_class = Some("traefik".into());
    context.storage_class = Some("local-path".into());
    Store::from_context(context).unwrap()
}

fn plugin_values(tls: bool) -> Value {
    helm_values(&plugin_store(tls)).unwrap()
}

const DOMAINS: [&str; 2] = ["shop.bean-leaf.example", "www.bean-leaf.example"];

/// The engine's values for a store with two custom domains.
fn domain_values(tls: bool, suspended: bool) -> Value {
    let mut store = plugin_store(tls);
    store.extra_hosts = DOMAINS.map(str::to_owned).to_vec();
    store.suspended = suspended;
    helm_values(&store).unwrap()
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
        (
            "engine values, paused, custom domains",
            domain_values(true, true),
        ),
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

const SHOP: [(&str, &str); 4] = [
    ("StatefulSet", "test-shop-postgres"),
    ("Deployment", "test-shop-redis"),
    ("Deployment", "test-shop-backend"),
    ("Deployment", "test-shop-storefront"),
];

#[test]
fn a_running_store_renders_exactly_what_it_did_before_suspend_and_custom_domains() {
    // `suspended: false` and no `extraHosts` are the chart's defaults, so
    // leaving them out (as the engine did before they existed) must not
    // change a byte; and nothing of the paused page is rendered.
    let values = plugin_values(true);
    assert_eq!(values["suspended"], false);
    let mut before = values.clone();
    before.as_object_mut().unwrap().remove("suspended");
    let text = template_output(values.clone());
    assert_eq!(text, template_output(before));
    assert!(!text.contains("paused"), "{text}");
    let objects = render(values);
    for (kind, name) in SHOP {
        assert_eq!(find(&objects, kind, name)["spec"]["replicas"], 1, "{name}");
    }
}

#[test]
fn a_suspended_store_runs_no_shop_pod_and_keeps_its_data_and_init_job() {
    let mut store = plugin_store(true);
    store.suspended = true;
    let values = helm_values(&store).unwrap();
    assert_eq!(
        values["init"],
        plugin_values(true)["init"],
        "pausing must not rename the init Job"
    );
    let objects = render(values.clone());
    for (kind, name) in SHOP {
        assert_eq!(find(&objects, kind, name)["spec"]["replicas"], 0, "{name}");
    }
    // The data stays: PostgreSQL's claim template and the Secrets it names.
    let postgres = find(&objects, "StatefulSet", "test-shop-postgres");
    assert_eq!(
        postgres["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let job = find(
        &objects,
        "Job",
        &Names::new("test-shop").init_job(values["init"]["jobSuffix"].as_str().unwrap()),
    );
    assert_eq!(job["spec"]["suspend"], true);
}

#[test]
fn a_suspended_store_serves_a_503_paused_page_on_every_host() {
    let objects = render(domain_values(true, true));
    let page = find(&objects, "Deployment", "test-shop-paused");
    assert_eq!(page["spec"]["replicas"], 1);
    let pod = &page["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 101);
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );

    let config = find(&objects, "ConfigMap", "test-shop-paused");
    let html = config["data"]["paused.html"].as_str().unwrap();
    assert!(html.contains("This store is paused"), "{html}");
    let conf = config["data"]["default.conf"].as_str().unwrap();
    for directive in [
        "listen 8080;",
        "error_page 503 /paused.html;",
        "return 503;",
        "add_header Retry-After \"3600\" always;",
    ] {
        assert!(conf.contains(directive), "{directive} not in {conf}");
    }
    find(&objects, "Service", "test-shop-paused");

    let ingress = find(&objects, "Ingress", "test-shop");
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    for rule in rules {
        let paths = rule["http"]["paths"].as_array().unwrap();
        assert_eq!(paths.len(), 1, "{rule}");
        assert_eq!(paths[0]["path"], "/");
        assert_eq!(paths[0]["backend"]["service"]["name"], "test-shop-paused");
    }

    // The ingress controller reaches the page as it reaches the storefront.
    let web = find(&objects, "NetworkPolicy", "test-shop-web-ingress");
    let paused = find(&objects, "NetworkPolicy", "test-shop-paused-ingress");
    assert_eq!(
        paused["spec"]["ingress"][0]["from"],
        web["spec"]["ingress"][0]["from"]
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
}

#[test]
fn custom_domains_get_the_same_paths_share_the_certificate_and_are_cors_origins() {
    let objects = render(domain_values(true, false));
    let ingress = find(&objects, "Ingress", "test-shop");
    let hosts = [
        "test-shop.example.test",
        "shop.bean-leaf.example",
        "www.bean-leaf.example",
    ];
    assert_eq!(ingress["spec"]["tls"][0]["hosts"], json!(hosts));
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    let rule_hosts: Vec<_> = rules.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(rule_hosts, hosts);
    for rule in rules {
        assert_eq!(rule["http"], rules[0]["http"]);
    }
    assert_eq!(
        rules[0]["http"]["paths"].as_array().unwrap().len(),
        values_file("values.yaml")["ingress"]["backendPaths"]
            .as_array()
            .unwrap()
            .len()
            + 1
    );

    // The first custom domain is the shop's address; every host is an origin.
    let origins = "https://shop.bean-leaf.example,https://test-shop.example.test,https://www.bean-leaf.example";
    let backend = find(&objects, "Deployment", "test-shop-backend");
    let backend_env = env_of(&backend["spec"]["template"]["spec"]["containers"][0]);
    for cors in ["STORE_CORS", "ADMIN_CORS", "AUTH_CORS"] {
        assert_eq!(var(&backend_env, cors)["value"], origins, "{cors}");
    }
    let storefront = find(&objects, "Deployment", "test-shop-storefront");
    let storefront_env = env_of(&storefront["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(
        var(&storefront_env, "NEXT_PUBLIC_BASE_URL")["value"],
        "https://shop.bean-leaf.example"
    );
    // The init Job runs with the same settings as the backend.
    let init = objects.iter().find(|o| o["kind"] == "Job").unwrap();
    let init_env = env_of(&init["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(var(&init_env, "STORE_CORS")["value"], origins);
}
