//! The object store: one global monotonic resourceVersion (like etcd's
//! revision), objects in a `BTreeMap` per resource keyed by (namespace, name),
//! and a capped history of changes from which watches resume.
//!
//! Objects are held as their compact JSON text (`Bytes`), not as parsed
//! `serde_json::Value`s: a `Value` tree of a typical object takes ten times
//! its text, and lists and watches send the text as it is. Reads parse on
//! demand.
//!
//! All state sits behind one mutex held only for short, non-async sections;
//! every change is published to watchers (a broadcast channel) and to the
//! simulated controllers (an unbounded channel, so they never miss work).

mod admit;
mod defaults;
mod recent;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

pub(crate) use write::{DeleteOpts, DeleteOutcome, PatchKind, WriteCtx};

use crate::meta;
use crate::registry::{Registry, ResId, ResourceInfo};
use crate::selector::Filter;
use crate::status::ApiError;

/// `(namespace, name)`; the namespace is `""` for cluster-scoped objects.
/// Ordered by namespace first so that one namespace is a contiguous range.
pub(crate) type Key = (String, String);

/// What happened to an object, as named in a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub(crate) struct Record {
    pub rv: u64,
    pub res: ResId,
    pub kind: EventType,
    /// The object's namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// The object after the change (for deletes: its last state, at `rv`), as JSON.
    pub object: Bytes,
    /// The object before a modification; lets filtered watches turn a change
    /// into or out of their selection into ADDED/DELETED, as the apiserver does.
    pub old: Option<Bytes>,
    /// For a modification, the field manager that wrote it: a simulated
    /// controller's own writes need no reaction from that controller.
    pub updated_by: Option<Box<str>>,
}

/// A committed change as the simulated controllers receive it: its record
/// and the object it holds, as the committer had it in hand (parsing the
/// record's JSON again for every change was ~4 % of the simulator's CPU
/// in a burst of provisions).
pub(crate) struct Committed {
    pub record: Arc<Record>,
    pub object: Arc<Value>,
}

/// Parses stored JSON. Stored text was serialised from a `Value`, so this
/// cannot fail short of memory corruption; `Null` keeps callers total.
pub(crate) fn parse(json: &[u8]) -> Value {
    serde_json::from_slice(json).unwrap_or(Value::Null)
}

struct State {
    rv: u64,
    objects: Vec<BTreeMap<Key, Bytes>>,
    history: VecDeque<Arc<Record>>,
    /// Every change with a resourceVersion above this is still in `history`.
    floor: u64,
    /// "etcd"'s compaction revision: what uncached watches may start from
    /// (see [`crate::SimConfig::compaction_interval`]).
    compacted: u64,
    next_cluster_ip: u32,
    next_node_port: u32,
    /// What was committed lately, as parsed then (see [`recent`]).
    recent: recent::Recent,
}

/// Whether a namespace can take new objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamespacePhase {
    Missing,
    Active,
    Terminating,
}

