//! The objects a store's Helm chart makes, and what the cluster makes of
//! them: a Deployment (init container, probes, named ports, Burstable
//! resources, ConfigMap and Secret volumes), a StatefulSet with a claim
//! template, a Job, a Service, a headless Service with and one without a
//! selector, a NetworkPolicy with empty rule lists, a claim, an Ingress and
//! a bare Pod, each compared field by field as created and once settled,
//! with what the controllers add: ReplicaSets, ControllerRevisions, pods,
//! claims, Endpoints and EndpointSlices, their events. Then a rollout (a
//! second ReplicaSet), a Deployment whose pods cannot pull their image
//! (progressing until its `progressDeadlineSeconds`, then
//! `ProgressDeadlineExceeded`), and claims deleted in and out of use.
//!
//! Left out of the comparison, each with its reason in the simulator's
//! README ("Deliberate differences"):
//! - hashes (`pod-template-hash`, `controller-revision-hash`,
//!   `controller.kubernetes.io/hash`): upstream hashes the Go struct's
//!   printed form, the simulator the JSON;
//! - generated name suffixes, node names and zones (the real scheduler
//!   spreads pods over two fake nodes, the simulator has one), addresses,
//!   the storage provisioner's name (each cluster has its own);
//! - what a kubelet reports and kwok does not (`containerID`, `imageID`,
//!   `started`, the `PodReadyToStartContainers` condition, and a finished
//!   pod's `Ready`/`ContainersReady`, which kwok leaves True): the
//!   simulator reports them as a kubelet does;
//! - `managedFields` (each cluster's components are other managers: kwok
//!   writes pod status here; the ssa part compares managed fields) and an
//!   EndpointSlice's `generation` (how often the controller rewrote it
//!   depends on whether the pods were ready when the Service came), and
//!   the endpoints' `last-change-trigger-time` annotation (the real
//!   controllers drop it after a sync no pod or Service change triggered).

use std::{sync::LazyLock, time::Duration};

use anyhow::{Result, ensure};
use regex::Regex;
use serde_json::{Value, json};

use crate::{Steps, cluster::Target, normalize};

const PATIENCE: Duration = Duration::from_secs(60);

/// Rewrites of this part's generated names, on top of `normalize::text`.
static NAMES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // ReplicaSets and ControllerRevisions: `<name>-<hash>`.
        (
            r"\b(web|db|stuck)-[bcdfghjklmnpqrstvwxz2456789]{6,10}\b",
            "$1-<hash>",
        ),
        // Job pods and EndpointSlices: `<name>-<5 random>`.
        (
            r"\b(web|db|migrate|headless)-[bcdfghjklmnpqrstvwxz2456789]{5}\b",
            "$1-<suffix>",
        ),
        (
            r"\bkube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}\b",
            "kube-api-access-<suffix>",
        ),
        (
            r"\b(pod-template-hash|controller\.kubernetes\.io/hash)=[bcdfghjklmnpqrstvwxz2456789]+",
            "$1=<hash>",
        ),
        (r"\bkwok-node-\d+\b", "kwok-node-<n>"),
        (r"\bzone-\d+\b", "zone-<n>"),
        (
            r"sim\.storeplane\.io/hostpath|storeplane\.test/fake-provisioner",
            "<provisioner>",
        ),
    ]
    .into_iter()
    .map(|(pattern, to)| (Regex::new(pattern).unwrap_or_else(|e| panic!("{e}")), to))
    .collect()
});

/// Labels whose values are template hashes.
const HASH_LABELS: [&str; 2] = ["pod-template-hash", "controller.kubernetes.io/hash"];

fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => {
            for (pattern, to) in NAMES.iter() {
                *s = pattern.replace_all(s, *to).into_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if HASH_LABELS.contains(&key.as_str()) && value.is_string() {
                    *value = json!("<hash>");
                } else {
                    scrub(value);
                }
            }
        }
        _ => {}
    }
}

/// An object of `kind` as compared: normalised, generated names replaced,
/// without managedFields.
fn object(kind: &str, v: &Value) -> Value {
    let mut v = normalize::object(v);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if kind == "EndpointSlice"
        && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("generation");
    }
    if matches!(kind, "Endpoints" | "EndpointSlice")
        && let Some(annotations) = v
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
    {
        // The real controllers drop the trigger time when a sync was not
        // triggered by a pod or Service change they timed (a resync).
        annotations.remove("endpoints.kubernetes.io/last-change-trigger-time");
        if annotations.is_empty()
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("annotations");
        }
    }
    if kind == "Pod" {
        kubelet_only_fields_dropped(&mut v);
    }
    scrub(&mut v);
    v
}

