//! Template functions that Helm has and `gtmpl-ng` lacks, or has with
//! different behaviour. Each one follows Helm's (or Sprig's) Go code.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gtmpl_ng::{Func, FuncError, NumberKind, Value as Tv};

use super::convert::{JsonStyle, from_template, go_json, to_template};
use super::{include_template, render_tpl};
use crate::glob;
use crate::semver;
use crate::yaml::{self, Numbers};

/// The functions registered on top of `gtmpl-ng`'s Helm set, replacing any
/// of the same name.
pub static FUNCTIONS: &[(&str, Func)] = &[
    ("include", include as Func),
    ("tpl", tpl as Func),
    ("required", required as Func),
    ("toYaml", to_yaml as Func),
    ("mustToYaml", must_to_yaml as Func),
    ("fromYaml", from_yaml as Func),
    ("fromYamlArray", from_yaml_array as Func),
    ("toJson", to_json as Func),
    ("mustToJson", must_to_json as Func),
    ("toPrettyJson", to_pretty_json as Func),
    ("mustToPrettyJson", to_pretty_json as Func),
    ("toRawJson", to_raw_json as Func),
    ("mustToRawJson", to_raw_json as Func),
    ("fromJson", from_json as Func),
    ("fromJsonArray", from_json_array as Func),
    ("indent", indent as Func),
    ("nindent", nindent as Func),
    ("quote", quote as Func),
    ("squote", squote as Func),
    ("default", default as Func),
    ("empty", empty as Func),
    ("coalesce", coalesce as Func),
    ("ternary", ternary as Func),
    ("toString", to_string as Func),
    ("join", join as Func),
    ("splitList", split_list as Func),
    ("hasKey", has_key as Func),
    ("dict", dict as Func),
    ("tuple", tuple as Func),
    ("merge", merge as Func),
    ("mustMerge", merge as Func),
    ("mergeOverwrite", merge_overwrite as Func),
    ("mustMergeOverwrite", merge_overwrite as Func),
    ("sortAlpha", sort_alpha as Func),
    ("semverCompare", semver_compare as Func),
    ("lookup", lookup as Func),
    ("has", has as Func),
    ("pluck", pluck as Func),
    ("dig", dig as Func),
    ("mustHas", has as Func),
    ("int", to_int as Func),
    ("int64", to_int64_func as Func),
    ("kindOf", kind_of as Func),
    ("typeOf", type_of as Func),
    ("kindIs", kind_is as Func),
    ("typeIs", type_is as Func),
    ("regexMatch", regex_match as Func),
    ("mustRegexMatch", regex_match as Func),
    ("regexFind", regex_find as Func),
    ("mustRegexFind", regex_find as Func),
    ("regexFindAll", regex_find_all as Func),
    ("mustRegexFindAll", regex_find_all as Func),
    ("regexReplaceAll", regex_replace_all as Func),
    ("mustRegexReplaceAll", regex_replace_all as Func),
    ("regexReplaceAllLiteral", regex_replace_all_literal as Func),
    (
        "mustRegexReplaceAllLiteral",
        regex_replace_all_literal as Func,
    ),
    ("regexSplit", regex_split as Func),
    ("mustRegexSplit", regex_split as Func),
    ("title", title as Func),
    ("compact", compact as Func),
    ("mustCompact", compact as Func),
    ("camelcase", camelcase as Func),
    ("float64", to_float as Func),
    ("add", add as Func),
    ("add1", add1 as Func),
    ("sub", sub as Func),
    ("mul", mul as Func),
    ("div", div as Func),
    ("mod", modulo as Func),
    ("max", max as Func),
    ("min", min as Func),
    ("storeplaneFilesGet", files_get as Func),
    ("storeplaneFilesGetBytes", files_get as Func),
    ("storeplaneFilesLines", files_lines as Func),
    ("storeplaneFilesGlob", files_glob as Func),
    ("storeplaneAPIVersionsHas", api_versions_has as Func),
];

fn arg<'a>(
    args: &'a [Tv],
    index: usize,
    function: &str,
    count: usize,
) -> Result<&'a Tv, FuncError> {
    args.get(index)
        .ok_or_else(|| FuncError::ExactlyXArgs(function.to_owned(), count))
}

fn is_nil(value: &Tv) -> bool {
    matches!(value, Tv::Nil | Tv::NoValue)
}

/// Sprig's `strval`: strings as they are (borrowed), everything else as
/// `%v` prints it.
pub fn strval(value: &Tv) -> Cow<'_, str> {
    match value {
        Tv::String(s) => Cow::Borrowed(s),
        Tv::Nil | Tv::NoValue => Cow::Borrowed("<nil>"),
        other => Cow::Owned(other.to_string()),
    }
}

