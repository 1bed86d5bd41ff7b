//! One test (at least) per rule; expected texts follow upstream's
//! `check_*_test.go` tables and messages of real API servers.

use serde_json::{Value, json};

use crate::{Level, Policy, Version, Violation, check, check_object, forbidden_message, summary};

const BASELINE: Policy = Policy::latest(Level::Baseline);
const RESTRICTED: Policy = Policy::latest(Level::Restricted);

fn at(level: Level, minor: u32) -> Policy {
    Policy {
        level,
        version: Version::V1(minor),
    }
}

/// A container that passes `restricted`, named `name`, with `extra`
/// merged into its security context.
fn good(name: &str, extra: Value) -> Value {
    let mut sc = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": true,
        "seccompProfile": {"type": "RuntimeDefault"}
    });
    if let (Some(sc), Some(extra)) = (sc.as_object_mut(), extra.as_object()) {
        sc.extend(extra.clone());
    }
    json!({"name": name, "image": "x", "securityContext": sc})
}

fn spec_with(containers: Vec<Value>, extra: Value) -> Value {
    let mut spec = json!({"containers": containers});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    spec
}

fn run(policy: Policy, spec: &Value) -> Vec<String> {
    check(policy, &Value::Null, spec)
        .iter()
        .map(Violation::to_string)
        .collect()
}

fn only(policy: Policy, spec: Value) -> String {
    let found = run(policy, &spec);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.into_iter().next().unwrap_or_default()
}

#[test]
fn a_hardened_pod_passes_restricted() {
    let spec = spec_with(vec![good("app", json!({}))], json!({}));
    assert!(run(RESTRICTED, &spec).is_empty());
    assert!(run(BASELINE, &spec).is_empty());
}

#[test]
fn privileged_level_allows_anything() {
    let spec = spec_with(
        vec![json!({"name": "c", "securityContext": {"privileged": true}})],
        json!({"hostNetwork": true}),
    );
    assert!(run(Policy::latest(Level::Privileged), &spec).is_empty());
}

