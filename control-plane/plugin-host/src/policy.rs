//! The object policy: the one place that decides whether a plugin may
//! create, change, read or delete an object in its store's namespace. The
//! host applies it to `kube.*` and `secrets.*` calls; the control plane
//! applies [`check_apply`] to every object of a rendered Helm release and
//! [`check_delete`] to every object a release prunes, so a chart can do no
//! more than `kube.apply`.
//!
//! What is refused, and why:
//!
//! - **Names** that are not DNS-1123 subdomains (release names: DNS-1123
//!   labels of at most 53 characters, Helm's limit), before they reach a URL
//!   path: `a/b` or `../../secrets/x` would otherwise become path segments
//!   (kube-rs does not escape names). `HostError::Invalid`.
//! - **Platform objects**: any name starting with `storeplane-` (quota,
//!   limit range, network policies), for apply, patch and delete.
//! - **Kinds that reach beyond the store** (`HostError::Denied`):
//!   - everything in `rbac.authorization.k8s.io`: a Role and RoleBinding
//!     would give the store's pods API access;
//!   - `Endpoints` and `discovery.k8s.io` `EndpointSlice`: hand-written
//!     endpoints point a Service (and so the ingress controller, which every
//!     store admits) at another tenant's pod IPs;
//!   - Secrets of type `kubernetes.io/service-account-token`: they mint API
//!     credentials;
//!   - Services with `externalIPs` (CVE-2020-8554: intercepts traffic to
//!     those IPs cluster-wide), `type: ExternalName` (makes the ingress
//!     controller proxy to any name, e.g. another namespace's service,
//!     around NetworkPolicies), `type: NodePort` and `type: LoadBalancer`
//!     (expose the store beside the ingress, on every node or on a paid
//!     cloud load balancer); the engines' charts use `ClusterIP` only;
//!   - `ResourceQuota` and `LimitRange`: resource policy is the platform's
//!     (a second LimitRange makes the defaults ambiguous);
//!   - `PodDisruptionBudget` (`policy`): one with no disruptions allowed
//!     blocks node drains for the whole cluster;
//!   - `Gateway`, `TCPRoute` and `UDPRoute` (`gateway.networking.k8s.io`):
//!     a Gateway owns listeners and hostnames, and TCP/UDP routes have no
//!     hostname to check, so they would claim a whole listener;
//!   - `*List` kinds, which would smuggle items past these checks.
//! - **Hosts other than the store's own** ([`store_hosts`]): every
//!   `Ingress` rule must name one (a rule without host catches every host)
//!   and so must every TLS entry; `spec.defaultBackend` is refused (a
//!   catch-all); ingress-nginx annotations that inject configuration
//!   (`*-snippet`), add host names (`server-alias`) or read a Secret of
//!   another namespace (`*-secret: <namespace>/<name>`) are refused.
//!   Gateway API `HTTPRoute`, `GRPCRoute` and `TLSRoute` must list
//!   `spec.hostnames`, all of them the store's. A cert-manager `Certificate`
//!   may only be for the store's hosts.
//! - **Pods that would not pass the `restricted` Pod Security Standard**:
//!   every Pod and pod template (Deployment, StatefulSet, Job, ...). Store
//!   namespaces are labelled `enforce: restricted`, but an API server only
//!   *warns* about a workload's template and rejects its pods later, out of
//!   sight; refusing up front gives the plugin (and the store's timeline) the
//!   reason at once.
//!
//! Allowed on purpose: `NetworkPolicy` (the engines add allow rules for
//! their own pods; NetworkPolicies only add allows, and another store stays
//! protected by its own deny-by-default policies, which no plugin can
//! touch), `ServiceAccount` (without RBAC it grants nothing) and Gateway
//! `ReferenceGrant` (it only opens this namespace's own objects).

use serde_json::Value;
use storeplane_pod_security::{Level, Policy};

use crate::backend::{HostError, StoreContext};

/// Names starting with this belong to the platform.
pub const PLATFORM_PREFIX: &str = "storeplane-";

