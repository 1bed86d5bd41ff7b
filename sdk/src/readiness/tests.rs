use serde_json::json;

use super::*;
use crate::testing::FakeHost;

fn waiting(what: &str) -> Readiness {
    Readiness::Waiting(what.to_owned())
}

#[test]
fn a_workload_not_created_yet_is_waited_for_by_kind_and_name() {
    assert_eq!(
        Workload::deployment("WordPress", "shop-wordpress").readiness(None),
        waiting("Deployment shop-wordpress to be created")
    );
    assert_eq!(
        Workload::stateful_set("MySQL", "shop-mysql").readiness(None),
        waiting("StatefulSet shop-mysql to be created")
    );
    assert_eq!(
        Workload::job("setup", "shop-setup-1").readiness(None),
        waiting("setup Job shop-setup-1 to be created")
    );
}

#[test]
fn a_deployment_is_ready_with_an_available_replica_and_fails_when_it_cannot_progress() {
    let web = Workload::deployment("WordPress", "shop-wordpress");
    let available = json!({"spec": {"replicas": 2}, "status": {"availableReplicas": 1}});
    assert_eq!(web.readiness(Some(&available)), Readiness::Ready);

    let starting = json!({"spec": {"replicas": 1}, "status": {}});
    assert_eq!(
        web.readiness(Some(&starting)),
        waiting("WordPress (waiting for the first replica to become available)")
    );

    let stuck = json!({"status": {"conditions": [{
        "type": "Progressing", "status": "False",
        "reason": "ProgressDeadlineExceeded", "message": "timed out"
    }]}});
    assert_eq!(
        web.readiness(Some(&stuck)),
        Readiness::Failed {
            reason: "ProgressDeadlineExceeded".into(),
            message: "WordPress Deployment shop-wordpress: timed out".into(),
        }
    );
}

#[test]
fn a_stateful_set_is_ready_when_every_replica_is() {
    let db = Workload::stateful_set("PostgreSQL", "shop-postgres");
    let half = json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
    assert_eq!(db.readiness(Some(&half)), waiting("PostgreSQL (1/2 ready)"));
    let all = json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 2}});
    assert!(db.readiness(Some(&all)).is_ready());
}

#[test]
fn a_job_says_what_it_does_while_it_runs_and_fails_as_a_setup_failure() {
    let running = json!({"status": {"active": 1, "failed": 2}});
    assert_eq!(
        Workload::job("setup", "j").readiness(Some(&running)),
        waiting("setup Job j (1 running, 2 failed attempts)")
    );
    assert_eq!(
        Workload::job("init", "j")
            .doing("migrations, seed")
            .readiness(Some(&running)),
        waiting("init Job j (migrations, seed; 1 running, 2 failed attempts)")
    );

    let gave_up = json!({"status": {"conditions": [{
        "type": "Failed", "status": "True",
        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"
    }]}});
    assert_eq!(
        Workload::job("setup", "j").readiness(Some(&gave_up)),
        Readiness::Failed {
            reason: JOB_FAILED_REASON.into(),
            message: "setup Job j failed (BackoffLimitExceeded): Job has reached the specified \
                      backoff limit; its Pod logs name the step that failed"
                .into(),
        }
    );

    let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
    assert!(
        Workload::job("setup", "j")
            .readiness(Some(&done))
            .is_ready()
    );
}

#[test]
fn doing_is_only_said_of_jobs() {
    let set = json!({"spec": {"replicas": 1}, "status": {}});
    assert_eq!(
        Workload::stateful_set("MySQL", "m")
            .doing("ignored")
            .readiness(Some(&set)),
        waiting("MySQL (0/1 ready)")
    );
}

fn store_objects() -> FakeHost {
    FakeHost::new()
        .with_object(json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "shop-setup"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}
        }))
        .with_object(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "shop-mysql"},
            "spec": {"replicas": 1}, "status": {"readyReplicas": 0}
        }))
}

