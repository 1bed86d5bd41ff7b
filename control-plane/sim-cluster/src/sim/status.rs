//! Status documents of workloads as the real controllers write them, for each
//! simulated phase.

use serde_json::{Map, Value, json};

use crate::config::Failure;
use crate::meta;

/// Where a simulated workload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Seen, pods not ready yet.
    Starting,
    /// Pods ready (or, for a Job, finished successfully).
    Ready,
    /// The injected failure has shown itself.
    Failed(Failure),
}

/// Sets a condition, keeping `lastTransitionTime` when the status is unchanged
/// and `lastUpdateTime` when nothing changed, so reconciling twice is a no-op.
pub(crate) fn set_condition(
    conditions: &mut Vec<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    with_update_time: bool,
) {
    let now = meta::now();
    let existing = conditions
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let previous = existing.map(|i| conditions[i].clone());
    let same_status = previous
        .as_ref()
        .is_some_and(|p| p.get("status").and_then(Value::as_str) == Some(status));
    let unchanged = same_status
        && previous.as_ref().is_some_and(|p| {
            p.get("reason").and_then(Value::as_str) == Some(reason)
                && p.get("message").and_then(Value::as_str) == Some(message)
        });
    let transition = if same_status {
        previous
            .as_ref()
            .and_then(|p| p.get("lastTransitionTime").cloned())
            .unwrap_or(json!(now))
    } else {
        json!(now)
    };
    let mut condition = json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    });
    if with_update_time {
        let update = if unchanged {
            previous
                .as_ref()
                .and_then(|p| p.get("lastUpdateTime").cloned())
                .unwrap_or(json!(now))
        } else {
            json!(now)
        };
        condition["lastUpdateTime"] = update;
    }
    match existing {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

fn conditions_of(obj: &Value) -> Vec<Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Inserts integer fields, leaving out zeros as the API's `omitempty` does.
fn counts(status: &mut Map<String, Value>, fields: &[(&str, i64)]) {
    for (name, value) in fields {
        if *value != 0 {
            status.insert((*name).to_owned(), json!(value));
        }
    }
}

pub(crate) fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

/// The name Kubernetes would give the Deployment's current ReplicaSet:
/// `<deployment>-<pod-template-hash>`.
pub(crate) fn replica_set_name(deploy: &Value) -> String {
    format!(
        "{}-{}",
        meta::name(deploy).unwrap_or(""),
        template_hash(deploy)
    )
}

/// The `pod-template-hash` of a Deployment's (or the
/// `controller-revision-hash` suffix of a StatefulSet's) current template.
pub(crate) fn template_hash(workload: &Value) -> String {
    meta::template_hash(workload.pointer("/spec/template").unwrap_or(&Value::Null))
}

/// The name of a StatefulSet's current ControllerRevision.
pub(crate) fn revision_name(set: &Value) -> String {
    format!("{}-{}", meta::name(set).unwrap_or(""), template_hash(set))
}

/// A Deployment's status in `phase`; `deadline_exceeded` when it has not
/// progressed for `progressDeadlineSeconds`.
pub(crate) fn deployment(deploy: &Value, phase: Phase, deadline_exceeded: bool) -> Value {
    let want = replicas(deploy);
    let generation = meta::generation(deploy);
    let rs = replica_set_name(deploy);
    let mut conditions = conditions_of(deploy);
    let mut status = Map::new();
    status.insert("observedGeneration".to_owned(), json!(generation));
    let was_available = deploy
        .pointer("/status/availableReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match phase {
        Phase::Ready => {
            counts(
                &mut status,
                &[
                    ("replicas", want),
                    ("updatedReplicas", want),
                    ("readyReplicas", want),
                    ("availableReplicas", want),
                ],
            );
            set_condition(
                &mut conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                true,
            );
            set_condition(
                &mut conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs}\" has successfully progressed."),
                true,
            );
        }
        Phase::Starting | Phase::Failed(_) => {
            // A rollout keeps the old pods serving; a new Deployment has none.
            let available = was_available.min(want);
            counts(
                &mut status,
                &[
                    ("replicas", want),
                    ("updatedReplicas", want),
                    ("readyReplicas", available),
                    ("availableReplicas", available),
                    ("unavailableReplicas", want - available),
                ],
            );
            if available >= want && want > 0 {
                set_condition(
                    &mut conditions,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    true,
                );
            } else {
                set_condition(
                    &mut conditions,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    true,
                );
            }
            if deadline_exceeded {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{rs}\" has timed out progressing."),
                    true,
                );
            } else {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{rs}\" is progressing."),
                    true,
                );
            }
        }
    }
    if want == 0 && phase == Phase::Ready {
        status.remove("readyReplicas");
    }
    // A pointer in the API: present even when zero (1.37's default
    // DeploymentReplicaSetTerminatingReplicas feature).
    status.insert("terminatingReplicas".to_owned(), json!(0));
    // Pods are being created again: the ReplicaSet's failure clears.
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("ReplicaFailure"));
    status.insert("conditions".to_owned(), Value::Array(conditions));
    Value::Object(status)
}

