//! Synthesised Pods for Deployments, StatefulSets and Jobs, with the container
//! states a kubelet would report for each simulated phase.

use serde_json::{Map, Value, json};

use super::controller_ref;
use super::events::{NODE_NAME, NODE_ZONE, ZONE_LABEL};
use super::status::Phase;
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

/// The state of a long-running pod (not a Job's) in `phase`.
pub(crate) fn state_for(phase: Phase) -> PodState {
    match phase {
        Phase::Starting => PodState::Creating,
        Phase::Ready => PodState::Running,
        Phase::Failed(Failure::ImagePull) => PodState::ImagePull,
        Phase::Failed(Failure::CrashLoop | Failure::JobFail) => PodState::CrashLoop,
        Phase::Failed(Failure::NeverReady) => PodState::NotReady,
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

/// The label that names a pod's revision, when its controller keeps one
/// under a stable pod name (a StatefulSet's `controller-revision-hash`).
pub(crate) fn revision_label(pod: &Value) -> Option<(&'static str, &Value)> {
    let key = "controller-revision-hash";
    pod.pointer("/metadata/labels")?
        .get(key)
        .map(|value| (key, value))
}

/// A pod from its controller's template (`GetPodFromTemplate`, the
/// template of `owner`), already bound to the simulated node: owned by
/// `owner`, named `name` with the controller's `generateName`, and
/// labelled with the node's zone as the PodTopologyLabels plugin does at
/// binding.
pub(crate) fn build(owner: &Value, name: &str, extra_labels: Value) -> Value {
    let template = owner.pointer("/spec/template").unwrap_or(&Value::Null);
    let mut labels: Map<String, Value> = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Value::Object(extra) = extra_labels {
        labels.extend(extra);
    }
    labels.insert(ZONE_LABEL.to_owned(), json!(NODE_ZONE));
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(s) = &mut spec {
        s.insert("nodeName".to_owned(), json!(NODE_NAME));
        s.entry("containers").or_insert(json!([]));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": format!("{}-", meta::name(owner).unwrap_or("")),
            "namespace": meta::namespace(owner),
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations"),
            "finalizers": template.pointer("/metadata/finalizers"),
            "ownerReferences": [controller_ref(owner)],
        },
        "spec": spec,
    })
}

fn container_names(pod: &Value) -> Vec<(String, String)> {
    containers_of(pod, "containers")
}

fn containers_of(pod: &Value, field: &str) -> Vec<(String, String)> {
    pod.pointer(&format!("/spec/{field}"))
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
                "imageID": if started { format!("{image}@sha256:{}", meta::hex_hash(&json!(image), 64)) } else { String::new() },
                "ready": ready,
                "started": matches!(state, PodState::Running | PodState::NotReady),
                "restartCount": if state == PodState::CrashLoop { 3 } else { 0 },
                "state": state_doc,
                "lastState": {},
            });
            if started {
                doc["containerID"] = json!(format!("containerd://{}", meta::hex_hash(&json!([uid, cname]), 64)));
            }
            if state == PodState::CrashLoop {
                doc["lastState"] = json!({ "terminated": { "exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now } });
            }
            doc
        })
        .collect();
    // Init containers have run to completion once the pod got past
    // creating its containers.
    let initialized = state != PodState::Creating;
    let init_statuses: Vec<Value> = containers_of(pod, "initContainers")
        .iter()
        .map(|(cname, image)| {
            let mut doc = json!({
                "name": cname,
                "image": image,
                "imageID": if initialized { format!("{image}@sha256:{}", meta::hex_hash(&json!(image), 64)) } else { String::new() },
                "ready": initialized,
                "started": false,
                "restartCount": 0,
                "state": if initialized {
                    json!({ "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now } })
                } else {
                    json!({ "waiting": { "reason": "PodInitializing" } })
                },
                "lastState": {},
            });
            if initialized {
                doc["containerID"] = json!(format!("containerd://{}", meta::hex_hash(&json!([uid, cname]), 64)));
            }
            doc
        })
        .collect();
    let mut initialized_condition = condition("Initialized", true);
    if !initialized && !init_statuses.is_empty() {
        let names: Vec<&str> = init_statuses
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        initialized_condition = json!({
            "type": "Initialized", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
            "reason": "ContainersNotInitialized",
            "message": format!("containers with incomplete status: [{}]", names.join(" ")),
        });
    }
    let mut status = json!({
        "phase": phase,
        "conditions": [
            condition("PodReadyToStartContainers", started),
            initialized_condition,
            condition("Ready", ready),
            condition("ContainersReady", ready),
            condition("PodScheduled", true),
        ],
        "hostIP": "10.89.0.2",
        "hostIPs": [{ "ip": "10.89.0.2" }],
        "startTime": pod.pointer("/status/startTime").cloned().unwrap_or(json!(now)),
        "containerStatuses": container_statuses,
        // Set by the apiserver when the pod was created; the kubelet keeps it.
        "qosClass": pod
            .pointer("/status/qosClass")
            .cloned()
            .unwrap_or_else(|| json!(crate::admission::pods::qos_class(pod))),
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = Value::Array(init_statuses);
    }
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
