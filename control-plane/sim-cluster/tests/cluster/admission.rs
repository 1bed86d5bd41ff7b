//! Admission as kube-apiserver 1.37 does it — ResourceQuota, LimitRanger,
//! NamespaceLifecycle, server-side apply conflicts — with its exact words
//! (each expected message was read from a real kube-apiserver 1.37.2 for
//! the same request).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Service,
};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{condition, deployment, instant_cluster, json_of, namespace, object, wait_for};

fn api_error(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// storeplane's platform quota, smaller.
fn quota() -> ResourceQuota {
    object(json!({
        "metadata": { "name": "storeplane-quota" },
        "spec": { "hard": {
            "requests.cpu": "1", "requests.memory": "1Gi",
            "limits.cpu": "2", "limits.memory": "2Gi",
            "pods": "3", "services": "2", "persistentvolumeclaims": "1", "requests.storage": "5Gi",
        }}
    }))
}

fn pod(name: &str, cpu: &str, memory: &str) -> Pod {
    object(json!({
        "metadata": { "name": name },
        "spec": { "containers": [{ "name": "web", "image": "nginx", "resources": {
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "cpu": "1", "memory": "1Gi" },
        }}]}
    }))
}

async fn used(quotas: &Api<ResourceQuota>) -> Value {
    json_of(&quotas.get("storeplane-quota").await.unwrap())["status"]["used"].clone()
}

#[tokio::test]
async fn a_new_quota_reports_hard_and_zero_usage_at_once() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "q").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client, "q");
    let created = quotas
        .create(&PostParams::default(), &quota())
        .await
        .unwrap();
    assert_eq!(
        json_of(&created)["status"],
        json!({
            "hard": {"limits.cpu": "2", "limits.memory": "2Gi", "persistentvolumeclaims": "1", "pods": "3",
                     "requests.cpu": "1", "requests.memory": "1Gi", "requests.storage": "5Gi", "services": "2"},
            "used": {"limits.cpu": "0", "limits.memory": "0", "persistentvolumeclaims": "0", "pods": "0",
                     "requests.cpu": "0", "requests.memory": "0", "requests.storage": "0", "services": "0"},
        })
    );
}

#[tokio::test]
async fn a_pod_over_the_quota_is_refused_and_usage_follows_creates_and_deletes() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "q").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "q");
    quotas
        .create(&PostParams::default(), &quota())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "q");

    let big = api_error(
        pods.create(&PostParams::default(), &pod("big", "1500m", "512Mi"))
            .await
            .unwrap_err(),
    );
    assert_eq!((big.code, big.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        big.message,
        "pods \"big\" is forbidden: exceeded quota: storeplane-quota, requested: requests.cpu=1500m, used: requests.cpu=0, limited: requests.cpu=1"
    );

    pods.create(&PostParams::default(), &pod("ok1", "600m", "512Mi"))
        .await
        .unwrap();
    assert_eq!(
        used(&quotas).await,
        json!({"limits.cpu": "1", "limits.memory": "1Gi", "persistentvolumeclaims": "0", "pods": "1",
               "requests.cpu": "600m", "requests.memory": "512Mi", "requests.storage": "0", "services": "0"})
    );

    // A generated name is already in the message: the check runs after
    // name generation.
    let mut second = json_of(&pod("", "600m", "600Mi"));
    second["metadata"] = json!({ "generateName": "gen-" });
    let err = api_error(
        pods.create(&PostParams::default(), &object(second))
            .await
            .unwrap_err(),
    );
    let rest = err
        .message
        .strip_prefix("pods \"gen-")
        .unwrap_or_else(|| panic!("{}", err.message));
    assert_eq!(
        &rest[5..],
        "\" is forbidden: exceeded quota: storeplane-quota, requested: requests.cpu=600m,requests.memory=600Mi, used: requests.cpu=600m,requests.memory=512Mi, limited: requests.cpu=1,requests.memory=1Gi"
    );

    pods.delete("ok1", &DeleteParams::default()).await.unwrap();
    assert_eq!(used(&quotas).await["requests.cpu"], "0");
    assert_eq!(used(&quotas).await["pods"], "0");
}

#[tokio::test]
async fn pods_without_requests_must_specify_them_when_the_quota_tracks_them() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "q").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "q");
    quotas
        .create(&PostParams::default(), &quota())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "q");
    let bare: Pod = object(json!({
        "metadata": { "name": "nores" },
        "spec": { "containers": [{ "name": "web", "image": "nginx" }, { "name": "side", "image": "busybox" }] }
    }));
    let err = api_error(
        pods.create(&PostParams::default(), &bare)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.message,
        "pods \"nores\" is forbidden: failed quota: storeplane-quota: must specify limits.cpu for: side,web; limits.memory for: side,web; requests.cpu for: side,web; requests.memory for: side,web"
    );
}

