//! The platform's policy for rendered charts, as plain checks over the
//! rendered objects (JSON), including the `restricted` Pod Security Standard
//! the store namespaces enforce (needs `storeplane-pod-security` as a
//! dev-dependency of the including crate). Each check returns readable problems instead of
//! panicking, so one failing test lists everything that is wrong.

use serde_json::Value;

/// The platform's per-namespace ResourceQuota (see the namespace baseline).
pub const QUOTA_REQUESTS_CPU_MILLI: u64 = 4_000;
/// `requests.memory` of the quota, in MiB.
pub const QUOTA_REQUESTS_MEMORY_MI: u64 = 8 * 1024;
/// `limits.cpu` of the quota, in millicores.
pub const QUOTA_LIMITS_CPU_MILLI: u64 = 8_000;
/// `limits.memory` of the quota, in MiB.
pub const QUOTA_LIMITS_MEMORY_MI: u64 = 16 * 1024;
/// `persistentvolumeclaims` of the quota.
pub const QUOTA_CLAIMS: u64 = 10;
/// `requests.storage` of the quota, in MiB.
pub const QUOTA_STORAGE_MI: u64 = 50 * 1024;

/// Kinds the platform refuses to apply from a chart.
const CLUSTER_SCOPED: [&str; 6] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
];

/// A workload's Pod template: `(kind/name, pod spec, long-running, replicas)`.
fn pods(objects: &[Value]) -> Vec<(String, &Value, bool, u64)> {
    objects
        .iter()
        .filter_map(|o| {
            let kind = o["kind"].as_str()?;
            let id = format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap_or("?"));
            let spec = &o["spec"]["template"]["spec"];
            let replicas = o["spec"]["replicas"].as_u64().unwrap_or(1);
            match kind {
                "Deployment" | "StatefulSet" | "DaemonSet" => Some((id, spec, true, replicas)),
                "Job" => Some((id, spec, false, 1)),
                _ => None,
            }
        })
        .collect()
}

/// Every container and init container of a Pod spec, with a label.
fn containers(spec: &Value) -> Vec<(String, &Value, bool)> {
    let mut all = Vec::new();
    for (key, init) in [("initContainers", true), ("containers", false)] {
        for c in spec[key].as_array().map(Vec::as_slice).unwrap_or_default() {
            let name = c["name"].as_str().unwrap_or("?");
            all.push((format!("{key}/{name}"), c, init));
        }
    }
    all
}

/// `250m` → 250, `1` → 1000, `1.5` → 1500 (millicores).
pub fn cpu_milli(quantity: &Value) -> Option<u64> {
    let text = quantity
        .as_str()
        .map(str::to_owned)
        .or_else(|| quantity.as_f64().map(|f| f.to_string()))?;
    if let Some(milli) = text.strip_suffix('m') {
        return milli.parse().ok();
    }
    let cores: f64 = text.parse().ok()?;
    Some((cores * 1000.0).round() as u64)
}

/// `512Mi` → 512, `1Gi` → 1024 (MiB).
pub fn memory_mi(quantity: &Value) -> Option<u64> {
    let text = quantity.as_str()?;
    for (suffix, factor) in [
        ("Ki", 1.0 / 1024.0),
        ("Mi", 1.0),
        ("Gi", 1024.0),
        ("Ti", 1024.0 * 1024.0),
    ] {
        if let Some(number) = text.strip_suffix(suffix) {
            let n: f64 = number.parse().ok()?;
            return Some((n * factor).ceil() as u64);
        }
    }
    None
}

/// Environment variable names that must come from a Secret.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN", "PRIVATE"]
        .iter()
        .any(|w| upper.contains(w))
        || upper.ends_with("_KEY")
        || upper.contains("_KEY_")
}

/// Whether `image` names a fixed tag (or digest) other than `latest`.
pub fn is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => !tag.is_empty() && tag != "latest",
        None => false,
    }
}

