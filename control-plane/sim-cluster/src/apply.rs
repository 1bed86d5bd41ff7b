//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A simplification of Kubernetes' structured-merge-diff: ownership is tracked
//! per leaf path through objects and through the associative lists of the
//! built-in kinds (`x-kubernetes-list-type: map`: containers by name, ports
//! by port and protocol, ...), whose items are merged and owned by key
//! (`k:{"name":"web"}`) as upstream; every other list is atomic (owned and
//! replaced as a whole). This gives the behaviour controllers rely on:
//! applying a config creates the object if absent, the same manager never
//! conflicts with itself, fields another manager set to a different value
//! conflict (409) unless `force=true`, and fields a manager stops applying
//! are removed when nobody else owns them.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Map nodes this manager created with a non-apply write (rendered as
    /// `"."`, as structured-merge-diff marks a map that went from absent to
    /// present); never part of a conflict.
    nodes: BTreeSet<FieldPath>,
    /// The index of the `managedFields` item this entry was read from, as
    /// long as that item still says exactly what the entry does: written
    /// back as it was instead of rendered again. Most updates change one
    /// entry (a controller's status write leaves the big apply entry of
    /// the spec alone), and rendering every entry on every write was a
    /// sixth of the simulator's CPU in a burst of provisions.
    read_from: Option<usize>,
}

/// Who owns a conflicting field: what the apiserver's conflict messages
/// print (`"one"`, `"kubectl" using apps/v1`), ordered as it sorts them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ConflictKey {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
}

impl ConflictKey {
    /// `printManager` of apimachinery's managedfields: the quoted name, the
    /// subresource if any, and for updates the API version.
    fn describe(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            text.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            text.push_str(&format!(" using {}", self.api_version));
        }
        text
    }
}

impl Entry {
    fn conflict_key(&self) -> ConflictKey {
        ConflictKey {
            manager: self.manager.clone(),
            operation: self.operation.clone(),
            api_version: self.api_version.clone(),
            subresource: self.subresource.clone(),
        }
    }

    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        self.render(fields_v1(&self.fields, &self.nodes))
    }

    /// The entry as a `managedFields` item whose `fieldsV1` is `fields`.
    fn render(&self, fields: Value) -> Value {
        // Built in place: `json!` would serialize the fields tree into a
        // copy of itself.
        let mut entry = Map::new();
        let text = |s: &str| Value::String(s.to_owned());
        entry.insert("manager".to_owned(), text(&self.manager));
        entry.insert("operation".to_owned(), text(&self.operation));
        entry.insert("apiVersion".to_owned(), text(&self.api_version));
        // An apply that changed nothing records no time, as upstream.
        if !self.time.is_empty() {
            entry.insert("time".to_owned(), text(&self.time));
        }
        entry.insert("fieldsType".to_owned(), text("FieldsV1"));
        entry.insert("fieldsV1".to_owned(), fields);
        if let Some(sub) = &self.subresource {
            entry.insert("subresource".to_owned(), text(sub));
        }
        Value::Object(entry)
    }
}

