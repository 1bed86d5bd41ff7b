//! Patch formats: JSON merge patch (RFC 7386), a strategic merge patch that
//! covers what kubectl and controllers send, and JSON patch (RFC 6902).
//!
//! Strategic merge patch here knows list merge keys by field name (for
//! example `containers` merge by `name`, container `ports` by `containerPort`)
//! instead of from the OpenAPI schema; lists it does not know are replaced, as
//! in a merge patch. Directives understood: `$patch: replace|delete|merge`,
//! `$retainKeys`, `$deleteFromPrimitiveList/<field>`, and `$setElementOrder/<field>`
//! (accepted and ignored: element order is the patch's order, then the rest).

use serde_json::{Map, Value};

use crate::status::ApiError;

/// Applies a JSON merge patch: objects merge recursively, `null` deletes,
/// everything else (lists included) replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies a JSON patch (a list of operations).
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &ops).map_err(|e| {
        ApiError::invalid_patch(format!(
            "the server rejected our request due to an error in our request: {e}"
        ))
    })
}

/// The merge key of list `field`, if Kubernetes merges it by key, judged from
/// the field name and the elements' shape.
fn merge_key(field: &str, sample: &Map<String, Value>) -> Option<&'static str> {
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates"
        | "readinessGates" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "ports" if sample.contains_key("containerPort") => "containerPort",
        "ports" => "port",
        _ => return None,
    };
    Some(key)
}

/// Primitive lists that strategic merge patch treats as sets to merge.
fn merges_primitives(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch (see the module docs for what is covered).
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch_map.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type {other:?}"
            )));
        }
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return Ok(());
    };
    if let Some(Value::Array(keep)) = patch_map.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target_map.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch_map {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" || key == "$patch" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(remove)) =
                (target_map.get_mut(field), value)
            {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        match (target_map.get_mut(key), value) {
            (Some(Value::Array(existing)), Value::Array(items)) => {
                merge_list(key, existing, items)?;
            }
            (Some(existing), _) => {
                strategic_merge_patch(existing, value)?;
                if existing.is_null() {
                    target_map.remove(key);
                }
            }
            (None, _) => {
                let mut fresh = Value::Null;
                strategic_merge_patch(&mut fresh, &strip_directives(value))?;
                if !fresh.is_null() {
                    target_map.insert(key.clone(), fresh);
                }
            }
        }
    }
    Ok(())
}

fn merge_list(field: &str, existing: &mut Vec<Value>, items: &[Value]) -> Result<(), ApiError> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *existing = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return Ok(());
    }
    let sample = items
        .iter()
        .chain(existing.iter())
        .find_map(Value::as_object);
    let key = sample.and_then(|s| merge_key(field, s));
    match key {
        Some(key) => {
            for item in items {
                let Some(id) = item.get(key) else {
                    existing.push(strip_directives(item));
                    continue;
                };
                let position = existing.iter().position(|e| e.get(key) == Some(id));
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (position, delete) {
                    (Some(i), true) => {
                        existing.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => strategic_merge_patch(&mut existing[i], item)?,
                    (None, false) => existing.push(strip_directives(item)),
                }
            }
        }
        None if merges_primitives(field) => {
            for item in items {
                if !existing.contains(item) {
                    existing.push(item.clone());
                }
            }
        }
        None => *existing = items.iter().map(strip_directives).collect(),
    }
    Ok(())
}

/// A copy of `value` without patch directives, for inserting new content.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_objects_deletes_nulls_and_replaces_lists() {
        let mut doc = json!({ "a": { "b": 1, "c": 2 }, "list": [1, 2], "gone": true });
        merge_patch(
            &mut doc,
            &json!({ "a": { "b": 9 }, "list": [3], "gone": null, "new": "x" }),
        );
        assert_eq!(
            doc,
            json!({ "a": { "b": 9, "c": 2 }, "list": [3], "new": "x" })
        );
    }

    #[test]
    fn strategic_patch_merges_containers_by_name() {
        let mut deploy = json!({ "spec": { "template": { "spec": { "containers": [
            { "name": "web", "image": "nginx:1", "ports": [{ "containerPort": 80 }] },
            { "name": "sidecar", "image": "envoy" }
        ] } } } });
        let patch = json!({ "spec": { "template": { "spec": {
            "$setElementOrder/containers": [{ "name": "web" }, { "name": "sidecar" }],
            "containers": [{ "name": "web", "image": "nginx:2" }]
        } } } });
        strategic_merge_patch(&mut deploy, &patch).unwrap();
        let containers = &deploy["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:2");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["image"], "envoy");
    }

    #[test]
    fn strategic_patch_deletes_list_elements_and_merges_finalizers() {
        let mut obj = json!({ "metadata": { "finalizers": ["a"] }, "spec": { "ports": [{ "port": 80 }, { "port": 443 }] } });
        let patch = json!({
            "metadata": { "finalizers": ["b"] },
            "spec": { "ports": [{ "port": 80, "$patch": "delete" }] }
        });
        strategic_merge_patch(&mut obj, &patch).unwrap();
        assert_eq!(obj["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(obj["spec"]["ports"], json!([{ "port": 443 }]));
        strategic_merge_patch(
            &mut obj,
            &json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": ["a"] } }),
        )
        .unwrap();
        assert_eq!(obj["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn strategic_patch_replaces_unknown_lists_like_merge_patch() {
        let mut obj = json!({ "spec": { "args": ["a", "b"] } });
        strategic_merge_patch(&mut obj, &json!({ "spec": { "args": ["c"] } })).unwrap();
        assert_eq!(obj["spec"]["args"], json!(["c"]));
    }

    #[test]
    fn json_patch_applies_operations() {
        let mut obj = json!({ "metadata": { "labels": { "a": "1" } } });
        json_patch(
            &mut obj,
            &json!([
                { "op": "add", "path": "/metadata/labels/b", "value": "2" },
                { "op": "remove", "path": "/metadata/labels/a" }
            ]),
        )
        .unwrap();
        assert_eq!(obj, json!({ "metadata": { "labels": { "b": "2" } } }));
        assert_eq!(
            json_patch(
                &mut obj,
                &json!([{ "op": "test", "path": "/x", "value": 1 }])
            )
            .unwrap_err()
            .code,
            422
        );
    }
}