/// Everything in `objects` that breaks the policy.
pub fn check(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let (mut req_cpu, mut req_mem, mut lim_cpu, mut lim_mem) = (0, 0, 0, 0);
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        if CLUSTER_SCOPED.contains(&kind) {
            problems.push(format!("{kind} is cluster-scoped; the platform refuses it"));
        }
        if object["metadata"]["annotations"]["helm.sh/hook"].is_string() {
            problems.push(format!(
                "{kind}: Helm hooks are not ordered by the platform"
            ));
        }
        if kind == "Job" {
            let spec = &object["spec"];
            for field in ["backoffLimit", "activeDeadlineSeconds"] {
                if !spec[field].is_u64() {
                    problems.push(format!("Job {}: no {field}", object["metadata"]["name"]));
                }
            }
            if spec["ttlSecondsAfterFinished"].is_u64() {
                problems
                    .push("Job: ttlSecondsAfterFinished would hide completion from observe".into());
            }
        }
    }
    // Store namespaces enforce the `restricted` Pod Security Standard, and
    // the plugin host refuses any pod template that would not pass it.
    let restricted =
        storeplane_pod_security::Policy::latest(storeplane_pod_security::Level::Restricted);
    for object in objects {
        if let Some(violations) = storeplane_pod_security::check_object(restricted, object)
            && !violations.is_empty()
        {
            problems.push(format!(
                "{}/{}: {}",
                object["kind"].as_str().unwrap_or("?"),
                object["metadata"]["name"].as_str().unwrap_or("?"),
                storeplane_pod_security::warning_message(restricted, &violations)
            ));
        }
    }
    for (id, spec, long_running, replicas) in pods(objects) {
        if spec["securityContext"]["runAsNonRoot"] != true {
            problems.push(format!(
                "{id}: Pod securityContext.runAsNonRoot is not true"
            ));
        }
        for (cid, c, init) in containers(spec) {
            let at = format!("{id} {cid}");
            let image = c["image"].as_str().unwrap_or_default();
            if !is_pinned(image) {
                problems.push(format!("{at}: image {image:?} is not pinned to a tag"));
            }
            let res = &c["resources"];
            let r_cpu = cpu_milli(&res["requests"]["cpu"]);
            let r_mem = memory_mi(&res["requests"]["memory"]);
            let l_cpu = cpu_milli(&res["limits"]["cpu"]);
            let l_mem = memory_mi(&res["limits"]["memory"]);
            match (r_cpu, r_mem, l_cpu, l_mem) {
                (Some(a), Some(b), Some(c2), Some(d)) => {
                    req_cpu += a * replicas;
                    req_mem += b * replicas;
                    lim_cpu += c2 * replicas;
                    lim_mem += d * replicas;
                }
                _ => problems.push(format!(
                    "{at}: resources.requests and limits need cpu and memory"
                )),
            }
            if long_running && !init {
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    if !c[probe].is_object() {
                        problems.push(format!("{at}: no {probe}"));
                    }
                }
            }
            if c["securityContext"]["allowPrivilegeEscalation"] != false {
                problems.push(format!("{at}: allowPrivilegeEscalation is not false"));
            }
            for var in c["env"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let name = var["name"].as_str().unwrap_or_default();
                if is_secret_name(name) && !var["valueFrom"]["secretKeyRef"].is_object() {
                    problems.push(format!("{at}: env {name} must come from a secretKeyRef"));
                }
            }
        }
    }
    if req_cpu > QUOTA_REQUESTS_CPU_MILLI || lim_cpu > QUOTA_LIMITS_CPU_MILLI {
        problems.push(format!(
            "cpu requests {req_cpu}m / limits {lim_cpu}m exceed the quota"
        ));
    }
    if req_mem > QUOTA_REQUESTS_MEMORY_MI || lim_mem > QUOTA_LIMITS_MEMORY_MI {
        problems.push(format!(
            "memory requests {req_mem}Mi / limits {lim_mem}Mi exceed the quota"
        ));
    }
    let (claims, storage) = claims(objects);
    if claims > QUOTA_CLAIMS || storage > QUOTA_STORAGE_MI {
        problems.push(format!(
            "{claims} claims / {storage}Mi of storage exceed the quota"
        ));
    }
    problems
}

