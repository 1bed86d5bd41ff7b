//! LimitRanger: default container requests and limits from the namespace's
//! LimitRanges, and refuse pods and claims outside their `min`, `max` and
//! `maxLimitRequestRatio` — with `plugin/pkg/admission/limitranger`'s words.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::quantity::Quantity;

/// The annotation LimitRanger leaves on a pod it defaulted.
pub(crate) const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Resource names to quantities, in name order.
pub(crate) type ResourceList = BTreeMap<String, Quantity>;

/// A `ResourceList` JSON object as quantities (unparseable values skipped).
pub(crate) fn resource_list(value: Option<&Value>) -> ResourceList {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(v.as_str()?)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn items<'a>(limit_range: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    limit_range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |item| item.get("type").and_then(Value::as_str) == Some(kind))
}

/// Defaults a LimitRange as the API does on create and update
/// (`SetDefaults_LimitRangeItem`): for Container items, `default` from
/// `max`, `defaultRequest` from `default`, then from `min`.
pub(crate) fn default_limit_range(limit_range: &mut Value) {
    let Some(limits) = limit_range
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in limits {
        let Value::Object(item) = item else { continue };
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let copy_missing = |item: &mut Map<String, Value>, from: &str, to: &str| {
            let source = item.get(from).and_then(Value::as_object).cloned();
            let target = item.entry(to).or_insert_with(|| json!({}));
            if let (Some(source), Value::Object(target)) = (source, target) {
                for (k, v) in source {
                    target.entry(k).or_insert(v);
                }
            }
        };
        copy_missing(item, "max", "default");
        copy_missing(item, "default", "defaultRequest");
        copy_missing(item, "min", "defaultRequest");
        for key in ["default", "defaultRequest"] {
            if item
                .get(key)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                item.remove(key);
            }
        }
    }
}

