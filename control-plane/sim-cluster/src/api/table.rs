//! `meta.k8s.io/v1` Table output, which kubectl asks for (`as=Table`) and
//! prints. Columns follow kubectl's printers for the kinds storeplane uses;
//! other kinds get `NAME` and `AGE`.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::meta;
use crate::registry::ResourceInfo;

/// What each row carries in `object` (the `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
}

const fn col(name: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 0,
    }
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        kind: "integer",
        priority: 0,
    }
}

const fn wide(name: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        priority: 1,
    }
}

fn columns(info: &ResourceInfo) -> Vec<Column> {
    match (info.group, info.plural) {
        ("", "namespaces") => vec![col("Name"), col("Status"), col("Age")],
        ("", "pods") => vec![
            col("Name"),
            col("Ready"),
            col("Status"),
            col("Restarts"),
            col("Age"),
            wide("IP"),
            wide("Node"),
            wide("Nominated Node"),
            wide("Readiness Gates"),
        ],
        ("apps", "deployments") => vec![
            col("Name"),
            col("Ready"),
            int("Up-to-date"),
            int("Available"),
            col("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("apps", "statefulsets") => vec![
            col("Name"),
            col("Ready"),
            col("Age"),
            wide("Containers"),
            wide("Images"),
        ],
        ("apps", "replicasets") => vec![
            col("Name"),
            int("Desired"),
            int("Current"),
            int("Ready"),
            col("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("apps", "controllerrevisions") => {
            vec![col("Name"), col("Controller"), int("Revision"), col("Age")]
        }
        ("batch", "jobs") => vec![
            col("Name"),
            col("Status"),
            col("Completions"),
            col("Duration"),
            col("Age"),
            wide("Containers"),
            wide("Images"),
            wide("Selector"),
        ],
        ("", "endpoints") => vec![col("Name"), col("Endpoints"), col("Age")],
        ("discovery.k8s.io", "endpointslices") => vec![
            col("Name"),
            col("AddressType"),
            col("Ports"),
            col("Endpoints"),
            col("Age"),
        ],
        ("networking.k8s.io", "networkpolicies") => {
            vec![col("Name"), col("Pod-Selector"), col("Age")]
        }
        ("batch", "cronjobs") => vec![
            col("Name"),
            col("Schedule"),
            col("Suspend"),
            int("Active"),
            col("Last Schedule"),
            col("Age"),
        ],
        ("", "services") => vec![
            col("Name"),
            col("Type"),
            col("Cluster-IP"),
            col("External-IP"),
            col("Port(s)"),
            col("Age"),
            wide("Selector"),
        ],
        ("networking.k8s.io", "ingresses") => vec![
            col("Name"),
            col("Class"),
            col("Hosts"),
            col("Address"),
            col("Ports"),
            col("Age"),
        ],
        ("", "persistentvolumeclaims") => vec![
            col("Name"),
            col("Status"),
            col("Volume"),
            col("Capacity"),
            col("Access Modes"),
            col("StorageClass"),
            col("VolumeAttributesClass"),
            col("Age"),
            wide("VolumeMode"),
        ],
        ("", "secrets") => vec![col("Name"), col("Type"), int("Data"), col("Age")],
        ("", "configmaps") => vec![col("Name"), int("Data"), col("Age")],
        ("", "serviceaccounts") => vec![col("Name"), int("Secrets"), col("Age")],
        ("", "events") => vec![
            col("Last Seen"),
            col("Type"),
            col("Reason"),
            col("Object"),
            col("Message"),
        ],
        ("", "nodes") => vec![
            col("Name"),
            col("Status"),
            col("Roles"),
            col("Age"),
            col("Version"),
        ],
        ("storage.k8s.io", "storageclasses") => vec![
            col("Name"),
            col("Provisioner"),
            col("ReclaimPolicy"),
            col("VolumeBindingMode"),
            col("AllowVolumeExpansion"),
            col("Age"),
        ],
        _ => vec![col("Name"), col("Age")],
    }
}

fn s(v: &Value, path: &str) -> String {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn n(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        "<none>".to_owned()
    } else {
        text
    }
}

fn or_unset(text: String) -> String {
    if text.is_empty() {
        "<unset>".to_owned()
    } else {
        text
    }
}

fn age(obj: &Value) -> String {
    meta::age(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
    )
}

fn containers(obj: &Value, field: &str) -> String {
    obj.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get(field).and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// `readinessGates` as kubectl prints them: `<none>`, or how many of them
/// hold (`1/2`).
fn readiness_gates(pod: &Value) -> String {
    let gates: Vec<&str> = pod
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g["conditionType"].as_str())
        .collect();
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    let met = gates
        .iter()
        .filter(|gate| {
            conditions
                .into_iter()
                .flatten()
                .any(|c| c["type"] == **gate && c["status"] == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

/// Up to three items and how many more, as kubectl lists addresses.
fn first_three(items: &[&str], none: &str) -> String {
    match items.len() {
        0 => none.to_owned(),
        1..=3 => items.join(","),
        n => format!("{} + {} more...", items[..3].join(","), n - 3),
    }
}

/// An Endpoints object's `ip:port` pairs (kubectl's `formatEndpoints`).
fn endpoints_text(obj: &Value) -> String {
    let mut pairs = Vec::new();
    for subset in obj
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports: Vec<i64> = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| n(p, "/port"))
            .collect();
        let ips: Vec<&str> = subset["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["ip"].as_str())
            .collect();
        if ports.is_empty() {
            pairs.extend(ips.iter().map(|ip| (*ip).to_owned()));
        }
        // Port by port, as kubectl's `formatEndpoints`.
        for port in &ports {
            pairs.extend(ips.iter().map(|ip| format!("{ip}:{port}")));
        }
    }
    let refs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    first_three(&refs, "<none>")
}

fn selector_text(obj: &Value) -> String {
    if obj.pointer("/spec/selector/matchLabels").is_some()
        || obj.pointer("/spec/selector/matchExpressions").is_some()
    {
        return selector_text_at(obj, "/spec/selector");
    }
    let labels = obj.pointer("/spec/selector").and_then(Value::as_object);
    labels
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A `LabelSelector` at `path` as `metav1.FormatLabelSelector` prints it.
fn selector_text_at(obj: &Value, path: &str) -> String {
    let Some(selector) = obj.pointer(path) else {
        return String::new();
    };
    // As `LabelSelectorAsSelector` builds it: requirements sorted by key.
    let mut parts: Vec<(String, String)> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), format!("{k}={v}"))))
        .collect();
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or("");
        let mut values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match expression["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        };
        parts.push((key.to_owned(), text));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    parts
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

/// A node's roles from its `node-role.kubernetes.io/<role>` labels.
fn node_roles(node: &Value) -> String {
    let roles: Vec<&str> = meta::labels(node)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    or_none(roles.join(","))
}

/// kubectl's pod STATUS column.
pub(crate) fn pod_status(pod: &Value) -> String {
    let mut reason = s(pod, "/status/reason");
    if reason.is_empty() {
        reason = s(pod, "/status/phase");
    }
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    for status in statuses.into_iter().flatten().rev() {
        let waiting = s(status, "/state/waiting/reason");
        let terminated = s(status, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting;
        } else if !terminated.is_empty() {
            reason = terminated;
        } else if status.pointer("/state/running").is_some() && reason == "Pending" {
            reason = "Running".to_owned();
        }
    }
    if meta::is_deleting(pod) {
        reason = "Terminating".to_owned();
    }
    reason
}

fn access_modes(obj: &Value) -> String {
    obj.pointer("/status/accessModes")
        .or_else(|| obj.pointer("/spec/accessModes"))
        .and_then(Value::as_array)
        .map(|modes| {
            modes
                .iter()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn service_ports(obj: &Value) -> String {
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
    let text: Vec<String> = ports
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node) => format!("{}:{node}/{proto}", n(p, "/port")),
                None => format!("{}/{proto}", n(p, "/port")),
            }
        })
        .collect();
    or_none(text.join(","))
}

fn load_balancer_ips(obj: &Value) -> String {
    obj.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn job_status(job: &Value) -> String {
    let conditions = job.pointer("/status/conditions").and_then(Value::as_array);
    let has = |kind: &str| {
        conditions.into_iter().flatten().any(|c| {
            c.get("type").and_then(Value::as_str) == Some(kind)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    };
    if has("Complete") {
        "Complete".to_owned()
    } else if has("Failed") {
        "Failed".to_owned()
    } else if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        "Suspended".to_owned()
    } else {
        "Running".to_owned()
    }
}

fn job_duration(job: &Value) -> String {
    let Some(start) = meta::parse_time(&s(job, "/status/startTime")) else {
        return String::new();
    };
    let end =
        meta::parse_time(&s(job, "/status/completionTime")).unwrap_or_else(jiff::Timestamp::now);
    meta::human_duration(end.as_second() - start.as_second())
}

fn cells(info: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let name = json!(meta::name(obj).unwrap_or(""));
    match (info.group, info.plural) {
        ("", "namespaces") => vec![name, json!(s(obj, "/status/phase")), json!(age(obj))],
        ("", "pods") => {
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses
                .into_iter()
                .flatten()
                .filter(|c| c.get("ready") == Some(&json!(true)))
                .count();
            let restarts: i64 = statuses
                .into_iter()
                .flatten()
                .map(|c| n(c, "/restartCount"))
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts),
                json!(age(obj)),
                json!(or_none(s(obj, "/status/podIP"))),
                json!(or_none(s(obj, "/spec/nodeName"))),
                json!(or_none(s(obj, "/status/nominatedNodeName"))),
                json!(readiness_gates(obj)),
            ]
        }
        ("apps", "deployments") => vec![
            name,
            json!(format!(
                "{}/{}",
                n(obj, "/status/readyReplicas"),
                n(obj, "/spec/replicas")
            )),
            json!(n(obj, "/status/updatedReplicas")),
            json!(n(obj, "/status/availableReplicas")),
            json!(age(obj)),
            json!(containers(obj, "name")),
            json!(containers(obj, "image")),
            json!(selector_text(obj)),
        ],
        ("apps", "statefulsets") => vec![
            name,
            json!(format!(
                "{}/{}",
                n(obj, "/status/readyReplicas"),
                n(obj, "/spec/replicas")
            )),
            json!(age(obj)),
            json!(containers(obj, "name")),
            json!(containers(obj, "image")),
        ],
        ("apps", "replicasets") => vec![
            name,
            json!(n(obj, "/spec/replicas")),
            json!(n(obj, "/status/replicas")),
            json!(n(obj, "/status/readyReplicas")),
            json!(age(obj)),
            json!(containers(obj, "name")),
            json!(containers(obj, "image")),
            json!(selector_text(obj)),
        ],
        ("apps", "controllerrevisions") => {
            let controller = obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
                .map(|r| {
                    let group = s(r, "/apiVersion")
                        .split_once('/')
                        .map(|(g, _)| format!(".{g}"))
                        .unwrap_or_default();
                    format!(
                        "{}{group}/{}",
                        s(r, "/kind").to_ascii_lowercase(),
                        s(r, "/name")
                    )
                })
                .unwrap_or_else(|| "<none>".to_owned());
            vec![
                name,
                json!(controller),
                json!(n(obj, "/revision")),
                json!(age(obj)),
            ]
        }
        ("", "endpoints") => vec![name, json!(endpoints_text(obj)), json!(age(obj))],
        ("discovery.k8s.io", "endpointslices") => {
            let ports: Vec<String> = obj
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| n(p, "/port").to_string())
                .collect();
            let addresses: Vec<&str> = obj
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            vec![
                name,
                json!(s(obj, "/addressType")),
                json!(or_unset(ports.join(","))),
                json!(first_three(&addresses, "<unset>")),
                json!(age(obj)),
            ]
        }
        ("networking.k8s.io", "networkpolicies") => vec![
            name,
            json!(or_none(selector_text_at(obj, "/spec/podSelector"))),
            json!(age(obj)),
        ],
        ("batch", "jobs") => vec![
            name,
            json!(job_status(obj)),
            json!(format!(
                "{}/{}",
                n(obj, "/status/succeeded"),
                n(obj, "/spec/completions").max(1)
            )),
            json!(job_duration(obj)),
            json!(age(obj)),
            json!(containers(obj, "name")),
            json!(containers(obj, "image")),
            json!(selector_text(obj)),
        ],
        ("batch", "cronjobs") => vec![
            name,
            json!(s(obj, "/spec/schedule")),
            json!(
                obj.pointer("/spec/suspend")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string()
            ),
            json!(
                obj.pointer("/status/active")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            ),
            json!(or_none(
                meta::age(
                    obj.pointer("/status/lastScheduleTime")
                        .and_then(Value::as_str)
                )
                .replace("<unknown>", "")
            )),
            json!(age(obj)),
        ],
        ("", "services") => {
            let kind = s(obj, "/spec/type");
            let external = match kind.as_str() {
                "LoadBalancer" => {
                    let ips = load_balancer_ips(obj);
                    if ips.is_empty() {
                        "<pending>".to_owned()
                    } else {
                        ips
                    }
                }
                "ExternalName" => s(obj, "/spec/externalName"),
                _ => "<none>".to_owned(),
            };
            vec![
                name,
                json!(kind),
                json!(or_none(s(obj, "/spec/clusterIP"))),
                json!(external),
                json!(service_ports(obj)),
                json!(age(obj)),
                json!(or_none(selector_text(obj))),
            ]
        }
        ("networking.k8s.io", "ingresses") => {
            let rules = obj.pointer("/spec/rules").and_then(Value::as_array);
            let hosts: Vec<&str> = rules
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("host").and_then(Value::as_str))
                .collect();
            let ports = if obj
                .pointer("/spec/tls")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty())
            {
                "80, 443"
            } else {
                "80"
            };
            vec![
                name,
                json!(or_none(s(obj, "/spec/ingressClassName"))),
                json!(if hosts.is_empty() {
                    "*".to_owned()
                } else {
                    hosts.join(",")
                }),
                json!(load_balancer_ips(obj)),
                json!(ports),
                json!(age(obj)),
            ]
        }
        ("", "persistentvolumeclaims") => vec![
            name,
            json!(s(obj, "/status/phase")),
            json!(s(obj, "/spec/volumeName")),
            json!(s(obj, "/status/capacity/storage")),
            json!(access_modes(obj)),
            json!(s(obj, "/spec/storageClassName")),
            json!(or_unset(s(obj, "/spec/volumeAttributesClassName"))),
            json!(age(obj)),
            json!(s(obj, "/spec/volumeMode")),
        ],
        ("", "secrets") => {
            let data = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            vec![name, json!(s(obj, "/type")), json!(data), json!(age(obj))]
        }
        ("", "configmaps") => {
            let data = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(data), json!(age(obj))]
        }
        ("", "serviceaccounts") => {
            let secrets = obj
                .get("secrets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            vec![name, json!(secrets), json!(age(obj))]
        }
        ("", "events") => {
            let last = obj
                .get("lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| obj.get("eventTime").and_then(Value::as_str))
                .or_else(|| {
                    obj.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                });
            let object = format!(
                "{}/{}",
                s(obj, "/involvedObject/kind").to_ascii_lowercase(),
                s(obj, "/involvedObject/name")
            );
            vec![
                json!(meta::age(last)),
                json!(s(obj, "/type")),
                json!(s(obj, "/reason")),
                json!(object),
                json!(s(obj, "/message")),
            ]
        }
        ("", "nodes") => {
            let ready = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                })
                .and_then(|c| c.get("status").and_then(Value::as_str))
                == Some("True");
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!(node_roles(obj)),
                json!(age(obj)),
                json!(s(obj, "/status/nodeInfo/kubeletVersion")),
            ]
        }
        ("storage.k8s.io", "storageclasses") => {
            let default = meta::annotation(obj, "storageclass.kubernetes.io/is-default-class")
                == Some("true");
            let shown = if default {
                format!("{} (default)", meta::name(obj).unwrap_or(""))
            } else {
                meta::name(obj).unwrap_or("").to_owned()
            };
            vec![
                json!(shown),
                json!(s(obj, "/provisioner")),
                json!(s(obj, "/reclaimPolicy")),
                json!(s(obj, "/volumeBindingMode")),
                json!(
                    obj.get("allowVolumeExpansion")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string()
                ),
                json!(age(obj)),
            ]
        }
        _ => vec![name, json!(age(obj))],
    }
}

