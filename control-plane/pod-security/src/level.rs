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

impl NamespacePolicy {
    /// Reads the policy from a namespace's labels. Like the admission
    /// plugin, it always returns a usable policy: an invalid `enforce` level
    /// fails closed (`restricted`), an invalid `audit` or `warn` level fails
    /// open (`privileged`), an invalid version means `latest`; each invalid
    /// label is also returned as an error.
    pub fn from_labels<K, V>(labels: impl IntoIterator<Item = (K, V)>) -> (Self, Vec<LabelError>)
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut policy = Self::default();
        let mut errors = Vec::new();
        for (key, value) in labels {
            let (key, value) = (key.as_ref(), value.as_ref());
            let (target, on_invalid) = match key {
                ENFORCE_LABEL | ENFORCE_VERSION_LABEL => (&mut policy.enforce, Level::Restricted),
                AUDIT_LABEL | AUDIT_VERSION_LABEL => (&mut policy.audit, Level::Privileged),
                WARN_LABEL | WARN_VERSION_LABEL => (&mut policy.warn, Level::Privileged),
                _ => continue,
            };
            let valid = if key.ends_with("-version") {
                let version = Version::parse(value);
                target.version = version.unwrap_or(Version::Latest);
                version.is_some()
            } else {
                let level = Level::parse(value);
                target.level = level.unwrap_or(on_invalid);
                level.is_some()
            };
            if !valid {
                errors.push(LabelError {
                    label: key.to_owned(),
                    value: value.to_owned(),
                });
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
}
