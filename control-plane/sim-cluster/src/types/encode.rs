//! Objects as the apiserver prints them. A real apiserver decodes every
//! request into its Go structs and encodes them back with `encoding/json`,
//! so what it stores and serves follows the Go types, not the request:
//! a field tagged `omitempty` disappears when empty (`egress: []`,
//! `annotations: {}`, `""`, `0`, `false`), a struct field is always there
//! (`resources: {}` on a container, `status: {}` on a new Deployment), and
//! a `metav1.Time` that is not `omitzero` prints as `null` when unset
//! (`lastProbeTime: null`).
//!
//! [`go_json`] rewrites a stored object that way, from the field table in
//! [`super::schema`]. Fields the Go types do not know are left as they
//! are (the simulator keeps them; see the README), and so are the values
//! whose Go types encode themselves (quantities, int-or-strings,
//! durations, raw JSON). Two simplifications: a nil list or map that is not
//! `omitempty` (Go prints `null`) is left out rather than added as `null`,
//! and custom resources are stored as sent.

use serde_json::{Map, Value};

use super::{Field, Schema, Type, schema};

/// Nesting deeper than this is left alone (the Go types never nest so
/// deep; a hostile body must not recurse us out of stack).
const MAX_DEPTH: usize = 64;

/// Rewrites `object` (with its `apiVersion` and `kind`) as `encoding/json`
/// prints the built-in Go type it decodes into; other kinds are left alone.
pub(crate) fn go_json(object: &mut Value) {
    let schema = schema();
    let kind = match (
        object.get("apiVersion").and_then(Value::as_str),
        object.get("kind").and_then(Value::as_str),
    ) {
        (Some(version), Some(kind)) => format!("{version}/{kind}"),
        _ => return,
    };
    // Only k8s.io/api's kinds: apiextensions' and the aggregator's types
    // marshal themselves in places.
    let Some(message) = schema.kinds.get(&kind).filter(|m| m.starts_with("api/")) else {
        return;
    };
    if let Value::Object(map) = object {
        fields(schema, message, map, 0);
    }
}

/// Applies the fields of message `name` to `map` (inline members too).
fn fields(schema: &Schema, name: &str, map: &mut Map<String, Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(list) = schema.messages.get(name) else {
        return;
    };
    for field in list {
        if field.inline {
            if let Type::Message(inner) = &field.ty {
                fields(schema, inner, map, depth + 1);
            }
            continue;
        }
        one_field(schema, field, map, depth);
    }
}

fn is_collection(field: &Field) -> bool {
    field.repeated || field.wrapper || matches!(field.ty, Type::Map(..))
}

fn is_scalar(ty: &Type) -> bool {
    matches!(
        ty,
        Type::String
            | Type::Bool
            | Type::Int32
            | Type::Int64
            | Type::Uint32
            | Type::Uint64
            | Type::Float32
            | Type::Float64
    )
}

/// A scalar's zero value.
fn zero(ty: &Type) -> Value {
    match ty {
        Type::String => Value::String(String::new()),
        Type::Bool => Value::Bool(false),
        _ => Value::from(0),
    }
}

