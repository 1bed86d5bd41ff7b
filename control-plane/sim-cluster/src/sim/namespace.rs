//! Namespace lifecycle: a `default` ServiceAccount on creation, and the
//! namespace controller's termination (delete all content, wait for
//! finalizers, then drop the `kubernetes` finalizer).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{CONTROLLER, Msg, Sim, status};
use crate::config::{FAIL_ANNOTATION, FailureTarget, READY_AFTER_ANNOTATION};
use crate::meta;
use crate::store::{EventType, Record, WriteCtx, parse};

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

    /// Removes the namespace once it is empty; otherwise reports what remains
    /// in its conditions, as the namespace controller does.
    pub(super) fn check_namespace_done(&mut self, ns: &str) {
        if self.store.namespace_is_empty(ns) {
            self.terminating.remove(ns);
            let _ = self.store.finalize_namespace(ns);
            return;
        }
        let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
        let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
        for (res, info) in self.store.registry().iter().filter(|(_, i)| i.namespaced) {
            for obj in self.store.all(res, Some(ns)) {
                *remaining.entry(info.qualified()).or_default() += 1;
                for f in meta::finalizers(&obj) {
                    *finalizers.entry(f.to_owned()).or_default() += 1;
                }
            }
        }
        let describe = |m: &BTreeMap<String, usize>, what: &str| {
            m.iter()
                .map(|(k, n)| format!("{k} {what} {n} resource instances"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut conditions = Vec::new();
        status::set_condition(
            &mut conditions,
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            &format!(
                "Some resources are remaining: {}",
                describe(&remaining, "has")
            ),
            false,
        );
        if !finalizers.is_empty() {
            status::set_condition(
                &mut conditions,
                "NamespaceFinalizersRemaining",
                "True",
                "SomeFinalizersRemain",
                &format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    describe(&finalizers, "in")
                ),
                false,
            );
        }
        let _ = self
            .store
            .set_namespace_conditions(ns, Value::Array(conditions));
    }
}