/// Sprig's `empty`: nil, zero numbers, `false`, and empty strings,
/// lists and maps.
pub fn is_empty(value: &Tv) -> bool {
    match value {
        Tv::Nil | Tv::NoValue => true,
        Tv::Bool(b) => !b,
        Tv::String(s) => s.is_empty(),
        Tv::Array(items) => items.is_empty(),
        Tv::Map(map) => map.is_empty(),
        Tv::Object(_) | Tv::Function(_) => false,
        Tv::Number(n) => match n.kind() {
            NumberKind::Signed(i) => i == 0,
            NumberKind::Unsigned(u) => u == 0,
            NumberKind::Float(f) => f == 0.0,
        },
    }
}

fn include(args: &[Tv]) -> Result<Tv, FuncError> {
    let name = strval(arg(args, 0, "include", 2)?);
    let data = args.get(1).cloned().unwrap_or(Tv::Nil);
    include_template(&name, data).map(Tv::String)
}

fn tpl(args: &[Tv]) -> Result<Tv, FuncError> {
    let text = strval(arg(args, 0, "tpl", 2)?);
    let data = arg(args, 1, "tpl", 2)?.clone();
    render_tpl(&text, data).map(Tv::String)
}

fn required(args: &[Tv]) -> Result<Tv, FuncError> {
    let message = strval(arg(args, 0, "required", 2)?);
    let value = arg(args, 1, "required", 2)?;
    // Helm refuses nil and the empty string only; `0`, `false` and empty
    // lists pass.
    match value {
        Tv::Nil | Tv::NoValue => Err(FuncError::Generic(message.into_owned())),
        Tv::String(s) if s.is_empty() => Err(FuncError::Generic(message.into_owned())),
        other => Ok(other.clone()),
    }
}

fn yaml_text(value: &Tv) -> Option<String> {
    let json = from_template(value)?;
    let text = yaml::to_yaml(&json);
    Some(text.strip_suffix('\n').unwrap_or(&text).to_owned())
}

fn to_yaml(args: &[Tv]) -> Result<Tv, FuncError> {
    // Helm swallows marshalling errors inside a template and writes nothing.
    Ok(Tv::String(
        yaml_text(arg(args, 0, "toYaml", 1)?).unwrap_or_default(),
    ))
}

fn must_to_yaml(args: &[Tv]) -> Result<Tv, FuncError> {
    yaml_text(arg(args, 0, "mustToYaml", 1)?)
        .map(Tv::String)
        .ok_or_else(|| FuncError::Generic("json: unsupported value".to_owned()))
}

fn parsed_document(text: &str, json: bool) -> Result<serde_json::Value, String> {
    if json {
        // Helm decodes JSON into interface{}: every number a float64.
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Ok(floats(value))
    } else {
        yaml::from_yaml(text, Numbers::Float)
            .map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))
    }
}

fn floats(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Number(n) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Number(n), serde_json::Value::Number),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(floats).collect())
        }
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, floats(v))).collect())
        }
        other => other,
    }
}

/// `fromYaml`/`fromJson`: a map, or `{"Error": message}` when the document
/// is not one.
fn document_map(args: &[Tv], json: bool, function: &str) -> Result<Tv, FuncError> {
    let text = strval(arg(args, 0, function, 1)?);
    let mut error_map = HashMap::new();
    match parsed_document(&text, json) {
        Ok(serde_json::Value::Object(map)) => Ok(to_template(&serde_json::Value::Object(map))),
        Ok(serde_json::Value::Null) => Ok(Tv::map(HashMap::new())),
        Ok(other) => {
            let json_type = json_type_name(&other);
            let message = if json {
                format!(
                    "json: cannot unmarshal {json_type} into Go value of type map[string]interface {{}}"
                )
            } else {
                format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {json_type} into Go value of type map[string]interface {{}}"
                )
            };
            error_map.insert("Error".to_owned(), Tv::String(message));
            Ok(Tv::map(error_map))
        }
        Err(message) => {
            error_map.insert("Error".to_owned(), Tv::String(message));
            Ok(Tv::map(error_map))
        }
    }
}

/// How `encoding/json` names a JSON value's type in its errors.
fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Null => "null",
    }
}

fn document_array(args: &[Tv], json: bool, function: &str) -> Result<Tv, FuncError> {
    let text = strval(arg(args, 0, function, 1)?);
    match parsed_document(&text, json) {
        Ok(serde_json::Value::Array(items)) => Ok(to_template(&serde_json::Value::Array(items))),
        Ok(serde_json::Value::Null) => Ok(Tv::array(Vec::new())),
        Ok(_) => Ok(Tv::array(vec![Tv::String(
            "cannot unmarshal non-array".to_owned(),
        )])),
        Err(message) => Ok(Tv::array(vec![Tv::String(message)])),
    }
}

