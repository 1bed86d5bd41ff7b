//! Domain errors as `google.rpc.Status` (AIP-193): a code, a message a person
//! can act on, and machine-readable details.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::{error, warn};

use super::ERROR_DOMAIN;
use crate::domain::Error;

/// Maps a domain error to a status with `google.rpc` details. Internal
/// errors are logged with their causes and returned without them.
pub fn to_status(err: Error) -> Status {
    let mut details = ErrorDetails::new();
    match err {
        Error::InvalidArgument(violations) => {
            let message = match violations.as_slice() {
                [one] => format!("invalid {}: {}", one.field, one.description),
                _ => format!(
                    "invalid request: {}",
                    violations
                        .iter()
                        .map(|v| format!("{}: {}", v.field, v.description))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            };
            for v in violations {
                details.add_bad_request_violation(v.field, v.description);
            }
            details.set_error_info("INVALID_ARGUMENT", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        Error::NotFound {
            resource_type,
            name,
        } => {
            let message = format!("{resource_type} {name:?} not found");
            details.set_resource_info(resource_type, &name, "", &message);
            details.set_error_info("NOT_FOUND", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::NotFound, message, details)
        }
        Error::AlreadyExists {
            resource_type,
            name,
            description,
        } => {
            let message = format!("{resource_type} {name:?} already exists: {description}");
            details.set_resource_info(resource_type, &name, "", description);
            details.set_error_info("ALREADY_EXISTS", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::AlreadyExists, message, details)
        }
        Error::FailedPrecondition {
            kind,
            subject,
            description,
        } => {
            let message = description.clone();
            details.add_precondition_failure_violation(kind, subject, description);
            details.set_error_info(kind, ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::FailedPrecondition, message, details)
        }
        Error::Aborted(message) => {
            details.set_error_info("ETAG_MISMATCH", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::Aborted, message, details)
        }
        Error::Unauthenticated(message) => {
            details.set_error_info("UNAUTHENTICATED", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::Unauthenticated, message, details)
        }
        Error::PermissionDenied { reason, message } => {
            details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::PermissionDenied, message, details)
        }
        Error::QuotaExceeded(violations) => {
            let message = format!(
                "quota exceeded: {}",
                violations
                    .iter()
                    .map(|v| v.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            for v in violations {
                details.add_quota_failure_violation(v.subject, v.description);
            }
            details.set_error_info("QUOTA_EXCEEDED", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        Error::RateLimited {
            subject,
            retry_after,
        } => {
            let message = format!(
                "rate limit exceeded for {subject}; retry in {} ms",
                retry_after.as_millis()
            );
            details.set_retry_info(Some(retry_after));
            details.add_quota_failure_violation(&subject, "rate limit of calls");
            details.set_error_info("RATE_LIMITED", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        Error::Unavailable {
            context,
            retry_after,
            source,
        } => {
            // Logged once per call at warn: an outage is an operator's
            // problem, not a bug; the client only needs to know to retry.
            warn!(context = %context, error = %source, "dependency unavailable");
            details.set_retry_info(Some(retry_after));
            details.set_error_info("UNAVAILABLE", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(
                Code::Unavailable,
                format!(
                    "the database is not answering; retry in {} ms",
                    retry_after.as_millis()
                ),
                details,
            )
        }
        Error::ShuttingDown => {
            details.set_retry_info(Some(std::time::Duration::ZERO));
            details.set_error_info("SHUTTING_DOWN", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(
                Code::Unavailable,
                "the server is shutting down; call another replica \
                 (a watch resumes there with its last resume token)",
                details,
            )
        }
        err @ Error::Internal { .. } => {
            error!(error = %err, cause = ?std::error::Error::source(&err), "internal error");
            details.set_error_info("INTERNAL", ERROR_DOMAIN, HashMap::new());
            Status::with_error_details(
                Code::Internal,
                "internal error; the details are in the server log",
                details,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldViolation;

    #[test]
    fn invalid_argument_lists_every_field() {
        let status = to_status(Error::InvalidArgument(vec![
            FieldViolation::new("name", "is required"),
            FieldViolation::new("engine", "is required"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["name", "engine"]);
    }

    #[test]
    fn unavailable_is_retryable_with_a_delay_and_hides_its_cause() {
        let status = to_status(Error::unavailable(
            "read store",
            std::time::Duration::from_millis(500),
            "connection refused to postgres://app:hunter2@db",
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("hunter2"));
        let delay = status
            .get_error_details()
            .retry_info()
            .and_then(|r| r.retry_delay);
        assert_eq!(delay, Some(std::time::Duration::from_millis(500)));
    }

    #[test]
    fn shutting_down_is_unavailable_to_retry_at_once_elsewhere() {
        let status = to_status(Error::ShuttingDown);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("resume token"));
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("SHUTTING_DOWN")
        );
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(std::time::Duration::ZERO)
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = to_status(Error::internal("read store", "password=hunter2"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
