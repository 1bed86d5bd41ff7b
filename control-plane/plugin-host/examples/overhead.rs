//! Benchmark: what the sandbox costs per call. Prints the time to load
//! (compile) a component, to instantiate it in a fresh store, and a full
//! `provision` call that applies one object, over many iterations.
//!
//! `cargo run --release -p storeplane-plugin-host --example overhead`
//! (needs the bundles from `cargo xtask plugins`).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::{path::Path, sync::Arc, time::Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use storeplane_plugin_host::{
    Grants, HostBackend, HostConfig, HostError, KindScope, Level, PluginHost, Release, SecretRef,
    StoreContext,
};

struct Null;

#[async_trait]
impl HostBackend for Null {
    async fn kind_scope(&self, _: &str, _: &str) -> Result<KindScope, HostError> {
        Ok(KindScope::Namespaced)
    }
    async fn apply(&self, _: &StoreContext, object: Value) -> Result<Value, HostError> {
        Ok(object)
    }
    async fn get(
        &self,
        _: &StoreContext,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Option<Value>, HostError> {
        Ok(None)
    }
    async fn list(
        &self,
        _: &StoreContext,
        _: &str,
        _: &str,
        _: Option<&str>,
    ) -> Result<Vec<Value>, HostError> {
        Ok(vec![])
    }
    async fn delete(&self, _: &StoreContext, _: &str, _: &str, _: &str) -> Result<bool, HostError> {
        Ok(false)
    }
    async fn install_or_upgrade(
        &self,
        _: &StoreContext,
        _: &str,
        _: &Path,
        _: Value,
    ) -> Result<Release, HostError> {
        Err(HostError::Invalid("not in the benchmark".into()))
    }
    async fn uninstall(&self, _: &StoreContext, _: &str) -> Result<bool, HostError> {
        Ok(false)
    }
    async fn release_status(
        &self,
        _: &StoreContext,
        _: &str,
    ) -> Result<Option<Release>, HostError> {
        Ok(None)
    }
    async fn ensure_secret(
        &self,
        _: &StoreContext,
        name: &str,
        keys: &[String],
    ) -> Result<SecretRef, HostError> {
        Ok(SecretRef {
            name: name.into(),
            keys: keys.to_vec(),
        })
    }
    fn log(&self, _: &str, _: Option<&StoreContext>, _: Level, _: &str) {}
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-plugins");
    let mut config = HostConfig::new(&root);
    config.grants = Grants::all_requested();
    let started = Instant::now();
    let mut host = PluginHost::new(config, Arc::new(Null)).expect("host");
    host.load_bundle(&root.join("misbehave"))
        .await
        .expect("load misbehave");
    println!(
        "load (compile + link + describe): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let store = StoreContext {
        id: "0190f5d2-0000-7000-8000-000000000001".into(),
        name: "bench".into(),
        namespace: "store-bench".into(),
        tenant: "tenants/default".into(),
        config: json!({"mode": "ok"}),
        generation: 1,
        host: "bench.localhost".into(),
        ingress_class: None,
        storage_class: None,
        tls: false,
        cluster_issuer: None,
        extra_hosts: Vec::new(),
        suspended: false,
    };
    let iterations = 500;
    let mut validate = Vec::with_capacity(iterations);
    let mut provision = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        host.validate("misbehave", &json!({"mode": "ok"}))
            .await
            .expect("validate");
        validate.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        host.provision("misbehave", &store)
            .await
            .expect("provision");
        provision.push(t.elapsed().as_secs_f64() * 1e6);
    }
    for (name, mut samples) in [
        ("instantiate + validate (no host calls)", validate),
        ("instantiate + provision (1 host call)", provision),
    ] {
        samples.sort_by(f64::total_cmp);
        println!(
            "{name}: p50 {:.0} µs, p99 {:.0} µs over {iterations} calls",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99)
        );
    }
}
