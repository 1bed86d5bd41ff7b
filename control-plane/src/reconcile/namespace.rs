//! The store namespace and its platform baseline: labels, ResourceQuota,
//! LimitRange and a deny-by-default NetworkPolicy set.

use serde_json::{Map, Value, json};
use storeplane_plugin_host::HostError;

use super::Context;
use crate::{
    cluster::{LABEL_MANAGED_BY, LABEL_STORE, LABEL_TENANT},
    domain::Store,
};

/// Labels every object of a store carries.
pub fn labels(store: &Store) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(LABEL_STORE.into(), Value::String(store.id.to_string()));
    labels.insert(LABEL_TENANT.into(), Value::String(store.tenant.0.clone()));
    labels.insert(LABEL_MANAGED_BY.into(), Value::String("storeplane".into()));
    labels
}

/// Creates or converges the namespace and its baseline objects.
pub async fn prepare(ctx: &Context, store: &Store) -> Result<(), HostError> {
    let ns = store.namespace();
    let labels = labels(store);
    ctx.kube.ensure_namespace(&ns, &labels).await?;
    let meta = |name: &str| json!({"name": name, "namespace": ns, "labels": labels});
    let platform = &ctx.platform;
    let objects = [
        json!({
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("storeplane-quota"),
            "spec": {"hard": platform.quota},
        }),
        json!({
            "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("storeplane-limits"),
            "spec": {"limits": platform.limits},
        }),
        // Nothing in, nothing out, unless allowed below or by the engine's chart.
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta("storeplane-default-deny"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta("storeplane-allow-same-namespace"),
            "spec": {
                "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta("storeplane-allow-dns"),
            "spec": {
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            },
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta("storeplane-allow-ingress-controller"),
            "spec": {
                "podSelector": {}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": platform.ingress_namespace,
                }}}]}],
            },
        }),
    ];
    for object in &objects {
        ctx.kube.apply(Some(&ns), object).await?;
    }
    Ok(())
}

/// Starts deleting the namespace; true once it is gone.
pub async fn delete(ctx: &Context, store: &Store) -> Result<bool, HostError> {
    let ns = store.namespace();
    match ctx.kube.get(None, "v1", "Namespace", &ns).await? {
        None => Ok(true),
        Some(existing) => {
            if existing["metadata"]["deletionTimestamp"].is_null() {
                ctx.kube.delete(None, "v1", "Namespace", &ns).await?;
            }
            Ok(false)
        }
    }
}