/// A Deployment whose ReplicaSet cannot create its pods (admission refused
/// them): the pods that exist, `Available` per their readiness, and the
/// ReplicaSet's `ReplicaFailure` condition (reason `FailedCreate`, the
/// refusal as message) promoted to the Deployment, as the deployment
/// controller does.
pub(crate) fn deployment_failed_create(
    deploy: &Value,
    phase: Phase,
    existing: i64,
    message: &str,
) -> Value {
    let want = replicas(deploy);
    let rs = replica_set_name(deploy);
    let mut conditions = conditions_of(deploy);
    let ready = if phase == Phase::Ready { existing } else { 0 };
    let mut status = Map::new();
    status.insert(
        "observedGeneration".to_owned(),
        json!(meta::generation(deploy)),
    );
    counts(
        &mut status,
        &[
            ("replicas", existing),
            ("updatedReplicas", existing),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
            ("unavailableReplicas", (want - ready).max(0)),
        ],
    );
    status.insert("terminatingReplicas".to_owned(), json!(0));
    if !conditions
        .iter()
        .any(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"))
    {
        set_condition(
            &mut conditions,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            &format!("Created new replica set \"{rs}\""),
            true,
        );
    }
    if ready >= want && want > 0 {
        set_condition(
            &mut conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            true,
        );
    } else {
        set_condition(
            &mut conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            true,
        );
    }
    set_condition(
        &mut conditions,
        "ReplicaFailure",
        "True",
        "FailedCreate",
        message,
        true,
    );
    status.insert("conditions".to_owned(), Value::Array(conditions));
    Value::Object(status)
}

pub(crate) fn stateful_set(sts: &Value, phase: Phase) -> Value {
    let want = replicas(sts);
    stateful_set_with(sts, want, if phase == Phase::Ready { want } else { 0 })
}

/// A StatefulSet with `existing` pods of which `ready` are ready (fewer
/// than wanted when admission refuses the next pod).
pub(crate) fn stateful_set_with(sts: &Value, existing: i64, ready: i64) -> Value {
    let revision = revision_name(sts);
    let mut status = Map::new();
    status.insert(
        "observedGeneration".to_owned(),
        json!(meta::generation(sts)),
    );
    // `replicas` and `availableReplicas` are not omitempty in the API.
    status.insert("replicas".to_owned(), json!(existing));
    status.insert("availableReplicas".to_owned(), json!(ready));
    counts(
        &mut status,
        &[
            ("readyReplicas", ready),
            ("currentReplicas", existing),
            ("updatedReplicas", existing),
        ],
    );
    status.insert("currentRevision".to_owned(), json!(revision));
    status.insert("updateRevision".to_owned(), json!(revision));
    status.insert("collisionCount".to_owned(), json!(0));
    Value::Object(status)
}

/// A Job's status; `active` is how many of its pods exist (0 while
/// admission refuses them: the Job then never finishes).
/// A suspended, unfinished Job's status: no pod, no start time, the
/// condition `Suspended=True`.
pub(crate) fn suspended_job(job: &Value) -> Value {
    let mut conditions = conditions_of(job);
    set_condition(
        &mut conditions,
        "Suspended",
        "True",
        "JobSuspended",
        "Job suspended",
        false,
    );
    for c in &mut conditions {
        if c.get("lastProbeTime").is_none_or(Value::is_null) {
            c["lastProbeTime"] = c["lastTransitionTime"].clone();
        }
    }
    json!({
        "conditions": conditions,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    })
}

pub(crate) fn job(job: &Value, phase: Phase, start_time: &str, active: i64) -> Value {
    let completions = job
        .pointer("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    let backoff_limit = job
        .pointer("/spec/backoffLimit")
        .and_then(Value::as_i64)
        .unwrap_or(6);
    let mut conditions = conditions_of(job);
    let resumed = conditions.iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Suspended")
            && c.get("status").and_then(Value::as_str) == Some("True")
    });
    if resumed {
        set_condition(
            &mut conditions,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            false,
        );
    }
    let mut status = Map::new();
    status.insert("startTime".to_owned(), json!(start_time));
    let finished_at = job
        .pointer("/status/completionTime")
        .cloned()
        .unwrap_or_else(|| json!(meta::now()));
    match phase {
        Phase::Ready => {
            counts(&mut status, &[("succeeded", completions)]);
            status.insert("ready".to_owned(), json!(0));
            status.insert("terminating".to_owned(), json!(0));
            status.insert("completionTime".to_owned(), finished_at);
            set_condition(
                &mut conditions,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                false,
            );
            set_condition(
                &mut conditions,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                false,
            );
        }
        Phase::Failed(Failure::JobFail) => {
            counts(&mut status, &[("failed", backoff_limit + 1)]);
            status.insert("ready".to_owned(), json!(0));
            status.insert("terminating".to_owned(), json!(0));
            set_condition(
                &mut conditions,
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                false,
            );
            set_condition(
                &mut conditions,
                "Failed",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                false,
            );
        }
        Phase::Starting | Phase::Failed(_) => {
            counts(&mut status, &[("active", active)]);
            status.insert("ready".to_owned(), json!(0));
            status.insert("terminating".to_owned(), json!(0));
        }
    }
    status.insert("uncountedTerminatedPods".to_owned(), json!({}));
    // The Job controller stamps its conditions' probe time too.
    for c in &mut conditions {
        if c.get("lastProbeTime").is_none_or(Value::is_null) {
            c["lastProbeTime"] = c["lastTransitionTime"].clone();
        }
    }
    if !conditions.is_empty() {
        status.insert("conditions".to_owned(), Value::Array(conditions));
    }
    Value::Object(status)
}

