//! PodSecurity, as the built-in admission plugin applies the Pod Security
//! Standards (`k8s.io/pod-security-admission/admission`): the checks and
//! their wording come from `storeplane-pod-security`; this module decides,
//! like the plugin, what to check when — a Pod is refused (`enforce`), a
//! workload is only warned about (`warn`), a namespace's labels must be
//! valid, and tightening `enforce` warns about the pods already there.

use serde_json::Value;
use storeplane_pod_security::{
    Level, NamespacePolicy, Policy, Violation, check, pod_template, summary,
};

/// How many existing pods a tightened `enforce` label is checked against
/// (the plugin's `namespaceMaxPodsToCheck`).
const MAX_PODS_TO_CHECK: usize = 3000;

/// A namespace's policy from its labels (`storeplane-pod-security` reads
/// them as the plugin's `api.PolicyToEvaluate`: errors in its order, `warn`
/// following a stricter `enforce`), with invalid labels as `(field,
/// message)` causes.
pub(crate) fn namespace_policy(namespace: &Value) -> (NamespacePolicy, Vec<(String, String)>) {
    let (policy, errors) = NamespacePolicy::from_namespace(namespace);
    let causes = errors
        .iter()
        .map(|e| {
            let text = e.to_string();
            let field = format!("metadata.labels[{}]", e.label);
            let message = text
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&text)
                .to_owned();
            (field, message)
        })
        .collect();
    (policy, causes)
}

fn fully_privileged(policy: &NamespacePolicy) -> bool {
    [policy.enforce, policy.audit, policy.warn]
        .iter()
        .all(|p| p.level == Level::Privileged)
}

fn evaluate(policy: Policy, metadata: &Value, spec: &Value) -> Vec<Violation> {
    check(policy, metadata, spec)
}

/// What the plugin decides for a Pod or a workload in a namespace.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Set when a Pod is refused: `violates PodSecurity "...": ...`.
    pub forbidden: Option<String>,
    /// Warnings for the client (`would violate PodSecurity "...": ...`).
    pub warnings: Vec<String>,
}

/// Evaluates a new or changed Pod or workload (`old` for updates) against
/// its namespace's policy. Pods are enforced; workloads only warned about,
/// their pods being refused later, when their controller creates them.
pub(crate) fn evaluate_object(namespace: &Value, old: Option<&Value>, new: &Value) -> Decision {
    let Some(template) = pod_template(new) else {
        return Decision::default();
    };
    let is_pod = new.get("kind").and_then(Value::as_str) == Some("Pod");
    let (policy, errors) = namespace_policy(namespace);
    if errors.is_empty() && fully_privileged(&policy) {
        return Decision::default();
    }
    if is_pod {
        if let Some(old) = old
            && !significant_pod_update(old, new)
        {
            return Decision::default();
        }
    } else if errors.is_empty()
        && policy.warn.level == Level::Privileged
        && policy.audit.level == Level::Privileged
    {
        return Decision::default();
    }
    let mut decision = Decision::default();
    if is_pod {
        let violations = evaluate(policy.enforce, template.metadata, template.spec);
        if !violations.is_empty() {
            decision.forbidden = Some(format!(
                "violates PodSecurity \"{}\": {}",
                policy.enforce,
                summary(&violations)
            ));
            // No warnings on a request that is refused anyway.
            return decision;
        }
    }
    let violations = evaluate(policy.warn, template.metadata, template.spec);
    if !violations.is_empty() {
        decision.warnings.push(format!(
            "would violate PodSecurity \"{}\": {}",
            policy.warn,
            summary(&violations)
        ));
    }
    decision
}

