//! Objects every cluster starts with: the system namespaces, one Ready node,
//! a default StorageClass and the `kubernetes` Service.

use serde_json::{Value, json};

use super::events::{NODE_NAME, NODE_ZONE, ZONE_LABEL};
use crate::api::discovery::KUBE_MINOR;
use crate::store::{Store, WriteCtx};

fn create(store: &Store, group: &str, plural: &str, namespace: Option<&str>, obj: Value) {
    let Some(res) = store.registry().lookup(group, "v1", plural) else {
        return;
    };
    // Bootstrap objects are fixed and valid; a failure would only mean the
    // object exists already.
    let _ = store.create(res, namespace, obj, WriteCtx::new("kube-apiserver"));
}

/// Creates the built-in objects.
pub(crate) fn bootstrap(store: &Store) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create(
            store,
            "",
            "namespaces",
            None,
            json!({ "metadata": { "name": ns } }),
        );
    }
    create(
        store,
        "",
        "nodes",
        None,
        json!({
            "metadata": {
                "name": NODE_NAME,
                // kwok's fake node labels, as on the test suite's real
                // cluster; the zone is what PodTopologyLabels copies to pods.
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.kubernetes.io/worker": "",
                    ZONE_LABEL: NODE_ZONE,
                    "type": "kwok",
                },
                "annotations": { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            },
            "spec": {},
            "status": {
                "capacity": { "cpu": "32", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti" },
                "allocatable": { "cpu": "32", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti" },
                "conditions": [
                    { "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status (simulated)" },
                    { "type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available" },
                    { "type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure" },
                    { "type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available" },
                ],
                "addresses": [{ "type": "InternalIP", "address": "10.89.0.2" }, { "type": "Hostname", "address": NODE_NAME }],
                "nodeInfo": {
                    "kubeletVersion": format!("v1.{KUBE_MINOR}.0-storeplane-sim"),
                    "containerRuntimeVersion": "sim://1.0.0",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "osImage": "storeplane sim-cluster",
                    "kernelVersion": "n/a",
                    "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "",
                },
            },
        }),
    );
    // The apiserver's own PriorityClasses (the Priority plugin reads them).
    for (name, value, description) in [
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ] {
        create(
            store,
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            json!({ "metadata": { "name": name }, "value": value, "description": description,
                    "preemptionPolicy": "PreemptLowerPriority" }),
        );
    }
    create(
        store,
        "storage.k8s.io",
        "storageclasses",
        None,
        json!({
            "metadata": {
                "name": "standard",
                "annotations": { "storageclass.kubernetes.io/is-default-class": "true" },
            },
            "provisioner": "sim.storeplane.io/hostpath",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
        }),
    );
    create(
        store,
        "",
        "services",
        Some("default"),
        json!({
            "metadata": { "name": "kubernetes", "namespace": "default", "labels": { "component": "apiserver", "provider": "kubernetes" } },
            "spec": { "type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }] },
        }),
    );
}
