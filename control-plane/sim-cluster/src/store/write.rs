//! Writes: create, update (PUT), patch (merge, strategic, JSON, apply) and
//! delete, with Kubernetes' metadata rules.

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{EventType, State, Store, defaults};
use crate::apply;
use crate::meta;
use crate::patch;
use crate::registry::{ResId, ResourceInfo};
use crate::status::ApiError;
use crate::types;

/// Who writes and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteCtx<'a> {
    /// The field manager recorded in managedFields.
    pub manager: &'a str,
    /// Validate and compute, but persist nothing (`dryRun=All`).
    pub dry_run: bool,
    /// Where admission warnings go (the API layer turns them into
    /// `Warning` headers); `None` drops them, as controllers do.
    pub warnings: Option<&'a RefCell<Vec<String>>>,
}

impl<'a> WriteCtx<'a> {
    pub fn new(manager: &'a str) -> Self {
        Self {
            manager,
            dry_run: false,
            warnings: None,
        }
    }

    fn warn(&self, new: Vec<String>) {
        if let Some(sink) = self.warnings {
            let mut sink = sink.borrow_mut();
            for warning in new {
                // The apiserver sends each distinct warning once.
                if !sink.contains(&warning) {
                    sink.push(warning);
                }
            }
        }
    }
}

/// The patch formats the server accepts, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply { force: bool },
}

/// What a delete did.
#[derive(Debug)]
pub(crate) enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Deleted(Arc<Value>),
    /// The object is marked for deletion and waits for its finalizers.
    Pending(Arc<Value>),
}

/// Preconditions and options of a delete.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOpts {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
    /// `propagationPolicy=Orphan`: leave dependents alone.
    pub orphan: bool,
}

/// How managedFields are maintained for a write.
#[derive(Debug, Clone, Copy)]
enum Managed<'a> {
    /// A create/update/patch: the manager takes ownership of what it changed.
    Record(&'a str),
    /// Server-side apply already computed them.
    Preset,
}

/// Metadata a client cannot change after creation.
const IMMUTABLE_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "generateName",
];

impl Store {
    /// Creates an object (POST).
    pub fn create(
        &self,
        res: ResId,
        namespace: Option<&str>,
        mut body: Value,
        ctx: WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        check_type(info, &mut body)?;
        decode_quantities(info, &mut body)?;
        let mut st = self.lock();
        self.create_locked(
            &mut st,
            res,
            namespace,
            body,
            ctx,
            Managed::Record(ctx.manager),
        )
    }

    fn create_locked(
        &self,
        st: &mut State,
        res: ResId,
        namespace: Option<&str>,
        mut obj: Value,
        ctx: WriteCtx<'_>,
        managed: Managed<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        check_type(info, &mut obj)?;
        let metadata = meta::metadata_mut(&mut obj);
        if info.namespaced {
            let Some(ns) = namespace.filter(|ns| !ns.is_empty()) else {
                return Err(ApiError::bad_request(
                    "the server could not find the requested resource: a namespace is required",
                ));
            };
            match metadata.get("namespace").and_then(Value::as_str) {
                Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    metadata.insert("namespace".to_owned(), json!(ns));
                }
            }
        } else {
            metadata.remove("namespace");
        }
        let has_name = metadata
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        // Mutating admission runs before the name is generated, so its
        // refusals name the `generateName` prefix.
        let display_name = if has_name {
            meta::name(&obj).unwrap_or("").to_owned()
        } else {
            metadata
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if info.namespaced {
            let ns = meta::namespace(&obj).unwrap_or("").to_owned();
            self.admit_namespace(st, info, &ns, &display_name)?;
        }
        let metadata = meta::metadata_mut(&mut obj);
        if !has_name && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str) {
            let name = format!("{prefix}{}", meta::random_suffix(5));
            metadata.insert("name".to_owned(), json!(name));
        }
        let name = meta::name(&obj).unwrap_or("").to_owned();
        validate_name(info, &name)?;

