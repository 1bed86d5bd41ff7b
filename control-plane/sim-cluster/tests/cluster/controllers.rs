//! The objects the controllers keep beside the workloads: a Deployment's
//! ReplicaSets (and a rollout's second one), a StatefulSet's
//! ControllerRevision and its pods' identity and claim volumes, Endpoints
//! and EndpointSlices from ready pods, the pvc-protection finalizer, and
//! Ingress addresses by configuration.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Endpoints, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::conditions;
use serde_json::{Value, json};
use storeplane_sim_cluster::{SimCluster, SimConfig};

use super::{deployment, instant_cluster, json_of, namespace, object, wait_for, wait_for_pod};

async fn list<K>(api: &Api<K>, labels: &str) -> Vec<Value>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    api.list(&ListParams::default().labels(labels))
        .await
        .unwrap()
        .items
        .iter()
        .map(json_of)
        .collect()
}

#[tokio::test]
async fn deployments_own_their_pods_through_replica_sets_and_roll_out_to_a_new_one() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(deployment("web", 2)))
        .await
        .unwrap();
    let ready =
        json_of(&wait_for(&deployments, "web", conditions::is_deployment_completed()).await);
    assert_eq!(
        ready["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "shop");
    let rs = list(&sets, "app=web").await;
    assert_eq!(rs.len(), 1);
    let rs = &rs[0];
    let name = rs["metadata"]["name"].as_str().unwrap();
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(name, format!("web-{hash}"));
    assert!(
        hash.len() <= 10
            && hash
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
    );
    assert_eq!(
        rs["metadata"]["annotations"],
        json!({ "deployment.kubernetes.io/desired-replicas": "2",
                "deployment.kubernetes.io/max-replicas": "3",
                "deployment.kubernetes.io/revision": "1" })
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    assert_eq!(rs["status"]["readyReplicas"], 2);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    for pod in list(&pods, "app=web").await {
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["name"], name);
        assert_eq!(pod["metadata"]["generateName"], format!("{name}-"));
        assert_eq!(
            pod["metadata"]["labels"]["topology.kubernetes.io/zone"],
            "zone-0"
        );
    }

    // A template change: a second ReplicaSet, the first scaled to zero.
    let patch =
        json!({ "spec": { "template": { "metadata": { "annotations": { "rollout": "2" } } } } });
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let rolled = json_of(
        &wait_for(&deployments, "web", |d: Option<&Deployment>| {
            d.is_some_and(|d| {
                json_of(d)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
                    && json_of(d)["status"]["availableReplicas"] == 2
            })
        })
        .await,
    );
    assert_eq!(rolled["status"]["observedGeneration"], 2);
    let mut rs = list(&sets, "app=web").await;
    rs.sort_by_key(|r| {
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"].to_string()
    });
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0]["spec"]["replicas"], 0);
    assert_eq!(rs[0]["metadata"]["name"], name);
    assert_eq!(rs[1]["spec"]["replicas"], 2);
    let new_name = rs[1]["metadata"]["name"].as_str().unwrap();
    let pods_now = list(&pods, "app=web").await;
    assert_eq!(pods_now.len(), 2);
    assert!(
        pods_now
            .iter()
            .all(|p| p["metadata"]["ownerReferences"][0]["name"] == new_name)
    );
    let messages: Vec<String> = super::events_with_reason(&client, "shop", "ScalingReplicaSet")
        .await
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        messages.contains(&format!("Scaled down replica set {name} from 2 to 0")),
        "{messages:?}"
    );

    // A deleted ReplicaSet is made again; deleting the Deployment takes
    // ReplicaSets and pods with it.
    sets.delete(new_name, &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&sets, new_name, |rs: Option<&ReplicaSet>| rs.is_some()).await;
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    assert!(list(&sets, "app=web").await.is_empty());
    assert!(list(&pods, "app=web").await.is_empty());
}

#[tokio::test]
async fn statefulset_pods_have_identity_claim_volumes_and_a_revision() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let mut sts = deployment("db", 1);
    sts["kind"] = json!("StatefulSet");
    sts["spec"]["serviceName"] = json!("db");
    sts["spec"]["template"]["spec"]["volumes"] = json!([{ "name": "extra", "emptyDir": {} }]);
    sts["spec"]["volumeClaimTemplates"] = json!([{
        "metadata": { "name": "data" },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } },
    }]);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "shop");
    sets.create(&PostParams::default(), &object(sts))
        .await
        .unwrap();
    let ready = json_of(
        &wait_for(&sets, "db", |s: Option<&StatefulSet>| {
            s.is_some_and(|s| json_of(s)["status"]["readyReplicas"] == 1)
        })
        .await,
    );
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "shop");
    let revision = list(&revisions, "app=db").await;
    assert_eq!(revision.len(), 1);
    let revision = &revision[0];
    let name = revision["metadata"]["name"].as_str().unwrap();
    assert_eq!(ready["status"]["currentRevision"], name);
    assert_eq!(ready["status"]["updateRevision"], name);
    assert_eq!(revision["revision"], 1);
    assert_eq!(revision["data"]["spec"]["template"]["$patch"], "replace");
    let hash = revision["metadata"]["labels"]["controller.kubernetes.io/hash"]
        .as_str()
        .unwrap();
    assert_eq!(name, format!("db-{hash}"));

    let pod = json_of(
        &Api::<Pod>::namespaced(client.clone(), "shop")
            .get("db-0")
            .await
            .unwrap(),
    );
    assert_eq!(pod["metadata"]["labels"]["controller-revision-hash"], name);
    assert_eq!(pod["metadata"]["generateName"], "db-");
    assert_eq!(pod["spec"]["hostname"], "db-0");
    assert_eq!(pod["spec"]["subdomain"], "db");
    let volumes: Vec<&str> = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(volumes[..2], ["data", "extra"]);
    assert_eq!(
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "data-db-0"
    );
    // The pvc-protection controller sees the pod use the claim.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "shop");
    let claim = json_of(
        &wait_for(&claims, "data-db-0", |c: Option<&PersistentVolumeClaim>| {
            c.is_some_and(|c| super::condition(&json_of(c), "Unused")["status"] == "False")
        })
        .await,
    );
    assert_eq!(super::condition(&claim, "Unused")["reason"], "PodUsingPVC");
}