/// Helm's limit on release names.
const MAX_RELEASE_NAME: usize = 53;

/// The host names a store may route: its `host` and its custom domains
/// (which the platform made unique to it); every host check uses this list.
pub fn store_hosts(store: &StoreContext) -> Vec<&str> {
    std::iter::once(store.host.as_str())
        .chain(store.extra_hosts.iter().map(String::as_str))
        .collect()
}

/// Checks an object a plugin wants applied in `store`'s namespace (by
/// `kube.apply`, or as part of a Helm release): well-formed type and name,
/// in the store's namespace or none, and allowed by the rules above.
pub fn check_apply(store: &StoreContext, object: &Value) -> Result<(), HostError> {
    let api_version = str_field(object, "apiVersion");
    let kind = str_field(object, "kind");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        return Err(HostError::Invalid(
            "object needs apiVersion, kind and metadata.name".into(),
        ));
    }
    check_type(api_version, kind)?;
    check_name(kind, name)?;
    let what = format!("{kind} {name}");
    if let Some(namespace) = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && namespace != store.namespace
    {
        return Err(HostError::Denied(format!(
            "{what}: namespace {namespace} is not the store's namespace {}",
            store.namespace
        )));
    }
    check_platform_name(&what, name)?;
    check_kind(store, &what, group(api_version), kind, object)?;
    check_pods(&what, object)
}

/// Checks a delete (by `kube.delete`, or a Helm release pruning an object
/// a new revision no longer renders): well-formed, not a platform object.
pub fn check_delete(api_version: &str, kind: &str, name: &str) -> Result<(), HostError> {
    check_type(api_version, kind)?;
    check_name(kind, name)?;
    check_platform_name(&format!("{kind} {name}"), name)
}

/// Checks a read (`kube.get`): the name must be safe to put in a URL path.
pub fn check_get(api_version: &str, kind: &str, name: &str) -> Result<(), HostError> {
    check_type(api_version, kind)?;
    check_name(kind, name)
}

/// Checks a list (`kube.list`): the type must be well-formed.
pub fn check_list(api_version: &str, kind: &str) -> Result<(), HostError> {
    check_type(api_version, kind)
}

/// Checks a Secret a plugin wants generated (`secrets.ensure-secret`).
pub fn check_secret(name: &str, keys: &[String]) -> Result<(), HostError> {
    check_name("Secret", name)?;
    check_platform_name(&format!("Secret {name}"), name)?;
    if keys.is_empty() {
        return Err(HostError::Invalid("keys must not be empty".into()));
    }
    // The API server's rule for Secret and ConfigMap keys.
    if let Some(bad) = keys.iter().find(|k| {
        k.is_empty()
            || k.len() > 253
            || *k == "."
            || *k == ".."
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }) {
        return Err(HostError::Invalid(format!(
            "secret key {bad:?} must consist of alphanumeric characters, '-', '_' or '.'"
        )));
    }
    Ok(())
}

/// Checks a Helm release name: a DNS-1123 label of at most 53 characters.
pub fn check_release_name(name: &str) -> Result<(), HostError> {
    if name.len() <= MAX_RELEASE_NAME && is_dns1123_label(name) {
        Ok(())
    } else {
        Err(HostError::Invalid(format!(
            "release name {:?} must be a DNS-1123 label (lowercase letters, digits and '-', at most {MAX_RELEASE_NAME} characters)",
            shorten(name)
        )))
    }
}

/// Checks an object name: a DNS-1123 subdomain.
pub fn check_name(kind: &str, name: &str) -> Result<(), HostError> {
    if is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(HostError::Invalid(format!(
            "{kind} name {:?} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)",
            shorten(name)
        )))
    }
}

/// Whether `name` is a DNS-1123 subdomain: at most 253 characters of
/// dot-separated labels of lowercase letters, digits and `-`, each starting
/// and ending with a letter or digit.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label_chars(label))
}

/// Whether `name` is a DNS-1123 label (at most 63 characters, no dots).
pub fn is_dns1123_label(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && label_chars(name)
}

