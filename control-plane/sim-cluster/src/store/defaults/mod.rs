//! Defaulting and allocation done by the apiserver on create and update, for
//! the kinds whose defaults clients and `kubectl` output rely on.

mod pod;

use serde_json::{Map, Value, json};

use super::State;
use crate::admission::limits;
use crate::meta;
use crate::quantity::Quantity;
use crate::registry::ResourceInfo;

/// The defaults the apiserver applies while decoding a request (its Go
/// scheme's defaulting functions), before it records managed fields: so
/// the writer of a create owns them. Upstream that is every scheme
/// default; here only the namespace's `kubernetes.io/metadata.name` label
/// (`SetDefaults_Namespace`), which storeplane and kubectl see in every
/// namespace's managedFields. The rest of [`on_create`] belongs to nobody.
pub(super) fn on_decode(info: &ResourceInfo, obj: &mut Value) {
    if (info.group, info.plural) == ("", "namespaces") {
        let name = meta::name(obj).unwrap_or("").to_owned();
        if name.is_empty() {
            // A `generateName` namespace is labelled by the strategy later.
            return;
        }
        meta::object_mut(obj, "metadata")
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Some(labels) = obj
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
        }
    }
}

/// Defaults a new object in place: the scheme's defaults, then what the
/// registry and the mutating admission plugins fill in on a create.
pub(super) fn on_create(info: &ResourceInfo, obj: &mut Value, st: &mut State) {
    scheme(info, obj);
    match (info.group, info.plural) {
        ("", "namespaces") => {
            let name = meta::name(obj).unwrap_or("").to_owned();
            meta::object_mut(obj, "metadata")
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(labels) = obj
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
            }
            meta::object_mut(obj, "spec").insert("finalizers".to_owned(), json!(["kubernetes"]));
            obj["status"] = json!({ "phase": "Active" });
        }
        ("apps", "deployments" | "statefulsets" | "replicasets" | "daemonsets") => {
            reset_status(obj);
        }
        ("batch", "jobs") => job_selector(obj),
        ("", "services") => allocate_service(obj, st),
        ("", "persistentvolumeclaims") => {
            // What the DefaultStorageClass and StorageObjectInUseProtection
            // admission plugins do; a new claim is Pending.
            meta::object_mut(obj, "spec")
                .entry("storageClassName")
                .or_insert(json!("standard"));
            add_finalizer(obj, "kubernetes.io/pvc-protection");
            obj["status"] = json!({ "phase": "Pending" });
        }
        ("", "persistentvolumes") => add_finalizer(obj, "kubernetes.io/pv-protection"),
        // The pod strategy's `PrepareForCreate` starts every pod Pending;
        // the simulated controllers create theirs with the status the
        // kubelet would report next.
        ("", "pods") if obj.get("status").is_none_or(|s| s.get("phase").is_none()) => {
            obj["status"] = json!({ "phase": "Pending" });
        }
        ("", "events") => {
            if let Value::Object(map) = obj {
                map.entry("type").or_insert(json!("Normal"));
                map.entry("count").or_insert(json!(1));
            }
        }
        _ => {}
    }
}

