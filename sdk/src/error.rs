//! What can go wrong: a host call ([`HostError`]) or the plugin's own verdict
//! ([`Failure`]).

/// Why a host call failed. Mirrors the WIT `host-error` variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Not granted, outside the store's namespace, or a cluster-scoped kind.
    #[error("denied: {0}")]
    Denied(String),
    /// The object or release does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A concurrent change won; read again and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed (bad JSON, unknown kind, bad values, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The cluster or the chart engine failed; may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl HostError {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HostError::Conflict(_) | HostError::Unavailable(_))
    }

    /// The CamelCase reason a [`Failure`] made from this error carries.
    pub fn reason(&self) -> &'static str {
        match self {
            HostError::Denied(_) => "HostCallDenied",
            HostError::NotFound(_) => "HostObjectNotFound",
            HostError::Conflict(_) => "HostConflict",
            HostError::Invalid(_) => "HostRejectedRequest",
            HostError::Unavailable(_) => "HostUnavailable",
        }
    }
}

/// The plugin refused or could not do what was asked: "the plugin said no".
///
/// This is the only error a plugin returns. A panic, an endless loop or
/// running out of memory is not a `Failure`: the host sees a trap, a timeout
/// or an out-of-memory and reports that itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Failure {
    /// CamelCase machine-readable reason, e.g. `SetupJobFailed`.
    pub reason: String,
    /// What happened, for the store owner. Never include secret values.
    pub message: String,
    /// Whether the platform should try again with backoff.
    pub retryable: bool,
}

impl Failure {
    /// A failure the platform should not retry (wrong configuration, a
    /// refused request): retrying would fail the same way.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure that may go away by itself; the platform retries with backoff.
    pub fn retryable(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            retryable: true,
            ..Failure::new(reason, message)
        }
    }

    /// The engine does not implement `operation` (`OperationNotSupported`,
    /// not retryable): the default of each optional [`Engine`](crate::Engine) method.
    pub fn unsupported(operation: crate::Operation) -> Self {
        Failure::new(
            "OperationNotSupported",
            format!("this engine does not support {}", operation.as_str()),
        )
    }

    /// The store configuration does not deserialize into the engine's type.
    pub fn invalid_config(error: &serde_json::Error) -> Self {
        Failure::new(
            "InvalidConfig",
            format!("the store configuration is invalid: {error}"),
        )
    }
}

/// Lets plugin code use `?` on host calls: the failure keeps the host's text
/// (e.g. `denied: ...`) and is retryable exactly when the host error is.
impl From<HostError> for Failure {
    fn from(error: HostError) -> Self {
        Failure {
            reason: error.reason().to_owned(),
            message: error.to_string(),
            retryable: error.is_retryable(),
        }
    }
}

/// Result of a plugin operation.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_error_becomes_failure_keeping_text_and_retryability() {
        let denied = Failure::from(HostError::Denied("kube-system".into()));
        assert_eq!(denied.reason, "HostCallDenied");
        assert_eq!(denied.message, "denied: kube-system");
        assert!(!denied.retryable);

        let unavailable = Failure::from(HostError::Unavailable("api down".into()));
        assert!(unavailable.retryable);
        assert!(Failure::from(HostError::Conflict(String::new())).retryable);
    }
}
