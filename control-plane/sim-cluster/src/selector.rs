//! Label selectors (equality- and set-based) and field selectors, parsed from
//! their query-string form as the apiserver does.

use serde_json::{Map, Value};

use crate::meta;
use crate::status::ApiError;

mod label_parser;

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
    /// Parses `app=web,tier!=db,env in (a,b),!legacy,release` with
    /// apimachinery's grammar; a malformed selector is a `400` in its words.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let requirements = label_parser::parse(text).map_err(ApiError::bad_request)?;
        let mut reqs = Vec::new();
        for (key, op, values) in requirements {
            let key = valid_key(&key)?;
            let single = || values.first().cloned().unwrap_or_default();
            let integer = || {
                single().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                        single()
                    ))
                })
            };
            reqs.push(match op {
                label_parser::Op::Exists => LabelReq::Exists(key),
                label_parser::Op::DoesNotExist => LabelReq::NotExists(key),
                label_parser::Op::Equals => LabelReq::Eq(key, single()),
                label_parser::Op::NotEquals => LabelReq::NotEq(key, single()),
                label_parser::Op::In => LabelReq::In(key, values),
                label_parser::Op::NotIn => LabelReq::NotIn(key, values),
                label_parser::Op::GreaterThan => LabelReq::Gt(key, integer()?),
                label_parser::Op::LessThan => LabelReq::Lt(key, integer()?),
            });
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_labels(meta::labels(obj))
    }

    /// Whether these labels (an object's `metadata.labels`, if any)
    /// satisfy every requirement.
    pub fn matches_labels(&self, labels: Option<&Map<String, Value>>) -> bool {
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

    /// [`Filter::matches`] on an object's stored JSON. A label selector
    /// alone (what controllers' watches use) reads only the labels: the
    /// rest of the text is skipped, not built into a `Value` (parsing in
    /// the watch filter was 5 % of the simulated cluster's perf samples in
    /// a burst of provisions).
    pub fn matches_json(&self, json: &[u8]) -> bool {
        if !self.fields.is_empty() {
            return self.matches(&crate::store::parse(json));
        }
        #[derive(serde::Deserialize)]
        struct Object {
            #[serde(default)]
            metadata: Metadata,
        }
        #[derive(serde::Deserialize, Default)]
        struct Metadata {
            #[serde(default)]
            labels: Option<Map<String, Value>>,
        }
        let labels = serde_json::from_slice::<Object>(json)
            .ok()
            .and_then(|o| o.metadata.labels);
        self.labels.matches_labels(labels.as_ref())
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
    fn matching_stored_json_agrees_with_matching_the_parsed_object() {
        let objects = [
            pod(json!({ "app": "web", "tier": "fe" })),
            pod(json!({ "app": "api" })),
            pod(json!({})),
            pod(Value::Null),
            json!({ "metadata": { "name": "bare", "namespace": "ns" } }),
            json!({ "metadata": null, "spec": { "nested": { "labels": { "app": "web" } } } }),
            json!({ "kind": "NoMetadata" }),
        ];
        let filters = [
            ("app=web", ""),
            ("!app", ""),
            ("tier notin (db),app", ""),
            ("", "metadata.name=p"),
            ("app=web", "metadata.namespace!=other"),
        ];
        for (labels, fields) in filters {
            let filter = Filter {
                labels: LabelSelector::parse(labels).unwrap(),
                fields: FieldSelector::parse(fields).unwrap(),
            };
            for object in &objects {
                let text = serde_json::to_vec(object).unwrap();
                assert_eq!(
                    filter.matches_json(&text),
                    filter.matches(object),
                    "{labels:?} {fields:?} on {object}"
                );
            }
        }
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
