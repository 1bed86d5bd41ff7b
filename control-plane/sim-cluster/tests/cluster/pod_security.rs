//! PodSecurity admission as kube-apiserver 1.37 applies it: Pods refused,
//! workloads accepted with a warning and then failing to create their pods
//! the way the real controllers report it, namespaces warned about their
//! existing pods. Expected texts were read from a real kube-apiserver
//! 1.37.2 (and kube-controller-manager) for the same requests.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::http::{request, served};
use super::{condition, deployment, events_with_reason, json_of, object, wait_for};

/// The violations of a container named `name` with no security context,
/// as the plugin lists them.
fn violations(name: &str) -> String {
    format!(
        "allowPrivilegeEscalation != false (container \"{name}\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"{name}\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"{name}\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"{name}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    )
}

async fn restricted_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &object(json!({ "metadata": { "name": name, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted" } } })),
        )
        .await
        .unwrap();
}

fn plain_pod(name: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name },
            "spec": { "containers": [{ "name": name, "image": "nginx" }] } })
}

#[tokio::test]
async fn a_violating_pod_is_forbidden_and_a_compliant_one_admitted() {
    let (_cluster, client) = super::instant_cluster();
    restricted_namespace(&client, "p1").await;
    let pods: Api<Pod> = Api::namespaced(client, "p1");
    let err = match pods
        .create(&PostParams::default(), &object(plain_pod("plain2")))
        .await
    {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        format!(
            "pods \"plain2\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
            violations("plain2")
        )
    );
    let hardened = json!({ "metadata": { "name": "hardened" }, "spec": {
        "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
        "containers": [{ "name": "web", "image": "nginx", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } } }] } });
    pods.create(&PostParams::default(), &object(hardened))
        .await
        .unwrap();
}

#[tokio::test]
async fn workloads_are_accepted_with_a_warning_and_their_pods_fail_to_create() {
    let (cluster, addr) = served().await;
    let client = cluster.client();
    restricted_namespace(&client, "p1").await;
    let host = addr.to_string();
    let accepted = request(
        addr,
        "POST",
        "/apis/apps/v1/namespaces/p1/deployments",
        &[("Host", &host), ("Content-Type", "application/json")],
        deployment("web", 1).to_string().as_bytes(),
    )
    .await;
    assert_eq!(accepted.code, 201);
    assert_eq!(
        accepted.header("warning"),
        [format!(
            "299 - \"would violate PodSecurity \\\"restricted:latest\\\": {}\"",
            violations("main").replace('"', "\\\"")
        )]
    );

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "p1");
    let failed = wait_for(&deployments, "web", |d: Option<&Deployment>| {
        d.is_some_and(|d| condition(&json_of(d), "ReplicaFailure")["status"] == "True")
    })
    .await;
    let failure = condition(&json_of(&failed), "ReplicaFailure");
    assert_eq!(failure["reason"], "FailedCreate");
    let message = failure["message"].as_str().unwrap();
    let expected_end = format!(
        "\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
        violations("main")
    );
    assert!(
        message.starts_with("pods \"web-") && message.ends_with(&expected_end),
        "{message}"
    );
    let progressing = condition(&json_of(&failed), "Progressing");
    assert_eq!(progressing["reason"], "NewReplicaSetCreated");
    let events = events_with_reason(&client, "p1", "FailedCreate").await;
    assert!(
        events
            .iter()
            .any(|e| e["involvedObject"]["kind"] == "ReplicaSet"
                && e["message"] == format!("Error creating: {message}")),
        "{events:?}"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "p1");
    assert!(
        pods.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Lifting the label lets the controller create the pods on its retry.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            "p1",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": {
                "pod-security.kubernetes.io/enforce": null } } })),
        )
        .await
        .unwrap();
    let recovered = wait_for(&deployments, "web", |d: Option<&Deployment>| {
        d.is_some_and(|d| json_of(d)["status"]["availableReplicas"] == 1)
    })
    .await;
    assert_eq!(
        condition(&json_of(&recovered), "ReplicaFailure"),
        Value::Null
    );
}

