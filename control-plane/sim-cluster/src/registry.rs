//! Which resources the simulated API server serves, taken from k8s-openapi's
//! resource metadata, and how each is named in discovery.

use std::collections::HashMap;

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};

/// Index of a resource in the [`Registry`]; storage is laid out by it.
pub(crate) type ResId = usize;

/// Everything the server needs to know about one group/version/resource.
#[derive(Debug, Clone)]
pub(crate) struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Whether the resource has a `/status` subresource, which makes updates of
    /// the main resource ignore `.status` and vice versa.
    pub has_status: bool,
    /// A review (access or identity): only `create`, which answers and
    /// stores nothing.
    pub create_only: bool,
}

impl ResourceInfo {
    /// `deployments.apps`, or `pods` for the core group: how Kubernetes names a
    /// resource in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether the apiserver keeps `metadata.generation` for this resource
    /// (its strategy sets it to 1 on create and bumps it when the spec
    /// changes): kube-apiserver 1.37's registry, checked against a real one.
    /// ConfigMaps, Secrets, Namespaces, quotas, limit ranges, Services,
    /// claims and the like have none.
    pub fn tracks_generation(&self) -> bool {
        matches!(
            (self.group, self.plural),
            ("", "pods" | "podtemplates" | "replicationcontrollers")
                | (
                    "apps",
                    "daemonsets" | "deployments" | "replicasets" | "statefulsets"
                )
                | ("autoscaling", "horizontalpodautoscalers")
                | ("batch", "cronjobs" | "jobs")
                | ("discovery.k8s.io", "endpointslices")
                | (
                    "flowcontrol.apiserver.k8s.io",
                    "flowschemas" | "prioritylevelconfigurations"
                )
                | ("lifecycle.k8s.io", "evictions" | "evictionrequests")
                | (
                    "networking.k8s.io",
                    "ingresses" | "ingressclasses" | "networkpolicies"
                )
                | ("policy", "poddisruptionbudgets")
                | (
                    "resource.k8s.io",
                    "deviceclasses" | "devicetaintrules" | "resourceslices"
                )
                | ("scheduling.k8s.io", "priorityclasses")
                | ("apiextensions.k8s.io", "customresourcedefinitions")
                | (
                    "admissionregistration.k8s.io",
                    "mutatingadmissionpolicies"
                        | "mutatingadmissionpolicybindings"
                        | "mutatingwebhookconfigurations"
                        | "validatingadmissionpolicies"
                        | "validatingadmissionpolicybindings"
                        | "validatingwebhookconfigurations"
                )
        )
    }

    /// Whether kube-apiserver serves watches of this resource from its watch
    /// cache. Events are not cached (its default `--watch-cache-sizes` sets
    /// them to 0): their watches go to etcd, whose compaction (not the
    /// cache's window) decides what is too old, in etcd's words.
    pub fn watch_cached(&self) -> bool {
        !matches!((self.group, self.plural), ("" | "events.k8s.io", "events"))
    }

    /// Whether the resource has a `/scale` subresource.
    pub fn has_scale(&self) -> bool {
        matches!(
            (self.group, self.plural),
            ("apps", "deployments" | "statefulsets" | "replicasets")
                | ("", "replicationcontrollers")
        )
    }

    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    pub fn short_names(&self) -> &'static [&'static str] {
        match (self.group, self.plural) {
            ("", "namespaces") => &["ns"],
            ("", "pods") => &["po"],
            ("", "services") => &["svc"],
            ("", "configmaps") => &["cm"],
            ("", "serviceaccounts") => &["sa"],
            ("", "events") => &["ev"],
            ("", "nodes") => &["no"],
            ("", "persistentvolumeclaims") => &["pvc"],
            ("", "persistentvolumes") => &["pv"],
            ("", "endpoints") => &["ep"],
            ("", "limitranges") => &["limits"],
            ("", "resourcequotas") => &["quota"],
            ("", "replicationcontrollers") => &["rc"],
            ("", "componentstatuses") => &["cs"],
            ("apps", "deployments") => &["deploy"],
            ("apps", "statefulsets") => &["sts"],
            ("apps", "daemonsets") => &["ds"],
            ("apps", "replicasets") => &["rs"],
            ("batch", "cronjobs") => &["cj"],
            ("networking.k8s.io", "ingresses") => &["ing"],
            ("networking.k8s.io", "networkpolicies") => &["netpol"],
            ("networking.k8s.io", "ipaddresses") => &["ip"],
            ("storage.k8s.io", "volumeattributesclasses") => &["vac"],
            ("autoscaling", "horizontalpodautoscalers") => &["hpa"],
            ("policy", "poddisruptionbudgets") => &["pdb"],
            ("scheduling.k8s.io", "priorityclasses") => &["pc"],
            ("storage.k8s.io", "storageclasses") => &["sc"],
            ("apiextensions.k8s.io", "customresourcedefinitions") => &["crd", "crds"],
            ("certificates.k8s.io", "certificatesigningrequests") => &["csr"],
            ("events.k8s.io", "events") => &["ev"],
            _ => &[],
        }
    }

    pub fn categories(&self) -> &'static [&'static str] {
        match (self.group, self.plural) {
            ("", "pods" | "services" | "replicationcontrollers")
            | ("apps", "deployments" | "statefulsets" | "daemonsets" | "replicasets")
            | ("batch", "jobs" | "cronjobs")
            | ("autoscaling", "horizontalpodautoscalers") => &["all"],
            _ => &[],
        }
    }
}

