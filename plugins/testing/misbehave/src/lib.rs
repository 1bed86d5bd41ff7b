//! `misbehave`: a plugin for the host's sandbox tests. `provision` does what
//! the store configuration's `mode` says, from behaving to trapping; the
//! other operations behave.
//!
//! | mode              | provision                                                     |
//! |-------------------|---------------------------------------------------------------|
//! | `ok`              | applies ConfigMap `misbehave`, returns Ok                     |
//! | `loop`            | spins forever without host calls (the deadline must stop it)  |
//! | `oom`             | allocates and touches memory until it traps                   |
//! | `other-namespace` | applies a ConfigMap into `kube-system`; failure with host text|
//! | `cluster-scoped`  | applies a PriorityClass; failure with host text               |
//! | `read-file`       | reads /etc/passwd and the environment; failure saying so      |
//! | `fail`            | failure `PluginSaidNo`                                        |
//! | `panic`           | panics (a trap)                                               |
//! | `stderr`          | writes a line to stderr, returns Ok                           |
//! | `privileged-pod`  | applies a Pod with `privileged: true`                         |
//! | `host-path`       | applies a Deployment mounting the node's `/` (hostPath)       |
//! | `lift-quota`      | re-applies `storeplane-quota` with an empty `hard`            |
//! | `delete-netpol`   | deletes the NetworkPolicy `storeplane-default-deny`           |
//! | `foreign-host-ingress` | applies an Ingress for `victim.<base domain>`            |
//! | `rbac-object`     | applies a Role and a RoleBinding (both must be refused)       |
//! | `endpoints`       | applies Endpoints pointing at an IP                           |
//! | `symlink-file`    | installs chart `leak`, whose `files/leak.txt` a test replaces |
//! |                   | with a link (e.g. to /etc/hostname), `.Files.Get` into a      |
//! |                   | ConfigMap                                                     |
//! | `path-like-name`  | `kube.get`/`kube.delete` of `../../secrets/x` and `a/b`       |
//! | `log-flood`       | logs 100 warnings of 10,000 characters, returns Ok            |
//! | `bad-url`         | provisions fine; `observe` reports a `javascript:` admin URL  |
//! | `bad-quantity`    | applies a Deployment asking for `cpu: lots`; the cluster's    |
//! |                   | refusal is returned as it came                                |
//!
//! The optional operations of plugin API 0.2, for the host's version tests:
//! `suspend` and `resume` apply ConfigMap `misbehave-suspension` (`state`:
//! `suspended`/`resumed`, `hosts`: the store's custom domains); `backup`
//! reports a succeeded archive (`bad-checksum` mode: a checksum that is no
//! SHA-256, which the host must refuse); `restore` is not implemented.
//!
//! Escape attempts the host wrongly allows end in failure `EscapeSucceeded`,
//! so a test expecting "denied" fails loudly rather than passing by accident;
//! a refused attempt returns the host's text (`denied: ...`, `invalid: ...`).

use serde::Deserialize;
use serde_json::{Value, json};
use storeplane_plugin_sdk::{
    Archive, Capability, Engine, EngineId, EngineInfo, Failure, Host, JobStatus, Observation,
    Operation, Result, Store, objects,
};

/// The engine.
#[derive(Debug, Default)]
pub struct Misbehave;

/// What `provision` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Apply one ConfigMap and succeed.
    Ok,
    /// Spin forever.
    Loop,
    /// Exhaust memory.
    Oom,
    /// Apply into `kube-system`.
    OtherNamespace,
    /// Apply a cluster-scoped object.
    ClusterScoped,
    /// Read a file and the environment.
    ReadFile,
    /// Return a failure.
    Fail,
    /// Panic.
    Panic,
    /// Write to stderr.
    Stderr,
    /// Apply a privileged Pod.
    PrivilegedPod,
    /// Apply a Deployment with a hostPath volume of `/`.
    HostPath,
    /// Re-apply the platform's quota with nothing in it.
    LiftQuota,
    /// Delete the platform's deny-all NetworkPolicy.
    DeleteNetpol,
    /// Route another store's host.
    ForeignHostIngress,
    /// Apply a Role and a RoleBinding.
    RbacObject,
    /// Apply hand-written Endpoints.
    Endpoints,
    /// Install chart `leak`, which reads a bundle file a test made a link.
    SymlinkFile,
    /// Use names that are paths.
    PathLikeName,
    /// Log more warnings, and longer ones, than the host passes on.
    LogFlood,
    /// Report a `javascript:` URL from `observe`.
    BadUrl,
    /// Apply a Deployment whose container asks for `cpu: lots`.
    BadQuantity,
    /// `backup` reports a checksum that is not SHA-256.
    BadChecksum,
}

