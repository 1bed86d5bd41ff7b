//! The sandbox, against real components built by `cargo xtask test` into
//! `target/test-plugins` (the `misbehave` and `future-wit` test plugins).

#![allow(clippy::expect_used, clippy::unwrap_used)] // A failed expectation is the test failing.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use serde_json::{Value, json};
use storeplane_plugin_host::{
    CallError, Grants, HostBackend, HostConfig, HostError, KindScope, Level, LoadError, PluginHost,
    Release, SecretRef, StoreContext,
};

fn bundles() -> PathBuf {
    std::env::var_os("STOREPLANE_TEST_PLUGINS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-plugins"))
}

fn bundle(id: &str) -> PathBuf {
    let path = bundles().join(id);
    assert!(
        path.join("plugin.toml").is_file(),
        "{} missing: build the plugins with `cargo xtask test` (or `cargo xtask plugins`)",
        path.display()
    );
    path
}

/// A namespace in memory that records what the plugin did.
#[derive(Default)]
struct FakeCluster {
    applied: Mutex<Vec<Value>>,
    logs: Mutex<Vec<String>>,
}

#[async_trait]
impl HostBackend for FakeCluster {
    async fn kind_scope(&self, _api_version: &str, kind: &str) -> Result<KindScope, HostError> {
        Ok(match kind {
            "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "Node"
            | "CustomResourceDefinition" => KindScope::Cluster,
            _ => KindScope::Namespaced,
        })
    }
    async fn apply(&self, _store: &StoreContext, object: Value) -> Result<Value, HostError> {
        self.applied.lock().unwrap().push(object.clone());
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
        Ok(Vec::new())
    }
    async fn delete(&self, _: &StoreContext, _: &str, _: &str, _: &str) -> Result<bool, HostError> {
        Ok(false)
    }
    async fn install_or_upgrade(
        &self,
        _: &StoreContext,
        release: &str,
        _: &Path,
        _: Value,
    ) -> Result<Release, HostError> {
        Ok(Release {
            name: release.into(),
            chart: "x".into(),
            chart_version: "1".into(),
            revision: 1,
            digest: String::new(),
        })
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
    fn log(&self, _plugin: &str, _store: Option<&StoreContext>, _level: Level, message: &str) {
        self.logs.lock().unwrap().push(message.to_owned());
    }
}

fn store(mode: &str) -> StoreContext {
    StoreContext {
        id: "0190f5d2-0000-7000-8000-000000000001".into(),
        name: "sandboxed".into(),
        namespace: "store-sandboxed".into(),
        tenant: "tenants/default".into(),
        config: json!({"mode": mode}),
        generation: 1,
        host: "sandboxed.localhost".into(),
        ingress_class: None,
        storage_class: None,
        tls: false,
        cluster_issuer: None,
    }
}

async fn host_with(grants: Grants, timeout: Duration) -> (PluginHost, Arc<FakeCluster>) {
    let cluster = Arc::new(FakeCluster::default());
    let mut config = HostConfig::new(bundles());
    config.grants = grants;
    config.call_timeout = timeout;
    config.memory_limit = 64 << 20;
    config.max_concurrent_calls = 4;
    let mut host = PluginHost::new(config, cluster.clone()).expect("host");
    host.load_bundle(&bundle("misbehave"))
        .await
        .expect("misbehave loads");
    (host, cluster)
}

async fn provision(mode: &str) -> (Result<(), CallError>, Arc<FakeCluster>) {
    let (host, cluster) = host_with(Grants::all_requested(), Duration::from_secs(2)).await;
    (host.provision("misbehave", &store(mode)).await, cluster)
}

#[tokio::test]
async fn a_behaving_plugin_applies_into_its_own_namespace() {
    let (result, cluster) = provision("ok").await;
    result.expect("ok mode succeeds");
    let applied = cluster.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["metadata"]["namespace"], "store-sandboxed");
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let started = std::time::Instant::now();
    let (result, _) = provision("loop").await;
    let err = result.expect_err("loop must not finish");
    assert!(matches!(err, CallError::TimedOut { .. }), "{err:?}");
    assert_eq!(err.reason(), "PluginTimedOut");
    assert!(err.to_string().contains("timed out"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn allocating_past_the_limit_is_out_of_memory() {
    let (result, _) = provision("oom").await;
    let err = result.expect_err("oom must not finish");
    assert!(matches!(err, CallError::OutOfMemory { .. }), "{err:?}");
    assert_eq!(err.reason(), "PluginOutOfMemory");
}

#[tokio::test]
async fn other_namespaces_and_cluster_scoped_kinds_are_denied() {
    for (mode, words) in [
        ("other-namespace", "kube-system"),
        ("cluster-scoped", "cluster-scoped"),
    ] {
        let (result, cluster) = provision(mode).await;
        let err = result.expect_err(mode);
        let text = err.to_string();
        assert!(matches!(err, CallError::Plugin { .. }), "{mode}: {err:?}");
        assert!(
            text.contains("denied") && text.contains(words),
            "{mode}: {text}"
        );
        assert!(
            cluster.applied.lock().unwrap().is_empty(),
            "{mode} reached the cluster"
        );
    }
}

#[tokio::test]
async fn files_and_environment_are_invisible() {
    let (result, _) = provision("read-file").await;
    let text = result.expect_err("read-file reports").to_string();
    assert!(!text.contains("root:"), "read /etc/passwd: {text}");
    assert!(text.contains("0 vars") || text.contains("env: 0"), "{text}");
}

#[tokio::test]
async fn a_plugin_error_and_a_trap_are_different_failures() {
    let (said_no, _) = provision("fail").await;
    let (panicked, _) = provision("panic").await;
    let said_no = said_no.expect_err("fail");
    let panicked = panicked.expect_err("panic");
    assert_eq!(said_no.reason(), "PluginSaidNo");
    assert!(matches!(said_no, CallError::Plugin { .. }));
    assert_eq!(panicked.reason(), "PluginCrashed");
    assert!(matches!(panicked, CallError::Trapped { .. }));
}

#[tokio::test]
async fn stderr_is_captured_into_the_log() {
    let (result, cluster) = provision("stderr").await;
    result.expect("stderr mode succeeds");
    let logs = cluster.logs.lock().unwrap().clone();
    assert!(logs.iter().any(|l| l.starts_with("stderr:")), "{logs:?}");
}

#[tokio::test]
async fn calls_outside_the_operators_grant_are_denied() {
    // The manifest asks for everything; the operator grants nothing.
    let (host, cluster) = host_with(Grants::default(), Duration::from_secs(2)).await;
    let err = host
        .provision("misbehave", &store("ok"))
        .await
        .expect_err("ungranted");
    assert!(err.to_string().contains("did not grant"), "{err}");
    assert!(cluster.applied.lock().unwrap().is_empty());
    let description = host.engine("misbehave").expect("loaded");
    assert!(description.granted.is_empty() && !description.requested.is_empty());
}

#[tokio::test]
async fn malformed_and_future_components_are_rejected_with_reasons() {
    let cluster = Arc::new(FakeCluster::default());
    let mut host = PluginHost::new(HostConfig::new(bundles()), cluster).expect("host");

    let err = host
        .load_bundle(&bundle("future-wit"))
        .await
        .expect_err("future WIT");
    assert!(
        matches!(err, LoadError::IncompatibleVersion { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("0.9.0") && text.contains("0.1.x"), "{text}");

    let dir = std::env::temp_dir().join(format!("storeplane-malformed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        bundle("misbehave").join("plugin.toml"),
        dir.join("plugin.toml"),
    )
    .unwrap();
    std::fs::copy(
        bundle("misbehave").join("config.schema.json"),
        dir.join("config.schema.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("plugin.wasm"),
        b"\0asm\x0d\0\x01\0garbage that is not a component",
    )
    .unwrap();
    let err = host.load_bundle(&dir).await.expect_err("malformed");
    assert!(
        matches!(err, LoadError::MalformedComponent { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("not a valid WebAssembly component")
    );

    // A manifest that disagrees with the component is rejected too.
    std::fs::copy(
        bundle("misbehave").join("plugin.wasm"),
        dir.join("plugin.wasm"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(dir.join("plugin.toml"))
        .unwrap()
        .replace("version = \"0.1.0\"\nwit", "version = \"9.9.9\"\nwit");
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    let err = host.load_bundle(&dir).await.expect_err("mismatch");
    assert!(err.to_string().contains("9.9.9"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_component_cache_is_reused() {
    let cache = std::env::temp_dir().join(format!("storeplane-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    for _ in 0..2 {
        let mut config = HostConfig::new(bundles());
        config.cache_dir = Some(cache.clone());
        let mut host = PluginHost::new(config, Arc::new(FakeCluster::default())).expect("host");
        host.load_bundle(&bundle("misbehave")).await.expect("loads");
    }
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(cached.len(), 1, "one compiled artifact, reused");
    let _ = std::fs::remove_dir_all(&cache);
}
