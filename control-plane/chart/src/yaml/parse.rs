//! Reading YAML into `serde_json::Value` with `sigs.k8s.io/yaml`'s meaning.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use super::resolve::{Resolved, resolve};
use crate::gofmt;

/// Which Go type numbers become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Every number becomes a `float64`, as Helm's values (YAML turned into
    /// JSON, then decoded into `interface{}`) and `fromYaml` see them.
    Float,
    /// Integers stay integers, as Kubernetes reads a manifest.
    Typed,
}

/// A parse failure with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses the first document of `text`. An empty document is `null`.
///
/// Block-style documents, which is what charts render and values files
/// are, take a fast path (`super::fast`); anything else, and every error,
/// goes through the full YAML parser.
pub fn from_yaml(text: &str, numbers: Numbers) -> Result<Value, YamlError> {
    if let Some(value) = super::fast::parse(text, numbers) {
        return Ok(value);
    }
    full_parse(text, numbers)
}

/// [`from_yaml`] without the fast path.
pub(super) fn full_parse(text: &str, numbers: Numbers) -> Result<Value, YamlError> {
    let mut builder = Builder {
        numbers,
        anchors: HashMap::new(),
        stack: Vec::new(),
        result: None,
    };
    let mut parser = Parser::new_from_str(text);
    // A block scalar that runs to the end of a text with no final line break
    // has no line break to keep: libyaml (PyYAML, go-yaml, so Kubernetes)
    // reads `c: |\n  x` as "x", saphyr as "x\n". Helm trims every document
    // it splits off, so this is the common case for a chart's last value.
    let length = (!text.ends_with(['\n', '\r'])).then(|| text.chars().count());
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let at = |message: String| YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message,
        };
        let event = match event {
            Event::Scalar(
                mut value,
                style @ (ScalarStyle::Literal | ScalarStyle::Folded),
                anchor,
                tag,
            ) if length.is_some_and(|n| span.end.index() >= n) && value.ends_with('\n') => {
                value.to_mut().pop();
                Event::Scalar(value, style, anchor, tag)
            }
            other => other,
        };
        match event {
            Event::DocumentEnd if builder.result.is_some() => break,
            Event::DocumentStart(_) if builder.result.is_some() => break,
            other => builder.on_event(other).map_err(at)?,
        }
    }
    Ok(builder.result.unwrap_or(Value::Null))
}

enum Frame {
    Seq {
        anchor: usize,
        items: Vec<Value>,
    },
    Map {
        anchor: usize,
        map: Map<String, Value>,
        key: Option<Key>,
    },
}

enum Key {
    Text(String),
    Merge,
}

struct Builder {
    numbers: Numbers,
    anchors: HashMap<usize, Value>,
    stack: Vec<Frame>,
    result: Option<Value>,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if is_key && style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some(Key::Merge);
                    }
                    return Ok(());
                }
                let value = self.scalar(&text, style, tag.as_deref())?;
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.push(value)
            }
            Event::Alias(anchor) => {
                let value = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or_else(|| "unknown anchor".to_owned())?;
                self.push(value)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq {
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map {
                    anchor,
                    map: Map::new(),
                    key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (anchor, value) = match self.stack.pop() {
                    Some(Frame::Seq { anchor, items }) => (anchor, Value::Array(items)),
                    Some(Frame::Map { anchor, map, .. }) => (anchor, Value::Object(map)),
                    None => return Err("unbalanced collection end".to_owned()),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.push(value)
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, value: Value) -> Result<(), String> {
        match self.stack.last_mut() {
            None => {
                self.result = Some(value);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Map { map, key, .. }) => match key.take() {
                None => {
                    *key = Some(Key::Text(key_string(&value)?));
                    Ok(())
                }
                Some(Key::Text(name)) => {
                    // yaml.v2 keeps the last of duplicate keys.
                    map.insert(name, value);
                    Ok(())
                }
                Some(Key::Merge) => {
                    // yaml.v2 merges in document order, so a `<<` after an
                    // explicit key overrides it, as it does there.
                    let sources = match value {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    for source in sources {
                        match source {
                            Value::Object(entries) => map.extend(entries),
                            _ => {
                                return Err(
                                    "map merge requires map or sequence of maps as the value"
                                        .to_owned(),
                                );
                            }
                        }
                    }
                    Ok(())
                }
            },
        }
    }

    fn scalar(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
        scalar(text, style, tag, self.numbers)
    }
}

/// The value of a plain (unquoted, untagged) scalar.
pub(super) fn plain_scalar(text: &str, numbers: Numbers) -> Result<Value, String> {
    scalar(text, ScalarStyle::Plain, None, numbers)
}

/// The JSON key a plain scalar key becomes (`key_string` of its value),
/// without building the value when it is text, as nearly every key is.
pub(super) fn plain_key(text: &str, numbers: Numbers) -> Result<String, String> {
    match resolve(text) {
        Resolved::Str | Resolved::Timestamp | Resolved::Merge => Ok(text.to_owned()),
        _ => key_string(&plain_scalar(text, numbers)?),
    }
}

/// What a scalar means, by `yaml.v2`'s rules and `numbers`' Go types.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    numbers: Numbers,
) -> Result<Value, String> {
    let core_tag = tag.and_then(|t| {
        (t.handle == "tag:yaml.org,2002:" || t.handle == "!!").then_some(t.suffix.as_str())
    });
    if tag.is_some() && core_tag.is_none() {
        // A local tag (`!foo`) is not resolvable in yaml.v2: the text stays.
        return Ok(Value::String(text.to_owned()));
    }
    let resolved = match (core_tag, style) {
        (Some("str" | "binary"), _) => return Ok(Value::String(text.to_owned())),
        (Some(_), _) | (None, ScalarStyle::Plain) => resolve(text),
        (None, _) => return Ok(Value::String(text.to_owned())),
    };
    let resolved = match (core_tag, resolved) {
        (Some("float"), Resolved::Int(v)) => Resolved::Float(v as f64),
        (Some("float"), Resolved::Uint(v)) => Resolved::Float(v as f64),
        (Some(tag @ ("int" | "float" | "bool" | "null")), r) => {
            let matches = matches!(
                (tag, &r),
                ("int", Resolved::Int(_) | Resolved::Uint(_))
                    | ("float", Resolved::Float(_))
                    | ("bool", Resolved::Bool(_))
                    | ("null", Resolved::Null)
            );
            if !matches {
                return Err(format!("cannot decode `{text}` as a !!{tag}"));
            }
            r
        }
        (_, r) => r,
    };
    Ok(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(v) => match numbers {
            Numbers::Typed => Value::Number(v.into()),
            Numbers::Float => float(v as f64)?,
        },
        Resolved::Uint(v) => match numbers {
            Numbers::Typed => Value::Number(v.into()),
            Numbers::Float => float(v as f64)?,
        },
        Resolved::Float(v) => float(v)?,
        Resolved::Timestamp | Resolved::Str | Resolved::Merge => Value::String(text.to_owned()),
    })
}

fn float(value: f64) -> Result<Value, String> {
    // JSON, which every Helm value passes through, has no NaN or infinity.
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| format!("json: unsupported value: {}", gofmt::format_g(value)))
}

