//! Moving data between `serde_json::Value` (the crate's data model, whose
//! number kinds carry Go's `int64`/`float64` distinction) and the template
//! engine's values, and writing JSON the way Go's `encoding/json` does.

use std::collections::HashMap;

use gtmpl_ng::{Number, NumberKind, Value as Tv};
use serde_json::{Map, Value};

use crate::gofmt;

/// A JSON value as the template sees it: an `f64` stays a float (so it prints
/// `1e+06` as Go's `float64` does), an integer is an `int64`.
pub fn to_template(value: &Value) -> Tv {
    match value {
        Value::Null => Tv::Nil,
        Value::Bool(b) => Tv::Bool(*b),
        Value::String(s) => Tv::String(s.clone()),
        Value::Number(n) => Tv::Number(number_to_template(n)),
        Value::Array(items) => Tv::array(items.iter().map(to_template).collect()),
        Value::Object(map) => Tv::map(
            map.iter()
                .map(|(k, v)| (k.clone(), to_template(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn number_to_template(n: &serde_json::Number) -> Number {
    if n.is_f64() {
        return Number::float(n.as_f64().unwrap_or(0.0));
    }
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => Number::signed(i),
        (None, Some(u)) => Number::unsigned(u),
        _ => Number::float(n.as_f64().unwrap_or(0.0)),
    }
}

/// A template value as JSON, or `None` for what `json.Marshal` refuses
/// (functions, NaN, infinities).
pub fn from_template(value: &Tv) -> Option<Value> {
    Some(match value {
        Tv::NoValue | Tv::Nil => Value::Null,
        Tv::Bool(b) => Value::Bool(*b),
        Tv::String(s) => Value::String(s.clone()),
        Tv::Number(n) => match n.kind() {
            NumberKind::Signed(i) => Value::from(i),
            NumberKind::Unsigned(u) => Value::from(u),
            NumberKind::Float(f) => Value::Number(serde_json::Number::from_f64(f)?),
        },
        Tv::Array(items) => Value::Array(items.iter().map(from_template).collect::<Option<_>>()?),
        Tv::Map(map) | Tv::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                if matches!(v, Tv::Function(_)) {
                    continue;
                }
                out.insert(k.clone(), from_template(v)?);
            }
            Value::Object(out)
        }
        Tv::Function(_) => return None,
    })
}

/// How JSON marshalling writes a value.
#[derive(Clone, Copy)]
pub struct JsonStyle {
    /// `json.Marshal` escapes `<`, `>` and `&`; `toRawJson` does not.
    pub escape_html: bool,
    /// `json.MarshalIndent(v, "", "  ")` for `toPrettyJson`.
    pub pretty: bool,
}

/// `encoding/json` output: keys sorted bytewise, floats in Go's spelling.
pub fn go_json(value: &Value, style: JsonStyle) -> Option<String> {
    let mut out = String::new();
    write_json(value, style, 0, &mut out)?;
    Some(out)
}

fn write_json(value: &Value, style: JsonStyle, depth: usize, out: &mut String) -> Option<()> {
    let newline = |out: &mut String, depth: usize| {
        if style.pretty {
            out.push('\n');
            for _ in 0..depth {
                out.push_str("  ");
            }
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                out.push_str(&gofmt::format_json_float(n.as_f64()?)?);
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_json_string(s, style.escape_html, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Some(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, style, depth + 1, out)?;
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return Some(());
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json_string(key, style.escape_html, out);
                out.push(':');
                if style.pretty {
                    out.push(' ');
                }
                write_json(&map[key], style, depth + 1, out)?;
            }
            newline(out, depth);
            out.push('}');
        }
    }
    Some(())
}

fn write_json_string(s: &str, escape_html: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xF] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xF] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_json_sorts_keys_escapes_html_and_spells_floats_like_go() {
        let value = json!({"b": 3e9, "a": "<x> & \"y\"", "c": [1.5, null]});
        let compact = JsonStyle {
            escape_html: true,
            pretty: false,
        };
        assert_eq!(
            go_json(&value, compact).unwrap(),
            r#"{"a":"\u003cx\u003e \u0026 \"y\"","b":3000000000,"c":[1.5,null]}"#
        );
        let pretty = JsonStyle {
            escape_html: true,
            pretty: true,
        };
        assert_eq!(
            go_json(&json!({"a": [1], "e": {}}), pretty).unwrap(),
            "{\n  \"a\": [\n    1\n  ],\n  \"e\": {}\n}"
        );
    }
}
