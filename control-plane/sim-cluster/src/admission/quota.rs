//! ResourceQuota: what each object consumes, the admission check that
//! refuses what would exceed a quota's `hard` (`exceeded quota: ...`,
//! `failed quota: ...: must specify ...`), and the usage the resourcequota
//! controller reports in `status.used` — with the words of
//! `apiserver/pkg/admission/plugin/resourcequota` and
//! `pkg/quota/v1/evaluator/core`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::limits::{ResourceList, container_resources, pod_totals, resource_list};
use crate::quantity::Quantity;

/// The quota resource names every object of a resource counts under:
/// `count/<plural>[.<group>]`.
fn object_count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// Core resources whose object count also has a legacy name.
fn legacy_count_name(group: &str, plural: &str) -> Option<&'static str> {
    match (group, plural) {
        ("", "configmaps") => Some("configmaps"),
        ("", "secrets") => Some("secrets"),
        ("", "replicationcontrollers") => Some("replicationcontrollers"),
        ("", "resourcequotas") => Some("resourcequotas"),
        _ => None,
    }
}

/// Whether the pod's usage counts (`QuotaV1Pod`): a pod that reached a
/// terminal phase no longer holds compute resources.
fn pod_is_active(pod: &Value) -> bool {
    !matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// Whether modifying an object of `group`/`plural` can change what it
/// consumes or which quotas count it. Only pods, services and claims are
/// charged by what they hold (and only pods by scope); any other object
/// counts as one of its kind whatever it holds, so its modifications need
/// no accounting, and the store skips parsing their previous state. Keep
/// in step with the arms of [`usage`] and the pod-only scopes of
/// [`matches`].
pub(crate) fn modification_can_change_usage(group: &str, plural: &str) -> bool {
    matches!(
        (group, plural),
        ("", "pods" | "services" | "persistentvolumeclaims")
    )
}

/// What `obj` (of `group`/`plural`) consumes, by quota resource name.
pub(crate) fn usage(group: &str, plural: &str, obj: &Value) -> ResourceList {
    let mut used = ResourceList::new();
    used.insert(object_count_name(group, plural), Quantity::count(1));
    if let Some(legacy) = legacy_count_name(group, plural) {
        used.insert(legacy.to_owned(), Quantity::count(1));
    }
    match (group, plural) {
        ("", "pods") if pod_is_active(obj) => {
            let regular = container_resources(obj, "containers");
            let init = container_resources(obj, "initContainers");
            let (requests, limits) = pod_totals(obj, &regular, &init);
            used.extend(compute_usage(&requests, &limits));
        }
        ("", "services") => {
            used.insert("services".to_owned(), Quantity::count(1));
            let kind = obj.pointer("/spec/type").and_then(Value::as_str);
            let ports = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ports = i64::try_from(ports).unwrap_or(i64::MAX);
            let node_ports = match kind {
                Some("NodePort") => ports,
                Some("LoadBalancer")
                    if obj.pointer("/spec/allocateLoadBalancerNodePorts")
                        != Some(&json!(false)) =>
                {
                    ports
                }
                _ => 0,
            };
            let balancers = i64::from(kind == Some("LoadBalancer"));
            used.insert(
                "services.loadbalancers".to_owned(),
                Quantity::count(balancers),
            );
            used.insert("services.nodeports".to_owned(), Quantity::count(node_ports));
        }
        ("", "persistentvolumeclaims") => {
            used.insert("persistentvolumeclaims".to_owned(), Quantity::count(1));
            let storage = resource_list(obj.pointer("/spec/resources/requests")).remove("storage");
            let class = obj
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty());
            if let Some(class) = class {
                used.insert(
                    format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
                    Quantity::count(1),
                );
            }
            if let Some(storage) = storage {
                used.insert("requests.storage".to_owned(), storage);
                if let Some(class) = class {
                    used.insert(
                        format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                        storage,
                    );
                }
            }
        }
        _ => {}
    }
    used
}

/// `podComputeUsageHelper`: a running pod's compute usage.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("pods".to_owned(), Quantity::count(1));
    for name in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(request) = requests.get(name) {
            out.insert(name.to_owned(), *request);
            out.insert(format!("requests.{name}"), *request);
        }
        if let Some(limit) = limits.get(name) {
            out.insert(format!("limits.{name}"), *limit);
        }
    }
    for (name, request) in requests {
        if name.starts_with("hugepages-") {
            out.insert(name.clone(), *request);
            out.insert(format!("requests.{name}"), *request);
        }
    }
    out
}