/// The JSON key `sigs.k8s.io/yaml` makes of a scalar key.
pub(super) fn key_string(key: &Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) if !n.is_f64() => i.to_string(),
            (_, Some(u), _) if !n.is_f64() => u.to_string(),
            (_, _, Some(f)) => gofmt::format_g(f),
            _ => n.to_string(),
        }),
        Value::Null => Err("unsupported map key: null".to_owned()),
        _ => Err("unsupported map key: a collection".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_block_scalar_ending_the_text_without_a_line_break_keeps_none() {
        let read = |text: &str| from_yaml(text, Numbers::Typed).unwrap();
        assert_eq!(read("c: |\n  x"), json!({"c": "x"}));
        assert_eq!(read("c: >\n  x\n  y"), json!({"c": "x y"}));
        assert_eq!(read("c: |\n  x\n"), json!({"c": "x\n"}));
        assert_eq!(read("c: |\n  x\nd: 1"), json!({"c": "x\n", "d": 1}));
        assert_eq!(read("c: |-\n  x"), json!({"c": "x"}));
    }

    #[test]
    fn values_numbers_become_floats_and_manifest_numbers_stay_typed() {
        let text = "a: 3\nb: 0644\nc: 1.5\nd: yes\ne: '3'\nf: 9007199254740993\n";
        let values = from_yaml(text, Numbers::Float).unwrap();
        assert!(values["a"].as_f64() == Some(3.0) && values["a"].is_f64());
        assert_eq!(values["b"].as_f64(), Some(420.0));
        assert_eq!(values["f"].as_f64(), Some(9007199254740992.0));
        let typed = from_yaml(text, Numbers::Typed).unwrap();
        assert_eq!(
            typed,
            json!({"a": 3, "b": 420, "c": 1.5, "d": true, "e": "3", "f": 9007199254740993u64})
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys_are_expanded() {
        let text = "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\nlist: [*b]\n";
        let value = from_yaml(text, Numbers::Typed).unwrap();
        assert_eq!(value["derived"], json!({"a": 1, "b": 3}));
        assert_eq!(value["list"], json!([{"a": 1, "b": 2}]));
    }

    #[test]
    fn yaml_1_1_boolean_keys_become_their_json_spelling() {
        // yaml.v2 reads the key `y` as the boolean true.
        let value = from_yaml("y: 1\n", Numbers::Typed).unwrap();
        assert_eq!(value, json!({"true": 1}));
    }

    #[test]
    fn empty_document_is_null_and_errors_carry_a_position() {
        assert_eq!(
            from_yaml("# nothing\n", Numbers::Typed).unwrap(),
            Value::Null
        );
        let error = from_yaml("a: [1, 2\nb: 3\n", Numbers::Typed).unwrap_err();
        assert!(error.line >= 1, "{error}");
    }
}
