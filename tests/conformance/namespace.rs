//! A namespace deleted with content in it, as storeplane tears a store
//! down: the uid precondition, `Terminating` at once, new content refused,
//! the namespace controller's conditions while an object's finalizer holds
//! it, and the namespace gone once the finalizer is removed.

use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use crate::{Steps, cluster::Target, normalize};

/// The real namespace controller waits 5 s before its first pass and
/// re-checks while content remains.
const PATIENCE: Duration = Duration::from_secs(60);

/// A finalizer of ours holding a ConfigMap (and so the namespace).
const HOLD: &str = "storeplane.dev/conformance-hold";

/// The namespace's status conditions as compared (sorted by type).
fn conditions(ns: &Value) -> Value {
    let mut list: Vec<Value> = ns
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(normalize::value)
        .collect();
    list.sort_by_key(|c| c["type"].to_string());
    Value::Array(list)
}

/// The namespace steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("doomed");
    let path = format!("/api/v1/namespaces/{ns}");
    let created = t
        .post("/api/v1/namespaces", &json!({"metadata": {"name": ns}}))
        .await?;
    steps.record(
        "create",
        json!({"code": created.status, "object": normalize::object(&created.body)}),
    );
    let uid = created.body["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let held = t
        .post(
            &format!("{path}/configmaps"),
            &json!({"metadata": {"name": "held", "finalizers": [HOLD]}, "data": {"a": "b"}}),
        )
        .await?;
    ensure!(held.status == 201, "creating held: {}", held.body);
    let plain = t
        .post(
            &format!("{path}/secrets"),
            &json!({"metadata": {"name": "plain"}, "stringData": {"a": "b"}}),
        )
        .await?;
    ensure!(plain.status == 201, "creating plain: {}", plain.body);

    steps.record(
        "delete-uid-mismatch",
        normalize::status(
            &t.delete(&path, Some("00000000-0000-0000-0000-000000000000"), None)
                .await?,
        ),
    );
    let deleted = t.delete(&path, Some(&uid), None).await?;
    steps.record(
        "delete",
        json!({"code": deleted.status, "object": normalize::object(&deleted.body)}),
    );
    let late = t
        .post(
            &format!("{path}/configmaps"),
            &json!({"metadata": {"name": "late"}}),
        )
        .await?;
    steps.record("create-while-terminating", normalize::status(&late));

    let waiting = t
        .wait_for("/api/v1/namespaces", &ns, PATIENCE, |n| {
            n.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True"
                    })
                })
        })
        .await?;
    let secret = t.get(&format!("{path}/secrets/plain")).await?;
    let held_now = t.get(&format!("{path}/configmaps/held")).await?;
    steps.record(
        "content-remaining",
        json!({
            "phase": waiting.as_ref().map(|n| n["status"]["phase"].clone()),
            "conditions": waiting.as_ref().map(conditions),
            "spec": waiting.as_ref().map(|n| n["spec"].clone()),
            "secretCode": secret.status,
            "held": {
                "code": held_now.status,
                "deleting": held_now.body["metadata"]["deletionTimestamp"].is_string(),
                "finalizers": held_now.body["metadata"]["finalizers"],
            },
        }),
    );

    // Watch the namespace from now until it goes.
    let rv = waiting
        .as_ref()
        .and_then(|n| n["metadata"]["resourceVersion"].as_str())
        .unwrap_or("0")
        .to_owned();
    let watch = t.watch(
        &format!(
            "/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3D{ns}&resourceVersion={rv}&timeoutSeconds={}",
            PATIENCE.as_secs()
        ),
        20,
        PATIENCE,
        |e| e["type"] == "DELETED",
    );
    let released = t
        .json_patch(
            &format!("{path}/configmaps/held"),
            &json!([{"op": "remove", "path": "/metadata/finalizers"}]),
        )
        .await?;
    ensure!(released.status == 200, "releasing held: {}", released.body);
    let mut seen = Vec::new();
    for line in watch.await?? {
        let e = &line.event;
        seen.push(json!({
            "type": e["type"],
            "phase": e["object"]["status"]["phase"],
            "conditions": conditions(&e["object"]),
        }));
        if e["type"] == "DELETED" {
            break;
        }
    }
    steps.record("finalizer-removed-then-gone", json!(seen));
    steps.record("get-after", normalize::status(&t.get(&path).await?));
    Ok(())
}
