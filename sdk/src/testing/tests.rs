use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::{Capability, EngineId, Failure, Host, HostError, LogLevel, Phase, Store};

fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

#[test]
fn apply_stores_and_get_returns_what_was_applied() {
    let host = FakeHost::new();
    let stored = host.kube_apply(&config_map("site")).unwrap();
    assert_eq!(stored["metadata"]["namespace"], DEFAULT_NAMESPACE);
    assert_eq!(
        host.kube_get("v1", "ConfigMap", "site").unwrap(),
        Some(stored)
    );
    assert_eq!(host.kube_get("v1", "ConfigMap", "other").unwrap(), None);
}

#[test]
fn apply_keeps_the_status_the_cluster_wrote() {
    let host = FakeHost::new().with_object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"availableReplicas": 1}
    }));
    let stored = host
        .kube_apply(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}))
        .unwrap();
    assert_eq!(stored["status"]["availableReplicas"], 1);
}

#[test]
fn list_filters_by_kind_and_equality_selector() {
    let labelled = |name: &str, app: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}}});
    let host = FakeHost::new()
        .with_object(labelled("a", "shop"))
        .with_object(labelled("b", "other"))
        .with_object(config_map("c"));
    let names = |selector| {
        host.kube_list("v1", "Pod", selector)
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(None), ["a", "b"]);
    assert_eq!(names(Some("app=shop")), ["a"]);
    assert_eq!(names(Some("app!=shop")), ["b"]);
    assert!(matches!(
        host.kube_list("v1", "Pod", Some("app in (x)")),
        Err(HostError::Invalid(_))
    ));
}

#[test]
fn delete_reports_whether_the_object_existed() {
    let host = FakeHost::new().with_object(config_map("site"));
    assert!(host.kube_delete("v1", "ConfigMap", "site").unwrap());
    assert!(!host.kube_delete("v1", "ConfigMap", "site").unwrap());
}

#[test]
fn calls_outside_the_grants_are_denied_and_still_recorded() {
    let host = FakeHost::new().granting(&[Capability::KubeRead]);
    let err = host.kube_apply(&config_map("x")).unwrap_err();
    assert!(
        matches!(&err, HostError::Denied(m) if m.contains("kube-write")),
        "{err}"
    );
    assert!(matches!(host.helm_status("x"), Err(HostError::Denied(_))));
    assert!(matches!(
        host.ensure_secret("x", &["k"]),
        Err(HostError::Denied(_))
    ));
    assert!(host.kube_get("v1", "ConfigMap", "x").is_ok());
    assert_eq!(
        host.call_summaries(),
        [
            "kube.apply ConfigMap/x",
            "helm.status x",
            "secrets.ensure-secret x",
            "kube.get ConfigMap/x"
        ]
    );
}

#[test]
fn other_namespaces_and_cluster_scoped_kinds_are_denied() {
    let host = FakeHost::new();
    let mut foreign = config_map("x");
    foreign["metadata"]["namespace"] = json!("kube-system");
    assert!(
        matches!(host.kube_apply(&foreign), Err(HostError::Denied(m)) if m.contains("kube-system"))
    );

    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}});
    assert!(matches!(host.kube_apply(&role), Err(HostError::Denied(_))));
    assert!(matches!(
        host.kube_get("v1", "Namespace", "default"),
        Err(HostError::Denied(_))
    ));

    let mut own = config_map("y");
    own["metadata"]["namespace"] = json!(DEFAULT_NAMESPACE);
    assert!(host.kube_apply(&own).is_ok());
}