/// The scheme's defaults (`SetObjectDefaults_*` of the apiserver's Go
/// types), which the apiserver applies while decoding every create and
/// update.
fn scheme(info: &ResourceInfo, obj: &mut Value) {
    match (info.group, info.plural) {
        ("", "pods") => pod::pod(obj),
        ("", "podtemplates") => pod::template(obj.get_mut("template")),
        ("", "replicationcontrollers") => {
            let labels = obj.pointer("/spec/template/metadata/labels").cloned();
            let spec = meta::object_mut(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            if let Some(labels) = labels.filter(|l| l.is_object()) {
                if spec.get("selector").is_none_or(is_empty) {
                    spec.insert("selector".to_owned(), labels.clone());
                }
                labels_if_none(obj, labels);
            }
            pod::template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "deployments") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if let Value::Object(strategy) = strategy {
                strategy.entry("type").or_insert(json!("RollingUpdate"));
                if strategy.get("type") == Some(&json!("RollingUpdate")) {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Value::Object(rolling) = rolling {
                        rolling.entry("maxUnavailable").or_insert(json!("25%"));
                        rolling.entry("maxSurge").or_insert(json!("25%"));
                    }
                }
            }
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            pod::template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "statefulsets") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
            if let Value::Object(strategy) = strategy {
                if strategy.get("type").is_none() {
                    strategy.insert("type".to_owned(), json!("RollingUpdate"));
                    strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                }
                if strategy.get("type") == Some(&json!("RollingUpdate"))
                    && let Some(Value::Object(rolling)) = strategy.get_mut("rollingUpdate")
                {
                    rolling.entry("partition").or_insert(json!(0));
                    // The MaxUnavailableStatefulSet feature, on by default
                    // since 1.37.
                    rolling.entry("maxUnavailable").or_insert(json!(1));
                }
            }
            let retention = spec
                .entry("persistentVolumeClaimRetentionPolicy")
                .or_insert_with(|| json!({}));
            if let Value::Object(retention) = retention {
                retention.entry("whenDeleted").or_insert(json!("Retain"));
                retention.entry("whenScaled").or_insert(json!("Retain"));
            }
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            pod::template(obj.pointer_mut("/spec/template"));
            if let Some(claims) = obj
                .pointer_mut("/spec/volumeClaimTemplates")
                .and_then(Value::as_array_mut)
            {
                for claim in claims {
                    claim_defaults(claim);
                    // The apps/v1 conversion prints each template's type.
                    if let Value::Object(map) = claim {
                        map.insert("apiVersion".to_owned(), json!("v1"));
                        map.insert("kind".to_owned(), json!("PersistentVolumeClaim"));
                    }
                }
            }
        }
        ("apps", "replicasets") => {
            meta::object_mut(obj, "spec")
                .entry("replicas")
                .or_insert(json!(1));
            pod::template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "daemonsets") => {
            let spec = meta::object_mut(obj, "spec");
            let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
            if let Value::Object(strategy) = strategy {
                strategy.entry("type").or_insert(json!("RollingUpdate"));
                if strategy.get("type") == Some(&json!("RollingUpdate")) {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Value::Object(rolling) = rolling {
                        rolling.entry("maxUnavailable").or_insert(json!(1));
                        rolling.entry("maxSurge").or_insert(json!(0));
                    }
                }
            }
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            pod::template(obj.pointer_mut("/spec/template"));
        }
        ("batch", "jobs") => {
            job_spec(obj.get_mut("spec"));
            if let Some(labels) = obj.pointer("/spec/template/metadata/labels").cloned() {
                labels_if_none(obj, labels);
            }
            pod::template(obj.pointer_mut("/spec/template"));
        }
        ("batch", "cronjobs") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("concurrencyPolicy").or_insert(json!("Allow"));
            spec.entry("suspend").or_insert(json!(false));
            spec.entry("successfulJobsHistoryLimit").or_insert(json!(3));
            spec.entry("failedJobsHistoryLimit").or_insert(json!(1));
            pod::template(obj.pointer_mut("/spec/jobTemplate/spec/template"));
        }
        ("", "services") => service_scheme(obj),
        ("", "persistentvolumeclaims") => claim_defaults(obj),
        ("", "persistentvolumes") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("persistentVolumeReclaimPolicy")
                .or_insert(json!("Retain"));
            spec.entry("volumeMode").or_insert(json!("Filesystem"));
            let status = meta::object_mut(obj, "status");
            status.entry("phase").or_insert(json!("Pending"));
        }
        ("", "endpoints") => {
            for subset in obj
                .get_mut("subsets")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                default_protocols(subset.get_mut("ports"));
            }
        }
        ("networking.k8s.io", "networkpolicies") => {
            let spec = meta::object_mut(obj, "spec");
            if spec.get("policyTypes").is_none_or(is_empty) {
                let mut types = vec![json!("Ingress")];
                if spec.get("egress").is_some_and(|e| !is_empty(e)) {
                    types.push(json!("Egress"));
                }
                spec.insert("policyTypes".to_owned(), Value::Array(types));
            }
            for direction in ["ingress", "egress"] {
                for rule in spec
                    .get_mut(direction)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    default_protocols(rule.get_mut("ports"));
                }
            }
        }
        ("", "secrets") => {
            if let Value::Object(map) = obj {
                map.entry("type").or_insert(json!("Opaque"));
            }
            fold_string_data(obj);
        }
        ("", "limitranges") => {
            canonical_quantities(
                obj,
                "/spec/limits",
                &[
                    "default",
                    "defaultRequest",
                    "min",
                    "max",
                    "maxLimitRequestRatio",
                ],
            );
            limits::default_limit_range(obj);
        }
        ("", "resourcequotas") => canonical_list(obj.pointer_mut("/spec/hard")),
        _ => {}
    }
}

/// `SetDefaults_PersistentVolumeClaim(Spec)`, on a claim or a claim template.
fn claim_defaults(claim: &mut Value) {
    meta::object_mut(claim, "spec")
        .entry("volumeMode")
        .or_insert(json!("Filesystem"));
    meta::object_mut(claim, "status")
        .entry("phase")
        .or_insert(json!("Pending"));
}