/// What a kubelet reports and kwok does not (see the module's doc).
fn kubelet_only_fields_dropped(pod: &mut Value) {
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) {
        for key in ["containerStatuses", "initContainerStatuses"] {
            for container in status
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                for field in ["containerID", "imageID", "started"] {
                    container.remove(field);
                }
            }
        }
        if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
            conditions.retain(|c| {
                c["type"] != "PodReadyToStartContainers"
                    && !(finished && (c["type"] == "Ready" || c["type"] == "ContainersReady"))
            });
            conditions.sort_by_key(|c| c["type"].to_string());
        }
    }
}

/// A list's items as compared, sorted by their compared name. Items are
/// compared without `apiVersion` and `kind`, which the apiserver leaves
/// out of list items and the simulator keeps (see its README).
fn items(reply: &crate::cluster::Reply) -> Value {
    let kind = reply.body["kind"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches("List")
        .to_owned();
    let mut list: Vec<Value> = items_of(&reply.body)
        .into_iter()
        .map(|item| {
            let mut item = object(&kind, item);
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    list.sort_by_key(|o| o["metadata"]["name"].to_string());
    json!({"code": reply.status, "items": list})
}

/// The `Status` of a failed create, or the created object.
fn created(reply: &crate::cluster::Reply) -> Value {
    if reply.status >= 400 {
        return normalize::status(reply);
    }
    let kind = reply.body["kind"].as_str().unwrap_or_default();
    json!({"code": reply.status, "warnings": reply.warnings, "object": object(kind, &reply.body)})
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| c["type"] == kind))
}

fn is(object: &Value, kind: &str, status: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == status)
}

