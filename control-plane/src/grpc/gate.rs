//! What every RPC passes through: a per-address rate limit before anything
//! else, authentication, a per-tenant rate limit, and the audit record of
//! mutating calls.
//!
//! Order matters. The per-address bucket is spent before the token is
//! looked up, so a flood of bogus tokens from one address costs a database
//! round trip only until its bucket is empty. Refusals (limits, missing or
//! invalid tokens) are counted in Prometheus metrics, never written to the
//! audit log: an unauthenticated caller must not be able to grow a table.
//! Reads and writes have separate buckets, reads at a higher rate.

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
use tonic::{GrpcMethod, Request, Status, metadata::MetadataMap};
use tracing::{error, warn};

use super::to_status;
use crate::{
    domain::{
        Error, TenantId,
        ports::{AuditLog, AuditRecord, TenantRepository},
        tenancy::{Caller, Role, hash_secret, parse_token},
    },
    metrics::Metrics,
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

/// Every rate limit of the gate; `None` limits are off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Mutating calls (and credential reveals) per tenant.
    pub write_per_tenant: Option<RateLimit>,
    /// Mutating calls per client address, checked before authentication.
    pub write_per_address: Option<RateLimit>,
    /// Reads (and watch starts) per tenant.
    pub read_per_tenant: Option<RateLimit>,
    /// Reads per client address, checked before authentication.
    pub read_per_address: Option<RateLimit>,
}

/// An address range, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, or the IPv6 forms.
    pub fn parse(text: &str) -> Option<Self> {
        let (ip, prefix) = match text.trim().split_once('/') {
            Some((ip, prefix)) => (ip.parse::<IpAddr>().ok()?, prefix.parse::<u8>().ok()?),
            None => {
                let ip = text.trim().parse::<IpAddr>().ok()?;
                (ip, if ip.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self {
            network: ip,
            prefix,
        })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            let shift = u32::from(width - prefix);
            if shift >= 128 { 0 } else { bits >> shift }
        }
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), self.prefix, 32)
                    == masked(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// Which client address a request counts against.
///
/// `X-Forwarded-For` is honoured only when the connection comes from a
/// configured trusted proxy (an ingress controller): then the client is
/// the right-most address in the header that is not itself a trusted
/// proxy. From anyone else the header is ignored, since a client could
/// otherwise pick a fresh bucket for every call by forging it. With no
/// trusted proxies (the default) the peer address counts, and every client
/// behind a proxy shares its bucket.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted: Vec<IpRange>,
}

impl ClientAddresses {
    /// Trusts `X-Forwarded-For` from `trusted` proxies.
    pub fn new(trusted: Vec<IpRange>) -> Self {
        Self { trusted }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|r| r.contains(ip))
    }

    /// The client's address for a call from `peer` with `metadata`.
    pub fn resolve(&self, peer: Option<IpAddr>, metadata: &MetadataMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = metadata
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.is_trusted(*ip))
                .unwrap_or(peer),
        )
    }
}

/// How often idle rate-limiter keys are forgotten, in checks.
const RETAIN_EVERY: u64 = 4096;
/// Largest audit `parameters` stored, as JSON text; larger ones are
/// replaced by their short fields and a `truncated` marker.
pub const AUDIT_PARAMETERS_CAP: usize = 4096;
/// Longest string kept in capped parameters, resource names and messages.
const AUDIT_FIELD_CAP: usize = 256;
/// Longest audited error message.
const AUDIT_MESSAGE_CAP: usize = 1024;

/// Whether a call reads or changes state: separate buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// Authentication, rate limiting and auditing for the gRPC services.
pub struct Gate {
    mode: AuthMode,
    tenants: Arc<dyn TenantRepository>,
    audit: Arc<dyn AuditLog>,
    metrics: Arc<Metrics>,
    addresses: ClientAddresses,
    write_per_tenant: Option<DefaultKeyedRateLimiter<TenantId>>,
    write_per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    read_per_tenant: Option<DefaultKeyedRateLimiter<TenantId>>,
    read_per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
    revocations: tokio::sync::broadcast::Sender<String>,
}

/// Revocations buffered for slow watchers; one that falls further behind
/// looks its token up instead.
const REVOCATION_BUFFER: usize = 64;

impl Gate {
    /// A gate over `tenants` (tokens) writing to `audit`, counting refusals
    /// in `metrics`.
    pub fn new(
        mode: AuthMode,
        tenants: Arc<dyn TenantRepository>,
        audit: Arc<dyn AuditLog>,
        limits: RateLimits,
        addresses: ClientAddresses,
        metrics: Arc<Metrics>,
    ) -> Self {
        let keyed = |l: RateLimit| DefaultKeyedRateLimiter::keyed(l.quota());
        Self {
            mode,
            tenants,
            audit,
            metrics,
            addresses,
            write_per_tenant: limits.write_per_tenant.map(keyed),
            write_per_address: limits
                .write_per_address
                .map(|l| DefaultKeyedRateLimiter::keyed(l.quota())),
            read_per_tenant: limits.read_per_tenant.map(keyed),
            read_per_address: limits
                .read_per_address
                .map(|l| DefaultKeyedRateLimiter::keyed(l.quota())),
            checks: AtomicU64::new(0),
            revocations: tokio::sync::broadcast::Sender::new(REVOCATION_BUFFER),
        }
    }

