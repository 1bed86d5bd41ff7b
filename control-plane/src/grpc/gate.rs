//! What every RPC passes through: authentication, rate limits for mutating
//! calls, and the audit record of mutating calls.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock, clock::DefaultClock};
use tonic::{Request, Status, metadata::MetadataMap};
use tracing::{error, warn};

use super::to_status;
use crate::domain::{
    Error, TenantId,
    ports::{AuditLog, AuditRecord, TenantRepository},
    tenancy::{Caller, Role, hash_secret, parse_token},
};

/// Whether callers must present a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Bearer tokens required (the default).
    Required,
    /// Every caller is an administrator of the default tenant. Local
    /// development only; announced loudly.
    Disabled,
}

/// A token bucket: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: NonZeroU32,
    /// Calls allowed at once.
    pub burst: NonZeroU32,
}

impl RateLimit {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// How often idle rate-limiter keys are forgotten, in checks.
const RETAIN_EVERY: u64 = 4096;

/// Authentication, rate limiting and auditing for the gRPC services.
pub struct Gate {
    mode: AuthMode,
    tenants: Arc<dyn TenantRepository>,
    audit: Arc<dyn AuditLog>,
    per_tenant: Option<DefaultKeyedRateLimiter<TenantId>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

impl Gate {
    /// A gate over `tenants` (tokens) writing to `audit`; `None` limits are off.
    pub fn new(
        mode: AuthMode,
        tenants: Arc<dyn TenantRepository>,
        audit: Arc<dyn AuditLog>,
        per_tenant: Option<RateLimit>,
        per_address: Option<RateLimit>,
    ) -> Self {
        Self {
            mode,
            tenants,
            audit,
            per_tenant: per_tenant.map(|l| DefaultKeyedRateLimiter::keyed(l.quota())),
            per_address: per_address.map(|l| DefaultKeyedRateLimiter::keyed(l.quota())),
            checks: AtomicU64::new(0),
        }
    }

    /// The authentication mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Establishes the caller of a read-only call.
    pub async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.authenticate(request.metadata(), request.remote_addr())
            .await
            .map_err(to_status)
    }

    /// Establishes the caller of a mutating call and applies the rate
    /// limits. A refused call is audited here.
    pub async fn mutating<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        let address = request.remote_addr();
        let (caller, refused) = match self.authenticate(request.metadata(), address).await {
            Ok(caller) => match self.limit(&caller, address) {
                Ok(()) => return Ok(caller),
                Err(err) => (Some(caller), err),
            },
            Err(err) => (None, err),
        };
        let status = to_status(refused);
        self.record(
            caller.as_ref(),
            address,
            method,
            String::new(),
            serde_json::Value::Null,
            Err(&status),
        )
        .await;
        Err(status)
    }

    /// Appends an audit record of a mutating call.
    pub async fn record(
        &self,
        caller: Option<&Caller>,
        address: Option<SocketAddr>,
        method: &str,
        resource: String,
        parameters: serde_json::Value,
        outcome: Result<(), &Status>,
    ) {
        let (outcome, message) = match outcome {
            Ok(()) => ("OK".to_owned(), String::new()),
            Err(status) => (code_name(status.code()), status.message().to_owned()),
        };
        let record = AuditRecord {
            tenant: caller.map(|c| c.tenant.clone()),
            token_id: caller.and_then(|c| c.token_id.clone()),
            client_address: address.map(|a| a.ip().to_string()).unwrap_or_default(),
            method: method.to_owned(),
            resource,
            parameters,
            outcome,
            message,
        };
        if let Err(err) = self.audit.append(record).await {
            // The call itself already happened; losing its record is logged
            // loudly rather than turned into a failure the caller would retry.
            error!(error = %err, method, "cannot write audit record");
        }
    }