fn label_chars(label: &str) -> bool {
    let bytes = label.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `apiVersion` is `v1`-like or `<group>/<version>` with a DNS-1123
/// subdomain group; `kind` is alphanumeric and starts upper case. Both end
/// up in URL paths and discovery lookups.
fn check_type(api_version: &str, kind: &str) -> Result<(), HostError> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (Some(group), version),
        None => (None, api_version),
    };
    let group_ok = group.is_none_or(is_dns1123_subdomain);
    if !group_ok || !is_dns1123_label(version) {
        return Err(HostError::Invalid(format!(
            "apiVersion {:?} must be <version> or <group>/<version>",
            shorten(api_version)
        )));
    }
    let kind_ok = kind.len() <= 63
        && kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    if !kind_ok {
        return Err(HostError::Invalid(format!(
            "kind {:?} must be an alphanumeric name starting with an upper-case letter",
            shorten(kind)
        )));
    }
    Ok(())
}

fn check_platform_name(what: &str, name: &str) -> Result<(), HostError> {
    if name.starts_with(PLATFORM_PREFIX) {
        return Err(HostError::Denied(format!(
            "{what}: names starting with {PLATFORM_PREFIX} belong to the platform (quota, limits, network policies); plugins may not create, change or delete them"
        )));
    }
    Ok(())
}

fn check_kind(
    store: &StoreContext,
    what: &str,
    group: &str,
    kind: &str,
    object: &Value,
) -> Result<(), HostError> {
    let denied = |why: &str| Err(HostError::Denied(format!("{what}: {why}")));
    if kind.ends_with("List") {
        return denied("lists are not applied as such; apply each item");
    }
    match (group, kind) {
        ("rbac.authorization.k8s.io", _) => denied(
            "RBAC objects would give the store's pods API access; plugins may not create them",
        ),
        ("", "Endpoints") | ("discovery.k8s.io", "EndpointSlice") => denied(
            "hand-written endpoints could send a Service's traffic to any address; use a Service with a selector",
        ),
        ("", "Secret") if str_field(object, "type") == "kubernetes.io/service-account-token" => {
            denied("service-account token Secrets mint API credentials")
        }
        ("", "Service") => check_service(what, object),
        ("", "ResourceQuota" | "LimitRange") => {
            denied("resource quotas and limit ranges are the platform's")
        }
        ("policy", "PodDisruptionBudget") => {
            denied("a PodDisruptionBudget can block node drains for the whole cluster")
        }
        ("networking.k8s.io", "Ingress") => check_ingress(store, what, object),
        ("gateway.networking.k8s.io", "HTTPRoute" | "GRPCRoute" | "TLSRoute") => {
            check_route(store, what, object)
        }
        ("gateway.networking.k8s.io", "Gateway" | "TCPRoute" | "UDPRoute") => denied(
            "Gateways and TCP/UDP routes claim listeners beyond the store's hosts; use an HTTPRoute for the store's host",
        ),
        ("cert-manager.io", "Certificate") => check_certificate(store, what, object),
        _ => Ok(()),
    }
}

fn check_service(what: &str, object: &Value) -> Result<(), HostError> {
    let spec = &object["spec"];
    let external_ips = spec["externalIPs"]
        .as_array()
        .is_some_and(|ips| !ips.is_empty());
    if external_ips {
        return Err(HostError::Denied(format!(
            "{what}: externalIPs would intercept traffic to those addresses cluster-wide"
        )));
    }
    match str_field(spec, "type") {
        "" | "ClusterIP" => Ok(()),
        "ExternalName" => Err(HostError::Denied(format!(
            "{what}: type ExternalName would let the ingress controller proxy to any name, around network policies"
        ))),
        other => Err(HostError::Denied(format!(
            "{what}: type {other} would expose the store beside its ingress; use ClusterIP"
        ))),
    }
}