/// Lists `path` until `done` holds for the list (or fails after PATIENCE).
async fn poll(t: &Target, path: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = t.get(path).await?;
        if reply.status == 200 && done(&reply.body) {
            return Ok(reply.body);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{path} on the {} cluster: not there after {PATIENCE:?}: {}",
            t.name,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn items_of(list: &Value) -> Vec<&Value> {
    list["items"].as_array().into_iter().flatten().collect()
}

/// The chart-like objects, as `(collection, body)`.
fn manifests(ns: &str) -> Vec<(String, Value)> {
    let core = format!("/api/v1/namespaces/{ns}");
    let apps = format!("/apis/apps/v1/namespaces/{ns}");
    vec![
        (
            format!("{core}/configmaps"),
            json!({"metadata": {"name": "web-config"}, "data": {"site": "shop"}}),
        ),
        (
            format!("{core}/secrets"),
            json!({"metadata": {"name": "web-secret"}, "stringData": {"password": "x"}}),
        ),
        (
            format!("{apps}/deployments"),
            json!({
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "annotations": {}},
                        "spec": {
                            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
                            "containers": [{
                                "name": "web", "image": "nginx:1.27",
                                "ports": [{"containerPort": 80, "name": "http"}],
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                              "limits": {"cpu": "200m", "memory": "128Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                                "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5},
                                "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                                "volumeMounts": [{"name": "config", "mountPath": "/config"},
                                                 {"name": "secret", "mountPath": "/secret"},
                                                 {"name": "scratch", "mountPath": "/tmp"}],
                            }],
                            "volumes": [
                                {"name": "config", "configMap": {"name": "web-config"}},
                                {"name": "secret", "secret": {"secretName": "web-secret"}},
                                {"name": "scratch"},
                            ],
                        },
                    },
                },
            }),
        ),
        (
            format!("{apps}/statefulsets"),
            json!({
                "metadata": {"name": "db"},
                "spec": {
                    "serviceName": "db",
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": {
                            "automountServiceAccountToken": false,
                            "containers": [{
                                "name": "db", "image": "postgres:16",
                                "ports": [{"containerPort": 5432}],
                                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                              "limits": {"cpu": "100m", "memory": "128Mi"}},
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}],
                            }],
                        },
                    },
                    "volumeClaimTemplates": [{
                        "metadata": {"name": "data", "labels": {"tier": "db"}},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    }],
                },
            }),
        ),
        (
            format!("/apis/batch/v1/namespaces/{ns}/jobs"),
            json!({
                "metadata": {"name": "migrate"},
                "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "busybox:latest"}],
                }}},
            }),
        ),
        (
            format!("{core}/services"),
            json!({"metadata": {"name": "web", "labels": {"app": "web"}},
                   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        ),
        (
            format!("{core}/services"),
            json!({"metadata": {"name": "db"},
                   "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}),
        ),
        (
            format!("{core}/services"),
            json!({"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
        ),
        (
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
            json!({"metadata": {"name": "isolate"},
                   "spec": {"podSelector": {"matchExpressions": [
                                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                                {"key": "app", "operator": "Exists"}]},
                            "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}}),
        ),
        (
            format!("{core}/persistentvolumeclaims"),
            json!({"metadata": {"name": "files"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        ),
        (
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"),
            json!({"metadata": {"name": "web"}, "spec": {"rules": [{"host": "shop.localhost", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        ),
        (
            format!("{core}/pods"),
            json!({"metadata": {"name": "solo", "annotations": {}},
                   "spec": {"containers": [{"name": "app", "image": "nginx"}]}}),
        ),
    ]
}

/// The workload steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("work");
    let reply = t
        .post("/api/v1/namespaces", &json!({"metadata": {"name": ns}}))
        .await?;
    ensure!(reply.status == 201, "creating {ns}: {}", reply.body);
    // A real cluster refuses pods until the namespace's ServiceAccount
    // exists (the simulator does not; see its README).
    t.wait_for(
        &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
        "default",
        PATIENCE,
        |_| true,
    )
    .await?;
    for (collection, body) in manifests(&ns) {
        let reply = t.post(&collection, &body).await?;
        let name = body["metadata"]["name"].as_str().unwrap_or_default();
        let kind = collection.rsplit('/').next().unwrap_or_default();
        steps.record(&format!("create-{kind}-{name}"), created(&reply));
    }

    let core = format!("/api/v1/namespaces/{ns}");
    let apps = format!("/apis/apps/v1/namespaces/{ns}");
    let batch = format!("/apis/batch/v1/namespaces/{ns}");
    t.wait_for(&format!("{apps}/deployments"), "web", PATIENCE, |d| {
        is(d, "Available", "True") && d["status"]["updatedReplicas"] == 1
    })
    .await?;
    t.wait_for(&format!("{apps}/statefulsets"), "db", PATIENCE, |s| {
        s["status"]["readyReplicas"] == 1
    })
    .await?;
    t.wait_for(&format!("{batch}/jobs"), "migrate", PATIENCE, |j| {
        is(j, "Complete", "True")
    })
    .await?;
    t.wait_for(&format!("{core}/pods"), "solo", PATIENCE, |p| {
        is(p, "Ready", "True")
    })
    .await?;
    // The claims: bound, and the pvc-protection controller has seen the
    // StatefulSet's pod use its claim.
    t.wait_for(
        &format!("{core}/persistentvolumeclaims"),
        "files",
        PATIENCE,
        |c| c["status"]["phase"] == "Bound" && is(c, "Unused", "True"),
    )
    .await?;
    t.wait_for(
        &format!("{core}/persistentvolumeclaims"),
        "data-db-0",
        PATIENCE,
        |c| c["status"]["phase"] == "Bound" && is(c, "Unused", "False"),
    )
    .await?;
    // The endpoints controllers have seen the ready pods.
    for service in ["web", "db"] {
        poll(
            t,
            &format!(
                "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D{service}"
            ),
            |list| {
                items_of(list)
                    .first()
                    .is_some_and(|s| s["endpoints"][0]["conditions"]["ready"] == true)
            },
        )
        .await?;
        t.wait_for(&format!("{core}/endpoints"), service, PATIENCE, |e| {
            e.pointer("/subsets/0/addresses/0").is_some()
        })
        .await?;
    }

    for (step, path) in [
        ("deployments", format!("{apps}/deployments")),
        ("replicasets", format!("{apps}/replicasets")),
        ("statefulsets", format!("{apps}/statefulsets")),
        ("controllerrevisions", format!("{apps}/controllerrevisions")),
        ("jobs", format!("{batch}/jobs")),
        ("pods", format!("{core}/pods")),
        ("claims", format!("{core}/persistentvolumeclaims")),
        ("services", format!("{core}/services")),
        ("endpoints", format!("{core}/endpoints")),
        (
            "endpointslices",
            format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
        ),
        (
            "networkpolicies",
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
        ),
        (
            "ingresses",
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"),
        ),
    ] {
        steps.record(&format!("settled-{step}"), items(&t.get(&path).await?));
    }
    steps.record("controller-events", controller_events(t, &ns).await?);
    let table = t
        .kubectl(
            &[
                "get",
                "deployments,replicasets,statefulsets,controllerrevisions,jobs,pods,services,endpointslices,persistentvolumeclaims,networkpolicies,ingresses",
                "-n",
                &ns,
                "-o",
                "wide",
            ],
            &[],
            None,
        )
        .await?;
    let mut rows = normalize::table(&table.stdout);
    scrub(&mut rows);
    steps.record(
        "kubectl-get-wide",
        json!({"exit": table.code, "rows": rows}),
    );

    rollout(t, &ns, steps).await?;
    progress_deadline(t, &ns, steps).await?;
    claim_protection(t, &ns, steps).await?;
    Ok(())
}

/// The controllers' events (Deployment, ReplicaSet, StatefulSet, Job) as a
/// sorted set: who reported what about which object.
async fn controller_events(t: &Target, ns: &str) -> Result<Value> {
    let list = t.get(&format!("/api/v1/namespaces/{ns}/events")).await?;
    let mut events: Vec<Value> = items_of(&list.body)
        .into_iter()
        .filter(|e| {
            matches!(
                e["involvedObject"]["kind"].as_str(),
                Some("Deployment" | "ReplicaSet" | "StatefulSet" | "Job")
            )
        })
        .map(|e| {
            let mut summary = json!({
                "object": format!("{}/{}", e["involvedObject"]["kind"].as_str().unwrap_or(""),
                                  e["involvedObject"]["name"].as_str().unwrap_or("")),
                "type": e["type"], "reason": e["reason"],
                "source": e["source"]["component"],
                "message": normalize::text(e["message"].as_str().unwrap_or_default()),
            });
            scrub(&mut summary);
            summary
        })
        .collect();
    events.sort_by_key(Value::to_string);
    events.dedup();
    Ok(json!(events))
}

/// A template change: a second ReplicaSet takes over, the first is kept
/// scaled to zero, the Deployment's revision moves on.
async fn rollout(t: &Target, ns: &str, steps: &mut Steps) -> Result<()> {
    let apps = format!("/apis/apps/v1/namespaces/{ns}");
    let patched = t
        .merge_patch(
            &format!("{apps}/deployments/web"),
            &json!({"spec": {"template": {"metadata": {"annotations": {"rollout": "2"}}}}}),
        )
        .await?;
    ensure!(patched.status == 200, "patching web: {}", patched.body);
    let generation = patched.body["metadata"]["generation"].clone();
    t.wait_for(&format!("{apps}/deployments"), "web", PATIENCE, |d| {
        d["status"]["observedGeneration"] == generation
            && is(d, "Available", "True")
            && d["status"]["updatedReplicas"] == 1
            && d["status"]["replicas"] == 1
            && d["status"]["terminatingReplicas"].as_i64().unwrap_or(0) == 0
            && condition(d, "Progressing").is_some_and(|c| c["reason"] == "NewReplicaSetAvailable")
    })
    .await?;
    poll(
        t,
        &format!("/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb"),
        |list| items_of(list).len() == 1,
    )
    .await?;
    let deployment = t.get(&format!("{apps}/deployments/web")).await?;
    steps.record("rollout-deployment", object("Deployment", &deployment.body));
    let sets = t
        .get(&format!("{apps}/replicasets?labelSelector=app%3Dweb"))
        .await?;
    // Two ReplicaSets with the same normalised name: compare them by revision.
    let mut sets: Vec<Value> = items_of(&sets.body)
        .into_iter()
        .map(|rs| {
            let mut rs = object("ReplicaSet", rs);
            if let Some(map) = rs.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            rs
        })
        .collect();
    sets.sort_by_key(|rs| {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].to_string()
    });
    steps.record("rollout-replicasets", json!(sets));
    steps.record("rollout-events", controller_events(t, ns).await?);
    Ok(())
}

/// A Deployment whose image cannot be pulled: its pods say so at once, the
/// Deployment keeps progressing until `progressDeadlineSeconds` pass, then
/// reports `ProgressDeadlineExceeded`.
async fn progress_deadline(t: &Target, ns: &str, steps: &mut Steps) -> Result<()> {
    let apps = format!("/apis/apps/v1/namespaces/{ns}");
    let reply = t
        .post(
            &format!("{apps}/deployments"),
            &json!({
                "metadata": {"name": "stuck", "annotations": {"sim.storeplane.io/fail": "image-pull"}},
                "spec": {
                    "progressDeadlineSeconds": 8,
                    "selector": {"matchLabels": {"app": "stuck"}},
                    "template": {"metadata": {"labels": {"app": "stuck"}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
                },
            }),
        )
        .await?;
    ensure!(reply.status == 201, "creating stuck: {}", reply.body);
    let pods = poll(
        t,
        &format!("/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dstuck"),
        |list| {
            items_of(list).first().is_some_and(|p| {
                p.pointer("/status/containerStatuses/0/state/waiting/reason")
                    == Some(&json!("ImagePullBackOff"))
            })
        },
    )
    .await?;
    let waiting = |p: &Value| {
        let w = &p["status"]["containerStatuses"][0]["state"]["waiting"];
        json!({"phase": p["status"]["phase"], "reason": w["reason"]})
    };
    steps.record(
        "stuck-pods",
        json!(items_of(&pods).into_iter().map(waiting).collect::<Vec<_>>()),
    );
    let conditions = |d: &Value| {
        let mut list: Vec<Value> = ["Available", "Progressing"]
            .iter()
            .filter_map(|kind| condition(d, kind))
            .map(|c| {
                let mut c = json!({"type": c["type"], "status": c["status"], "reason": c["reason"],
                                   "message": normalize::text(c["message"].as_str().unwrap_or_default())});
                scrub(&mut c);
                c
            })
            .collect();
        list.sort_by_key(|c| c["type"].to_string());
        json!(list)
    };
    // Once the controller has reported on its pods (the simulator writes
    // the pods first, then the Deployment's status).
    let before = t
        .wait_for(&format!("{apps}/deployments"), "stuck", PATIENCE, |d| {
            condition(d, "Available").is_some() && condition(d, "Progressing").is_some()
        })
        .await?
        .unwrap_or_default();
    steps.record("stuck-before-deadline", conditions(&before));
    let after = t
        .wait_for(&format!("{apps}/deployments"), "stuck", PATIENCE, |d| {
            is(d, "Progressing", "False")
        })
        .await?
        .unwrap_or_default();
    steps.record("stuck-after-deadline", conditions(&after));
    Ok(())
}

/// StorageObjectInUseProtection: an unused claim goes at once; a claim a
/// pod uses stays `Terminating` (its finalizer kept) until the pod is gone.
async fn claim_protection(t: &Target, ns: &str, steps: &mut Steps) -> Result<()> {
    let claims = format!("/api/v1/namespaces/{ns}/persistentvolumeclaims");
    let unused = t.delete(&format!("{claims}/files"), None, None).await?;
    steps.record(
        "delete-unused-claim",
        json!({"code": unused.status,
               "deleting": unused.body["metadata"]["deletionTimestamp"].is_string()}),
    );
    t.wait_for(&claims, "files", PATIENCE, |_| false).await?;
    let used = t.delete(&format!("{claims}/data-db-0"), None, None).await?;
    steps.record(
        "delete-used-claim",
        json!({"code": used.status,
               "deleting": used.body["metadata"]["deletionTimestamp"].is_string(),
               "finalizers": used.body["metadata"]["finalizers"]}),
    );
    // Still there while db-0 runs.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = t.get(&format!("{claims}/data-db-0")).await?;
    steps.record(
        "used-claim-held",
        json!({"code": held.status, "finalizers": held.body["metadata"]["finalizers"]}),
    );
    let gone = t
        .delete(
            &format!("/apis/apps/v1/namespaces/{ns}/statefulsets/db"),
            None,
            None,
        )
        .await?;
    ensure!(gone.status == 200, "deleting db: {}", gone.body);
    let released = t
        .wait_for(&claims, "data-db-0", PATIENCE, |_| false)
        .await?;
    steps.record("used-claim-released", json!({"gone": released.is_none()}));
    Ok(())
}