    async fn authenticate(
        &self,
        metadata: &MetadataMap,
        address: Option<SocketAddr>,
    ) -> Result<Caller, Error> {
        let address_text = address.map(|a| a.ip().to_string());
        if self.mode == AuthMode::Disabled {
            return Ok(Caller {
                tenant: TenantId::default_tenant(),
                token_id: None,
                role: Role::Admin,
                address: address_text,
            });
        }
        let header = metadata
            .get("authorization")
            .ok_or_else(|| {
                Error::Unauthenticated("missing `authorization: Bearer <token>` metadata".into())
            })?
            .to_str()
            .map_err(|_| Error::Unauthenticated("malformed authorization metadata".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                Error::Unauthenticated("authorization metadata must be `Bearer <token>`".into())
            })?
            .trim();
        let invalid = || Error::Unauthenticated("invalid, expired or revoked token".into());
        let (id, secret) = parse_token(token).ok_or_else(invalid)?;
        let Some((stored, hash)) = self.tenants.token(id).await? else {
            return Err(invalid());
        };
        // Both sides are SHA-256 digests of a 256-bit secret: comparing them
        // leaks nothing an attacker can use.
        if hash != hash_secret(secret) || !stored.is_valid_at(Utc::now()) {
            warn!(token = %stored.id, "rejected an invalid, expired or revoked token");
            return Err(invalid());
        }
        Ok(Caller {
            tenant: stored.tenant,
            token_id: Some(stored.id),
            role: stored.role,
            address: address_text,
        })
    }

    fn limit(&self, caller: &Caller, address: Option<SocketAddr>) -> Result<(), Error> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            for limiter in self.per_tenant.iter() {
                limiter.retain_recent();
            }
            for limiter in self.per_address.iter() {
                limiter.retain_recent();
            }
        }
        let clock = DefaultClock::default();
        if let Some(limiter) = &self.per_tenant
            && let Err(not_until) = limiter.check_key(&caller.tenant)
        {
            return Err(Error::RateLimited {
                subject: caller.tenant.resource_name(),
                retry_after: round_up(not_until.wait_time_from(clock.now())),
            });
        }
        if let (Some(limiter), Some(address)) = (&self.per_address, address)
            && let Err(not_until) = limiter.check_key(&address.ip())
        {
            return Err(Error::RateLimited {
                subject: format!("address/{}", address.ip()),
                retry_after: round_up(not_until.wait_time_from(clock.now())),
            });
        }
        Ok(())
    }
}

/// Whole milliseconds, at least one, so clients never retry too early.
fn round_up(wait: Duration) -> Duration {
    Duration::from_millis(
        u64::try_from(wait.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1),
    )
}

/// The canonical upper-case name of a gRPC code.
pub fn code_name(code: tonic::Code) -> String {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
    .to_owned()
}

/// Removes secret-looking values from request parameters before they are
/// audited: any key containing `password`, `secret`, `token` or `key`.
pub fn redact(mut value: serde_json::Value) -> serde_json::Value {
    const SECRET_WORDS: [&str; 4] = ["password", "secret", "token", "key"];
    match &mut value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else {
                    *v = redact(std::mem::take(v));
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items.iter_mut() {
                *item = redact(std::mem::take(item));
            }
        }
        _ => {}
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_secret_looking_values_at_any_depth() {
        let input = serde_json::json!({
            "name": "shop",
            "request_id": "abc",
            "config": {"admin_password": "hunter2", "nested": [{"api_key": "k"}], "title": "t"}
        });
        let out = redact(input).to_string();
        assert!(!out.contains("hunter2") && !out.contains("\"k\""), "{out}");
        assert!(out.contains("\"title\":\"t\"") && out.contains("\"request_id\":\"abc\""));
    }

    #[test]
    fn rate_limit_waits_are_rounded_up_to_a_millisecond() {
        assert_eq!(
            round_up(Duration::from_micros(10)),
            Duration::from_millis(1)
        );
        assert_eq!(round_up(Duration::from_millis(5)), Duration::from_millis(6));
    }
}
