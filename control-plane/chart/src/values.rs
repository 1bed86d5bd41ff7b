//! Values: reading values files, `--set` expressions, and Helm's merge rules.
//!
//! The number type carries Go's meaning. A number read from YAML or JSON is a
//! `float64` in Helm (values pass through JSON), so [`Values::from_yaml`]
//! produces `f64` numbers; a `--set` integer is an `int64`, so
//! [`Values::parse_set`] produces `i64`. The engine prints each the way Go
//! does (`3e+09` for the float, `3000000000` for the integer).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::yaml::{self, Numbers};

/// Helm's value operations, as associated functions on a namespace type.
#[derive(Debug, Clone, Copy)]
pub struct Values;

impl Values {
    /// Reads a values file (`values.yaml`, `-f values-prod.yaml`). An empty
    /// file is an empty map; numbers become floats, as in Helm.
    pub fn from_yaml(text: &str) -> Result<Value> {
        Self::from_yaml_named(text, "values")
    }

    pub(crate) fn from_yaml_named(text: &str, name: &str) -> Result<Value> {
        let value = yaml::from_yaml(text, Numbers::Float).map_err(|e| Error::Yaml {
            file: name.to_owned(),
            line: e.line,
            message: e.message,
        })?;
        match value {
            Value::Null => Ok(Value::Object(Map::new())),
            Value::Object(_) => Ok(value),
            _ => Err(Error::Values(format!(
                "{name}: a values document must be a map"
            ))),
        }
    }

    /// Layers values files as `helm -f a.yaml -f b.yaml` does (Helm's
    /// `mergeMaps`): maps merge deeply, anything else in `overlay` replaces,
    /// lists included. A `null` is kept here; it deletes the key only when
    /// the result is coalesced with the chart's defaults at render time.
    pub fn merge(base: &Value, overlay: &Value) -> Value {
        match (base, overlay) {
            (Value::Object(base), Value::Object(overlay)) => {
                let mut out = base.clone();
                for (key, value) in overlay {
                    let merged = match (out.get(key), value) {
                        (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                            Self::merge(existing, value)
                        }
                        _ => value.clone(),
                    };
                    out.insert(key.clone(), merged);
                }
                Value::Object(out)
            }
            (_, overlay) => overlay.clone(),
        }
    }

    /// Parses a `--set` expression (`a.b=c,list[0]=x,n=null`) into a map, with
    /// Helm's typing: `true`/`false`/`null` (any case), integers without a
    /// leading zero as `int64`, everything else a string.
    pub fn parse_set(expression: &str) -> Result<Value> {
        let mut out = Value::Object(Map::new());
        Self::apply_set(&mut out, expression)?;
        Ok(out)
    }

    /// Applies a `--set` expression onto existing values, as Helm's
    /// `strvals.ParseInto` does: the expression writes into what is there, so
    /// `list[1]=x` changes one element of a list from a values file.
    pub fn apply_set(target: &mut Value, expression: &str) -> Result<()> {
        Self::apply(target, expression, false)
    }

    /// `--set-string`: like [`Values::apply_set`] but every value stays a
    /// string.
    pub fn apply_set_string(target: &mut Value, expression: &str) -> Result<()> {
        Self::apply(target, expression, true)
    }

    fn apply(target: &mut Value, expression: &str, strings: bool) -> Result<()> {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Value::Object(map) = target else {
            return Ok(());
        };
        let mut parser = SetParser {
            chars: expression.chars().collect(),
            pos: 0,
            strings,
        };
        loop {
            match parser.key(map, 0) {
                Ok(()) => {}
                Err(SetError::Eof) => return Ok(()),
                Err(SetError::Message(message)) => {
                    return Err(Error::Set {
                        expression: expression.to_owned(),
                        message,
                    });
                }
            }
        }
    }

    /// Helm's `CoalesceValues` (as of v4.2): the chart's defaults under the
    /// user's values. Maps merge deeply, the user's scalars and lists win, a
    /// user `null` deletes the key and its default, and `null`s among the
    /// chart's own defaults are dropped.
    pub fn coalesce(defaults: &Value, user: &Value) -> Value {
        let mut out = match user {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let mut defaults = defaults.clone();
        drop_nulls(&mut defaults);
        if let Value::Object(defaults) = defaults {
            coalesce_tables(&mut out, defaults);
        }
        Value::Object(out)
    }
}

/// Removes `null` map entries at every depth (lists are left alone).
fn drop_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        for v in map.values_mut() {
            drop_nulls(v);
        }
    }
}