/// The mutating half: fills each container's missing requests and limits
/// from one LimitRange's Container defaults, and records what it set in
/// the `kubernetes.io/limit-ranger` annotation.
pub(crate) fn default_pod(limit_range: &Value, pod: &mut Value) {
    let mut default_requests = ResourceList::new();
    let mut default_limits = ResourceList::new();
    for item in items(limit_range, "Container") {
        default_requests.extend(resource_list(item.get("defaultRequest")));
        default_limits.extend(resource_list(item.get("default")));
    }
    let mut notes: Vec<String> = Vec::new();
    for (field, label) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{field}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for container in containers {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let resources = crate::meta::object_mut(container, "resources");
            let set_requests = fill(resources, "requests", &default_requests);
            let set_limits = fill(resources, "limits", &default_limits);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {label} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {label} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if !notes.is_empty() {
        let annotations = crate::meta::object_mut(
            crate::meta::object_mut_value(pod, "metadata"),
            "annotations",
        );
        annotations.insert(
            ANNOTATION.to_owned(),
            json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
        );
    }
}

/// Sets the defaults a container lacks; returns their names, sorted.
fn fill(resources: &mut Map<String, Value>, key: &str, defaults: &ResourceList) -> Vec<String> {
    let list = resources.entry(key).or_insert_with(|| json!({}));
    let Value::Object(list) = list else {
        return Vec::new();
    };
    let mut set = Vec::new();
    for (name, value) in defaults {
        if !list.contains_key(name) {
            list.insert(name.clone(), json!(value.to_string()));
            set.push(name.clone());
        }
    }
    set
}

/// The validating half for a pod: every violated constraint of one
/// LimitRange, aggregated; `None` when the pod fits.
pub(crate) fn check_pod(limit_range: &Value, pod: &Value) -> Option<String> {
    let mut errors = Vec::new();
    let regular = container_resources(pod, "containers");
    let init = container_resources(pod, "initContainers");
    for item in items(limit_range, "Container") {
        for (requests, limits) in regular.iter().chain(&init) {
            check_item("Container", item, requests, limits, &mut errors);
        }
    }
    for item in items(limit_range, "Pod") {
        let (requests, limits) = pod_totals(pod, &regular, &init);
        check_item("Pod", item, &requests, &limits, &mut errors);
    }
    super::aggregate(&errors)
}

/// The validating half for a PersistentVolumeClaim: `min` and `max` of
/// PersistentVolumeClaim items against `spec.resources.requests`.
pub(crate) fn check_claim(limit_range: &Value, claim: &Value) -> Option<String> {
    let mut errors = Vec::new();
    let requests = resource_list(claim.pointer("/spec/resources/requests"));
    for item in items(limit_range, "PersistentVolumeClaim") {
        for (name, enforced) in resource_list(item.get("min")) {
            if let Some(e) = min_constraint(
                "PersistentVolumeClaim",
                &name,
                enforced,
                &requests,
                &ResourceList::new(),
            ) {
                errors.push(e);
            }
        }
        for (name, enforced) in resource_list(item.get("max")) {
            match requests.get(&name) {
                None => errors.push(format!(
                    "maximum {name} usage per PersistentVolumeClaim is {enforced}.  No request is specified"
                )),
                Some(request) if request.milli_value() > enforced.milli_value() => {
                    errors.push(format!(
                        "maximum {name} usage per PersistentVolumeClaim is {enforced}, but request is {request}"
                    ));
                }
                Some(_) => {}
            }
        }
    }
    super::aggregate(&errors)
}

fn check_item(
    kind: &str,
    item: &Value,
    requests: &ResourceList,
    limits: &ResourceList,
    errors: &mut Vec<String>,
) {
    for (name, enforced) in resource_list(item.get("min")) {
        errors.extend(min_constraint(kind, &name, enforced, requests, limits));
    }
    for (name, enforced) in resource_list(item.get("max")) {
        match (requests.get(&name), limits.get(&name)) {
            (_, None) => errors.push(format!(
                "maximum {name} usage per {kind} is {enforced}.  No limit is specified"
            )),
            (_, Some(limit)) if limit.milli_value() > enforced.milli_value() => errors.push(
                format!("maximum {name} usage per {kind} is {enforced}, but limit is {limit}"),
            ),
            (Some(request), _) if request.milli_value() > enforced.milli_value() => errors.push(
                format!("maximum {name} usage per {kind} is {enforced}, but request is {request}"),
            ),
            _ => {}
        }
    }
    for (name, enforced) in resource_list(item.get("maxLimitRequestRatio")) {
        let request = requests.get(&name).map_or(0, Quantity::milli_value);
        let limit = limits.get(&name).map_or(0, Quantity::milli_value);
        if request == 0 {
            errors.push(format!(
                "{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
            ));
        } else if limit == 0 {
            errors.push(format!(
                "{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
            ));
        } else {
            #[allow(clippy::cast_precision_loss)]
            let ratio = limit as f64 / request as f64;
            #[allow(clippy::cast_precision_loss)]
            let max = enforced.milli_value() as f64;
            if ratio * 1000.0 > max {
                errors.push(format!(
                    "{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {ratio:.6}"
                ));
            }
        }
    }
}

fn min_constraint(
    kind: &str,
    name: &str,
    enforced: Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let Some(request) = requests.get(name) else {
        return Some(format!(
            "minimum {name} usage per {kind} is {enforced}.  No request is specified"
        ));
    };
    if request.milli_value() < enforced.milli_value() {
        return Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but request is {request}"
        ));
    }
    match limits.get(name) {
        Some(limit) if limit.milli_value() < enforced.milli_value() => Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but limit is {limit}"
        )),
        _ => None,
    }
}

