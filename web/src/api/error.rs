//! API failures as the dashboard reasons about them: the server's verdict
//! (with `google.rpc.BadRequest` field violations), a missing or rejected
//! token, or no server at all.

use thiserror::Error;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// One bad field of a request, as `google.rpc.BadRequest` names it
/// (`name`, `config.admin_email`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Dotted path of the field.
    pub field: String,
    /// Why it is bad.
    pub description: String,
}

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ApiError {
    /// No answer from the server (network down, server stopped, wrong
    /// address): worth retrying.
    #[error("cannot reach the server ({0})")]
    Unreachable(String),
    /// The token is missing, wrong, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// The request was invalid; `violations` says which fields.
    #[error("{message}")]
    InvalidArgument {
        /// The server's summary.
        message: String,
        /// Per-field problems.
        violations: Vec<FieldViolation>,
    },
    /// ALREADY_EXISTS: something the request names belongs to another
    /// resource (a store name, a custom domain), as the server's
    /// `google.rpc.ResourceInfo` says.
    #[error("{message}")]
    AlreadyExists {
        /// `ResourceInfo.resource_type`: `store`, `domain`, …
        resource_type: String,
        /// `ResourceInfo.resource_name`: the name that is taken.
        name: String,
        /// `ResourceInfo.description`: why, about that name.
        description: String,
        /// The server's message.
        message: String,
    },
    /// Any other refusal (not found, precondition, quota, …).
    #[error("{message}")]
    Rejected {
        /// The gRPC status code.
        code: Code,
        /// The server's message.
        message: String,
    },
}

impl ApiError {
    /// Whether asking again later may work (the indicator shows
    /// "reconnecting" rather than an error).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Rejected { code, .. } => matches!(
                code,
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
            ),
            _ => false,
        }
    }

    /// The field violations, if any.
    pub fn violations(&self) -> &[FieldViolation] {
        match self {
            Self::InvalidArgument { violations, .. } => violations,
            _ => &[],
        }
    }
}

/// Transport failures reach us as `Unknown` statuses whose message is the
/// browser's (`TypeError: Failed to fetch`) or the grpc-web client's.
fn looks_like_transport(message: &str) -> bool {
    [
        "JS API error",
        "Failed to fetch",
        "NetworkError",
        "network error",
        "content-type",
        "malformed response",
        "missing response body",
        "error reading a body",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The browser's words for a failed fetch ("JS API error: TypeError:
/// Failed to fetch") mean nothing to a person; say what happened instead.
fn unreachable(message: String) -> ApiError {
    let plain = if message.contains("JS API error") || message.contains("Failed to fetch") {
        "no answer from the server".to_owned()
    } else {
        message
    };
    ApiError::Unreachable(plain)
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::Unauthenticated => Self::Unauthenticated(if message.is_empty() {
                "the server did not accept the token".to_owned()
            } else {
                message
            }),
            Code::InvalidArgument => {
                let violations = status
                    .get_error_details()
                    .bad_request()
                    .map(|br| {
                        br.field_violations
                            .iter()
                            .map(|v| FieldViolation {
                                field: v.field.clone(),
                                description: v.description.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Self::InvalidArgument {
                    message,
                    violations,
                }
            }
            Code::AlreadyExists => {
                let details = status.get_error_details();
                let info = details.resource_info();
                let field = |f: fn(&tonic_types::ResourceInfo) -> &String| {
                    info.map(f).cloned().unwrap_or_default()
                };
                Self::AlreadyExists {
                    resource_type: field(|i| &i.resource_type),
                    name: field(|i| &i.resource_name),
                    description: field(|i| &i.description),
                    message,
                }
            }
            Code::Unavailable => unreachable(message),
            Code::Unknown | Code::Internal if looks_like_transport(&message) => {
                unreachable(message)
            }
            // A proxy or static server answering in place of the API
            // (HTTP 404/502 mapped by tonic) is as good as no server.
            Code::Unimplemented if message.contains("HTTP status") => unreachable(message),
            code => Self::Rejected { code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn bad_request_details_become_field_violations() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("name", "must start with a lowercase letter");
        details.add_bad_request_violation("config.admin_email", "is required");
        let status = Status::with_error_details(Code::InvalidArgument, "invalid request", details);
        let err = ApiError::from(status);
        assert_eq!(err.to_string(), "invalid request");
        assert_eq!(
            err.violations(),
            [
                FieldViolation {
                    field: "name".into(),
                    description: "must start with a lowercase letter".into()
                },
                FieldViolation {
                    field: "config.admin_email".into(),
                    description: "is required".into()
                }
            ]
        );
    }

    #[test]
    fn invalid_argument_without_details_still_carries_the_message() {
        let err = ApiError::from(Status::invalid_argument("bad"));
        assert_eq!(
            err,
            ApiError::InvalidArgument {
                message: "bad".into(),
                violations: vec![]
            }
        );
    }

    #[test]
    fn already_exists_carries_what_is_taken_from_resource_info() {
        let mut details = ErrorDetails::new();
        details.set_resource_info("domain", "shop.example.com", "", "served by another store");
        let status = Status::with_error_details(
            Code::AlreadyExists,
            "domain \"shop.example.com\" already exists: served by another store",
            details,
        );
        let err = ApiError::from(status);
        assert_eq!(
            err,
            ApiError::AlreadyExists {
                resource_type: "domain".into(),
                name: "shop.example.com".into(),
                description: "served by another store".into(),
                message: "domain \"shop.example.com\" already exists: served by another store"
                    .into(),
            }
        );
        assert!(!err.is_transient());
        let bare = ApiError::from(Status::already_exists("taken"));
        assert!(matches!(bare, ApiError::AlreadyExists { name, .. } if name.is_empty()));
    }

    #[test]
    fn transport_failures_are_unreachable_and_transient() {
        let err = ApiError::from(Status::unknown("JS API error: TypeError: Failed to fetch"));
        assert_eq!(
            err,
            ApiError::Unreachable("no answer from the server".into())
        );
        assert!(err.is_transient());
        assert!(ApiError::from(Status::unavailable("down")).is_transient());
    }

    #[test]
    fn unauthenticated_and_other_refusals_are_told_apart() {
        assert!(matches!(
            ApiError::from(Status::unauthenticated("")),
            ApiError::Unauthenticated(m) if !m.is_empty()
        ));
        let err = ApiError::from(Status::not_found("store \"x\" not found"));
        assert_eq!(
            err,
            ApiError::Rejected {
                code: Code::NotFound,
                message: "store \"x\" not found".into()
            }
        );
        assert!(!err.is_transient());
    }
}