    /// Tells this process's watchers that token `id` was revoked.
    pub fn announce_revoked(&self, id: &str) {
        // No receivers is fine: nobody is watching.
        let _ = self.revocations.send(id.to_owned());
    }

    /// Ids of tokens revoked through this process from now on.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    /// The authentication mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The metrics refusals are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The client address a request counts against (see [`ClientAddresses`]).
    pub fn client_address<T>(&self, request: &Request<T>) -> Option<IpAddr> {
        self.addresses
            .resolve(request.remote_addr().map(|a| a.ip()), request.metadata())
    }

    /// Establishes the caller of a read-only call, after the read limits.
    pub async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let method = method_of(request);
        self.admit(request, &method, Kind::Read).await
    }

    /// Establishes the caller of a mutating call, after the write limits.
    /// Refusals are counted, not audited.
    pub async fn mutating<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        self.admit(request, method, Kind::Write).await
    }

    /// The caller when the request carries credentials, `None` when it
    /// carries none; for calls open to everyone that show more to
    /// administrators. Rate limited like a read.
    pub async fn optional_caller<T>(&self, request: &Request<T>) -> Result<Option<Caller>, Status> {
        if self.mode == AuthMode::Required && request.metadata().get("authorization").is_none() {
            let method = method_of(request);
            let address = self.client_address(request);
            self.limit_address(address, &method, Kind::Read)
                .map_err(to_status)?;
            return Ok(None);
        }
        self.caller(request).await.map(Some)
    }

    async fn admit<T>(
        &self,
        request: &Request<T>,
        method: &str,
        kind: Kind,
    ) -> Result<Caller, Status> {
        let address = self.client_address(request);
        self.limit_address(address, method, kind)
            .map_err(to_status)?;
        let caller = match self.authenticate(request.metadata(), address).await {
            Ok(caller) => caller,
            Err(err) => {
                if matches!(err, Error::Unauthenticated(_)) {
                    self.metrics.unauthenticated(method);
                }
                return Err(to_status(err));
            }
        };
        self.limit_tenant(&caller, method, kind)
            .map_err(to_status)?;
        Ok(caller)
    }

    /// Whether `caller`'s token still authenticates now: `Unauthenticated`
    /// once it is revoked or expired. Long-lived calls (watches) ask again
    /// on every heartbeat.
    pub async fn still_valid(&self, caller: &Caller) -> Result<(), Error> {
        let Some(id) = &caller.token_id else {
            return Ok(());
        };
        let gone = || Error::Unauthenticated("the token was revoked or has expired".into());
        match self.tenants.token(id).await? {
            Some((token, _)) if token.is_valid_at(Utc::now()) => Ok(()),
            _ => Err(gone()),
        }
    }

    /// Appends an audit record of a mutating call. Parameters are capped at
    /// [`AUDIT_PARAMETERS_CAP`] bytes of JSON, strings at a few hundred
    /// characters, so one record stays small whatever the request held.
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
            Err(status) => (
                code_name(status.code()),
                truncate(status.message(), AUDIT_MESSAGE_CAP),
            ),
        };
        let client_address = caller
            .and_then(|c| c.address.clone())
            .or_else(|| address.map(|a| a.ip().to_string()))
            .unwrap_or_default();
        let record = AuditRecord {
            tenant: caller.map(|c| c.tenant.clone()),
            token_id: caller.and_then(|c| c.token_id.clone()),
            client_address,
            method: method.to_owned(),
            resource: truncate(&resource, AUDIT_FIELD_CAP),
            parameters: cap_parameters(parameters),
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
        address: Option<IpAddr>,
    ) -> Result<Caller, Error> {
        let address_text = address.map(|a| a.to_string());
        if self.mode == AuthMode::Disabled {
            return Ok(Caller {
                tenant: TenantId::default_tenant(),
                token_id: None,
                role: Role::Admin,
                address: address_text,
                expires_at: None,
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
            expires_at: stored.expires_at,
        })
    }

    fn forget_idle_keys(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            for limiter in [&self.write_per_tenant, &self.read_per_tenant]
                .into_iter()
                .flatten()
            {
                limiter.retain_recent();
            }
            for limiter in [&self.write_per_address, &self.read_per_address]
                .into_iter()
                .flatten()
            {
                limiter.retain_recent();
            }
        }
    }

    /// The per-address bucket of `kind`, before authentication.
    fn limit_address(
        &self,
        address: Option<IpAddr>,
        method: &str,
        kind: Kind,
    ) -> Result<(), Error> {
        self.forget_idle_keys();
        let limiter = match kind {
            Kind::Read => &self.read_per_address,
            Kind::Write => &self.write_per_address,
        };
        if let (Some(limiter), Some(address)) = (limiter, address)
            && let Err(not_until) = limiter.check_key(&address)
        {
            self.metrics.refused("address", method);
            return Err(Error::RateLimited {
                subject: format!("address/{address}"),
                retry_after: round_up(not_until.wait_time_from(DefaultClock::default().now())),
            });
        }
        Ok(())
    }

    /// The per-tenant bucket of `kind`, after authentication.
    fn limit_tenant(&self, caller: &Caller, method: &str, kind: Kind) -> Result<(), Error> {
        let limiter = match kind {
            Kind::Read => &self.read_per_tenant,
            Kind::Write => &self.write_per_tenant,
        };
        if let Some(limiter) = limiter
            && let Err(not_until) = limiter.check_key(&caller.tenant)
        {
            self.metrics.refused("tenant", method);
            return Err(Error::RateLimited {
                subject: caller.tenant.resource_name(),
                retry_after: round_up(not_until.wait_time_from(DefaultClock::default().now())),
            });
        }
        Ok(())
    }
}