/// Annotation keys of ingress controllers that inject configuration or add
/// host names, refused whatever their value.
fn dangerous_annotation(key: &str, value: &str) -> Option<&'static str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.ends_with("-snippet") || name == "snippet" {
        Some("injects controller configuration")
    } else if name == "server-alias" {
        Some("adds host names")
    } else if name.ends_with("-secret") && value.contains('/') {
        Some("names a Secret of another namespace")
    } else {
        None
    }
}

fn check_ingress(store: &StoreContext, what: &str, object: &Value) -> Result<(), HostError> {
    let hosts = store_hosts(store);
    let own = |host: &str| hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
    let allowed = hosts.join(", ");
    let spec = &object["spec"];
    if !spec["defaultBackend"].is_null() || !spec["backend"].is_null() {
        return Err(HostError::Denied(format!(
            "{what}: a default backend catches every host; route the store's host ({allowed}) in a rule"
        )));
    }
    for rule in spec["rules"].as_array().into_iter().flatten() {
        match rule["host"].as_str() {
            Some(host) if own(host) => {}
            Some(host) => {
                return Err(HostError::Denied(format!(
                    "{what}: host {host} is not the store's (allowed: {allowed})"
                )));
            }
            None => {
                return Err(HostError::Denied(format!(
                    "{what}: a rule without host catches every host (allowed: {allowed})"
                )));
            }
        }
    }
    for tls in spec["tls"].as_array().into_iter().flatten() {
        let tls_hosts: Vec<&str> = tls["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if tls_hosts.is_empty() {
            return Err(HostError::Denied(format!(
                "{what}: a TLS entry without hosts applies to every host (allowed: {allowed})"
            )));
        }
        if let Some(host) = tls_hosts.iter().find(|h| !own(h)) {
            return Err(HostError::Denied(format!(
                "{what}: TLS host {host} is not the store's (allowed: {allowed})"
            )));
        }
    }
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (key, value) in annotations {
        if let Some(why) = dangerous_annotation(key, value.as_str().unwrap_or("")) {
            return Err(HostError::Denied(format!("{what}: annotation {key} {why}")));
        }
    }
    Ok(())
}

fn check_route(store: &StoreContext, what: &str, object: &Value) -> Result<(), HostError> {
    let names: Vec<&str> = object["spec"]["hostnames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    check_host_list(store, what, "hostnames", &names)
}

fn check_certificate(store: &StoreContext, what: &str, object: &Value) -> Result<(), HostError> {
    let spec = &object["spec"];
    let mut names: Vec<&str> = spec["dnsNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    names.extend(spec["commonName"].as_str());
    check_host_list(store, what, "dnsNames", &names)
}

/// `names` must be non-empty (an empty list means "every host" for routes)
/// and all the store's.
fn check_host_list(
    store: &StoreContext,
    what: &str,
    field: &str,
    names: &[&str],
) -> Result<(), HostError> {
    let hosts = store_hosts(store);
    let allowed = hosts.join(", ");
    if names.is_empty() {
        return Err(HostError::Denied(format!(
            "{what}: {field} must list the store's hosts (allowed: {allowed}); without them it matches every host"
        )));
    }
    match names
        .iter()
        .find(|n| !hosts.iter().any(|h| h.eq_ignore_ascii_case(n)))
    {
        Some(name) => Err(HostError::Denied(format!(
            "{what}: host {name} is not the store's (allowed: {allowed})"
        ))),
        None => Ok(()),
    }
}

/// Every pod and pod template must pass `restricted:latest`.
fn check_pods(what: &str, object: &Value) -> Result<(), HostError> {
    let policy = Policy::latest(Level::Restricted);
    match storeplane_pod_security::check_object(policy, object) {
        Some(violations) if !violations.is_empty() => Err(HostError::Denied(format!(
            "{what}: {}",
            storeplane_pod_security::warning_message(policy, &violations)
        ))),
        _ => Ok(()),
    }
}

fn str_field<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// At most 100 characters of a plugin-supplied string, for messages.
fn shorten(text: &str) -> String {
    crate::limits::truncate(text, 100)
}

#[cfg(test)]
mod tests;
