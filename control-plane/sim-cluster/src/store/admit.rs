//! Admission, run by the store under its lock in kube-apiserver's order,
//! and the resourcequota controller's bookkeeping of `status.used`.
//!
//! The order of a create, as in the apiserver: NamespaceLifecycle (404 for a
//! missing namespace, 403 for a terminating one), LimitRanger's defaults
//! (mutating), name generation and validation (422), then the validating
//! plugins — LimitRanger's `min`/`max`, PodSecurity, ResourceQuota — and
//! only then the store's AlreadyExists (409).
//!
//! Quota usage is kept exact by accounting every committed change in a
//! namespace that has quotas (what the apiserver's quota admission charges
//! and the controller later recomputes), so `status.used` is right at once
//! and never drifts. A namespace without quotas costs one map lookup.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{EventType, Key, NamespacePhase, State, Store, parse};
use crate::admission::limits::{self, ResourceList};
use crate::admission::{pod_security, pods, quota};
use crate::meta;
use crate::quantity::Quantity;
use crate::registry::{ResId, ResourceInfo};
use crate::status::ApiError;

/// Namespaces the apiserver never lets anyone delete.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

fn is(info: &ResourceInfo, group: &str, plural: &str) -> bool {
    info.group == group && info.plural == plural
}

impl Store {
    /// The objects of `res` in `namespace`, as stored.
    fn stored_in<'a>(
        st: &'a State,
        res: ResId,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Bytes)> + 'a {
        st.objects[res]
            .range::<Key, _>((namespace.to_owned(), String::new())..)
            .take_while(move |(k, _)| k.0 == namespace)
    }

    /// Whether `namespace` has any ResourceQuota (one map lookup).
    fn has_quotas(&self, st: &State, namespace: &str) -> bool {
        Self::stored_in(st, self.ids.quotas, namespace)
            .next()
            .is_some()
    }

    fn parsed_in(st: &State, res: ResId, namespace: &str) -> Vec<Arc<Value>> {
        Self::stored_in(st, res, namespace)
            .map(|(key, json)| st.recent.parsed(res, key, json))
            .collect()
    }

    /// NamespaceLifecycle for a create in `namespace`. `display_name` is the
    /// name, or the `generateName` prefix when the name is not generated yet
    /// (the plugin runs before name generation).
    pub(super) fn admit_namespace(
        &self,
        st: &State,
        info: &ResourceInfo,
        namespace: &str,
        display_name: &str,
    ) -> Result<(), ApiError> {
        match Self::phase_of(st, self.namespaces, namespace) {
            NamespacePhase::Missing => Err(ApiError::namespace_not_found(namespace)),
            NamespacePhase::Terminating => Err(ApiError::namespace_terminating(
                info,
                display_name,
                namespace,
            )),
            NamespacePhase::Active => Ok(()),
        }
    }

    /// NamespaceLifecycle for a delete: `default`, `kube-system` and
    /// `kube-public` may not be deleted.
    pub(super) fn admit_delete(&self, info: &ResourceInfo, name: &str) -> Result<(), ApiError> {
        if is(info, "", "namespaces") && IMMORTAL_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                info,
                name,
                "this namespace may not be deleted",
            ));
        }
        Ok(())
    }

    /// The mutating plugins on a new Pod, in the apiserver's order:
    /// LimitRanger's defaults (one LimitRange at a time, in name order),
    /// ServiceAccount, Priority, DefaultTolerationSeconds; then the pod
    /// strategy's QoS class. `display_name` names the pod in a refusal
    /// (the name is generated after these plugins).
    pub(super) fn mutate_new(
        &self,
        st: &State,
        info: &ResourceInfo,
        obj: &mut Value,
        display_name: &str,
    ) -> Result<(), ApiError> {
        if !is(info, "", "pods") {
            return Ok(());
        }
        let namespace = meta::namespace(obj).unwrap_or("").to_owned();
        for limit_range in Self::parsed_in(st, self.ids.limit_ranges, &namespace) {
            limits::default_pod(&limit_range, obj);
        }
        let account_name = obj
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_owned();
        // The account matters only when it opts out of the token or lists
        // pull secrets; most do neither, so most are not parsed.
        let account = st.objects[self.ids.service_accounts]
            .get(&(namespace, account_name))
            .filter(|json| {
                super::write::contains(json, b"automountServiceAccountToken")
                    || super::write::contains(json, b"imagePullSecrets")
            })
            .map(|json| parse(json));
        pods::service_account(obj, account.as_ref(), &meta::random_suffix(5));
        // The classes the plugin reads: the pod's, or a global default.
        let wanted = obj
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .map(|name| format!("\"name\":{}", json!(name)));
        let classes: Vec<Value> = st.objects[self.ids.priority_classes]
            .values()
            .filter(|json| match &wanted {
                Some(name) => super::write::contains(json, name.as_bytes()),
                None => super::write::contains(json, b"\"globalDefault\":true"),
            })
            .map(|json| parse(json))
            .collect();
        pods::priority(obj, &classes)
            .map_err(|reason| ApiError::forbidden(info, display_name, &reason))?;
        pods::default_tolerations(obj);
        let qos = pods::qos_class(obj);
        meta::object_mut(obj, "status").insert("qosClass".to_owned(), json!(qos));
        Ok(())
    }

    /// The validating plugins on a new object (its name final): LimitRanger,
    /// PodSecurity, ResourceQuota, in that order; the first refusal wins.
    pub(super) fn validate_new(
        &self,
        st: &State,
        info: &ResourceInfo,
        obj: &Value,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let namespace = meta::namespace(obj).unwrap_or("");
        let name = meta::name(obj).unwrap_or("");
        self.check_limit_ranges(st, info, namespace, name, obj)?;
        self.check_pod_security(st, info, None, obj, warnings)?;
        if !namespace.is_empty() && self.has_quotas(st, namespace) {
            // The apiserver resets a new object's status before validation,
            // so a pod is charged as Pending whatever status it was sent with.
            let delta = if is(info, "", "pods") && obj.get("status").is_some() {
                let mut pending = obj.clone();
                pending["status"] = json!({ "phase": "Pending" });
                quota::usage(info.group, info.plural, &pending)
            } else {
                quota::usage(info.group, info.plural, obj)
            };
            self.check_quotas(st, info, namespace, name, obj, &delta)?;
        }
        Ok(())
    }

    /// The validating plugins on an update of the main resource.
    pub(super) fn validate_update(
        &self,
        st: &State,
        info: &ResourceInfo,
        old: &Value,
        new: &Value,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        if meta::is_deleting(old) {
            return Ok(());
        }
        let namespace = meta::namespace(new).unwrap_or("");
        let name = meta::name(new).unwrap_or("");
        // LimitRanger looks at claims on update (pods' resources are
        // immutable, so it skips them).
        if is(info, "", "persistentvolumeclaims") {
            self.check_limit_ranges(st, info, namespace, name, new)?;
        }
        self.check_pod_security(st, info, Some(old), new, warnings)?;
        // Quota charges updates of services and claims (type, ports, size).
        if (is(info, "", "services") || is(info, "", "persistentvolumeclaims"))
            && self.has_quotas(st, namespace)
        {
            let delta = quota::subtract_non_negative(
                &quota::usage(info.group, info.plural, new),
                &quota::usage(info.group, info.plural, old),
            );
            self.check_quotas(st, info, namespace, name, new, &delta)?;
        }
        Ok(())
    }

    fn check_limit_ranges(
        &self,
        st: &State,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        obj: &Value,
    ) -> Result<(), ApiError> {
        let check: fn(&Value, &Value) -> Option<String> = if is(info, "", "pods") {
            limits::check_pod
        } else if is(info, "", "persistentvolumeclaims") {
            limits::check_claim
        } else {
            return Ok(());
        };
        for limit_range in Self::parsed_in(st, self.ids.limit_ranges, namespace) {
            if let Some(reason) = check(&limit_range, obj) {
                return Err(ApiError::forbidden(info, name, &reason));
            }
        }
        Ok(())
    }

    /// PodSecurity: Pods violating their namespace's `enforce` level are
    /// refused, workloads are warned about, namespace labels are checked.
    fn check_pod_security(
        &self,
        st: &State,
        info: &ResourceInfo,
        old: Option<&Value>,
        new: &Value,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let name = meta::name(new).unwrap_or("");
        if is(info, "", "namespaces") {
            let pods = || {
                Self::stored_in(st, self.ids.pods, name)
                    .map(|(_, json)| parse(json))
                    .collect::<Vec<_>>()
            };
            // Pods are only listed when `enforce` got stricter.
            let mut listed = Vec::new();
            let result = pod_security::evaluate_namespace(old, new, || {
                listed = pods();
                listed.iter()
            });
            return match result {
                Ok(found) => {
                    warnings.extend(found);
                    Ok(())
                }
                Err(causes) => {
                    let causes: Vec<(&str, String)> = causes
                        .iter()
                        .map(|(field, message)| (field.as_str(), message.clone()))
                        .collect();
                    Err(ApiError::invalid("Namespace", name, &causes))
                }
            };
        }
        if !info.namespaced || storeplane_pod_security::pod_template(new).is_none() {
            return Ok(());
        }
        let namespace = meta::namespace(new).unwrap_or("");
        let Some(ns) = st.objects[self.namespaces].get(&(String::new(), namespace.to_owned()))
        else {
            return Ok(());
        };
        let decision = pod_security::evaluate_object(&parse(ns), old, new);
        warnings.extend(decision.warnings);
        match decision.forbidden {
            Some(reason) => Err(ApiError::forbidden(info, name, &reason)),
            None => Ok(()),
        }
    }

    /// ResourceQuota: every quota of the namespace that the object falls in
    /// must have room for `delta`.
    fn check_quotas(
        &self,
        st: &State,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        obj: &Value,
        delta: &ResourceList,
    ) -> Result<(), ApiError> {
        let quotas = Self::parsed_in(st, self.ids.quotas, namespace);
        let forbidden = |reason: String| ApiError::forbidden(info, name, &reason);
        let mut matching = Vec::new();
        for q in &quotas {
            if !quota::matches(q, info.group, info.plural, obj) {
                continue;
            }
            let quota_name = meta::name(q).unwrap_or("");
            let restricted: BTreeSet<String> = quota::hard(q)
                .into_keys()
                .filter(|r| quota::tracks(info.group, info.plural, r))
                .collect();
            if is(info, "", "pods")
                && let Some(missing) = quota::missing_requests(&restricted, obj)
            {
                return Err(forbidden(format!("failed quota: {quota_name}: {missing}")));
            }
            let used = limits::resource_list(q.pointer("/status/used"));
            if restricted.iter().any(|r| !used.contains_key(r)) {
                return Err(forbidden(format!(
                    "status unknown for quota: {quota_name}, resources: {}",
                    restricted.iter().cloned().collect::<Vec<_>>().join(",")
                )));
            }
            matching.push(q);
        }
        for q in matching {
            quota::charge(q, delta).map_err(forbidden)?;
        }
        Ok(())
    }

    /// A quota's `status` as the resourcequota controller computes it from
    /// everything in its namespace (`include` is an object about to be
    /// stored that must count too, such as the quota itself).
    pub(super) fn quota_status(
        &self,
        st: &State,
        quota_obj: &Value,
        include: Option<(ResId, &Value)>,
    ) -> Value {
        let namespace = meta::namespace(quota_obj).unwrap_or("");
        let hard: Vec<String> = limits::resource_list(quota_obj.pointer("/spec/hard"))
            .into_keys()
            .collect();
        let mut used = ResourceList::new();
        let mut count = |info: &ResourceInfo, obj: &Value| {
            if quota::matches(quota_obj, info.group, info.plural, obj) {
                used = quota::add(&used, &quota::usage(info.group, info.plural, obj));
            }
        };
        for (res, info) in self.registry.iter() {
            if !info.namespaced
                || !hard
                    .iter()
                    .any(|r| quota::tracks(info.group, info.plural, r))
            {
                continue;
            }
            for (_, json) in Self::stored_in(st, res, namespace) {
                count(info, &parse(json));
            }
        }
        if let Some((res, obj)) = include {
            count(self.info(res), obj);
        }
        quota::status(quota_obj, &used)
    }

    /// The resourcequota controller's part: after a change in a namespace
    /// with quotas, moves the change's usage into each quota's
    /// `status.used`.
    pub(super) fn account(
        &self,
        st: &mut State,
        res: ResId,
        key: &Key,
        kind: EventType,
        old: Option<&Bytes>,
        object: &Value,
    ) {
        let info = self.info(res);
        if kind == EventType::Modified
            && !quota::modification_can_change_usage(info.group, info.plural)
        {
            return;
        }
        let quota_keys: Vec<Key> = Self::stored_in(st, self.ids.quotas, &key.0)
            .map(|(k, _)| k.clone())
            .filter(|k| !(res == self.ids.quotas && k == key))
            .collect();
        if quota_keys.is_empty() {
            return;
        }
        let previous = old
            .filter(|_| kind == EventType::Modified)
            .map(|json| parse(json));
        let before = match kind {
            EventType::Added => None,
            EventType::Modified => previous.as_ref(),
            EventType::Deleted => Some(object),
        };
        let after = (kind != EventType::Deleted).then_some(object);
        let usage_of = |obj: Option<&Value>| {
            obj.map(|o| quota::usage(info.group, info.plural, o))
                .unwrap_or_default()
        };
        let (used_before, used_after) = (usage_of(before), usage_of(after));
        if used_before == used_after {
            return;
        }
        for quota_key in quota_keys {
            let Some(json) = st.objects[self.ids.quotas].get(&quota_key) else {
                continue;
            };
            let mut quota_obj = Value::clone(&st.recent.parsed(self.ids.quotas, &quota_key, json));
            let in_scope = |obj: Option<&Value>| {
                obj.is_some_and(|o| quota::matches(&quota_obj, info.group, info.plural, o))
            };
            let removed = if in_scope(before) {
                used_before.clone()
            } else {
                ResourceList::new()
            };
            let added = if in_scope(after) {
                used_after.clone()
            } else {
                ResourceList::new()
            };
            let Some(Value::Object(used)) = quota_obj.pointer_mut("/status/used") else {
                continue;
            };
            let mut changed = false;
            for (resource, value) in used.iter_mut() {
                let minus = removed.get(resource).copied().unwrap_or(Quantity::ZERO);
                let plus = added.get(resource).copied().unwrap_or(Quantity::ZERO);
                if minus == plus {
                    continue;
                }
                let current = value
                    .as_str()
                    .and_then(Quantity::parse)
                    .unwrap_or(Quantity::ZERO);
                let mut next = current.sub(minus).add(plus);
                if next.is_negative() {
                    next = Quantity::ZERO;
                }
                *value = json!(next.to_string());
                changed = true;
            }
            if changed {
                self.commit(st, self.ids.quotas, EventType::Modified, quota_obj);
            }
        }
    }
}
