//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A simplification of Kubernetes' structured-merge-diff: ownership is tracked
//! per leaf path through objects only, and every list is atomic (owned and
//! replaced as a whole; no `k:`/`v:` list-map keys). This gives the behaviour
//! controllers rely on: applying a config creates the object if absent, the
//! same manager never conflicts with itself, fields another manager set to a
//! different value conflict (409) unless `force=true`, and fields a manager
//! stops applying are removed when nobody else owns them.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::meta;
use crate::registry::ResourceInfo;
use crate::status::ApiError;

/// A leaf path through nested objects, e.g. `["spec", "replicas"]`.
type FieldPath = Vec<String>;

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: BTreeSet<FieldPath>,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(&self.fields),
        });
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }
}

/// Renders paths as a `FieldsV1` tree (`{"f:spec":{"f:replicas":{}}}`).
fn fields_v1(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for segment in path {
            let child = node
                .entry(format!("f:{segment}"))
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            node = match child {
                Value::Object(map) => map,
                _ => unreachable!("made an object above"),
            };
        }
    }
    Value::Object(root)
}

/// Reads a `FieldsV1` tree back into leaf paths. Entries written by real
/// clients may contain list keys (`k:`, `v:`, `i:`); their list is taken as one
/// atomic leaf.
fn parse_fields_v1(tree: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let Some(map) = tree.as_object() else {
        return;
    };
    let mut has_child = false;
    let mut atomic = false;
    for (key, child) in map {
        if let Some(name) = key.strip_prefix("f:") {
            has_child = true;
            prefix.push(name.to_owned());
            parse_fields_v1(child, prefix, out);
            prefix.pop();
        } else if key != "." {
            atomic = true;
        }
    }
    if (!has_child || atomic) && !prefix.is_empty() {
        out.insert(prefix.clone());
    }
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    let Some(items) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let mut fields = BTreeSet::new();
            parse_fields_v1(item.get("fieldsV1")?, &mut Vec::new(), &mut fields);
            Some(Entry {
                manager: item.get("manager")?.as_str()?.to_owned(),
                operation: item.get("operation")?.as_str()?.to_owned(),
                api_version: item
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                time: item
                    .get("time")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                subresource: item
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                fields,
            })
        })
        .collect()
}

fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    let metadata = meta::metadata_mut(obj);
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert(
            "managedFields".to_owned(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

fn collect_leaves(value: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(key.clone());
                collect_leaves(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The leaf paths a write in `subresource` scope owns in `obj`.
fn tracked_paths(obj: &Value, subresource: Option<&str>, has_status: bool) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    if subresource == Some("status") {
        if let Some(status) = map.get("status") {
            collect_leaves(status, &mut vec!["status".to_owned()], &mut out);
        }
        return out;
    }
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "status" if has_status => {}
            "metadata" => {
                for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(v) = value.get(field) {
                        collect_leaves(
                            v,
                            &mut vec!["metadata".to_owned(), field.to_owned()],
                            &mut out,
                        );
                    }
                }
            }
            _ => collect_leaves(value, &mut vec![key.clone()], &mut out),
        }
    }
    out
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = parents.iter().try_fold(obj, |v, key| v.get_mut(key));
    if let Some(Value::Object(map)) = parent {
        map.remove(last);
    }
}

/// `.spec.replicas`, as conflict messages print a path.
fn dotted(path: &[String]) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