#[tokio::test]
async fn services_and_claims_count_against_the_quota() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "q").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "q");
    quotas
        .create(&PostParams::default(), &quota())
        .await
        .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "q");
    let claim = |name: &str, size: &str| -> PersistentVolumeClaim {
        object(json!({
            "metadata": { "name": name },
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": size } } }
        }))
    };
    claims
        .create(&PostParams::default(), &claim("data", "2Gi"))
        .await
        .unwrap();
    let err = api_error(
        claims
            .create(&PostParams::default(), &claim("more", "1Gi"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.message,
        "persistentvolumeclaims \"more\" is forbidden: exceeded quota: storeplane-quota, requested: persistentvolumeclaims=1, used: persistentvolumeclaims=1, limited: persistentvolumeclaims=1"
    );
    let services: Api<Service> = Api::namespaced(client, "q");
    for name in ["a", "b"] {
        services
            .create(
                &PostParams::default(),
                &object(
                    json!({ "metadata": { "name": name }, "spec": { "ports": [{ "port": 80 }] } }),
                ),
            )
            .await
            .unwrap();
    }
    let used = used(&quotas).await;
    assert_eq!(
        (
            &used["services"],
            &used["requests.storage"],
            &used["persistentvolumeclaims"]
        ),
        (&json!("2"), &json!("2Gi"), &json!("1"))
    );
}

#[tokio::test]
async fn a_finished_job_pod_gives_its_quota_back() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "q").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "q");
    quotas
        .create(&PostParams::default(), &quota())
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "q");
    jobs.create(
        &PostParams::default(),
        &object(json!({
            "metadata": { "name": "setup" },
            "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [{
                "name": "run", "image": "busybox",
                "resources": { "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "cpu": "100m", "memory": "64Mi" } },
            }]}}}
        })),
    )
    .await
    .unwrap();
    wait_for(&jobs, "setup", |job: Option<&Job>| {
        job.is_some_and(|j| condition(&json_of(j), "Complete")["status"] == "True")
    })
    .await;
    // The pod stays (Succeeded) but no longer holds compute resources.
    let used = used(&quotas).await;
    assert_eq!(
        (&used["pods"], &used["requests.cpu"]),
        (&json!("0"), &json!("0"))
    );
}

fn limit_range() -> LimitRange {
    object(json!({
        "metadata": { "name": "storeplane-limits" },
        "spec": { "limits": [
            { "type": "Container",
              "default": { "cpu": "500m", "memory": "512Mi" },
              "defaultRequest": { "cpu": "100m", "memory": "128Mi" },
              "max": { "cpu": "4", "memory": "8Gi" } },
            { "type": "PersistentVolumeClaim", "max": { "storage": "10Gi" } },
        ]}
    }))
}

