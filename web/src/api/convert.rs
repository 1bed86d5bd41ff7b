//! JSON values (what the form builds) to protobuf `Struct`s (what the API
//! takes) and back (to show a store's config).

use prost_types::{ListValue, Struct, Value as PbValue, value::Kind};
use serde_json::{Map, Number, Value};

/// A JSON object as a `google.protobuf.Struct`.
pub fn json_to_struct(object: Map<String, Value>) -> Struct {
    Struct {
        fields: object
            .into_iter()
            .map(|(k, v)| (k, json_to_value(v)))
            .collect(),
    }
}

/// A JSON value as a `google.protobuf.Value`. Numbers become doubles: that
/// is all `Value` has, and JSON Schema's `integer` accepts `6.0`.
pub fn json_to_value(value: Value) -> PbValue {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    PbValue { kind: Some(kind) }
}

/// A `google.protobuf.Struct` as a JSON object.
pub fn struct_to_json(s: &Struct) -> Map<String, Value> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), value_to_json(v)))
        .collect()
}

/// A `google.protobuf.Value` as JSON; whole doubles read back as integers.
pub fn value_to_json(value: &PbValue) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Value::from(*n as i64)
            } else {
                Number::from_f64(*n).map_or(Value::Null, Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(s)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_through_struct() {
        let Value::Object(config) = json!({
            "admin_email": "me@example.com",
            "sample_products": 6,
            "ratio": 0.5,
            "seed": true,
            "tags": ["a", null],
            "nested": {"x": 1}
        }) else {
            panic!("not an object");
        };
        let back = struct_to_json(&json_to_struct(config.clone()));
        assert_eq!(back, config);
    }

    #[test]
    fn numbers_travel_as_doubles() {
        assert_eq!(json_to_value(json!(6)).kind, Some(Kind::NumberValue(6.0)));
    }
}
