//! core/v1 Events, recorded the way the kubelet and controllers do: one
//! object per (involved object, reason, message), its count bumped on repeats.

use serde_json::{Value, json};

use crate::meta;
use crate::registry::ResId;
use crate::store::{Store, WriteCtx};

/// The node every simulated pod runs on.
pub(crate) const NODE_NAME: &str = "kwok-node-0";

/// The node's zone, which the PodTopologyLabels plugin copies onto the
/// pods bound to it.
pub(crate) const NODE_ZONE: &str = "zone-0";

/// The zone label of nodes and (PodTopologyLabels) pods.
pub(crate) const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Normal or Warning, as in `Event.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Normal,
    Warning,
}

/// Records an event about `involved` (a full object) from `component`.
pub(crate) fn record(
    store: &Store,
    events: ResId,
    involved: &Value,
    severity: Severity,
    reason: &str,
    message: &str,
    component: &str,
) {
    let Some(namespace) = meta::namespace(involved).filter(|ns| !ns.is_empty()) else {
        return;
    };
    let name = meta::name(involved).unwrap_or("");
    let uid = meta::uid(involved);
    let kind_hash = meta::stable_hash(&json!([uid, reason, message]), 16);
    let event_name = format!("{name}.{kind_hash}");
    let now = meta::now();
    let bumped = store.modify(
        events,
        namespace,
        &event_name,
        None,
        WriteCtx::new(component),
        |existing| {
            let mut updated = existing.clone();
            let count = existing.get("count").and_then(Value::as_i64).unwrap_or(1);
            updated["count"] = json!(count + 1);
            updated["lastTimestamp"] = json!(now);
            Some(updated)
        },
    );
    if bumped.is_ok() {
        return;
    }
    let kind = involved.get("kind").and_then(Value::as_str).unwrap_or("");
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": event_name, "namespace": namespace },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": involved.pointer("/metadata/resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": match severity { Severity::Normal => "Normal", Severity::Warning => "Warning" },
        // Controllers' events carry no host (an empty one is omitted).
        "source": if component == "kubelet" {
            json!({ "component": component, "host": NODE_NAME })
        } else {
            json!({ "component": component })
        },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": if component == "kubelet" { NODE_NAME } else { "" },
    });
    // The namespace may be terminating; then the event is dropped, as the
    // apiserver would refuse it too.
    let _ = store.create(events, Some(namespace), event, WriteCtx::new(component));
}