/// Pod updates the plugin looks at: containers added or removed, or an
/// image changed (the only pod spec fields that may change).
fn significant_pod_update(old: &Value, new: &Value) -> bool {
    for field in ["containers", "initContainers"] {
        let images = |pod: &Value| -> Vec<Option<String>> {
            pod.pointer(&format!("/spec/{field}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| c.get("image").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        if images(old) != images(new) {
            return true;
        }
    }
    let ephemeral = |pod: &Value| pod.pointer("/spec/ephemeralContainers").cloned();
    ephemeral(old) != ephemeral(new)
}

/// A namespace created or relabelled: `Err` with the invalid labels' causes,
/// or the warnings about existing pods when `enforce` got stricter
/// (`pods` lists the namespace's pods; only read when needed).
pub(crate) fn evaluate_namespace<'a, I>(
    old: Option<&Value>,
    new: &Value,
    pods: impl FnOnce() -> I,
) -> Result<Vec<String>, Vec<(String, String)>>
where
    I: IntoIterator<Item = &'a Value>,
{
    let (new_policy, new_errors) = namespace_policy(new);
    let Some(old) = old else {
        return if new_errors.is_empty() {
            Ok(Vec::new())
        } else {
            Err(new_errors)
        };
    };
    let (old_policy, old_errors) = namespace_policy(old);
    if !new_errors.is_empty() && (old_errors.is_empty() || old_errors != new_errors) {
        return Err(new_errors);
    }
    let (now, before) = (new_policy.enforce, old_policy.enforce);
    if now == before
        || now.level == Level::Privileged
        || (now.version == before.version && now.level <= before.level)
    {
        return Ok(Vec::new());
    }
    let name = crate::meta::name(new).unwrap_or("");
    Ok(existing_pod_warnings(name, now, pods()))
}

/// `EvaluatePodsInNamespace`: one warning per distinct set of violated
/// checks, naming the first pod (by name) and how many others share it.
fn existing_pod_warnings<'a>(
    namespace: &str,
    enforce: Policy,
    pods: impl IntoIterator<Item = &'a Value>,
) -> Vec<String> {
    // One pod per controller first, so a few checks cover many workloads.
    let mut first = Vec::new();
    let mut later = Vec::new();
    let mut seen_owners = std::collections::HashSet::new();
    for pod in pods {
        match controller_uid(pod) {
            Some(uid) if !seen_owners.insert(uid.to_owned()) => later.push(pod),
            _ => first.push(pod),
        }
    }
    let total = first.len() + later.len();
    let checked: Vec<&Value> = first
        .into_iter()
        .chain(later)
        .take(MAX_PODS_TO_CHECK)
        .collect();
    let mut warnings = Vec::new();
    if checked.len() < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {} of {total} existing pods",
            checked.len()
        ));
    }
    // Violated checks (reasons only) -> (first pod name, how many pods).
    let mut by_reasons: Vec<(String, String, usize)> = Vec::new();
    for pod in checked {
        let Some(template) = pod_template(pod) else {
            continue;
        };
        let violations = evaluate(enforce, template.metadata, template.spec);
        if violations.is_empty() {
            continue;
        }
        let reasons = violations
            .iter()
            .map(|v| v.reason.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let name = crate::meta::name(pod).unwrap_or("").to_owned();
        match by_reasons.iter_mut().find(|(r, _, _)| *r == reasons) {
            Some((_, first_name, count)) => {
                if name < *first_name {
                    *first_name = name;
                }
                *count += 1;
            }
            None => by_reasons.push((reasons, name, 1)),
        }
    }
    if by_reasons.is_empty() {
        return warnings;
    }
    warnings.push(format!(
        "existing pods in namespace \"{namespace}\" violate the new PodSecurity enforce level \"{enforce}\""
    ));
    let mut decorated: Vec<String> = by_reasons
        .into_iter()
        .map(|(reasons, name, count)| match count {
            1 => format!("{name}: {reasons}"),
            2 => format!("{name} (and 1 other pod): {reasons}"),
            n => format!("{name} (and {} other pods): {reasons}", n - 1),
        })
        .collect();
    decorated.sort();
    warnings.extend(decorated);
    warnings
}

fn controller_uid(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespace(labels: Value) -> Value {
        json!({ "metadata": { "name": "p1", "labels": labels } })
    }

    fn nginx_pod(name: &str) -> Value {
        json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name },
                "spec": { "containers": [{ "name": "nginx", "image": "nginx" }] } })
    }

    #[test]
    fn enforce_alone_also_warns_about_workloads() {
        let ns = namespace(json!({ "pod-security.kubernetes.io/enforce": "restricted" }));
        let deployment = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "spec": { "template": {
            "spec": { "containers": [{ "name": "nginx", "image": "nginx" }] } } } });
        let decision = evaluate_object(&ns, None, &deployment);
        assert_eq!(decision.forbidden, None);
        assert_eq!(
            decision.warnings,
            [
                "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"nginx\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"nginx\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"nginx\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"nginx\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
            ]
        );
    }

    #[test]
    fn tightening_enforce_warns_about_existing_pods_like_the_plugin() {
        let old = namespace(json!({}));
        let new = namespace(json!({ "pod-security.kubernetes.io/enforce": "restricted" }));
        let pods = [nginx_pod("plain"), nginx_pod("another")];
        let warnings = evaluate_namespace(Some(&old), &new, || pods.iter()).unwrap();
        assert_eq!(
            warnings,
            [
                "existing pods in namespace \"p1\" violate the new PodSecurity enforce level \"restricted:latest\"",
                "another (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            ]
        );
        // Relaxing, or relabelling with the same level, says nothing.
        assert!(
            evaluate_namespace(Some(&new), &old, || pods.iter())
                .unwrap()
                .is_empty()
        );
        assert!(
            evaluate_namespace(Some(&new), &new, || pods.iter())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn invalid_labels_are_refused() {
        let new = namespace(json!({ "pod-security.kubernetes.io/warn": "loud" }));
        let causes = evaluate_namespace(None, &new, std::iter::empty).unwrap_err();
        assert_eq!(
            causes,
            [(
                "metadata.labels[pod-security.kubernetes.io/warn]".to_owned(),
                "Invalid value: \"loud\": must be one of privileged, baseline, restricted"
                    .to_owned()
            )]
        );
    }
}
