//! Small helpers for the Kubernetes objects plugins build and read, as
//! `serde_json::Value` (the host API's currency).

use serde_json::{Map, Value, json};

/// A `v1` ConfigMap named `name` holding `data`.
pub fn config_map<K, V>(name: &str, data: impl IntoIterator<Item = (K, V)>) -> Value
where
    K: Into<String>,
    V: Into<String>,
{
    let data: Map<String, Value> = data
        .into_iter()
        .map(|(k, v)| (k.into(), Value::String(v.into())))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name },
        "data": data,
    })
}

/// How a Deployment is doing, read from its `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadHealth {
    /// At least one replica is available: the workload serves.
    Available {
        /// `status.availableReplicas`.
        available: i64,
        /// `spec.replicas` (1 when unset).
        desired: i64,
    },
    /// Not available yet, and nothing says it will not become so.
    Progressing {
        /// What the Deployment reports, for a progress message.
        message: String,
    },
    /// The Deployment reports it will not become available by itself.
    Failed {
        /// The Deployment condition's reason, e.g. `ProgressDeadlineExceeded`.
        reason: String,
        /// The condition's message.
        message: String,
    },
}

/// Reads a Deployment's health from its `status`: failed when its
/// `Progressing` condition is false (e.g. `ProgressDeadlineExceeded`) or a
/// `ReplicaFailure` condition is true, else available when
/// `availableReplicas >= 1`, else progressing.
pub fn deployment_health(deployment: &Value) -> WorkloadHealth {
    let status = &deployment["status"];
    let conditions = status["conditions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let condition = |kind: &str, value: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == kind && c["status"] == value)
    };
    if let Some(c) =
        condition("Progressing", "False").or_else(|| condition("ReplicaFailure", "True"))
    {
        return WorkloadHealth::Failed {
            reason: c["reason"]
                .as_str()
                .unwrap_or("DeploymentFailed")
                .to_owned(),
            message: c["message"].as_str().unwrap_or_default().to_owned(),
        };
    }
    let available = status["availableReplicas"].as_i64().unwrap_or(0);
    if available >= 1 {
        return WorkloadHealth::Available {
            available,
            desired: deployment["spec"]["replicas"].as_i64().unwrap_or(1),
        };
    }
    let message = condition("Progressing", "True")
        .and_then(|c| c["message"].as_str())
        .unwrap_or("waiting for the first replica to become available")
        .to_owned();
    WorkloadHealth::Progressing { message }
}

/// Container waiting reasons that will not clear up without a change.
const STUCK_REASONS: [&str; 5] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CrashLoopBackOff",
];

/// The first container among `pods` stuck waiting for a reason that needs
/// help (`ImagePullBackOff`, `CrashLoopBackOff`, ...), as `(reason, message)`.
pub fn stuck_container(pods: &[Value]) -> Option<(String, String)> {
    pods.iter().find_map(|pod| {
        let statuses = ["initContainerStatuses", "containerStatuses"]
            .iter()
            .filter_map(|key| pod["status"][key].as_array())
            .flatten();
        statuses.into_iter().find_map(|status| {
            let waiting = &status["state"]["waiting"];
            let reason = waiting["reason"].as_str()?;
            STUCK_REASONS.contains(&reason).then(|| {
                let detail = waiting["message"].as_str().unwrap_or_default();
                let message = format!(
                    "pod {} container {}: {reason} {detail}",
                    pod["metadata"]["name"].as_str().unwrap_or("?"),
                    status["name"].as_str().unwrap_or("?"),
                );
                (reason.to_owned(), message.trim_end().to_owned())
            })
        })
    })
}

// StatefulSet and Job status, used by engines that wait for databases and
// setup Jobs.

/// How a StatefulSet is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetHealth {
    /// Every desired replica is ready.
    Ready,
    /// `ready` of `desired` replicas are ready.
    Waiting {
        /// `status.readyReplicas`.
        ready: i64,
        /// `spec.replicas` (1 when unset).
        desired: i64,
    },
}

