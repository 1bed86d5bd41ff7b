//! The sandbox, against real components built by `cargo xtask test` into
//! `target/test-plugins` (the `misbehave` and `future-wit` test plugins, and
//! the `static-site` example, which stays on plugin API 0.1).

#![allow(clippy::expect_used, clippy::unwrap_used)] // A failed expectation is the test failing.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use serde_json::{Value, json};
use storeplane_plugin_host::{
    Archive, CallError, Grants, HostBackend, HostConfig, HostError, JobPhase, KindScope, Level,
    LoadError, Operation, PluginHost, Release, SecretRef, StoreContext,
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
    deleted: Mutex<Vec<String>>,
    installed: Mutex<Vec<String>>,
    logs: Mutex<Vec<String>>,
    loud_logs: Mutex<Vec<String>>,
    /// `(operation, message)` of every refusal the host reported.
    refused: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl HostBackend for FakeCluster {
    async fn kind_scope(&self, _api_version: &str, kind: &str) -> Result<KindScope, HostError> {
        Ok(match kind {
            "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PriorityClass"
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
    async fn delete(
        &self,
        _: &StoreContext,
        _: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, HostError> {
        self.deleted.lock().unwrap().push(format!("{kind}/{name}"));
        Ok(false)
    }
    async fn install_or_upgrade(
        &self,
        _: &StoreContext,
        release: &str,
        _: &Path,
        _: Value,
    ) -> Result<Release, HostError> {
        self.installed.lock().unwrap().push(release.to_owned());
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
    fn log(&self, _plugin: &str, _store: Option<&StoreContext>, level: Level, message: &str) {
        self.logs.lock().unwrap().push(message.to_owned());
        if matches!(level, Level::Warn | Level::Error) {
            self.loud_logs.lock().unwrap().push(message.to_owned());
        }
    }
    fn refused(&self, plugin: &str, store: &StoreContext, operation: &str, message: &str) {
        assert_eq!(plugin, "misbehave", "{operation}: {message}");
        assert_eq!(store.name, "sandboxed");
        self.refused
            .lock()
            .unwrap()
            .push((operation.to_owned(), message.to_owned()));
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
        extra_hosts: Vec::new(),
        suspended: false,
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
    let refused = cluster.refused.lock().unwrap().clone();
    assert!(
        matches!(refused.as_slice(), [(op, message)] if op == "kube.apply" && message.contains("did not grant")),
        "{refused:?}"
    );
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
    copy_dir(&bundle("misbehave").join("charts"), &dir.join("charts"));
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

/// Each escape the review found, as a misbehave mode, with words the
/// refusal must contain. (`symlink-file` needs a doctored bundle: below.)
const ESCAPES: &[(&str, &str, &str)] = &[
    (
        "privileged-pod",
        "kube.apply",
        r#"privileged (container "root" must not set securityContext.privileged=true)"#,
    ),
    (
        "host-path",
        "kube.apply",
        r#"volume "node-root" uses restricted volume type "hostPath""#,
    ),
    ("lift-quota", "kube.apply", "storeplane-quota"),
    ("delete-netpol", "kube.delete", "storeplane-default-deny"),
    ("foreign-host-ingress", "kube.apply", "victim.localhost"),
    ("rbac-object", "kube.apply", "RBAC"),
    ("endpoints", "kube.apply", "endpoints"),
    ("path-like-name", "kube.get", "DNS-1123"),
];

#[tokio::test]
async fn every_escape_is_refused_reported_and_never_reaches_the_cluster() {
    for (mode, operation, words) in ESCAPES {
        let (result, cluster) = provision(mode).await;
        let err = result.expect_err(mode);
        let CallError::Plugin {
            reason, message, ..
        } = &err
        else {
            panic!("{mode}: expected the plugin's failure, got {err:?}");
        };
        assert_ne!(reason, "EscapeSucceeded", "{mode}: {message}");
        // The refusal text reached the plugin, which passed it on.
        assert!(
            (message.starts_with("denied: ") || message.starts_with("invalid: "))
                && message.contains(words),
            "{mode}: {message}"
        );
        let refused = cluster.refused.lock().unwrap().clone();
        assert!(
            refused
                .iter()
                .any(|(op, text)| op == operation && text == message),
            "{mode}: refusal not reported: {refused:?}"
        );
        assert!(cluster.applied.lock().unwrap().is_empty(), "{mode} applied");
        assert!(cluster.deleted.lock().unwrap().is_empty(), "{mode} deleted");
    }
}

#[tokio::test]
async fn both_rbac_objects_and_every_path_like_name_are_refused() {
    let (_, cluster) = provision("rbac-object").await;
    let refused = cluster.refused.lock().unwrap().clone();
    assert_eq!(refused.len(), 2, "Role and RoleBinding: {refused:?}");
    let (_, cluster) = provision("path-like-name").await;
    let refused = cluster.refused.lock().unwrap().clone();
    assert_eq!(refused.len(), 4, "get and delete of two names: {refused:?}");
    assert!(refused.iter().all(|(_, m)| m.starts_with("invalid: ")));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the misbehave bundle under a fresh temp directory.
fn bundle_copy(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "storeplane-symlink-{tag}-{}/misbehave",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&bundle("misbehave"), &dir);
    dir
}

/// Replaces the leak chart's file with a link to a host file.
#[cfg(unix)]
fn plant_link(bundle: &Path) {
    let file = bundle.join("charts/leak/files/leak.txt");
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &file).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_bundle_holding_a_symlink_is_rejected_at_load() {
    let copy = bundle_copy("load");
    plant_link(&copy);
    let cluster = Arc::new(FakeCluster::default());
    let mut host = PluginHost::new(HostConfig::new(bundles()), cluster).expect("host");
    let err = host.load_bundle(&copy).await.expect_err("symlink");
    assert!(matches!(err, LoadError::Symlink { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("leak.txt") && text.contains("symbolic link"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(copy.parent().unwrap());
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_that_appears_after_load_is_refused_at_install() {
    let copy = bundle_copy("install");
    let cluster = Arc::new(FakeCluster::default());
    let mut config = HostConfig::new(bundles());
    config.grants = Grants::all_requested();
    let mut host = PluginHost::new(config, cluster.clone()).expect("host");
    host.load_bundle(&copy).await.expect("clean copy loads");
    plant_link(&copy);

    let err = host
        .provision("misbehave", &store("symlink-file"))
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("denied: chart leak contains a symbolic link"),
        "{text}"
    );
    assert!(cluster.installed.lock().unwrap().is_empty());
    let refused = cluster.refused.lock().unwrap().clone();
    assert!(
        matches!(refused.as_slice(), [(op, _)] if op == "helm.install-or-upgrade"),
        "{refused:?}"
    );
    let _ = std::fs::remove_dir_all(copy.parent().unwrap());
}

#[tokio::test]
async fn an_observation_with_a_javascript_url_is_refused() {
    let (host, _) = host_with(Grants::all_requested(), Duration::from_secs(2)).await;
    let err = host
        .observe("misbehave", &store("bad-url"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, CallError::InvalidObservation { .. }),
        "{err:?}"
    );
    assert_eq!(err.reason(), "InvalidObservation");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("admin-url"), "{err}");
}

#[tokio::test]
async fn a_log_flood_is_capped_with_one_summary_line() {
    let (result, cluster) = provision("log-flood").await;
    result.expect("log-flood succeeds");
    let loud = cluster.loud_logs.lock().unwrap().clone();
    // 20 warnings, then one line saying how many were dropped.
    assert_eq!(loud.len(), 21, "{}", loud.len());
    assert!(loud[..20].iter().all(|l| l.chars().count() <= 1024));
    assert!(loud[20].starts_with("80 more log lines"), "{}", loud[20]);
}

/// A computing plugin yields to the runtime at every epoch tick: with two
/// endless `provision`s on a two-worker runtime, other tasks still run at
/// once, and both calls still end at their deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_plugins_do_not_freeze_the_runtime() {
    let (host, _) = host_with(Grants::all_requested(), Duration::from_secs(3)).await;
    let host = Arc::new(host);
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let host = Arc::clone(&host);
            tokio::spawn(async move { host.provision("misbehave", &store("loop")).await })
        })
        .collect();

    // The test body runs on its own thread, outside the two workers; the
    // pause between pings is a thread sleep so that it needs no worker
    // (the timer is driven by the workers).
    let mut slowest = Duration::ZERO;
    let mut pings = 0;
    while calls.iter().any(|c| !c.is_finished()) {
        let sent = std::time::Instant::now();
        tokio::spawn(async {}).await.expect("ping");
        slowest = slowest.max(sent.elapsed());
        pings += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    for call in calls {
        let err = call
            .await
            .expect("joined")
            .expect_err("loop never finishes");
        assert!(matches!(err, CallError::TimedOut { .. }), "{err:?}");
    }
    // A behavioural bound, far from the 3 s a blocked worker would cost.
    assert!(
        slowest < Duration::from_millis(500),
        "a trivial task waited {slowest:?} ({pings} pings)"
    );
    assert!(pings > 10, "only {pings} pings while the plugins ran");
}

#[tokio::test]
async fn a_0_1_plugin_and_0_2_plugins_are_served_side_by_side() {
    let cluster = Arc::new(FakeCluster::default());
    let mut config = HostConfig::new(bundles());
    config.grants = Grants::all_requested();
    let mut host = PluginHost::new(config, cluster.clone()).expect("host");
    let old = host
        .load_bundle(&bundle("static-site"))
        .await
        .expect("the 0.1 example loads")
        .clone();
    assert!(old.wit_version.starts_with("0.1."), "{}", old.wit_version);
    assert!(old.operations.is_empty());
    let new = host
        .load_bundle(&bundle("misbehave"))
        .await
        .expect("a 0.2 plugin loads beside it")
        .clone();
    assert!(new.wit_version.starts_with("0.2."), "{}", new.wit_version);
    assert_eq!(
        new.operations,
        [Operation::Backup, Operation::Suspend, Operation::Resume]
    );

    // The 0.1 plugin provisions through the same imports as ever.
    let mut site = store("ok");
    site.config = json!({"shop_title": "Old"});
    host.provision("static-site", &site)
        .await
        .expect("the 0.1 plugin provisions");
    assert!(
        !cluster.installed.lock().unwrap().is_empty()
            || !cluster.applied.lock().unwrap().is_empty(),
        "the 0.1 plugin reached the cluster"
    );
    // An operation 0.1 does not have is refused without calling the plugin.
    let err = host
        .suspend("static-site", &site)
        .await
        .expect_err("0.1 has no suspend");
    assert!(
        matches!(
            err,
            CallError::Unsupported {
                operation: Operation::Suspend,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "engine static-site does not support suspend"
    );

    // The 0.2 plugin's optional operations reach it with the 0.2 context.
    let mut paused = store("ok");
    paused.suspended = true;
    paused.extra_hosts = vec!["shop.example.org".into()];
    host.suspend("misbehave", &paused).await.expect("suspend");
    let applied = cluster.applied.lock().unwrap().clone();
    let suspension = applied
        .iter()
        .rfind(|o| o["metadata"]["name"] == "misbehave-suspension")
        .expect("suspend applied its ConfigMap");
    assert_eq!(suspension["data"]["state"], "suspended");
    assert_eq!(suspension["data"]["hosts"], "shop.example.org");
    host.resume("misbehave", &store("ok"))
        .await
        .expect("resume");

    let archive = Archive {
        id: "0190f5d2-0000-7000-8000-0000000000aa".into(),
        secret: "storeplane-backup-aa".into(),
        transfer_image: "example/transfer:1".into(),
    };
    let report = host
        .backup("misbehave", &store("ok"), &archive)
        .await
        .expect("backup");
    assert_eq!(report.phase, JobPhase::Succeeded);
    assert_eq!(report.size_bytes, Some(42));
    let bad = host
        .backup("misbehave", &store("bad-checksum"), &archive)
        .await
        .expect_err("a checksum that is no SHA-256 is refused");
    assert!(bad.to_string().contains("sha256"), "{bad}");
    // Not listed by the plugin: refused by the host.
    assert!(matches!(
        host.restore("misbehave", &store("ok"), &archive).await,
        Err(CallError::Unsupported {
            operation: Operation::Restore,
            ..
        })
    ));
}