fn from_yaml(args: &[Tv]) -> Result<Tv, FuncError> {
    document_map(args, false, "fromYaml")
}

fn from_yaml_array(args: &[Tv]) -> Result<Tv, FuncError> {
    document_array(args, false, "fromYamlArray")
}

fn from_json(args: &[Tv]) -> Result<Tv, FuncError> {
    document_map(args, true, "fromJson")
}

fn from_json_array(args: &[Tv]) -> Result<Tv, FuncError> {
    document_array(args, true, "fromJsonArray")
}

fn json_text(args: &[Tv], style: JsonStyle, function: &str) -> Result<Option<String>, FuncError> {
    let value = arg(args, 0, function, 1)?;
    Ok(from_template(value).and_then(|json| go_json(&json, style)))
}

const COMPACT: JsonStyle = JsonStyle {
    escape_html: true,
    pretty: false,
};

fn to_json(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::String(
        json_text(args, COMPACT, "toJson")?.unwrap_or_default(),
    ))
}

fn must_to_json(args: &[Tv]) -> Result<Tv, FuncError> {
    json_text(args, COMPACT, "mustToJson")?
        .map(Tv::String)
        .ok_or_else(|| FuncError::Generic("json: unsupported value".to_owned()))
}

fn to_pretty_json(args: &[Tv]) -> Result<Tv, FuncError> {
    let style = JsonStyle {
        escape_html: true,
        pretty: true,
    };
    Ok(Tv::String(
        json_text(args, style, "toPrettyJson")?.unwrap_or_default(),
    ))
}

fn to_raw_json(args: &[Tv]) -> Result<Tv, FuncError> {
    let style = JsonStyle {
        escape_html: false,
        pretty: false,
    };
    Ok(Tv::String(
        json_text(args, style, "toRawJson")?.unwrap_or_default(),
    ))
}

fn count(value: &Tv, function: &str) -> Result<usize, FuncError> {
    let n = match value {
        Tv::Number(n) => match n.kind() {
            NumberKind::Signed(i) => i,
            NumberKind::Unsigned(u) => i64::try_from(u).unwrap_or(i64::MAX),
            NumberKind::Float(f) => f as i64,
        },
        Tv::String(s) => s
            .trim()
            .parse()
            .map_err(|_| FuncError::Generic(format!("{function}: {s:?} is not a number")))?,
        other => {
            return Err(FuncError::Generic(format!(
                "{function}: {other} is not a number"
            )));
        }
    };
    gtmpl_ng::helm_functions::bounded_count(n, "spaces", function)
}

fn indent_text(spaces: usize, text: &str) -> String {
    let pad = " ".repeat(spaces);
    let mut out = String::with_capacity(text.len() + spaces * 4);
    out.push_str(&pad);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

fn indent(args: &[Tv]) -> Result<Tv, FuncError> {
    let spaces = count(arg(args, 0, "indent", 2)?, "indent")?;
    let text = strval(arg(args, 1, "indent", 2)?);
    Ok(Tv::String(indent_text(spaces, &text)))
}

fn nindent(args: &[Tv]) -> Result<Tv, FuncError> {
    let spaces = count(arg(args, 0, "nindent", 2)?, "nindent")?;
    let text = strval(arg(args, 1, "nindent", 2)?);
    Ok(Tv::String(format!("\n{}", indent_text(spaces, &text))))
}

/// Go's `%q`, through the engine's own `printf`, which implements it.
fn go_quote(text: &str) -> Result<String, FuncError> {
    // Printable ASCII, the common case, is quoted as it is but for `"` and
    // `\`; `printf` handles everything else (its `%q` knows which Unicode Go
    // prints and how it escapes the rest).
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        return Ok(out);
    }
    let quoted = gtmpl_ng::funcs::printf(&[Tv::from("%q"), Tv::from(text)])?;
    Ok(strval(&quoted).into_owned())
}

fn quote(args: &[Tv]) -> Result<Tv, FuncError> {
    let mut parts = Vec::new();
    for value in args.iter().filter(|v| !is_nil(v)) {
        parts.push(go_quote(&strval(value))?);
    }
    Ok(Tv::String(parts.join(" ")))
}

fn squote(args: &[Tv]) -> Result<Tv, FuncError> {
    let parts: Vec<String> = args
        .iter()
        .filter(|v| !is_nil(v))
        .map(|v| format!("'{}'", strval(v)))
        .collect();
    Ok(Tv::String(parts.join(" ")))
}