/// Renders paths as a `FieldsV1` tree (`{"f:spec":{"f:replicas":{}}}`;
/// list items as `k:{...}` with a `.` entry, and owned map `nodes` with
/// one, as upstream).
fn fields_v1(fields: &BTreeSet<FieldPath>, nodes: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    // Each path walks from the root again; the key is spelled into one
    // buffer and allocated only where the tree gains a node.
    let mut key = String::new();
    for path in fields.iter().chain(nodes) {
        let mut node = &mut root;
        for segment in path {
            let item = keyed_segment(segment);
            key.clear();
            match item {
                Some(_) => key.push_str("k:"),
                None => key.push_str("f:"),
            }
            key.push_str(item.unwrap_or(segment));
            if !node.get(&key).is_some_and(Value::is_object) {
                node.insert(key.clone(), Value::Object(Map::new()));
            }
            node = match node.get_mut(&key) {
                Some(Value::Object(map)) => map,
                _ => unreachable!("made an object above"),
            };
            if item.is_some() && !node.contains_key(".") {
                node.insert(".".to_owned(), Value::Object(Map::new()));
            }
        }
        if nodes.contains(path) && !node.contains_key(".") {
            node.insert(".".to_owned(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

/// The map nodes `new` has and `old` lacked. Upstream marks every map and
/// pointer struct a non-apply write makes go from absent to present;
/// without the Go types at hand this covers the string maps of metadata
/// and of ConfigMaps and Secrets, which is where storeplane and kubectl
/// look.
fn created_nodes(
    old: Option<&Value>,
    new: &Value,
    subresource: Option<&str>,
) -> BTreeSet<FieldPath> {
    if subresource.is_some() {
        return BTreeSet::new();
    }
    let candidates = [
        vec!["metadata".to_owned(), "labels".to_owned()],
        vec!["metadata".to_owned(), "annotations".to_owned()],
        vec!["data".to_owned()],
        vec!["binaryData".to_owned()],
    ];
    let present = |obj: &Value, path: &[String]| {
        value_at(obj, path).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
    };
    candidates
        .into_iter()
        .filter(|path| present(new, path) && !old.is_some_and(|old| present(old, path)))
        .collect()
}

/// Marks a path segment that is a list item by key rather than a field name
/// (a NUL cannot start a JSON field name anyone uses).
const ITEM: &str = "\0k:";

/// The key JSON of a list-item segment (`{"name":"web"}`), or `None` for a
/// field name.
fn keyed_segment(segment: &str) -> Option<&str> {
    segment.strip_prefix(ITEM)
}

/// The keys of the associative lists of the built-in kinds, by field name
/// (from their OpenAPI `x-kubernetes-list-map-keys`); `None` for atomic
/// lists. Ports are told apart by their items.
fn list_keys(field: &str, items: &[Value]) -> Option<&'static [&'static str]> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "imagePullSecrets"
        | "volumes"
        | "schedulingGates"
        | "resourceClaims"
        | "claims"
        | "matchConditions"
        | "webhooks"
        | "variables" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "conditions" | "addresses" => &["type"],
        "ownerReferences" => &["uid"],
        "hostAliases" | "podIPs" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "ports" if items.iter().all(|i| i.get("containerPort").is_some()) => {
            &["containerPort", "protocol"]
        }
        "ports" if items.iter().all(|i| i.get("port").is_some()) => &["port", "protocol"],
        _ => return None,
    })
}

/// A key field's value in an item, with the schema default where it has one
/// (a port's protocol is `TCP`).
fn key_value(item: &Value, key: &str) -> Option<Value> {
    match (item.get(key), key) {
        (Some(value), _) => Some(value.clone()),
        (None, "protocol") => Some(json!("TCP")),
        _ => None,
    }
}

/// The segment naming `item` in an associative list with `keys`.
fn item_segment(item: &Value, keys: &[&str]) -> Option<String> {
    let mut key = Map::new();
    for name in keys {
        key.insert((*name).to_owned(), key_value(item, name)?);
    }
    Some(format!("{ITEM}{}", Value::Object(key)))
}

/// The items of `list` and their segments when it is an associative list
/// whose items all carry their keys; `None` when it is atomic.
fn keyed_items<'a>(field: Option<&str>, list: &'a [Value]) -> Option<Vec<(String, &'a Value)>> {
    let field = field?;
    if keyed_segment(field).is_some() {
        return None;
    }
    let keys = list_keys(field, list)?;
    list.iter()
        .map(|item| item_segment(item, keys).map(|segment| (segment, item)))
        .collect()
}

fn item_matches(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(key) else {
        return false;
    };
    wanted
        .iter()
        .all(|(name, value)| key_value(item, name).as_ref() == Some(value))
}

/// Reads a `FieldsV1` tree back into leaf paths. Entries written by real
/// clients may contain list keys (`k:`, `v:`, `i:`); their list is taken as one
/// atomic leaf.
fn parse_fields_v1(
    tree: &Value,
    prefix: &mut FieldPath,
    out: &mut BTreeSet<FieldPath>,
    nodes: &mut BTreeSet<FieldPath>,
) {
    let Some(map) = tree.as_object() else {
        return;
    };
    let mut has_child = false;
    let mut atomic = false;
    let mut dot = false;
    for (key, child) in map {
        if let Some(name) = key.strip_prefix("f:") {
            has_child = true;
            prefix.push(name.to_owned());
            parse_fields_v1(child, prefix, out, nodes);
            prefix.pop();
        } else if let Some(item) = key.strip_prefix("k:") {
            has_child = true;
            prefix.push(format!("{ITEM}{item}"));
            parse_fields_v1(child, prefix, out, nodes);
            prefix.pop();
        } else if key == "." {
            dot = true;
        } else {
            atomic = true;
        }
    }
    if (!has_child || atomic) && !prefix.is_empty() {
        out.insert(prefix.clone());
    } else if dot && prefix.last().is_some_and(|s| keyed_segment(s).is_none()) {
        nodes.insert(prefix.clone());
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
        .enumerate()
        .filter_map(|(i, item)| {
            let mut fields = BTreeSet::new();
            let mut nodes = BTreeSet::new();
            parse_fields_v1(
                item.get("fieldsV1")?,
                &mut Vec::new(),
                &mut fields,
                &mut nodes,
            );
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
                nodes,
                read_from: Some(i),
            })
        })
        .collect()
}

