//! Defaulting and allocation done by the apiserver on create and update, for
//! the kinds whose defaults clients and `kubectl` output rely on.

use serde_json::{Value, json};

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

/// Defaults a new object in place.
pub(super) fn on_create(info: &ResourceInfo, obj: &mut Value, st: &mut State) {
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
        ("apps", "deployments") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            spec.entry("strategy").or_insert(json!({
                "type": "RollingUpdate",
                "rollingUpdate": { "maxUnavailable": "25%", "maxSurge": "25%" }
            }));
            reset_status(obj);
        }
        ("apps", "statefulsets") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("updateStrategy").or_insert(json!({
                "type": "RollingUpdate", "rollingUpdate": { "partition": 0 }
            }));
            reset_status(obj);
        }
        ("apps", "replicasets" | "daemonsets") => reset_status(obj),
        ("batch", "jobs") => default_job(obj),
        ("", "services") => default_service(obj, st),
        ("", "persistentvolumeclaims") => {
            let spec = meta::object_mut(obj, "spec");
            spec.entry("volumeMode").or_insert(json!("Filesystem"));
            // What the DefaultStorageClass admission plugin does.
            spec.entry("storageClassName").or_insert(json!("standard"));
            obj["status"] = json!({ "phase": "Pending" });
        }
        ("", "pods") => {
            default_pod_resources(obj);
            if obj.get("status").is_none_or(|s| s.get("phase").is_none()) {
                obj["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" });
            }
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
        ("", "secrets") => {
            if let Value::Object(map) = obj {
                map.entry("type").or_insert(json!("Opaque"));
            }
            fold_string_data(obj);
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

/// Keeps fields an update may not drop.
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
            default_service_ports(new);
        }
        ("", "secrets") => fold_string_data(new),
        ("", "limitranges") => {
            canonical_quantities(
                new,
                "/spec/limits",
                &[
                    "default",
                    "defaultRequest",
                    "min",
                    "max",
                    "maxLimitRequestRatio",
                ],
            );
            limits::default_limit_range(new);
        }
        ("", "resourcequotas") => canonical_list(new.pointer_mut("/spec/hard")),
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
            ] {
                if new.pointer(&format!("/spec/{field}")).is_none()
                    && let Some(value) = old.pointer(&format!("/spec/{field}")).cloned()
                {
                    meta::object_mut(new, "spec").insert(field.to_owned(), value);
                }
            }
        }
        _ => {}
    }
}

/// Pod defaulting of resources (`SetDefaults_Pod`): quantities in their
/// canonical form, and a request for each resource that has only a limit.
fn default_pod_resources(pod: &mut Value) {
    for field in ["containers", "initContainers"] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{field}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for container in containers {
            let Some(resources) = container.get_mut("resources") else {
                continue;
            };
            canonical_list(resources.get_mut("limits"));
            canonical_list(resources.get_mut("requests"));
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let requests = meta::object_mut(resources, "requests");
            for (name, value) in limits {
                requests.entry(name).or_insert(value);
            }
        }
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
fn canonical_list(list: Option<&mut Value>) {
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

fn default_job(obj: &mut Value) {
    let uid = meta::uid(obj).to_owned();
    let name = meta::name(obj).unwrap_or("").to_owned();
    let spec = meta::object_mut(obj, "spec");
    spec.entry("completions").or_insert(json!(1));
    spec.entry("parallelism").or_insert(json!(1));
    spec.entry("backoffLimit").or_insert(json!(6));
    spec.entry("completionMode").or_insert(json!("NonIndexed"));
    spec.entry("suspend").or_insert(json!(false));
    let generated_labels = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    if !spec.contains_key("selector") {
        spec.insert(
            "selector".to_owned(),
            json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } }),
        );
    }
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let labels = meta::object_mut(meta::object_mut_value(template, "metadata"), "labels");
    if let Some(generated) = generated_labels.as_object() {
        for (k, v) in generated {
            labels.insert(k.clone(), v.clone());
        }
    }
    reset_status(obj);
}

fn default_service(obj: &mut Value, st: &mut State) {
    let spec = meta::object_mut(obj, "spec");
    let kind = spec
        .entry("type")
        .or_insert(json!("ClusterIP"))
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    spec.entry("sessionAffinity").or_insert(json!("None"));
    if kind != "ExternalName" {
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
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
        if !headless {
            spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
            spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
        }
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
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
        spec.entry("externalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    default_service_ports(obj);
    obj["status"] = json!({ "loadBalancer": {} });
}

fn default_service_ports(obj: &mut Value) {
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for port in ports {
            if let Value::Object(p) = port {
                p.entry("protocol").or_insert(json!("TCP"));
                // `SetDefaults_ServicePort`: an unset target (absent, 0 or
                // "") is the port itself.
                let unset = p
                    .get("targetPort")
                    .is_none_or(|t| t == &json!(0) || t == &json!(""));
                if unset && let Some(number) = p.get("port").cloned() {
                    p.insert("targetPort".to_owned(), number);
                }
            }
        }
    }
}