fn row_object(obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => {
            let mut metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            if let Value::Object(m) = &mut metadata {
                m.remove("managedFields");
            }
            json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata })
        }
    }
}

/// A Table of `objects`, with `list_metadata` (resourceVersion, continue) as its metadata.
pub(crate) fn table(
    info: &ResourceInfo,
    objects: &[Arc<Value>],
    include: IncludeObject,
    list_metadata: Value,
) -> Value {
    let columns: Vec<Value> = columns(info)
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({ "name": c.name, "type": c.kind, "format": format, "description": c.name, "priority": c.priority })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = json!({ "cells": cells(info, obj) });
            let object = row_object(obj, include);
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn deployment_rows_show_ready_over_desired() {
        let registry = Registry::builtin();
        let info = registry.get(registry.lookup("apps", "v1", "deployments").unwrap());
        let deploy = Arc::new(json!({
            "metadata": { "name": "web", "creationTimestamp": meta::now() },
            "spec": { "replicas": 2 },
            "status": { "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1 }
        }));
        let table = table(info, &[deploy], IncludeObject::Metadata, json!({}));
        assert_eq!(table["columnDefinitions"][1]["name"], "Ready");
        assert_eq!(table["rows"][0]["cells"][0], "web");
        assert_eq!(table["rows"][0]["cells"][1], "1/2");
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn pod_status_prefers_waiting_reason() {
        let pod = json!({ "status": { "phase": "Pending", "containerStatuses": [
            { "state": { "waiting": { "reason": "ImagePullBackOff" } } }
        ] } });
        assert_eq!(pod_status(&pod), "ImagePullBackOff");
    }

    #[test]
    fn selectors_print_like_format_label_selector() {
        let policy = json!({ "spec": { "podSelector": {
            "matchLabels": { "team": "a" },
            "matchExpressions": [
                { "key": "tier", "operator": "In", "values": ["web", "api"] },
                { "key": "app", "operator": "Exists" },
                { "key": "zone", "operator": "DoesNotExist" },
            ],
        } } });
        assert_eq!(
            selector_text_at(&policy, "/spec/podSelector"),
            "app,team=a,tier in (api,web),!zone"
        );
        let endpoints = json!({ "subsets": [{
            "addresses": [{ "ip": "10.0.0.1" }, { "ip": "10.0.0.2" }],
            "ports": [{ "port": 80 }, { "port": 443 }],
        }] });
        assert_eq!(
            endpoints_text(&endpoints),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
        );
    }
}