/// Sets `obj`'s `managedFields` to `entries`; `read` is the object they
/// were read from (entries still as read are copied from it).
fn write_entries(obj: &mut Value, mut entries: Vec<Entry>, read: Option<&Value>) {
    // A map node that is gone is nobody's any more.
    for entry in &mut entries {
        let before = entry.nodes.len();
        entry
            .nodes
            .retain(|node| value_at(obj, node).is_some_and(Value::is_object));
        if entry.nodes.len() != before {
            entry.read_from = None;
        }
    }
    entries.retain(|e| !e.fields.is_empty() || !e.nodes.is_empty());
    let items = read
        .and_then(|read| read.pointer("/metadata/managedFields"))
        .and_then(Value::as_array);
    let metadata = meta::metadata_mut(obj);
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        let rendered = entries
            .iter()
            .map(|entry| {
                entry
                    .read_from
                    .and_then(|i| items.and_then(|items| items.get(i)))
                    .map_or_else(|| entry.to_json(), Value::clone)
            })
            .collect();
        metadata.insert("managedFields".to_owned(), Value::Array(rendered));
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
        // An empty associative list owns no item (and not the list).
        Value::Array(list)
            if list.is_empty()
                && prefix.last().is_some_and(|f| {
                    keyed_segment(f).is_none() && list_keys(f, list).is_some()
                }) => {}
        Value::Array(list) if !list.is_empty() => {
            match keyed_items(prefix.last().map(String::as_str), list) {
                Some(items) => {
                    for (segment, item) in items {
                        prefix.push(segment);
                        collect_leaves(item, prefix, out);
                        prefix.pop();
                    }
                }
                None => {
                    out.insert(prefix.clone());
                }
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// Where the fields a write in `subresource` scope owns start in `obj`:
/// `status` for the status subresource; otherwise every top-level field
/// but `apiVersion`, `kind` and (for a kind with a status subresource)
/// `status`, and of `metadata` only labels, annotations, finalizers and
/// owner references.
fn tracked_roots(obj: &Value, subresource: Option<&str>, has_status: bool) -> Vec<FieldPath> {
    let Some(map) = obj.as_object() else {
        return Vec::new();
    };
    if subresource == Some("status") {
        return map
            .get("status")
            .map(|_| vec!["status".to_owned()])
            .into_iter()
            .collect();
    }
    let mut roots = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "status" if has_status => {}
            "metadata" => roots.extend(
                ["labels", "annotations", "finalizers", "ownerReferences"]
                    .into_iter()
                    .filter(|field| value.get(field).is_some())
                    .map(|field| vec!["metadata".to_owned(), field.to_owned()]),
            ),
            _ => roots.push(vec![key.clone()]),
        }
    }
    roots
}

/// The leaf paths a write in `subresource` scope owns in `obj`.
fn tracked_paths(obj: &Value, subresource: Option<&str>, has_status: bool) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    for mut root in tracked_roots(obj, subresource, has_status) {
        if let Some(value) = value_at(obj, &root) {
            collect_leaves(value, &mut root, &mut out);
        }
    }
    out
}

/// What a write changed among the fields it tracks (see [`tracked_paths`]).
#[derive(Default)]
struct Changes {
    /// Leaf paths of the new object whose value differs from the old
    /// object's at the same path (every leaf, for a create).
    changed: BTreeSet<FieldPath>,
    /// Leaf paths of the old object the new one no longer has.
    removed: BTreeSet<FieldPath>,
}

/// The tracked leaves a write from `old` to `new` changed and removed:
/// the same sets as comparing `tracked_paths` of both objects and the
/// values at each path, found by walking the two objects side by side so
/// that subtrees the write left equal (a status write leaves the whole
/// spec alone) are compared once and never split into paths. Building and
/// comparing both objects' full path sets was a fifth of the simulator's
/// CPU in a burst of provisions.
fn tracked_changes(
    old: Option<&Value>,
    new: &Value,
    subresource: Option<&str>,
    has_status: bool,
) -> Changes {
    let mut changes = Changes::default();
    let roots: BTreeSet<FieldPath> = [old, Some(new)]
        .into_iter()
        .flatten()
        .flat_map(|obj| tracked_roots(obj, subresource, has_status))
        .collect();
    for mut root in roots {
        let was = old.and_then(|old| value_at(old, &root));
        diff(was, value_at(new, &root), &mut root, &mut changes);
    }
    changes
}