        let metadata = meta::metadata_mut(&mut obj);
        for stale in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            metadata.remove(stale);
        }
        metadata.insert("uid".to_owned(), json!(meta::new_uid()));
        metadata.insert("creationTimestamp".to_owned(), json!(meta::now()));
        if info.tracks_generation() {
            metadata.insert("generation".to_owned(), json!(1));
        } else {
            metadata.remove("generation");
        }
        if let Managed::Record(_) = managed {
            metadata.remove("managedFields");
        }
        // The writer owns what it sent and the scheme's defaults, not what
        // the registry and admission add.
        if let Managed::Record(_) = managed {
            defaults::on_decode(info, &mut obj);
        }
        let sent = match managed {
            Managed::Record(_) => Some(obj.clone()),
            Managed::Preset => None,
        };
        defaults::on_create(info, &mut obj, st);
        self.mutate_new(st, info, &mut obj, &display_name)?;
        types::encode::go_json(&mut obj);
        let mut warnings = Vec::new();
        self.validate_new(st, info, &obj, &mut warnings)?;
        let key = (meta::namespace(&obj).unwrap_or("").to_owned(), name.clone());
        if st.objects[res].contains_key(&key) {
            return Err(ApiError::already_exists(info, &name));
        }
        if res == self.ids.quotas {
            // The resourcequota controller fills in the status at once.
            let status = self.quota_status(st, &obj, Some((res, &obj)));
            obj["status"] = status;
        }
        ctx.warn(warnings);
        if let (Managed::Record(manager), Some(mut sent)) = (managed, sent) {
            apply::record_update(None, &mut sent, manager, None, info);
            if let Some(fields) = sent.pointer("/metadata/managedFields").cloned() {
                meta::metadata_mut(&mut obj).insert("managedFields".to_owned(), fields);
            }
        }
        if ctx.dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(st, res, EventType::Added, obj))
    }

    /// Replaces an object (PUT), or its status with `subresource = Some("status")`.
    pub fn update(
        &self,
        res: ResId,
        namespace: &str,
        name: &str,
        mut body: Value,
        subresource: Option<&str>,
        ctx: WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        check_type(info, &mut body)?;
        decode_quantities(info, &mut body)?;
        if let Some(body_name) = meta::name(&body)
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut st = self.lock();
        let current = self.current(&st, res, namespace, name)?;
        check_resource_version(info, &current, &body)?;
        self.finish_update(
            &mut st,
            res,
            &current,
            body,
            subresource,
            ctx,
            Managed::Record(ctx.manager),
        )
    }

    /// Patches an object. Apply patches create the object when it is absent.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        res: ResId,
        namespace: &str,
        name: &str,
        kind: PatchKind,
        body: &Value,
        subresource: Option<&str>,
        ctx: WriteCtx<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        let mut st = self.lock();
        let key = (
            if info.namespaced { namespace } else { "" }.to_owned(),
            name.to_owned(),
        );
        let current = st.objects[res]
            .get(&key)
            .map(|json| st.recent.parsed(res, &key, json));
        if let PatchKind::Apply { force } = kind {
            let mut config = body.clone();
            check_type(info, &mut config)?;
            match meta::name(&config) {
                Some(n) if n == name => {}
                Some(n) => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    )));
                }
                None => {
                    meta::metadata_mut(&mut config).insert("name".to_owned(), json!(name));
                }
            }
            let mut merged = apply::apply(
                current.as_deref(),
                &config,
                ctx.manager,
                force,
                subresource,
                info,
            )?;
            if types::quantities::canonicalize(&mut merged).is_err() {
                return Err(ApiError::unconvertible_apply(
                    info,
                    meta::namespace(&config).unwrap_or(""),
                    name,
                    types::quantities::FORMAT_WRONG,
                ));
            }
            return match current {
                None if subresource.is_some() => Err(ApiError::not_found(info, name)),
                None => {
                    self.create_locked(&mut st, res, Some(namespace), merged, ctx, Managed::Preset)
                }
                Some(current) => self.finish_update(
                    &mut st,
                    res,
                    &current,
                    merged,
                    subresource,
                    ctx,
                    Managed::Preset,
                ),
            };
        }
        let current = current.ok_or_else(|| ApiError::not_found(info, name))?;
        let mut patched = (*current).clone();
        match kind {
            PatchKind::Merge => patch::merge_patch(&mut patched, body),
            PatchKind::Strategic => patch::strategic_merge_patch(&mut patched, body)?,
            PatchKind::Json => patch::json_patch(&mut patched, body)?,
            PatchKind::Apply { .. } => {}
        }
        if kind != PatchKind::Json {
            check_resource_version(info, &current, body)?;
        }
        if types::quantities::canonicalize(&mut patched).is_err() {
            // The apiserver quotes the patched object as its Go type prints
            // it; this is the simulator's text of it (see the README).
            return Err(ApiError::invalid_patch(format!(
                "\"\" is invalid: patch: Invalid value: {:?}: {}",
                patched.to_string(),
                types::quantities::FORMAT_WRONG
            )));
        }
        self.finish_update(
            &mut st,
            res,
            &current,
            patched,
            subresource,
            ctx,
            Managed::Record(ctx.manager),
        )
    }

    /// Reads, changes and writes an object atomically; `change` returns `None`
    /// to leave it alone. Used by the simulated controllers.
    pub fn modify(
        &self,
        res: ResId,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        ctx: WriteCtx<'_>,
        change: impl FnOnce(&Value) -> Option<Value>,
    ) -> Result<Option<Arc<Value>>, ApiError> {
        let mut st = self.lock();
        let current = self.current(&st, res, namespace, name)?;
        let Some(new) = change(&current) else {
            return Ok(None);
        };
        self.finish_update(
            &mut st,
            res,
            &current,
            new,
            subresource,
            ctx,
            Managed::Record(ctx.manager),
        )
        .map(Some)
    }

    fn current(
        &self,
        st: &State,
        res: ResId,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        let ns = if info.namespaced { namespace } else { "" };
        let key = (ns.to_owned(), name.to_owned());
        st.objects[res]
            .get(&key)
            .map(|json| st.recent.parsed(res, &key, json))
            .ok_or_else(|| ApiError::not_found(info, name))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &self,
        st: &mut State,
        res: ResId,
        current: &Arc<Value>,
        new: Value,
        subresource: Option<&str>,
        ctx: WriteCtx<'_>,
        managed: Managed<'_>,
    ) -> Result<Arc<Value>, ApiError> {
        let info = self.info(res);
        let mut new = match subresource {
            Some("status") => {
                let mut merged = (**current).clone();
                set_or_remove(&mut merged, "status", new.get("status").cloned());
                if let Managed::Preset = managed {
                    let fields = new.pointer("/metadata/managedFields").cloned();
                    set_or_remove_meta(&mut merged, "managedFields", fields);
                }
                merged
            }
            Some("finalize") => {
                let mut merged = (**current).clone();
                let finalizers = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(json!([]));
                meta::object_mut(&mut merged, "spec").insert("finalizers".to_owned(), finalizers);
                merged
            }
            Some("binding") => {
                // The scheduler's binding (used by the simulated one only:
                // `pods/binding` is not served): the node, and the labels
                // PodTopologyLabels adds with it.
                let mut merged = (**current).clone();
                let node = new
                    .pointer("/spec/nodeName")
                    .cloned()
                    .unwrap_or(Value::Null);
                meta::object_mut(&mut merged, "spec").insert("nodeName".to_owned(), node);
                let labels = new.pointer("/metadata/labels").cloned();
                set_or_remove_meta(&mut merged, "labels", labels);
                merged
            }
            Some(_) => return Err(ApiError::resource_not_found()),
            None => {
                let mut new = new;
                if info.has_status {
                    set_or_remove(&mut new, "status", current.get("status").cloned());
                }
                new
            }
        };
        for key in IMMUTABLE_METADATA {
            let value = current.get("metadata").and_then(|m| m.get(*key)).cloned();
            set_or_remove_meta(&mut new, key, value);
        }
        if let Value::Object(map) = &mut new {
            map.insert("apiVersion".to_owned(), json!(info.api_version));
            map.insert("kind".to_owned(), json!(info.kind));
        }
        if meta::is_deleting(current) {
            let before = meta::finalizers(current);
            if meta::finalizers(&new).iter().any(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    &kind_name(info),
                    meta::name(current).unwrap_or(""),
                    &[(
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted"
                            .to_owned(),
                    )],
                ));
            }
        }
        defaults::on_update(info, current, &mut new, subresource);
        if subresource.is_none() {
            let mut warnings = Vec::new();
            self.validate_update(st, info, current, &new, &mut warnings)?;
            ctx.warn(warnings);
            if res == self.ids.quotas {
                new["status"] = self.quota_status(st, &new, None);
            }
        }
        if let Managed::Record(manager) = managed {
            apply::record_update(Some(current), &mut new, manager, subresource, info);
        }
        set_or_remove_meta(
            &mut new,
            "resourceVersion",
            current.pointer("/metadata/resourceVersion").cloned(),
        );
        types::encode::go_json(&mut new);
        if same_ignoring_managed_times(current, &new) {
            return Ok(Arc::clone(current));
        }
        if info.tracks_generation() && subresource != Some("binding") && spec_changed(current, &new)
        {
            let generation = meta::generation(current) + 1;
            meta::metadata_mut(&mut new).insert("generation".to_owned(), json!(generation));
        }
        if meta::is_deleting(&new) && finalizers_done(info, &new) {
            if ctx.dry_run {
                return Ok(Arc::new(new));
            }
            return Ok(self.remove_locked(st, res, new, true));
        }
        if ctx.dry_run {
            return Ok(Arc::new(new));
        }
        Ok(self.commit_by(st, res, EventType::Modified, new, Some(ctx.manager)))
    }

    /// Deletes an object, honouring finalizers; namespaces go `Terminating`.
    pub fn delete(
        &self,
        res: ResId,
        namespace: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<DeleteOutcome, ApiError> {
        let mut st = self.lock();
        let current = self.current(&st, res, namespace, name)?;
        let info = self.info(res);
        self.admit_delete(info, name)?;
        // The namespace registry checks preconditions in storage's words;
        // every other resource in `rest.BeforeDelete`'s, naming the kind.
        let generic = res != self.namespaces;
        if let Some(uid) = &opts.uid
            && uid != meta::uid(&current)
        {
            let actual = meta::uid(&current);
            return Err(if generic {
                ApiError::delete_precondition_failed(
                    info,
                    name,
                    &format!(
                        "the UID in the precondition ({uid}) does not match the UID in record \
                         ({actual}). The object might have been deleted and then recreated"
                    ),
                )
            } else {
                ApiError::precondition_failed(
                    info,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    ),
                )
            });
        }
        if let Some(rv) = &opts.resource_version {
            let actual = current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            if rv != actual {
                return Err(if generic {
                    ApiError::delete_precondition_failed(
                        info,
                        name,
                        &format!(
                            "the ResourceVersion in the precondition ({rv}) does not match the \
                             ResourceVersion in record ({actual}). The object might have been modified"
                        ),
                    )
                } else {
                    ApiError::precondition_failed(
                        info,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                        ),
                    )
                });
            }
        }
        if opts.dry_run {
            return Ok(DeleteOutcome::Deleted(current));
        }
        Ok(self.delete_locked(&mut st, res, current, !opts.orphan))
    }

    /// Deletes every object of `res` in `namespace` that matches `filter`.
    pub fn delete_collection(
        &self,
        res: ResId,
        namespace: Option<&str>,
        filter: &crate::selector::Filter,
        opts: &DeleteOpts,
    ) -> Vec<Arc<Value>> {
        let targets = self.list(res, namespace, filter, None, None).items;
        let mut deleted = Vec::new();
        for json in targets {
            let obj = super::parse(&json);
            let ns = meta::namespace(&obj).unwrap_or("");
            let name = meta::name(&obj).unwrap_or("");
            if let Ok(outcome) = self.delete(res, ns, name, opts) {
                match outcome {
                    DeleteOutcome::Deleted(o) | DeleteOutcome::Pending(o) => deleted.push(o),
                }
            }
        }
        deleted
    }

    fn delete_locked(
        &self,
        st: &mut State,
        res: ResId,
        current: Arc<Value>,
        cascade: bool,
    ) -> DeleteOutcome {
        let info = self.info(res);
        let needs_wait = !meta::finalizers(&current).is_empty() || res == self.namespaces;
        if !needs_wait {
            return DeleteOutcome::Deleted(self.remove_locked(
                st,
                res,
                (*current).clone(),
                cascade,
            ));
        }
        if meta::is_deleting(&current) {
            return DeleteOutcome::Pending(current);
        }
        let mut marked = (*current).clone();
        let generation = meta::generation(&current);
        let metadata = meta::metadata_mut(&mut marked);
        metadata.insert("deletionTimestamp".to_owned(), json!(meta::now()));
        // The namespace registry only stamps the time; the generic one
        // (`markAsDeleting`) also sets a zero grace period and bumps a
        // generation the resource keeps.
        if res != self.namespaces {
            metadata.insert("deletionGracePeriodSeconds".to_owned(), json!(0));
            if generation > 0 {
                metadata.insert("generation".to_owned(), json!(generation + 1));
            }
        }
        if res == self.namespaces {
            meta::object_mut(&mut marked, "status")
                .insert("phase".to_owned(), json!("Terminating"));
        }
        let _ = info;
        DeleteOutcome::Pending(self.commit(st, res, EventType::Modified, marked))
    }

    /// Removes an object for good and, unless orphaning, deletes its
    /// dependents (objects whose ownerReferences name it) in its namespace.
    fn remove_locked(&self, st: &mut State, res: ResId, obj: Value, cascade: bool) -> Arc<Value> {
        let uid = meta::uid(&obj).to_owned();
        let namespace = meta::namespace(&obj).map(str::to_owned);
        let removed = self.commit(st, res, EventType::Deleted, obj);
        let Some(namespace) = namespace.filter(|_| cascade && !uid.is_empty()) else {
            return removed;
        };
        let mut dependents = Vec::new();
        for (dep_res, info) in self.registry.iter() {
            if !info.namespaced {
                continue;
            }
            let range =
                st.objects[dep_res].range::<super::Key, _>((namespace.clone(), String::new())..);
            for (key, json) in range {
                if key.0 != namespace {
                    break;
                }
                // Cheap text check first: most objects do not mention the uid.
                if !contains(json, uid.as_bytes()) {
                    continue;
                }
                let candidate = Arc::new(super::parse(json));
                let owned = candidate
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(&uid))
                    });
                if owned {
                    dependents.push((dep_res, candidate));
                }
            }
        }
        for (dep_res, dependent) in dependents {
            self.delete_locked(st, dep_res, dependent, true);
        }
        removed
    }

    /// Called by the namespace controller once a terminating namespace is
    /// empty: drops the `kubernetes` finalizer, which removes the namespace.
    pub fn finalize_namespace(&self, name: &str) -> Result<(), ApiError> {
        let mut st = self.lock();
        let current = self.current(&st, self.namespaces, "", name)?;
        if !meta::is_deleting(&current) {
            return Ok(());
        }
        let mut new = (*current).clone();
        meta::object_mut(&mut new, "spec").insert("finalizers".to_owned(), json!([]));
        self.finish_update(
            &mut st,
            self.namespaces,
            &current,
            new,
            Some("finalize"),
            WriteCtx::new("kube-controller-manager"),
            Managed::Preset,
        )
        .map(|_| ())
    }

    /// Sets the namespace's `status.conditions` while it terminates.
    pub fn set_namespace_conditions(&self, name: &str, conditions: Value) -> Result<(), ApiError> {
        self.modify(
            self.namespaces,
            "",
            name,
            Some("status"),
            WriteCtx::new("kube-controller-manager"),
            |ns| {
                let mut new = ns.clone();
                meta::object_mut(&mut new, "status").insert("conditions".to_owned(), conditions);
                Some(new)
            },
        )
        .map(|_| ())
    }
}

