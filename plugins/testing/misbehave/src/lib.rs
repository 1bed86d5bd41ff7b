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
//! | `cluster-scoped`  | applies a ClusterRole; failure with host text                 |
//! | `read-file`       | reads /etc/passwd and the environment; failure saying so      |
//! | `fail`            | failure `PluginSaidNo`                                        |
//! | `panic`           | panics (a trap)                                               |
//! | `stderr`          | writes a line to stderr, returns Ok                           |
//!
//! Escape attempts the host wrongly allows end in failure `EscapeSucceeded`,
//! so a test expecting "denied" fails loudly rather than passing by accident.

use serde::Deserialize;
use serde_json::{Value, json};
use storeplane_plugin_sdk::{
    Capability, Engine, EngineId, EngineInfo, Failure, Host, Observation, Result, Store, objects,
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

/// The ConfigMap the `ok` mode applies.
pub const CONFIG_MAP: &str = "misbehave";

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
                             "read-file", "fail", "panic", "stderr"],
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
                let role = json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": { "name": "misbehave" },
                    "rules": [{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }]
                });
                expect_denied(host, &role)
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
        }
    }

    fn observe(&self, host: &dyn Host, store: &Store<Config>) -> Result<Observation> {
        let found = host.kube_get("v1", "ConfigMap", CONFIG_MAP)?;
        Ok(match found {
            Some(_) => Observation::ready("the ConfigMap exists").storefront_url(store.url("/")),
            None => Observation::provisioning("no ConfigMap yet"),
        })
    }
}

storeplane_plugin_sdk::register_plugin!(Misbehave);

/// Applies `object`, which the host must deny, and reports what happened.
fn expect_denied(host: &dyn Host, object: &Value) -> Result<()> {
    match host.kube_apply(object) {
        // `?`-style conversion keeps the host's text ("denied: ...").
        Err(err) => Err(err.into()),
        Ok(_) => Err(Failure::new(
            "EscapeSucceeded",
            format!("the host applied {}", object["kind"]),
        )),
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
    use storeplane_plugin_sdk::testing::{FakeHost, Harness, check_bundle_sources, store_context};

    fn provision(mode: &str, host: &FakeHost) -> Result<()> {
        Harness::<Misbehave>::new().provision(host, &store_context(json!({ "mode": mode })))
    }

    #[test]
    fn bundle_sources_match_describe() {
        check_bundle_sources::<Misbehave>(env!("CARGO_MANIFEST_DIR"), &[]);
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
