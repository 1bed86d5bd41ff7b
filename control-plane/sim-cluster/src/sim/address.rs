//! Load-balancer addresses, after `load_balancer_delay`: a cloud's service
//! controller gives LoadBalancer Services an IP, and an ingress controller
//! gives Ingresses `SimConfig::ingress_address` (when one is set).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::{CONTROLLER, Controller, Ids, Sim, WorkKey, status};
use crate::config::SimConfig;
use crate::registry::ResId;
use crate::store::WriteCtx;

/// The IP every simulated LoadBalancer Service gets.
const LOAD_BALANCER_IP: &str = "172.18.255.200";

/// A cloud provider's service controller.
pub(super) struct LoadBalancers;

impl Controller for LoadBalancers {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.services
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.load_balancer_delay
    }

    fn shows_failures(&self) -> bool {
        false
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration) {
        if obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer") {
            let ingress = json!([{ "ip": LOAD_BALANCER_IP, "ipMode": "VIP" }]);
            sim.report_address(key, obj, delay, ingress);
        }
    }
}

/// The ingress controller of the simulated cluster.
pub(super) struct Ingresses;

impl Controller for Ingresses {
    fn resource(&self, ids: &Ids) -> ResId {
        ids.ingresses
    }

    fn delay(&self, config: &SimConfig) -> Duration {
        config.load_balancer_delay
    }

    fn shows_failures(&self) -> bool {
        false
    }

    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration) {
        let Some(address) = sim.config.ingress_address.as_deref() else {
            return;
        };
        // An IP is reported as one, a name as a hostname.
        let ingress = if address.parse::<IpAddr>().is_ok() {
            json!([{ "ip": address }])
        } else {
            json!([{ "hostname": address }])
        };
        sim.report_address(key, obj, delay, ingress);
    }
}

impl Sim {
    /// Writes `ingress` as the object's `status.loadBalancer.ingress` once
    /// its delay has passed, unless it has an address already.
    fn report_address(&mut self, key: &WorkKey, obj: &Value, delay: Duration, ingress: Value) {
        let has_address = obj
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .is_some_and(|i| !i.is_empty());
        if has_address || !self.due(key, 0, delay) {
            return;
        }
        let res = self.ids.res(key.0);
        let _ = self.store.modify(
            res,
            &key.1,
            &key.2,
            Some("status"),
            WriteCtx::new(CONTROLLER),
            |cur| status::with_status(cur, json!({ "loadBalancer": { "ingress": ingress } })),
        );
    }
}