/// Reads a StatefulSet's readiness from its `status`.
pub fn statefulset_health(set: &Value) -> SetHealth {
    let desired = set["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = set["status"]["readyReplicas"].as_i64().unwrap_or(0);
    if ready >= desired {
        SetHealth::Ready
    } else {
        SetHealth::Waiting { ready, desired }
    }
}

/// How a Job is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobHealth {
    /// Condition `Complete` is true.
    Complete,
    /// Condition `Failed` is true: the Job gave up (backoff limit, deadline).
    Failed {
        /// The condition's reason, e.g. `BackoffLimitExceeded`.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// Neither yet.
    Running {
        /// Pods currently running.
        active: i64,
        /// Pods that failed so far (each is retried until the backoff limit).
        failed: i64,
    },
}

/// Reads a Job's outcome from its `status.conditions`.
pub fn job_health(job: &Value) -> JobHealth {
    let status = &job["status"];
    let conditions = status["conditions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == kind && c["status"] == "True")
    };
    if let Some(c) = holds("Failed") {
        return JobHealth::Failed {
            reason: c["reason"].as_str().unwrap_or("JobFailed").to_owned(),
            message: c["message"].as_str().unwrap_or_default().to_owned(),
        };
    }
    if holds("Complete").is_some() {
        return JobHealth::Complete;
    }
    JobHealth::Running {
        active: status["active"].as_i64().unwrap_or(0),
        failed: status["failed"].as_i64().unwrap_or(0),
    }
}

/// The 64-bit FNV-1a hash of `bytes`: a small, stable fingerprint (no
/// dependency, identical on every platform and Rust version).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The prefix of a release's object names as charts compute it in
/// `_helpers.tpl`: `{{ .Release.Name | trunc N | trimSuffix "-" }}` (Helm's
/// `trimSuffix` removes one occurrence).
pub fn release_prefix(release: &str, max_chars: usize) -> String {
    let mut prefix: String = release.chars().take(max_chars).collect();
    if prefix.ends_with('-') {
        prefix.pop();
    }
    prefix
}

/// Ten hex digits fingerprinting an engine version and the values a plugin
/// sends: a suffix for objects that must be replaced rather than updated
/// when either changes (a setup Job runs again under a new name).
pub fn values_fingerprint(engine_version: &str, values: &Value) -> String {
    let text = format!("{engine_version}\n{values}");
    format!("{:010x}", fnv1a(text.as_bytes()) & 0xff_ffff_ffff)
}

/// `<prefix>-<what>-<fingerprint>`, or `<prefix>-<what>` without one.
pub fn fingerprinted_name(prefix: &str, what: &str, fingerprint: &str) -> String {
    if fingerprint.is_empty() {
        format!("{prefix}-{what}")
    } else {
        format!("{prefix}-{what}-{fingerprint}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn release_prefixes_are_cut_like_helm_trunc_and_trim_suffix() {
        assert_eq!(release_prefix("shop", 40), "shop");
        let release = format!("{}-{}", "a".repeat(39), "b".repeat(20));
        assert_eq!(release_prefix(&release, 40), "a".repeat(39));
        assert_eq!(fingerprinted_name("shop", "setup", ""), "shop-setup");
        assert_eq!(
            fingerprinted_name("shop", "init", "0123456789"),
            "shop-init-0123456789"
        );
    }

    #[test]
    fn fingerprints_change_with_values_and_version_only() {
        let a = values_fingerprint("0.1.0", &json!({"x": 1}));
        assert_eq!(a.len(), 10);
        assert_eq!(a, values_fingerprint("0.1.0", &json!({"x": 1})));
        assert_ne!(a, values_fingerprint("0.1.0", &json!({"x": 2})));
        assert_ne!(a, values_fingerprint("0.2.0", &json!({"x": 1})));
    }

    #[test]
    fn config_map_holds_the_data_as_strings() {
        let cm = config_map("site", [("index.html", "<h1>Hi</h1>")]);
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["metadata"]["name"], "site");
        assert_eq!(cm["data"]["index.html"], "<h1>Hi</h1>");
    }

    #[test]
    fn deployment_without_status_is_progressing() {
        let health = deployment_health(&json!({"spec": {"replicas": 1}}));
        assert!(
            matches!(health, WorkloadHealth::Progressing { .. }),
            "{health:?}"
        );
    }

    #[test]
    fn deployment_with_an_available_replica_is_available() {
        let health = deployment_health(
            &json!({"spec": {"replicas": 2}, "status": {"availableReplicas": 1}}),
        );
        assert_eq!(
            health,
            WorkloadHealth::Available {
                available: 1,
                desired: 2
            }
        );
    }

    #[test]
    fn progress_deadline_exceeded_is_failed_even_with_old_replicas() {
        let health = deployment_health(&json!({
            "status": {
                "availableReplicas": 1,
                "conditions": [{
                    "type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"x\" has timed out progressing."
                }]
            }
        }));
        assert!(
            matches!(&health, WorkloadHealth::Failed { reason, .. } if reason == "ProgressDeadlineExceeded"),
            "{health:?}"
        );
    }

    #[test]
    fn image_pull_back_off_is_reported_with_pod_and_container() {
        let pods = [json!({
            "metadata": {"name": "web-1"},
            "status": {"containerStatuses": [{
                "name": "nginx",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
            }]}
        })];
        let (reason, message) = stuck_container(&pods).unwrap();
        assert_eq!(reason, "ImagePullBackOff");
        assert!(
            message.contains("web-1") && message.contains("nginx"),
            "{message}"
        );
    }

    #[test]
    fn container_creating_is_not_stuck() {
        let pods = [json!({"status": {"containerStatuses": [
            {"name": "nginx", "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]}})];
        assert_eq!(stuck_container(&pods), None);
    }
}

#[cfg(test)]
mod workload_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statefulset_is_ready_when_every_replica_is() {
        let set = json!({"spec": {"replicas": 1}, "status": {"readyReplicas": 1}});
        assert_eq!(statefulset_health(&set), SetHealth::Ready);
        let waiting = json!({"spec": {"replicas": 1}, "status": {}});
        assert_eq!(
            statefulset_health(&waiting),
            SetHealth::Waiting {
                ready: 0,
                desired: 1
            }
        );
    }

    #[test]
    fn job_conditions_decide_complete_or_failed() {
        let done = json!({"status": {"succeeded": 1, "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True"}
        ]}});
        assert_eq!(job_health(&done), JobHealth::Complete);

        let failed = json!({"status": {"failed": 3, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"
        }]}});
        assert!(matches!(
            job_health(&failed),
            JobHealth::Failed { reason, .. } if reason == "BackoffLimitExceeded"
        ));

        let running = json!({"status": {"active": 1, "failed": 1}});
        assert_eq!(
            job_health(&running),
            JobHealth::Running {
                active: 1,
                failed: 1
            }
        );
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