/// `protocol: TCP` on each port of a list that has none.
fn default_protocols(ports: Option<&mut Value>) {
    for port in ports
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        port.entry("protocol").or_insert(json!("TCP"));
    }
}

/// Whether a JSON value is empty (null, `[]`, `{}`, `""`).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `metadata.labels = labels` when the object has none (what
/// `SetDefaults_Job` and `SetDefaults_ReplicationController` do with their
/// template's labels).
fn labels_if_none(obj: &mut Value, labels: Value) {
    let metadata = meta::object_mut(obj, "metadata");
    if metadata.get("labels").is_none_or(is_empty) && !is_empty(&labels) {
        metadata.insert("labels".to_owned(), labels);
    }
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let metadata = meta::object_mut(obj, "metadata");
    let list = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if let Value::Array(list) = list
        && !list.iter().any(|f| f == finalizer)
    {
        list.push(json!(finalizer));
    }
}

/// Rewrites each `ResourceList` under `path`'s items (`keys`) canonically.
fn canonical_quantities(obj: &mut Value, path: &str, keys: &[&str]) {
    let Some(items) = obj.pointer_mut(path).and_then(Value::as_array_mut) else {
        return;
    };
    for item in items {
        for key in keys {
            canonical_list(item.get_mut(*key));
        }
    }
}

/// A `ResourceList` with each quantity in canonical form (`0.5` → `500m`),
/// as the apiserver stores it; values that do not parse are left alone.
pub(super) fn canonical_list(list: Option<&mut Value>) {
    let Some(Value::Object(list)) = list else {
        return;
    };
    for value in list.values_mut() {
        if let Some(q) = value.as_str().and_then(Quantity::parse) {
            *value = json!(q.to_string());
        }
    }
}

/// Moves Secret `stringData` into base64 `data`, as the apiserver does (the
/// write-only field is never stored).
fn fold_string_data(obj: &mut Value) {
    use base64::Engine as _;
    let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return;
    };
    let data = meta::object_mut(obj, "data");
    for (key, value) in plain {
        let text = value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        data.insert(key, json!(encoded));
    }
}

fn reset_status(obj: &mut Value) {
    if let Value::Object(map) = obj {
        map.remove("status");
    }
}

/// Keeps fields an update may not drop, then applies the scheme's
/// defaults as the apiserver does while decoding the update.
pub(super) fn on_update(
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
    subresource: Option<&str>,
) {
    match (info.group, info.plural) {
        ("", "services") => {
            for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                if new.pointer(&format!("/spec/{field}")).is_none()
                    && let Some(value) = old.pointer(&format!("/spec/{field}")).cloned()
                {
                    meta::object_mut(new, "spec").insert(field.to_owned(), value);
                }
            }
        }
        ("", "namespaces") if subresource != Some("finalize") => {
            // Only the /finalize subresource changes spec.finalizers.
            let finalizers = old
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            meta::object_mut(new, "spec").insert("finalizers".to_owned(), finalizers);
        }
        ("batch", "jobs") => {
            for field in [
                "selector",
                "completions",
                "parallelism",
                "backoffLimit",
                "completionMode",
                "suspend",
                "manualSelector",
                "podReplacementPolicy",
            ] {
                if new.pointer(&format!("/spec/{field}")).is_none()
                    && let Some(value) = old.pointer(&format!("/spec/{field}")).cloned()
                {
                    meta::object_mut(new, "spec").insert(field.to_owned(), value);
                }
            }
        }
        ("", "pods") => {
            // The Priority plugin keeps what it set on create.
            for field in ["priority", "preemptionPolicy"] {
                if new.pointer(&format!("/spec/{field}")).is_none()
                    && let Some(value) = old.pointer(&format!("/spec/{field}")).cloned()
                {
                    meta::object_mut(new, "spec").insert(field.to_owned(), value);
                }
            }
        }
        _ => {}
    }
    scheme(info, new);
}

/// `SetDefaults_Job` on a Job's spec (its labels are the caller's).
fn job_spec(spec: Option<&mut Value>) {
    let Some(Value::Object(spec)) = spec else {
        return;
    };
    let unset = |spec: &Map<String, Value>, f: &str| spec.get(f).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".to_owned(), json!(1));
    }
    if unset(spec, "parallelism") {
        spec.insert("parallelism".to_owned(), json!(1));
    }
    if unset(spec, "backoffLimit") {
        let limit = if unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".to_owned(), json!(limit));
    }
    spec.entry("completionMode").or_insert(json!("NonIndexed"));
    spec.entry("suspend").or_insert(json!(false));
    if unset(spec, "podReplacementPolicy") {
        let policy = if unset(spec, "podFailurePolicy") {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        spec.insert("podReplacementPolicy".to_owned(), json!(policy));
    }
    spec.entry("manualSelector").or_insert(json!(false));
}

