//! The names of a store's objects, computed exactly as the chart's
//! `_helpers.tpl` computes them, so `observe` finds what the chart created.

use serde_json::Value;

use storeplane_plugin_sdk::objects::{fingerprinted_name, release_prefix, values_fingerprint};

/// Characters of the release name kept in object names: with the longest
/// suffix (`-setup-` and ten hex digits) a Job name stays within 63.
pub const PREFIX_CHARS: usize = 40;

/// Every object name of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Release name cut to [`PREFIX_CHARS`] (`trunc 40 | trimSuffix "-"`).
    pub prefix: String,
    /// MySQL StatefulSet and its client Service.
    pub mysql: String,
    /// The StatefulSet's data claim (`data-<set>-0`).
    pub mysql_claim: String,
    /// WordPress Deployment, Service and claim.
    pub wordpress: String,
    /// The "store paused" page's Deployment, Service and ConfigMap (only
    /// while the store is suspended).
    pub paused: String,
    /// Secret with the WordPress admin password.
    pub admin_secret: String,
    /// Secret with the MySQL root and user passwords.
    pub database_secret: String,
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
            mysql: format!("{prefix}-mysql"),
            mysql_claim: format!("data-{prefix}-mysql-0"),
            wordpress: format!("{prefix}-wordpress"),
            paused: format!("{prefix}-paused"),
            admin_secret: format!("{prefix}-admin"),
            database_secret: format!("{prefix}-db"),
            backup_scripts: format!("{prefix}-backup-scripts"),
            archive_egress: format!("{prefix}-archive-egress"),
            prefix,
        }
    }

    /// The setup Job for a values fingerprint (see [`job_suffix`]).
    pub fn setup_job(&self, suffix: &str) -> String {
        fingerprinted_name(&self.prefix, "setup", suffix)
    }
}

/// Ten hex digits fingerprinting the engine version and the values the
/// plugin sends (without `setup`).
pub fn job_suffix(engine_version: &str, values: &Value) -> String {
    values_fingerprint(engine_version, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_release() {
        let names = Names::new("shop");
        assert_eq!(names.mysql, "shop-mysql");
        assert_eq!(names.mysql_claim, "data-shop-mysql-0");
        assert_eq!(names.wordpress, "shop-wordpress");
        assert_eq!(names.paused, "shop-paused");
        assert_eq!(names.setup_job("0123456789"), "shop-setup-0123456789");
        assert_eq!(names.setup_job(""), "shop-setup");
    }

    #[test]
    fn long_release_names_keep_job_names_within_63_characters() {
        let release = format!("{}-{}", "a".repeat(39), "b".repeat(20));
        assert!(Names::new(&release).setup_job("0123456789").len() <= 63);
    }
}