fn default(args: &[Tv]) -> Result<Tv, FuncError> {
    let fallback = arg(args, 0, "default", 2)?;
    match args.get(1) {
        Some(given) if !is_empty(given) => Ok(given.clone()),
        _ => Ok(fallback.clone()),
    }
}

fn empty(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::Bool(args.first().is_none_or(is_empty)))
}

fn coalesce(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(args
        .iter()
        .find(|v| !is_empty(v))
        .cloned()
        .unwrap_or(Tv::Nil))
}

fn ternary(args: &[Tv]) -> Result<Tv, FuncError> {
    let yes = arg(args, 0, "ternary", 3)?;
    let no = arg(args, 1, "ternary", 3)?;
    match arg(args, 2, "ternary", 3)? {
        Tv::Bool(true) => Ok(yes.clone()),
        Tv::Bool(false) => Ok(no.clone()),
        other => Err(FuncError::Generic(format!(
            "ternary: condition {other} is not a bool"
        ))),
    }
}

fn to_string(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::String(
        strval(arg(args, 0, "toString", 1)?).into_owned(),
    ))
}

fn join(args: &[Tv]) -> Result<Tv, FuncError> {
    let separator = strval(arg(args, 0, "join", 2)?);
    let parts: Vec<Cow<'_, str>> = match arg(args, 1, "join", 2)? {
        Tv::Array(items) => items.iter().filter(|v| !is_nil(v)).map(strval).collect(),
        Tv::Nil | Tv::NoValue => Vec::new(),
        other => vec![strval(other)],
    };
    Ok(Tv::String(parts.join(&separator)))
}

fn split_list(args: &[Tv]) -> Result<Tv, FuncError> {
    let separator = strval(arg(args, 0, "splitList", 2)?);
    let text = strval(arg(args, 1, "splitList", 2)?);
    let parts: Vec<Tv> = if separator.is_empty() {
        text.chars().map(|c| Tv::String(c.to_string())).collect()
    } else {
        text.split(&*separator).map(Tv::from).collect()
    };
    Ok(Tv::array(parts))
}

fn has_key(args: &[Tv]) -> Result<Tv, FuncError> {
    let key = strval(arg(args, 1, "hasKey", 2)?);
    Ok(Tv::Bool(match arg(args, 0, "hasKey", 2)? {
        Tv::Map(map) | Tv::Object(map) => map.contains_key(&*key),
        _ => false,
    }))
}

fn dict(args: &[Tv]) -> Result<Tv, FuncError> {
    let mut map = HashMap::new();
    for pair in args.chunks(2) {
        let value = pair
            .get(1)
            .cloned()
            .unwrap_or_else(|| Tv::String(String::new()));
        map.insert(strval(&pair[0]).into_owned(), value);
    }
    Ok(Tv::map(map))
}

fn tuple(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::array(args.to_vec()))
}

