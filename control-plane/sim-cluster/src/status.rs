//! `metav1.Status` errors, shaped like the real apiserver's so that clients
//! (kube-rs' `ErrorResponse`, kubectl's messages) see what they expect.

use serde_json::{Value, json};

use crate::registry::ResourceInfo;

/// An error the API server answers with: an HTTP code and a `Status` body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn object_details(info: &ResourceInfo, name: &str) -> Value {
        let mut details = json!({ "name": name, "kind": info.plural });
        if !info.group.is_empty() {
            details["group"] = json!(info.group);
        }
        details
    }

    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", info.qualified()),
        )
        .with_details(Self::object_details(info, name))
    }

    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details(json!({ "name": namespace, "kind": "namespaces" }))
    }

    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", info.qualified()),
        )
        .with_details(Self::object_details(info, name))
    }

    pub fn conflict(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                info.qualified()
            ),
        )
        .with_details(Self::object_details(info, name))
    }

    pub fn precondition_failed(info: &ResourceInfo, name: &str, what: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {what}",
                info.qualified()
            ),
        )
        .with_details(Self::object_details(info, name))
    }

    /// A server-side apply conflict; `fields` are `(manager, field path)` pairs.
    pub fn apply_conflict(info: &ResourceInfo, name: &str, fields: &[(String, String)]) -> Self {
        let count = fields.len();
        let plural = if count == 1 { "" } else { "s" };
        let api_version = info.api_version;
        let list: Vec<String> = fields
            .iter()
            .map(|(manager, field)| {
                format!("conflict with \"{manager}\" using {api_version}: {field}")
            })
            .collect();
        let causes: Vec<Value> = fields
            .iter()
            .map(|(manager, field)| {
                json!({
                    "type": "FieldManagerConflict",
                    "message": format!("conflict with \"{manager}\" using {api_version}"),
                    "field": field,
                })
            })
            .collect();
        let mut details = Self::object_details(info, name);
        details["causes"] = Value::Array(causes);
        Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {count} conflict{plural}: {}",
                list.join("\n")
            ),
        )
        .with_details(details)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `422 Invalid`, with one cause per `(field, message)`.
    pub fn invalid(kind: &str, name: &str, causes: &[(&str, String)]) -> Self {
        let text: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let message = format!("{kind} \"{name}\" is invalid: {}", text.join(", "));
        let causes: Vec<Value> = causes
            .iter()
            .map(|(field, message)| json!({ "reason": "FieldValueInvalid", "message": message, "field": field }))
            .collect();
        Self::new(422, "Invalid", message)
            .with_details(json!({ "name": name, "kind": kind, "causes": causes }))
    }

    pub fn namespace_terminating(info: &ResourceInfo, name: &str, namespace: &str) -> Self {
        let mut details = Self::object_details(info, name);
        details["causes"] = json!([{
            "reason": "NamespaceTerminating",
            "message": format!("namespace {namespace} is being terminated"),
            "field": "metadata.namespace",
        }]);
        Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace \
                 {namespace} because it is being terminated",
                info.qualified()
            ),
        )
        .with_details(details)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json (got {content_type:?})"
            ),
        )
    }

    pub fn page_not_found(path: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
            .with_details(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": "404 page not found" }] }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// A successful `Status`, as returned by deletes that removed the object at once.
pub(crate) fn success_status(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    let mut details = json!({ "name": name, "kind": info.plural, "uid": uid });
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

impl ApiError {
    /// `422`: a patch that could not be applied to the object.
    pub fn invalid_patch(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }
}