/// Whether stored JSON text contains `needle` (std's substring search,
/// optimised even in debug builds; stored text is always UTF-8).
pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match (std::str::from_utf8(haystack), std::str::from_utf8(needle)) {
        (Ok(haystack), Ok(needle)) => !needle.is_empty() && haystack.contains(needle),
        _ => false,
    }
}

/// Whether nothing holds a deleting object any more.
fn finalizers_done(info: &ResourceInfo, obj: &Value) -> bool {
    if !meta::finalizers(obj).is_empty() {
        return false;
    }
    if info.group.is_empty() && info.plural == "namespaces" {
        return obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
    }
    true
}

/// `Deployment.apps`, as Kubernetes names a kind in validation messages.
pub(crate) fn kind_name(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.kind.to_owned()
    } else {
        format!("{}.{}", info.kind, info.group)
    }
}

/// Fills in or checks `apiVersion` and `kind`.
fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Value::Object(map) = obj else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    };
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != info.api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                info.api_version
            )));
        }
        _ => {
            map.insert("apiVersion".to_owned(), json!(info.api_version));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != info.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                info.kind
            )));
        }
        _ => {
            map.insert("kind".to_owned(), json!(info.kind));
        }
    }
    Ok(())
}

/// A create or update body's quantities canonically, or the `400` a real
/// apiserver answers when one is not a quantity (see
/// [`types::quantities`]).
fn decode_quantities(info: &ResourceInfo, body: &mut Value) -> Result<(), ApiError> {
    types::quantities::canonicalize(body)
        .map_err(|_| ApiError::undecodable(info, types::quantities::FORMAT_WRONG))
}