#[test]
fn observe_all_joins_what_every_workload_waits_for_in_order() {
    let host = store_objects();
    let workloads = [
        Workload::job("setup", "shop-setup"),
        Workload::stateful_set("MySQL", "shop-mysql"),
        Workload::deployment("WordPress", "shop-wordpress"),
    ];
    assert_eq!(
        observe_all(&host, &workloads).unwrap(),
        waiting("MySQL (0/1 ready); Deployment shop-wordpress to be created")
    );
    assert_eq!(
        host.call_summaries(),
        [
            "kube.get Job/shop-setup",
            "kube.get StatefulSet/shop-mysql",
            "kube.get Deployment/shop-wordpress"
        ]
    );
}

#[test]
fn observe_all_is_ready_only_when_every_workload_is() {
    let host = store_objects();
    let job = [Workload::job("setup", "shop-setup")];
    assert_eq!(observe_all(&host, &job).unwrap(), Readiness::Ready);
    assert_eq!(observe_all(&host, &[]).unwrap(), Readiness::Ready);
}

#[test]
fn observe_all_stops_at_the_first_failure() {
    let host = FakeHost::new().with_object(json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "shop-setup"},
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}
    }));
    let workloads = [
        Workload::job("setup", "shop-setup"),
        Workload::stateful_set("MySQL", "shop-mysql"),
    ];
    let seen = observe_all(&host, &workloads).unwrap();
    assert!(
        matches!(&seen, Readiness::Failed { reason, .. } if reason == JOB_FAILED_REASON),
        "{seen:?}"
    );
    assert_eq!(host.call_summaries(), ["kube.get Job/shop-setup"]);
}

#[test]
fn host_errors_propagate() {
    let host = FakeHost::new().granting(&[]);
    let err = Workload::deployment("web", "web")
        .observe(&host)
        .unwrap_err();
    assert_eq!(err.reason, "HostCallDenied");
}

#[test]
fn stuck_release_containers_are_found_by_the_release_labels() {
    let pod = |name: &str, instance: &str| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {
                "app.kubernetes.io/name": "woocommerce",
                "app.kubernetes.io/instance": instance
            }},
            "status": {"containerStatuses": [{
                "name": "wordpress",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}
            }]}
        })
    };
    let host = FakeHost::new().with_object(pod("other-1", "other"));
    assert_eq!(
        stuck_release_container(&host, "woocommerce", "shop").unwrap(),
        None
    );
    host.put_object(pod("shop-1", "shop"));
    assert_eq!(
        stuck_release_container(&host, "woocommerce", "shop").unwrap(),
        Some((
            "ImagePullBackOff".into(),
            "pod shop-1 container wordpress: ImagePullBackOff no such image".into()
        ))
    );
}

#[test]
fn a_workload_at_zero_or_gone_has_stopped() {
    let stopped = json!({"spec": {"replicas": 0}, "status": {"replicas": 0, "readyReplicas": 0}});
    assert_eq!(still_running("MySQL", Some(&stopped)), None);
    assert_eq!(
        still_running("MySQL", Some(&json!({"spec": {"replicas": 0}}))),
        None
    );
    assert_eq!(still_running("MySQL", None), None);
}

#[test]
fn a_workload_still_running_or_not_scaled_down_is_waited_for() {
    let stopping = json!({"spec": {"replicas": 0}, "status": {"replicas": 1, "readyReplicas": 1}});
    assert_eq!(
        still_running("WordPress", Some(&stopping)).as_deref(),
        Some("WordPress to stop (1 running)")
    );
    let terminating = json!({"spec": {"replicas": 0}, "status": {"terminatingReplicas": 1}});
    assert!(still_running("WordPress", Some(&terminating)).is_some());
    let not_applied = json!({"spec": {"replicas": 1}, "status": {"replicas": 0}});
    assert_eq!(
        still_running("WordPress", Some(&not_applied)).as_deref(),
        Some("WordPress to be scaled to 0")
    );
    // `replicas` unset means 1.
    assert!(still_running("WordPress", Some(&json!({}))).is_some());
}

#[test]
fn a_job_has_stopped_when_no_pod_is_active() {
    let running = json!({"status": {"active": 1}});
    assert_eq!(
        job_still_running("setup", "shop-setup-1", Some(&running)).as_deref(),
        Some("setup Job shop-setup-1 to stop (1 running)")
    );
    let done = json!({"status": {"succeeded": 1}});
    assert_eq!(
        job_still_running("setup", "shop-setup-1", Some(&done)),
        None
    );
    assert_eq!(job_still_running("setup", "shop-setup-1", None), None);
}