/// mergo's `Merge` (without override): fills keys that are missing or hold
/// an empty value, and merges nested maps. A nested map is copied only when
/// it changes, and only if it is shared.
fn merge_into(dst: &mut HashMap<String, Tv>, src: &HashMap<String, Tv>, overwrite: bool) {
    for (key, value) in src {
        match (dst.get_mut(key), value) {
            (Some(Tv::Map(inner)), Tv::Map(src_inner)) => {
                merge_into(Arc::make_mut(inner), src_inner, overwrite);
            }
            (Some(existing), _) if !is_empty(existing) => {
                if overwrite && !is_empty(value) {
                    *existing = value.clone();
                }
            }
            _ => {
                dst.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_with(args: &[Tv], overwrite: bool) -> Result<Tv, FuncError> {
    let mut out = match args.first() {
        Some(Tv::Map(map) | Tv::Object(map)) => Arc::clone(map),
        _ => Arc::default(),
    };
    for source in args.iter().skip(1) {
        if let Tv::Map(map) | Tv::Object(map) = source {
            merge_into(Arc::make_mut(&mut out), map, overwrite);
        }
    }
    Ok(Tv::Map(out))
}

fn merge(args: &[Tv]) -> Result<Tv, FuncError> {
    merge_with(args, false)
}

fn merge_overwrite(args: &[Tv]) -> Result<Tv, FuncError> {
    merge_with(args, true)
}

fn sort_alpha(args: &[Tv]) -> Result<Tv, FuncError> {
    let mut items: Vec<String> = match arg(args, 0, "sortAlpha", 1)? {
        Tv::Array(items) => items.iter().map(|v| strval(v).into_owned()).collect(),
        other => vec![strval(other).into_owned()],
    };
    items.sort();
    Ok(Tv::array(items.into_iter().map(Tv::String).collect()))
}

fn semver_compare(args: &[Tv]) -> Result<Tv, FuncError> {
    let constraint = strval(arg(args, 0, "semverCompare", 2)?);
    let version = strval(arg(args, 1, "semverCompare", 2)?);
    semver::matches(&constraint, &version)
        .map(Tv::Bool)
        .map_err(FuncError::Generic)
}

/// Sprig's `toInt64` (spf13/cast): floats truncate, strings parse (any Go
/// integer base, a `.0` tail allowed), booleans are 1 and 0, and anything
/// that does not convert is 0.
pub fn to_int64(value: &Tv) -> i64 {
    match value {
        Tv::Number(n) => match n.kind() {
            NumberKind::Signed(i) => i,
            NumberKind::Unsigned(u) => u as i64,
            NumberKind::Float(f) => f as i64,
        },
        Tv::Bool(b) => i64::from(*b),
        Tv::String(s) => {
            let trimmed = match s.split_once('.') {
                Some((whole, zeros)) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => {
                    whole
                }
                _ => s.as_str(),
            };
            parse_go_int(trimmed).unwrap_or(0)
        }
        _ => 0,
    }
}

fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.to_ascii_lowercase().replace('_', "");
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.to_owned())
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.to_owned())
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower)
    };
    let value = i64::from_str_radix(&body, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// spf13/cast's `ToFloat64`, failures being 0.
fn to_float64(value: &Tv) -> f64 {
    match value {
        Tv::Number(n) => match n.kind() {
            NumberKind::Signed(i) => i as f64,
            NumberKind::Unsigned(u) => u as f64,
            NumberKind::Float(f) => f,
        },
        Tv::Bool(b) => f64::from(u8::from(*b)),
        Tv::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn int64_value(n: i64) -> Tv {
    Tv::Number(gtmpl_ng::Number::signed(n))
}

/// `int` gives a Go `int`, which the engine holds like an integer literal.
fn to_int(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::Number(gtmpl_ng::Number::from(to_int64(arg(
        args, 0, "int", 1,
    )?))))
}

fn to_int64_func(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(int64_value(to_int64(arg(args, 0, "int64", 1)?)))
}

/// Go's `reflect.Kind` name and `%T` type name of a template value. Integers
/// written in a template are `int`; `--set` integers (held signed) `int64`.
fn go_type(value: &Tv) -> (&'static str, &'static str) {
    match value {
        Tv::Nil | Tv::NoValue => ("invalid", "<nil>"),
        Tv::Bool(_) => ("bool", "bool"),
        Tv::String(_) => ("string", "string"),
        Tv::Array(_) => ("slice", "[]interface {}"),
        Tv::Map(_) | Tv::Object(_) => ("map", "map[string]interface {}"),
        Tv::Function(_) => ("func", "func"),
        Tv::Number(n) => match n.kind() {
            NumberKind::Float(_) => ("float64", "float64"),
            NumberKind::Signed(_) => ("int64", "int64"),
            NumberKind::Unsigned(_) => ("int", "int"),
        },
    }
}

fn kind_of(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::from(go_type(arg(args, 0, "kindOf", 1)?).0))
}

fn type_of(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::from(go_type(arg(args, 0, "typeOf", 1)?).1))
}

fn kind_is(args: &[Tv]) -> Result<Tv, FuncError> {
    let wanted = strval(arg(args, 0, "kindIs", 2)?);
    Ok(Tv::Bool(go_type(arg(args, 1, "kindIs", 2)?).0 == wanted))
}

fn type_is(args: &[Tv]) -> Result<Tv, FuncError> {
    let wanted = strval(arg(args, 0, "typeIs", 2)?);
    Ok(Tv::Bool(go_type(arg(args, 1, "typeIs", 2)?).1 == wanted))
}

fn compile(pattern: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(pattern).map_err(|e| FuncError::Generic(format!("error parsing regexp: {e}")))
}

fn regex_match(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexMatch", 2)?))?;
    Ok(Tv::Bool(re.is_match(&strval(arg(
        args,
        1,
        "regexMatch",
        2,
    )?))))
}

fn regex_find(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexFind", 2)?))?;
    let text = strval(arg(args, 1, "regexFind", 2)?);
    Ok(Tv::String(
        re.find(&text)
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
    ))
}

/// Go's `n` argument: negative means all.
fn limit(value: &Tv) -> usize {
    usize::try_from(to_int64(value)).unwrap_or(usize::MAX)
}

