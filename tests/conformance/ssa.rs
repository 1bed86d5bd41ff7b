//! Server-side apply as storeplane uses it: the namespace created then
//! applied under the platform's field manager, the baseline objects, a
//! plugin's object under `storeplane`, updates that drop fields, no-op
//! re-applies that must not bump the resourceVersion (the baseline is
//! re-applied on every drift event: a bump would loop), and field-manager
//! conflicts (409, causes as a set) resolved by `force`.

use anyhow::Result;
use serde_json::{Value, json};

use crate::{
    Steps,
    cluster::{Reply, Target},
    normalize,
};

/// storeplane's managers (`control-plane/src/cluster/ops.rs`).
const PLATFORM: &str = "storeplane-platform";
const PLUGIN: &str = "storeplane";

/// The owner labels and Pod Security label storeplane puts on a store namespace.
fn store_labels() -> Value {
    json!({
        "storeplane.dev/store": "conformance",
        "storeplane.dev/instance": "conformance",
        "app.kubernetes.io/managed-by": "storeplane",
        "pod-security.kubernetes.io/enforce": "restricted",
    })
}

/// `{code, object}` of a write, or its `Status`.
fn written(reply: &Reply) -> Value {
    if reply.status >= 400 {
        return normalize::status(reply);
    }
    json!({"code": reply.status, "object": normalize::object(&reply.body)})
}

fn rv(v: &Value) -> &str {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
}

/// Applies `object` again, unchanged, and records whether that bumped
/// the resourceVersion (it must not).
async fn reapply(
    t: &Target,
    steps: &mut Steps,
    step: &str,
    path: &str,
    manager: &str,
    object: &Value,
) -> Result<()> {
    let before = t.get(path).await?;
    let again = t.apply(path, manager, true, object).await?;
    steps.record(
        step,
        json!({
            "code": again.status,
            "resourceVersionChanged": rv(&before.body) != rv(&again.body),
        }),
    );
    Ok(())
}

/// The apply steps.
pub async fn run(t: &Target, steps: &mut Steps) -> Result<()> {
    let ns = t.ns("ssa");
    let ns_path = format!("/api/v1/namespaces/{ns}");
    let namespace = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": store_labels()},
    });

    // storeplane creates a store's namespace (never applies it into
    // existence: that could take over someone else's), then applies it.
    let created = t
        .post(
            &format!("/api/v1/namespaces?fieldManager={PLATFORM}"),
            &namespace,
        )
        .await?;
    steps.record("namespace-create", written(&created));
    let applied = t.apply(&ns_path, PLATFORM, true, &namespace).await?;
    steps.record(
        "namespace-apply",
        json!({
            "write": written(&applied),
            "resourceVersionChanged": rv(&created.body) != rv(&applied.body),
        }),
    );
    reapply(
        t,
        steps,
        "namespace-reapply-is-a-no-op",
        &ns_path,
        PLATFORM,
        &namespace,
    )
    .await?;

    // The baseline, as `reconcile/namespace.rs` applies it (the platform's
    // default quota and limits).
    let labels =
        json!({"storeplane.dev/store": "conformance", "storeplane.dev/instance": "conformance"});
    let baseline = [
        (
            "limitranges",
            "/api/v1",
            json!({"apiVersion": "v1", "kind": "LimitRange",
            "metadata": {"name": "storeplane-limits", "namespace": ns, "labels": labels},
            "spec": {"limits": [{
                "type": "Container",
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "max": {"cpu": "4", "memory": "8Gi"},
            }]}}),
        ),
        (
            "networkpolicies",
            "/apis/networking.k8s.io/v1",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "storeplane-default-deny", "namespace": ns, "labels": labels},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        ),
        (
            "networkpolicies",
            "/apis/networking.k8s.io/v1",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "storeplane-allow-dns", "namespace": ns, "labels": labels},
            "spec": {
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            }}),
        ),
        (
            "resourcequotas",
            "/api/v1",
            json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "storeplane-quota", "namespace": ns, "labels": labels},
            "spec": {"hard": {
                "requests.cpu": "4", "requests.memory": "8Gi",
                "limits.cpu": "8", "limits.memory": "16Gi",
                "persistentvolumeclaims": "10", "requests.storage": "50Gi",
                "pods": "30", "services": "20",
            }}}),
        ),
    ];
    for (plural, prefix, object) in &baseline {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let path = format!("{prefix}/namespaces/{ns}/{plural}/{name}");
        let reply = t.apply(&path, PLATFORM, true, object).await?;
        let mut outcome = written(&reply);
        // storeplane's drift check (`reconcile/namespace.rs`): a live spec
        // that differs from the applied one is drift, and re-applying it
        // would loop if the cluster rewrote it.
        outcome["specAsApplied"] = json!(reply.body["spec"] == object["spec"]);
        if *plural == "resourcequotas" {
            // The real quota controller fills the status a moment later;
            // the simulator at once. Compared below, once there.
            if let Some(object) = outcome["object"].as_object_mut() {
                object.remove("status");
            }
        }
        steps.record(&format!("baseline-{name}-apply"), outcome);
        if *plural == "resourcequotas" {
            let quota = t
                .wait_for(
                    &format!("{prefix}/namespaces/{ns}/{plural}"),
                    name,
                    std::time::Duration::from_secs(30),
                    |q| q.pointer("/status/used").is_some(),
                )
                .await?;
            steps.record(
                "baseline-resourcequotas-status",
                json!(quota.map(|q| normalize::value(&q["status"]))),
            );
        }
        reapply(
            t,
            steps,
            &format!("baseline-{name}-reapply-is-a-no-op"),
            &path,
            PLATFORM,
            object,
        )
        .await?;
    }

    // A plugin's object: created, updated with a field dropped, re-applied.
    let cm_path = format!("/api/v1/namespaces/{ns}/configmaps/settings");
    let config = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns, "labels": {"app": "settings"}},
            "data": data})
    };
    let first = config(json!({"a": "1", "b": "2"}));
    steps.record(
        "plugin-apply-create",
        written(&t.apply(&cm_path, PLUGIN, true, &first).await?),
    );
    let second = config(json!({"a": "1", "c": "3"}));
    steps.record(
        "plugin-apply-update-drops-b",
        written(&t.apply(&cm_path, PLUGIN, true, &second).await?),
    );
    reapply(
        t,
        steps,
        "plugin-reapply-is-a-no-op",
        &cm_path,
        PLUGIN,
        &second,
    )
    .await?;

    // Conflicts: another manager may not take storeplane's fields without
    // force; with two owners the message groups fields by manager.
    let partial = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns}, "data": data})
    };
    steps.record(
        "conflict-one-field",
        normalize::status(
            &t.apply(&cm_path, "intruder", false, &partial(json!({"a": "x"})))
                .await?,
        ),
    );
    let other = t
        .apply(&cm_path, "other", false, &partial(json!({"d": "4"})))
        .await?;
    steps.record(
        "second-manager-adds-its-field",
        json!({"code": other.status, "managers": normalize::managers(&other.body)}),
    );
    steps.record(
        "conflict-two-managers",
        normalize::status(
            &t.apply(
                &cm_path,
                "intruder",
                false,
                &partial(json!({"a": "x", "c": "y", "d": "z"})),
            )
            .await?,
        ),
    );
    let forced = t
        .apply(&cm_path, "intruder", true, &partial(json!({"a": "x"})))
        .await?;
    steps.record(
        "conflict-forced",
        json!({"code": forced.status, "data": forced.body["data"], "managers": normalize::managers(&forced.body)}),
    );
    // storeplane always applies with force: it takes its field back.
    let back = t.apply(&cm_path, PLUGIN, true, &second).await?;
    steps.record(
        "plugin-takes-its-field-back",
        json!({"code": back.status, "data": back.body["data"], "managers": normalize::managers(&back.body)}),
    );
    quantities(t, steps, &ns).await
}

