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
    /// Answered as `text/plain` (the message alone) rather than a `Status`.
    pub plain_text: bool,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            plain_text: false,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn object_details(info: &ResourceInfo, name: &str) -> Value {
        let mut details = json!({ "kind": info.plural });
        if !name.is_empty() {
            details["name"] = json!(name);
        }
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

    /// A delete precondition that failed, as `rest.BeforeDelete` reports
    /// it: a conflict on the *kind* (`ConfigMap`, `Deployment.apps`), not
    /// the resource.
    pub fn delete_precondition_failed(info: &ResourceInfo, name: &str, what: &str) -> Self {
        let qualified = if info.group.is_empty() {
            info.kind.to_owned()
        } else {
            format!("{}.{}", info.kind, info.group)
        };
        let mut details = json!({ "name": name, "kind": info.kind });
        if !info.group.is_empty() {
            details["group"] = json!(info.group);
        }
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} \"{name}\": {what}"),
        )
        .with_details(details)
    }

    /// A server-side apply conflict; `fields` are `(manager, field path)`
    /// pairs, the manager as printed (`"one"`, `"kubectl" using v1`), in
    /// manager order. Worded like apimachinery's `NewConflictError`: one
    /// conflict inline, several grouped by manager; the details carry one
    /// cause per field and, unlike other errors, no name or kind.
    pub fn apply_conflict(fields: &[(String, String)]) -> Self {
        let message = match fields {
            [(manager, field)] => {
                format!("Apply failed with 1 conflict: conflict with {manager}: {field}")
            }
            _ => {
                let mut lines = Vec::new();
                let mut previous: Option<&str> = None;
                for (manager, field) in fields {
                    if previous != Some(manager.as_str()) {
                        lines.push(format!("conflicts with {manager}:"));
                        previous = Some(manager);
                    }
                    lines.push(format!("- {field}"));
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    fields.len(),
                    lines.join("\n")
                )
            }
        };
        let causes: Vec<Value> = fields
            .iter()
            .map(|(manager, field)| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {manager}"),
                    "field": field,
                })
            })
            .collect();
        Self::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `422 Invalid`, with one cause per `(field, message)`, worded like
    /// apimachinery's `NewInvalid` (several causes as `[a, b]`). The cause
    /// type follows the message (`Required value: ...` is
    /// `FieldValueRequired`, and so on).
    pub fn invalid(kind: &str, name: &str, causes: &[(&str, String)]) -> Self {
        let text: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let message = match crate::admission::aggregate(&text) {
            Some(all) => format!("{kind} \"{name}\" is invalid: {all}"),
            None => format!("{kind} \"{name}\" is invalid"),
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|(field, message)| {
                let reason = [
                    ("Required value", "FieldValueRequired"),
                    ("Forbidden", "FieldValueForbidden"),
                    ("Unsupported value", "FieldValueNotSupported"),
                    ("Duplicate value", "FieldValueDuplicate"),
                    ("Too long", "FieldValueTooLong"),
                ]
                .iter()
                .find(|(prefix, _)| message.starts_with(prefix))
                .map_or("FieldValueInvalid", |(_, reason)| reason);
                json!({ "reason": reason, "message": message, "field": field })
            })
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

    /// Whether this is NamespaceLifecycle's refusal of new content in a
    /// terminating namespace (controllers record no event for it).
    pub fn is_namespace_terminating(&self) -> bool {
        self.details
            .as_ref()
            .and_then(|d| d.get("causes"))
            .and_then(Value::as_array)
            .is_some_and(|causes| {
                causes.iter().any(|c| {
                    c.get("reason").and_then(Value::as_str) == Some("NamespaceTerminating")
                })
            })
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// `405` as the apiserver's router answers a verb a resource does not
    /// have.
    pub fn method_not_allowed_generic() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// `415` for a create, update or delete body in a format the server
    /// cannot decode, worded like the apiserver's input negotiation (the
    /// media types it lists are those of the built-in kinds).
    pub fn unsupported_body_format() -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                crate::api::media::BODY_TYPES.join(", ")
            ),
        )
    }

    /// `415` for a PATCH with a Content-Type that is not a patch type: the
    /// apiserver's router (go-restful) refuses it before the handler runs,
    /// so the message is its generic one and the details are empty.
    pub fn unsupported_patch_type() -> Self {
        Self::new(415, "UnsupportedMediaType", "415: Unsupported Media Type")
            .with_details(json!({}))
    }

    /// `413` for a body over the apiserver's limit (`--max-request-bytes`
    /// style: 3 MiB by default).
    pub fn entity_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// `403` for a request whose `Host` is not a loopback name. Not an
    /// apiserver behaviour: the simulated API has no authentication, so it
    /// refuses requests a browser could make on behalf of another site
    /// (DNS rebinding).
    pub fn host_forbidden(host: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "forbidden: host {host:?} is not allowed: the simulated API server answers only to \
                 127.0.0.1, localhost and [::1] (any port)"
            ),
        )
    }

    /// `403` from an admission plugin, worded like `admission.NewForbidden`:
    /// `pods "web-1" is forbidden: <reason>`.
    pub fn forbidden(info: &ResourceInfo, name: &str, reason: &str) -> Self {
        let message = if name.is_empty() {
            format!("{} is forbidden: {reason}", info.qualified())
        } else {
            format!("{} \"{name}\" is forbidden: {reason}", info.qualified())
        };
        Self::new(403, "Forbidden", message).with_details(Self::object_details(info, name))
    }

    /// `404` for a resource, subresource or version the apiserver does not
    /// serve under a group it knows: a `Status` with empty details.
    pub fn resource_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// `404` for a path no handler serves (an unknown group, `/foo`): the
    /// apiserver's mux answers in plain text, not with a `Status`.
    pub fn no_route() -> Self {
        let mut error = Self::new(404, "NotFound", "404 page not found\n");
        error.plain_text = true;
        error
    }

    /// `400`: a create or update body that does not decode into the kind's
    /// Go type (the apiserver's `transformDecodeError`), `reason` being the
    /// decoder's error.
    pub fn undecodable(info: &ResourceInfo, reason: &str) -> Self {
        Self::new(
            400,
            "BadRequest",
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {reason}",
                kind = info.kind,
                version = info.version,
            ),
        )
    }

    /// `500` with no reason: a server-side apply whose merged object does
    /// not convert into the kind's Go type. `namespace` is the applied
    /// configuration's own (empty when it names none), as the apiserver
    /// prints it.
    pub fn unconvertible_apply(
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        reason: &str,
    ) -> Self {
        let gvk = format!("{}/{}, Kind={}", info.group, info.version, info.kind);
        Self::new(
            500,
            "",
            format!(
                "failed to convert new object ({namespace}/{name}; {gvk}) to proper version: \
                 unable to convert unstructured object to {gvk}: {reason}"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// What the apiserver answers to a watch from a resourceVersion that is
    /// not a number: the storage layer's parse error, passed through
    /// unclassified (a `500` with no reason).
    pub fn unparsable_resource_version(rv: &str) -> Self {
        let parse_error = if !rv.is_empty() && rv.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        Self::new(
            500,
            "",
            format!(
                "resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: {parse_error}"
            ),
        )
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
        if self.reason.is_empty() {
            // Unclassified errors carry no reason, as `metav1.Status` omits it.
            if let Some(fields) = status.as_object_mut() {
                fields.remove("reason");
            }
        }
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
