//! Synthesised Pods for Deployments, StatefulSets and Jobs, with the container
//! states a kubelet would report for each simulated phase.

use serde_json::{Map, Value, json};

use super::Kind;
use super::events::NODE_NAME;
use super::status::{Phase, replica_set_name, replicas};
use crate::config::Failure;
use crate::meta;

/// The state a simulated pod is in; derived back from a stored pod so the
/// controller writes only on transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodState {
    Creating,
    Running,
    ImagePull,
    CrashLoop,
    NotReady,
    Succeeded,
    Failed,
}

/// The pod state a workload phase implies.
pub(crate) fn state_for(kind: Kind, phase: Phase) -> PodState {
    match (kind, phase) {
        (Kind::Job, Phase::Starting) => PodState::Running,
        (Kind::Job, Phase::Ready) => PodState::Succeeded,
        (Kind::Job, Phase::Failed(Failure::JobFail)) => PodState::Failed,
        (_, Phase::Starting) => PodState::Creating,
        (_, Phase::Ready) => PodState::Running,
        (_, Phase::Failed(Failure::ImagePull)) => PodState::ImagePull,
        (_, Phase::Failed(Failure::CrashLoop | Failure::JobFail)) => PodState::CrashLoop,
        (_, Phase::Failed(Failure::NeverReady)) => PodState::NotReady,
    }
}

