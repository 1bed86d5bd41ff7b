//! Access and identity reviews (`authorization.k8s.io/v1` and
//! `authentication.k8s.io/v1`): created to get an answer, never stored.
//!
//! The simulated cluster has no authentication or authorization: every
//! caller is its one administrator. Reviews answer as a real apiserver
//! answers a `system:masters` user (checked against kube-apiserver 1.37):
//! everything allowed, the cluster-admin rules, and that identity.

use serde_json::{Value, json};

use crate::apply;
use crate::meta;
use crate::registry::ResourceInfo;

/// Who the simulated cluster says every caller is (`kubectl auth whoami`).
const USERNAME: &str = "admin";
const GROUPS: [&str; 2] = ["system:masters", "system:authenticated"];

/// The answer to a review request `body` of kind `info`.
pub(crate) fn answer(info: &ResourceInfo, body: &Value, manager: &str) -> Value {
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut answer = json!({
        "kind": info.kind,
        "apiVersion": info.api_version,
        "metadata": {},
    });
    match info.kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            answer["spec"] = spec;
            answer["status"] = json!({ "allowed": true });
            if let Some(ns) = meta::namespace(body) {
                answer["metadata"]["namespace"] = json!(ns);
            }
            // The apiserver records the request's field manager, nothing else.
            apply::record_update(None, &mut answer, manager, None, info);
            let managed = answer.pointer("/metadata/managedFields").cloned();
            answer["metadata"] = match managed {
                Some(fields) => json!({ "managedFields": fields }),
                None => json!({}),
            };
        }
        "SelfSubjectRulesReview" => {
            answer["spec"] = json!({});
            answer["status"] = json!({
                "resourceRules": [
                    { "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] },
                    { "verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                      "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
                    { "verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
                      "resources": ["selfsubjectreviews"] },
                ],
                "nonResourceRules": [
                    { "verbs": ["*"], "nonResourceURLs": ["*"] },
                    { "verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"] },
                    { "verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"] },
                ],
                "incomplete": false,
            });
        }
        _ => {
            answer["metadata"] = json!({ "creationTimestamp": meta::now() });
            answer["status"] = json!({ "userInfo": {
                "username": USERNAME, "uid": USERNAME, "groups": GROUPS,
            }});
        }
    }
    answer
}
