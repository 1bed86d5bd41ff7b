//! The OpenAPI v3 surface: the published schemas of every built-in kind
//! (what `kubectl explain` reads), and for each group/version the PATCH
//! operations with their query parameters, which is how kubectl learns that
//! the server validates fields itself (`fieldValidation`) and supports
//! `dryRun`.
//!
//! The schemas are upstream's `api/openapi-spec/v3` of Kubernetes 1.37.2,
//! merged by `gen/` into `data/openapi-v3.txt` (1.6 MB, every schema once).
//! The server never parses them: it indexes the lines once and answers a
//! document by concatenating slices of the text compiled into the binary,
//! so they cost no heap and no per-request parsing. Left uncompressed: a
//! decompressor would be a new dependency and a copy on the heap, to save
//! about 1.4 MB of a binary that is over 100 MB in a debug build.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::registry::Registry;

const OPENAPI: &str = include_str!("../../data/openapi-v3.txt");

/// One upstream document: its schema names, and schemas that differ from
/// the shared ones.
struct Document {
    schemas: Vec<&'static str>,
    overrides: HashMap<&'static str, &'static str>,
}

struct Index {
    schemas: HashMap<&'static str, &'static str>,
    documents: HashMap<&'static str, Document>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            schemas: HashMap::new(),
            documents: HashMap::new(),
        };
        for line in OPENAPI.lines() {
            let Some((tag, rest)) = line.split_once(' ') else {
                continue;
            };
            match tag {
                "S" => {
                    if let Some((name, schema)) = rest.split_once('\t') {
                        index.schemas.insert(name, schema);
                    }
                }
                "D" => {
                    if let Some((path, names)) = rest.split_once('\t') {
                        let document = index.documents.entry(path).or_insert_with(|| Document {
                            schemas: Vec::new(),
                            overrides: HashMap::new(),
                        });
                        document.schemas = names.split(',').collect();
                    }
                }
                "O" => {
                    let mut parts = rest.splitn(3, '\t');
                    if let (Some(path), Some(name), Some(schema)) =
                        (parts.next(), parts.next(), parts.next())
                    {
                        index
                            .documents
                            .entry(path)
                            .or_insert_with(|| Document {
                                schemas: Vec::new(),
                                overrides: HashMap::new(),
                            })
                            .overrides
                            .insert(name, schema);
                    }
                }
                _ => {}
            }
        }
        index
    })
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the index of group/version documents.
pub(crate) fn index_document(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let path = gv_path(group, version);
            paths.insert(
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash=storeplane-sim-1.37.2") }),
            );
        }
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/apis/<group>/<version>`: PATCH operations and the
/// published schemas, as JSON text.
pub(crate) fn group_version(registry: &Registry, group: &str, version: &str) -> Option<Vec<u8>> {
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
        if info.create_only {
            continue;
        }
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
    let head = json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBE_MINOR) },
        "paths": paths,
    });
    let mut out = serde_json::to_vec(&head).ok()?;
    // Replace the closing brace with the components, built from slices.
    out.pop();
    out.extend_from_slice(br#","components":{"schemas":{"#);
    let index = index();
    if let Some(document) = index.documents.get(gv_path(group, version).as_str()) {
        let mut first = true;
        for name in &document.schemas {
            let Some(schema) = document
                .overrides
                .get(name)
                .or_else(|| index.schemas.get(name))
            else {
                continue;
            };
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(serde_json::to_string(name).ok()?.as_bytes());
            out.push(b':');
            out.extend_from_slice(schema.as_bytes());
        }
    }
    out.extend_from_slice(b"}}}");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_the_published_schemas_of_their_kinds() {
        let registry = Registry::builtin();
        let text = group_version(&registry, "apps", "v1").unwrap();
        let doc: Value = serde_json::from_slice(&text).unwrap();
        let deployment = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["description"],
            "Deployment enables declarative updates for Pods and ReplicaSets."
        );
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"][0],
            json!({ "group": "apps", "kind": "Deployment", "version": "v1" })
        );
        // References resolve within the document.
        assert!(
            doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
                .is_object()
        );
        assert!(
            doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
                .is_object()
        );
        // DeleteOptions lists this document's group, not another's.
        let delete =
            &doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"];
        assert!(
            delete["x-kubernetes-group-version-kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|gvk| gvk["group"] == "apps")
        );
    }
}
