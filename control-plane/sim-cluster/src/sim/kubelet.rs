//! The kubelet and the scheduler. Pods nobody controls are bound to the
//! simulated node and started after `pod_start_delay`, once their claims
//! are bound; every simulated pod's status is written, and the events of
//! entering a state are recorded, the kubelet's way.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Severity};
use super::pods::{self, PodState};
use super::status::{self, Phase};
use super::{Controller, Ids, KUBELET, Sim, WorkKey, claims, controller_owner};
use crate::config::SimConfig;
use crate::meta;
use crate::registry::ResId;
use crate::store::WriteCtx;

/// The scheduler and kubelet, for pods a user created.
pub(super) struct BarePods;

impl Controller for BarePods {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.pods
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.pod_start_delay
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, pod: &Value, delay: Duration) {
        sim.reconcile_pod(key, pod, delay);
    }
}

impl Sim {
    /// A pod nobody controls: the kubelet starts it after the usual delay.
    fn reconcile_pod(&mut self, key: &WorkKey, pod: &Value, delay: Duration) {
        if controller_owner(pod).is_some() {
            return;
        }
        if pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            self.bind(pod);
            // The binding's change comes back through the feed.
            return;
        }
        let ready = self.claims_bound(key.0, pod, claims::claims_of(pod))
            && self.due(key, meta::generation(pod), delay);
        let phase = match (ready, self.failure_for(pod)) {
            (false, _) => Phase::Starting,
            (true, None) => Phase::Ready,
            (true, Some(f)) => Phase::Failed(f),
        };
        let state = pods::state_for(phase);
        if pods::observed_state(pod) == Some(state) {
            return;
        }
        if let Some(pod) = self.write_pod_state(&key.1, &key.2, state) {
            self.record_pod_events(&pod, state);
        }
    }

    /// The scheduler's binding of a pod nobody controls to the simulated
    /// node, with the zone label the PodTopologyLabels plugin adds then.
    fn bind(&self, pod: &Value) {
        let ns = meta::namespace(pod).unwrap_or("");
        let name = meta::name(pod).unwrap_or("");
        let bound = self.store.modify(
            self.ids.pods,
            ns,
            name,
            Some("binding"),
            WriteCtx::new("kube-scheduler"),
            |cur| {
                let mut new = cur.clone();
                meta::object_mut(&mut new, "spec")
                    .insert("nodeName".to_owned(), json!(events::NODE_NAME));
                meta::object_mut(meta::object_mut_value(&mut new, "metadata"), "labels")
                    .insert(events::ZONE_LABEL.to_owned(), json!(events::NODE_ZONE));
                Some(new)
            },
        );
        if let Ok(Some(bound)) = bound {
            self.record_scheduled(&bound);
        }
    }

    /// The scheduler's `Scheduled` event on a pod it placed on the node.
    pub(super) fn record_scheduled(&self, pod: &Value) {
        let ns = meta::namespace(pod).unwrap_or("");
        let name = meta::name(pod).unwrap_or("");
        events::record(
            &self.store,
            self.ids.events,
            pod,
            Severity::Normal,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {}", events::NODE_NAME),
            "default-scheduler",
        );
    }

    /// The kubelet's status write for a pod in `state`: the pod as
    /// written, `None` when nothing changed or the pod is gone.
    pub(super) fn write_pod_state(
        &self,
        ns: &str,
        name: &str,
        state: PodState,
    ) -> Option<Arc<Value>> {
        self.store
            .modify(
                self.ids.pods,
                ns,
                name,
                Some("status"),
                WriteCtx::new(KUBELET),
                |cur| status::with_status(cur, pods::status(cur, state)),
            )
            .ok()
            .flatten()
    }

    /// The events the kubelet records as `pod` enters `state`.
    pub(super) fn record_pod_events(&self, pod: &Value, state: PodState) {
        for (warning, reason, message) in pods::events_for(pod, state) {
            let severity = if warning {
                Severity::Warning
            } else {
                Severity::Normal
            };
            events::record(
                &self.store,
                self.ids.events,
                pod,
                severity,
                reason,
                &message,
                KUBELET,
            );
        }
    }
}
