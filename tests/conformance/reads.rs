//! Reads (get, 404s, lists with label, set and field selectors, pages,
//! across namespaces) and deletes with preconditions: storeplane deletes
//! what it judged its own with a uid precondition, so that a replacement
//! created meanwhile under the same name is never deleted in its place.

use anyhow::Result;
use serde_json::{Value, json};

use crate::{
    Steps,
    cluster::{Reply, Target},
    normalize,
};

/// `{code, names}` of a list (item names, sorted), or its `Status`.
fn names(reply: &Reply) -> Value {
    if reply.status >= 400 {
        return normalize::status(reply);
    }
    let mut names: Vec<String> = reply.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or_default(),
                i["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    json!({
        "code": reply.status,
        "kind": reply.body["kind"],
        "apiVersion": reply.body["apiVersion"],
        "names": names,
        "continue": reply.body["metadata"]["continue"].as_str().is_some_and(|c| !c.is_empty()),
        "remainingItemCount": reply.body["metadata"]["remainingItemCount"],
    })
}

/// Creates `name` in `ns` with `labels`; returns it.
async fn config_map(t: &Target, ns: &str, name: &str, labels: Value) -> Result<Value> {
    let reply = t
        .post(
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &json!({"metadata": {"name": name, "labels": labels}, "data": {"k": name}}),
        )
        .await?;
    anyhow::ensure!(reply.status == 201, "creating {name}: {}", reply.body);
    Ok(reply.body)
}

/// The read steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("read");
    let other = t.ns("read2");
    let run_label = json!({"conformance-run": t.run, "app": "x"});
    for namespace in [&ns, &other] {
        let reply = t
            .post(
                "/api/v1/namespaces",
                &json!({"metadata": {"name": namespace}}),
            )
            .await?;
        anyhow::ensure!(reply.status == 201, "creating {namespace}: {}", reply.body);
    }
    // Both clusters publish `kube-root-ca.crt` in every namespace; wait for
    // it so that unfiltered lists do not race the publisher.
    t.wait_for(
        &format!("/api/v1/namespaces/{ns}/configmaps"),
        "kube-root-ca.crt",
        std::time::Duration::from_secs(30),
        |_| true,
    )
    .await?;
    let r1 = config_map(t, &ns, "r1", run_label.clone()).await?;
    config_map(t, &ns, "r2", run_label.clone()).await?;
    config_map(t, &ns, "r3", json!({"conformance-run": t.run, "app": "y"})).await?;
    config_map(t, &other, "r4", run_label).await?;

    let base = format!("/api/v1/namespaces/{ns}/configmaps");
    let got = t.get(&format!("{base}/r1")).await?;
    steps.record(
        "get",
        json!({"code": got.status, "object": normalize::object(&got.body), "sameAsCreated": got.body == r1}),
    );
    steps.record(
        "get-missing",
        normalize::status(&t.get(&format!("{base}/nope")).await?),
    );
    let gone_ns = t.ns("nope");
    steps.record(
        "get-in-missing-namespace",
        normalize::status(
            &t.get(&format!("/api/v1/namespaces/{gone_ns}/configmaps/x"))
                .await?,
        ),
    );
    steps.record(
        "get-missing-namespace",
        normalize::status(&t.get(&format!("/api/v1/namespaces/{gone_ns}")).await?),
    );
    steps.record(
        "get-missing-cluster-scoped",
        normalize::status(
            &t.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/conformance-nope")
                .await?,
        ),
    );
    steps.record(
        "get-unknown-resource",
        normalize::status(&t.get(&format!("/api/v1/namespaces/{ns}/widgets/x")).await?),
    );

    for (step, query) in [
        ("list-label-selector", "labelSelector=app%3Dx"),
        ("list-set-selector", "labelSelector=app%20in%20(x%2Cy)"),
        ("list-exists-selector", "labelSelector=app%2C!nothing"),
        ("list-field-selector", "fieldSelector=metadata.name%3Dr3"),
        (
            "list-field-selector-not",
            "fieldSelector=metadata.name!%3Dr3&labelSelector=app",
        ),
        ("list-page-1", "labelSelector=app&limit=2"),
    ] {
        let reply = t.get(&format!("{base}?{query}")).await?;
        steps.record(step, names(&reply));
        if step == "list-page-1" {
            let token = reply.body["metadata"]["continue"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let next = t
                .get(&format!(
                    "{base}?labelSelector=app&limit=2&continue={token}"
                ))
                .await?;
            steps.record("list-page-2", names(&next));
        }
    }
    // Without a selector the apiserver also says how many items are left.
    let unfiltered = t.get(&format!("{base}?limit=2")).await?;
    steps.record("list-page-unfiltered", names(&unfiltered));
    steps.record(
        "list-bad-selector",
        normalize::status(
            &t.get(&format!("{base}?labelSelector=app%3D%3D%3Dx"))
                .await?,
        ),
    );
    steps.record(
        "list-in-missing-namespace",
        names(
            &t.get(&format!("/api/v1/namespaces/{gone_ns}/configmaps"))
                .await?,
        ),
    );
    steps.record(
        "list-all-namespaces",
        names(
            &t.get(&format!(
                "/api/v1/configmaps?labelSelector=conformance-run%3D{}",
                t.run
            ))
            .await?,
        ),
    );

    // Deletes with preconditions.
    let uid = r1["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wrong = "00000000-0000-0000-0000-000000000000";
    steps.record(
        "delete-uid-mismatch",
        normalize::status(&t.delete(&format!("{base}/r1"), Some(wrong), None).await?),
    );
    steps.record(
        "delete-resource-version-mismatch",
        normalize::status(&t.delete(&format!("{base}/r1"), None, Some("1")).await?),
    );
    steps.record(
        "delete-uid-match",
        normalize::status(&t.delete(&format!("{base}/r1"), Some(&uid), None).await?),
    );
    steps.record(
        "delete-missing",
        normalize::status(&t.delete(&format!("{base}/r1"), Some(&uid), None).await?),
    );
    // A replacement under the same name is not deleted by the old uid.
    config_map(t, &ns, "r1", json!({})).await?;
    steps.record(
        "delete-replacement-by-old-uid",
        normalize::status(&t.delete(&format!("{base}/r1"), Some(&uid), None).await?),
    );
    Ok(())
}
