//! The checks, one function each, ported from
//! `staging/src/k8s.io/pod-security-admission/policy/check_*.go` (Kubernetes
//! 1.37) with the same reasons and details, and the registry that runs them
//! in the admission plugin's order (baseline check ids sorted, then
//! restricted ids sorted; a restricted check replaces the baseline checks it
//! overrides).
//!
//! The pod spec is JSON as the API server stores it: an absent field and a
//! `null` one both mean "unset", like a nil pointer in Go.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{Level, Violation};

/// What a check sees: the pod's metadata and spec, and the policy version.
pub(crate) struct Pod<'a> {
    pub meta: &'a Value,
    pub spec: &'a Value,
    pub minor: u32,
}

type CheckFn = fn(&Pod<'_>) -> Option<Violation>;

struct Check {
    id: &'static str,
    level: Level,
    /// First policy version (minor of 1.x) the check applies to.
    since: u32,
    /// Baseline checks this restricted check replaces while it applies.
    overrides: &'static [&'static str],
    run: CheckFn,
}

const fn baseline(id: &'static str, since: u32, run: CheckFn) -> Check {
    Check {
        id,
        level: Level::Baseline,
        since,
        overrides: &[],
        run,
    }
}

const fn restricted(
    id: &'static str,
    since: u32,
    overrides: &'static [&'static str],
    run: CheckFn,
) -> Check {
    Check {
        id,
        level: Level::Restricted,
        since,
        overrides,
        run,
    }
}

/// Every check, baseline ids then restricted ids, each sorted by id (byte
/// order, as Go sorts strings): that is the order of the reasons in the
/// admission plugin's messages.
const CHECKS: &[Check] = &[
    baseline("appArmorProfile", 0, app_armor_profile),
    baseline("capabilities_baseline", 0, capabilities_baseline),
    baseline("hostNamespaces", 0, host_namespaces),
    baseline("hostPathVolumes", 0, host_path_volumes),
    baseline("hostPorts", 0, host_ports),
    baseline("hostProbesAndHostLifecycle", 34, host_probes_and_lifecycle),
    baseline("privileged", 0, privileged),
    baseline("procMount", 0, proc_mount_baseline),
    baseline("seLinuxOptions", 0, se_linux_options),
    baseline("seccompProfile_baseline", 0, seccomp_baseline),
    baseline("sysctls", 0, sysctls),
    baseline("windowsHostProcess", 0, windows_host_process),
    restricted(
        "allowPrivilegeEscalation",
        8,
        &[],
        allow_privilege_escalation,
    ),
    restricted(
        "capabilities_restricted",
        22,
        &["capabilities_baseline"],
        capabilities_restricted,
    ),
    restricted("procMount_restricted", 35, &["procMount"], proc_mount),
    restricted(
        "restrictedVolumes",
        0,
        &["hostPathVolumes"],
        restricted_volumes,
    ),
    restricted("runAsNonRoot", 0, &[], run_as_non_root),
    restricted("runAsUser", 23, &[], run_as_user),
    restricted(
        "seccompProfile_restricted",
        19,
        &["seccompProfile_baseline"],
        seccomp_restricted,
    ),
];

/// Runs every check that applies to `level` at the pod's version.
pub(crate) fn evaluate(level: Level, pod: &Pod<'_>) -> Vec<Violation> {
    if level == Level::Privileged {
        return Vec::new();
    }
    let applies = |c: &&Check| c.since <= pod.minor && c.level <= level;
    let overridden: BTreeSet<&str> = CHECKS
        .iter()
        .filter(applies)
        .flat_map(|c| c.overrides.iter().copied())
        .collect();
    CHECKS
        .iter()
        .filter(applies)
        .filter(|c| !overridden.contains(c.id))
        .filter_map(|c| (c.run)(pod))
        .collect()
}

// ---------------------------------------------------------------- helpers

/// Init containers, containers, then ephemeral containers (visitor.go).
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |key| {
            spec.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

fn name(container: &Value) -> &str {
    container.get("name").and_then(Value::as_str).unwrap_or("")
}

/// A set field: present and not `null`.
fn field<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// `securityContext.<path>` of a container or pod spec, if set.
fn security<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(field(object, "securityContext")?, |v, key| field(v, key))
}