/// Gives a resource type's scope as a boolean.
trait ScopeExt {
    const NAMESPACED: bool;
}

impl ScopeExt for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl ScopeExt for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn info_of<K>(has_status: bool) -> ResourceInfo
where
    K: k8s_openapi::Resource,
    K::Scope: ScopeExt,
{
    ResourceInfo {
        group: K::GROUP,
        version: K::VERSION,
        api_version: K::API_VERSION,
        kind: K::KIND,
        plural: K::URL_PATH_SEGMENT,
        namespaced: <K::Scope as ScopeExt>::NAMESPACED,
        has_status,
        create_only: false,
    }
}

/// A review kind: created to get an answer, never stored.
fn review<K>() -> ResourceInfo
where
    K: k8s_openapi::Resource,
    K::Scope: ScopeExt,
{
    ResourceInfo {
        create_only: true,
        ..info_of::<K>(false)
    }
}

macro_rules! builtin {
    ($ty:path, $status:expr) => {
        info_of::<$ty>($status)
    };
}

/// The built-in resources of the Kubernetes version k8s-openapi's `latest`
/// feature selects. Generated from k8s-openapi's `ListableResource` impls; the
/// flag says whether the type has a `status` field (and so a status subresource).
fn builtins() -> Vec<ResourceInfo> {
    vec![
    builtin!(k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy, false),
    builtin!(k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding, false),
    builtin!(k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration, false),
    builtin!(k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy, true),
    builtin!(k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding, false),
    builtin!(k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration, false),
    builtin!(k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy, false),
    builtin!(k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding, false),
    builtin!(k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicy, false),
    builtin!(k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding, false),
    builtin!(k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion, true),
    builtin!(k8s_openapi::api::apps::v1::ControllerRevision, false),
    builtin!(k8s_openapi::api::apps::v1::DaemonSet, true),
    builtin!(k8s_openapi::api::apps::v1::Deployment, true),
    builtin!(k8s_openapi::api::apps::v1::ReplicaSet, true),
    builtin!(k8s_openapi::api::apps::v1::StatefulSet, true),
    builtin!(k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler, true),
    builtin!(k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler, true),
    builtin!(k8s_openapi::api::batch::v1::CronJob, true),
    builtin!(k8s_openapi::api::batch::v1::Job, true),
    builtin!(k8s_openapi::api::certificates::v1::CertificateSigningRequest, true),
    builtin!(k8s_openapi::api::certificates::v1::ClusterTrustBundle, false),
    builtin!(k8s_openapi::api::certificates::v1::PodCertificateRequest, true),
    builtin!(k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle, false),
    builtin!(k8s_openapi::api::certificates::v1beta1::PodCertificateRequest, true),
    builtin!(k8s_openapi::api::coordination::v1::Lease, false),
    builtin!(k8s_openapi::api::coordination::v1alpha2::LeaseCandidate, false),
    builtin!(k8s_openapi::api::coordination::v1beta1::LeaseCandidate, false),
    builtin!(k8s_openapi::api::core::v1::ComponentStatus, false),
    builtin!(k8s_openapi::api::core::v1::ConfigMap, false),
    builtin!(k8s_openapi::api::core::v1::Endpoints, false),
    builtin!(k8s_openapi::api::core::v1::Event, false),
    builtin!(k8s_openapi::api::core::v1::LimitRange, false),
    builtin!(k8s_openapi::api::core::v1::Namespace, true),
    builtin!(k8s_openapi::api::core::v1::Node, true),
    builtin!(k8s_openapi::api::core::v1::PersistentVolume, true),
    builtin!(k8s_openapi::api::core::v1::PersistentVolumeClaim, true),
    builtin!(k8s_openapi::api::core::v1::Pod, true),
    builtin!(k8s_openapi::api::core::v1::PodTemplate, false),
    builtin!(k8s_openapi::api::core::v1::ReplicationController, true),
    builtin!(k8s_openapi::api::core::v1::ResourceQuota, true),
    builtin!(k8s_openapi::api::core::v1::Secret, false),
    builtin!(k8s_openapi::api::core::v1::Service, true),
    builtin!(k8s_openapi::api::core::v1::ServiceAccount, false),
    builtin!(k8s_openapi::api::discovery::v1::EndpointSlice, false),
    builtin!(k8s_openapi::api::events::v1::Event, false),
    builtin!(k8s_openapi::api::flowcontrol::v1::FlowSchema, true),
    builtin!(k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration, true),
    builtin!(k8s_openapi::api::lifecycle::v1alpha1::Eviction, true),
    builtin!(k8s_openapi::api::lifecycle::v1alpha1::EvictionRequest, true),
    builtin!(k8s_openapi::api::networking::v1::Ingress, true),
    builtin!(k8s_openapi::api::networking::v1::IngressClass, false),
    builtin!(k8s_openapi::api::networking::v1::IPAddress, false),
    builtin!(k8s_openapi::api::networking::v1::NetworkPolicy, false),
    builtin!(k8s_openapi::api::networking::v1::ServiceCIDR, true),
    builtin!(k8s_openapi::api::node::v1::RuntimeClass, false),
    builtin!(k8s_openapi::api::policy::v1::PodDisruptionBudget, true),
    builtin!(k8s_openapi::api::rbac::v1::ClusterRole, false),
    builtin!(k8s_openapi::api::rbac::v1::ClusterRoleBinding, false),
    builtin!(k8s_openapi::api::rbac::v1::Role, false),
    builtin!(k8s_openapi::api::rbac::v1::RoleBinding, false),
    builtin!(k8s_openapi::api::resource::v1::DeviceClass, false),
    builtin!(k8s_openapi::api::resource::v1::DeviceTaintRule, true),
    builtin!(k8s_openapi::api::resource::v1::ResourceClaim, true),
    builtin!(k8s_openapi::api::resource::v1::ResourceClaimTemplate, false),
    builtin!(k8s_openapi::api::resource::v1::ResourceSlice, false),
    builtin!(k8s_openapi::api::resource::v1alpha3::DeviceTaintRule, true),
    builtin!(k8s_openapi::api::resource::v1alpha3::ResourcePoolStatusRequest, true),
    builtin!(k8s_openapi::api::resource::v1beta1::DeviceClass, false),
    builtin!(k8s_openapi::api::resource::v1beta1::ResourceClaim, true),
    builtin!(k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate, false),
    builtin!(k8s_openapi::api::resource::v1beta1::ResourceSlice, false),
    builtin!(k8s_openapi::api::resource::v1beta2::DeviceClass, false),
    builtin!(k8s_openapi::api::resource::v1beta2::DeviceTaintRule, true),
    builtin!(k8s_openapi::api::resource::v1beta2::ResourceClaim, true),
    builtin!(k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate, false),
    builtin!(k8s_openapi::api::resource::v1beta2::ResourceSlice, false),
    builtin!(k8s_openapi::api::scheduling::v1::PriorityClass, false),
    builtin!(k8s_openapi::api::scheduling::v1alpha3::CompositePodGroup, true),
    builtin!(k8s_openapi::api::scheduling::v1alpha3::PodGroup, true),
    builtin!(k8s_openapi::api::scheduling::v1alpha3::Workload, false),
    builtin!(k8s_openapi::api::scheduling::v1beta1::PodGroup, true),
    builtin!(k8s_openapi::api::scheduling::v1beta1::Workload, false),
    builtin!(k8s_openapi::api::storage::v1::CSIDriver, false),
    builtin!(k8s_openapi::api::storage::v1::CSINode, true),
    builtin!(k8s_openapi::api::storage::v1::CSIStorageCapacity, false),
    builtin!(k8s_openapi::api::storage::v1::StorageClass, false),
    builtin!(k8s_openapi::api::storage::v1::VolumeAttachment, true),
    builtin!(k8s_openapi::api::storage::v1::VolumeAttributesClass, false),
    builtin!(k8s_openapi::api::storagemigration::v1::StorageVersionMigration, true),
    builtin!(k8s_openapi::api::storagemigration::v1beta1::StorageVersionMigration, true),
    builtin!(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition, true),
    builtin!(k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService, true),
    review::<k8s_openapi::api::authentication::v1::SelfSubjectReview>(),
    review::<k8s_openapi::api::authorization::v1::LocalSubjectAccessReview>(),
    review::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(),
    review::<k8s_openapi::api::authorization::v1::SelfSubjectRulesReview>(),
    review::<k8s_openapi::api::authorization::v1::SubjectAccessReview>(),
    ]
}