/// 409 when the body carries a resourceVersion that is not the current one.
fn check_resource_version(
    info: &ResourceInfo,
    current: &Value,
    body: &Value,
) -> Result<(), ApiError> {
    let Some(wanted) = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    if wanted.is_empty() {
        return Ok(());
    }
    let actual = current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if wanted != actual {
        return Err(ApiError::conflict(info, meta::name(current).unwrap_or("")));
    }
    Ok(())
}

fn validate_name(info: &ResourceInfo, name: &str) -> Result<(), ApiError> {
    let kind = kind_name(info);
    if name.is_empty() {
        return Err(ApiError::invalid(
            &kind,
            name,
            &[(
                "metadata.name",
                "Required value: name or generateName is required".to_owned(),
            )],
        ));
    }
    let label_only = matches!((info.group, info.plural), ("", "namespaces" | "services"));
    let path_segment = info.group == "rbac.authorization.k8s.io";
    let valid = if path_segment {
        name != "." && name != ".." && !name.contains(['/', '%'])
    } else {
        let max = if label_only { 63 } else { 253 };
        name.len() <= max
            && name.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
            && !(label_only && name.contains('.'))
    };
    if valid {
        return Ok(());
    }
    let rule = if label_only {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    };
    Err(ApiError::invalid(
        &kind,
        name,
        &[(
            "metadata.name",
            format!("Invalid value: \"{name}\": {rule}"),
        )],
    ))
}