/// `coalesceTablesFullKey` without merge, on defaults already free of nulls:
/// the user's value wins, a user `null` removes the default, and two maps
/// merge. A user `null` for a key without a default stays.
fn coalesce_tables(dst: &mut Map<String, Value>, src: Map<String, Value>) {
    for (key, value) in src {
        match dst.get_mut(&key) {
            Some(Value::Null) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, value);
            }
            Some(Value::Object(inner)) => {
                if let Value::Object(src_inner) = value {
                    coalesce_tables(inner, src_inner);
                }
            }
            Some(_) => {}
        }
    }
}

enum SetError {
    Eof,
    Message(String),
}

/// A port of Helm's `pkg/strvals` parser.
struct SetParser {
    chars: Vec<char>,
    pos: usize,
    strings: bool,
}

const MAX_INDEX: usize = 65536;
const MAX_NESTED_NAME_LEVEL: usize = 30;

impl SetParser {
    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to one of `stop`, honouring backslash escapes. Returns the
    /// text and the stop character, or `None` as the stop at end of input.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        loop {
            match self.read() {
                None => return (out, None),
                Some(c) if stop.contains(&c) => return (out, Some(c)),
                Some('\\') => match self.read() {
                    None => return (out, None),
                    Some(next) => out.push(next),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn typed(&self, text: String) -> Value {
        if self.strings {
            return Value::String(text);
        }
        if text.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if text.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if text.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if text == "0" {
            return Value::from(0i64);
        }
        if !text.is_empty()
            && !text.starts_with('0')
            && let Some(n) = parse_int64(&text)
        {
            return Value::from(n);
        }
        Value::String(text)
    }

    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), SetError> {
        let (key, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None => {
                if key.is_empty() {
                    Err(SetError::Eof)
                } else {
                    Err(SetError::Message(format!("key {key:?} has no value")))
                }
            }
            Some('[') => {
                let index = self.index()?;
                let mut list = match data.get(&key) {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items.clone(),
                    Some(_) => return Err(not_a("list", &key)),
                };
                let result = self.list_item(&mut list, index, level);
                set(data, &key, Value::Array(list));
                result
            }
            Some('=') => match self.value_list()? {
                ListOrNot::List(items) => {
                    set(data, &key, Value::Array(items));
                    Ok(())
                }
                ListOrNot::Eof => {
                    set(data, &key, Value::String(String::new()));
                    Err(SetError::Eof)
                }
                ListOrNot::NotList => {
                    let (text, _) = self.until(&[',']);
                    let value = self.typed(text);
                    set(data, &key, value);
                    Ok(())
                }
            },
            Some(',') => {
                set(data, &key, Value::String(String::new()));
                Err(SetError::Message(format!(
                    "key {key:?} has no value (cannot end with ,)"
                )))
            }
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(SetError::Message(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let mut inner = match data.get(&key) {
                    None => Map::new(),
                    Some(Value::Object(map)) => map.clone(),
                    Some(_) => return Err(not_a("map", &key)),
                };
                let result = self.key(&mut inner, level);
                if result.is_ok() && inner.is_empty() {
                    return Err(SetError::Message(format!("key map {key:?} has no value")));
                }
                if !inner.is_empty() {
                    set(data, &key, Value::Object(inner));
                }
                result
            }
        }
    }

    fn index(&mut self) -> Result<usize, SetError> {
        let (text, last) = self.until(&[']']);
        if last.is_none() {
            return Err(SetError::Eof);
        }
        let index: i64 = text.parse().map_err(|_| {
            SetError::Message(format!(
                "error parsing index: strconv.Atoi: parsing {text:?}: invalid syntax"
            ))
        })?;
        if index < 0 {
            return Err(SetError::Message(format!(
                "negative {index} index not allowed"
            )));
        }
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        if index > MAX_INDEX {
            return Err(SetError::Message(format!(
                "index of {index} is greater than maximum supported index of {MAX_INDEX}"
            )));
        }
        Ok(index)
    }

    fn list_item(
        &mut self,
        list: &mut Vec<Value>,
        index: usize,
        level: usize,
    ) -> Result<(), SetError> {
        let (rest, last) = self.until(&['[', '.', '=']);
        if !rest.is_empty() {
            return Err(SetError::Message(format!(
                "unexpected data at end of array index: {rest:?}"
            )));
        }
        match last {
            None => Err(SetError::Eof),
            Some('=') => match self.value_list()? {
                ListOrNot::List(items) => {
                    set_index(list, index, Value::Array(items));
                    Ok(())
                }
                ListOrNot::Eof => {
                    set_index(list, index, Value::String(String::new()));
                    Ok(())
                }
                ListOrNot::NotList => {
                    let (text, _) = self.until(&[',']);
                    let value = self.typed(text);
                    set_index(list, index, value);
                    Ok(())
                }
            },
            Some('[') => {
                let next = self.index()?;
                let mut inner = match list.get(index) {
                    Some(Value::Array(items)) => items.clone(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => return Err(not_a("list", &index.to_string())),
                };
                self.list_item(&mut inner, next, level)?;
                set_index(list, index, Value::Array(inner));
                Ok(())
            }
            Some(_) => {
                // Helm replaces a non-map element (indices given out of order)
                // with an empty map before descending.
                let mut inner = match list.get(index) {
                    Some(Value::Object(map)) => map.clone(),
                    _ => Map::new(),
                };
                self.key(&mut inner, level)?;
                set_index(list, index, Value::Object(inner));
                Ok(())
            }
        }
    }

    fn value_list(&mut self) -> Result<ListOrNot, SetError> {
        match self.chars.get(self.pos) {
            None => return Ok(ListOrNot::Eof),
            Some('{') => self.pos += 1,
            Some(_) => return Ok(ListOrNot::NotList),
        }
        let mut items = Vec::new();
        loop {
            let (text, last) = self.until(&[',', '}']);
            match last {
                None => return Err(SetError::Message("list must terminate with '}'".to_owned())),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    items.push(self.typed(text));
                    return Ok(ListOrNot::List(items));
                }
                Some(_) => items.push(self.typed(text)),
            }
        }
    }
}

enum ListOrNot {
    List(Vec<Value>),
    NotList,
    Eof,
}

fn set(data: &mut Map<String, Value>, key: &str, value: Value) {
    if !key.is_empty() {
        data.insert(key.to_owned(), value);
    }
}

fn set_index(list: &mut Vec<Value>, index: usize, value: Value) {
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    list[index] = value;
}

fn not_a(kind: &str, key: &str) -> SetError {
    SetError::Message(format!("unable to parse key: {key:?} is not a {kind}"))
}

/// `strconv.ParseInt(text, 10, 64)`.
fn parse_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_types_values_like_helm_strvals() {
        let v =
            Values::parse_set("a.b=c,n=1,big=9007199254740993,t=TRUE,z=null,o=0755,s=0,q=\"x\"")
                .unwrap();
        assert_eq!(
            v,
            json!({"a": {"b": "c"}, "n": 1, "big": 9007199254740993i64, "t": true, "z": null, "o": "0755", "s": 0, "q": "\"x\""})
        );
        assert!(v["n"].is_i64());
    }

    #[test]
    fn set_handles_lists_escapes_and_braces() {
        let v =
            Values::parse_set("list[1]=x,ports={80,443},name=a\\,b,k\\.dot=v,l[0].name=n").unwrap();
        assert_eq!(
            v,
            json!({"list": [null, "x"], "ports": [80, 443], "name": "a,b", "k.dot": "v", "l": [{"name": "n"}]})
        );
    }

    #[test]
    fn set_writes_into_existing_values() {
        let mut base = json!({"list": ["a", "b", "c"], "image": {"repo": "x", "tag": "1"}});
        Values::apply_set(&mut base, "list[1]=B,image.tag=v2").unwrap();
        assert_eq!(
            base,
            json!({"list": ["a", "B", "c"], "image": {"repo": "x", "tag": "v2"}})
        );
    }

    #[test]
    fn set_rejects_a_key_without_value() {
        assert!(Values::parse_set("a").is_err());
        assert!(Values::parse_set("a=1,").is_ok());
        assert!(Values::parse_set("a,b=1").is_err());
    }

    #[test]
    fn merge_layers_files_with_lists_replaced() {
        let base = json!({"a": {"x": 1, "y": [1, 2]}, "b": 1});
        let overlay = json!({"a": {"y": [3], "z": null}, "c": 2});
        assert_eq!(
            Values::merge(&base, &overlay),
            json!({"a": {"x": 1, "y": [3], "z": null}, "b": 1, "c": 2})
        );
    }

    #[test]
    fn coalesce_deletes_keys_the_user_set_to_null() {
        let defaults = json!({"a": {"x": 1, "y": 2}, "b": 1, "list": [1, 2]});
        let user =
            json!({"a": {"y": null, "z": 3, "new": null}, "b": null, "list": [9], "extra": null});
        assert_eq!(
            Values::coalesce(&defaults, &user),
            json!({"a": {"x": 1, "z": 3, "new": null}, "list": [9], "extra": null})
        );
    }

    #[test]
    fn coalesce_drops_nulls_among_the_chart_defaults() {
        let defaults =
            json!({"gone": null, "m": {"x": null, "k": 1, "deep": {"q": null}}, "l": [1, null]});
        assert_eq!(
            Values::coalesce(&defaults, &json!({})),
            json!({"m": {"k": 1, "deep": {}}, "l": [1, null]})
        );
    }
}