/// All resources the server knows, with lookups by group/version/plural and
/// group/kind.
#[derive(Debug)]
pub(crate) struct Registry {
    resources: Vec<ResourceInfo>,
    by_path: HashMap<(&'static str, &'static str, &'static str), ResId>,
}

/// The group/versions a kube-apiserver 1.37 serves with its default
/// `--runtime-config`: GA APIs only (beta APIs have been off by default
/// since 1.24, alpha ones always), checked against a real one's
/// `kubectl api-versions`. k8s-openapi also knows the alpha and beta
/// versions; serving them would make discovery (and `kubectl
/// api-resources`) list kinds a real cluster refuses.
const DEFAULT_GROUP_VERSIONS: [(&str, &str); 23] = [
    ("", "v1"),
    ("admissionregistration.k8s.io", "v1"),
    ("apiextensions.k8s.io", "v1"),
    ("apiregistration.k8s.io", "v1"),
    ("apps", "v1"),
    ("authentication.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("autoscaling", "v1"),
    ("autoscaling", "v2"),
    ("batch", "v1"),
    ("certificates.k8s.io", "v1"),
    ("coordination.k8s.io", "v1"),
    ("discovery.k8s.io", "v1"),
    ("events.k8s.io", "v1"),
    ("flowcontrol.apiserver.k8s.io", "v1"),
    ("networking.k8s.io", "v1"),
    ("node.k8s.io", "v1"),
    ("policy", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("resource.k8s.io", "v1"),
    ("scheduling.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
    ("storagemigration.k8s.io", "v1"),
];

impl Registry {
    pub fn builtin() -> Self {
        let resources: Vec<ResourceInfo> = builtins()
            .into_iter()
            .filter(|r| DEFAULT_GROUP_VERSIONS.contains(&(r.group, r.version)))
            .collect();
        let by_path = resources
            .iter()
            .enumerate()
            .map(|(id, r)| ((r.group, r.version, r.plural), id))
            .collect();
        Self { resources, by_path }
    }

    pub fn get(&self, id: ResId) -> &ResourceInfo {
        &self.resources[id]
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ResId, &ResourceInfo)> {
        self.resources.iter().enumerate()
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<ResId> {
        self.by_path.get(&(group, version, plural)).copied()
    }

    /// The groups served, each with its versions ordered by Kubernetes' version
    /// priority (GA before beta before alpha, higher numbers first).
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for r in &self.resources {
            match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version);
                    }
                }
                None => groups.push((r.group, vec![r.version])),
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| version_priority(v));
        }
        groups
    }

