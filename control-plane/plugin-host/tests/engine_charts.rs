//! Every engine's chart, rendered as the platform renders it (defaults,
//! `values-local.yaml`, `values-prod.yaml`), passes the object policy the
//! control plane applies to each rendered object: no platform names, no
//! refused kinds, only the store's own host, and pods that pass the
//! `restricted` Pod Security Standard. A policy that refused the engines'
//! own charts would break every store.

#![allow(clippy::expect_used, clippy::unwrap_used)] // A failed expectation is the test failing.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use storeplane_chart::{Chart, RenderOptions, Values};
use storeplane_plugin_host::{StoreContext, policy};

const ENGINES: &[(&str, &str)] = &[
    ("woocommerce", "charts/woocommerce"),
    ("medusa", "charts/medusa"),
    ("static-site", "charts/static-site"),
];

fn chart_dir(engine: &str, chart: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(engine)
        .join(chart)
}

fn store(host: &str) -> StoreContext {
    StoreContext {
        id: "0190f5d2-0000-7000-8000-000000000001".into(),
        name: "shop".into(),
        namespace: "store-shop".into(),
        tenant: "tenants/t".into(),
        config: json!({}),
        generation: 1,
        host: host.into(),
        ingress_class: None,
        storage_class: None,
        tls: true,
        cluster_issuer: None,
        extra_hosts: Vec::new(),
        suspended: false,
    }
}

/// The host the rendering routes (its first Ingress rule), which the store
/// would own: the chart's values name it.
fn routed_host(objects: &[Value]) -> String {
    objects
        .iter()
        .filter(|o| o["kind"] == "Ingress")
        .find_map(|o| o["spec"]["rules"][0]["host"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "shop.example.com".into())
}

#[test]
fn every_engine_chart_passes_the_object_policy() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (engine, chart) in ENGINES {
        let dir = chart_dir(engine, chart);
        let loaded = Chart::load(&dir).unwrap();
        for file in [None, Some("values-local.yaml"), Some("values-prod.yaml")] {
            let values = match file {
                None => Value::Null,
                Some(file) => {
                    Values::from_yaml(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
                }
            };
            let rendered = loaded
                .render(&RenderOptions {
                    release_name: "shop".into(),
                    namespace: "store-shop".into(),
                    values,
                    ..RenderOptions::default()
                })
                .unwrap_or_else(|e| panic!("{engine} {file:?}: {e}"));
            let objects: Vec<Value> = rendered.manifests.into_iter().map(|m| m.object).collect();
            let store = store(&routed_host(&objects));
            for object in &objects {
                checked += 1;
                if let Err(err) = policy::check_apply(&store, object) {
                    problems.push(format!("{engine} ({}): {err}", file.unwrap_or("defaults")));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked > 30, "only {checked} objects rendered");
}
