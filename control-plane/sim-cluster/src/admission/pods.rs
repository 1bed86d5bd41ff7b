//! What kube-apiserver's default mutating plugins and the pod strategy add
//! to a new Pod, after LimitRanger: ServiceAccount (the account name, the
//! projected `kube-api-access-*` token volume mounted in every container,
//! the account's image pull secrets), Priority (`priority`,
//! `preemptionPolicy` from the PriorityClass), DefaultTolerationSeconds
//! (the `not-ready`/`unreachable` NoExecute tolerations of 300 s), and the
//! QoS class the strategy records in `status.qosClass`.

use serde_json::{Map, Value, json};

use crate::meta;
use crate::quantity::Quantity;

/// Where the ServiceAccount plugin mounts the token.
const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The plugin's volume name prefix.
const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";
/// The bound token's lifetime the plugin asks for (`WarnOnlyBoundTokenExpirationSeconds`).
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;

/// The ServiceAccount plugin on a new pod; `account` is the pod's account
/// as stored (`None` when missing: the simulator admits the pod anyway, see
/// the README). `suffix` names the token volume.
pub(crate) fn service_account(pod: &mut Value, account: Option<&Value>, suffix: &str) {
    let spec = meta::object_mut(pod, "spec");
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        spec.insert("serviceAccountName".to_owned(), json!("default"));
        spec.insert("serviceAccount".to_owned(), json!("default"));
    }
    let automount = match spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
    {
        Some(pod_says) => pod_says,
        None => account
            .and_then(|a| a.get("automountServiceAccountToken"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    if automount {
        mount_token(spec, suffix);
    }
    let no_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    let account_secrets: Vec<Value> = account
        .and_then(|a| a.get("imagePullSecrets"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| json!({ "name": s.get("name").cloned().unwrap_or(json!("")) }))
        .collect();
    if no_pull_secrets && !account_secrets.is_empty() {
        spec.insert("imagePullSecrets".to_owned(), Value::Array(account_secrets));
    }
}

/// `mountServiceAccountToken`: every container without a mount at the
/// token path gets one, and the pod the projected volume.
fn mount_token(spec: &mut Map<String, Value>, suffix: &str) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(TOKEN_VOLUME_PREFIX))
        .map(str::to_owned);
    let volume = existing
        .clone()
        .unwrap_or_else(|| format!("{TOKEN_VOLUME_PREFIX}{suffix}"));
    let mount = json!({ "name": volume, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH });
    let mut needed = false;
    for field in ["initContainers", "containers"] {
        for container in spec
            .get_mut(field)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let list = container
                .as_object_mut()
                .map(|c| c.entry("volumeMounts").or_insert_with(|| json!([])));
            let Some(Value::Array(list)) = list else {
                continue;
            };
            if !list.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH) {
                list.push(mount.clone());
                needed = true;
            }
        }
    }
    if needed && existing.is_none() {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Value::Array(volumes) = volumes {
            volumes.push(json!({
                "name": volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        { "serviceAccountToken": { "expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token" } },
                        { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                        { "downwardAPI": { "items": [{ "path": "namespace",
                            "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } },
                    ],
                },
            }));
        }
    }
}

/// The Priority plugin on a new pod: the value and preemption policy of
/// its PriorityClass (`classes` are the cluster's), of the global default
/// class when it names none, else 0 and `PreemptLowerPriority`. Errors
/// with the plugin's reason.
pub(crate) fn priority(pod: &mut Value, classes: &[Value]) -> Result<(), String> {
    let spec = meta::object_mut(pod, "spec");
    let wanted = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let class = match &wanted {
        Some(name) => Some(
            classes
                .iter()
                .find(|c| meta::name(c) == Some(name))
                .ok_or_else(|| format!("no PriorityClass with name {name} was found"))?,
        ),
        None => classes
            .iter()
            .filter(|c| c.get("globalDefault") == Some(&json!(true)))
            .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0)),
    };
    let value = class
        .and_then(|c| c.get("value"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let policy = class
        .and_then(|c| c.get("preemptionPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("PreemptLowerPriority")
        .to_owned();
    if let Some(given) = spec.get("priority").and_then(Value::as_i64)
        && given != value
    {
        return Err(format!(
            "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
        ));
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
        && given != policy
    {
        return Err(format!(
            "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
        ));
    }
    if let (None, Some(class)) = (&wanted, class)
        && let Some(name) = meta::name(class)
    {
        spec.insert("priorityClassName".to_owned(), json!(name));
    }
    spec.insert("priority".to_owned(), json!(value));
    spec.insert("preemptionPolicy".to_owned(), json!(policy));
    Ok(())
}

/// DefaultTolerationSeconds: tolerate `not-ready` and `unreachable`
/// NoExecute taints for 300 s unless the pod already tolerates them.
pub(crate) fn default_tolerations(pod: &mut Value) {
    let spec = meta::object_mut(pod, "spec");
    let list = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Value::Array(list) = list else {
        return;
    };
    let tolerates = |key: &str| {
        list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let missing: Vec<&str> = [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    .into_iter()
    .filter(|key| !tolerates(key))
    .collect();
    for key in missing {
        list.push(json!({
            "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300,
        }));
    }
    if list.is_empty() {
        spec.remove("tolerations");
    }
}

/// The QoS class (`ComputePodQOS`): from each container's cpu and memory
/// requests and limits, init containers included.
pub(crate) fn qos_class(pod: &Value) -> &'static str {
    let mut pod_qos: Option<&'static str> = None;
    for field in ["initContainers", "containers"] {
        for container in pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let class = requirements_qos(container.get("resources"));
            match pod_qos {
                _ if class == "Burstable" => return "Burstable",
                None => pod_qos = Some(class),
                Some(seen) if seen != class => return "Burstable",
                Some(_) => {}
            }
        }
    }
    pod_qos.unwrap_or("BestEffort")
}

fn requirements_qos(resources: Option<&Value>) -> &'static str {
    let list = |key: &str| {
        resources
            .and_then(|r| r.get(key))
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
    };
    let (requests, limits) = (list("requests"), list("limits"));
    if requests.is_none() && limits.is_none() {
        return "BestEffort";
    }
    let quantity = |list: Option<&Map<String, Value>>, name: &str| {
        list.and_then(|l| l.get(name))
            .and_then(Value::as_str)
            .and_then(Quantity::parse)
            .unwrap_or(Quantity::ZERO)
    };
    let mut qos = None;
    for name in ["cpu", "memory"] {
        let (request, limit) = (quantity(requests, name), quantity(limits, name));
        let class = if request != limit {
            "Burstable"
        } else if request == Quantity::ZERO {
            "BestEffort"
        } else {
            "Guaranteed"
        };
        match qos {
            _ if class == "Burstable" => return "Burstable",
            None => qos = Some(class),
            Some(seen) if seen != class => return "Burstable",
            Some(_) => {}
        }
    }
    qos.unwrap_or("BestEffort")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: Value) -> Value {
        json!({ "metadata": { "name": "p" }, "spec": { "containers": containers } })
    }

    #[test]
    fn qos_follows_compute_pod_qos() {
        let none = pod(json!([{ "name": "a" }]));
        assert_eq!(qos_class(&none), "BestEffort");
        let equal = pod(json!([{ "name": "a", "resources": {
            "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "cpu": "0.1", "memory": "64Mi" } } }]));
        assert_eq!(qos_class(&equal), "Guaranteed");
        let below = pod(json!([{ "name": "a", "resources": {
            "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "cpu": "200m", "memory": "128Mi" } } }]));
        assert_eq!(qos_class(&below), "Burstable");
        let cpu_only = pod(json!([{ "name": "a", "resources": {
            "requests": { "cpu": "1" }, "limits": { "cpu": "1" } } }]));
        assert_eq!(qos_class(&cpu_only), "Burstable");
        let mixed = pod(json!([
            { "name": "a", "resources": { "requests": { "cpu": "1", "memory": "1Gi" }, "limits": { "cpu": "1", "memory": "1Gi" } } },
            { "name": "b" },
        ]));
        assert_eq!(qos_class(&mixed), "Burstable");
    }

    #[test]
    fn the_service_account_plugin_mounts_the_token_unless_told_not_to() {
        let mut p = pod(
            json!([{ "name": "a" }, { "name": "b", "volumeMounts": [{ "name": "x", "mountPath": TOKEN_MOUNT_PATH }] }]),
        );
        service_account(&mut p, None, "abcde");
        assert_eq!(p["spec"]["serviceAccountName"], "default");
        assert_eq!(p["spec"]["serviceAccount"], "default");
        assert_eq!(
            p["spec"]["containers"][0]["volumeMounts"],
            json!([{ "name": "kube-api-access-abcde", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH }])
        );
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(p["spec"]["volumes"][0]["name"], "kube-api-access-abcde");

        let mut opted_out = pod(json!([{ "name": "a" }]));
        opted_out["spec"]["automountServiceAccountToken"] = json!(false);
        service_account(&mut opted_out, None, "abcde");
        assert!(opted_out["spec"].get("volumes").is_none());
        let account = json!({ "automountServiceAccountToken": false, "imagePullSecrets": [{ "name": "reg" }] });
        let mut by_account = pod(json!([{ "name": "a" }]));
        service_account(&mut by_account, Some(&account), "abcde");
        assert!(by_account["spec"].get("volumes").is_none());
        assert_eq!(
            by_account["spec"]["imagePullSecrets"],
            json!([{ "name": "reg" }])
        );
    }

    #[test]
    fn priority_and_tolerations_are_filled_in() {
        let mut p = pod(json!([{ "name": "a" }]));
        priority(&mut p, &[]).unwrap();
        default_tolerations(&mut p);
        assert_eq!(p["spec"]["priority"], 0);
        assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(p["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(p["spec"]["tolerations"][0]["tolerationSeconds"], 300);

        let mut tolerant = pod(json!([{ "name": "a" }]));
        tolerant["spec"]["tolerations"] = json!([{ "operator": "Exists" }]);
        default_tolerations(&mut tolerant);
        assert_eq!(
            tolerant["spec"]["tolerations"],
            json!([{ "operator": "Exists" }])
        );

        let mut unknown = pod(json!([{ "name": "a" }]));
        unknown["spec"]["priorityClassName"] = json!("urgent");
        assert_eq!(
            priority(&mut unknown, &[]).unwrap_err(),
            "no PriorityClass with name urgent was found"
        );
        let critical =
            json!({ "metadata": { "name": "system-node-critical" }, "value": 2_000_001_000 });
        let mut system = pod(json!([{ "name": "a" }]));
        system["spec"]["priorityClassName"] = json!("system-node-critical");
        priority(&mut system, &[critical]).unwrap();
        assert_eq!(system["spec"]["priority"], 2_000_001_000);
    }
}
