//! The `resource.Quantity` fields of a written object, as the apiserver's
//! decoding leaves them: every quantity, string or JSON number, in its
//! canonical form (`0.5` → `"500m"`, `"1024Mi"` → `"1Gi"`, `2` → `"2"`),
//! and a value that is not a quantity (`"lots"`, `""`, `true`) refused.
//!
//! A real apiserver decodes each request into the kind's Go type, whose
//! `Quantity.UnmarshalJSON` parses the value (a JSON string without its
//! quotes, anything else as its text) and fails with apimachinery's
//! `ErrFormatWrong`; how that failure is answered depends on the verb
//! (see [`crate::status::ApiError::undecodable`] and the apply and patch
//! forms beside it). The simulator accepted such values and stored them,
//! so a chart with `cpu: lots` provisioned on it and failed on a real
//! cluster.

use std::{collections::HashSet, sync::OnceLock};

use serde_json::{Map, Value};

use super::{Schema, Type, schema};
use crate::quantity::Quantity;

/// apimachinery's `ErrFormatWrong`, the error of every value that does not
/// parse as a quantity.
pub(crate) const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Nesting deeper than this is left alone, as in [`super::encode`].
const MAX_DEPTH: usize = 64;

/// A value of a quantity field that is not a quantity.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotAQuantity;

/// Rewrites every quantity of `object` (with its `apiVersion` and `kind`)
/// canonically, or says that one is not a quantity. Kinds outside
/// k8s.io/api are left alone, as by [`super::encode::go_json`].
pub(crate) fn canonicalize(object: &mut Value) -> Result<(), NotAQuantity> {
    let schema = schema();
    let kind = match (
        object.get("apiVersion").and_then(Value::as_str),
        object.get("kind").and_then(Value::as_str),
    ) {
        (Some(version), Some(kind)) => format!("{version}/{kind}"),
        _ => return Ok(()),
    };
    let Some(message) = schema
        .kinds
        .get(&kind)
        .filter(|m| m.starts_with("api/") && holding().contains(m.as_str()))
    else {
        return Ok(());
    };
    match object {
        Value::Object(map) => fields(schema, message, map, 0),
        _ => Ok(()),
    }
}

/// The messages that hold a quantity, in a field of their own or of a
/// message inside them: the walk goes down no other (object metadata, a
/// Service, most of a pod's fields), which was most of its cost.
fn holding() -> &'static HashSet<String> {
    static HOLDING: OnceLock<HashSet<String>> = OnceLock::new();
    HOLDING.get_or_init(|| {
        let schema = schema();
        let mut holding = HashSet::new();
        // Until no message is added: a message holds a quantity when one
        // of its fields is one or is a message that holds one.
        loop {
            let before = holding.len();
            for (name, fields) in &schema.messages {
                if holding.contains(name) {
                    continue;
                }
                let holds = fields.iter().any(|field| match element(&field.ty) {
                    Type::Quantity => true,
                    Type::Message(inner) => holding.contains(inner),
                    _ => false,
                });
                if holds {
                    holding.insert(name.clone());
                }
            }
            if holding.len() == before {
                return holding;
            }
        }
    })
}

/// The type of a field's values: a map's value type, the type itself
/// otherwise.
fn element(ty: &Type) -> &Type {
    match ty {
        Type::Map(_, value_type) => value_type.as_ref(),
        other => other,
    }
}

