//! Why a cluster operation failed, with its cause kept.
//!
//! The adapter speaks its own error: the reconciler and the orphan sweep
//! see the `kube::Error` (status code, transport failure) as the source,
//! and only where the plugin host is served ([`super::PlatformBackend`])
//! is it flattened into the plugin's [`HostError`].

use storeplane_plugin_host::HostError;

/// What kind of failure, as far as callers decide on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Refused by the API server's authorization (403).
    Denied,
    /// The object (or the kind) does not exist (404).
    NotFound,
    /// A concurrent change won, or a precondition failed (409).
    Conflict,
    /// The request is malformed (400, 422, or refused before sending).
    Invalid,
    /// The cluster failed or could not be reached; retrying may help.
    Unavailable,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The words of `HostError`'s messages, so a step's timeline entry
        // reads the same whichever layer reports it.
        f.write_str(match self {
            ErrorKind::Denied => "denied",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unavailable => "unavailable",
        })
    }
}

/// A failed cluster operation.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A failure found before anything was sent, or one without a cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A failure with its cause.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The API server's or the adapter's message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The client's error, when the failure came from the API server or
    /// the connection to it.
    pub fn kube_error(&self) -> Option<&kube::Error> {
        self.source.as_ref()?.downcast_ref()
    }

    /// Whether the object (or kind) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Whether a concurrent change won.
    pub fn is_conflict(&self) -> bool {
        self.kind == ErrorKind::Conflict
    }
}

/// How the API server's server-side apply begins the messages of its
/// `500`s (no reason) for an applied configuration that does not fit its
/// kind's type: a field of the wrong shape (`.spec.hard: expected map`)
/// or a value that does not convert (`quantities must match the regular
/// expression …`). They come from apimachinery's structured-merge apply
/// (`managedfields/internal/structuredmerge.go`) as plain errors, hence
/// the 500, but retrying them cannot help: they are the object's fault,
/// so they are `Invalid`, and a chart with `cpu: lots` fails its store at
/// once with that message instead of being retried as an outage. The
/// simulated cluster answers the same (its conformance steps
/// `ssa/quantity-*`).
const APPLY_REFUSALS: [&str; 2] = [
    "failed to create typed patch object (",
    "failed to convert new object (",
];

impl From<kube::Error> for Error {
    fn from(err: kube::Error) -> Self {
        let (kind, message) = match &err {
            kube::Error::Api(status) => (
                match status.code {
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    400 | 422 => ErrorKind::Invalid,
                    403 => ErrorKind::Denied,
                    500 if status.reason.is_empty()
                        && APPLY_REFUSALS.iter().any(|p| status.message.starts_with(p)) =>
                    {
                        ErrorKind::Invalid
                    }
                    _ => ErrorKind::Unavailable,
                },
                status.message.clone(),
            ),
            other => (ErrorKind::Unavailable, other.to_string()),
        };
        Self::with_source(kind, message, err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        let message = err.to_string();
        Self::with_source(ErrorKind::Unavailable, message, err)
    }
}

impl From<Error> for HostError {
    fn from(err: Error) -> Self {
        let message = err.message;
        match err.kind {
            ErrorKind::Denied => HostError::Denied(message),
            ErrorKind::NotFound => HostError::NotFound(message),
            ErrorKind::Conflict => HostError::Conflict(message),
            ErrorKind::Invalid => HostError::Invalid(message),
            ErrorKind::Unavailable => HostError::Unavailable(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        let mut status = kube::core::Status::failure("the message", "Reason");
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn statuses_map_to_kinds_and_keep_the_kube_error() {
        for (code, kind, host) in [
            (
                404,
                ErrorKind::NotFound,
                HostError::NotFound("the message".into()),
            ),
            (
                409,
                ErrorKind::Conflict,
                HostError::Conflict("the message".into()),
            ),
            (
                422,
                ErrorKind::Invalid,
                HostError::Invalid("the message".into()),
            ),
            (
                403,
                ErrorKind::Denied,
                HostError::Denied("the message".into()),
            ),
            (
                500,
                ErrorKind::Unavailable,
                HostError::Unavailable("the message".into()),
            ),
        ] {
            let err = Error::from(status(code));
            assert_eq!(err.kind(), kind, "{code}");
            assert!(
                matches!(err.kube_error(), Some(kube::Error::Api(s)) if s.code == code),
                "the kube error is kept"
            );
            assert_eq!(
                err.to_string(),
                host.to_string(),
                "same words as the plugin sees"
            );
            assert_eq!(HostError::from(err), host);
        }
    }

    #[test]
    fn an_apply_the_api_server_cannot_convert_is_invalid_not_an_outage() {
        // The real API server's answers (1.37.2) to an apply of a
        // Deployment with `cpu: lots` and of a quota whose `hard` is a string.
        let refused = |message: &str| {
            let mut status = kube::core::Status::failure(message, "");
            status.code = 500;
            Error::from(kube::Error::Api(Box::new(status)))
        };
        for message in [
            "failed to convert new object (/web; apps/v1, Kind=Deployment) to proper version: \
             unable to convert unstructured object to apps/v1, Kind=Deployment: quantities must \
             match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "failed to create typed patch object (s/q; /v1, Kind=ResourceQuota): .spec.hard: \
             expected map, got &{lots}",
        ] {
            let err = refused(message);
            assert_eq!(err.kind(), ErrorKind::Invalid, "{message}");
            assert_eq!(HostError::from(err), HostError::Invalid(message.into()));
        }
        // Any other 500 is still the cluster's failure.
        assert_eq!(
            refused("etcdserver: request timed out").kind(),
            ErrorKind::Unavailable
        );
    }
}
