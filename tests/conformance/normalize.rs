//! Outcomes as comparable JSON: what differs between two clusters for no
//! reason that matters (uids, resourceVersions, timestamps, generated
//! names, ages) is replaced by a placeholder, so that what is left can be
//! compared field by field, and a field-by-field diff of two outcomes.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::cluster::{KubectlRun, Reply};

/// Text rewrites applied to every string of an outcome, in order.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // uids (and anything else shaped like a UUID).
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<uid>",
        ),
        // RFC 3339 times, and the RFC 1123 ones `kubectl describe` prints.
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "<time>",
        ),
        (
            r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}",
            "<time>",
        ),
        // Pods of the script's Deployments: `<deployment>-<template hash>-<suffix>`
        // (a new suffix per retry on a real cluster), and their ReplicaSets.
        (
            r"\b(web|psa-web)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b",
            "$1-<hash>-<suffix>",
        ),
        (
            r"\b(web|psa-web)-[bcdfghjklmnpqrstvwxz2456789]{6,10}\b",
            "$1-<hash>",
        ),
        // A resourceVersion inside a message.
        (r"(resource ?version:? |object meta: )\d+", "$1<rv>"),
        (r"(ResourceVersion in record )\(\d+\)", "$1(<rv>)"),
        (r#"(resourceVersion: )"\d+""#, "$1\"<rv>\""),
        // The times `kubectl diff` prints for its temporary files.
        (
            r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+ [+-]\d{4}",
            "<time>",
        ),
        // Allocated addresses (Service cluster IPs come from each cluster's
        // own range, in its own order).
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<ip>"),
        (r"(too old resource version: \d+ \()\d+\)", "$1<oldest>)"),
    ]
    .into_iter()
    .map(|(pattern, to)| (Regex::new(pattern).unwrap_or_else(|e| panic!("{e}")), to))
    .collect()
});

/// Object fields whose values differ per cluster and per run; their
/// presence is kept.
const VOLATILE_FIELDS: [&str; 9] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "time",
    "lastTransitionTime",
    "lastUpdateTime",
    "lastHeartbeatTime",
    "firstTimestamp",
];

/// A string with the volatile parts replaced.
pub fn text(s: &str) -> String {
    let mut out = s.to_owned();
    for (pattern, to) in RULES.iter() {
        out = pattern.replace_all(&out, *to).into_owned();
    }
    out
}

/// A value with volatile fields and strings replaced, recursively.
pub fn value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE_FIELDS.contains(&k.as_str()) && !v.is_null() {
                        json!(format!("<{k}>"))
                    } else {
                        value(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The outcome of an API call that should fail: code and the `Status`
/// (reason, message, details with causes as a set), or, when it did not
/// fail, the code and what came back.
pub fn status(reply: &Reply) -> Value {
    let body = &reply.body;
    if body["kind"] != "Status" {
        return json!({"code": reply.status, "body": value(body)});
    }
    let mut details = body.get("details").cloned().unwrap_or(Value::Null);
    if let Some(causes) = details.get_mut("causes").and_then(Value::as_array_mut) {
        // A set: the apiserver's order of apply conflicts is random.
        causes.sort_by_key(|c| c.to_string());
    }
    json!({
        "code": reply.status,
        "status": body["status"],
        "reason": body["reason"],
        "message": text(&conflict_groups_sorted(body["message"].as_str().unwrap_or_default())),
        "details": value(&details),
    })
}

/// An apply conflict message lists its managers in random order upstream
/// (`conflicts with "a":\n- .x\nconflicts with "b":\n- .y`): sort the groups.
fn conflict_groups_sorted(message: &str) -> String {
    let Some((head, rest)) = message.split_once(": conflicts with ") else {
        return message.to_owned();
    };
    let mut groups: Vec<String> = rest.split("\nconflicts with ").map(str::to_owned).collect();
    groups.sort();
    format!(
        "{head}: conflicts with {}",
        groups.join("\nconflicts with ")
    )
}

/// The fields of an object that both clusters must agree on, normalised.
pub fn object(v: &Value) -> Value {
    let mut v = value(v);
    if let Some(fields) = v
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        fields.sort_by_key(|f| format!("{}/{}", f["manager"], f["operation"]));
    }
    v
}

/// Who manages what: `manager/operation → fieldsV1`, sorted.
pub fn managers(v: &Value) -> Value {
    let mut out = Map::new();
    for entry in v
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = format!(
            "{}/{}{}",
            entry["manager"].as_str().unwrap_or_default(),
            entry["operation"].as_str().unwrap_or_default(),
            entry["subresource"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default()
        );
        out.insert(key, entry["fieldsV1"].clone());
    }
    Value::Object(out)
}

/// A kubectl run: exit code and normalised output.
pub fn kubectl(run: &KubectlRun) -> Value {
    json!({
        "exit": run.code,
        "stdout": text(&run.stdout),
        "stderr": text(&run.stderr),
    })
}

/// A kubectl table as rows of cells, the AGE column's values replaced
/// (column widths follow the widest cell, so alignment is not compared).
pub fn table(output: &str) -> Value {
    let separator = Regex::new(r"\s{2,}").unwrap_or_else(|e| panic!("{e}"));
    let age = Regex::new(r"^(\d+[smhdy])+$").unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Value> = text(output)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            json!(
                separator
                    .split(line.trim_end())
                    .map(|cell| if age.is_match(cell) { "<age>" } else { cell })
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    Value::Array(rows)
}

/// `kubectl describe` output with alignment and ages dropped.
pub fn describe(output: &str) -> Value {
    let spaces = Regex::new(r"[ \t]+").unwrap_or_else(|e| panic!("{e}"));
    let age = Regex::new(r"\b(\d+[smhdy])+\b").unwrap_or_else(|e| panic!("{e}"));
    Value::Array(
        text(output)
            .lines()
            .map(|l| json!(age.replace_all(&spaces.replace_all(l.trim_end(), " "), "<age>")))
            .collect(),
    )
}

/// Where two outcomes differ, one line per leaf: `path: simulated=…, real=…`.
pub fn diff(path: &str, sim: &Value, real: &Value, out: &mut Vec<String>) {
    match (sim, real) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let sub = format!("{path}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(&sub, x, y, out),
                    (x, y) => out.push(format!("{sub}: simulated={}, real={}", show(x), show(y))),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let sub = format!("{path}/{i}");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => diff(&sub, x, y, out),
                    (x, y) => out.push(format!("{sub}: simulated={}, real={}", show(x), show(y))),
                }
            }
        }
        (a, b) if a != b => out.push(format!(
            "{path}: simulated={}, real={}",
            show(Some(a)),
            show(Some(b))
        )),
        _ => {}
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 600 {
                format!("{}…", &s[..s.floor_char_boundary(600)])
            } else {
                s
            }
        }
    }
}
