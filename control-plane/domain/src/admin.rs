//! Administration use cases: tenants, quotas and API tokens.

use std::{sync::Arc, time::Duration};

use chrono::Utc;

use super::{
    Error, FieldViolation, Result, TenantId,
    ports::TenantRepository,
    tenancy::{Caller, NewSecret, Quota, Role, Tenant, Token},
    validate,
};

/// Longest tenant display name or token description.
pub const MAX_TEXT_LEN: usize = 200;
/// Longest token lifetime accepted: ten years.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Tenant and token administration. Every method requires an administrator.
#[derive(Clone)]
pub struct Admin {
    tenants: Arc<dyn TenantRepository>,
}

/// A created token: what is stored, and the secret to show once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The stored token.
    pub token: Token,
    /// `spt_<id>_<secret>`.
    pub secret: String,
}

/// Refuses callers that are not administrators.
pub fn require_admin(caller: &Caller) -> Result<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Error::PermissionDenied {
            reason: "ADMIN_ONLY",
            message: "this call needs an administrator token".into(),
        })
    }
}

/// Checks quota values; field paths start with `prefix` (e.g. `quota`).
pub fn validate_quota(quota: &Quota, prefix: &str) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    for engine in &quota.allowed_engines {
        if validate::store_name(engine).is_err() {
            violations.push(FieldViolation::new(
                format!("{prefix}.allowed_engines"),
                format!("{engine:?} is not an engine id"),
            ));
        }
    }
    violations
}

/// Parses a quota limit where negative numbers are invalid.
pub fn limit(value: Option<i32>, field: &str) -> Result<Option<u32>, FieldViolation> {
    value
        .map(|v| u32::try_from(v).map_err(|_| FieldViolation::new(field, "must not be negative")))
        .transpose()
}

/// Fresh randomness for a token.
pub fn random_token() -> Result<NewSecret> {
    let mut random = [0u8; 40];
    getrandom::fill(&mut random).map_err(|e| Error::internal("generate token", e.to_string()))?;
    Ok(NewSecret::from_random(&random))
}

impl Admin {
    /// Administration over `tenants`.
    pub fn new(tenants: Arc<dyn TenantRepository>) -> Self {
        Self { tenants }
    }

    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        caller: &Caller,
        id: &str,
        display_name: &str,
        quota: Quota,
    ) -> Result<Tenant> {
        require_admin(caller)?;
        let mut violations = validate_quota(&quota, "quota");
        if let Err(why) = validate::store_name(id) {
            violations.push(FieldViolation::new("id", why));
        }
        if display_name.chars().count() > MAX_TEXT_LEN {
            violations.push(FieldViolation::new(
                "display_name",
                format!("must be at most {MAX_TEXT_LEN} characters"),
            ));
        }
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        let name = if display_name.is_empty() {
            id
        } else {
            display_name
        };
        self.tenants
            .create_tenant(&TenantId(id.to_owned()), name, &quota)
            .await
    }

    /// Every tenant.
    pub async fn tenants(&self, caller: &Caller) -> Result<Vec<Tenant>> {
        require_admin(caller)?;
        self.tenants.tenants().await
    }

    /// Replaces a tenant's quota.
    pub async fn set_quota(&self, caller: &Caller, tenant: &str, quota: Quota) -> Result<Tenant> {
        require_admin(caller)?;
        let tenant = validate::tenant_ref(tenant).map_err(|why| Error::invalid("tenant", why))?;
        let violations = validate_quota(&quota, "quota");
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        self.tenants.set_quota(&tenant, &quota).await
    }

    /// Issues a token; the secret is returned here and stored nowhere.
    pub async fn create_token(
        &self,
        caller: &Caller,
        tenant: &str,
        role: Option<Role>,
        description: &str,
        ttl: Option<Duration>,
    ) -> Result<IssuedToken> {
        require_admin(caller)?;
        let mut violations = Vec::new();
        let tenant = validate::tenant_ref(tenant).unwrap_or_else(|why| {
            violations.push(FieldViolation::new("tenant", why));
            TenantId(String::new())
        });
        let Some(role) = role else {
            violations.push(FieldViolation::new(
                "role",
                "must be ROLE_ADMIN or ROLE_MEMBER",
            ));
            return Err(Error::InvalidArgument(violations));
        };
        if description.chars().count() > MAX_TEXT_LEN {
            violations.push(FieldViolation::new(
                "description",
                format!("must be at most {MAX_TEXT_LEN} characters"),
            ));
        }
        if let Some(ttl) = ttl
            && (ttl.is_zero() || ttl > MAX_TOKEN_TTL)
        {
            violations.push(FieldViolation::new(
                "ttl",
                "must be positive and at most ten years",
            ));
        }
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        let expires_at = ttl
            .map(|ttl| chrono::Duration::from_std(ttl).map(|d| Utc::now() + d))
            .transpose()
            .map_err(|e| Error::internal("compute expiry", e))?;
        let secret = random_token()?;
        let token = self
            .tenants
            .create_token(
                &secret.id,
                &tenant,
                role,
                description,
                &secret.hash,
                expires_at,
            )
            .await?;
        Ok(IssuedToken {
            token,
            secret: secret.token,
        })
    }

    /// Tokens of one tenant or all.
    pub async fn tokens(&self, caller: &Caller, tenant: &str) -> Result<Vec<Token>> {
        require_admin(caller)?;
        let tenant = if tenant.is_empty() {
            None
        } else {
            Some(validate::tenant_ref(tenant).map_err(|why| Error::invalid("tenant", why))?)
        };
        self.tenants.tokens(tenant.as_ref()).await
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<Token> {
        require_admin(caller)?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        self.tenants.revoke_token(id).await
    }
}