    #[cfg(test)]
    pub fn preferred_version(&self, group: &str) -> Option<&'static str> {
        self.groups()
            .into_iter()
            .find(|(g, _)| *g == group)
            .and_then(|(_, versions)| versions.first().copied())
    }

    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.group == group && r.version == version)
    }

    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceInfo> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }
}

/// Sort key implementing Kubernetes' version priority: `v2 > v1 > v1beta2 >
/// v1beta1 > v1alpha1`.
fn version_priority(version: &str) -> (u8, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>) {
    use std::cmp::Reverse;
    let rest = version.trim_start_matches('v');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, minor) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (2, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stability, Reverse(major), Reverse(minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_knows_core_and_apps_resources_with_scope() {
        let registry = Registry::builtin();
        let deploy = registry.lookup("apps", "v1", "deployments").unwrap();
        assert!(registry.get(deploy).namespaced);
        assert!(registry.get(deploy).has_status);
        let ns = registry.lookup("", "v1", "namespaces").unwrap();
        assert!(!registry.get(ns).namespaced);
        let secret = registry.lookup("", "v1", "secrets").unwrap();
        assert!(!registry.get(secret).has_status);
        assert!(registry.lookup("example.com", "v1", "widgets").is_none());
    }

    #[test]
    fn preferred_version_follows_kubernetes_priority() {
        let registry = Registry::builtin();
        assert_eq!(registry.preferred_version("autoscaling"), Some("v2"));
        assert_eq!(registry.preferred_version("resource.k8s.io"), Some("v1"));
        assert_eq!(
            registry.preferred_version("coordination.k8s.io"),
            Some("v1")
        );
    }
}
