//! Admission in a namespace set up as storeplane sets up a store's (Pod
//! Security `restricted`, its LimitRange and ResourceQuota, plus a tight
//! quota): a pod refused by PodSecurity, LimitRange defaults applied, a
//! limit over the range's maximum, a pod refused by ResourceQuota; and a
//! Deployment whose template violates `restricted`: accepted with a
//! warning, its ReplicaSet reporting `FailedCreate`.

use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use crate::{Steps, cluster::Target, normalize};

const PATIENCE: Duration = Duration::from_secs(30);

/// A container that passes `restricted`.
fn restricted_pod(name: &str, resources: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app", "image": "nginx:1.27", "resources": resources,
                "securityContext": {
                    "allowPrivilegeEscalation": false, "runAsUser": 1000,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    })
}

/// Creates a namespace with `labels` and waits for its `default`
/// ServiceAccount: a real cluster's ServiceAccount admission refuses pods
/// until the controller has made it (the simulator does not; see its
/// README).
async fn namespace(t: &Target, name: &str, labels: Value) -> Result<()> {
    let reply = t
        .post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": name, "labels": labels}}),
        )
        .await?;
    ensure!(reply.status == 201, "creating {name}: {}", reply.body);
    t.wait_for(
        &format!("/api/v1/namespaces/{name}/serviceaccounts"),
        "default",
        PATIENCE,
        |_| true,
    )
    .await?;
    Ok(())
}

/// A created pod's admission results: code, resources, annotations.
fn admitted(reply: &crate::cluster::Reply) -> Value {
    if reply.status >= 400 {
        return normalize::status(reply);
    }
    json!({
        "code": reply.status,
        "warnings": reply.warnings,
        "annotations": reply.body["metadata"]["annotations"],
        "resources": reply.body["spec"]["containers"][0]["resources"],
    })
}

/// The admission steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("admit");
    namespace(
        t,
        &ns,
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await?;
    let base = format!("/api/v1/namespaces/{ns}");
    let limits = t
        .post(
            &format!("{base}/limitranges"),
            &json!({"metadata": {"name": "storeplane-limits"}, "spec": {"limits": [{
                "type": "Container",
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "max": {"cpu": "4", "memory": "8Gi"},
            }]}}),
        )
        .await?;
    steps.record(
        "limitrange-defaulted",
        json!({"code": limits.status, "spec": limits.body["spec"]}),
    );
    for (name, hard) in [
        (
            "storeplane-quota",
            json!({"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8",
                   "limits.memory": "16Gi", "pods": "30", "services": "20"}),
        ),
        ("tight", json!({"pods": "1"})),
    ] {
        let reply = t
            .post(
                &format!("{base}/resourcequotas"),
                &json!({"metadata": {"name": name}, "spec": {"hard": hard}}),
            )
            .await?;
        ensure!(reply.status == 201, "creating {name}: {}", reply.body);
        // A real quota gets its status from the quota controller a moment
        // later (the simulator's at once): wait, so pods meet the same quota.
        t.wait_for(&format!("{base}/resourcequotas"), name, PATIENCE, |q| {
            q.pointer("/status/used").is_some()
        })
        .await?;
    }

    let bad = t
        .post(
            &format!("{base}/pods"),
            &json!({"metadata": {"name": "bad"},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}),
        )
        .await?;
    steps.record("pod-refused-by-pod-security", admitted(&bad));
    let defaulted = t
        .post(&format!("{base}/pods"), &restricted_pod("good", json!({})))
        .await?;
    steps.record("pod-gets-limitrange-defaults", admitted(&defaulted));
    let quota = t
        .get(&format!("{base}/resourcequotas/storeplane-quota"))
        .await?;
    steps.record(
        "quota-charged",
        json!({"code": quota.status, "status": quota.body["status"]}),
    );
    let too_big = t
        .post(
            &format!("{base}/pods"),
            &restricted_pod("big", json!({"limits": {"cpu": "5"}})),
        )
        .await?;
    steps.record("pod-over-limitrange-max", admitted(&too_big));
    let over = t
        .post(
            &format!("{base}/pods"),
            &restricted_pod("second", json!({})),
        )
        .await?;
    steps.record("pod-refused-by-quota", admitted(&over));

    // A Deployment is only warned about; its ReplicaSet cannot make pods.
    let psa = t.ns("psa");
    namespace(
        t,
        &psa,
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await?;
    let deployment = t
        .post(
            &format!("/apis/apps/v1/namespaces/{psa}/deployments"),
            &json!({
                "metadata": {"name": "psa-web", "labels": {"app": "psa-web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "psa-web"}},
                    "template": {
                        "metadata": {"labels": {"app": "psa-web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                    },
                },
            }),
        )
        .await?;
    steps.record(
        "deployment-accepted-with-warning",
        json!({"code": deployment.status, "warnings": deployment.warnings}),
    );
    let event = wait_for_event(t, &psa, "FailedCreate").await?;
    steps.record(
        "replicaset-failed-create-event",
        json!({
            "type": event["type"],
            "reason": event["reason"],
            "involvedObject": {
                "kind": event["involvedObject"]["kind"],
                "apiVersion": event["involvedObject"]["apiVersion"],
                "name": normalize::text(event["involvedObject"]["name"].as_str().unwrap_or_default()),
            },
            "source": event["source"],
            "message": normalize::text(event["message"].as_str().unwrap_or_default()),
        }),
    );
    let failing = t
        .wait_for(
            &format!("/apis/apps/v1/namespaces/{psa}/deployments"),
            "psa-web",
            PATIENCE,
            |d| condition(d, "ReplicaFailure").is_some(),
        )
        .await?;
    let conditions: Option<Value> = failing.map(|d| {
        let mut list: Vec<Value> = ["Available", "Progressing", "ReplicaFailure"]
            .iter()
            .filter_map(|c| condition(&d, c))
            .map(|c| {
                json!({
                    "type": c["type"], "status": c["status"], "reason": c["reason"],
                    "message": normalize::text(c["message"].as_str().unwrap_or_default()),
                })
            })
            .collect();
        list.sort_by_key(|c| c["type"].to_string());
        json!(list)
    });
    steps.record("deployment-replica-failure", json!(conditions));
    Ok(())
}

fn condition(object: &Value, kind: &str) -> Option<Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| c["type"] == kind).cloned())
}

/// The first Event with `reason` in `ns` (listed until one is there).
async fn wait_for_event(t: &Target, ns: &str, reason: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let events = t
            .get(&format!(
                "/api/v1/namespaces/{ns}/events?fieldSelector=reason%3D{reason}"
            ))
            .await?;
        if let Some(first) = events.body["items"].as_array().and_then(|i| i.first()) {
            return Ok(first.clone());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no {reason} event in {ns} on the {} cluster after {PATIENCE:?}",
            t.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
