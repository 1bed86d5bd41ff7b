//! Label selectors (equality- and set-based) and field selectors, parsed from
//! their query-string form as the apiserver does.

use serde_json::Value;

use crate::meta;
use crate::status::ApiError;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<LabelReq>);

impl LabelSelector {
    /// Parses `app=web,tier!=db,env in (a,b),!legacy,release`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {why} in selector {text:?}"
            ))
        };
        let mut reqs = Vec::new();
        for term in split_top_level(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            if let Some(key) = term.strip_prefix('!') {
                reqs.push(LabelReq::NotExists(valid_key(key)?));
                continue;
            }
            if let Some((key, rest)) = split_set_op(term, " notin ") {
                reqs.push(LabelReq::NotIn(
                    valid_key(key)?,
                    parse_set(rest).map_err(|w| bad(&w))?,
                ));
                continue;
            }
            if let Some((key, rest)) = split_set_op(term, " in ") {
                reqs.push(LabelReq::In(
                    valid_key(key)?,
                    parse_set(rest).map_err(|w| bad(&w))?,
                ));
                continue;
            }
            let req = if let Some((k, v)) = term.split_once("!=") {
                LabelReq::NotEq(valid_key(k)?, v.trim().to_owned())
            } else if let Some((k, v)) = term.split_once("==") {
                LabelReq::Eq(valid_key(k)?, v.trim().to_owned())
            } else if let Some((k, v)) = term.split_once('=') {
                LabelReq::Eq(valid_key(k)?, v.trim().to_owned())
            } else if let Some((k, v)) = term.split_once('>') {
                LabelReq::Gt(
                    valid_key(k)?,
                    v.trim().parse().map_err(|_| bad("expected an integer"))?,
                )
            } else if let Some((k, v)) = term.split_once('<') {
                LabelReq::Lt(
                    valid_key(k)?,
                    v.trim().parse().map_err(|_| bad("expected an integer"))?,
                )
            } else {
                LabelReq::Exists(valid_key(term)?)
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = meta::labels(obj);
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
            LabelReq::Gt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            LabelReq::Lt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Splits `key in (a,b)` at the operator, tolerating extra spaces.
fn split_set_op<'a>(term: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let normalized_at = term.find(op)?;
    let (key, rest) = term.split_at(normalized_at);
    Some((key.trim(), rest[op.len()..].trim()))
}

fn parse_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| "expected a parenthesised set of values".to_owned())?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

fn valid_key(key: &str) -> Result<String, ApiError> {
    let key = key.trim();
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "unable to parse requirement: invalid label key {key:?}"
        )))
    }
}

/// One requirement of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldReq {
    path: String,
    value: String,
    negate: bool,
}

/// A parsed field selector (`metadata.name=x,involvedObject.kind!=Pod`).
///
/// Unlike the apiserver, any dotted path of the object may be used, not only
/// the handful each resource declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<FieldReq>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in text.split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (path, value, negate) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, true)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            reqs.push(FieldReq {
                path: path.trim().to_owned(),
                value: value.trim().to_owned(),
                negate,
            });
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name required by a `metadata.name=` term, which lets a lookup skip
    /// scanning.
    pub fn required_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|r| !r.negate && r.path == "metadata.name")
            .map(|r| r.value.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|r| (meta::field_text(obj, &r.path) == r.value) != r.negate)
    }
}

/// A label and a field selector together: what a list or watch filters by.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(labels: Value) -> Value {
        json!({ "metadata": { "name": "p", "namespace": "ns", "labels": labels } })
    }

    #[test]
    fn equality_selectors_match_and_exclude() {
        let sel = LabelSelector::parse("app=web,tier!=db").unwrap();
        assert!(sel.matches(&pod(json!({ "app": "web", "tier": "fe" }))));
        assert!(sel.matches(&pod(json!({ "app": "web" }))));
        assert!(!sel.matches(&pod(json!({ "app": "web", "tier": "db" }))));
        assert!(!sel.matches(&pod(json!({ "app": "api" }))));
        assert!(
            LabelSelector::parse("app==web")
                .unwrap()
                .matches(&pod(json!({ "app": "web" })))
        );
    }

    #[test]
    fn set_selectors_match_in_notin_exists_and_absent() {
        let sel =
            LabelSelector::parse("env in (prod, staging),tier notin (db),release,!legacy").unwrap();
        assert!(sel.matches(&pod(json!({ "env": "prod", "tier": "fe", "release": "1" }))));
        assert!(sel.matches(&pod(json!({ "env": "staging", "release": "" }))));
        assert!(!sel.matches(&pod(json!({ "env": "dev", "release": "1" }))));
        assert!(!sel.matches(&pod(json!({ "env": "prod", "tier": "db", "release": "1" }))));
        assert!(!sel.matches(&pod(json!({ "env": "prod" }))));
        assert!(!sel.matches(&pod(
            json!({ "env": "prod", "release": "1", "legacy": "y" })
        )));
    }

    #[test]
    fn malformed_label_selector_is_a_bad_request() {
        let err = LabelSelector::parse("env in prod").unwrap_err();
        assert_eq!(err.code, 400);
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn field_selectors_match_nested_fields() {
        let event = json!({
            "metadata": { "name": "e1", "namespace": "shop" },
            "involvedObject": { "kind": "Deployment", "name": "web" },
            "type": "Warning",
        });
        let sel = FieldSelector::parse(
            "involvedObject.kind=Deployment,involvedObject.name=web,type!=Normal",
        )
        .unwrap();
        assert!(sel.matches(&event));
        assert!(
            !FieldSelector::parse("metadata.namespace=other")
                .unwrap()
                .matches(&event)
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=e1")
                .unwrap()
                .required_name(),
            Some("e1")
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
