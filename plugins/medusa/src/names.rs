//! The names of a store's objects, computed exactly as the chart's
//! `_helpers.tpl` computes them, so `observe` finds what the chart created.

use serde_json::Value;

use storeplane_plugin_sdk::objects::{fingerprinted_name, release_prefix, values_fingerprint};

/// Characters of the release name kept in object names: with the longest
/// suffix (`-init-` and ten hex digits) a Job name stays within 63.
pub const PREFIX_CHARS: usize = 40;

/// Every object name of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Release name cut to [`PREFIX_CHARS`] (`trunc 40 | trimSuffix "-"`).
    pub prefix: String,
    /// PostgreSQL StatefulSet and Service.
    pub postgres: String,
    /// The StatefulSet's data claim (`data-<set>-0`).
    pub postgres_claim: String,
    /// Redis Deployment and Service.
    pub redis: String,
    /// Medusa backend (API and admin) Deployment and Service.
    pub backend: String,
    /// Next.js storefront Deployment and Service.
    pub storefront: String,
    /// The "store paused" page's Deployment, Service and ConfigMap (only
    /// while the store is suspended).
    pub paused: String,
    /// Secret with the admin user's password.
    pub admin_secret: String,
    /// Secret with the PostgreSQL password.
    pub database_secret: String,
    /// Secret with the JWT, cookie, Redis, publishable-key and revalidation secrets.
    pub app_secret: String,
    /// ConfigMap with the backup and restore scripts (not the chart's: the
    /// engine applies it for its backup and restore Jobs).
    pub backup_scripts: String,
    /// NetworkPolicy letting the backup and restore Pods reach the archive URL.
    pub archive_egress: String,
}

impl Names {
    /// The names for `release`.
    pub fn new(release: &str) -> Self {
        let prefix = release_prefix(release, PREFIX_CHARS);
        Names {
            postgres: format!("{prefix}-postgres"),
            postgres_claim: format!("data-{prefix}-postgres-0"),
            redis: format!("{prefix}-redis"),
            backend: format!("{prefix}-backend"),
            storefront: format!("{prefix}-storefront"),
            paused: format!("{prefix}-paused"),
            admin_secret: format!("{prefix}-admin"),
            database_secret: format!("{prefix}-db"),
            app_secret: format!("{prefix}-app"),
            backup_scripts: format!("{prefix}-backup-scripts"),
            archive_egress: format!("{prefix}-archive-egress"),
            prefix,
        }
    }

    /// The init Job for a values fingerprint (see [`job_suffix`]).
    pub fn init_job(&self, suffix: &str) -> String {
        fingerprinted_name(&self.prefix, "init", suffix)
    }
}

/// Ten hex digits fingerprinting the engine version and the values the
/// plugin sends (without `init`).
pub fn job_suffix(engine_version: &str, values: &Value) -> String {
    values_fingerprint(engine_version, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_release() {
        let names = Names::new("shop");
        assert_eq!(names.postgres_claim, "data-shop-postgres-0");
        assert_eq!(names.backend, "shop-backend");
        assert_eq!(names.storefront, "shop-storefront");
        assert_eq!(names.paused, "shop-paused");
        assert_eq!(names.init_job("0123456789"), "shop-init-0123456789");
        assert_eq!(names.init_job(""), "shop-init");
    }

    #[test]
    fn long_release_names_keep_job_names_within_63_characters() {
        let release = format!("{}-{}", "a".repeat(39), "b".repeat(20));
        assert!(Names::new(&release).init_job("0123456789").len() <= 63);
    }
}