/// Quantities as written (numbers and non-canonical strings stored
/// canonically) and values that are no quantity, refused differently by
/// verb: a create's 400, an apply's 500 without a reason (which
/// storeplane must not take for an outage), a merge patch's 422.
async fn quantities(t: &Target, steps: &mut Steps, ns: &str) -> Result<()> {
    let limits = format!("/api/v1/namespaces/{ns}/limitranges");
    let lots = json!({"apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "lots"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "lots"}}]}});
    steps.record(
        "quantity-create-not-a-quantity",
        normalize::status(&t.post(&limits, &lots).await?),
    );
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "lots"},
        "spec": {"selector": {"matchLabels": {"app": "lots"}},
            "template": {"metadata": {"labels": {"app": "lots"}},
                "spec": {"containers": [{"name": "web", "image": "nginx",
                    "resources": {"limits": {"cpu": "lots"}}}]}}}});
    steps.record(
        "quantity-apply-not-a-quantity",
        normalize::status(
            &t.apply(
                &format!("/apis/apps/v1/namespaces/{ns}/deployments/lots"),
                PLUGIN,
                true,
                &deployment,
            )
            .await?,
        ),
    );
    let numbers = json!({"apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "numbers", "namespace": ns},
        "spec": {"limits": [{"type": "Container",
            "max": {"cpu": 0.5, "memory": "1024Mi"}, "min": {"cpu": 0}}]}});
    let applied = t
        .apply(&format!("{limits}/numbers"), PLUGIN, true, &numbers)
        .await?;
    steps.record(
        "quantity-apply-numbers-are-stored-canonically",
        json!({"code": applied.status, "spec": applied.body["spec"]}),
    );
    // The message quotes the whole patched object as its Go type prints
    // it (uid, times, managedFields): the simulator's differs (README).
    let patched = t
        .merge_patch(
            &format!("{limits}/numbers"),
            &json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "lots"}}]}}),
        )
        .await?;
    let refused = normalize::status(&patched);
    steps.record(
        "quantity-merge-patch-not-a-quantity",
        json!({"code": refused["code"], "reason": refused["reason"],
            "says": refused["message"].as_str().is_some_and(|m| m.ends_with(
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))}),
    );
    Ok(())
}