/// Whether a quota resource name is consumed by objects of `group`/`plural`
/// (the evaluators' `MatchingResources`).
pub(crate) fn tracks(group: &str, plural: &str, resource: &str) -> bool {
    if resource == object_count_name(group, plural) {
        return true;
    }
    if legacy_count_name(group, plural) == Some(resource) {
        return true;
    }
    match (group, plural) {
        ("", "pods") => {
            matches!(
                resource,
                "pods"
                    | "cpu"
                    | "memory"
                    | "ephemeral-storage"
                    | "requests.cpu"
                    | "requests.memory"
                    | "requests.ephemeral-storage"
                    | "limits.cpu"
                    | "limits.memory"
                    | "limits.ephemeral-storage"
            ) || resource.starts_with("hugepages-")
                || resource.starts_with("requests.hugepages-")
        }
        ("", "services") => matches!(
            resource,
            "services" | "services.loadbalancers" | "services.nodeports"
        ),
        ("", "persistentvolumeclaims") => {
            matches!(resource, "persistentvolumeclaims" | "requests.storage")
                || resource.ends_with(".storageclass.storage.k8s.io/requests.storage")
                || resource.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
        }
        _ => false,
    }
}

/// Whether an object falls in the quota's scopes (`spec.scopes` and
/// `spec.scopeSelector`). Scopes are defined for pods only, so a scoped
/// quota matches no other kind.
pub(crate) fn matches(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let mut scopes: Vec<(String, String, Vec<String>)> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| (s.to_owned(), "Exists".to_owned(), Vec::new()))
        .collect();
    scopes.extend(
        quota
            .pointer("/spec/scopeSelector/matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let values = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Some((
                    e.get("scopeName")?.as_str()?.to_owned(),
                    e.get("operator")?.as_str()?.to_owned(),
                    values,
                ))
            }),
    );
    if scopes.is_empty() {
        return true;
    }
    if (group, plural) != ("", "pods") {
        return false;
    }
    scopes
        .iter()
        .all(|(scope, operator, values)| pod_matches_scope(obj, scope, operator, values))
}