fn fields(
    schema: &Schema,
    name: &str,
    map: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), NotAQuantity> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let Some(list) = schema.messages.get(name) else {
        return Ok(());
    };
    let holding = holding();
    for field in list {
        let element = element(&field.ty);
        match element {
            Type::Quantity => {}
            Type::Message(inner) if holding.contains(inner) => {}
            _ => continue,
        }
        if field.inline {
            if let Type::Message(inner) = &field.ty {
                fields(schema, inner, map, depth + 1)?;
            }
            continue;
        }
        let Some(value) = map.get_mut(&field.json) else {
            continue;
        };
        let collection = field.repeated || field.wrapper || matches!(field.ty, Type::Map(..));
        let items: Box<dyn Iterator<Item = &mut Value>> = match (collection, value) {
            (true, Value::Array(items)) => Box::new(items.iter_mut()),
            (true, Value::Object(entries)) => Box::new(entries.values_mut()),
            (true, _) => Box::new(std::iter::empty()),
            (false, value) => Box::new(std::iter::once(value)),
        };
        for item in items {
            match (element, item) {
                (Type::Quantity, item) => quantity(item)?,
                (Type::Message(inner), Value::Object(nested)) => {
                    fields(schema, inner, nested, depth + 1)?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// One quantity, canonically; `null` is Go's zero quantity, left as sent.
fn quantity(value: &mut Value) -> Result<(), NotAQuantity> {
    let parsed = match value {
        Value::Null => return Ok(()),
        Value::String(text) => Quantity::parse(text),
        Value::Number(number) => Quantity::parse(&number.to_string()),
        _ => None,
    };
    *value = Value::String(parsed.ok_or(NotAQuantity)?.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn limit_range(max: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
               "spec": {"limits": [{"type": "Container", "max": max}]}})
    }

    #[test]
    fn the_walk_goes_down_only_messages_that_hold_a_quantity() {
        let holding = holding();
        for holds in [
            "api/apps/v1.Deployment",
            "api/core/v1.PodSpec",
            "api/core/v1.ResourceQuota",
            "api/core/v1.ResourceRequirements",
        ] {
            assert!(holding.contains(holds), "{holds}");
        }
        for holds_none in [
            "apimachinery/pkg/apis/meta/v1.ObjectMeta",
            "api/core/v1.Service",
            "api/core/v1.ConfigMap",
        ] {
            assert!(!holding.contains(holds_none), "{holds_none}");
        }
        // A quantity-shaped string where the Go type has none stays as sent.
        let mut map = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"cpu": "0.5"}});
        canonicalize(&mut map).unwrap();
        assert_eq!(map["data"]["cpu"], "0.5");
    }

    #[test]
    fn quantities_are_written_canonically_wherever_the_go_types_have_them() {
        // The real apiserver's answers (1.37.2) to the same bodies.
        let mut limits = limit_range(json!({"cpu": 0.5, "memory": "1024Mi", "storage": " 1e3 "}));
        canonicalize(&mut limits).unwrap();
        assert_eq!(
            limits["spec"]["limits"][0]["max"],
            json!({"cpu": "500m", "memory": "1Gi", "storage": "1e3"})
        );

        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {
                "containers": [{"name": "c", "resources": {"limits": {"cpu": 2}, "requests": {"cpu": "1000m"}}}],
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "0.5Gi"}}]}}}});
        canonicalize(&mut deployment).unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["resources"]["limits"]["cpu"], "2");
        assert_eq!(pod["containers"][0]["resources"]["requests"]["cpu"], "1");
        assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "512Mi");

        let mut quota = json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "spec": {"hard": {"pods": 10, "requests.cpu": "4000m"}}, "status": {"used": {"pods": "0"}}});
        canonicalize(&mut quota).unwrap();
        assert_eq!(
            quota["spec"]["hard"],
            json!({"pods": "10", "requests.cpu": "4"})
        );
    }

    #[test]
    fn a_value_that_is_no_quantity_is_refused() {
        for bad in [
            json!("lots"),
            json!(""),
            json!(true),
            json!({"a": 1}),
            json!([1]),
        ] {
            let mut object = limit_range(json!({ "cpu": bad }));
            assert_eq!(canonicalize(&mut object), Err(NotAQuantity), "{bad}");
        }
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"memory": "many"}}}]}});
        assert_eq!(canonicalize(&mut pod), Err(NotAQuantity));
    }

    #[test]
    fn null_quantities_and_other_kinds_are_left_as_sent() {
        let mut object = limit_range(json!({"cpu": null}));
        canonicalize(&mut object).unwrap();
        assert_eq!(object["spec"]["limits"][0]["max"]["cpu"], Value::Null);
        let mut custom =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"cpu": "lots"}});
        canonicalize(&mut custom).unwrap();
        assert_eq!(custom["spec"]["cpu"], "lots");
    }
}