/// Records a non-apply write (create, update, patch) by `manager` in
/// `new`'s managedFields: it takes ownership of the fields it changed.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    info: &ResourceInfo,
) {
    let mut entries = old.map(read_entries).unwrap_or_default();
    let new_paths = tracked_paths(new, subresource, info.has_status);
    let changed: BTreeSet<FieldPath> = match old {
        None => new_paths,
        Some(old) => {
            let old_paths = tracked_paths(old, subresource, info.has_status);
            for path in old_paths.difference(&new_paths) {
                for entry in &mut entries {
                    entry.fields.retain(|f| !overlaps(f, path));
                }
            }
            new_paths
                .into_iter()
                .filter(|p| value_at(old, p) != value_at(new, p))
                .collect()
        }
    };
    if !changed.is_empty() {
        for entry in &mut entries {
            entry
                .fields
                .retain(|f| !changed.iter().any(|c| overlaps(f, c)));
        }
        let now = meta::now();
        match entries
            .iter_mut()
            .find(|e| e.is(manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = now;
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: "Update".to_owned(),
                api_version: info.api_version.to_owned(),
                time: now,
                subresource: subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    write_entries(new, entries);
}

/// Deep-merges an applied configuration: objects merge, lists and scalars
/// replace, `null` removes.
fn merge_config(target: &mut Value, config: &Value) {
    crate::patch::merge_patch(target, config);
}

/// Server-side apply of `config` by `manager` over `current` (absent: create).
/// Returns the object to store, with managedFields updated.
pub(crate) fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    info: &ResourceInfo,
) -> Result<Value, ApiError> {
    let name = meta::name(config).unwrap_or("");
    let config_paths = tracked_paths(config, subresource, info.has_status);
    let now = meta::now();
    let Some(current) = current else {
        let mut created = config.clone();
        let entries = vec![Entry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: info.api_version.to_owned(),
            time: now,
            subresource: subresource.map(str::to_owned),
            fields: config_paths,
        }];
        write_entries(&mut created, entries);
        return Ok(created);
    };

    let mut entries = read_entries(current);
    let mut conflicts = Vec::new();
    for entry in entries
        .iter_mut()
        .filter(|e| !e.is(manager, "Apply", subresource))
    {
        let mut lost = Vec::new();
        for owned in &entry.fields {
            for path in config_paths.iter().filter(|p| overlaps(p, owned)) {
                let longest = if owned.len() > path.len() {
                    owned
                } else {
                    path
                };
                if value_at(current, longest) != value_at(config, longest) {
                    conflicts.push((entry.manager.clone(), dotted(owned)));
                    lost.push(owned.clone());
                    break;
                }
            }
        }
        if force {
            entry.fields.retain(|f| !lost.contains(f));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(ApiError::apply_conflict(info, name, &conflicts));
    }

    let mut merged = current.clone();
    let previously: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| e.is(manager, "Apply", subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for dropped in previously.difference(&config_paths) {
        let still_applied = config_paths.iter().any(|p| overlaps(p, dropped));
        let owned_by_other = entries
            .iter()
            .filter(|e| !e.is(manager, "Apply", subresource))
            .any(|e| e.fields.iter().any(|f| overlaps(f, dropped)));
        if !still_applied && !owned_by_other {
            remove_path(&mut merged, dropped);
        }
    }
    if subresource == Some("status") {
        if let (Some(status), Value::Object(map)) = (config.get("status"), &mut merged) {
            merge_config(map.entry("status").or_insert(Value::Null), status);
        }
    } else {
        let mut body = config.clone();
        if let Value::Object(map) = &mut body
            && info.has_status
        {
            map.remove("status");
        }
        merge_config(&mut merged, &body);
    }

    match entries
        .iter_mut()
        .find(|e| e.is(manager, "Apply", subresource))
    {
        Some(entry) => {
            entry.fields = config_paths;
            entry.time = now;
            entry.api_version = info.api_version.to_owned();
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: info.api_version.to_owned(),
            time: now,
            subresource: subresource.map(str::to_owned),
            fields: config_paths,
        }),
    }
    write_entries(&mut merged, entries);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn deployments() -> ResourceInfo {
        let registry = Registry::builtin();
        registry
            .get(registry.lookup("apps", "v1", "deployments").unwrap())
            .clone()
    }

    fn config(replicas: i64, labels: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web", "labels": labels },
            "spec": { "replicas": replicas, "template": { "spec": { "containers": [{ "name": "c", "image": "i" }] } } }
        })
    }

    #[test]
    fn apply_creates_and_records_the_manager() {
        let info = deployments();
        let created = apply(
            None,
            &config(1, json!({ "a": "1" })),
            "storeplane",
            false,
            None,
            &info,
        )
        .unwrap();
        let entries = read_entries(&created);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager, "storeplane");
        assert!(
            entries[0]
                .fields
                .contains(&vec!["spec".to_owned(), "replicas".to_owned()])
        );
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"],
            json!({})
        );
    }

    #[test]
    fn same_manager_never_conflicts_and_drops_fields_it_stops_applying() {
        let info = deployments();
        let first = apply(
            None,
            &config(1, json!({ "a": "1", "b": "2" })),
            "m",
            false,
            None,
            &info,
        )
        .unwrap();
        let second = apply(
            Some(&first),
            &config(3, json!({ "a": "1" })),
            "m",
            false,
            None,
            &info,
        )
        .unwrap();
        assert_eq!(second["spec"]["replicas"], 3);
        assert_eq!(second["metadata"]["labels"], json!({ "a": "1" }));
    }

    #[test]
    fn other_manager_conflicts_unless_forced() {
        let info = deployments();
        let first = apply(None, &config(1, json!({})), "one", false, None, &info).unwrap();
        let err = apply(
            Some(&first),
            &config(2, json!({})),
            "two",
            false,
            None,
            &info,
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("conflict with \"one\""),
            "{}",
            err.message
        );
        assert!(err.message.contains(".spec.replicas"), "{}", err.message);
        let forced = apply(
            Some(&first),
            &config(2, json!({})),
            "two",
            true,
            None,
            &info,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 2);
        let one = read_entries(&forced)
            .into_iter()
            .find(|e| e.manager == "one")
            .unwrap();
        assert!(
            !one.fields
                .contains(&vec!["spec".to_owned(), "replicas".to_owned()])
        );
    }

    #[test]
    fn equal_values_are_shared_without_conflict() {
        let info = deployments();
        let first = apply(None, &config(1, json!({})), "one", false, None, &info).unwrap();
        let shared = apply(
            Some(&first),
            &config(1, json!({})),
            "two",
            false,
            None,
            &info,
        )
        .unwrap();
        assert_eq!(read_entries(&shared).len(), 2);
    }

    #[test]
    fn updates_take_ownership_so_a_later_apply_conflicts() {
        let info = deployments();
        let first = apply(None, &config(1, json!({})), "one", false, None, &info).unwrap();
        let mut scaled = first.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&first), &mut scaled, "kubectl", None, &info);
        let err = apply(
            Some(&scaled),
            &config(1, json!({})),
            "one",
            false,
            None,
            &info,
        )
        .unwrap_err();
        assert!(
            err.message.contains("conflict with \"kubectl\""),
            "{}",
            err.message
        );
    }
}