/// [`tracked_changes`] below `prefix`, where `old` and `new` are what the
/// two objects hold there.
fn diff(old: Option<&Value>, new: Option<&Value>, prefix: &mut FieldPath, out: &mut Changes) {
    if old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Object(was)), Some(Value::Object(now)))
            if !was.is_empty() && !now.is_empty() =>
        {
            for (key, value) in now {
                prefix.push(key.clone());
                diff(was.get(key), Some(value), prefix, out);
                prefix.pop();
            }
            for (key, value) in was {
                if !now.contains_key(key) {
                    prefix.push(key.clone());
                    diff(Some(value), None, prefix, out);
                    prefix.pop();
                }
            }
        }
        (Some(Value::Array(was)), Some(Value::Array(now))) => {
            match (
                unique_items(prefix, was, now),
                unique_items(prefix, now, was),
            ) {
                (Some(was), Some(now)) => {
                    for (segment, value) in &now {
                        prefix.push(segment.clone());
                        diff(was.get(segment).copied(), Some(value), prefix, out);
                        prefix.pop();
                    }
                    for (segment, value) in was {
                        if !now.contains_key(&segment) {
                            prefix.push(segment);
                            diff(Some(value), None, prefix, out);
                            prefix.pop();
                        }
                    }
                }
                _ => diff_leaves(old, new, prefix, out),
            }
        }
        _ => diff_leaves(old, new, prefix, out),
    }
}

/// The items of `list`, a non-empty associative list, by their segments,
/// when its `other` version is keyed the same way (ports are keyed by
/// what their items hold) and no two of its items share a key; otherwise
/// the two versions are compared leaf by leaf.
fn unique_items<'a>(
    prefix: &FieldPath,
    list: &'a [Value],
    other: &[Value],
) -> Option<BTreeMap<String, &'a Value>> {
    let field = prefix.last()?;
    if list.is_empty() || list_keys(field, list) != list_keys(field, other) {
        return None;
    }
    let items = keyed_items(Some(field.as_str()), list)?;
    let count = items.len();
    let items: BTreeMap<String, &Value> = items.into_iter().collect();
    (items.len() == count).then_some(items)
}

/// [`diff`] where the two sides differ in shape: both sides' leaves below
/// `prefix`, compared path by path.
fn diff_leaves(
    old: Option<&Value>,
    new: Option<&Value>,
    prefix: &mut FieldPath,
    out: &mut Changes,
) {
    let mut was = BTreeSet::new();
    if let Some(old) = old {
        collect_leaves(old, prefix, &mut was);
    }
    let mut now = BTreeSet::new();
    if let Some(new) = new {
        collect_leaves(new, prefix, &mut now);
    }
    let Some(old) = old else {
        // Every leaf is new (a create, a field added).
        out.changed.extend(now);
        return;
    };
    let depth = prefix.len();
    out.removed.extend(was.difference(&now).cloned());
    out.changed.extend(now.into_iter().filter(|path| {
        let below = &path[depth..];
        value_at(old, below) != new.and_then(|v| value_at(v, below))
    }));
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn step<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match keyed_segment(segment) {
        Some(key) => value
            .as_array()?
            .iter()
            .find(|item| item_matches(item, key)),
        None => value.get(segment),
    }
}

fn step_mut<'a>(value: &'a mut Value, segment: &str) -> Option<&'a mut Value> {
    match keyed_segment(segment) {
        Some(key) => value
            .as_array_mut()?
            .iter_mut()
            .find(|item| item_matches(item, key)),
        None => value.get_mut(segment),
    }
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, segment| step(v, segment))
}

fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = parents
        .iter()
        .try_fold(obj, |v, segment| step_mut(v, segment));
    match (parent, keyed_segment(last)) {
        (Some(Value::Array(items)), Some(key)) => items.retain(|item| !item_matches(item, key)),
        (Some(Value::Object(map)), None) => {
            map.remove(last);
        }
        _ => {}
    }
}

/// `.spec.template.spec.containers[name="web"].image`, as conflict
/// messages print a path (structured-merge-diff's `Path.String`).
fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|segment| match keyed_segment(segment) {
            Some(key) => {
                let fields = match serde_json::from_str::<Value>(key) {
                    Ok(Value::Object(map)) => map
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => key.to_owned(),
                };
                format!("[{fields}]")
            }
            None => format!(".{segment}"),
        })
        .collect()
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
    let created = created_nodes(old, new, subresource);
    if old.is_none() {
        return record_create(new, manager, subresource, info, &created);
    }
    let mut entries = old.map(read_entries).unwrap_or_default();
    let Changes { changed, removed } = tracked_changes(old, new, subresource, info.has_status);
    for path in &removed {
        for entry in &mut entries {
            let before = entry.fields.len();
            entry.fields.retain(|f| !overlaps(f, path));
            if entry.fields.len() != before {
                entry.read_from = None;
            }
        }
    }
    if !changed.is_empty() || !created.is_empty() {
        for entry in &mut entries {
            let before = (entry.fields.len(), entry.nodes.len());
            entry
                .fields
                .retain(|f| !changed.iter().any(|c| overlaps(f, c)));
            entry.nodes.retain(|n| !created.contains(n));
            if (entry.fields.len(), entry.nodes.len()) != before {
                entry.read_from = None;
            }
        }
        let now = meta::now();
        match entries
            .iter_mut()
            .find(|e| e.is(manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.nodes.extend(created);
                entry.time = now;
                entry.read_from = None;
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: "Update".to_owned(),
                api_version: info.api_version.to_owned(),
                time: now,
                subresource: subresource.map(str::to_owned),
                fields: changed,
                nodes: created,
                read_from: None,
            }),
        }
    }
    write_entries(new, entries, old);
}

