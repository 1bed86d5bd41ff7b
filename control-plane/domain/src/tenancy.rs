//! Tenants, callers, roles, quotas and API tokens.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Error, QuotaViolation, Result, TenantId, page::hex};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, for every tenant.
    Admin,
    /// Its own tenant's stores.
    Member,
}

impl Role {
    /// Stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Inverse of [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Who is calling, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant the caller acts for.
    pub tenant: TenantId,
    /// Id of the token used; `None` when authentication is disabled.
    pub token_id: Option<String>,
    /// What the caller may do.
    pub role: Role,
    /// Client address as the server saw it.
    pub address: Option<String>,
    /// When the token stops authenticating; `None`: never (or no token).
    /// Long-lived calls (watches) end then.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Caller {
    /// Which stores the caller can see.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Admin => Scope::All,
            Role::Member => Scope::Tenant(self.tenant.clone()),
        }
    }

    /// Whether the caller is an administrator.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Which tenants' stores a query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One tenant's.
    Tenant(TenantId),
    /// Every tenant's (administrators).
    All,
}

impl Scope {
    /// Whether a store of `tenant` is in scope.
    pub fn includes(&self, tenant: &TenantId) -> bool {
        match self {
            Scope::Tenant(t) => t == tenant,
            Scope::All => true,
        }
    }
}

/// What a tenant may use. `None` limits are unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    /// Most stores.
    pub max_stores: Option<u32>,
    /// Most stores provisioning at once.
    pub max_concurrent_provisions: Option<u32>,
    /// Engines allowed; empty: all.
    pub allowed_engines: Vec<String>,
}

/// Platform-wide caps, across tenants. `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalLimits {
    /// Most stores on the platform.
    pub max_stores: Option<u32>,
    /// Most stores provisioning at once on the platform.
    pub max_concurrent_provisions: Option<u32>,
}

impl Quota {
    /// Refuses `engine` unless the tenant may use it (an empty list allows
    /// every engine).
    pub fn check_engine(&self, tenant: &TenantId, engine: &str) -> Result<()> {
        if self.allowed_engines.is_empty() || self.allowed_engines.iter().any(|e| e == engine) {
            return Ok(());
        }
        Err(Error::PermissionDenied {
            reason: "ENGINE_NOT_ALLOWED",
            message: format!(
                "tenant {} may not use engine {engine}; allowed: {}",
                tenant.0,
                self.allowed_engines.join(", ")
            ),
        })
    }

    /// The limits a request must stay within: concurrent provisions of the
    /// tenant and of the platform always, store counts when it creates a
    /// store. Only limits that are set are returned, so the repository
    /// counts nothing it need not.
    pub fn checks(
        &self,
        tenant: &TenantId,
        platform: &GlobalLimits,
        new_store: bool,
    ) -> Vec<QuotaCheck> {
        let subject = tenant.resource_name();
        let mut checks = vec![
            (
                Some(subject.clone()),
                "max_concurrent_provisions",
                self.max_concurrent_provisions,
                Counted::TenantProvisioning,
            ),
            (
                None,
                "max_concurrent_provisions",
                platform.max_concurrent_provisions,
                Counted::PlatformProvisioning,
            ),
        ];
        if new_store {
            checks.push((
                Some(subject),
                "max_stores",
                self.max_stores,
                Counted::TenantStores,
            ));
            checks.push((
                None,
                "max_stores",
                platform.max_stores,
                Counted::PlatformStores,
            ));
        }
        checks
            .into_iter()
            .filter_map(|(tenant, limit_name, limit, counts)| {
                limit.map(|limit| QuotaCheck {
                    tenant,
                    limit_name,
                    limit,
                    counts,
                })
            })
            .collect()
    }
}

/// Which stores a [`QuotaCheck`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The tenant's stores.
    TenantStores,
    /// The tenant's stores in phase Provisioning.
    TenantProvisioning,
    /// Every store.
    PlatformStores,
    /// Every store in phase Provisioning.
    PlatformProvisioning,
}

/// One limit to check: the repository counts [`QuotaCheck::counts`] in the
/// transaction of the write and asks [`QuotaCheck::violation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCheck {
    /// `tenants/<id>` for a tenant's quota; `None` for the platform's.
    pub tenant: Option<String>,
    /// The limit's name, as the API spells it.
    pub limit_name: &'static str,
    /// Its value.
    pub limit: u32,
    /// What to count.
    pub counts: Counted,
}

impl QuotaCheck {
    /// The violation when `used` stores already reach the limit.
    pub fn violation(&self, used: u64) -> Option<QuotaViolation> {
        if used < u64::from(self.limit) {
            return None;
        }
        let limit_name = self.limit_name;
        Some(match &self.tenant {
            Some(subject) => QuotaViolation {
                description: format!(
                    "{limit_name} of {subject} is {} and {used} are in use",
                    self.limit
                ),
                subject: subject.clone(),
            },
            // A tenant may know its own numbers; the platform's (its limit
            // and how many stores all tenants hold) are not a member's
            // business.
            None => QuotaViolation {
                description: format!(
                    "the platform's {limit_name} limit is reached; try again later"
                ),
                subject: "platform".into(),
            },
        })
    }
}