/// The store configuration.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// What `provision` does; `ok` when absent.
    #[serde(default = "ok")]
    pub mode: Mode,
}

fn ok() -> Mode {
    Mode::Ok
}

/// The ConfigMap `suspend` and `resume` apply.
pub const SUSPENSION_CONFIG_MAP: &str = "misbehave-suspension";

/// The ConfigMap the `ok` mode applies.
pub const CONFIG_MAP: &str = "misbehave";

/// The chart the `symlink-file` mode installs (`charts/leak`).
pub const LEAK_CHART: &str = "leak";
/// What `charts/leak/files/leak.txt` holds in the bundle as built.
pub const LEAK_PLACEHOLDER: &str = "placeholder: a test replaces this file with a symbolic link";

impl Engine for Misbehave {
    type Config = Config;

    fn describe(&self) -> EngineInfo {
        EngineInfo {
            id: EngineId::new("misbehave"),
            display_name: "Misbehave (test)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Misbehaves on request, to test the plugin sandbox.".into(),
            capabilities: Capability::ALL.to_vec(),
        }
    }

    fn config_schema(&self) -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "mode": {
                    "type": "string",
                    "enum": ["ok", "loop", "oom", "other-namespace", "cluster-scoped",
                             "read-file", "fail", "panic", "stderr", "privileged-pod",
                             "host-path", "lift-quota", "delete-netpol",
                             "foreign-host-ingress", "rbac-object", "endpoints",
                             "symlink-file", "path-like-name", "log-flood", "bad-url",
                             "bad-checksum", "bad-quantity"],
                    "default": "ok"
                }
            }
        })
    }

    fn provision(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
        match store.config.mode {
            Mode::Ok => {
                host.kube_apply(&objects::config_map(CONFIG_MAP, [("mode", "ok")]))?;
                Ok(())
            }
            Mode::Loop => spin(),
            Mode::Oom => exhaust_memory(),
            Mode::OtherNamespace => {
                let mut object = objects::config_map(CONFIG_MAP, [("mode", "other-namespace")]);
                object["metadata"]["namespace"] = json!("kube-system");
                expect_denied(host, &object)
            }
            Mode::ClusterScoped => {
                // Cluster-wide and not otherwise refused by the object
                // policy: only the scope check stands in its way (a huge
                // priority would preempt every other tenant's pods).
                let priority = json!({
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": { "name": "misbehave" },
                    "value": 1_000_000_000
                });
                expect_denied(host, &priority)
            }
            Mode::ReadFile => Err(Failure::new("SandboxProbe", probe_sandbox())),
            Mode::Fail => Err(Failure::new(
                "PluginSaidNo",
                "the configuration asked for a failure",
            )),
            Mode::Panic => panic!("misbehave: panicking as asked"),
            Mode::Stderr => {
                eprintln!("misbehave: a line on stderr");
                Ok(())
            }
            Mode::PrivilegedPod => expect_denied(host, &privileged_pod()),
            Mode::HostPath => expect_denied(host, &host_path_deployment()),
            Mode::LiftQuota => expect_denied(
                host,
                &json!({
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": { "name": "storeplane-quota" },
                    "spec": { "hard": {} }
                }),
            ),
            Mode::DeleteNetpol => {
                let deleted = host.kube_delete(
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    "storeplane-default-deny",
                );
                match deleted {
                    Err(err) => Err(err.into()),
                    Ok(_) => Err(escaped("the host deleted storeplane-default-deny")),
                }
            }
            Mode::ForeignHostIngress => expect_denied(host, &foreign_ingress(&store.host)),
            Mode::RbacObject => {
                let role = expect_denied(host, &role());
                let binding = expect_denied(host, &role_binding());
                // Both must be refused; the first escape wins the report.
                match (role, binding) {
                    (Err(f), _) | (_, Err(f)) if f.reason == "EscapeSucceeded" => Err(f),
                    (Err(f), _) => Err(f),
                    (Ok(()), other) => other,
                }
            }
            Mode::Endpoints => expect_denied(host, &endpoints()),
            Mode::SymlinkFile => leak_through_chart(host),
            Mode::PathLikeName => path_like_names(host),
            Mode::LogFlood => {
                let line = "x".repeat(10_000);
                for _ in 0..100 {
                    host.warn(&line);
                }
                Ok(())
            }
            Mode::BadQuantity => {
                host.kube_apply(&bad_quantity_deployment())?;
                Err(escaped(
                    "the cluster took a Deployment asking for cpu: lots",
                ))
            }
            Mode::BadUrl | Mode::BadChecksum => Ok(()),
        }
    }

    fn operations(&self) -> Vec<Operation> {
        vec![Operation::Suspend, Operation::Resume, Operation::Backup]
    }

    fn suspend(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
        record_suspension(host, store, "suspended")
    }

    fn resume(&self, host: &dyn Host, store: &Store<Config>) -> Result<()> {
        record_suspension(host, store, "resumed")
    }

    fn backup(
        &self,
        _host: &dyn Host,
        store: &Store<Config>,
        archive: &Archive,
    ) -> Result<JobStatus> {
        let sha256 = if store.config.mode == Mode::BadChecksum {
            "not-a-checksum".to_owned()
        } else {
            "0".repeat(64)
        };
        Ok(JobStatus::succeeded(format!("archive {} written", archive.id)).archive(42, sha256))
    }

    fn observe(&self, host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
        if store.config.mode == Mode::BadUrl {
            return Ok(Observation::ready("ready, with a hostile link")
                .storefront_url(store.url("/"))
                .admin_url("javascript:alert(document.cookie)"));
        }
        let found = host.kube_get("v1", "ConfigMap", CONFIG_MAP)?;
        Ok(match found {
            Some(_) => Observation::ready("the ConfigMap exists").storefront_url(store.url("/")),
            None => Observation::provisioning("no ConfigMap yet"),
        })
    }
}