/// [`record_update`] of a create: one entry owning every tracked leaf,
/// its `FieldsV1` tree built straight from the object ([`leaf_tree`])
/// instead of through the set of its paths. A pod's creation (every
/// defaulted field of its spec) is the simulator's commonest write in a
/// burst of provisions.
fn record_create(
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    info: &ResourceInfo,
    created: &BTreeSet<FieldPath>,
) {
    let mut tree = tracked_tree(new, subresource, info.has_status);
    for node in created {
        let mut at = Some(&mut tree);
        for segment in node {
            at = at
                .and_then(|map| map.get_mut(&format!("f:{segment}")))
                .and_then(Value::as_object_mut);
        }
        if let Some(at) = at {
            at.insert(".".to_owned(), Value::Object(Map::new()));
        }
    }
    let metadata = meta::metadata_mut(new);
    if tree.is_empty() {
        metadata.remove("managedFields");
        return;
    }
    let entry = Entry {
        manager: manager.to_owned(),
        operation: "Update".to_owned(),
        api_version: info.api_version.to_owned(),
        time: meta::now(),
        subresource: subresource.map(str::to_owned),
        fields: BTreeSet::new(),
        nodes: BTreeSet::new(),
        read_from: None,
    };
    let item = entry.render(Value::Object(tree));
    metadata.insert("managedFields".to_owned(), Value::Array(vec![item]));
}

/// The `FieldsV1` tree of the leaves [`tracked_paths`] finds in `obj`.
fn tracked_tree(obj: &Value, subresource: Option<&str>, has_status: bool) -> Map<String, Value> {
    let mut tree = Map::new();
    for root in tracked_roots(obj, subresource, has_status) {
        let (Some(value), Some((last, parents))) = (value_at(obj, &root), root.split_last()) else {
            continue;
        };
        let Some(below) = leaf_tree(value, last) else {
            continue;
        };
        let mut node = &mut tree;
        for segment in parents {
            node = match node
                .entry(format!("f:{segment}"))
                .or_insert_with(|| Value::Object(Map::new()))
            {
                Value::Object(map) => map,
                _ => unreachable!("only maps are inserted here"),
            };
        }
        node.insert(format!("f:{last}"), Value::Object(below));
    }
    tree
}

/// What rendering [`collect_leaves`]'s paths of `value` (found under
/// `field`) with [`fields_v1`] gives, built from the value itself; `None`
/// where it has no leaf.
fn leaf_tree(value: &Value, field: &str) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut tree = Map::new();
            for (key, child) in map {
                if let Some(below) = leaf_tree(child, key) {
                    tree.insert(format!("f:{key}"), Value::Object(below));
                }
            }
            (!tree.is_empty()).then_some(tree)
        }
        Value::Array(list)
            if list.is_empty()
                && keyed_segment(field).is_none()
                && list_keys(field, list).is_some() =>
        {
            None
        }
        Value::Array(list) if !list.is_empty() => {
            let Some(items) = keyed_items(Some(field), list) else {
                return Some(Map::new());
            };
            let mut tree = Map::new();
            for (segment, item) in items {
                let mut below = leaf_tree(item, &segment).unwrap_or_default();
                below.insert(".".to_owned(), Value::Object(Map::new()));
                let key = format!("k:{}", keyed_segment(&segment).unwrap_or(""));
                // Two items with one key: their paths are one set upstream.
                match tree.get_mut(&key) {
                    Some(same) => merge_trees(same, below),
                    None => {
                        tree.insert(key, Value::Object(below));
                    }
                }
            }
            Some(tree)
        }
        _ => Some(Map::new()),
    }
}

/// Adds the nodes of `more` to the `FieldsV1` tree `tree`.
fn merge_trees(tree: &mut Value, more: Map<String, Value>) {
    let Value::Object(tree) = tree else {
        return;
    };
    for (key, below) in more {
        match (tree.get_mut(&key), below) {
            (Some(same), Value::Object(below)) => merge_trees(same, below),
            (_, below) => {
                tree.insert(key, below);
            }
        }
    }
}

/// The object without its managedFields.
fn strip_managed(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(metadata) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    obj
}

/// Merges an applied configuration: objects merge, associative lists merge
/// item by item (by key), other lists and scalars replace, `null` removes.
fn merge_config(target: &mut Value, config: &Value) {
    merge_field(target, config, None);
}

