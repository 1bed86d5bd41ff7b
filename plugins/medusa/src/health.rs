//! Reading StatefulSet and Job status, next to the SDK's Deployment and Pod
//! helpers (`storeplane_plugin_sdk::objects`).

use serde_json::Value;

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

#[cfg(test)]
mod tests {
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
