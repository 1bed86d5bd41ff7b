//! Drift of an engine's objects: a Deployment, StatefulSet, Service or
//! Ingress of a Ready (or Suspended) store changed or deleted behind
//! storeplane's back.
//!
//! The watches that already wake stores see it (no polling): a deletion, or
//! a `managedFields` entry of another field manager that owns part of the
//! object's `spec` (an edit, a `kubectl scale`) and is newer than the last
//! one corrected. The store's next run has its engine converge the store
//! again (`provision`, or `suspend` for a paused store; idempotent by contract: a server-side apply that
//! takes storeplane's fields back), records `DriftCorrected` naming each
//! object and who changed it, and counts it. Corrections are rate limited
//! per store, so objects edited by hand in a loop cannot make the control
//! plane spin: past the limit the correction waits for the next slot.
//!
//! Jobs and PersistentVolumeClaims are left out on purpose: a finished Job
//! may be removed by its TTL, and a claim deleted by hand cannot be
//! "corrected" without handing the shop an empty volume.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock as _};
use kube::api::DynamicObject;
use uuid::Uuid;

use crate::cluster::{FIELD_MANAGER, PLATFORM_FIELD_MANAGER};

/// Kinds of engine objects whose drift is corrected.
pub const CORRECTED: [(&str, &str); 4] = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "Ingress"),
];

/// Corrections a store gets in a burst before the rate applies.
pub const CORRECTION_BURST: u32 = 3;
/// Sustained corrections per store: one per this interval.
pub const CORRECTION_INTERVAL: Duration = Duration::from_secs(20);

/// One object that drifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The release it belongs to (`storeplane.dev/release`).
    pub release: String,
    /// The field manager that changed it; `None`: it was deleted.
    pub by: Option<String>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.by {
            Some(manager) => write!(f, "{} {} changed by {manager}", self.kind, self.name),
            None => write!(f, "{} {} deleted", self.kind, self.name),
        }
    }
}

/// The newest edit of `object`'s `spec` by a field manager other than
/// storeplane's: the manager and the edit's time. Status updates (the
/// `status` subresource) and metadata-only updates (a controller's
/// annotation) are not edits of the desired state.
pub fn foreign_edit(object: &DynamicObject) -> Option<(String, String)> {
    object
        .metadata
        .managed_fields
        .as_deref()?
        .iter()
        .filter(|entry| {
            let manager = entry.manager.as_deref().unwrap_or_default();
            manager != FIELD_MANAGER
                && manager != PLATFORM_FIELD_MANAGER
                && matches!(entry.subresource.as_deref(), None | Some("" | "scale"))
                && entry
                    .fields_v1
                    .as_ref()
                    .and_then(|fields| fields.0.get("f:spec"))
                    .is_some()
        })
        .filter_map(|entry| {
            Some((
                entry.manager.clone().unwrap_or_default(),
                entry.time.as_ref()?.0,
            ))
        })
        .max_by_key(|(_, time)| *time)
        .map(|(manager, time)| (manager, time.to_string()))
}

/// The foreign edits already reported, by object uid, so that each is
/// corrected once: an edit of a field storeplane does not set stays in the
/// object's `managedFields` after the correction, and must not trigger
/// another one.
#[derive(Default)]
pub struct EditMemory {
    seen: HashMap<String, (String, String)>,
}

impl EditMemory {
    /// The edit to report for this event, if it is a new one. An object
    /// first seen in a start-up list reports its edit too: drift that
    /// happened while storeplane was down is drift.
    pub fn new_edit(&mut self, object: &DynamicObject, deleted: bool) -> Option<String> {
        let uid = object.metadata.uid.clone()?;
        if deleted {
            self.seen.remove(&uid);
            return None;
        }
        let edit = foreign_edit(object)?;
        if self.seen.get(&uid) == Some(&edit) {
            return None;
        }
        let manager = edit.0.clone();
        self.seen.insert(uid, edit);
        Some(manager)
    }
}

/// Drift seen by the watches and not yet corrected, per store, and the
/// per-store correction rate.
pub struct DriftLog {
    pending: Mutex<HashMap<Uuid, Vec<Drift>>>,
    limiter: DefaultKeyedRateLimiter<Uuid>,
}

impl Default for DriftLog {
    fn default() -> Self {
        Self::new(CORRECTION_BURST, CORRECTION_INTERVAL)
    }
}