/// A pod's total requests and limits: containers summed, each ordinary
/// init container counted as a floor (it runs alone), restartable
/// (sidecar) init containers added, plus `spec.overhead`.
pub(crate) fn pod_totals(
    pod: &Value,
    regular: &[(ResourceList, ResourceList)],
    init: &[(ResourceList, ResourceList)],
) -> (ResourceList, ResourceList) {
    let restartable: Vec<bool> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| c.get("restartPolicy").and_then(Value::as_str) == Some("Always"))
        .collect();
    let overhead = resource_list(pod.pointer("/spec/overhead"));
    let total = |pick: fn(&(ResourceList, ResourceList)) -> &ResourceList| {
        let mut sum = ResourceList::new();
        for c in regular {
            add_all(&mut sum, pick(c));
        }
        let mut sidecars = ResourceList::new();
        for (i, c) in init.iter().enumerate() {
            if restartable.get(i).copied().unwrap_or(false) {
                add_all(&mut sum, pick(c));
                add_all(&mut sidecars, pick(c));
            } else {
                let mut alone = sidecars.clone();
                add_all(&mut alone, pick(c));
                for (name, value) in alone {
                    let current = sum.entry(name).or_insert(Quantity::ZERO);
                    if value > *current {
                        *current = value;
                    }
                }
            }
        }
        add_all(&mut sum, &overhead);
        sum
    };
    (total(|c| &c.0), total(|c| &c.1))
}

fn add_all(sum: &mut ResourceList, values: &ResourceList) {
    for (name, value) in values {
        let current = sum.entry(name.clone()).or_insert(Quantity::ZERO);
        *current = current.add(*value);
    }
}

/// Requests and limits of each container of a pod (or pod template spec).
pub(crate) fn container_resources(pod: &Value, field: &str) -> Vec<(ResourceList, ResourceList)> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            (
                resource_list(c.pointer("/resources/requests")),
                resource_list(c.pointer("/resources/limits")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storeplane_limits() -> Value {
        let mut lr = json!({"spec": {"limits": [
            {"type": "Container",
             "default": {"cpu": "500m", "memory": "512Mi"},
             "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
             "max": {"cpu": "4", "memory": "8Gi"}},
            {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}}
        ]}});
        default_limit_range(&mut lr);
        lr
    }

    #[test]
    fn defaults_fill_what_containers_lack_and_are_recorded() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "web", "image": "nginx"},
            {"name": "side", "image": "busybox", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}
        ]}});
        default_pod(&storeplane_limits(), &mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
        );
        assert_eq!(
            pod["spec"]["containers"][1]["resources"],
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "1", "memory": "128Mi"}})
        );
        // The wording of a real API server (checked against kube-apiserver 1.37).
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web; memory request for container side; memory limit for container side"
        );
    }

    #[test]
    fn max_is_enforced_with_the_limit_rangers_words() {
        let lr = storeplane_limits();
        let mut one = json!({"spec": {"containers": [{"name": "web", "resources": {"limits": {"cpu": "5"}}}]}});
        // Validation sees the pod after the defaults (the memory limit).
        default_pod(&lr, &mut one);
        assert_eq!(
            check_pod(&lr, &one).as_deref(),
            Some("maximum cpu usage per Container is 4, but limit is 5")
        );
        let two = json!({"spec": {"containers": [{"name": "web", "resources": {"limits": {"cpu": "5", "memory": "10Gi"}}}]}});
        assert_eq!(
            check_pod(&lr, &two).as_deref(),
            Some(
                "[maximum cpu usage per Container is 4, but limit is 5, maximum memory usage per Container is 8Gi, but limit is 10Gi]"
            )
        );
        let fits = json!({"spec": {"containers": [{"name": "web", "resources": {"limits": {"cpu": "4", "memory": "1Gi"}}}]}});
        assert_eq!(check_pod(&lr, &fits), None);
        let claim = json!({"spec": {"resources": {"requests": {"storage": "20Gi"}}}});
        assert_eq!(
            check_claim(&lr, &claim).as_deref(),
            Some("maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi")
        );
    }

    #[test]
    fn limit_range_defaults_fill_default_request_from_default_and_min() {
        let mut lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}});
        default_limit_range(&mut lr);
        assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"cpu": "2", "memory": "64Mi"})
        );
    }
}