#[tokio::test]
async fn statefulset_and_job_controllers_report_refused_pods_on_their_object() {
    let (_cluster, client) = super::instant_cluster();
    restricted_namespace(&client, "p1").await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "p1");
    sets.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "db" }, "spec": {
            "serviceName": "db", "replicas": 1,
            "selector": { "matchLabels": { "app": "db" } },
            "template": { "metadata": { "labels": { "app": "db" } },
                          "spec": { "containers": [{ "name": "db", "image": "mysql" }] } } } })),
    )
    .await
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "p1");
    jobs.create(
        &PostParams::default(),
        &object(json!({ "metadata": { "name": "mig" }, "spec": { "template": { "spec": {
            "restartPolicy": "Never", "containers": [{ "name": "mig", "image": "busybox" }] } } } })),
    )
    .await
    .unwrap();

    let set = wait_for(&sets, "db", |s: Option<&StatefulSet>| {
        s.is_some_and(|s| json_of(s)["status"]["observedGeneration"] == 1)
    })
    .await;
    let status = json_of(&set)["status"].clone();
    assert_eq!(
        (&status["replicas"], &status["availableReplicas"]),
        (&json!(0), &json!(0))
    );
    let job = wait_for(&jobs, "mig", |j: Option<&Job>| {
        j.is_some_and(|j| json_of(j)["status"]["startTime"].is_string())
    })
    .await;
    let job_status = json_of(&job)["status"].clone();
    assert_eq!(job_status["active"], Value::Null);
    assert_eq!(job_status["conditions"], Value::Null);

    let events = events_with_reason(&client, "p1", "FailedCreate").await;
    let message_for = |kind: &str| {
        events
            .iter()
            .find(|e| e["involvedObject"]["kind"] == kind)
            .and_then(|e| e["message"].as_str())
            .unwrap_or_else(|| panic!("no FailedCreate on a {kind}: {events:?}"))
            .to_owned()
    };
    assert_eq!(
        message_for("StatefulSet"),
        format!(
            "Create Pod db-0 in StatefulSet db failed error: pods \"db-0\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
            violations("db")
        )
    );
    let job_message = message_for("Job");
    assert!(
        job_message.starts_with("Error creating: pods \"mig-")
            && job_message.ends_with(&format!(
                "\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
                violations("mig")
            )),
        "{job_message}"
    );
}

#[tokio::test]
async fn labelling_a_namespace_warns_about_pods_that_now_violate_it() {
    let (cluster, addr) = served().await;
    let client = cluster.client();
    super::namespace(&client, "p1").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "p1");
    pods.create(&PostParams::default(), &object(plain_pod("plain")))
        .await
        .unwrap();
    let host = addr.to_string();
    let labelled = request(
        addr,
        "PATCH",
        "/api/v1/namespaces/p1",
        &[
            ("Host", &host),
            ("Content-Type", "application/merge-patch+json"),
        ],
        br#"{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}"#,
    )
    .await;
    assert_eq!(labelled.code, 200);
    assert_eq!(
        labelled.header("warning"),
        [
            "299 - \"existing pods in namespace \\\"p1\\\" violate the new PodSecurity enforce level \\\"restricted:latest\\\"\"",
            "299 - \"plain: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile\"",
        ]
    );
    // The pod stays: enforcement applies to new pods only.
    assert!(pods.get_opt("plain").await.unwrap().is_some());

    let invalid = request(
        addr,
        "PATCH",
        "/api/v1/namespaces/p1",
        &[
            ("Host", &host),
            ("Content-Type", "application/merge-patch+json"),
        ],
        br#"{"metadata":{"labels":{"pod-security.kubernetes.io/warn":"loud"}}}"#,
    )
    .await;
    assert_eq!(invalid.code, 422);
    assert_eq!(
        invalid.json()["message"],
        "Namespace \"p1\" is invalid: metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: \"loud\": must be one of privileged, baseline, restricted"
    );
}
