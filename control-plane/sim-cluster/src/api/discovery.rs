//! Discovery documents (`/api`, `/apis`, `/apis/<group>/<version>`, `/version`)
//! in the legacy (non-aggregated) format, which kubectl falls back to.

use serde_json::{Value, json};

use crate::registry::{Registry, ResourceInfo};

/// The Kubernetes version reported by `/version`: the one k8s-openapi's
/// `latest` feature models.
pub(crate) const KUBE_MINOR: &str = "37";

pub(crate) fn version() -> Value {
    // The fields of a 1.37 apiserver's `/version`; the build identity says
    // which release the simulator models (its OpenAPI schemas are 1.37.2's)
    // and, as build metadata, that it is not that release.
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "emulationMajor": "1",
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": "1",
        // The oldest release this one can be rolled back to: the previous minor.
        "minCompatibilityMinor": "36",
        "gitVersion": format!("v1.{KUBE_MINOR}.2+storeplane-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "n/a (storeplane sim-cluster, Rust)",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

pub(crate) fn root_paths(registry: &Registry) -> Value {
    let mut paths = vec!["/api".to_owned(), "/api/v1".to_owned(), "/apis".to_owned()];
    for (group, versions) in registry.groups() {
        if group.is_empty() {
            continue;
        }
        paths.push(format!("/apis/{group}"));
        for v in versions {
            paths.push(format!("/apis/{group}/{v}"));
        }
    }
    paths.extend(["/healthz", "/livez", "/readyz", "/version"].map(str::to_owned));
    json!({ "paths": paths })
}

pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({ "name": group, "versions": versions, "preferredVersion": preferred })
}

pub(crate) fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_json(g, &versions))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub(crate) fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (g, versions) = registry
        .groups()
        .into_iter()
        .find(|(g, _)| *g == name && !g.is_empty())?;
    let mut doc = group_json(g, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_json(info: &ResourceInfo) -> Value {
    let mut doc = json!({
        "name": info.plural,
        "singularName": info.singular(),
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": if info.create_only { &["create"][..] } else { VERBS },
    });
    if !info.short_names().is_empty() {
        doc["shortNames"] = json!(info.short_names());
    }
    if !info.categories().is_empty() {
        doc["categories"] = json!(info.categories());
    }
    doc
}

pub(crate) fn resource_list(registry: &Registry, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for info in registry.in_group_version(group, version) {
        resources.push(resource_json(info));
        if info.has_status {
            resources.push(json!({
                "name": format!("{}/status", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if info.has_scale() {
            resources.push(json!({
                "name": format!("{}/scale", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if info.group.is_empty() && info.plural == "pods" {
            resources.push(json!({
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"],
            }));
        }
        if info.group.is_empty() && info.plural == "namespaces" {
            resources.push(json!({
                "name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}