/// A customer of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Lowercase DNS label.
    pub id: TenantId,
    /// Name shown to people.
    pub display_name: String,
    /// Limits.
    pub quota: Quota,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An API token as stored (its secret is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Public id (`spt_<id>_…` prefix of the token).
    pub id: String,
    /// Tenant it acts for.
    pub tenant: TenantId,
    /// What it allows.
    pub role: Role,
    /// Free text.
    pub description: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation time, once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Token {
    /// Whether the token authenticates at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// Prefix of every token, so leaked tokens are recognisable by scanners.
pub const TOKEN_PREFIX: &str = "spt_";

/// A new token's parts: the id, the full secret to hand out once, and the
/// hash to store.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// Public id.
    pub id: String,
    /// `spt_<id>_<secret>`: what the client sends.
    pub token: String,
    /// SHA-256 of the secret part, hex.
    pub hash: String,
}

impl NewSecret {
    /// Builds a token from 40 random bytes: 8 for the id, 32 for the secret
    /// (256 bits, so a fast hash is enough: there is nothing to brute-force).
    pub fn from_random(random: &[u8; 40]) -> Self {
        let id = hex(&random[..8]);
        let secret = hex(&random[8..]);
        Self {
            token: format!("{TOKEN_PREFIX}{id}_{secret}"),
            hash: hash_secret(&secret),
            id,
        }
    }
}

/// SHA-256 of a token's secret part, hex.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Splits `spt_<id>_<secret>` into id and secret.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_only(id) && hex_only(secret)).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_hash_to_the_stored_hash() {
        let secret = NewSecret::from_random(&[7; 40]);
        let (id, part) = parse_token(&secret.token).expect("parses");
        assert_eq!(id, secret.id);
        assert_eq!(hash_secret(part), secret.hash);
        assert!(!secret.hash.contains(part));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        for bad in ["", "spt_", "spt_abc", "xyz_ab_cd", "spt_zz_01", "spt_01_"] {
            assert_eq!(parse_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn expired_and_revoked_tokens_are_invalid() {
        let now = Utc::now();
        let token = Token {
            id: "a".into(),
            tenant: TenantId::default_tenant(),
            role: Role::Member,
            description: String::new(),
            created_at: now,
            expires_at: Some(now + chrono::Duration::seconds(5)),
            revoked_at: None,
        };
        assert!(token.is_valid_at(now));
        assert!(!token.is_valid_at(now + chrono::Duration::seconds(5)));
        let revoked = Token {
            revoked_at: Some(now),
            ..token
        };
        assert!(!revoked.is_valid_at(now));
    }

    #[test]
    fn members_see_only_their_tenant() {
        let caller = Caller {
            tenant: TenantId("acme".into()),
            token_id: None,
            role: Role::Member,
            address: None,
            expires_at: None,
        };
        assert!(caller.scope().includes(&TenantId("acme".into())));
        assert!(!caller.scope().includes(&TenantId("other".into())));
        let admin = Caller {
            role: Role::Admin,
            ..caller
        };
        assert!(admin.scope().includes(&TenantId("other".into())));
    }

    #[test]
    fn a_tenant_uses_only_its_allowed_engines() {
        let acme = TenantId("acme".into());
        assert!(Quota::default().check_engine(&acme, "medusa").is_ok());
        let quota = Quota {
            allowed_engines: vec!["static-site".into(), "woocommerce".into()],
            ..Quota::default()
        };
        assert!(quota.check_engine(&acme, "woocommerce").is_ok());
        match quota.check_engine(&acme, "medusa") {
            Err(Error::PermissionDenied { reason, message }) => {
                assert_eq!(reason, "ENGINE_NOT_ALLOWED");
                assert_eq!(
                    message,
                    "tenant acme may not use engine medusa; allowed: static-site, woocommerce"
                );
            }
            other => panic!("allowed: {other:?}"),
        }
    }

    #[test]
    fn quotas_check_only_set_limits_and_store_counts_only_on_create() {
        let acme = TenantId("acme".into());
        let quota = Quota {
            max_stores: Some(2),
            max_concurrent_provisions: Some(1),
            allowed_engines: Vec::new(),
        };
        let platform = GlobalLimits {
            max_stores: None,
            max_concurrent_provisions: Some(10),
        };
        let counted = |new_store| -> Vec<Counted> {
            quota
                .checks(&acme, &platform, new_store)
                .into_iter()
                .map(|c| c.counts)
                .collect()
        };
        assert_eq!(
            counted(true),
            [
                Counted::TenantProvisioning,
                Counted::PlatformProvisioning,
                Counted::TenantStores
            ]
        );
        assert_eq!(
            counted(false),
            [Counted::TenantProvisioning, Counted::PlatformProvisioning]
        );
    }

    #[test]
    fn a_limit_is_reached_when_the_count_equals_it_and_the_platform_keeps_its_numbers() {
        let acme = TenantId("acme".into());
        let quota = Quota {
            max_stores: Some(2),
            ..Quota::default()
        };
        let platform = GlobalLimits {
            max_stores: Some(100),
            max_concurrent_provisions: None,
        };
        let checks = quota.checks(&acme, &platform, true);
        let [tenant, platform] = checks.as_slice() else {
            panic!("{checks:?}");
        };
        assert_eq!(tenant.violation(1), None);
        assert_eq!(
            tenant.violation(2).map(|v| (v.subject, v.description)),
            Some((
                "tenants/acme".to_owned(),
                "max_stores of tenants/acme is 2 and 2 are in use".to_owned()
            ))
        );
        assert_eq!(platform.violation(99), None);
        let violation = platform.violation(100).map(|v| v.description);
        assert_eq!(
            violation.as_deref(),
            Some("the platform's max_stores limit is reached; try again later")
        );
    }
}