/// The Job strategy's `PrepareForCreate`: unless `manualSelector`, a
/// selector on the Job's uid and the matching template labels; a Job
/// without labels of its own gets its template's (the defaulting shares
/// the map, so the generated labels show there too).
fn job_selector(obj: &mut Value) {
    reset_status(obj);
    if obj.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let uid = meta::uid(obj).to_owned();
    let name = meta::name(obj).unwrap_or("").to_owned();
    let had_labels = meta::labels(obj).is_some_and(|l| !l.is_empty());
    let spec = meta::object_mut(obj, "spec");
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let labels = meta::object_mut(meta::object_mut_value(template, "metadata"), "labels");
    for (key, value) in [
        ("batch.kubernetes.io/job-name", &name),
        ("job-name", &name),
        ("batch.kubernetes.io/controller-uid", &uid),
        ("controller-uid", &uid),
    ] {
        labels.entry(key).or_insert(json!(value));
    }
    let template_labels = Value::Object(labels.clone());
    let selector = spec.entry("selector").or_insert_with(|| json!({}));
    meta::object_mut(selector, "matchLabels")
        .entry("batch.kubernetes.io/controller-uid")
        .or_insert(json!(uid));
    if !had_labels {
        meta::metadata_mut(obj).insert("labels".to_owned(), template_labels);
    }
}

/// `SetDefaults_Service`.
fn service_scheme(obj: &mut Value) {
    let spec = meta::object_mut(obj, "spec");
    default_str(spec, "sessionAffinity", "None");
    if spec.get("sessionAffinity") == Some(&json!("None")) {
        spec.remove("sessionAffinityConfig");
    } else if spec.get("sessionAffinity") == Some(&json!("ClientIP"))
        && spec
            .get("sessionAffinityConfig")
            .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
            .is_none()
    {
        spec.insert(
            "sessionAffinityConfig".to_owned(),
            json!({ "clientIP": { "timeoutSeconds": 10_800 } }),
        );
    }
    default_str(spec, "type", "ClusterIP");
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        default_str(port, "protocol", "TCP");
        // An unset target (absent, 0 or "") is the port itself.
        let unset = port
            .get("targetPort")
            .is_none_or(|t| t == &json!(0) || t == &json!(""));
        if unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".to_owned(), number);
        }
    }
    let externally_accessible = kind == "NodePort"
        || kind == "LoadBalancer"
        || spec.get("externalIPs").is_some_and(|ips| !is_empty(ips));
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert(json!(true));
    }
}

/// The service registry's allocations on create: a cluster IP (10.96.0.0/16
/// in order), IP families (`initIPFamilyFields` on a single-stack IPv4
/// cluster) and node ports.
fn allocate_service(obj: &mut Value, st: &mut State) {
    let spec = meta::object_mut(obj, "spec");
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind != "ExternalName" {
        let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_owned(),
            _ => {
                let n = st.next_cluster_ip;
                st.next_cluster_ip += 1;
                format!("10.96.{}.{}", (n / 256) % 256, n % 256)
            }
        };
        spec.insert("clusterIP".to_owned(), json!(ip));
        spec.insert("clusterIPs".to_owned(), json!([ip]));
        let selectorless = spec.get("selector").is_none_or(is_empty);
        if headless && selectorless {
            spec.entry("ipFamilyPolicy")
                .or_insert(json!("RequireDualStack"));
            let single = spec.get("ipFamilyPolicy") == Some(&json!("SingleStack"));
            spec.entry("ipFamilies").or_insert(if single {
                json!(["IPv4"])
            } else {
                json!(["IPv4", "IPv6"])
            });
        } else {
            spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
            spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        }
    }
    if (kind == "NodePort" || kind == "LoadBalancer")
        && let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut)
    {
        for port in ports {
            if port.get("nodePort").is_none() {
                port["nodePort"] = json!(st.next_node_port);
                st.next_node_port = if st.next_node_port >= 32_767 {
                    30_000
                } else {
                    st.next_node_port + 1
                };
            }
        }
    }
    obj["status"] = json!({ "loadBalancer": {} });
}

fn default_str(map: &mut Map<String, Value>, field: &str, value: &str) {
    if map
        .get(field)
        .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    {
        map.insert(field.to_owned(), json!(value));
    }
}