fn regex_find_all(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexFindAll", 3)?))?;
    let text = strval(arg(args, 1, "regexFindAll", 3)?);
    let n = limit(arg(args, 2, "regexFindAll", 3)?);
    Ok(Tv::array(
        re.find_iter(&text)
            .take(n)
            .map(|m| Tv::from(m.as_str()))
            .collect(),
    ))
}

fn regex_replace_all(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexReplaceAll", 3)?))?;
    let text = strval(arg(args, 1, "regexReplaceAll", 3)?);
    let replacement = strval(arg(args, 2, "regexReplaceAll", 3)?);
    Ok(Tv::String(
        re.replace_all(&text, &*replacement).into_owned(),
    ))
}

fn regex_replace_all_literal(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexReplaceAllLiteral", 3)?))?;
    let text = strval(arg(args, 1, "regexReplaceAllLiteral", 3)?);
    let replacement = strval(arg(args, 2, "regexReplaceAllLiteral", 3)?);
    Ok(Tv::String(
        re.replace_all(&text, regex::NoExpand(&replacement))
            .into_owned(),
    ))
}

fn regex_split(args: &[Tv]) -> Result<Tv, FuncError> {
    let re = compile(&strval(arg(args, 0, "regexSplit", 3)?))?;
    let text = strval(arg(args, 1, "regexSplit", 3)?);
    let n = to_int64(arg(args, 2, "regexSplit", 3)?);
    let parts: Vec<Tv> = match usize::try_from(n) {
        Ok(0) => Vec::new(),
        Ok(n) => re.splitn(&text, n).map(Tv::from).collect(),
        Err(_) => re.split(&text).map(Tv::from).collect(),
    };
    Ok(Tv::array(parts))
}

/// Go's `strings.Title`: upper-cases the first letter of every word.
fn title(args: &[Tv]) -> Result<Tv, FuncError> {
    let text = strval(arg(args, 0, "title", 1)?);
    let mut out = String::with_capacity(text.len());
    let mut previous_separates = true;
    for c in text.chars() {
        if previous_separates {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        previous_separates = !(c.is_alphanumeric() || c == '_');
    }
    Ok(Tv::String(out))
}

fn compact(args: &[Tv]) -> Result<Tv, FuncError> {
    match arg(args, 0, "compact", 1)? {
        Tv::Array(items) => Ok(Tv::array(
            items.iter().filter(|v| !is_empty(v)).cloned().collect(),
        )),
        other => Err(FuncError::Generic(format!(
            "Cannot compact on type {}",
            go_type(other).1
        ))),
    }
}

/// xstrings' `ToCamelCase`: `foo_bar` → `FooBar`.
fn camelcase(args: &[Tv]) -> Result<Tv, FuncError> {
    let text = strval(arg(args, 0, "camelcase", 1)?);
    let mut out = String::with_capacity(text.len());
    let mut upper_next = true;
    for c in text.chars() {
        if c == '_' {
            if upper_next && !out.is_empty() {
                out.push('_');
            }
            upper_next = true;
            continue;
        }
        if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    Ok(Tv::String(out))
}

fn to_float(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::Number(gtmpl_ng::Number::float(to_float64(arg(
        args, 0, "float64", 1,
    )?))))
}

fn fold(args: &[Tv], function: &str, op: fn(i64, i64) -> Option<i64>) -> Result<Tv, FuncError> {
    let mut values = args.iter().map(to_int64);
    let first = values
        .next()
        .ok_or_else(|| FuncError::AtLeastXArgs(function.to_owned(), 1))?;
    let mut acc = first;
    for v in values {
        acc = op(acc, v).ok_or_else(|| {
            FuncError::Generic("runtime error: integer divide by zero".to_owned())
        })?;
    }
    Ok(int64_value(acc))
}

fn add(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "add", |a, b| Some(a.wrapping_add(b)))
}

fn add1(args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(int64_value(
        to_int64(arg(args, 0, "add1", 1)?).wrapping_add(1),
    ))
}

fn sub(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "sub", |a, b| Some(a.wrapping_sub(b)))
}

fn mul(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "mul", |a, b| Some(a.wrapping_mul(b)))
}

fn div(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "div", |a, b| a.checked_div(b))
}

fn modulo(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "mod", |a, b| a.checked_rem(b))
}

fn max(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "max", |a, b| Some(a.max(b)))
}

fn min(args: &[Tv]) -> Result<Tv, FuncError> {
    fold(args, "min", |a, b| Some(a.min(b)))
}