#[tokio::test]
async fn limit_range_defaults_fill_containers_and_max_refuses_pods_and_claims() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "l").await;
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "l");
    ranges
        .create(&PostParams::default(), &limit_range())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "l");
    let defaulted = pods
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": { "name": "defaulted" },
                "spec": { "containers": [
                    { "name": "web", "image": "nginx" },
                    { "name": "side", "image": "busybox", "resources": { "limits": { "cpu": "1" } } },
                ]}
            })),
        )
        .await
        .unwrap();
    let defaulted = json_of(&defaulted);
    assert_eq!(
        defaulted["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web; memory request for container side; memory limit for container side"
    );
    assert_eq!(
        defaulted["spec"]["containers"][1]["resources"],
        json!({ "limits": { "cpu": "1", "memory": "512Mi" }, "requests": { "cpu": "1", "memory": "128Mi" } })
    );

    let huge = api_error(
        pods.create(
            &PostParams::default(),
            &object(json!({
                "metadata": { "name": "huge" },
                "spec": { "containers": [{ "name": "web", "image": "nginx",
                    "resources": { "limits": { "cpu": "5", "memory": "10Gi" } } }] }
            })),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        huge.message,
        "pods \"huge\" is forbidden: [maximum cpu usage per Container is 4, but limit is 5, maximum memory usage per Container is 8Gi, but limit is 10Gi]"
    );
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client, "l");
    let err = api_error(
        claims
            .create(
                &PostParams::default(),
                &object(json!({
                    "metadata": { "name": "data" },
                    "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "20Gi" } } }
                })),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.message,
        "persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
    );
}

#[tokio::test]
async fn a_deployment_whose_pods_exceed_the_limit_range_reports_replica_failure() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "l").await;
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "l");
    ranges
        .create(&PostParams::default(), &limit_range())
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "l");
    let mut too_big = deployment("hugedep", 1);
    too_big["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({ "limits": { "cpu": "5" } });
    // The Deployment itself is accepted: LimitRanger only looks at pods.
    deployments
        .create(&PostParams::default(), &object(too_big))
        .await
        .unwrap();
    let failed = wait_for(&deployments, "hugedep", |d: Option<&Deployment>| {
        d.is_some_and(|d| condition(&json_of(d), "ReplicaFailure")["status"] == "True")
    })
    .await;
    let failed = json_of(&failed);
    let failure = condition(&failed, "ReplicaFailure");
    assert_eq!(failure["reason"], "FailedCreate");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.starts_with("pods \"hugedep-")
            && message
                .ends_with("\" is forbidden: maximum cpu usage per Container is 4, but limit is 5"),
        "{message}"
    );
    let available = condition(&failed, "Available");
    assert_eq!(
        (&available["status"], &available["reason"]),
        (&json!("False"), &json!("MinimumReplicasUnavailable"))
    );
    assert_eq!(failed["status"]["unavailableReplicas"], 1);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "l");
    assert!(
        pods.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let events = super::events_with_reason(&client, "l", "FailedCreate").await;
    assert!(
        events.iter().any(|e| e["type"] == "Warning"
            && e["involvedObject"]["kind"] == "ReplicaSet"
            && e["source"]["component"] == "replicaset-controller"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Error creating: pods \"hugedep-"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_system_namespaces_cannot_be_deleted() {
    let (_cluster, client) = instant_cluster();
    let namespaces: Api<Namespace> = Api::all(client);
    for name in ["default", "kube-system", "kube-public"] {
        let err = api_error(
            namespaces
                .delete(name, &DeleteParams::default())
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (err.code, err.message),
            (
                403,
                format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted")
            )
        );
    }
}

#[tokio::test]
async fn apply_conflicts_name_every_field_and_its_manager() {
    let (_cluster, client) = instant_cluster();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let apply = |manager: &str, force: bool| {
        let mut params = PatchParams::apply(manager);
        params.force = force;
        params
    };
    maps.patch(
        "ssa",
        &apply("one", false),
        &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "ssa", "labels": { "a": "1" } },
            "data": { "k": "v", "j": "w" },
        })),
    )
    .await
    .unwrap();
    maps.patch(
        "ssa",
        &PatchParams {
            field_manager: Some("kubectl-edit".to_owned()),
            ..Default::default()
        },
        &Patch::Merge(json!({ "data": { "j": "changed" } })),
    )
    .await
    .unwrap();

    let one = api_error(
        maps.patch(
            "ssa",
            &apply("two", false),
            &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "ssa" }, "data": { "k": "other" } })),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (one.code, one.reason.as_str(), one.message.as_str()),
        (
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"one\": .data.k"
        )
    );

    let three = api_error(
        maps.patch(
            "ssa",
            &apply("two", false),
            &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "ssa", "labels": { "a": "2" } },
                "data": { "k": "other", "j": "x" } })),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        three.message,
        "Apply failed with 3 conflicts: conflicts with \"kubectl-edit\" using v1:\n- .data.j\nconflicts with \"one\":\n- .data.k\n- .metadata.labels.a"
    );
    let details = three.details.unwrap();
    assert!(details.name.is_empty() && details.kind.is_empty());
    let mut causes: Vec<(String, String, String)> = details
        .causes
        .into_iter()
        .map(|c| (c.reason, c.message, c.field))
        .collect();
    causes.sort();
    assert_eq!(
        causes,
        [
            (
                "FieldManagerConflict",
                "conflict with \"kubectl-edit\" using v1",
                ".data.j"
            ),
            ("FieldManagerConflict", "conflict with \"one\"", ".data.k"),
            (
                "FieldManagerConflict",
                "conflict with \"one\"",
                ".metadata.labels.a"
            ),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );

    let forced = maps
        .patch(
            "ssa",
            &apply("two", true),
            &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "ssa" }, "data": { "k": "other" } })),
        )
        .await
        .unwrap();
    assert_eq!(json_of(&forced)["data"]["k"], "other");
}

#[tokio::test]
async fn an_apply_conflict_inside_the_container_list_names_the_container() {
    let (_cluster, client) = instant_cluster();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let template = |image: &str| {
        json!({ "metadata": { "labels": { "app": "cd" } },
                "spec": { "containers": [{ "name": "nginx", "image": image }] } })
    };
    // What `kubectl create deployment cd --image=nginx` sends.
    deployments
        .create(
            &PostParams {
                field_manager: Some("kubectl-create".to_owned()),
                ..Default::default()
            },
            &object(json!({
                "metadata": { "name": "cd", "labels": { "app": "cd" } },
                "spec": { "replicas": 1, "selector": { "matchLabels": { "app": "cd" } },
                          "template": template("nginx") }
            })),
        )
        .await
        .unwrap();
    let err = api_error(
        deployments
            .patch(
                "cd",
                &PatchParams::apply("two"),
                &Patch::Apply(json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "cd" },
                    "spec": { "replicas": 3, "selector": { "matchLabels": { "app": "cd" } },
                              "template": template("nginx:2") }
                })),
            )
            .await
            .unwrap_err(),
    );
    // Defaults (strategy, progressDeadlineSeconds, ...) belong to nobody,
    // so they do not conflict; the container is named by its key.
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
}
