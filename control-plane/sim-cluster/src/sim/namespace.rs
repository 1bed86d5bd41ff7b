//! Namespace lifecycle: a `default` ServiceAccount and the published
//! `kube-root-ca.crt` on creation, and the namespace controller's
//! termination (delete all content, report what remains in the namespace's
//! conditions, wait for finalizers, then drop the `kubernetes` finalizer).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{CONTROLLER, Msg, Sim, status};
use crate::config::{FAIL_ANNOTATION, FailureTarget, READY_AFTER_ANNOTATION};
use crate::meta;
use crate::store::{EventType, Record, WriteCtx, parse};

/// The ConfigMap kube-controller-manager publishes in every namespace.
const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// A self-signed CA certificate (P-256, `CN=storeplane-sim-ca`, its key
/// thrown away): the simulated cluster has no TLS, but clients that read
/// `kube-root-ca.crt` expect a parseable certificate.
const SIM_CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBjjCCATWgAwIBAgIUPiyXrHnw0RcpQPXiWhJwqS8/hgcwCgYIKoZIzj0EAwIw\nHDEaMBgGA1UEAwwRc3RvcmVwbGFuZS1zaW0tY2EwIBcNMjYxMjA1MTg0MjU1WhgP\nMjEyNjExMTExODQyNTVaMBwxGjAYBgNVBAMMEXN0b3JlcGxhbmUtc2ltLWNhMFkw\nEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh8MHfiDUuh1kTtYkgGqTmuHSaP6+HBxC\nRmUHIyXd/JPKPGpF9lChN60ktaRMBKMVPZ/iO/59mDaaY7Tk+eQMraNTMFEwHQYD\nVR0OBBYEFKYVXwBqLYc16O2nzu7fV9gHM/IUMB8GA1UdIwQYMBaAFKYVXwBqLYc1\n6O2nzu7fV9gHM/IUMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg\nTlXSSm+lNAL6jru09wEezjM+kBeQZZlJLdj2dw18G+MCIBTOR9mNghb5WmPfWcPK\nqsrsfjvvwV/7Ak0UylbEzAuE\n-----END CERTIFICATE-----\n";

fn root_ca_config_map(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ROOT_CA_CONFIG_MAP,
            "namespace": namespace,
            "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the \
                    kube-apiserver when using internal endpoints such as the internal service IP or \
                    kubernetes.default.svc. No other usage is guaranteed across distributions of \
                    Kubernetes clusters.",
            },
        },
        "data": { "ca.crt": SIM_CA_PEM },
    })
}

impl Sim {
    pub(super) fn on_namespace(&mut self, record: &Record, object: &Value, name: &str) {
        match record.kind {
            EventType::Added => {
                let account = json!({
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": { "name": "default", "namespace": name },
                });
                // Already there (or the namespace went away): nothing to do.
                let _ = self.store.create(
                    self.ids.service_accounts,
                    Some(name),
                    account,
                    WriteCtx::new(CONTROLLER),
                );
                // kube-controller-manager's root-ca-cert-publisher puts the
                // cluster CA in every namespace; it counts in `kubectl get
                // cm` and in `count/configmaps` quotas, as there.
                let _ = self.store.create(
                    self.ids.config_maps,
                    Some(name),
                    root_ca_config_map(name),
                    WriteCtx::new(CONTROLLER),
                );
            }
            EventType::Modified => {
                if meta::is_deleting(object) {
                    if self.terminating.insert(name.to_owned()) {
                        let delay = self.config.namespace_termination_delay;
                        if delay.is_zero() {
                            self.terminate(name);
                        } else {
                            let tx = self.tx.clone();
                            let ns = name.to_owned();
                            tokio::spawn(async move {
                                tokio::time::sleep(delay).await;
                                let _ = tx.send(Msg::Terminate(ns));
                            });
                        }
                    }
                    return;
                }
                let knob = |obj: &Value| {
                    (
                        meta::annotation(obj, FAIL_ANNOTATION).map(str::to_owned),
                        meta::annotation(obj, READY_AFTER_ANNOTATION).map(str::to_owned),
                    )
                };
                let old = record.old.as_ref().map(|old| parse(old));
                let changed = old.as_ref().is_none_or(|old| knob(old) != knob(object));
                if changed {
                    self.on_msg(Msg::Resync(FailureTarget::namespace(name)));
                }
                let labels_changed = old
                    .as_ref()
                    .is_none_or(|old| meta::labels(old) != meta::labels(object));
                if labels_changed {
                    // PodSecurity reads the labels: refused pods may pass now.
                    self.retry_refused(name);
                }
            }
            EventType::Deleted => {
                self.terminating.remove(name);
            }
        }
    }