fn merge_field(target: &mut Value, config: &Value, field: Option<&str>) {
    match (target, config) {
        (Value::Object(current), Value::Object(applied)) => {
            for (key, value) in applied {
                if value.is_null() {
                    current.remove(key);
                } else {
                    let slot = current.entry(key.clone()).or_insert(Value::Null);
                    merge_field(slot, value, Some(key));
                }
            }
        }
        (Value::Array(current), Value::Array(applied))
            if keyed_items(field, applied).is_some() && keyed_items(field, current).is_some() =>
        {
            for (segment, item) in keyed_items(field, applied).unwrap_or_default() {
                let key = keyed_segment(&segment).unwrap_or("");
                match current.iter_mut().find(|c| item_matches(c, key)) {
                    Some(existing) => merge_field(existing, item, None),
                    None => current.push(item.clone()),
                }
            }
        }
        (target, config) => *target = config.clone(),
    }
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
            nodes: BTreeSet::new(),
            read_from: None,
        }];
        write_entries(&mut created, entries, None);
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
                    conflicts.push((entry.conflict_key(), dotted(owned)));
                    lost.push(owned.clone());
                    break;
                }
            }
        }
        if force && !lost.is_empty() {
            entry.fields.retain(|f| !lost.contains(f));
            entry.read_from = None;
        }
    }
    if !conflicts.is_empty() && !force {
        // Grouped by manager, as the apiserver prints them.
        conflicts.sort();
        let conflicts: Vec<(String, String)> = conflicts
            .into_iter()
            .map(|(key, path)| (key.describe(), path))
            .collect();
        return Err(ApiError::apply_conflict(&conflicts));
    }

    let mut merged = current.clone();
    let previously: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| e.is(manager, "Apply", subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: Vec<&FieldPath> = entries
        .iter()
        .filter(|e| !e.is(manager, "Apply", subresource))
        .flat_map(|e| e.fields.iter())
        .collect();
    let nobody_else = |path: &[String]| {
        !config_paths.iter().any(|p| overlaps(p, path)) && !others.iter().any(|f| overlaps(f, path))
    };
    // List items the manager no longer applies and nobody else owns go as
    // a whole; then single fields.
    let dropped: Vec<&FieldPath> = previously.difference(&config_paths).collect();
    let mut items: BTreeSet<FieldPath> = BTreeSet::new();
    for path in &dropped {
        for (i, segment) in path.iter().enumerate() {
            if keyed_segment(segment).is_some() && nobody_else(&path[..=i]) {
                items.insert(path[..=i].to_vec());
                break;
            }
        }
    }
    for item in &items {
        remove_path(&mut merged, item);
    }
    for path in dropped {
        let in_removed_item = items.iter().any(|item| path.starts_with(item));
        // A remaining item keeps its key fields.
        let key_of_item = path.len() >= 2
            && keyed_segment(&path[path.len() - 2]).is_some_and(|key| {
                serde_json::from_str::<Value>(key)
                    .ok()
                    .and_then(|k| k.as_object().map(|k| k.contains_key(&path[path.len() - 1])))
                    .unwrap_or(false)
            });
        if !in_removed_item && !key_of_item && nobody_else(path) {
            remove_path(&mut merged, path);
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

    // The manager's entry gets a new time only when the apply changed the
    // object (structured-merge-diff returns no object otherwise); a new
    // entry on an unchanged object has none.
    let changed = strip_managed(&merged) != strip_managed(current);
    match entries
        .iter_mut()
        .find(|e| e.is(manager, "Apply", subresource))
    {
        Some(entry) => {
            entry.fields = config_paths;
            if changed {
                entry.time = now;
            }
            entry.api_version = info.api_version.to_owned();
            entry.read_from = None;
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: info.api_version.to_owned(),
            time: if changed { now } else { String::new() },
            subresource: subresource.map(str::to_owned),
            fields: config_paths,
            nodes: BTreeSet::new(),
            read_from: None,
        }),
    }
    write_entries(&mut merged, entries, Some(current));
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

    /// Versions of a pod-like object that differ in every way a write can
    /// differ: scalars, maps gone empty or replaced by scalars, items of
    /// associative lists added, removed, duplicated or keyed differently
    /// (ports), atomic lists, metadata outside the tracked fields, status.
    fn versions() -> Vec<Value> {
        let base = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "p", "uid": "u", "labels": { "a": "1" },
                "ownerReferences": [{ "uid": "o", "kind": "ReplicaSet", "name": "rs" }] },
            "spec": {
                "containers": [
                    { "name": "web", "image": "i", "ports": [{ "containerPort": 80 }],
                      "args": ["x", "y"], "resources": { "limits": { "cpu": "1" } } },
                    { "name": "side", "image": "j", "env": [{ "name": "E", "value": "1" }] }
                ],
                "volumes": [], "nodeSelector": {}
            },
            "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] }
        });
        let edits: Vec<fn(&mut Value)> = vec![
            |_| {},
            |v| v["spec"]["containers"][0]["image"] = json!("i2"),
            |v| v["metadata"]["labels"] = json!({}),
            |v| v["metadata"]["labels"]["b"] = json!("2"),
            |v| v["metadata"]["annotations"] = json!({ "n": "x" }),
            |v| v["metadata"]["resourceVersion"] = json!("9"),
            |v| {
                v["spec"]["containers"].as_array_mut().unwrap().remove(1);
            },
            |v| {
                v["spec"]["containers"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "name": "web", "image": "dup" }))
            },
            |v| v["spec"]["containers"][0]["ports"] = json!([{ "port": 80 }]),
            |v| {
                v["spec"]["containers"][0]["ports"] =
                    json!([{ "containerPort": 80, "protocol": "TCP" }, { "containerPort": 81 }])
            },
            |v| v["spec"]["containers"][0]["args"] = json!(["y", "x"]),
            |v| v["spec"]["containers"][0]["resources"] = json!({}),
            |v| v["spec"]["containers"][0]["resources"] = json!("none"),
            |v| v["spec"]["volumes"] = json!([{ "name": "data", "emptyDir": {} }]),
            |v| v["spec"]["nodeSelector"] = json!({ "zone": "a" }),
            |v| v["spec"]["containers"] = json!([]),
            |v| v["spec"]["containers"] = json!([{ "image": "no name" }]),
            |v| {
                v.as_object_mut().unwrap().remove("spec");
            },
            |v| v["status"]["conditions"][0]["status"] = json!("False"),
            |v| {
                v["status"]["conditions"] =
                    json!([{ "type": "Ready", "status": "True" }, { "type": "Ready" }])
            },
            |v| {
                v.as_object_mut().unwrap().remove("status");
            },
        ];
        edits
            .into_iter()
            .map(|edit| {
                let mut version = base.clone();
                edit(&mut version);
                version
            })
            .collect()
    }

    #[test]
    fn tracked_changes_are_what_comparing_every_path_finds() {
        // The definition the side-by-side walk must agree with: all tracked
        // leaves of both versions, compared path by path.
        let reference = |old: Option<&Value>, new: &Value, sub: Option<&str>, status: bool| {
            let new_paths = tracked_paths(new, sub, status);
            let old_paths = old
                .map(|o| tracked_paths(o, sub, status))
                .unwrap_or_default();
            let removed: BTreeSet<FieldPath> = old_paths.difference(&new_paths).cloned().collect();
            let changed: BTreeSet<FieldPath> = new_paths
                .into_iter()
                .filter(|p| old.and_then(|o| value_at(o, p)) != value_at(new, p))
                .collect();
            (changed, removed)
        };
        let versions = versions();
        let mut compared = 0;
        for sub in [None, Some("status")] {
            for status in [true, false] {
                for new in &versions {
                    let olds = versions.iter().map(Some).chain([None]);
                    for old in olds {
                        let Changes { changed, removed } = tracked_changes(old, new, sub, status);
                        assert_eq!(
                            (changed, removed),
                            reference(old, new, sub, status),
                            "from {old:?} to {new:?} ({sub:?}, status tracked apart: {status})"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 4 * versions.len() * (versions.len() + 1));
    }

    #[test]
    fn a_create_owns_what_rendering_every_tracked_path_gives() {
        let mut versions = versions();
        versions.push(json!({ "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "c", "annotations": { "x": "y" } }, "data": { "k": "v" } }));
        versions
            .push(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "c" } }));
        for status in [true, false] {
            let mut info = deployments();
            info.has_status = status;
            for version in &versions {
                let mut created = version.clone();
                record_update(None, &mut created, "m", None, &info);
                let paths = tracked_paths(version, None, status);
                let nodes = created_nodes(None, version, None);
                let fields = created.pointer("/metadata/managedFields/0/fieldsV1");
                if paths.is_empty() {
                    assert_eq!(fields, None, "{version}");
                } else {
                    assert_eq!(fields, Some(&fields_v1(&paths, &nodes)), "{version}");
                }
            }
        }
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
        // The wording of kube-apiserver 1.37 for the same conflict.
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"one\": .spec.replicas"
        );
        assert_eq!(
            err.details,
            Some(json!({"causes": [{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"one\"",
                "field": ".spec.replicas",
            }]}))
        );
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
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn an_update_copies_the_entries_it_leaves_alone_and_renders_the_others() {
        let info = deployments();
        let mut first = apply(None, &config(1, json!({})), "one", false, None, &info).unwrap();
        // A mark rendering would not write: seen again only if copied.
        first["metadata"]["managedFields"][0]["mark"] = json!("as read");
        let mut labelled = first.clone();
        labelled["metadata"]["annotations"] = json!({"note": "kept"});
        record_update(Some(&first), &mut labelled, "kubectl-annotate", None, &info);
        let entries = labelled["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries[0], first["metadata"]["managedFields"][0]);
        // Taking a field from the apply entry renders it again.
        let mut scaled = labelled.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&labelled), &mut scaled, "kubectl", None, &info);
        let entries = scaled["metadata"]["managedFields"].as_array().unwrap();
        assert!(entries[0].get("mark").is_none());
        assert_eq!(entries[1], labelled["metadata"]["managedFields"][1]);
    }

    #[test]
    fn an_update_that_creates_a_map_owns_it_and_an_unchanging_apply_records_no_time() {
        let info = deployments();
        let first = apply(None, &config(1, json!({})), "one", false, None, &info).unwrap();
        let mut labelled = first.clone();
        labelled["metadata"]["labels"] = json!({"tier": "web"});
        record_update(Some(&first), &mut labelled, "kubectl-label", None, &info);
        let entries = labelled["metadata"]["managedFields"].as_array().unwrap();
        let update = entries.iter().find(|e| e["operation"] == "Update").unwrap();
        assert_eq!(
            update["fieldsV1"],
            json!({"f:metadata": {"f:labels": {".": {}, "f:tier": {}}}})
        );
        // The node survives reading back, and another key does not take it.
        let mut more = labelled.clone();
        more["metadata"]["labels"]["env"] = json!("prod");
        record_update(Some(&labelled), &mut more, "kubectl-label", None, &info);
        let entries = more["metadata"]["managedFields"].as_array().unwrap();
        let update = entries.iter().find(|e| e["operation"] == "Update").unwrap();
        assert_eq!(
            update["fieldsV1"],
            json!({"f:metadata": {"f:labels": {".": {}, "f:env": {}, "f:tier": {}}}})
        );

        // A second manager applying what is already there changes nothing:
        // its entry has no time.
        let same = apply(
            Some(&first),
            &config(1, json!({})),
            "two",
            false,
            None,
            &info,
        )
        .unwrap();
        let entries = same["metadata"]["managedFields"].as_array().unwrap();
        let two = entries.iter().find(|e| e["manager"] == "two").unwrap();
        assert!(two.get("time").is_none(), "{two}");
    }

    fn deployment_with(image: &str, containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web" },
            "spec": { "template": { "spec": { "containers": containers } } },
            "x": image,
        })
    }

    #[test]
    fn conflicts_inside_associative_lists_name_the_item_like_the_apiserver() {
        let info = deployments();
        let mut created = deployment_with("", json!([{ "name": "nginx", "image": "nginx" }]));
        record_update(None, &mut created, "kubectl-create", None, &info);
        assert!(
            created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
                ["f:containers"]["k:{\"name\":\"nginx\"}"]["."]
                .is_object()
        );
        let err = apply(
            Some(&created),
            &deployment_with("", json!([{ "name": "nginx", "image": "nginx:2" }])),
            "two",
            false,
            None,
            &info,
        )
        .unwrap_err();
        // kube-apiserver 1.37's words for the same conflict.
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using apps/v1: .spec.template.spec.containers[name=\"nginx\"].image"
        );
    }

    #[test]
    fn managers_own_their_own_list_items_and_drop_only_theirs() {
        let info = deployments();
        let one = apply(
            None,
            &deployment_with("", json!([{ "name": "web", "image": "web:1" }])),
            "one",
            false,
            None,
            &info,
        )
        .unwrap();
        // A second manager adds a sidecar: no conflict, both stay.
        let both = apply(
            Some(&one),
            &deployment_with("", json!([{ "name": "sidecar", "image": "proxy:1" }])),
            "two",
            false,
            None,
            &info,
        )
        .unwrap();
        let names = |obj: &Value| -> Vec<String> {
            obj["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names(&both), ["web", "sidecar"]);
        // The first manager changes its image and keeps the sidecar.
        let updated = apply(
            Some(&both),
            &deployment_with("", json!([{ "name": "web", "image": "web:2" }])),
            "one",
            false,
            None,
            &info,
        )
        .unwrap();
        assert_eq!(names(&updated), ["web", "sidecar"]);
        assert_eq!(
            updated["spec"]["template"]["spec"]["containers"][0]["image"],
            "web:2"
        );
        // The second manager stops applying its sidecar: it goes.
        let dropped = apply(
            Some(&updated),
            &deployment_with("", json!([])),
            "two",
            false,
            None,
            &info,
        )
        .unwrap();
        assert_eq!(names(&dropped), ["web"]);
    }
}