fn security_bool(object: &Value, key: &str) -> Option<bool> {
    security(object, &[key]).and_then(Value::as_bool)
}

fn str_of(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or("")
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// `"a", "b"`: Go's `joinQuote` (no escaping inside).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    items.join(", ")
}

/// `<kind> "a", "b"`, e.g. `containers "a", "b"`.
fn setter(singular: &str, plural: &str, names: &[&str]) -> String {
    format!(
        "{} {}",
        pluralize(singular, plural, names.len()),
        join_quote(names)
    )
}

/// Go's `%q` for a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn violation(reason: impl Into<String>, detail: impl Into<String>) -> Option<Violation> {
    Some(Violation {
        reason: reason.into(),
        detail: detail.into(),
    })
}

fn is_windows(spec: &Value) -> bool {
    spec.pointer("/os/name").and_then(Value::as_str) == Some("windows")
}

/// Whether a user-namespace pod (`hostUsers: false`) relaxes a check: from
/// policy 1.35 on, unconditionally (KEP-127).
fn user_namespace_relaxed(pod: &Pod<'_>) -> bool {
    pod.minor >= 35 && pod.spec.get("hostUsers").and_then(Value::as_bool) == Some(false)
}

// ---------------------------------------------------------------- baseline

/// `check_privileged.go`.
fn privileged(pod: &Pod<'_>) -> Option<Violation> {
    let bad: Vec<&str> = containers(pod.spec)
        .filter(|c| security_bool(c, "privileged") == Some(true))
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            setter("container", "containers", &bad)
        ),
    )
}

/// `check_hostNamespaces.go`.
fn host_namespaces(pod: &Pod<'_>) -> Option<Violation> {
    let used: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|key| pod.spec.get(*key).and_then(Value::as_bool) == Some(true))
        .map(|key| format!("{key}=true"))
        .collect();
    if used.is_empty() {
        return None;
    }
    violation("host namespaces", used.join(", "))
}