fn pod_matches_scope(pod: &Value, scope: &str, operator: &str, values: &[String]) -> bool {
    let terminating = pod
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0);
    let best_effort = || {
        let regular = container_resources(pod, "containers");
        let init = container_resources(pod, "initContainers");
        regular
            .iter()
            .chain(&init)
            .all(|(requests, limits)| requests.is_empty() && limits.is_empty())
    };
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort(),
        "NotBestEffort" => !best_effort(),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str);
            match operator {
                "Exists" => class.is_some_and(|c| !c.is_empty()),
                "DoesNotExist" => class.is_none_or(str::is_empty),
                "In" => class.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => class.is_none_or(|c| !values.iter().any(|v| v == c)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// `hard` of a quota's status (what admission enforces).
pub(crate) fn hard(quota: &Value) -> ResourceList {
    resource_list(quota.pointer("/status/hard"))
}

/// The pod evaluator's `Constraints`: when a quota limits cpu or memory,
/// every container must say how much it requests and is limited to.
pub(crate) fn missing_requests(required: &BTreeSet<String>, pod: &Value) -> Option<String> {
    const VALIDATED: [&str; 6] = [
        "cpu",
        "memory",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ];
    let required: BTreeSet<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|r| VALIDATED.contains(r))
        .collect();
    if required.is_empty() {
        return None;
    }
    let mut missing: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for field in ["containers", "initContainers"] {
        let containers = pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for container in containers {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("");
            let requests = resource_list(container.pointer("/resources/requests"));
            let limits = resource_list(container.pointer("/resources/limits"));
            let has = compute_usage(&requests, &limits);
            for resource in &required {
                if !has.contains_key(*resource) {
                    missing.entry(resource).or_default().insert(name.to_owned());
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(resource, names)| {
            format!(
                "{resource} for: {}",
                names.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// `a + b` per resource (`quota.Add`).
pub(crate) fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (name, value) in b {
        let current = out.entry(name.clone()).or_insert(Quantity::ZERO);
        *current = current.add(*value);
    }
    out
}

/// `a - b` per resource, never below zero
/// (`quota.SubtractWithNonNegativeResult`).
pub(crate) fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    a.iter()
        .map(|(name, value)| {
            let diff = match b.get(name) {
                Some(other) => value.sub(*other),
                None => *value,
            };
            let diff = if diff.is_negative() {
                Quantity::ZERO
            } else {
                diff
            };
            (name.clone(), diff)
        })
        .collect()
}

/// `name=value,...` in name order (`prettyPrint`).
pub(crate) fn pretty(list: &ResourceList) -> String {
    list.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks that charging `delta` to a quota stays within its `hard`;
/// returns the new `used`, or the apiserver's refusal.
pub(crate) fn charge(quota: &Value, delta: &ResourceList) -> Result<ResourceList, String> {
    let name = crate::meta::name(quota).unwrap_or("");
    let hard = hard(quota);
    let used = resource_list(quota.pointer("/status/used"));
    let requested: ResourceList = delta
        .iter()
        .filter(|(r, v)| hard.contains_key(*r) && !v.is_zero())
        .map(|(r, v)| (r.clone(), *v))
        .collect();
    let new_used = add(&used, &requested);
    let exceeded: Vec<&String> = requested
        .keys()
        .filter(|r| match (new_used.get(*r), hard.get(*r)) {
            (Some(total), Some(limit)) => total > limit,
            _ => false,
        })
        .collect();
    if exceeded.is_empty() {
        return Ok(new_used);
    }
    let mask = |list: &ResourceList| -> ResourceList {
        exceeded
            .iter()
            .filter_map(|r| list.get(*r).map(|v| ((*r).clone(), *v)))
            .collect()
    };
    Err(format!(
        "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
        pretty(&mask(&requested)),
        pretty(&mask(&used)),
        pretty(&mask(&hard)),
    ))
}

/// A quota's status from its spec and the namespace's current usage:
/// `hard` as in the spec, `used` for every hard resource (zero when none).
pub(crate) fn status(quota: &Value, usage: &ResourceList) -> Value {
    let spec_hard = resource_list(quota.pointer("/spec/hard"));
    let hard: serde_json::Map<String, Value> = spec_hard
        .iter()
        .map(|(name, value)| (name.clone(), json!(value.to_string())))
        .collect();
    let used: serde_json::Map<String, Value> = spec_hard
        .keys()
        .map(|name| {
            let value = usage.get(name).copied().unwrap_or(Quantity::ZERO);
            (name.clone(), json!(value.to_string()))
        })
        .collect();
    json!({ "hard": hard, "used": used })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(used: Value) -> Value {
        json!({
            "metadata": {"name": "storeplane-quota"},
            "status": {
                "hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi", "pods": "3"},
                "used": used,
            }
        })
    }

    fn pod(cpu: &str, memory: &str) -> Value {
        json!({"spec": {"containers": [{"name": "web", "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": "1", "memory": "1Gi"}}}]}})
    }

    #[test]
    fn exceeding_a_quota_is_worded_like_the_apiserver() {
        let q = quota(
            json!({"requests.cpu": "600m", "requests.memory": "512Mi", "limits.cpu": "1", "limits.memory": "1Gi", "pods": "1"}),
        );
        let err = charge(&q, &usage("", "pods", &pod("600m", "600Mi"))).unwrap_err();
        // As kube-apiserver 1.37 words it for the same quota and pod.
        assert_eq!(
            err,
            "exceeded quota: storeplane-quota, requested: requests.cpu=600m,requests.memory=600Mi, used: requests.cpu=600m,requests.memory=512Mi, limited: requests.cpu=1,requests.memory=1Gi"
        );
        let fresh = quota(
            json!({"requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0", "limits.memory": "0", "pods": "0"}),
        );
        let used = charge(&fresh, &usage("", "pods", &pod("600m", "512Mi"))).unwrap();
        assert_eq!(
            pretty(&used),
            "limits.cpu=1,limits.memory=1Gi,pods=1,requests.cpu=600m,requests.memory=512Mi"
        );
    }

    #[test]
    fn containers_without_requests_must_specify_them() {
        let required: BTreeSet<String> = [
            "limits.cpu",
            "limits.memory",
            "requests.cpu",
            "requests.memory",
            "pods",
        ]
        .map(str::to_owned)
        .into();
        let pod = json!({"spec": {"containers": [{"name": "web"}, {"name": "side"}]}});
        assert_eq!(
            missing_requests(&required, &pod).as_deref(),
            Some(
                "must specify limits.cpu for: side,web; limits.memory for: side,web; requests.cpu for: side,web; requests.memory for: side,web"
            )
        );
    }

    #[test]
    fn finished_pods_only_count_as_objects() {
        let mut done = pod("1", "1Gi");
        done["status"] = json!({"phase": "Succeeded"});
        let used = usage("", "pods", &done);
        assert_eq!(pretty(&used), "count/pods=1");
        let service = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            pretty(&usage("", "services", &service)),
            "count/services=1,services=1,services.loadbalancers=0,services.nodeports=2"
        );
    }
}
