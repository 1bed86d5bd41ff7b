//! A skeletal OpenAPI v3 surface: for each group/version, the PATCH operations
//! with their query parameters and `x-kubernetes-group-version-kind`, and no
//! schemas. kubectl reads exactly this to learn that the server validates
//! fields itself (`fieldValidation`) and supports `dryRun`, and then skips
//! client-side schema validation (which would need full schemas).

use serde_json::{Map, Value, json};

use crate::registry::Registry;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the index of group/version documents.
pub(crate) fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let path = gv_path(group, version);
            paths.insert(
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash=storeplane-sim") }),
            );
        }
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/apis/<group>/<version>`: PATCH operations only.
pub(crate) fn group_version(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    if !registry.has_group_version(group, version) {
        return None;
    }
    let query = |name: &str| json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } });
    let parameters = json!([
        query("dryRun"),
        query("fieldManager"),
        query("fieldValidation"),
        query("force"),
    ]);
    let mut paths = Map::new();
    for info in registry.in_group_version(group, version) {
        let prefix = format!("/{}", gv_path(group, version));
        let path = if info.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", info.plural)
        } else {
            format!("{prefix}/{}/{{name}}", info.plural)
        };
        let gvk = json!({ "group": info.group, "version": info.version, "kind": info.kind });
        paths.insert(
            path,
            json!({
                "patch": {
                    "operationId": format!("patch{}", info.kind),
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": parameters,
                    "responses": { "200": { "description": "OK" } },
                },
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes (storeplane sim-cluster)", "version": format!("v1.{}.0", super::discovery::KUBE_MINOR) },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}