#[test]
fn malformed_objects_are_invalid() {
    let host = FakeHost::new();
    for object in [
        json!({"kind": "ConfigMap", "metadata": {"name": "x"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap"}),
    ] {
        assert!(
            matches!(host.kube_apply(&object), Err(HostError::Invalid(_))),
            "{object}"
        );
    }
}

#[test]
fn fail_once_fails_the_first_matching_call_only() {
    let host = FakeHost::new().fail_once(
        Matcher::apply("ConfigMap").named("site"),
        HostError::Conflict("raced".into()),
    );
    assert!(host.kube_apply(&config_map("other")).is_ok());
    assert_eq!(
        host.kube_apply(&config_map("site")),
        Err(HostError::Conflict("raced".into()))
    );
    assert!(host.kube_apply(&config_map("site")).is_ok());
}

#[test]
fn scripted_replies_win_over_the_namespace_contents() {
    let scripted = config_map("scripted");
    let host = FakeHost::new()
        .with_object(config_map("site"))
        .reply_always(
            Matcher::get("ConfigMap").named("site"),
            Reply::Object(Some(scripted.clone())),
        )
        .reply_once(
            Matcher::helm_status("shop"),
            Reply::Fail(HostError::Unavailable("down".into())),
        );
    assert_eq!(
        host.kube_get("v1", "ConfigMap", "site").unwrap(),
        Some(scripted.clone())
    );
    assert_eq!(
        host.kube_get("v1", "ConfigMap", "site").unwrap(),
        Some(scripted)
    );
    assert!(host.helm_status("shop").is_err());
    assert_eq!(host.helm_status("shop").unwrap(), None);
}

#[test]
#[should_panic(expected = "does not fit")]
fn a_reply_that_does_not_fit_the_call_panics() {
    let host = FakeHost::new().reply_once(Matcher::get("ConfigMap"), Reply::Deleted(true));
    let _ = host.kube_get("v1", "ConfigMap", "x");
}

#[test]
fn helm_records_releases_values_and_revisions() {
    let host = FakeHost::new().with_charts(&["shop"]);
    assert_eq!(host.helm_status("s").unwrap(), None);
    let first = host
        .helm_install_or_upgrade("s", "shop", &json!({"a": 1}))
        .unwrap();
    let again = host
        .helm_install_or_upgrade("s", "shop", &json!({"a": 1}))
        .unwrap();
    let changed = host
        .helm_install_or_upgrade("s", "shop", &json!({"a": 2}))
        .unwrap();
    assert_eq!(
        (first.revision, again.revision, changed.revision),
        (1, 2, 3)
    );
    assert_eq!(first.digest, again.digest);
    assert_ne!(first.digest, changed.digest);
    assert_eq!(host.release_values("s"), Some(json!({"a": 2})));
    assert_eq!(host.helm_status("s").unwrap(), Some(changed));
    assert!(matches!(
        host.helm_install_or_upgrade("s", "nope", &json!({})),
        Err(HostError::Invalid(_))
    ));
    assert!(matches!(
        host.helm_install_or_upgrade("s", "shop", &json!([1])),
        Err(HostError::Invalid(_))
    ));
    assert!(host.helm_uninstall("s").unwrap());
    assert!(!host.helm_uninstall("s").unwrap());
}

#[test]
fn ensure_secret_keeps_existing_keys_and_adds_new_ones() {
    let host = FakeHost::new();
    host.ensure_secret("admin", &["password"]).unwrap();
    let secret = host.ensure_secret("admin", &["user", "password"]).unwrap();
    assert_eq!(secret.keys, ["password", "user"]);
    assert_eq!(
        host.secret_keys("admin"),
        Some(vec!["password".into(), "user".into()])
    );
    assert!(matches!(
        host.ensure_secret("admin", &[]),
        Err(HostError::Invalid(_))
    ));
}

#[test]
fn logs_are_captured_apart_from_calls() {
    let host = FakeHost::new();
    let dyn_host: &dyn Host = &host;
    dyn_host.info("hello");
    dyn_host.warn("careful");
    assert_eq!(
        host.logs(),
        [
            LogLine {
                level: LogLevel::Info,
                message: "hello".into()
            },
            LogLine {
                level: LogLevel::Warn,
                message: "careful".into()
            },
        ]
    );
    assert!(host.calls().is_empty());
}

/// A minimal engine to exercise the harness and the trait's defaults.
#[derive(Default)]
struct Demo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoConfig {
    title: String,
}

impl Engine for Demo {
    type Config = DemoConfig;

    fn describe(&self) -> EngineInfo {
        EngineInfo {
            id: EngineId::new("demo"),
            display_name: "Demo".into(),
            version: "1.2.3".into(),
            description: "demo".into(),
            capabilities: vec![Capability::Helm],
        }
    }

    fn validate(&self, config: &DemoConfig) -> Vec<FieldError> {
        if config.title.is_empty() {
            vec![FieldError::new("title", "must not be empty")]
        } else {
            Vec::new()
        }
    }

    fn provision(&self, host: &dyn Host, store: &Store<DemoConfig>) -> Result<()> {
        host.helm_install_or_upgrade(
            store.name.as_str(),
            "demo",
            &json!({"title": store.config.title}),
        )?;
        Ok(())
    }

    fn observe(&self, _host: &dyn Host, store: &Store<DemoConfig>) -> Result<Observation> {
        Ok(Observation::ready("up").storefront_url(store.url("/")))
    }

    fn releases(&self, store: &Store<DemoConfig>) -> Vec<String> {
        vec![store.name.to_string()]
    }
}

crate::register_plugin!(Demo);

#[test]
fn harness_reports_serde_errors_then_engine_errors() {
    let harness = Harness::<Demo>::new();
    let missing = harness.validate(&json!({}));
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].field, "title");
    assert_eq!(
        harness.validate(&json!({"title": ""})),
        [FieldError::new("title", "must not be empty")]
    );
    assert!(harness.validate(&json!({"title": "ok"})).is_empty());
}

#[test]
fn provision_with_a_config_that_does_not_fit_fails_without_host_calls() {
    let host = FakeHost::new();
    let err = Harness::<Demo>::new()
        .provision(&host, &store_context(json!({"nope": 1})))
        .unwrap_err();
    assert_eq!(err.reason, "InvalidConfig");
    assert!(host.calls().is_empty());
}

#[test]
fn undeclared_capabilities_are_denied_by_a_host_for_the_engine() {
    // Demo declares only `helm`; its provision works, a kube call would not.
    let host = FakeHost::for_engine::<Demo>();
    let harness = Harness::<Demo>::new();
    harness
        .provision(&host, &store_context(json!({"title": "t"})))
        .unwrap();
    assert!(matches!(
        host.kube_get("v1", "ConfigMap", "x"),
        Err(HostError::Denied(_))
    ));
}

#[test]
fn default_upgrade_provisions_again_and_default_deprovision_uninstalls_releases() {
    let host = FakeHost::new();
    let harness = Harness::<Demo>::new();
    let store = store_context(json!({"title": "t"}));
    harness.provision(&host, &store).unwrap();
    harness.upgrade(&host, &store, "1.0.0").unwrap();
    assert_eq!(host.release("test-shop").map(|r| r.revision), Some(2));
    harness.deprovision(&host, &store).unwrap();
    harness.deprovision(&host, &store).unwrap();
    assert_eq!(
        host.call_summaries(),
        [
            "helm.install-or-upgrade test-shop",
            "helm.install-or-upgrade test-shop",
            "helm.uninstall test-shop",
            "helm.uninstall test-shop"
        ]
    );
    assert!(host.logs().iter().any(|l| l.message.contains("1.0.0")));
}

#[test]
fn observe_goes_through_the_harness() {
    let observation = Harness::<Demo>::new()
        .observe(&FakeHost::new(), &store_context(json!({"title": "t"})))
        .unwrap();
    assert_eq!(observation.phase, Phase::Ready);
    assert_eq!(
        observation.storefront_url.as_deref(),
        Some("http://test-shop.example.test/")
    );
}

#[test]
fn host_errors_propagate_as_failures_with_the_host_text() {
    let host = FakeHost::new().fail_once(
        Matcher::helm_install("test-shop"),
        HostError::Unavailable("chart engine down".into()),
    );
    let err = Harness::<Demo>::new()
        .provision(&host, &store_context(json!({"title": "t"})))
        .unwrap_err();
    assert_eq!(
        err,
        Failure::retryable("HostUnavailable", "unavailable: chart engine down")
    );
}

#[test]
#[should_panic(expected = "same namespace")]
fn harness_refuses_a_fake_scoped_to_another_namespace() {
    let host = FakeHost::new().in_namespace("elsewhere");
    let _ = Harness::<Demo>::new().observe(&host, &store_context(json!({"title": "t"})));
}

#[test]
fn bundle_sources_match_describe_after_blessing() {
    let dir = std::env::temp_dir().join(format!("storeplane-sdk-bless-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("charts/demo")).unwrap();
    std::fs::write(dir.join("charts/demo/Chart.yaml"), "name: demo\n").unwrap();
    let manifest = storeplane_plugin_bundle::Manifest {
        id: "demo".into(),
        version: "1.2.3".into(),
        wit: crate::WIT_VERSION.into(),
        component: "plugin.wasm".into(),
        capabilities: vec!["helm".into()],
        config_schema: "config.schema.json".into(),
        charts: vec!["charts/demo".into()],
    };
    // Comments and layout are free: only values are compared.
    std::fs::write(
        dir.join("plugin.toml"),
        format!("# demo\n{}", manifest.to_toml()),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.schema.json"),
        Demo.config_schema().to_string(),
    )
    .unwrap();
    check_bundle_sources::<Demo>(&dir, &["charts/demo"]);

    std::fs::write(
        dir.join("plugin.toml"),
        manifest.to_toml().replace("1.2.3", "9.9.9"),
    )
    .unwrap();
    let stale = std::panic::catch_unwind(|| check_bundle_sources::<Demo>(&dir, &["charts/demo"]));
    assert!(stale.is_err(), "a stale version was accepted");
    std::fs::remove_dir_all(dir).unwrap();
}
