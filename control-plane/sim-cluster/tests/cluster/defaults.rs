//! What the apiserver adds to objects as it stores them: the scheme's
//! defaults (pod templates, Jobs, StatefulSets, Services), the mutating
//! admission plugins on Pods (ServiceAccount, Priority,
//! DefaultTolerationSeconds, the QoS class), and the Go types' encoding
//! (empty `omitempty` fields gone, struct fields always there). Each
//! expectation was read from a real kube-apiserver 1.37.2 for the same
//! request.

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::{instant_cluster, json_of, namespace, object};

/// Creates `body` in `ns` through the dynamic API and returns what was stored.
async fn create(
    client: &kube::Client,
    ns: &str,
    api_version: &str,
    kind: &str,
    body: Value,
) -> Value {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let mut body = body;
    body["apiVersion"] = json!(api_version);
    body["kind"] = json!(kind);
    json_of(
        &api.create(&PostParams::default(), &object(body))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn pod_templates_get_the_scheme_defaults() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let deployment = create(
        &client,
        "shop",
        "apps/v1",
        "Deployment",
        json!({
            "metadata": { "name": "web" },
            "spec": {
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": {
                        "initContainers": [{ "name": "init", "image": "busybox" }],
                        "containers": [{
                            "name": "web", "image": "nginx:1.27",
                            "ports": [{ "containerPort": 80 }],
                            "readinessProbe": { "httpGet": { "path": "/", "port": 80 } },
                        }],
                        "volumes": [{ "name": "cfg", "configMap": { "name": "c" } }],
                    },
                },
            },
        }),
    )
    .await;
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(
        spec["containers"][0],
        json!({
            "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "ports": [{ "containerPort": 80, "protocol": "TCP" }],
            "readinessProbe": {
                "httpGet": { "path": "/", "port": 80, "scheme": "HTTP" },
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3,
            },
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        })
    );
    assert_eq!(spec["initContainers"][0]["imagePullPolicy"], "Always");
    assert_eq!(spec["volumes"][0]["configMap"]["defaultMode"], 420);
    // A new Deployment prints an empty status, as its Go type does.
    assert_eq!(deployment["status"], json!({}));
}

#[tokio::test]
async fn jobs_statefulsets_and_services_get_their_defaults() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let job = create(
        &client,
        "shop",
        "batch/v1",
        "Job",
        json!({ "metadata": { "name": "migrate" }, "spec": { "template": { "spec": {
            "restartPolicy": "Never", "containers": [{ "name": "m", "image": "busybox:latest" }] } } } }),
    )
    .await;
    let uid = job["metadata"]["uid"].as_str().unwrap();
    for (field, value) in [
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("manualSelector", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
    ] {
        assert_eq!(job["spec"][field], value, "{field}");
    }
    // A Job without labels takes its template's, generated ones included.
    assert_eq!(
        job["metadata"]["labels"],
        json!({ "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "migrate",
                "controller-uid": uid, "job-name": "migrate" })
    );

    let set = create(
        &client,
        "shop",
        "apps/v1",
        "StatefulSet",
        json!({ "metadata": { "name": "db" }, "spec": {
            "serviceName": "db",
            "selector": { "matchLabels": { "app": "db" } },
            "template": { "metadata": { "labels": { "app": "db" } },
                          "spec": { "containers": [{ "name": "db", "image": "postgres" }] } },
            "volumeClaimTemplates": [{ "metadata": { "name": "data" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } }],
        } }),
    )
    .await;
    assert_eq!(
        set["spec"]["persistentVolumeClaimRetentionPolicy"],
        json!({ "whenDeleted": "Retain", "whenScaled": "Retain" })
    );
    assert_eq!(
        set["spec"]["updateStrategy"],
        json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0, "maxUnavailable": 1 } })
    );
    let claim = &set["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["apiVersion"], "v1");
    assert_eq!(claim["kind"], "PersistentVolumeClaim");
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_eq!(claim["status"], json!({ "phase": "Pending" }));

    let headless = create(
        &client,
        "shop",
        "v1",
        "Service",
        json!({ "metadata": { "name": "db" }, "spec": { "clusterIP": "None", "selector": { "app": "db" }, "ports": [{ "port": 5432 }] } }),
    )
    .await;
    assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(headless["spec"]["sessionAffinity"], "None");
    assert_eq!(headless["spec"]["internalTrafficPolicy"], "Cluster");
    let selectorless = create(
        &client,
        "shop",
        "v1",
        "Service",
        json!({ "metadata": { "name": "manual" }, "spec": { "clusterIP": "None", "ports": [{ "port": 80 }] } }),
    )
    .await;
    assert_eq!(selectorless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(selectorless["spec"]["ipFamilyPolicy"], "RequireDualStack");
}

#[tokio::test]
async fn empty_omitempty_fields_are_not_stored() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let policy = create(
        &client,
        "shop",
        "networking.k8s.io/v1",
        "NetworkPolicy",
        json!({ "metadata": { "name": "deny", "annotations": {} },
                "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": [] } }),
    )
    .await;
    assert_eq!(
        policy["spec"],
        json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"] })
    );
    assert!(policy["metadata"].get("annotations").is_none());
}

#[tokio::test]
async fn pods_pass_the_mutating_plugins_and_get_a_qos_class() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let pod = |name: &str, resources: Value| {
        json!({ "metadata": { "name": name, "annotations": {} },
                "spec": { "containers": [{ "name": "app", "image": "nginx", "resources": resources }] } })
    };
    let burstable = create(
        &client,
        "shop",
        "v1",
        "Pod",
        pod(
            "burstable",
            json!({ "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "cpu": "200m", "memory": "128Mi" } }),
        ),
    )
    .await;
    assert_eq!(burstable["status"]["qosClass"], "Burstable");
    assert!(burstable["metadata"].get("annotations").is_none());
    let spec = &burstable["spec"];
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(
        spec["tolerations"],
        json!([
            { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
            { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
        ])
    );
    let token = spec["volumes"][0]["name"].as_str().unwrap();
    assert!(token.starts_with("kube-api-access-"), "{token}");
    assert_eq!(
        spec["containers"][0]["volumeMounts"],
        json!([{ "name": token, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" }])
    );
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");

    let guaranteed = create(
        &client,
        "shop",
        "v1",
        "Pod",
        pod(
            "guaranteed",
            json!({ "limits": { "cpu": "1", "memory": "1Gi" } }),
        ),
    )
    .await;
    assert_eq!(guaranteed["status"]["qosClass"], "Guaranteed");
    let best_effort = create(&client, "shop", "v1", "Pod", pod("free", json!({}))).await;
    assert_eq!(best_effort["status"]["qosClass"], "BestEffort");

    let mut private = pod("private", json!({}));
    private["spec"]["automountServiceAccountToken"] = json!(false);
    let private = create(&client, "shop", "v1", "Pod", private).await;
    assert!(private["spec"].get("volumes").is_none());

    let mut critical = pod("critical", json!({}));
    critical["spec"]["priorityClassName"] = json!("system-cluster-critical");
    let critical = create(&client, "shop", "v1", "Pod", critical).await;
    assert_eq!(critical["spec"]["priority"], 2_000_000_000);

    let mut unknown = pod("unknown", json!({}));
    unknown["spec"]["priorityClassName"] = json!("urgent");
    unknown["apiVersion"] = json!("v1");
    unknown["kind"] = json!("Pod");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "shop");
    let refused = pods
        .create(&PostParams::default(), &object(unknown))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = refused else {
        panic!("expected an API error, got {refused:?}")
    };
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "pods \"unknown\" is forbidden: no PriorityClass with name urgent was found"
    );
}
