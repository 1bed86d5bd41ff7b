//! What still runs of a suspended store. The SDK's readiness helpers say
//! whether a workload is up; a paused store needs the opposite question:
//! has it stopped? (The woocommerce engine has the same helpers: engines
//! depend only on the SDK.)

use serde_json::Value;

/// What a Deployment or StatefulSet that should run no Pod still waits for,
/// worded to follow `waiting for ` (`backend to stop (1 running)`), or
/// `None` once it is at zero: `spec.replicas` 0 and no current, ready or
/// terminating replica in its status. A workload that does not exist runs
/// nothing.
pub(crate) fn still_running(label: &str, object: Option<&Value>) -> Option<String> {
    let object = object?;
    if object["spec"]["replicas"].as_i64().unwrap_or(1) != 0 {
        return Some(format!("{label} to be scaled to 0"));
    }
    let status = &object["status"];
    let count = |key: &str| status[key].as_i64().unwrap_or(0);
    let left = count("replicas")
        .max(count("readyReplicas"))
        .max(count("terminatingReplicas"));
    (left > 0).then(|| format!("{label} to stop ({left} running)"))
}

/// What a Job of a suspended store still waits for: its running Pods to
/// stop (the chart suspends an unfinished Job). `None` when none runs.
pub(crate) fn job_still_running(label: &str, name: &str, object: Option<&Value>) -> Option<String> {
    let active = object?["status"]["active"].as_i64().unwrap_or(0);
    (active > 0).then(|| format!("{label} Job {name} to stop ({active} running)"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_workload_at_zero_or_gone_has_stopped() {
        let stopped =
            json!({"spec": {"replicas": 0}, "status": {"replicas": 0, "readyReplicas": 0}});
        assert_eq!(still_running("PostgreSQL", Some(&stopped)), None);
        assert_eq!(
            still_running("PostgreSQL", Some(&json!({"spec": {"replicas": 0}}))),
            None
        );
        assert_eq!(still_running("PostgreSQL", None), None);
    }

    #[test]
    fn a_workload_still_running_or_not_scaled_down_is_waited_for() {
        let stopping =
            json!({"spec": {"replicas": 0}, "status": {"replicas": 1, "readyReplicas": 1}});
        assert_eq!(
            still_running("storefront", Some(&stopping)).as_deref(),
            Some("storefront to stop (1 running)")
        );
        let terminating = json!({"spec": {"replicas": 0}, "status": {"terminatingReplicas": 1}});
        assert!(still_running("storefront", Some(&terminating)).is_some());
        let not_applied = json!({"spec": {"replicas": 1}, "status": {"replicas": 0}});
        assert_eq!(
            still_running("storefront", Some(&not_applied)).as_deref(),
            Some("storefront to be scaled to 0")
        );
        // `replicas` unset means 1.
        assert!(still_running("storefront", Some(&json!({}))).is_some());
    }

    #[test]
    fn a_job_has_stopped_when_no_pod_is_active() {
        let running = json!({"status": {"active": 1}});
        assert_eq!(
            job_still_running("init", "shop-init-1", Some(&running)).as_deref(),
            Some("init Job shop-init-1 to stop (1 running)")
        );
        let done = json!({"status": {"succeeded": 1}});
        assert_eq!(job_still_running("init", "shop-init-1", Some(&done)), None);
        assert_eq!(job_still_running("init", "shop-init-1", None), None);
    }
}
