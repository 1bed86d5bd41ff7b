//! List-then-watch as kube-runtime's watcher does it (from the list's
//! resourceVersion, with bookmarks and a server-side timeout), and the
//! `410 Gone` a watch from a compacted resourceVersion gets, which makes a
//! watcher re-list.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::{Steps, cluster::Target, normalize};

/// The server ends the watch after this; bookmarks come 2 s before.
const WATCH_TIMEOUT_SECONDS: u64 = 4;

/// How long the `410` step waits for the cluster to have compacted etcd
/// past resourceVersion 1 (xtask's real cluster compacts every 10 s, so
/// only a cluster younger than ~20 s makes it wait).
const COMPACTION_PATIENCE: Duration = Duration::from_secs(40);

/// A watch event as compared: type, object name and data; a bookmark as
/// its kind, apiVersion and metadata keys.
fn event(e: &Value) -> Value {
    let object = &e["object"];
    match e["type"].as_str() {
        Some("BOOKMARK") => json!({
            "type": "BOOKMARK",
            "kind": object["kind"],
            "apiVersion": object["apiVersion"],
            "metadataKeys": object["metadata"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        }),
        Some("ERROR") => json!({"type": "ERROR", "object": normalize::value(object)}),
        _ => json!({
            "type": e["type"],
            "name": object["metadata"]["name"],
            "data": object["data"],
        }),
    }
}

fn rv_of(e: &Value) -> u64 {
    e["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The watch steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("watch");
    let reply = t
        .post("/api/v1/namespaces", &json!({"metadata": {"name": ns}}))
        .await?;
    anyhow::ensure!(reply.status == 201, "creating {ns}: {}", reply.body);
    let base = format!("/api/v1/namespaces/{ns}/configmaps");
    let selector = "labelSelector=conformance%3Dwatch";

    let list = t.get(&format!("{base}?{selector}")).await?;
    let rv = list.body["metadata"]["resourceVersion"]
        .as_str()
        .context("list without resourceVersion")?
        .to_owned();
    steps.record(
        "list",
        json!({"code": list.status, "items": list.body["items"], "hasResourceVersion": !rv.is_empty()}),
    );
    let watch = t.watch(
        &format!(
            "{base}?watch=1&{selector}&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds={WATCH_TIMEOUT_SECONDS}"
        ),
        100,
        Duration::from_secs(WATCH_TIMEOUT_SECONDS + 10),
        |_| false,
    );
    // Give the watch a moment to be established before the first write
    // (a write before it would still be replayed from `rv`).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let labels = json!({"conformance": "watch"});
    t.post(
        &base,
        &json!({"metadata": {"name": "w1", "labels": labels}, "data": {"v": "1"}}),
    )
    .await?;
    // Not selected: never seen by the watch.
    t.post(&base, &json!({"metadata": {"name": "other"}}))
        .await?;
    t.merge_patch(&format!("{base}/w1"), &json!({"data": {"v": "2"}}))
        .await?;
    // Patched out of the selection: a DELETED for this watch.
    t.post(
        &base,
        &json!({"metadata": {"name": "w2", "labels": labels}, "data": {"v": "1"}}),
    )
    .await?;
    t.merge_patch(
        &format!("{base}/w2"),
        &json!({"metadata": {"labels": {"conformance": null}}}),
    )
    .await?;
    let deleted = t.delete(&format!("{base}/w1"), None, None).await?;
    let lines = watch.await??;
    let mut events: Vec<Value> = Vec::new();
    let mut last_change = 0;
    let mut bookmark_after_last_change = false;
    for line in &lines {
        let e = event(&line.event);
        if e["type"] == "BOOKMARK" {
            bookmark_after_last_change |= rv_of(&line.event) >= last_change;
            // The apiserver may send one or two before the deadline.
            if events.last() == Some(&e) {
                continue;
            }
        } else {
            last_change = rv_of(&line.event);
        }
        events.push(e);
    }
    let ended = lines.last().map(|l| l.at.as_secs_f64()).unwrap_or_default();
    steps.record(
        "watch-from-list",
        json!({
            "events": events,
            "bookmarkCarriesTheLatestVersion": bookmark_after_last_change,
            "deleteCode": deleted.status,
            // Ended by the server's timeout, not ours.
            "endedBeforeOurDeadline": ended < (WATCH_TIMEOUT_SECONDS + 5) as f64,
        }),
    );

    steps.record("watch-gone", gone(t, &ns).await?);

    let invalid = t
        .watch(
            &format!("{base}?watch=1&resourceVersion=abc"),
            1,
            Duration::from_secs(10),
            |_| false,
        )
        .await??;
    steps.record(
        "watch-invalid-resource-version",
        json!(
            invalid
                .iter()
                .map(|l| normalize::value(&l.event))
                .collect::<Vec<_>>()
        ),
    );
    Ok(())
}

/// Watches Events (served from etcd, not from the watch cache) from
/// resourceVersion 1, which both clusters have compacted away (the real
/// one every 10 s, as xtask starts it; the simulated one as configured in
/// this test): the first event is an `ERROR` with a `410 Expired` status.
async fn gone(t: &Target, ns: &str) -> Result<Value> {
    let path = format!("/api/v1/namespaces/{ns}/events?watch=1&resourceVersion=1&timeoutSeconds=2");
    let deadline = tokio::time::Instant::now() + COMPACTION_PATIENCE;
    loop {
        let lines = t
            .watch(&path, 1, Duration::from_secs(5), |_| false)
            .await??;
        let first = lines
            .first()
            .map(|l| l.event.clone())
            .unwrap_or(Value::Null);
        let is_gone = first["type"] == "ERROR" && first["object"]["code"] == 410;
        if is_gone || tokio::time::Instant::now() >= deadline {
            return Ok(if is_gone {
                event(&first)
            } else {
                json!({
                    "notGoneAfter": COMPACTION_PATIENCE.as_secs(),
                    "hint": "etcd was not compacted past resourceVersion 1: start the cluster with \
                             `cargo xtask cluster up`, which sets --etcd-compaction-interval=10s",
                    "first": first,
                })
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