fn record_suspension(host: &dyn Host, store: &Store<Config>, state: &str) -> Result<()> {
    let hosts = store.extra_hosts.join(",");
    host.kube_apply(&objects::config_map(
        SUSPENSION_CONFIG_MAP,
        [("state", state), ("hosts", hosts.as_str())],
    ))?;
    Ok(())
}

fn escaped(what: impl Into<String>) -> Failure {
    Failure::new("EscapeSucceeded", what)
}

/// A container that passes `restricted` apart from what a mode adds.
fn hardened_container(name: &str) -> Value {
    json!({
        "name": name,
        "image": "busybox:1.36",
        "command": ["sleep", "3600"],
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "runAsNonRoot": true,
            "runAsUser": 65534,
            "seccompProfile": { "type": "RuntimeDefault" }
        }
    })
}

fn privileged_pod() -> Value {
    let mut container = hardened_container("root");
    container["securityContext"] = json!({ "privileged": true });
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "misbehave-privileged" },
        "spec": { "containers": [container] }
    })
}

/// A Deployment the sandbox allows but no cluster can decode: its
/// container asks for `cpu: lots`, which is no quantity.
fn bad_quantity_deployment() -> Value {
    let mut container = hardened_container("web");
    container["resources"] = json!({ "limits": { "cpu": "lots" } });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "misbehave-bad-quantity" },
        "spec": {
            "selector": { "matchLabels": { "app": "misbehave-bad-quantity" } },
            "template": {
                "metadata": { "labels": { "app": "misbehave-bad-quantity" } },
                "spec": { "containers": [container] }
            }
        }
    })
}

fn host_path_deployment() -> Value {
    let mut container = hardened_container("reader");
    container["volumeMounts"] = json!([{ "name": "node-root", "mountPath": "/node" }]);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "misbehave-host-path" },
        "spec": {
            "selector": { "matchLabels": { "app": "misbehave-host-path" } },
            "template": {
                "metadata": { "labels": { "app": "misbehave-host-path" } },
                "spec": {
                    "containers": [container],
                    "volumes": [{ "name": "node-root", "hostPath": { "path": "/" } }]
                }
            }
        }
    })
}