fn is_zero_scalar(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn one_field(schema: &Schema, field: &Field, map: &mut Map<String, Value>, depth: usize) {
    let key = field.json.as_str();
    let Some(value) = map.get_mut(key) else {
        // Absent: the zero value, as Go prints it.
        if field.pointer || field.omitzero || is_collection(field) {
            return;
        }
        match &field.ty {
            Type::Message(inner) => {
                let mut nested = Map::new();
                fields(schema, inner, &mut nested, depth + 1);
                map.insert(key.to_owned(), Value::Object(nested));
            }
            Type::Time | Type::MicroTime => {
                map.insert(key.to_owned(), Value::Null);
            }
            ty if is_scalar(ty) && !field.omitempty => {
                map.insert(key.to_owned(), zero(ty));
            }
            _ => {}
        }
        return;
    };
    if value.is_null() {
        // JSON null decodes to Go's zero value (a nil pointer, list or map).
        let nil = field.pointer || is_collection(field);
        match &field.ty {
            _ if nil && (field.omitempty || field.omitzero) => {
                map.remove(key);
            }
            _ if nil => {}
            Type::Message(_) if field.omitzero => {
                map.remove(key);
            }
            Type::Message(inner) => {
                let mut nested = Map::new();
                fields(schema, inner, &mut nested, depth + 1);
                *value = Value::Object(nested);
            }
            Type::Time | Type::MicroTime if field.omitzero => {
                map.remove(key);
            }
            ty if is_scalar(ty) && (field.omitempty || field.omitzero) => {
                map.remove(key);
            }
            ty if is_scalar(ty) => *value = zero(ty),
            _ => {}
        }
        return;
    }
    if is_collection(field) {
        let empty = match value {
            Value::Array(items) => items.is_empty(),
            Value::Object(entries) => entries.is_empty(),
            _ => false,
        };
        if empty && field.omitempty {
            map.remove(key);
            return;
        }
        let element = match &field.ty {
            Type::Map(_, value_type) => value_type.as_ref(),
            other => other,
        };
        if let Type::Message(inner) = element {
            let items: Box<dyn Iterator<Item = &mut Value>> = match value {
                Value::Array(items) => Box::new(items.iter_mut()),
                Value::Object(entries) => Box::new(entries.values_mut()),
                _ => Box::new(std::iter::empty()),
            };
            for item in items {
                if let Value::Object(nested) = item {
                    fields(schema, inner, nested, depth + 1);
                }
            }
        }
        return;
    }
    match &field.ty {
        Type::Message(inner) => {
            if let Value::Object(nested) = value {
                fields(schema, inner, nested, depth + 1);
            }
        }
        Type::Bytes if !field.pointer && field.omitempty && value.as_str() == Some("") => {
            map.remove(key);
        }
        ty if is_scalar(ty) && !field.pointer && field.omitempty && is_zero_scalar(value) => {
            map.remove(key);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_omitempty_fields_are_dropped_and_structs_printed() {
        let mut policy = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "np", "annotations": {}, "labels": {}},
            "spec": {"podSelector": {}, "ingress": [], "egress": [], "policyTypes": ["Egress"]},
        });
        go_json(&mut policy);
        assert_eq!(
            policy,
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "np"},
                "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
            })
        );
    }

    #[test]
    fn containers_get_their_struct_fields_and_lose_empty_scalars() {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {"containers": [{"name": "a", "image": "nginx", "workingDir": "", "ports": []}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "ready": true, "restartCount": 0, "image": "nginx", "containerID": ""}],
            },
        });
        go_json(&mut pod);
        assert_eq!(pod["metadata"], json!({"name": "p"}));
        assert_eq!(
            pod["spec"]["containers"][0],
            json!({"name": "a", "image": "nginx", "resources": {}})
        );
        assert_eq!(
            pod["status"]["conditions"][0],
            json!({"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": null})
        );
        assert_eq!(
            pod["status"]["containerStatuses"][0],
            json!({"name": "a", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "", "state": {}, "lastState": {}})
        );
    }

    #[test]
    fn pointers_keep_their_zero_values_and_unknown_kinds_are_untouched() {
        let mut service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "targetPort": 0}], "allocateLoadBalancerNodePorts": false},
        });
        go_json(&mut service);
        assert_eq!(service["spec"]["allocateLoadBalancerNodePorts"], false);
        assert_eq!(service["spec"]["ports"][0]["targetPort"], 0);
        assert_eq!(service["status"], json!({"loadBalancer": {}}));
        let mut widget =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": []}});
        let before = widget.clone();
        go_json(&mut widget);
        assert_eq!(widget, before);
    }
}