#[test]
fn privileged_containers_are_refused() {
    let spec = spec_with(
        vec![
            good("a", json!({"privileged": true})),
            good("b", json!({"privileged": false})),
        ],
        json!({"initContainers": [good("i", json!({"privileged": true}))]}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"privileged (containers "i", "a" must not set securityContext.privileged=true)"#
    );
}

#[test]
fn host_namespaces_are_refused() {
    let spec = spec_with(
        vec![good("a", json!({}))],
        json!({"hostNetwork": true, "hostIPC": true, "hostPID": true}),
    );
    assert_eq!(
        only(BASELINE, spec),
        "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)"
    );
}

#[test]
fn host_path_volumes_are_refused_at_baseline() {
    let spec = spec_with(
        vec![json!({"name": "a"})],
        json!({"volumes": [{"name": "root", "hostPath": {"path": "/"}}, {"name": "tmp", "emptyDir": {}}]}),
    );
    assert_eq!(only(BASELINE, spec), r#"hostPath volumes (volume "root")"#);
}

#[test]
fn host_ports_are_refused() {
    let spec = spec_with(
        vec![
            json!({"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 80}, {"containerPort": 82}]}),
        ],
        json!({"ephemeralContainers": [{"name": "dbg", "ports": [{"containerPort": 1, "hostPort": 0}]}]}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"hostPort (container "a" uses hostPorts 80, 8080)"#
    );
}

#[test]
fn probe_and_lifecycle_hosts_are_refused_from_1_34() {
    let spec = spec_with(
        vec![json!({"name": "a",
            "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
            "lifecycle": {"preStop": {"tcpSocket": {"host": "metadata", "port": 80}}}})],
        json!({}),
    );
    assert_eq!(
        only(BASELINE, spec.clone()),
        r#"probe or lifecycle host (container "a" uses probe or lifecycle hosts "10.0.0.1", "metadata")"#
    );
    assert!(run(at(Level::Baseline, 33), &spec).is_empty());
}

#[test]
fn unconfined_app_armor_is_refused_in_fields_and_annotations() {
    let spec = spec_with(
        vec![
            json!({"name": "foo", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
        ],
        json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"forbidden AppArmor profile (container "foo" must not set AppArmor profile type to "Unconfined")"#
    );
    let meta = json!({"annotations": {
        "container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/b": "localhost/foo",
        "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/f": "unknown"
    }});
    let found = check(BASELINE, &meta, &json!({"containers": [{"name": "a"}]}));
    assert_eq!(
        summary(&found),
        r#"forbidden AppArmor profiles (annotations must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown"")"#
    );
}

#[test]
fn capabilities_beyond_the_default_set_are_refused_at_baseline() {
    let spec = spec_with(
        vec![
            json!({"name": "a", "securityContext": {"capabilities": {"add": ["NET_RAW", "CHOWN", "SYS_ADMIN"]}}}),
        ],
        json!({}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"non-default capabilities (container "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)"#
    );
}

#[test]
fn unmasked_proc_mount_is_refused_except_for_user_namespace_pods_at_baseline() {
    let container = json!({"name": "a", "securityContext": {"procMount": "Unmasked"}});
    let spec = spec_with(vec![container.clone()], json!({}));
    let expected =
        r#"procMount (container "a" must not set securityContext.procMount to "Unmasked")"#;
    assert_eq!(only(BASELINE, spec), expected);

    let userns = spec_with(vec![container], json!({"hostUsers": false}));
    assert!(run(BASELINE, &userns).is_empty());
    // Before 1.35 the relaxation did not exist; restricted never relaxes.
    assert_eq!(only(at(Level::Baseline, 34), userns.clone()), expected);
    let restricted: Vec<String> = run(RESTRICTED, &userns);
    assert!(restricted.iter().any(|v| v == expected), "{restricted:#?}");
}

#[test]
fn se_linux_types_users_and_roles_are_restricted() {
    let spec = spec_with(
        vec![
            json!({"name": "a", "securityContext": {"seLinuxOptions": {"type": "spc_t"}}}),
            json!({"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_t"}}}),
        ],
        json!({"securityContext": {"seLinuxOptions": {"user": "root", "role": "r"}}}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"seLinuxOptions (pod and container "a" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set)"#
    );
    let engine = spec_with(
        vec![
            json!({"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
        ],
        json!({}),
    );
    assert!(run(BASELINE, &engine).is_empty());
    assert_eq!(run(at(Level::Baseline, 30), &engine).len(), 1);
}

#[test]
fn unconfined_seccomp_is_refused_at_baseline() {
    let spec = spec_with(
        vec![json!({"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}})],
        json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"seccompProfile (pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined")"#
    );
}

#[test]
fn seccomp_annotations_are_checked_before_1_19() {
    let meta = json!({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}});
    let found = check(
        at(Level::Baseline, 18),
        &meta,
        &json!({"containers": [{"name": "a"}]}),
    );
    assert_eq!(
        summary(&found),
        r#"seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
    );
}

#[test]
fn only_safe_sysctls_are_allowed_by_version() {
    let spec = |name: &str| {
        spec_with(
            vec![json!({"name": "a"})],
            json!({"securityContext": {"sysctls": [{"name": name, "value": "1"}]}}),
        )
    };
    assert_eq!(
        only(BASELINE, spec("kernel.msgmax")),
        "forbidden sysctls (kernel.msgmax)"
    );
    assert!(run(BASELINE, &spec("net.ipv4.tcp_notsent_lowat")).is_empty());
    assert_eq!(
        run(at(Level::Baseline, 36), &spec("net.ipv4.tcp_notsent_lowat")).len(),
        1
    );
    assert!(
        run(
            at(Level::Baseline, 27),
            &spec("net.ipv4.ip_local_reserved_ports")
        )
        .is_empty()
    );
    assert_eq!(
        run(
            at(Level::Baseline, 26),
            &spec("net.ipv4.ip_local_reserved_ports")
        )
        .len(),
        1
    );
}

#[test]
fn windows_host_process_is_refused() {
    let spec = spec_with(
        vec![json!({"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}})],
        json!({"securityContext": {"windowsOptions": {"hostProcess": true}}}),
    );
    assert_eq!(
        only(BASELINE, spec),
        r#"hostProcess (pod and container "a" must not set securityContext.windowsOptions.hostProcess=true)"#
    );
}

#[test]
fn a_bare_container_fails_restricted_with_the_api_servers_message() {
    let found = check(
        RESTRICTED,
        &Value::Null,
        &json!({"containers": [{"name": "nginx", "image": "nginx", "securityContext": {"privileged": true}}]}),
    );
    assert_eq!(
        forbidden_message("pod-privileged", RESTRICTED, &found),
        concat!(
            r#"pods "pod-privileged" is forbidden: violates PodSecurity "restricted:latest": "#,
            r#"privileged (container "nginx" must not set securityContext.privileged=true), "#,
            r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), "#,
            r#"unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), "#,
            r#"runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), "#,
            r#"seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        )
    );
}

#[test]
fn privilege_escalation_must_be_disabled_except_on_windows() {
    let spec = spec_with(
        vec![
            good("a", json!({"allowPrivilegeEscalation": true})),
            good("b", json!({"allowPrivilegeEscalation": null})),
        ],
        json!({}),
    );
    assert_eq!(
        only(RESTRICTED, spec.clone()),
        r#"allowPrivilegeEscalation != false (containers "a", "b" must set securityContext.allowPrivilegeEscalation=false)"#
    );
    let mut windows = spec;
    windows["os"] = json!({"name": "windows"});
    assert!(run(RESTRICTED, &windows).is_empty());
}

#[test]
fn restricted_capabilities_must_drop_all_and_add_only_net_bind_service() {
    let spec = spec_with(
        vec![
            good("a", json!({"capabilities": {"drop": ["NET_RAW"]}})),
            good(
                "b",
                json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "NET_ADMIN"]}}),
            ),
        ],
        json!({}),
    );
    assert_eq!(
        only(RESTRICTED, spec),
        r#"unrestricted capabilities (container "a" must set securityContext.capabilities.drop=["ALL"]; container "b" must not include "NET_ADMIN" in securityContext.capabilities.add)"#
    );
}

#[test]
fn restricted_volume_types_replace_the_host_path_check() {
    let spec = spec_with(
        vec![good("a", json!({}))],
        json!({"volumes": [
            {"name": "root", "hostPath": {"path": "/"}},
            {"name": "share", "nfs": {"server": "x", "path": "/"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
            {"name": "img", "image": {"reference": "x"}},
            {"name": "odd"}
        ]}),
    );
    assert_eq!(
        only(RESTRICTED, spec),
        r#"restricted volume types (volumes "root", "share", "odd" use restricted volume types "hostPath", "nfs", "unknown")"#
    );
}

#[test]
fn run_as_non_root_is_required_at_pod_or_container_level() {
    let unset = json!({"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}});
    assert_eq!(
        only(RESTRICTED, spec_with(vec![unset.clone()], json!({}))),
        r#"runAsNonRoot != true (pod or container "a" must set securityContext.runAsNonRoot=true)"#
    );
    let pod_level = spec_with(
        vec![unset.clone()],
        json!({"securityContext": {"runAsNonRoot": true}}),
    );
    assert!(run(RESTRICTED, &pod_level).is_empty());
    let explicit = spec_with(
        vec![good("b", json!({"runAsNonRoot": false}))],
        json!({"securityContext": {"runAsNonRoot": false}}),
    );
    assert_eq!(
        only(RESTRICTED, explicit),
        r#"runAsNonRoot != true (pod and container "b" must not set securityContext.runAsNonRoot=false)"#
    );
    let userns = spec_with(vec![unset], json!({"hostUsers": false}));
    assert!(run(RESTRICTED, &userns).is_empty());
    assert_eq!(run(at(Level::Restricted, 34), &userns).len(), 1);
}

#[test]
fn run_as_user_zero_is_refused() {
    let spec = spec_with(
        vec![
            good("a", json!({"runAsUser": 0})),
            good("b", json!({"runAsUser": 1000})),
        ],
        json!({"securityContext": {"runAsUser": 0}}),
    );
    assert_eq!(
        only(RESTRICTED, spec.clone()),
        r#"runAsUser=0 (pod and container "a" must not set runAsUser=0)"#
    );
    assert!(run(at(Level::Restricted, 22), &spec).is_empty());
}

#[test]
fn seccomp_must_be_runtime_default_or_localhost_at_restricted() {
    let unset = json!({"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true}});
    assert_eq!(
        only(RESTRICTED, spec_with(vec![unset.clone()], json!({}))),
        r#"seccompProfile (pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    let pod_level = spec_with(
        vec![unset],
        json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}),
    );
    assert!(run(RESTRICTED, &pod_level).is_empty());
    let unconfined = spec_with(
        vec![good("b", json!({"seccompProfile": {"type": "Unconfined"}}))],
        json!({}),
    );
    assert_eq!(
        only(RESTRICTED, unconfined),
        r#"seccompProfile (container "b" must not set securityContext.seccompProfile.type to "Unconfined")"#
    );
}

#[test]
fn check_object_reads_workload_templates() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {
        "spec": {"containers": [good("a", json!({}))], "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
    }}});
    let found = check_object(RESTRICTED, &deployment).unwrap_or_default();
    assert_eq!(
        summary(&found),
        r#"restricted volume types (volume "root" uses restricted volume type "hostPath")"#
    );
    assert_eq!(
        check_object(
            RESTRICTED,
            &json!({"apiVersion": "v1", "kind": "ConfigMap"})
        ),
        None
    );
}
