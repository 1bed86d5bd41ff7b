//! The simulated kubelet and controllers: readiness, and injected failures
//! showing up as conditions and Warning Events.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::conditions;
use serde_json::{Value, json};
use storeplane_sim_cluster::{Failure, FailureTarget, SimCluster, SimConfig};

use super::{
    condition, deployment, instant_cluster, json_of, namespace, object, wait_for, wait_for_pod,
    waiting_reason,
};

fn is_available(obj: Option<&Deployment>) -> bool {
    obj.is_some_and(|d| condition(&json_of(d), "Available")["status"] == "True")
}

fn has_condition<'a, K: serde::Serialize>(
    type_: &'a str,
    status: &'a str,
) -> impl Fn(Option<&K>) -> bool + 'a {
    move |obj| obj.is_some_and(|o| condition(&json_of(o), type_)["status"] == status)
}

async fn warnings(client: &kube::Client, ns: &str) -> Vec<Value> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    events
        .list(&ListParams::default().fields("type=Warning"))
        .await
        .unwrap()
        .items
        .iter()
        .map(json_of)
        .collect()
}

#[tokio::test]
async fn deployment_becomes_available_with_running_pods() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 2)))
        .await
        .unwrap();
    let ready =
        json_of(&wait_for(&deployments, "web", conditions::is_deployment_completed()).await);
    assert_eq!(ready["status"]["readyReplicas"], 2);
    assert_eq!(ready["status"]["availableReplicas"], 2);
    assert_eq!(ready["status"]["observedGeneration"], 1);
    assert_eq!(condition(&ready, "Available")["status"], "True");
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    let listed = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    for pod in &listed.items {
        assert_eq!(json_of(pod)["status"]["phase"], "Running");
    }
}