impl DriftLog {
    /// `burst` corrections per store at once, then one per `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            pending: Mutex::default(),
            limiter: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    /// Records that `drift` happened to store `id` (once per object).
    pub fn record(&self, id: Uuid, drift: Drift) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let drifts = pending.entry(id).or_default();
        drifts.retain(|d| d.kind != drift.kind || d.name != drift.name);
        drifts.push(drift);
    }

    /// Whether drift of store `id` waits for a run (leaves it there).
    pub fn is_pending(&self, id: Uuid) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
    }

    /// Takes the store's pending drift.
    pub fn take(&self, id: Uuid) -> Vec<Drift> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .unwrap_or_default()
    }

    /// Puts drift back (the correction has to wait or failed).
    pub fn restore(&self, id: Uuid, drifts: Vec<Drift>) {
        for drift in drifts {
            self.record(id, drift);
        }
    }

    /// Takes a correction slot of store `id`, or says how long until one.
    pub fn admit(&self, id: Uuid) -> Result<(), Duration> {
        self.limiter.check_key(&id).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(managed: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u1", "managedFields": managed},
            "spec": {"replicas": 1},
        }))
        .expect("object")
    }

    fn entry(
        manager: &str,
        subresource: &str,
        time: &str,
        fields: serde_json::Value,
    ) -> serde_json::Value {
        json!({
            "manager": manager, "operation": "Update", "apiVersion": "apps/v1",
            "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields,
            "subresource": subresource,
        })
    }

    #[test]
    fn only_spec_edits_by_other_managers_are_drift() {
        let spec = json!({"f:spec": {"f:replicas": {}}});
        let ours = json!([{
            "manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "apps/v1",
            "time": "2026-12-06T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": spec,
        }]);
        assert_eq!(foreign_edit(&deployment(ours)), None);
        // A controller's status and annotation updates are not drift.
        let controller = json!([
            entry(
                "kube-controller-manager",
                "status",
                "2026-12-06T10:00:01Z",
                json!({"f:status": {}})
            ),
            entry(
                "kube-controller-manager",
                "",
                "2026-12-06T10:00:01Z",
                json!({"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}})
            ),
        ]);
        assert_eq!(foreign_edit(&deployment(controller)), None);
        // Hand edits and a scale are, the newest one named.
        let edited = json!([
            entry("kubectl-edit", "", "2026-12-06T10:00:02Z", spec.clone()),
            entry("kubectl", "scale", "2026-12-06T10:00:03Z", spec),
        ]);
        assert_eq!(
            foreign_edit(&deployment(edited)).map(|(manager, _)| manager),
            Some("kubectl".into())
        );
    }

    #[test]
    fn each_edit_is_reported_once() {
        let spec = json!({"f:spec": {"f:replicas": {}}});
        let first = deployment(json!([entry(
            "kubectl-edit",
            "",
            "2026-12-06T10:00:02Z",
            spec.clone()
        )]));
        let mut memory = EditMemory::default();
        assert_eq!(memory.new_edit(&first, false), Some("kubectl-edit".into()));
        // The correction's echo still carries the edit of a field that is
        // not ours: no second correction.
        assert_eq!(memory.new_edit(&first, false), None);
        let again = deployment(json!([entry(
            "kubectl-edit",
            "",
            "2026-12-06T10:05:00Z",
            spec
        )]));
        assert_eq!(memory.new_edit(&again, false), Some("kubectl-edit".into()));
    }

    #[test]
    fn corrections_are_rate_limited_per_store() {
        let log = DriftLog::new(2, Duration::from_secs(3600));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(log.admit(a).is_ok());
        assert!(log.admit(a).is_ok());
        let wait = log
            .admit(a)
            .expect_err("a third correction within the hour");
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
        assert!(log.admit(b).is_ok(), "another store has its own budget");
    }

    #[test]
    fn drift_is_kept_once_per_object() {
        let log = DriftLog::default();
        let id = Uuid::now_v7();
        let drift = |by: Option<&str>| Drift {
            kind: "Deployment".into(),
            name: "web".into(),
            release: "shop".into(),
            by: by.map(Into::into),
        };
        log.record(id, drift(Some("kubectl-edit")));
        log.record(id, drift(None));
        assert_eq!(log.take(id), [drift(None)]);
        assert!(log.take(id).is_empty());
    }
}