/// `victim.<base domain>`: the store's host with its first label replaced,
/// i.e. where another store of the platform lives.
pub fn victim_host(own_host: &str) -> String {
    let base = own_host.split_once('.').map_or(own_host, |(_, base)| base);
    format!("victim.{base}")
}

fn foreign_ingress(own_host: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": { "name": "misbehave-hijack" },
        "spec": {
            "rules": [{
                "host": victim_host(own_host),
                "http": { "paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": { "service": { "name": "misbehave", "port": { "number": 80 } } }
                }] }
            }]
        }
    })
}

fn role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": { "name": "misbehave-secrets" },
        "rules": [{ "apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"] }]
    })
}

fn role_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": { "name": "misbehave-secrets" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "misbehave-secrets" },
        "subjects": [{ "kind": "ServiceAccount", "name": "default" }]
    })
}

fn endpoints() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": { "name": "misbehave-mitm" },
        "subsets": [{
            "addresses": [{ "ip": "10.96.0.10" }],
            "ports": [{ "port": 80 }]
        }]
    })
}

/// Installs `charts/leak`; if the host installs it, reads back what the
/// chart put in its ConfigMap and reports the escape either way.
fn leak_through_chart(host: &dyn Host) -> Result<()> {
    host.helm_install_or_upgrade("misbehave-leak", LEAK_CHART, &json!({}))?;
    let leaked = host
        .kube_get("v1", "ConfigMap", "misbehave-leak")
        .ok()
        .flatten()
        .and_then(|cm| cm["data"]["leaked"].as_str().map(str::to_owned));
    let what = match leaked {
        Some(text) if text.trim() == LEAK_PLACEHOLDER => "the bundled placeholder".to_owned(),
        Some(text) => format!("{} bytes that are not the placeholder", text.len()),
        None => "nothing readable yet".to_owned(),
    };
    Err(escaped(format!(
        "the host installed chart {LEAK_CHART}; its ConfigMap holds {what}"
    )))
}

/// Every path-like name must be refused; the first refusal is returned.
fn path_like_names(host: &dyn Host) -> Result<()> {
    let mut first_refusal = None;
    for (kind, name) in [("Secret", "../../secrets/x"), ("ConfigMap", "a/b")] {
        let got = host.kube_get("v1", kind, name).map(|_| ());
        let deleted = host.kube_delete("v1", kind, name).map(|_| ());
        for (call, result) in [("kube.get", got), ("kube.delete", deleted)] {
            match result {
                Ok(()) => {
                    return Err(escaped(format!(
                        "the host accepted {call} of {kind} {name:?}"
                    )));
                }
                Err(err) => {
                    first_refusal.get_or_insert(err);
                }
            }
        }
    }
    match first_refusal {
        Some(err) => Err(err.into()),
        None => Err(escaped("no call was refused")),
    }
}

storeplane_plugin_sdk::register_plugin!(Misbehave);

/// Applies `object`, which the host must deny, and reports what happened.
fn expect_denied(host: &dyn Host, object: &Value) -> Result<()> {
    match host.kube_apply(object) {
        // `?`-style conversion keeps the host's text ("denied: ...").
        Err(err) => Err(err.into()),
        Ok(_) => Err(escaped(format!(
            "the host applied {} {}",
            object["kind"], object["metadata"]["name"]
        ))),
    }
}

/// Never returns and makes no host call: only the host's deadline stops it.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        // black_box keeps the loop from being optimised into something else.
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates 1 MiB blocks and writes to every page so the memory is really
/// used, until an allocation fails and the component traps.
fn exhaust_memory() -> ! {
    const BLOCK: usize = 1 << 20;
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for page in block.iter_mut().step_by(4096) {
            *page = 1;
        }
        blocks.push(std::hint::black_box(block));
    }
}

/// What the sandbox lets the plugin see of the file system and environment.
fn probe_sandbox() -> String {
    let file = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read {} bytes", text.len()),
        Err(err) => format!("error {err}"),
    };
    // vars_os, not vars: vars() panics on a value that is not UTF-8.
    let vars = std::env::vars_os().count();
    format!("file: {file}, env: {vars} vars")
}

#[cfg(test)]
mod tests {
    use super::*;
    use storeplane_plugin_sdk::{
        HostError,
        testing::{FakeHost, Harness, Matcher, Op, Reply, check_bundle_sources, store_context},
    };