/// Go's `reflect.DeepEqual` on template values: an `int` never equals a
/// `float64`, so `has 2 .Values.list` is false for a list read from YAML.
fn deep_equal(a: &Tv, b: &Tv) -> bool {
    match (a, b) {
        (Tv::Number(x), Tv::Number(y)) => match (x.kind(), y.kind()) {
            (NumberKind::Float(x), NumberKind::Float(y)) => x == y,
            (NumberKind::Float(_), _) | (_, NumberKind::Float(_)) => false,
            _ => x == y,
        },
        (Tv::Array(x), Tv::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| deep_equal(a, b))
        }
        (Tv::Map(x) | Tv::Object(x), Tv::Map(y) | Tv::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Tv::Nil | Tv::NoValue, Tv::Nil | Tv::NoValue) => true,
        _ => a == b,
    }
}

fn has(args: &[Tv]) -> Result<Tv, FuncError> {
    let needle = arg(args, 0, "has", 2)?;
    Ok(Tv::Bool(match arg(args, 1, "has", 2)? {
        Tv::Array(items) => items.iter().any(|item| deep_equal(item, needle)),
        _ => false,
    }))
}

/// Sprig's `pluck key dict...`: the key's value from every map that has it.
fn pluck(args: &[Tv]) -> Result<Tv, FuncError> {
    let key = strval(arg(args, 0, "pluck", 2)?);
    Ok(Tv::array(
        args[1..]
            .iter()
            .filter_map(|d| match d {
                Tv::Map(map) | Tv::Object(map) => map.get(&*key).cloned(),
                _ => None,
            })
            .collect(),
    ))
}

/// Sprig's `dig key... default dict`.
fn dig(args: &[Tv]) -> Result<Tv, FuncError> {
    if args.len() < 3 {
        return Err(FuncError::AtLeastXArgs("dig".to_owned(), 3));
    }
    let (keys, rest) = args.split_at(args.len() - 2);
    let (fallback, mut current) = (&rest[0], &rest[1]);
    for key in keys {
        let key = strval(key);
        match current {
            Tv::Map(map) | Tv::Object(map) => match map.get(&*key) {
                Some(next) => current = next,
                None => return Ok(fallback.clone()),
            },
            _ => return Ok(fallback.clone()),
        }
    }
    Ok(current.clone())
}

/// Offline rendering has no cluster to ask, so `lookup` finds nothing, as in
/// `helm template`: an empty map.
fn lookup(_args: &[Tv]) -> Result<Tv, FuncError> {
    Ok(Tv::map(HashMap::new()))
}

/// The key of a `.Files` object that holds its file set's number.
pub const FILES_KEY: &str = "storeplaneFileSet";

thread_local! {
    /// The file sets of the render under way: the chart's files, and every
    /// subset `.Files.Glob` made. A `.Files` object holds only its set's
    /// index: a template value cannot hold the chart's map itself, and
    /// copying the contents into template values would cost every render a
    /// copy of every file, where this way all renders share the chart's.
    static FILE_SETS: RefCell<Vec<Arc<BTreeMap<String, String>>>> = const { RefCell::new(Vec::new()) };
}

/// Forgets the file sets of a finished render.
pub fn clear_file_sets() {
    FILE_SETS.with(|sets| sets.borrow_mut().clear());
}

fn file_map(files: &Tv) -> Arc<BTreeMap<String, String>> {
    let index = match files {
        Tv::Object(object) | Tv::Map(object) => match object.get(FILES_KEY) {
            Some(Tv::Number(n)) => n.as_u64().and_then(|i| usize::try_from(i).ok()),
            _ => None,
        },
        _ => None,
    };
    index
        .and_then(|i| FILE_SETS.with(|sets| sets.borrow().get(i).cloned()))
        .unwrap_or_default()
}

fn files_get(args: &[Tv]) -> Result<Tv, FuncError> {
    let files = file_map(arg(args, 0, "Files.Get", 2)?);
    let name = strval(arg(args, 1, "Files.Get", 2)?);
    Ok(Tv::String(files.get(&*name).cloned().unwrap_or_default()))
}

fn files_lines(args: &[Tv]) -> Result<Tv, FuncError> {
    let files = file_map(arg(args, 0, "Files.Lines", 2)?);
    let name = strval(arg(args, 1, "Files.Lines", 2)?);
    let text = files.get(&*name).cloned().unwrap_or_default();
    if text.is_empty() {
        return Ok(Tv::array(Vec::new()));
    }
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(Tv::array(text.split('\n').map(Tv::from).collect()))
}

fn files_glob(args: &[Tv]) -> Result<Tv, FuncError> {
    let files = file_map(arg(args, 0, "Files.Glob", 2)?);
    let pattern = strval(arg(args, 1, "Files.Glob", 2)?);
    let selected = files
        .iter()
        .filter(|(name, _)| glob::files_glob(&pattern, name))
        .map(|(name, data)| (name.clone(), data.clone()))
        .collect();
    Ok(files_object(Arc::new(selected)))
}

