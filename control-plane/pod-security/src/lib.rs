//! The Kubernetes [Pod Security Standards] — levels `baseline` and
//! `restricted`, policy versions up to Kubernetes 1.37 — as a pure function
//! over a pod's metadata and spec (JSON as the API server stores them).
//!
//! The rules and the wording are those of the PodSecurity admission plugin
//! (`k8s.io/pod-security-admission/policy`), so a violation reads exactly as
//! a real API server would report it, e.g.
//! `privileged (container "c" must not set securityContext.privileged=true)`,
//! and violations come in the plugin's order.
//!
//! ```
//! use serde_json::json;
//! use storeplane_pod_security::{Level, Policy, check, pod_template, summary};
//!
//! let deployment = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "spec": {"template": {"spec": {"containers": [
//!         {"name": "c", "securityContext": {"privileged": true}}
//!     ]}}}
//! });
//! let pod = pod_template(&deployment).expect("a workload");
//! let violations = check(Policy::latest(Level::Baseline), pod.metadata, pod.spec);
//! assert_eq!(
//!     summary(&violations),
//!     r#"privileged (container "c" must not set securityContext.privileged=true)"#
//! );
//! ```
//!
//! Not modelled: exemptions (users, runtime classes, namespaces), which are
//! admission configuration, not policy; and the API server's emulated
//! version, which can lower what `latest` means.
//!
//! [Pod Security Standards]: https://kubernetes.io/docs/concepts/security/pod-security-standards/

mod checks;
mod level;
mod workload;

use std::fmt;

use serde_json::Value;

pub use level::{
    AUDIT_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LABEL, ENFORCE_VERSION_LABEL, LATEST_MINOR,
    LabelError, Level, NamespacePolicy, Policy, Version, WARN_LABEL, WARN_VERSION_LABEL,
};
pub use workload::{PodTemplate, pod_template};

/// One failed check: `reason` as the admission plugin names it
/// (`privileged`, `runAsNonRoot != true`, ...) and the `detail` saying
/// which containers or volumes and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short reason, e.g. `hostPath volumes`.
    pub reason: String,
    /// Specifics, e.g. `volume "root"`; may be empty.
    pub detail: String,
}

impl fmt::Display for Violation {
    /// `reason (detail)`, or `reason` alone without a detail.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{} ({})", self.reason, self.detail)
        }
    }
}

/// Checks a pod's `metadata` and `spec` against `policy`; empty when it
/// passes. `privileged` always passes.
pub fn check(policy: Policy, metadata: &Value, spec: &Value) -> Vec<Violation> {
    let pod = checks::Pod {
        meta: metadata,
        spec,
        minor: policy.version.minor(),
    };
    checks::evaluate(policy.level, &pod)
}

/// Checks the pod template of `object` (see [`pod_template`]) against
/// `policy`; `None` when the object has no pods to check.
pub fn check_object(policy: Policy, object: &Value) -> Option<Vec<Violation>> {
    let pod = pod_template(object)?;
    Some(check(policy, pod.metadata, pod.spec))
}

/// The violations as the admission plugin lists them: `a (x), b (y)`.
pub fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The admission plugin's rejection text for a Pod:
/// `pods "<name>" is forbidden: violates PodSecurity "restricted:latest": ...`.
pub fn forbidden_message(pod_name: &str, policy: Policy, violations: &[Violation]) -> String {
    format!(
        "pods \"{pod_name}\" is forbidden: violates PodSecurity \"{policy}\": {}",
        summary(violations)
    )
}

/// The admission plugin's warning for a workload whose template violates
/// the namespace's `warn` level: `would violate PodSecurity "...": ...`.
pub fn warning_message(policy: Policy, violations: &[Violation]) -> String {
    format!(
        "would violate PodSecurity \"{policy}\": {}",
        summary(violations)
    )
}

#[cfg(test)]
mod tests;
