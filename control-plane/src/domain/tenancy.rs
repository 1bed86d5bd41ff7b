//! Tenants, callers, roles, quotas and API tokens.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{TenantId, page::hex};

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
}