/// A `.Files` object: its file set's index plus the methods a chart calls
/// on it without arguments. Methods with arguments are reached through the
/// `storeplaneFiles*` functions the source rewrite produces.
pub fn files_object(files: Arc<BTreeMap<String, String>>) -> Tv {
    let index = file_set_index(files);
    let mut object = HashMap::new();
    object.insert(FILES_KEY.to_owned(), Tv::from(index));
    object.insert(
        "AsConfig".to_owned(),
        Tv::Function(gtmpl_ng::Function { f: files_as_config }),
    );
    object.insert(
        "AsSecrets".to_owned(),
        Tv::Function(gtmpl_ng::Function {
            f: files_as_secrets,
        }),
    );
    Tv::object(object)
}

/// Keeps `set` for the render under way and returns its handle.
fn file_set_index(set: Arc<BTreeMap<String, String>>) -> usize {
    FILE_SETS.with(|sets| {
        let mut sets = sets.borrow_mut();
        sets.push(set);
        sets.len() - 1
    })
}

fn files_as(args: &[Tv], encode: fn(&str) -> String) -> Result<Tv, FuncError> {
    let files = file_map(arg(args, 0, "Files", 1)?);
    let mut map = serde_json::Map::new();
    for (name, data) in files.iter() {
        let base = name.rsplit('/').next().unwrap_or(name).to_owned();
        map.insert(base, serde_json::Value::String(encode(data)));
    }
    if map.is_empty() {
        return Ok(Tv::String(String::new()));
    }
    let text = yaml::to_yaml(&serde_json::Value::Object(map));
    Ok(Tv::String(
        text.strip_suffix('\n').unwrap_or(&text).to_owned(),
    ))
}

fn files_as_config(args: &[Tv]) -> Result<Tv, FuncError> {
    files_as(args, str::to_owned)
}

fn files_as_secrets(args: &[Tv]) -> Result<Tv, FuncError> {
    files_as(args, base64)
}

/// Standard base64 with padding.
pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `.Capabilities.APIVersions`: like `.Files`, a handle to a set kept
/// aside (its versions are the keys, the values empty).
pub fn api_versions_object(versions: Arc<BTreeMap<String, String>>) -> Tv {
    let index = file_set_index(versions);
    Tv::object(HashMap::from([(FILES_KEY.to_owned(), Tv::from(index))]))
}

fn api_versions_has(args: &[Tv]) -> Result<Tv, FuncError> {
    let versions = file_map(arg(args, 0, "APIVersions.Has", 2)?);
    let wanted = strval(arg(args, 1, "APIVersions.Has", 2)?);
    Ok(Tv::Bool(versions.contains_key(&*wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nindent_prefixes_a_newline_and_indents_every_line() {
        let out = nindent(&[Tv::from(4u64), Tv::from("a: 1\nb: 2")]).unwrap();
        assert_eq!(strval(&out), "\n    a: 1\n    b: 2");
    }

    #[test]
    fn quoting_printable_ascii_directly_matches_printf() {
        let texts = [
            "",
            "plain",
            "a \"b\" \\c",
            "~!@#$%^&*()_+`-={}|[]:;'<>?,./ 09",
        ];
        for text in texts {
            let printf = gtmpl_ng::funcs::printf(&[Tv::from("%q"), Tv::from(text)]).unwrap();
            assert_eq!(go_quote(text).unwrap(), strval(&printf), "{text}");
        }
    }

    #[test]
    fn quote_escapes_like_go_and_skips_nil() {
        let out = quote(&[Tv::from("a\"b\tc"), Tv::Nil, Tv::from(3u64)]).unwrap();
        assert_eq!(strval(&out), r#""a\"b\tc" "3""#);
    }

    #[test]
    fn default_treats_zero_and_empty_as_missing() {
        assert_eq!(
            strval(&default(&[Tv::from("d"), Tv::from(0u64)]).unwrap()),
            "d"
        );
        assert_eq!(
            strval(&default(&[Tv::from("d"), Tv::from("x")]).unwrap()),
            "x"
        );
        assert_eq!(strval(&default(&[Tv::from("d")]).unwrap()), "d");
    }

    #[test]
    fn required_lets_zero_and_false_through() {
        assert!(required(&[Tv::from("need it"), Tv::from(false)]).is_ok());
        let error = required(&[Tv::from("need it"), Tv::NoValue]).unwrap_err();
        assert_eq!(error.to_string(), "need it");
    }

    #[test]
    fn base64_pads_like_the_standard_encoding() {
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("abc"), "YWJj");
        assert_eq!(base64("a"), "YQ==");
    }
}
