//! Finding the pod template of a workload object, as the admission plugin's
//! default pod spec extractor does.

use serde_json::Value;

/// The pod part of an object: a Pod's own metadata and spec, or a
/// workload's pod template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodTemplate<'a> {
    /// The pod's (or template's) `metadata`; `null` when absent.
    pub metadata: &'a Value,
    /// The pod's (or template's) `spec`; `null` when absent.
    pub spec: &'a Value,
}

static NULL: Value = Value::Null;

/// The pod template of `object` when it is a Pod or a workload whose
/// pods the admission plugin checks: Pod, ReplicationController and
/// PodTemplate (core), Deployment, StatefulSet, DaemonSet and ReplicaSet
/// (`apps`), Job and CronJob (`batch`). `None` for any other kind, and for
/// a kind of another API group that merely shares a name.
pub fn pod_template(object: &Value) -> Option<PodTemplate<'_>> {
    let api_version = object.get("apiVersion").and_then(Value::as_str)?;
    let kind = object.get("kind").and_then(Value::as_str)?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let template = match (group, kind) {
        ("", "Pod") => object,
        ("", "PodTemplate") => object.get("template")?,
        ("", "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => object.pointer("/spec/template").unwrap_or(&NULL),
        ("batch", "CronJob") => object
            .pointer("/spec/jobTemplate/spec/template")
            .unwrap_or(&NULL),
        _ => return None,
    };
    Some(PodTemplate {
        metadata: template.get("metadata").unwrap_or(&NULL),
        spec: template.get("spec").unwrap_or(&NULL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_of(object: Value) -> Option<Value> {
        pod_template(&object).map(|t| t.spec.clone())
    }

    #[test]
    fn finds_the_template_of_every_workload_kind() {
        let template =
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}});
        let spec = template["spec"].clone();
        for (api_version, kind) in [
            ("v1", "ReplicationController"),
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
        ] {
            let object =
                json!({"apiVersion": api_version, "kind": kind, "spec": {"template": template}});
            assert_eq!(spec_of(object), Some(spec.clone()), "{kind}");
        }
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": template}}}});
        assert_eq!(spec_of(cron), Some(spec.clone()));
        let pod_template_object =
            json!({"apiVersion": "v1", "kind": "PodTemplate", "template": template});
        assert_eq!(spec_of(pod_template_object), Some(spec.clone()));
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
        let found = pod_template(&pod).map(|t| (t.metadata["name"].clone(), t.spec.clone()));
        assert_eq!(found, Some((json!("p"), spec)));
    }

    #[test]
    fn other_kinds_and_groups_have_no_template() {
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Deployment"),
            ("example.com/v1", "Deployment"),
            ("apps/v1", "ControllerRevision"),
        ] {
            let object = json!({"apiVersion": api_version, "kind": kind, "spec": {"template": {}}});
            assert_eq!(spec_of(object), None, "{api_version} {kind}");
        }
    }

    #[test]
    fn a_workload_without_a_template_has_an_empty_pod() {
        let found = spec_of(json!({"apiVersion": "apps/v1", "kind": "Deployment"}));
        assert_eq!(found, Some(Value::Null));
    }
}