/// Replaces `.status` of a copy of `obj`; `None` when it would not change.
pub(crate) fn with_status(obj: &Value, status: Value) -> Option<Value> {
    if obj.get("status") == Some(&status) {
        return None;
    }
    let mut updated = obj.clone();
    updated["status"] = status;
    Some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> Value {
        json!({ "metadata": { "name": "web", "generation": 2 }, "spec": { "replicas": 2, "template": {} } })
    }

    #[test]
    fn ready_deployment_reports_available_replicas_and_conditions() {
        let status = deployment(&deploy(), Phase::Ready, false);
        assert_eq!(status["readyReplicas"], 2);
        assert_eq!(status["availableReplicas"], 2);
        assert_eq!(status["observedGeneration"], 2);
        assert_eq!(status["conditions"][0]["type"], "Available");
        assert_eq!(status["conditions"][0]["status"], "True");
    }

    #[test]
    fn reconciling_twice_gives_the_same_status() {
        let mut obj = deploy();
        obj["status"] = deployment(&obj, Phase::Ready, false);
        assert!(with_status(&obj, deployment(&obj, Phase::Ready, false)).is_none());
    }

    #[test]
    fn failed_job_reports_backoff_limit_exceeded() {
        let job_obj = json!({ "metadata": { "name": "migrate" }, "spec": { "backoffLimit": 2 } });
        let status = job(
            &job_obj,
            Phase::Failed(Failure::JobFail),
            "2025-01-01T00:00:00Z",
            1,
        );
        assert_eq!(status["failed"], 3);
        let failed = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Failed")
            .unwrap();
        assert_eq!(failed["reason"], "BackoffLimitExceeded");
    }
}