/// `package.Service/Method` of a request, from the extension tonic's
/// generated servers add.
fn method_of<T>(request: &Request<T>) -> String {
    request
        .extensions()
        .get::<GrpcMethod<'static>>()
        .map(|m| format!("{}/{}", m.service(), m.method()))
        .unwrap_or_default()
}

/// `text` cut to at most `max` bytes at a character boundary, with `…`
/// when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Audit parameters no larger than [`AUDIT_PARAMETERS_CAP`] bytes of JSON:
/// small ones unchanged; larger ones keep their top-level strings, numbers
/// and booleans (strings cut to a few hundred bytes), drop nested values,
/// and say so with `"truncated": true` and the original size.
pub fn cap_parameters(value: serde_json::Value) -> serde_json::Value {
    let size = value.to_string().len();
    if size <= AUDIT_PARAMETERS_CAP {
        return value;
    }
    let mut capped = serde_json::Map::new();
    if let serde_json::Value::Object(map) = value {
        for (key, v) in map {
            if capped.len() >= 16 {
                break;
            }
            let key = truncate(&key, 64);
            match v {
                serde_json::Value::String(s) => {
                    capped.insert(
                        key,
                        serde_json::Value::String(truncate(&s, AUDIT_FIELD_CAP)),
                    );
                }
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                    capped.insert(key, v);
                }
                _ => {}
            }
        }
    }
    capped.insert("truncated".into(), serde_json::Value::Bool(true));
    capped.insert("original_bytes".into(), serde_json::Value::from(size));
    serde_json::Value::Object(capped)
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
    fn large_audit_parameters_are_capped_with_a_truncated_marker() {
        let huge = "x".repeat(3 << 20);
        let capped = cap_parameters(serde_json::json!({
            "name": huge, "engine": "static-site", "config": {"x": huge}
        }));
        let text = capped.to_string();
        assert!(text.len() <= AUDIT_PARAMETERS_CAP, "{} bytes", text.len());
        assert_eq!(capped["truncated"], true);
        assert_eq!(capped["engine"], "static-site");
        assert!(capped.get("config").is_none());
        let small = serde_json::json!({"name": "shop"});
        assert_eq!(cap_parameters(small.clone()), small);
    }

    #[test]
    fn forwarded_for_is_honoured_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().expect("ip");
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.9"
                .parse()
                .expect("ascii"),
        );
        let trusting = ClientAddresses::new(vec![IpRange::parse("10.0.0.0/8").expect("range")]);
        assert_eq!(
            trusting.resolve(Some(proxy), &metadata),
            Some("198.51.100.7".parse().expect("ip")),
            "the right-most untrusted hop is the client"
        );
        let stranger: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(trusting.resolve(Some(stranger), &metadata), Some(stranger));
        assert_eq!(
            ClientAddresses::default().resolve(Some(proxy), &metadata),
            Some(proxy)
        );
    }

    #[test]
    fn ip_ranges_match_by_prefix() {
        let range = IpRange::parse("10.1.0.0/16").expect("range");
        assert!(range.contains("10.1.200.3".parse().expect("ip")));
        assert!(!range.contains("10.2.0.1".parse().expect("ip")));
        assert!(
            IpRange::parse("::1")
                .expect("v6")
                .contains("::1".parse().expect("ip"))
        );
        assert!(IpRange::parse("10.0.0.0/33").is_none());
        assert!(
            IpRange::parse("0.0.0.0/0")
                .expect("all")
                .contains("8.8.8.8".parse().expect("ip"))
        );
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