fn set_or_remove(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Value::Object(map) = obj {
        match value {
            Some(v) => {
                map.insert(key.to_owned(), v);
            }
            None => {
                map.remove(key);
            }
        }
    }
}

fn set_or_remove_meta(obj: &mut Value, key: &str, value: Option<Value>) {
    let metadata = meta::metadata_mut(obj);
    match value {
        Some(v) => {
            metadata.insert(key.to_owned(), v);
        }
        None => {
            metadata.remove(key);
        }
    }
}

/// Whether anything but metadata and status differs: what bumps `generation`.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let skip = |k: &String| matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind");
    let old_keys = old.iter().filter(|(k, _)| !skip(k));
    let new_count = new.keys().filter(|k| !skip(k)).count();
    old_keys.clone().count() != new_count
        || old_keys.into_iter().any(|(k, v)| new.get(k) != Some(v))
}

/// Whether two versions are the same object once managedFields timestamps are
/// set aside, so a no-op write does not bump the resourceVersion.
fn same_ignoring_managed_times(old: &Value, new: &Value) -> bool {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return old == new;
    };
    if old.len() != new.len() {
        return false;
    }
    old.iter().all(|(key, value)| {
        let Some(other) = new.get(key) else {
            return false;
        };
        if key != "metadata" {
            return value == other;
        }
        let (Some(a), Some(b)) = (value.as_object(), other.as_object()) else {
            return value == other;
        };
        a.len() == b.len()
            && a.iter().all(|(k, v)| match (k.as_str(), b.get(k)) {
                ("managedFields", Some(w)) => without_times(v) == without_times(w),
                (_, Some(w)) => v == w,
                (_, None) => false,
            })
    })
}

fn without_times(fields: &Value) -> Vec<Value> {
    fields
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Value::Object(m) = &mut e {
                        m.remove("time");
                    }
                    e
                })
                .collect()
        })
        .unwrap_or_default()
}
