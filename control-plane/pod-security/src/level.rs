//! Levels, policy versions and the namespace labels that select them.

use std::fmt;

use serde_json::Value;

/// The newest policy version this crate knows: Kubernetes 1.37. `latest`
/// means this version, and a pinned version above it is evaluated as it,
/// exactly as the admission plugin clamps to its newest registered check.
pub const LATEST_MINOR: u32 = 37;

/// Label selecting the level that rejects pods.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// Label pinning the policy version of [`ENFORCE_LABEL`].
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// Label selecting the level that is recorded in the audit log.
pub const AUDIT_LABEL: &str = "pod-security.kubernetes.io/audit";
/// Label pinning the policy version of [`AUDIT_LABEL`].
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// Label selecting the level that is returned to clients as a warning.
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
/// Label pinning the policy version of [`WARN_LABEL`].
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Unrestricted.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod-hardening best practice.
    Restricted,
}

impl Level {
    /// The label value: `privileged`, `baseline` or `restricted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// Parses a label value; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The newest policy (see [`LATEST_MINOR`]).
    Latest,
    /// The policy as of Kubernetes `1.<minor>`.
    V1(u32),
}

impl Version {
    /// Parses `latest` or `v1.<minor>` (no leading zeros, like the
    /// admission plugin); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        if value == "latest" {
            return Some(Version::Latest);
        }
        let minor = value.strip_prefix("v1.")?;
        let canonical = minor == "0" || !minor.starts_with('0');
        if minor.is_empty() || !canonical || !minor.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        minor.parse().ok().map(Version::V1)
    }

    /// The minor version the checks are evaluated at.
    pub(crate) fn minor(self) -> u32 {
        match self {
            Version::Latest => LATEST_MINOR,
            Version::V1(minor) => minor.min(LATEST_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// A level at a version, written `restricted:latest` as in the admission
/// plugin's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The level.
    pub level: Level,
    /// The policy version.
    pub version: Version,
}

impl Policy {
    /// `level` at the latest version.
    pub const fn latest(level: Level) -> Self {
        Self {
            level,
            version: Version::Latest,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// The three policies of a namespace, from its `pod-security.kubernetes.io/*`
/// labels. Unlabelled modes default to `privileged:latest`, the admission
/// plugin's default configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespacePolicy {
    /// Pods that violate it are rejected.
    pub enforce: Policy,
    /// Violations are recorded in the audit log.
    pub audit: Policy,
    /// Violations are returned as warnings.
    pub warn: Policy,
}

impl Default for NamespacePolicy {
    fn default() -> Self {
        let privileged = Policy::latest(Level::Privileged);
        Self {
            enforce: privileged,
            audit: privileged,
            warn: privileged,
        }
    }
}

/// A `pod-security.kubernetes.io/*` label with a value that is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    /// The label.
    pub label: String,
    /// Its value.
    pub value: String,
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = if self.label.ends_with("-version") {
            r#"must be "latest" or "v1.x""#
        } else {
            "must be one of privileged, baseline, restricted"
        };
        write!(
            f,
            "metadata.labels[{}]: Invalid value: {:?}: {expected}",
            self.label, self.value
        )
    }
}

impl std::error::Error for LabelError {}

/// The labels in the order the admission plugin reads them, which is the
/// order of its errors.
const LABEL_ORDER: [&str; 6] = [
    ENFORCE_LABEL,
    ENFORCE_VERSION_LABEL,
    AUDIT_LABEL,
    AUDIT_VERSION_LABEL,
    WARN_LABEL,
    WARN_VERSION_LABEL,
];

/// A level label's value and whether it was valid: `None` when
/// unlabelled, `on_invalid` when invalid (with an error).
fn level(
    value: Option<&str>,
    label: &str,
    on_invalid: Level,
    errors: &mut Vec<LabelError>,
) -> Option<(Level, bool)> {
    let value = value?;
    let parsed = Level::parse(value);
    if parsed.is_none() {
        errors.push(LabelError {
            label: label.to_owned(),
            value: value.to_owned(),
        });
    }
    Some((parsed.unwrap_or(on_invalid), parsed.is_some()))
}

/// A version label's value: `None` when unlabelled, `latest` when invalid
/// (with an error).
fn version(value: Option<&str>, label: &str, errors: &mut Vec<LabelError>) -> Option<Version> {
    let value = value?;
    let parsed = Version::parse(value);
    if parsed.is_none() {
        errors.push(LabelError {
            label: label.to_owned(),
            value: value.to_owned(),
        });
    }
    Some(parsed.unwrap_or(Version::Latest))
}

impl NamespacePolicy {
    /// Reads the policy from a namespace's labels, as the admission plugin's
    /// `api.PolicyToEvaluate` does. It always returns a usable policy: an
    /// invalid `enforce` level fails closed (`restricted`), an invalid
    /// `audit` or `warn` level fails open (`privileged`), an invalid version
    /// means `latest`; each invalid label is also returned as an error, in
    /// the plugin's order (enforce, enforce-version, audit, audit-version,
    /// warn, warn-version) whatever order the labels come in. An unlabelled
    /// `warn` follows a valid `enforce` level that is stricter than it (and
    /// its version too, unless `warn-version` is labelled), so a namespace
    /// that only enforces `restricted` also warns about workloads.
    pub fn from_labels<K, V>(labels: impl IntoIterator<Item = (K, V)>) -> (Self, Vec<LabelError>)
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // The plugin reads a map, so a later duplicate key wins.
        let mut found: [Option<String>; 6] = Default::default();
        for (key, value) in labels {
            if let Some(slot) = LABEL_ORDER.iter().position(|l| *l == key.as_ref()) {
                found[slot] = Some(value.as_ref().to_owned());
            }
        }
        let [
            enforce,
            enforce_version,
            audit,
            audit_version,
            warn,
            warn_version,
        ] = &found;
        let mut policy = Self::default();
        let mut errors = Vec::new();
        // Read in the plugin's order, so that errors come in its order.
        let enforce_level = level(
            enforce.as_deref(),
            ENFORCE_LABEL,
            Level::Restricted,
            &mut errors,
        );
        let enforce_version = version(
            enforce_version.as_deref(),
            ENFORCE_VERSION_LABEL,
            &mut errors,
        );
        let audit_level = level(
            audit.as_deref(),
            AUDIT_LABEL,
            Level::Privileged,
            &mut errors,
        );
        let audit_version = version(audit_version.as_deref(), AUDIT_VERSION_LABEL, &mut errors);
        let warn_level = level(warn.as_deref(), WARN_LABEL, Level::Privileged, &mut errors);
        let warn_version = version(warn_version.as_deref(), WARN_VERSION_LABEL, &mut errors);
        let modes = [
            (&mut policy.enforce, enforce_level, enforce_version),
            (&mut policy.audit, audit_level, audit_version),
            (&mut policy.warn, warn_level, warn_version),
        ];
        for (mode, level, version) in modes {
            if let Some((level, _)) = level {
                mode.level = level;
            }
            if let Some(version) = version {
                mode.version = version;
            }
        }
        // An invalid enforce level fails closed but does not make warn follow it.
        let enforce_valid = matches!(enforce_level, Some((_, true)));
        if warn_level.is_none() && enforce_valid && policy.enforce.level > policy.warn.level {
            policy.warn.level = policy.enforce.level;
            if warn_version.is_none() {
                policy.warn.version = policy.enforce.version;
            }
        }
        (policy, errors)
    }

    /// Reads the policy from a Namespace object's `metadata.labels`
    /// (non-string values are ignored).
    pub fn from_namespace(namespace: &Value) -> (Self, Vec<LabelError>) {
        let labels = namespace
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
        Self::from_labels(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_parse_like_the_admission_plugin() {
        assert_eq!(Version::parse("latest"), Some(Version::Latest));
        assert_eq!(Version::parse("v1.0"), Some(Version::V1(0)));
        assert_eq!(Version::parse("v1.25"), Some(Version::V1(25)));
        for bad in ["v1.025", "v1.", "1.25", "v2.1", "v1.x", "Latest", ""] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert_eq!(Version::V1(99).minor(), LATEST_MINOR);
        assert_eq!(
            Policy::latest(Level::Restricted).to_string(),
            "restricted:latest"
        );
    }

    #[test]
    fn unlabelled_namespaces_are_privileged() {
        let (policy, errors) = NamespacePolicy::from_namespace(&json!({"metadata": {}}));
        assert_eq!(policy, NamespacePolicy::default());
        assert!(errors.is_empty());
    }

    #[test]
    fn labels_select_level_and_version_per_mode() {
        let (policy, errors) = NamespacePolicy::from_namespace(&json!({"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.30",
            "pod-security.kubernetes.io/warn": "baseline",
            "pod-security.kubernetes.io/audit": "restricted",
            "app": "x"
        }}}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(policy.enforce.to_string(), "restricted:v1.30");
        assert_eq!(policy.warn.to_string(), "baseline:latest");
        assert_eq!(policy.audit.to_string(), "restricted:latest");
    }

    #[test]
    fn invalid_enforce_fails_closed_and_invalid_warn_fails_open() {
        let (policy, errors) = NamespacePolicy::from_labels([
            (ENFORCE_LABEL, "strict"),
            (WARN_LABEL, "loud"),
            (AUDIT_VERSION_LABEL, "v2"),
        ]);
        assert_eq!(policy.enforce.level, Level::Restricted);
        assert_eq!(policy.warn.level, Level::Privileged);
        assert_eq!(policy.audit.version, Version::Latest);
        assert_eq!(errors.len(), 3);
        assert_eq!(
            errors[0].to_string(),
            r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#
        );
    }

    #[test]
    fn errors_come_in_the_plugins_order_whatever_the_label_order() {
        // Alphabetical (a JSON object's order) puts audit first; the plugin
        // reads enforce, enforce-version, audit, audit-version, warn, warn-version.
        let (_, errors) = NamespacePolicy::from_labels([
            (AUDIT_LABEL, "x"),
            (AUDIT_VERSION_LABEL, "y"),
            (ENFORCE_LABEL, "x"),
            (ENFORCE_VERSION_LABEL, "y"),
            (WARN_LABEL, "x"),
            (WARN_VERSION_LABEL, "y"),
        ]);
        let labels: Vec<&str> = errors.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, LABEL_ORDER);
    }

    #[test]
    fn unlabelled_warn_follows_a_stricter_valid_enforce() {
        let (policy, _) = NamespacePolicy::from_labels([
            (ENFORCE_LABEL, "restricted"),
            (ENFORCE_VERSION_LABEL, "v1.30"),
        ]);
        assert_eq!(policy.warn.to_string(), "restricted:v1.30");
        assert_eq!(policy.audit.to_string(), "privileged:latest");

        // A labelled warn-version is kept.
        let (policy, _) = NamespacePolicy::from_labels([
            (ENFORCE_LABEL, "baseline"),
            (ENFORCE_VERSION_LABEL, "v1.30"),
            (WARN_VERSION_LABEL, "v1.20"),
        ]);
        assert_eq!(policy.warn.to_string(), "baseline:v1.20");

        // A labelled warn level is never overridden, even when looser.
        let (policy, _) = NamespacePolicy::from_labels([
            (ENFORCE_LABEL, "restricted"),
            (WARN_LABEL, "privileged"),
        ]);
        assert_eq!(policy.warn.level, Level::Privileged);

        // An invalid enforce level fails closed but is not followed.
        let (policy, errors) = NamespacePolicy::from_labels([(ENFORCE_LABEL, "strict")]);
        assert_eq!(policy.enforce.level, Level::Restricted);
        assert_eq!(policy.warn.level, Level::Privileged);
        assert_eq!(errors.len(), 1);
    }
}
