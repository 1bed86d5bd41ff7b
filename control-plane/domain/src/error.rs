//! Domain errors. The gRPC adapter maps each variant to one status code with
//! `google.rpc` details (see `grpc::status`).

/// One invalid field of a request, named by its path (`config.admin_email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Dotted path of the field in the request.
    pub field: String,
    /// What is wrong and what would be right.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// One quota that a request would exceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaViolation {
    /// Whose quota: `tenants/<id>` or `platform`.
    pub subject: String,
    /// Which limit and its value, e.g. "max_stores is 5".
    pub description: String,
}

/// What failed in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; every bad field is listed.
    #[error("invalid request: {}", summarize(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The resource does not exist (or is not visible to the caller).
    #[error("{resource_type} {name:?} not found")]
    NotFound {
        /// e.g. `store`.
        resource_type: &'static str,
        /// The id or name that was asked for.
        name: String,
    },
    /// A resource with that identity exists already.
    #[error("{resource_type} {name:?} already exists: {description}")]
    AlreadyExists {
        /// e.g. `store`.
        resource_type: &'static str,
        /// The conflicting name.
        name: String,
        /// Why this is a conflict.
        description: String,
    },
    /// The system is not in a state that allows the operation.
    #[error("{subject}: {description}")]
    FailedPrecondition {
        /// Machine-readable kind, e.g. `STORE_PHASE`, `IDEMPOTENCY_KEY`.
        kind: &'static str,
        /// What the precondition is about, e.g. `stores/<id>`.
        subject: String,
        /// What is wrong and how to get past it.
        description: String,
    },
    /// A concurrency check (etag) failed; read again and retry.
    #[error("{0}")]
    Aborted(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{message}")]
    PermissionDenied {
        /// Machine-readable reason, e.g. `ADMIN_ONLY`, `ENGINE_NOT_ALLOWED`.
        reason: &'static str,
        /// What is not allowed and why.
        message: String,
    },
    /// A quota would be exceeded.
    #[error("quota exceeded: {}", .0.iter().map(|v| v.description.as_str()).collect::<Vec<_>>().join("; "))]
    QuotaExceeded(Vec<QuotaViolation>),
    /// Too many calls; try again after `retry_after`.
    #[error("rate limit exceeded for {subject}; retry in {retry_after:?}")]
    RateLimited {
        /// Whose limit: `tenants/<id>` or `address/<ip>`.
        subject: String,
        /// When a call will be accepted again.
        retry_after: std::time::Duration,
    },
    /// A dependency (the database) does not answer right now: the call did
    /// nothing and may be retried after `retry_after`. Kept apart from
    /// [`Error::Internal`] so clients retry instead of giving up, health
    /// checks can report it, and the reconciler backs off.
    #[error("temporarily unavailable: {context}")]
    Unavailable {
        /// What the platform was doing.
        context: String,
        /// When a retry has a chance.
        retry_after: std::time::Duration,
        /// The underlying failure (logged, not returned).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// This replica is shutting down (SIGTERM): the call, typically a
    /// watch, ends here and is to be resumed on another replica (a watch
    /// with its last resume token). `UNAVAILABLE`, like any other reason to
    /// go elsewhere and retry.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The database or another dependency failed; details are logged, not returned.
    #[error("internal error: {context}")]
    Internal {
        /// What the platform was doing.
        context: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an infrastructure failure with what the platform was doing.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A dependency that does not answer right now; retry after `retry_after`.
    pub fn unavailable(
        context: impl Into<String>,
        retry_after: std::time::Duration,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Unavailable {
            context: context.into(),
            retry_after,
            source: source.into(),
        }
    }

    /// Whether the failure is transient (the database did not answer), so
    /// retrying later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// A single-field validation failure.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

fn summarize(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}
