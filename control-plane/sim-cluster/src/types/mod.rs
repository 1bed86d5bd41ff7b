//! The Go types of the built-in kinds, as `gen/` reads them by reflection
//! from k8s.io/api and friends into `data/protobuf-schema.json`: for each
//! struct its fields' protobuf numbers, JSON names, types, and how
//! `encoding/json` writes them (pointer, `omitempty`, `omitzero`). The
//! protobuf decoder reads request bodies with it; [`encode`] writes every
//! stored object the way the apiserver's Go types would print it.

pub(crate) mod encode;
pub(crate) mod quantities;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

const SCHEMA_JSON: &str = include_str!("../../data/protobuf-schema.json");

/// How a field's value is written in protobuf and in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Float32,
    Float64,
    Bytes,
    Message(String),
    /// `metav1.Time`: RFC 3339, seconds.
    Time,
    /// `metav1.MicroTime`: RFC 3339, microseconds.
    MicroTime,
    /// `metav1.Duration`: Go's duration text.
    Duration,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `runtime.RawExtension`, `metav1.FieldsV1`, apiextensions `JSON`:
    /// embedded JSON bytes.
    Raw,
    /// A map entry message (key 1, value 2).
    Map(Box<Type>, Box<Type>),
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub number: u64,
    pub json: String,
    pub ty: Type,
    /// A Go pointer: present (even when zero) whenever it was set.
    pub pointer: bool,
    pub repeated: bool,
    /// `json:",inline"`: the nested message's fields belong to the parent.
    pub inline: bool,
    /// A named slice carried as a message `{ repeated items = 1 }`.
    pub wrapper: bool,
    /// `json:",omitempty"`: left out when empty (`""`, `0`, `false`, an
    /// empty list or map, a nil pointer; never a struct).
    pub omitempty: bool,
    /// `json:",omitzero"`: left out when zero (a zero struct too).
    pub omitzero: bool,
}

pub(crate) struct Schema {
    /// `<group/version>/<Kind>` (`v1/Pod`, `apps/v1/Deployment`) → message name.
    pub kinds: HashMap<String, String>,
    /// Message name → its fields.
    pub messages: HashMap<String, Vec<Field>>,
}

fn parse_type(code: &str, reference: &str) -> Option<Type> {
    Some(match code {
        "string" => Type::String,
        "bool" => Type::Bool,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "uint32" => Type::Uint32,
        "uint64" => Type::Uint64,
        "float32" => Type::Float32,
        "float64" => Type::Float64,
        "bytes" => Type::Bytes,
        "message" => Type::Message(reference.to_owned()),
        "time" => Type::Time,
        "microtime" => Type::MicroTime,
        "duration" => Type::Duration,
        "quantity" => Type::Quantity,
        "intstr" => Type::IntOrString,
        "raw" => Type::Raw,
        "map" => {
            let mut parts = reference.splitn(3, '|');
            let key = parse_type(parts.next()?, "")?;
            let value_code = parts.next()?;
            let value = parse_type(value_code, parts.next().unwrap_or(""))?;
            Type::Map(Box::new(key), Box::new(value))
        }
        _ => return None,
    })
}

/// The schema, parsed once.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let raw: Value = serde_json::from_str(SCHEMA_JSON).unwrap_or(Value::Null);
        let kinds = raw
            .get("kinds")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let messages = raw
            .get("messages")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(name, fields)| {
                        let fields = fields
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|f| {
                                let number = f.get(0)?.as_u64()?;
                                let json = f.get(1)?.as_str()?.to_owned();
                                let flags = f.get(3)?.as_str()?;
                                let ty = parse_type(f.get(2)?.as_str()?, f.get(4)?.as_str()?)?;
                                Some(Field {
                                    number,
                                    json,
                                    ty,
                                    pointer: flags.contains('p'),
                                    repeated: flags.contains('r'),
                                    inline: flags.contains('i'),
                                    wrapper: flags.contains('w'),
                                    omitempty: flags.contains('o'),
                                    omitzero: flags.contains('z'),
                                })
                            })
                            .collect();
                        (name.clone(), fields)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Schema { kinds, messages }
    })
}