    /// Deletes everything in a terminating namespace.
    pub(super) fn terminate(&mut self, ns: &str) {
        self.terminating.insert(ns.to_owned());
        let namespaced: Vec<_> = self
            .store
            .registry()
            .iter()
            .filter(|(_, info)| info.namespaced)
            .map(|(res, _)| res)
            .collect();
        for res in namespaced {
            for obj in self.store.all(res, Some(ns)) {
                let name = meta::name(&obj).unwrap_or("");
                // Gone already (a dependent removed with its owner) is fine.
                let _ = self.store.delete(res, ns, name, &Default::default());
            }
        }
        self.check_namespace_done(ns);
    }

    /// Reports what remains in a terminating namespace in its conditions, as
    /// the namespace controller does after each pass (all five of its
    /// condition types, the "ok" variant of those that do not apply), and
    /// removes the namespace once it is empty.
    pub(super) fn check_namespace_done(&mut self, ns: &str) {
        let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
        let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
        for (res, info) in self.store.registry().iter().filter(|(_, i)| i.namespaced) {
            for obj in self.store.all(res, Some(ns)) {
                // `<resource>.<group>`, so core resources end with a dot.
                *remaining
                    .entry(format!("{}.{}", info.plural, info.group))
                    .or_default() += 1;
                for f in meta::finalizers(&obj) {
                    *finalizers.entry(f.to_owned()).or_default() += 1;
                }
            }
        }
        let describe = |m: &BTreeMap<String, usize>, what: &str| {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, n)| format!("{k} {what} {n} resource instances"))
                .collect();
            parts.sort();
            parts.join(", ")
        };
        let mut conditions = self
            .store
            .get(self.ids.namespaces, "", ns)
            .ok()
            .and_then(|obj| obj.pointer("/status/conditions").cloned())
            .and_then(|c| serde_json::from_value::<Vec<Value>>(c).ok())
            .unwrap_or_default();
        let content_remaining = if remaining.is_empty() {
            (
                "False",
                "ContentRemoved",
                "All content successfully removed".to_owned(),
            )
        } else {
            (
                "True",
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    describe(&remaining, "has")
                ),
            )
        };
        let finalizers_remaining = if finalizers.is_empty() {
            (
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".to_owned(),
            )
        } else {
            (
                "True",
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    describe(&finalizers, "in")
                ),
            )
        };
        let updates = [
            (
                "NamespaceDeletionDiscoveryFailure",
                (
                    "False",
                    "ResourcesDiscovered",
                    "All resources successfully discovered".to_owned(),
                ),
            ),
            (
                "NamespaceDeletionGroupVersionParsingFailure",
                (
                    "False",
                    "ParsedGroupVersions",
                    "All legacy kube types successfully parsed".to_owned(),
                ),
            ),
            (
                "NamespaceDeletionContentFailure",
                (
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization".to_owned(),
                ),
            ),
            ("NamespaceContentRemaining", content_remaining),
            ("NamespaceFinalizersRemaining", finalizers_remaining),
        ];
        for (kind, (status, reason, message)) in &updates {
            status::set_condition(&mut conditions, kind, status, reason, message, false);
        }
        let _ = self
            .store
            .set_namespace_conditions(ns, Value::Array(conditions));
        if remaining.is_empty() {
            self.terminating.remove(ns);
            let _ = self.store.finalize_namespace(ns);
        }
    }
}