/// Reads the simulated state back from a pod's status.
pub(crate) fn observed_state(pod: &Value) -> Option<PodState> {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str)?;
    let first = pod.pointer("/status/containerStatuses/0");
    let waiting = first
        .and_then(|c| c.pointer("/state/waiting/reason"))
        .and_then(Value::as_str);
    let ready = first
        .and_then(|c| c.get("ready"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(match (phase, waiting) {
        ("Succeeded", _) => PodState::Succeeded,
        ("Failed", _) => PodState::Failed,
        (_, Some("ImagePullBackOff" | "ErrImagePull")) => PodState::ImagePull,
        (_, Some("CrashLoopBackOff")) => PodState::CrashLoop,
        (_, Some(_)) => PodState::Creating,
        ("Running", None) if ready => PodState::Running,
        ("Running", None) => PodState::NotReady,
        _ => PodState::Creating,
    })
}

/// The pods a workload should have: `(name, pod without status)`.
pub(crate) fn desired(kind: Kind, owner: &Value) -> Vec<(String, Value)> {
    let name = meta::name(owner).unwrap_or("");
    let template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let uid = meta::uid(owner);
    match kind {
        Kind::Deployment => {
            let rs = replica_set_name(owner);
            let hash = rs.rsplit('-').next().unwrap_or("").to_owned();
            (0..replicas(owner))
                .map(|i| {
                    let pod_name = format!("{rs}-{}", meta::stable_hash(&json!([uid, hash, i]), 5));
                    let labels = json!({ "pod-template-hash": hash });
                    let pod = build(owner, &template, &pod_name, labels);
                    (pod_name, pod)
                })
                .collect()
        }
        Kind::StatefulSet => {
            let revision = format!("{name}-{}", meta::stable_hash(&template, 10));
            (0..replicas(owner))
                .map(|i| {
                    let pod_name = format!("{name}-{i}");
                    let labels = json!({
                        "controller-revision-hash": revision,
                        "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": i.to_string(),
                    });
                    let pod = build(owner, &template, &pod_name, labels);
                    (pod_name, pod)
                })
                .collect()
        }
        Kind::Job => {
            let pod_name = format!("{name}-{}", meta::stable_hash(&json!(uid), 5));
            vec![(
                pod_name.clone(),
                build(owner, &template, &pod_name, json!({})),
            )]
        }
        _ => Vec::new(),
    }
}

/// A pod from a template. Pods are owned by the workload itself (no
/// ReplicaSet objects are simulated), so deleting the workload removes them.
fn build(owner: &Value, template: &Value, name: &str, extra_labels: Value) -> Value {
    let mut labels: Map<String, Value> = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Value::Object(extra) = extra_labels {
        labels.extend(extra);
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(s) = &mut spec {
        s.insert("nodeName".to_owned(), json!(NODE_NAME));
        s.entry("schedulerName")
            .or_insert(json!("default-scheduler"));
        s.entry("serviceAccountName").or_insert(json!("default"));
        s.entry("restartPolicy").or_insert(json!("Always"));
        s.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
        s.entry("terminationGracePeriodSeconds")
            .or_insert(json!(30));
        s.entry("containers").or_insert(json!([]));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta::namespace(owner),
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [{
                "apiVersion": owner.get("apiVersion"),
                "kind": owner.get("kind"),
                "name": meta::name(owner),
                "uid": meta::uid(owner),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

fn container_names(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        c.get("image")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pod_ip(name: &str) -> String {
    let hash = meta::stable_hash(&json!(name), 4);
    let n: u32 = hash.bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    format!("10.244.{}.{}", (n >> 8) % 256, (n % 253) + 2)
}

/// The status of `pod` in `state`, as the kubelet reports it.
pub(crate) fn status(pod: &Value, state: PodState) -> Value {
    let now = meta::now();
    let name = meta::name(pod).unwrap_or("");
    let namespace = meta::namespace(pod).unwrap_or("");
    let uid = meta::uid(pod);
    let containers = container_names(pod);
    let ready = state == PodState::Running;
    let phase = match state {
        PodState::Creating | PodState::ImagePull => "Pending",
        PodState::Running | PodState::CrashLoop | PodState::NotReady => "Running",
        PodState::Succeeded => "Succeeded",
        PodState::Failed => "Failed",
    };
    let unready: Vec<&str> = containers.iter().map(|(n, _)| n.as_str()).collect();
    let not_ready_reason = if matches!(state, PodState::Succeeded | PodState::Failed) {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let not_ready_message = format!("containers with unready status: [{}]", unready.join(" "));
    let flag = |ok: bool| if ok { "True" } else { "False" };
    let condition = |kind: &str, ok: bool| {
        let mut c = json!({ "type": kind, "status": flag(ok), "lastProbeTime": null, "lastTransitionTime": now });
        if !ok && (kind == "Ready" || kind == "ContainersReady") {
            c["reason"] = json!(not_ready_reason);
            if not_ready_reason == "ContainersNotReady" {
                c["message"] = json!(not_ready_message);
            }
        }
        c
    };
    let started = !matches!(state, PodState::Creating | PodState::ImagePull);
    let container_statuses: Vec<Value> = containers
        .iter()
        .map(|(cname, image)| {
            let state_doc = match state {
                PodState::Creating => json!({ "waiting": { "reason": "ContainerCreating" } }),
                PodState::ImagePull => json!({ "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\": ErrImagePull: failed to pull and unpack image \"{image}\": not found (simulated by storeplane sim-cluster)"),
                } }),
                PodState::CrashLoop => json!({ "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!("back-off 40s restarting failed container={cname} pod={name}_{namespace}({uid})"),
                } }),
                PodState::Running | PodState::NotReady => json!({ "running": { "startedAt": now } }),
                PodState::Succeeded => json!({ "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now } }),
                PodState::Failed => json!({ "terminated": { "exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now } }),
            };
            let mut doc = json!({
                "name": cname,
                "image": image,
                "imageID": if started { format!("{image}@sha256:{}", meta::stable_hash(&json!(image), 24)) } else { String::new() },
                "ready": ready,
                "started": matches!(state, PodState::Running | PodState::NotReady),
                "restartCount": if state == PodState::CrashLoop { 3 } else { 0 },
                "state": state_doc,
                "lastState": {},
            });
            if started {
                doc["containerID"] = json!(format!("containerd://{}", meta::stable_hash(&json!([uid, cname]), 32)));
            }
            if state == PodState::CrashLoop {
                doc["lastState"] = json!({ "terminated": { "exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now } });
            }
            doc
        })
        .collect();
    let mut status = json!({
        "phase": phase,
        "conditions": [
            condition("PodReadyToStartContainers", started),
            condition("Initialized", true),
            condition("Ready", ready),
            condition("ContainersReady", ready),
            condition("PodScheduled", true),
        ],
        "hostIP": "10.89.0.2",
        "hostIPs": [{ "ip": "10.89.0.2" }],
        "startTime": pod.pointer("/status/startTime").cloned().unwrap_or(json!(now)),
        "containerStatuses": container_statuses,
        "qosClass": "BestEffort",
    });
    if started || state == PodState::ImagePull {
        let ip = pod_ip(name);
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    status
}

/// Events the kubelet records when a pod enters `state`:
/// `(warning, reason, message)`.
pub(crate) fn events_for(pod: &Value, state: PodState) -> Vec<(bool, &'static str, String)> {
    let name = meta::name(pod).unwrap_or("");
    let namespace = meta::namespace(pod).unwrap_or("");
    let uid = meta::uid(pod);
    let containers = container_names(pod);
    let mut events = Vec::new();
    for (cname, image) in &containers {
        match state {
            PodState::Running | PodState::NotReady | PodState::Succeeded | PodState::Failed => {
                events.push((false, "Started", format!("Started container {cname}")));
            }
            PodState::ImagePull => {
                events.push((true, "Failed", format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found (simulated by storeplane sim-cluster)"
                )));
                events.push((true, "Failed", "Error: ErrImagePull".to_owned()));
                events.push((
                    false,
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                ));
                events.push((true, "Failed", "Error: ImagePullBackOff".to_owned()));
            }
            PodState::CrashLoop => {
                events.push((true, "BackOff", format!("Back-off restarting failed container {cname} in pod {name}_{namespace}({uid})")));
            }
            PodState::Creating => {}
        }
        if state == PodState::NotReady {
            events.push((
                true,
                "Unhealthy",
                "Readiness probe failed: simulated failure (sim.storeplane.io/fail=never-ready)"
                    .to_owned(),
            ));
        }
    }
    events
}