/// Volume claims (own and from StatefulSet templates) and their storage.
fn claims(objects: &[Value]) -> (u64, u64) {
    let mut count = 0;
    let mut storage = 0;
    for o in objects {
        let size = |claim: &Value| memory_mi(&claim["spec"]["resources"]["requests"]["storage"]);
        if o["kind"] == "PersistentVolumeClaim" {
            count += 1;
            storage += size(o).unwrap_or(u64::MAX / 4);
        }
        if o["kind"] == "StatefulSet" {
            let replicas = o["spec"]["replicas"].as_u64().unwrap_or(1);
            for t in o["spec"]["volumeClaimTemplates"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                count += replicas;
                storage += replicas * size(t).unwrap_or(u64::MAX / 4);
            }
        }
    }
    (count, storage)
}

/// The distinct images, sorted.
pub fn images(objects: &[Value]) -> Vec<String> {
    let mut all: Vec<String> = pods(objects)
        .into_iter()
        .flat_map(|(_, spec, _, _)| {
            containers(spec)
                .into_iter()
                .filter_map(|(_, c, _)| c["image"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Paths of `values` that `schema` does not declare, or declares with
/// another type.
pub fn undeclared(values: &Value, schema: &Value, path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let want = schema["type"].as_str().unwrap_or("any");
    let got = match values {
        Value::Object(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Null => "null",
    };
    if want != "any" && want != got {
        problems.push(format!(
            "{path}: the plugin sends {got}, the schema wants {want}"
        ));
    }
    if let Value::Object(fields) = values {
        for (key, value) in fields {
            let sub = &schema["properties"][key];
            if sub.is_null() {
                problems.push(format!("{path}.{key}: not in values.schema.json"));
            } else {
                problems.extend(undeclared(value, sub, &format!("{path}.{key}")));
            }
        }
    }
    problems
}

#[test]
fn quantities_parse_like_kubernetes() {
    assert_eq!(cpu_milli(&Value::from("250m")), Some(250));
    assert_eq!(cpu_milli(&Value::from("1")), Some(1000));
    assert_eq!(cpu_milli(&Value::from("1.5")), Some(1500));
    assert_eq!(memory_mi(&Value::from("1Gi")), Some(1024));
    assert_eq!(memory_mi(&Value::from("512Mi")), Some(512));
    assert!(is_pinned("mysql:8.4.11"));
    assert!(is_pinned("ghcr.io/storeplane/medusa-backend:2.21.2"));
    assert!(is_pinned("localhost:5000/x@sha256:abc"));
    assert!(!is_pinned("mysql"));
    assert!(!is_pinned("mysql:latest"));
    assert!(!is_pinned("localhost:5000/mysql"));
    assert!(is_secret_name("MYSQL_ROOT_PASSWORD"));
    assert!(is_secret_name("JWT_SECRET"));
    assert!(!is_secret_name("WOOCOMMERCE_VERSION"));
}

#[test]
fn policy_reports_what_a_bad_workload_lacks() {
    let bad = serde_json::json!([
        {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{
                "name": "web", "image": "nginx",
                "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]
            }]}}}
        },
        {
            "kind": "Job", "metadata": {"name": "setup"},
            "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": true}, "containers": []}}}
        }
    ]);
    let problems = check(bad.as_array().map(Vec::as_slice).unwrap_or_default());
    for expected in [
        "runAsNonRoot",
        "not pinned",
        "resources.requests and limits",
        "no readinessProbe",
        "no livenessProbe",
        "env DB_PASSWORD must come from a secretKeyRef",
        "allowPrivilegeEscalation",
        "no backoffLimit",
        "no activeDeadlineSeconds",
        r#"Deployment/web: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false"#,
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected}: {problems:#?}"
        );
    }
}