    fn provision(mode: &str, host: &FakeHost) -> Result<()> {
        Harness::<Misbehave>::new().provision(host, &store_context(json!({ "mode": mode })))
    }

    #[test]
    fn bundle_sources_match_describe() {
        check_bundle_sources::<Misbehave>(env!("CARGO_MANIFEST_DIR"), &["charts/leak"]);
    }

    #[test]
    fn ok_mode_applies_one_config_map() {
        let host = FakeHost::for_engine::<Misbehave>();
        provision("ok", &host).unwrap();
        assert_eq!(host.call_summaries(), ["kube.apply ConfigMap/misbehave"]);
    }

    #[test]
    fn escapes_fail_with_the_host_denial_text() {
        for mode in ["other-namespace", "cluster-scoped"] {
            let err = provision(mode, &FakeHost::new()).unwrap_err();
            assert!(err.message.starts_with("denied"), "{mode}: {err}");
        }
    }

    const ESCAPES: &[&str] = &[
        "privileged-pod",
        "host-path",
        "lift-quota",
        "delete-netpol",
        "foreign-host-ingress",
        "rbac-object",
        "endpoints",
        "symlink-file",
        "path-like-name",
    ];

    /// A host that refuses every call, as the real one must for these modes.
    fn refusing_host() -> FakeHost {
        let refuse = |op| Matcher::any(op);
        [
            Op::KubeApply,
            Op::KubeGet,
            Op::KubeDelete,
            Op::HelmInstallOrUpgrade,
        ]
        .into_iter()
        .fold(FakeHost::new(), |host, op| {
            host.reply_always(refuse(op), Reply::Fail(HostError::Denied("no".into())))
        })
    }

    #[test]
    fn every_escape_mode_returns_the_hosts_refusal() {
        for mode in ESCAPES {
            let err = provision(mode, &refusing_host()).unwrap_err();
            assert_eq!(err.message, "denied: no", "{mode}");
            assert_ne!(err.reason, "EscapeSucceeded", "{mode}");
        }
    }

    #[test]
    fn every_escape_mode_reports_an_escape_the_host_allowed() {
        // The fake host applies, deletes and installs whatever it is given.
        for mode in ESCAPES {
            let err = provision(mode, &FakeHost::new()).unwrap_err();
            assert_eq!(err.reason, "EscapeSucceeded", "{mode}: {err}");
        }
    }

    #[test]
    fn escape_objects_target_what_they_claim() {
        let host = FakeHost::new();
        let _ = provision("foreign-host-ingress", &host);
        let ingress = host.object("networking.k8s.io/v1", "Ingress", "misbehave-hijack");
        let rule_host = ingress.map(|i| i["spec"]["rules"][0]["host"].clone());
        assert_eq!(rule_host, Some(json!("victim.example.test")));
        assert_eq!(
            victim_host("shop.stores.example.com"),
            "victim.stores.example.com"
        );

        let host = FakeHost::new();
        let _ = provision("lift-quota", &host);
        let quota = host.object("v1", "ResourceQuota", "storeplane-quota");
        assert_eq!(quota.map(|q| q["spec"]["hard"].clone()), Some(json!({})));
    }

    #[test]
    fn bad_url_mode_reports_a_javascript_admin_url() {
        let observed = Harness::<Misbehave>::new()
            .observe(
                &FakeHost::new(),
                &store_context(json!({ "mode": "bad-url" })),
            )
            .unwrap();
        assert_eq!(
            observed.admin_url.as_deref(),
            Some("javascript:alert(document.cookie)")
        );
    }

    #[test]
    fn fail_mode_says_no() {
        let err = provision("fail", &FakeHost::new()).unwrap_err();
        assert_eq!(err.reason, "PluginSaidNo");
        assert!(!err.retryable);
    }

    #[test]
    fn read_file_mode_reports_what_it_saw() {
        let err = provision("read-file", &FakeHost::new()).unwrap_err();
        assert!(
            err.message.starts_with("file: ") && err.message.contains(" vars"),
            "{err}"
        );
    }

    #[test]
    #[should_panic(expected = "panicking as asked")]
    fn panic_mode_panics() {
        let _ = provision("panic", &FakeHost::new());
    }

    #[test]
    fn unknown_mode_is_a_validation_error() {
        let errors = Harness::<Misbehave>::new().validate(&json!({ "mode": "explode" }));
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