#[tokio::test]
async fn a_claim_in_use_is_deleted_only_once_its_pod_is_gone() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "shop");
    let claim = json!({ "metadata": { "name": "files" }, "spec": { "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": "1Gi" } } } });
    claims
        .create(&PostParams::default(), &object(claim))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pod = json!({ "metadata": { "name": "user", "labels": { "app": "user" } }, "spec": {
        "containers": [{ "name": "app", "image": "nginx:1.27" }],
        "volumes": [{ "name": "files", "persistentVolumeClaim": { "claimName": "files" } }] } });
    pods.create(&PostParams::default(), &object(pod))
        .await
        .unwrap();
    wait_for_pod(&pods, "app=user", |p| p["status"]["phase"] == "Running").await;
    claims
        .delete("files", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = json_of(&claims.get("files").await.unwrap());
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        held["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );
    pods.delete("user", &DeleteParams::default()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while claims.get_opt("files").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the claim should go once no pod uses it");
}

#[tokio::test]
async fn services_get_endpoints_and_slices_of_their_pods() {
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let mut web = deployment("web", 2);
    web["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{ "name": "http", "containerPort": 8080 }]);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .create(&PostParams::default(), &object(web))
        .await
        .unwrap();
    wait_for(&deployments, "web", conditions::is_deployment_completed()).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "shop");
    let svc = json!({ "metadata": { "name": "web" }, "spec": { "selector": { "app": "web" },
        "ports": [{ "name": "http", "port": 80, "targetPort": "http" }] } });
    services
        .create(&PostParams::default(), &object(svc))
        .await
        .unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "shop");
    let ep = json_of(
        &wait_for(&endpoints, "web", |e: Option<&Endpoints>| {
            e.is_some_and(|e| json_of(e).pointer("/subsets/0/addresses/1").is_some())
        })
        .await,
    );
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{ "name": "http", "port": 8080, "protocol": "TCP" }])
    );
    assert_eq!(
        ep["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"],
        "endpoint-controller"
    );
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "shop");
    let slice = list(&slices, "kubernetes.io/service-name=web").await;
    assert_eq!(slice.len(), 1);
    let slice = &slice[0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(
        slice["endpoints"][0]["conditions"],
        json!({ "ready": true, "serving": true, "terminating": false })
    );
    assert_eq!(slice["endpoints"][0]["zone"], "zone-0");
    assert_eq!(
        slice["ports"],
        json!([{ "name": "http", "port": 8080, "protocol": "TCP" }])
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["name"], "web");

    // Scaled to zero: the endpoints empty out; deleted: they go.
    let scale = json!({ "spec": { "replicas": 0 } });
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    wait_for(&endpoints, "web", |e: Option<&Endpoints>| {
        e.is_some_and(|e| json_of(e).get("subsets").is_none())
    })
    .await;
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    assert!(endpoints.get_opt("web").await.unwrap().is_none());
    assert!(
        list(&slices, "kubernetes.io/service-name=web")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn ingresses_get_the_configured_address_or_none() {
    let ingress = || {
        object::<Ingress>(
            json!({ "metadata": { "name": "web" }, "spec": { "rules": [{ "host": "shop.localhost" }] } }),
        )
    };
    let (_cluster, client) = instant_cluster();
    namespace(&client, "shop").await;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "shop");
    ingresses
        .create(&PostParams::default(), &ingress())
        .await
        .unwrap();
    let addressed = json_of(
        &wait_for(&ingresses, "web", |i: Option<&Ingress>| {
            i.is_some_and(|i| json_of(i).pointer("/status/loadBalancer/ingress").is_some())
        })
        .await,
    );
    assert_eq!(
        addressed["status"]["loadBalancer"]["ingress"],
        json!([{ "hostname": "localhost" }])
    );

    let mut config = SimConfig::instant();
    config.set_option("ingress-address", "none").unwrap();
    let bare = SimCluster::new(config);
    let client = bare.client();
    namespace(&client, "shop").await;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "shop");
    ingresses
        .create(&PostParams::default(), &ingress())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let plain = json_of(&ingresses.get("web").await.unwrap());
    assert_eq!(plain["status"], json!({ "loadBalancer": {} }));
}