/// A page of a list.
#[derive(Debug)]
pub(crate) struct ListPage {
    /// The items' JSON.
    pub items: Vec<Bytes>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: usize,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WatchStart {
    /// Synthetic ADDED events for the current state, then changes.
    Now,
    /// Changes after this resourceVersion.
    After(u64),
}

/// What a new watch receives: the events to replay and the live feed.
pub(crate) struct WatchFeed {
    pub replay: Vec<Arc<Record>>,
    pub live: broadcast::Receiver<Arc<Record>>,
    pub resource_version: u64,
}

/// Resources the store itself looks at (admission, namespaces, quota).
#[derive(Debug, Clone, Copy)]
struct Ids {
    pods: ResId,
    limit_ranges: ResId,
    quotas: ResId,
    service_accounts: ResId,
    priority_classes: ResId,
}

pub(crate) struct Store {
    state: Mutex<State>,
    registry: Arc<Registry>,
    watchers: broadcast::Sender<Arc<Record>>,
    controllers: mpsc::UnboundedSender<Committed>,
    history_cap: usize,
    namespaces: ResId,
    ids: Ids,
}

impl Store {
    /// A store with no objects. Changes are also sent to `controllers`.
    pub fn new(
        registry: Arc<Registry>,
        history_cap: usize,
        controllers: mpsc::UnboundedSender<Committed>,
    ) -> Self {
        let history_cap = history_cap.max(1);
        let namespaces = registry.lookup("", "v1", "namespaces").unwrap_or_default();
        let id = |plural| registry.lookup("", "v1", plural).unwrap_or_default();
        let ids = Ids {
            pods: id("pods"),
            limit_ranges: id("limitranges"),
            quotas: id("resourcequotas"),
            service_accounts: id("serviceaccounts"),
            priority_classes: registry
                .lookup("scheduling.k8s.io", "v1", "priorityclasses")
                .unwrap_or_default(),
        };
        let (watchers, _) = broadcast::channel(history_cap.clamp(1024, 65_536));
        let objects = (0..registry.len()).map(|_| BTreeMap::new()).collect();
        let recent = recent::Recent::new(registry.len());
        Self {
            state: Mutex::new(State {
                rv: 0,
                objects,
                history: VecDeque::new(),
                floor: 0,
                compacted: 0,
                next_cluster_ip: 10,
                next_node_port: 30_000,
                recent,
            }),
            registry,
            watchers,
            controllers,
            history_cap,
            namespaces,
            ids,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn info(&self, res: ResId) -> &ResourceInfo {
        self.registry.get(res)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (each
        // mutation is a single insert or remove), so poisoning is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, res: ResId, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let st = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        st.objects[res]
            .get(&key)
            .map(|json| st.recent.parsed(res, &key, json))
            .ok_or_else(|| ApiError::not_found(self.info(res), name))
    }

    fn phase_of(st: &State, namespaces: ResId, namespace: &str) -> NamespacePhase {
        match st.objects[namespaces].get(&(String::new(), namespace.to_owned())) {
            None => NamespacePhase::Missing,
            Some(ns) if meta::is_deleting(&parse(ns)) => NamespacePhase::Terminating,
            Some(_) => NamespacePhase::Active,
        }
    }

    /// Objects of `res`, in one namespace or all, matching `filter`, a page
    /// at a time. [`ListPage::remaining`] counts what is left only without
    /// a filter; with one it is 1 when more match, else 0.
    pub fn list(
        &self,
        res: ResId,
        namespace: Option<&str>,
        filter: &Filter,
        limit: Option<usize>,
        continue_after: Option<&Key>,
    ) -> ListPage {
        let st = self.lock();
        let map = &st.objects[res];
        let mut items = Vec::new();
        let mut last_key = None;
        let mut remaining = 0;
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let filtered = !filter.is_empty();
        let range: Box<dyn Iterator<Item = (&Key, &Bytes)>> = match (namespace, continue_after) {
            (_, Some(after)) => Box::new(
                map.range::<Key, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            ),
            (Some(ns), None) => Box::new(map.range::<Key, _>((ns.to_owned(), String::new())..)),
            (None, None) => Box::new(map.iter()),
        };
        for (key, obj) in range {
            if let Some(ns) = namespace
                && key.0 != ns
            {
                break;
            }
            if let Some(name) = filter.fields.required_name()
                && key.1 != name
            {
                continue;
            }
            if items.len() < limit {
                if filtered && !filter.matches(&parse(obj)) {
                    continue;
                }
                items.push(obj.clone());
                last_key = Some(key.clone());
            } else if !filtered {
                // Keys only: counting what is left parses nothing.
                remaining += 1;
            } else if filter.matches(&parse(obj)) {
                // With a selector the count is never reported (as the
                // apiserver's), only whether there is more: the first
                // match after the page says so. Counting every match
                // parsed the rest of the kind on each page, so a paged
                // list of n objects parsed n²/limit of them: 26 s to
                // re-list a watch of 10,000 stores' objects.
                remaining = 1;
                break;
            }
        }
        let continue_token = (remaining > 0)
            .then(|| last_key.map(|k| encode_continue(&k)))
            .flatten();
        ListPage {
            items,
            resource_version: st.rv,
            continue_token,
            remaining,
        }
    }

    /// Every object of `res` in `namespace` (all namespaces when `None`).
    pub fn all(&self, res: ResId, namespace: Option<&str>) -> Vec<Arc<Value>> {
        self.list(res, namespace, &Filter::default(), None, None)
            .items
            .iter()
            .map(|json| Arc::new(parse(json)))
            .collect()
    }

    /// The objects of `res` in `namespace` whose stored JSON contains
    /// `needle`: a cheap text filter before parsing, for controllers that
    /// look for the few objects that mention a name or a label.
    pub fn all_containing(&self, res: ResId, namespace: &str, needle: &str) -> Vec<Arc<Value>> {
        let st = self.lock();
        st.objects[res]
            .range::<Key, _>((namespace.to_owned(), String::new())..)
            .take_while(|(k, _)| k.0 == namespace)
            .filter(|(_, json)| write::contains(json, needle.as_bytes()))
            .map(|(key, json)| st.recent.parsed(res, key, json))
            .collect()
    }

    /// Opens a watch: returns the events to replay and a live receiver, taken
    /// atomically so nothing falls between them.
    pub fn watch(
        &self,
        res: ResId,
        namespace: Option<&str>,
        start: WatchStart,
    ) -> Result<WatchFeed, ApiError> {
        let st = self.lock();
        let live = self.watchers.subscribe();
        let replay = match start {
            WatchStart::Now => {
                let map = &st.objects[res];
                let iter: Box<dyn Iterator<Item = (&Key, &Bytes)>> = match namespace {
                    Some(ns) => Box::new(
                        map.range::<Key, _>((ns.to_owned(), String::new())..)
                            .take_while(move |(k, _)| k.0 == ns),
                    ),
                    None => Box::new(map.iter()),
                };
                iter.map(|(key, obj)| {
                    Arc::new(Record {
                        // Synthetic: replayed state, not a change.
                        rv: 0,
                        res,
                        kind: EventType::Added,
                        namespace: key.0.clone(),
                        object: obj.clone(),
                        old: None,
                        updated_by: None,
                    })
                })
                .collect()
            }
            WatchStart::After(rv) => {
                if !self.info(res).watch_cached() {
                    // Served from etcd, which watches from `rv + 1` and
                    // refuses a start below its compaction revision.
                    if rv.saturating_add(1) < st.compacted || rv < st.floor {
                        return Err(ApiError::gone(
                            "The resourceVersion for the provided watch is too old.",
                        ));
                    }
                } else if rv < st.floor {
                    // The watch cache's words: the oldest version it can
                    // resume from is the one before its oldest event.
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        st.floor
                    )));
                }
                let first = st.history.partition_point(|r| r.rv <= rv);
                st.history
                    .range(first..)
                    .filter(|r| r.res == res)
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchFeed {
            replay,
            live,
            resource_version: st.rv,
        })
    }

    /// Compacts "etcd" up to `rv` (never backwards).
    pub fn compact(&self, rv: u64) {
        let mut st = self.lock();
        st.compacted = st.compacted.max(rv);
    }

    /// Commits one change: assigns the next resourceVersion, stores or removes
    /// the object, appends to the history and tells watchers and controllers.
    /// Returns the object as committed.
    fn commit(&self, st: &mut State, res: ResId, kind: EventType, object: Value) -> Arc<Value> {
        self.commit_by(st, res, kind, object, None)
    }

    /// [`Self::commit`] of an update by the field manager `updated_by`.
    fn commit_by(
        &self,
        st: &mut State,
        res: ResId,
        kind: EventType,
        mut object: Value,
        updated_by: Option<&str>,
    ) -> Arc<Value> {
        drop_empty_metadata(&mut object);
        st.rv += 1;
        let rv = st.rv;
        meta::metadata_mut(&mut object)
            .insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
        let key = (
            meta::namespace(&object).unwrap_or("").to_owned(),
            meta::name(&object).unwrap_or("").to_owned(),
        );
        let mut text = serde_json::to_vec(&object).unwrap_or_default();
        text.shrink_to_fit();
        let json = Bytes::from(text);
        let old = match kind {
            EventType::Deleted => {
                st.objects[res].remove(&key);
                st.recent.forget(res, &key);
                None
            }
            EventType::Added | EventType::Modified => {
                st.objects[res].insert(key.clone(), json.clone())
            }
        };

        let record = Arc::new(Record {
            rv,
            res,
            kind,
            namespace: key.0.clone(),
            object: json.clone(),
            old: if kind == EventType::Modified {
                old.clone()
            } else {
                None
            },
            updated_by: updated_by.map(Box::from),
        });
        st.history.push_back(Arc::clone(&record));
        while st.history.len() > self.history_cap {
            if let Some(dropped) = st.history.pop_front() {
                st.floor = dropped.rv;
            }
        }
        // No receivers is normal (nobody watching); a closed controller
        // channel only happens while the cluster shuts down.
        let _ = self.watchers.send(Arc::clone(&record));
        if !key.0.is_empty() {
            self.account(st, res, &key, kind, old.as_ref(), &object);
        }
        let object = Arc::new(object);
        if kind != EventType::Deleted {
            st.recent
                .remember(res, &key, &json, &object, res == self.ids.quotas);
        }
        let _ = self.controllers.send(Committed {
            record,
            object: Arc::clone(&object),
        });
        object
    }
}

/// Drops empty metadata maps and lists, as the apiserver's Go types do
/// (`omitempty`): a patch removing the last label leaves no `labels: {}`.
fn drop_empty_metadata(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "labels",
            "annotations",
            "finalizers",
            "ownerReferences",
            "managedFields",
        ] {
            let empty = match metadata.get(field) {
                Some(Value::Object(map)) => map.is_empty(),
                Some(Value::Array(list)) => list.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                metadata.remove(field);
            }
        }
    }
}

/// Continue tokens are opaque to clients; ours is the last key, hex-encoded
/// so it survives any query-string handling.
pub(crate) fn encode_continue(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn decode_continue(token: &str) -> Result<Key, ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or(""), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_owned(), name.to_owned()))
}