fn volumes(spec: &Value) -> impl Iterator<Item = &Value> {
    spec.get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `check_hostPathVolumes.go`.
fn host_path_volumes(pod: &Pod<'_>) -> Option<Violation> {
    let bad: Vec<&str> = volumes(pod.spec)
        .filter(|v| field(v, "hostPath").is_some())
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation("hostPath volumes", setter("volume", "volumes", &bad))
}

/// `check_hostPorts.go`.
fn host_ports(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    for container in containers(pod.spec) {
        let mut valid = true;
        for port in container
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match port.get("hostPort").and_then(Value::as_i64) {
                Some(0) | None => {}
                Some(host_port) => {
                    valid = false;
                    ports.insert(host_port.to_string());
                }
            }
        }
        if !valid {
            bad.push(name(container));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    violation(
        "hostPort",
        format!(
            "{} {} {} {}",
            setter("container", "containers", &bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    )
}

/// `check_hostProbesAndhostLifecycle.go` (policy 1.34+).
fn host_probes_and_lifecycle(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for container in containers(pod.spec) {
        let handlers = ["livenessProbe", "readinessProbe", "startupProbe"]
            .into_iter()
            .filter_map(|probe| field(container, probe))
            .chain(
                ["postStart", "preStop"]
                    .into_iter()
                    .filter_map(|hook| field(container, "lifecycle")?.get(hook)),
            );
        for handler in handlers {
            for action in ["httpGet", "tcpSocket"] {
                let host = str_of(handler.get(action).and_then(|a| a.get("host")));
                if !host.is_empty() {
                    bad.insert(name(container));
                    hosts.insert(host);
                }
            }
        }
    }
    if bad.is_empty() {
        return None;
    }
    let bad: Vec<&str> = bad.into_iter().collect();
    violation(
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            setter("container", "containers", &bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
    )
}

const APP_ARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// `check_appArmorProfile.go`: the field (pod and containers) and the
/// deprecated annotation, both still enforced.
fn app_armor_profile(pod: &Pod<'_>) -> Option<Violation> {
    let allowed_type =
        |profile: &Value| matches!(str_of(profile.get("type")), "RuntimeDefault" | "Localhost");
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    if let Some(profile) = security(pod.spec, &["appArmorProfile"])
        && !allowed_type(profile)
    {
        setters.push("pod".to_owned());
        values.insert(str_of(profile.get("type")).to_owned());
    }
    let mut bad = Vec::new();
    for container in containers(pod.spec) {
        if let Some(profile) = security(container, &["appArmorProfile"])
            && !allowed_type(profile)
        {
            bad.push(name(container));
            values.insert(str_of(profile.get("type")).to_owned());
        }
    }
    if !bad.is_empty() {
        setters.push(setter("container", "containers", &bad));
    }
    let mut values: Vec<String> = values.into_iter().collect();
    let mut annotations: Vec<String> = annotations(pod.meta)
        .filter(|(key, value)| {
            key.starts_with(APP_ARMOR_ANNOTATION_PREFIX)
                && !(value.is_empty()
                    || *value == "runtime/default"
                    || value.starts_with("localhost/"))
        })
        .map(|(key, value)| format!("{key}={}", go_quote(value)))
        .collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_owned());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    )
}

fn annotations(meta: &Value) -> impl Iterator<Item = (&str, &str)> {
    meta.get("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
}

/// The capabilities a baseline container may add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capability_list<'a>(container: &'a Value, list: &str) -> impl Iterator<Item = &'a str> {
    security(container, &["capabilities", list])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `check_capabilities_baseline.go`.
fn capabilities_baseline(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut added = BTreeSet::new();
    for container in containers(pod.spec) {
        let extra: Vec<&str> = capability_list(container, "add")
            .filter(|c| !BASELINE_CAPABILITIES.contains(c))
            .collect();
        if !extra.is_empty() {
            bad.push(name(container));
            added.extend(extra);
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            setter("container", "containers", &bad),
            join_quote(&added)
        ),
    )
}

/// `check_procMount_baseline.go`: relaxed for user-namespace pods from 1.35.
fn proc_mount_baseline(pod: &Pod<'_>) -> Option<Violation> {
    if user_namespace_relaxed(pod) {
        return None;
    }
    proc_mount(pod)
}

/// `procMount_1_35_restricted`: only `Default` (or unset).
fn proc_mount(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for container in containers(pod.spec) {
        if let Some(mount) = security(container, &["procMount"]).and_then(Value::as_str)
            && mount != "Default"
        {
            bad.push(name(container));
            types.insert(mount);
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            setter("container", "containers", &bad),
            join_quote(&types)
        ),
    )
}

/// `check_seLinuxOptions.go`; `container_engine_t` allowed from 1.31.
fn se_linux_options(pod: &Pod<'_>) -> Option<Violation> {
    let mut types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |options: &Value| {
        let kind = str_of(options.get("type"));
        let mut ok = true;
        let allowed = matches!(
            kind,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (pod.minor >= 31 && kind == "container_engine_t");
        if !allowed {
            ok = false;
            types.insert(kind.to_owned());
        }
        if !str_of(options.get("user")).is_empty() {
            ok = false;
            set_user = true;
        }
        if !str_of(options.get("role")).is_empty() {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters = Vec::new();
    if let Some(options) = security(pod.spec, &["seLinuxOptions"])
        && !valid(options)
    {
        setters.push("pod".to_owned());
    }
    let bad: Vec<&str> = containers(pod.spec)
        .filter(|c| security(c, &["seLinuxOptions"]).is_some_and(|o| !valid(o)))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(setter("container", "containers", &bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_owned());
    }
    if set_role {
        data.push("role may not be set".to_owned());
    }
    violation(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    )
}

fn valid_seccomp(profile: &Value) -> bool {
    matches!(str_of(profile.get("type")), "RuntimeDefault" | "Localhost")
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `check_seccompProfile_baseline.go`: the alpha annotations before policy
/// 1.19, the field after.
fn seccomp_baseline(pod: &Pod<'_>) -> Option<Violation> {
    if pod.minor < 19 {
        return seccomp_annotations(pod);
    }
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    if let Some(profile) = security(pod.spec, &["seccompProfile"])
        && !valid_seccomp(profile)
    {
        setters.push("pod".to_owned());
        values.insert(str_of(profile.get("type")));
    }
    let mut bad = Vec::new();
    for container in containers(pod.spec) {
        if let Some(profile) = security(container, &["seccompProfile"])
            && !valid_seccomp(profile)
        {
            bad.push(name(container));
            values.insert(str_of(profile.get("type")));
        }
    }
    if !bad.is_empty() {
        setters.push(setter("container", "containers", &bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    )
}

fn seccomp_annotations(pod: &Pod<'_>) -> Option<Violation> {
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let all: Vec<(&str, &str)> = annotations(pod.meta).collect();
    let lookup = |key: &str| all.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let mut forbidden = BTreeSet::new();
    if let Some(value) = lookup(SECCOMP_POD_ANNOTATION)
        && !valid(value)
    {
        forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(value)));
    }
    for container in containers(pod.spec) {
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", name(container));
        if let Some(value) = lookup(&key)
            && !valid(value)
        {
            forbidden.insert(format!("{key}={}", go_quote(value)));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    violation(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
    )
}

/// Safe sysctls, with the policy version that allowed them.
const SAFE_SYSCTLS: &[(&str, u32)] = &[
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
    ("net.ipv4.tcp_slow_start_after_idle", 37),
    ("net.ipv4.tcp_notsent_lowat", 37),
];

/// `check_sysctls.go`.
fn sysctls(pod: &Pod<'_>) -> Option<Violation> {
    let forbidden: Vec<&str> = security(pod.spec, &["sysctls"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| str_of(s.get("name")))
        .filter(|n| {
            !SAFE_SYSCTLS
                .iter()
                .any(|(safe, since)| safe == n && *since <= pod.minor)
        })
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    violation("forbidden sysctls", forbidden.join(", "))
}

/// `check_windowsHostProcess.go`.
fn windows_host_process(pod: &Pod<'_>) -> Option<Violation> {
    let host_process = |o: &Value| {
        security(o, &["windowsOptions", "hostProcess"]).and_then(Value::as_bool) == Some(true)
    };
    let mut setters = Vec::new();
    if host_process(pod.spec) {
        setters.push("pod".to_owned());
    }
    let bad: Vec<&str> = containers(pod.spec)
        .filter(|c| host_process(c))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(setter("container", "containers", &bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    )
}

// ---------------------------------------------------------------- restricted

/// `check_allowPrivilegeEscalation.go`; Windows pods exempt from 1.25.
fn allow_privilege_escalation(pod: &Pod<'_>) -> Option<Violation> {
    if pod.minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let bad: Vec<&str> = containers(pod.spec)
        .filter(|c| security_bool(c, "allowPrivilegeEscalation") != Some(false))
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            setter("container", "containers", &bad)
        ),
    )
}

/// `check_capabilities_restricted.go`; Windows pods exempt from 1.25.
fn capabilities_restricted(pod: &Pod<'_>) -> Option<Violation> {
    if pod.minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let mut missing_drop_all = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    for container in containers(pod.spec) {
        if security(container, &["capabilities"]).is_none() {
            missing_drop_all.push(name(container));
            continue;
        }
        if !capability_list(container, "drop").any(|c| c == "ALL") {
            missing_drop_all.push(name(container));
        }
        let extra: Vec<&str> = capability_list(container, "add")
            .filter(|c| *c != "NET_BIND_SERVICE")
            .collect();
        if !extra.is_empty() {
            adding.push(name(container));
            forbidden.extend(extra);
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            r#"{} must set securityContext.capabilities.drop=["ALL"]"#,
            setter("container", "containers", &missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            setter("container", "containers", &adding),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    violation("unrestricted capabilities", details.join("; "))
}

/// Volume sources the restricted level allows.
const RESTRICTED_ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Volume sources named in the message, in upstream's order; anything else
/// is `unknown`.
const NAMED_VOLUME_TYPES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// `check_restrictedVolumes.go`.
fn restricted_volumes(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for volume in volumes(pod.spec) {
        if RESTRICTED_ALLOWED_VOLUMES
            .iter()
            .any(|source| field(volume, source).is_some())
        {
            continue;
        }
        bad.push(name(volume));
        types.insert(
            NAMED_VOLUME_TYPES
                .iter()
                .find(|source| field(volume, source).is_some())
                .copied()
                .unwrap_or("unknown"),
        );
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "restricted volume types",
        format!(
            "{} {} {} {}",
            setter("volume", "volumes", &bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
    )
}

/// `check_runAsNonRoot.go`; skipped for user-namespace pods from 1.35.
fn run_as_non_root(pod: &Pod<'_>) -> Option<Violation> {
    if user_namespace_relaxed(pod) {
        return None;
    }
    let mut setters = Vec::new();
    let pod_level = security_bool(pod.spec, "runAsNonRoot");
    if pod_level == Some(false) {
        setters.push("pod".to_owned());
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for container in containers(pod.spec) {
        match security_bool(container, "runAsNonRoot") {
            Some(false) => explicit.push(name(container)),
            Some(true) => {}
            None if pod_level != Some(true) => implicit.push(name(container)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(setter("container", "containers", &explicit));
    }
    if !setters.is_empty() {
        return violation(
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        );
    }
    if implicit.is_empty() {
        return None;
    }
    violation(
        "runAsNonRoot != true",
        format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            setter("container", "containers", &implicit)
        ),
    )
}

/// `check_runAsUser.go`; skipped for user-namespace pods from 1.35.
fn run_as_user(pod: &Pod<'_>) -> Option<Violation> {
    if user_namespace_relaxed(pod) {
        return None;
    }
    let root = |o: &Value| security(o, &["runAsUser"]).and_then(Value::as_i64) == Some(0);
    let mut setters = Vec::new();
    if root(pod.spec) {
        setters.push("pod".to_owned());
    }
    let bad: Vec<&str> = containers(pod.spec).filter(|c| root(c)).map(name).collect();
    if !bad.is_empty() {
        setters.push(setter("container", "containers", &bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
    )
}

/// `check_seccompProfile_restricted.go`; Windows pods exempt from 1.25.
fn seccomp_restricted(pod: &Pod<'_>) -> Option<Violation> {
    if pod.minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(profile) = security(pod.spec, &["seccompProfile"]) {
        if valid_seccomp(profile) {
            pod_set = true;
        } else {
            setters.push("pod".to_owned());
            values.insert(str_of(profile.get("type")));
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for container in containers(pod.spec) {
        match security(container, &["seccompProfile"]) {
            Some(profile) if !valid_seccomp(profile) => {
                explicit.push(name(container));
                values.insert(str_of(profile.get("type")));
            }
            Some(_) => {}
            None if !pod_set => implicit.push(name(container)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(setter("container", "containers", &explicit));
    }
    if !setters.is_empty() {
        return violation(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        );
    }
    if implicit.is_empty() {
        return None;
    }
    violation(
        "seccompProfile",
        format!(
            r#"pod or {} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
            setter("container", "containers", &implicit)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_run_in_the_admission_plugins_order() {
        for level in [Level::Baseline, Level::Restricted] {
            let ids: Vec<&str> = CHECKS
                .iter()
                .filter(|c| c.level == level)
                .map(|c| c.id)
                .collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(ids, sorted, "{level}");
        }
        let first_restricted = CHECKS
            .iter()
            .position(|c| c.level == Level::Restricted)
            .unwrap_or(CHECKS.len());
        assert!(
            CHECKS[first_restricted..]
                .iter()
                .all(|c| c.level == Level::Restricted)
        );
    }

    #[test]
    fn overrides_name_baseline_checks() {
        for check in CHECKS {
            for id in check.overrides {
                assert!(
                    CHECKS
                        .iter()
                        .any(|c| c.id == *id && c.level == Level::Baseline),
                    "{} overrides unknown {id}",
                    check.id
                );
            }
        }
    }

    #[test]
    fn go_quote_escapes_like_percent_q() {
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny"), r#""x\ny""#);
    }
}