#[tokio::test]
async fn statefulset_job_pvc_and_service_get_their_status() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "shop");
    let mut sts = deployment("db", 1);
    sts["kind"] = json!("StatefulSet");
    sts["spec"]["serviceName"] = json!("db");
    sts["spec"]["volumeClaimTemplates"] = json!([{
        "metadata": { "name": "data", "labels": { "tier": "db" } },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } },
    }]);
    sets.create(&PostParams::default(), &object(sts))
        .await
        .unwrap();
    let db = json_of(
        &wait_for(&sets, "db", |s: Option<&StatefulSet>| {
            s.is_some_and(|s| json_of(s)["status"]["readyReplicas"] == 1)
        })
        .await,
    );
    assert_eq!(db["status"]["readyReplicas"], 1);
    // The StatefulSet controller's claim, bound like any other.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "shop");
    let claim = json_of(
        &wait_for(&claims, "data-db-0", |c: Option<&PersistentVolumeClaim>| {
            c.is_some_and(|c| json_of(c)["status"]["phase"] == "Bound")
        })
        .await,
    );
    // The template's labels and the set's selector, nothing else (a real
    // StatefulSet controller does not add `statefulset.kubernetes.io/pod-name`),
    // the protection finalizer, and the provisioner the PV controller named.
    assert_eq!(
        claim["metadata"]["labels"],
        json!({ "tier": "db", "app": "db" })
    );
    assert_eq!(
        claim["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );
    assert_eq!(
        claim["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-provisioner"],
        "sim.storeplane.io/hostpath"
    );

    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let job = json!({ "metadata": { "name": "migrate" }, "spec": { "template": { "spec": {
        "restartPolicy": "Never", "containers": [{ "name": "m", "image": "busybox" }] } } } });
    jobs.create(&PostParams::default(), &object(job))
        .await
        .unwrap();
    let done = json_of(&wait_for(&jobs, "migrate", conditions::is_job_completed()).await);
    assert_eq!(done["status"]["succeeded"], 1);

    let pvc = json!({ "metadata": { "name": "data" }, "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } });
    claims
        .create(&PostParams::default(), &object(pvc))
        .await
        .unwrap();
    let bound = json_of(
        &wait_for(&claims, "data", |c: Option<&PersistentVolumeClaim>| {
            c.is_some_and(|c| json_of(c)["status"]["phase"] == "Bound")
        })
        .await,
    );
    assert!(
        bound["spec"]["volumeName"]
            .as_str()
            .unwrap()
            .starts_with("pvc-")
    );
    assert_eq!(bound["status"]["capacity"]["storage"], "1Gi");

    let services: Api<Service> = Api::namespaced(client, "shop");
    let svc = json!({ "metadata": { "name": "web" }, "spec": { "ports": [{ "port": 80 }] } });
    let created = json_of(
        &services
            .create(&PostParams::default(), &object(svc))
            .await
            .unwrap(),
    );
    assert!(
        created["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96.")
    );
}

#[tokio::test]
async fn image_pull_failure_by_namespace_annotation_shows_as_events_and_conditions() {
    let (_cluster, client) = instant_cluster();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = json!({ "metadata": { "name": "broken", "annotations": { "sim.storeplane.io/fail": "image-pull" } } });
    namespaces
        .create(&PostParams::default(), &object(ns))
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "broken");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "broken");
    let pod = wait_for_pod(&pods, "app=web", |p| {
        waiting_reason(p) == "ImagePullBackOff"
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    // The Deployment keeps progressing until its progressDeadlineSeconds
    // (600 s by default) pass, as on a real cluster.
    let stuck = json_of(&deployments.get("web").await.unwrap());
    assert_eq!(condition(&stuck, "Available")["status"], "False");
    assert_eq!(condition(&stuck, "Progressing")["status"], "True");
    assert_eq!(
        condition(&stuck, "Progressing")["reason"],
        "ReplicaSetUpdated"
    );
    assert!(stuck["status"].get("readyReplicas").is_none());
    let warnings = warnings(&client, "broken").await;
    assert!(
        warnings
            .iter()
            .any(|e| e["reason"] == "Failed" && e["message"] == "Error: ErrImagePull"),
        "{warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .all(|e| e["involvedObject"]["kind"] == "Pod")
    );
}

#[tokio::test]
async fn a_failing_deployment_exceeds_its_progress_deadline_only_when_it_passes() {
    let (cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    cluster.inject_failure(FailureTarget::object("shop", "web"), Failure::ImagePull);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let mut web = deployment("web", 1);
    web["spec"]["progressDeadlineSeconds"] = json!(2);
    let started = std::time::Instant::now();
    deployments
        .create(&PostParams::default(), &object(web))
        .await
        .unwrap();
    let progressing = json_of(
        &wait_for(
            &deployments,
            "web",
            has_condition::<Deployment>("Available", "False"),
        )
        .await,
    );
    assert_eq!(condition(&progressing, "Progressing")["status"], "True");
    let stuck = json_of(
        &wait_for(
            &deployments,
            "web",
            has_condition::<Deployment>("Progressing", "False"),
        )
        .await,
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let rs = json_of(
        &Api::<k8s_openapi::api::apps::v1::ReplicaSet>::namespaced(client.clone(), "shop")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items[0],
    );
    assert_eq!(
        condition(&stuck, "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
    assert_eq!(
        condition(&stuck, "Progressing")["message"],
        format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            rs["metadata"]["name"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn crash_loop_injected_through_the_api_recovers_when_cleared() {
    let (cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    cluster.inject_failure(FailureTarget::object("shop", "web"), Failure::CrashLoop);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pod = wait_for_pod(&pods, "app=web", |p| {
        waiting_reason(p) == "CrashLoopBackOff"
    })
    .await;
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 3);
    assert!(
        warnings(&client, "shop")
            .await
            .iter()
            .any(|e| e["reason"] == "BackOff")
    );

    cluster.clear_failure(&FailureTarget::object("shop", "web"));
    wait_for(&deployments, "web", is_available).await;
}

#[tokio::test]
async fn job_failure_reports_backoff_limit_exceeded() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let job = json!({ "metadata": { "name": "migrate", "annotations": { "sim.storeplane.io/fail": "job-fail" } },
        "spec": { "backoffLimit": 2, "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "m", "image": "busybox" }] } } } });
    jobs.create(&PostParams::default(), &object(job))
        .await
        .unwrap();
    let failed = json_of(&wait_for(&jobs, "migrate", has_condition::<Job>("Failed", "True")).await);
    assert_eq!(
        condition(&failed, "Failed")["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(failed["status"]["failed"], 3);
    let warnings = warnings(&client, "shop").await;
    assert!(
        warnings
            .iter()
            .any(|e| e["reason"] == "BackoffLimitExceeded"
                && e["involvedObject"]["name"] == "migrate")
    );
}

#[tokio::test]
async fn never_ready_pods_run_but_fail_readiness() {
    let (cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    cluster.inject_failure(FailureTarget::namespace("shop"), Failure::NeverReady);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pod = wait_for_pod(&pods, "app=web", |p| p["status"]["phase"] == "Running").await;
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
    assert!(
        warnings(&client, "shop")
            .await
            .iter()
            .any(|e| e["reason"] == "Unhealthy")
    );
}

#[tokio::test]
async fn without_pods_failure_events_go_on_the_workload() {
    let mut config = SimConfig::instant();
    config.simulate_pods = false;
    let cluster = SimCluster::new(config);
    let client = cluster.client();
    namespace(&client, "shop").await;
    let mut web = deployment("web", 1);
    web["metadata"]["annotations"] = json!({ "sim.storeplane.io/fail": "image-pull" });
    web["spec"]["progressDeadlineSeconds"] = json!(1);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(web))
        .await
        .unwrap();
    wait_for(
        &deployments,
        "web",
        has_condition::<Deployment>("Progressing", "False"),
    )
    .await;
    let warnings = warnings(&client, "shop").await;
    assert!(
        warnings
            .iter()
            .any(|e| e["involvedObject"]["kind"] == "Deployment"
                && e["message"] == "Error: ErrImagePull"),
        "{warnings:#?}"
    );
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn readiness_waits_for_the_configured_delay() {
    let mut config = SimConfig::instant();
    config.pod_start_delay = Duration::from_millis(300);
    let cluster = SimCluster::new(config);
    let client = cluster.client();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let started = std::time::Instant::now();
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let starting = json_of(
        &wait_for(
            &deployments,
            "web",
            has_condition::<Deployment>("Progressing", "True"),
        )
        .await,
    );
    assert_eq!(condition(&starting, "Available")["status"], "False");
    wait_for(&deployments, "web", is_available).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn deleting_a_deployment_removes_its_pods_and_deleted_pods_come_back() {
    let (_cluster, client) = instant_cluster();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    wait_for(&deployments, "web", is_available).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let name = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    pods.delete(&name, &DeleteParams::default()).await.unwrap();
    // The replacement has the same (deterministic) name.
    wait_for(&pods, &name, |p: Option<&Pod>| {
        p.is_some_and(|p| json_of(p)["status"]["phase"] == "Running")
    })
    .await;
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn scale_subresource_changes_replicas() {
    let (_cluster, client) = instant_cluster();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 1)))
        .await
        .unwrap();
    let scale = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 3 } })),
        )
        .await
        .unwrap();
    assert_eq!(json_of(&scale)["spec"]["replicas"], 3);
    wait_for(&deployments, "web", |d: Option<&Deployment>| {
        d.is_some_and(|d| json_of(d)["status"]["readyReplicas"] == 3)
    })
    .await;
}

/// `spec.suspend` as the real Job controller answers it (checked against
/// kube-controller-manager 1.37): suspended, no pod and no start time;
/// resumed, a start time and completion; a finished Job ignores it.
#[tokio::test]
async fn a_suspended_job_runs_nothing_until_resumed() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "shop");
    let job = json!({ "metadata": { "name": "setup" },
        "spec": { "suspend": true, "template": { "spec": { "restartPolicy": "Never",
            "containers": [{ "name": "s", "image": "busybox" }] } } } });
    jobs.create(&PostParams::default(), &object(job))
        .await
        .unwrap();
    let suspended =
        json_of(&wait_for(&jobs, "setup", has_condition::<Job>("Suspended", "True")).await);
    assert_eq!(condition(&suspended, "Suspended")["reason"], "JobSuspended");
    assert_eq!(
        condition(&suspended, "Suspended")["message"],
        "Job suspended"
    );
    assert!(
        suspended["status"].get("startTime").is_none(),
        "{suspended:#}"
    );
    // An instant cluster would have finished it by now were it running.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let still = json_of(&jobs.get("setup").await.unwrap());
    assert!(condition(&still, "Complete").is_null(), "{still:#}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "a suspended Job ran a pod"
    );

    let resume = json!({"spec": {"suspend": false}});
    jobs.patch("setup", &PatchParams::default(), &Patch::Merge(&resume))
        .await
        .unwrap();
    let done = json_of(&wait_for(&jobs, "setup", has_condition::<Job>("Complete", "True")).await);
    assert_eq!(condition(&done, "Suspended")["status"], "False");
    assert_eq!(condition(&done, "Suspended")["reason"], "JobResumed");
    assert_eq!(condition(&done, "Suspended")["message"], "Job resumed");
    assert!(done["status"]["startTime"].is_string(), "{done:#}");
    assert_eq!(done["status"]["succeeded"], 1);

    // Suspending a finished Job is accepted and changes nothing.
    let suspend = json!({"spec": {"suspend": true}});
    jobs.patch("setup", &PatchParams::default(), &Patch::Merge(&suspend))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = json_of(&jobs.get("setup").await.unwrap());
    assert_eq!(after["status"], done["status"]);
}
