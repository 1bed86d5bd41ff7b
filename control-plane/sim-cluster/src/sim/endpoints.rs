//! The endpoints and endpointslice controllers: for each Service with a
//! selector, an Endpoints object of the same name and one EndpointSlice
//! (`<service>-<suffix>`, owned by the Service) listing the pods the
//! selector matches that have an IP, ready or not, with the Service's ports
//! resolved against each pod's container ports. Kept up to date from the
//! change feed (a pod or Service change in the namespace), written only
//! when their content changes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::events::ZONE_LABEL;
use super::{CONTROLLER, Sim};
use crate::meta;
use crate::store::WriteCtx;

const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
const HEADLESS: &str = "service.kubernetes.io/headless";

/// Whether `labels` satisfy a Service's equality selector.
fn selects(selector: &Map<String, Value>, labels: Option<&Map<String, Value>>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn pod_ip(pod: &Value) -> Option<&str> {
    pod.pointer("/status/podIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The ports of `service` a pod serves: `(name, port, protocol)`, a named
/// `targetPort` looked up among the pod's container ports (left out when
/// the pod has no such port).
fn ports_for(service: &Value, pod: &Value) -> Vec<(String, i64, String)> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|port| {
            let name = port["name"].as_str().unwrap_or("").to_owned();
            let protocol = port["protocol"].as_str().unwrap_or("TCP").to_owned();
            let number = match &port["targetPort"] {
                Value::Number(n) => n.as_i64()?,
                Value::String(wanted) => pod
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .find(|p| {
                        p["name"].as_str() == Some(wanted) && p["protocol"] == json!(protocol)
                    })?
                    .get("containerPort")?
                    .as_i64()?,
                _ => port["port"].as_i64()?,
            };
            Some((name, number, protocol))
        })
        .collect()
}

fn target_ref(pod: &Value) -> Value {
    json!({
        "kind": "Pod",
        "name": meta::name(pod),
        "namespace": meta::namespace(pod),
        "uid": meta::uid(pod),
    })
}

impl Sim {
    /// Brings the Endpoints and EndpointSlice of every Service in `ns`
    /// whose selector matches `labels` (a pod's, before or after a change)
    /// up to date.
    pub(super) fn pod_changed(&self, ns: &str, labels: &[Option<&Map<String, Value>>]) {
        for service in self.store.all(self.ids.services, Some(ns)) {
            let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object)
            else {
                continue;
            };
            if labels.iter().any(|l| selects(selector, *l)) {
                self.sync_endpoints(&service);
            }
        }
    }

    /// The Endpoints and EndpointSlice of one Service.
    pub(super) fn sync_endpoints(&self, service: &Value) {
        if !self.config.simulate_pods {
            // Endpoints list pods; without pods there is nothing to list.
            return;
        }
        let ns = meta::namespace(service).unwrap_or("");
        let name = meta::name(service).unwrap_or("");
        let selector = service
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .filter(|s| !s.is_empty());
        let external = service["spec"]["type"] == "ExternalName";
        let (Some(selector), false) = (selector, external) else {
            // Not the controllers' business (a Service without a selector
            // has endpoints of its owner's making).
            return;
        };
        let headless = service["spec"]["clusterIP"] == "None";
        let publish_not_ready = service["spec"]["publishNotReadyAddresses"] == true;
        // Only pods whose JSON carries one of the selector's labels can match.
        let needle = selector
            .iter()
            .next()
            .map(|(k, v)| format!("{}:{}", json!(k), v))
            .unwrap_or_default();
        let mut pods: Vec<_> = self
            .store
            .all_containing(self.ids.pods, ns, &needle)
            .into_iter()
            .filter(|p| selects(selector, meta::labels(p)))
            .filter(|p| pod_ip(p).is_some() && !meta::is_deleting(p))
            .filter(|p| {
                !matches!(
                    p.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                )
            })
            .collect();
        pods.sort_by(|a, b| pod_ip(a).cmp(&pod_ip(b)));

        let mut labels = meta::labels(service).cloned().unwrap_or_default();
        if headless {
            labels.insert(HEADLESS.to_owned(), json!(""));
        }
        // Endpoints: one subset per distinct set of ports.
        let mut subsets: BTreeMap<String, (Vec<Value>, Vec<Value>, Value)> = BTreeMap::new();
        let mut slice_endpoints = Vec::new();
        let mut slice_ports: Option<Value> = None;
        for pod in &pods {
            let ports = ports_for(service, pod);
            let ready = pod_ready(pod) || publish_not_ready;
            let ip = pod_ip(pod).unwrap_or("");
            let mut address = json!({
                "ip": ip,
                "nodeName": pod.pointer("/spec/nodeName"),
                "targetRef": target_ref(pod),
            });
            let hostname = pod
                .pointer("/spec/hostname")
                .and_then(Value::as_str)
                .filter(|_| pod.pointer("/spec/subdomain").and_then(Value::as_str) == Some(name));
            if let Some(hostname) = hostname {
                address["hostname"] = json!(hostname);
            }
            let endpoint_ports: Vec<Value> = ports
                .iter()
                .map(|(n, port, protocol)| {
                    let mut p = json!({ "port": port, "protocol": protocol });
                    if !n.is_empty() {
                        p["name"] = json!(n);
                    }
                    p
                })
                .collect();
            let entry = subsets
                .entry(Value::Array(endpoint_ports.clone()).to_string())
                .or_insert_with(|| (Vec::new(), Vec::new(), Value::Array(endpoint_ports)));
            if ready {
                entry.0.push(address);
            } else {
                entry.1.push(address);
            }
            let mut endpoint = json!({
                "addresses": [ip],
                "conditions": { "ready": ready, "serving": ready, "terminating": false },
                "nodeName": pod.pointer("/spec/nodeName"),
                "targetRef": target_ref(pod),
                "zone": meta::labels(pod).and_then(|l| l.get(ZONE_LABEL)),
            });
            if let Some(hostname) = hostname {
                endpoint["hostname"] = json!(hostname);
            }
            slice_endpoints.push(endpoint);
            slice_ports.get_or_insert_with(|| {
                Value::Array(
                    ports
                        .iter()
                        .map(|(n, port, protocol)| json!({ "name": n, "port": port, "protocol": protocol }))
                        .collect(),
                )
            });
        }
        let subsets: Vec<Value> = subsets
            .into_values()
            .map(|(ready, not_ready, ports)| {
                let mut subset = json!({ "addresses": ready, "notReadyAddresses": not_ready });
                if ports.as_array().is_some_and(|p| !p.is_empty()) {
                    subset["ports"] = ports;
                }
                subset
            })
            .collect();

        let mut endpoints_labels = labels.clone();
        endpoints_labels.insert(
            "endpoints.kubernetes.io/managed-by".to_owned(),
            json!("endpoint-controller"),
        );
        let endpoints = json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": { "name": name, "namespace": ns, "labels": endpoints_labels },
            "subsets": subsets,
        });
        self.write_endpoints(self.ids.endpoints, ns, name, endpoints);

        let mut slice_labels = labels;
        slice_labels.insert(
            "endpointslice.kubernetes.io/managed-by".to_owned(),
            json!("endpointslice-controller.k8s.io"),
        );
        slice_labels.insert("kubernetes.io/service-name".to_owned(), json!(name));
        let slice_name = format!(
            "{name}-{}",
            meta::stable_hash(&json!(meta::uid(service)), 5)
        );
        let slice = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "generateName": format!("{name}-"),
                "namespace": ns,
                "labels": slice_labels,
                "ownerReferences": [{
                    "apiVersion": "v1", "kind": "Service", "name": name, "uid": meta::uid(service),
                    "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "addressType": "IPv4",
            "endpoints": if slice_endpoints.is_empty() { Value::Null } else { Value::Array(slice_endpoints) },
            "ports": slice_ports.unwrap_or(Value::Null),
        });
        self.write_endpoints(self.ids.endpoint_slices, ns, &slice_name, slice);
    }

    /// Creates or updates one object, stamping the trigger time only when
    /// its content changed.
    fn write_endpoints(
        &self,
        res: crate::registry::ResId,
        ns: &str,
        name: &str,
        mut wanted: Value,
    ) {
        let now = meta::now();
        let stamp = |obj: &mut Value, time: &str| {
            meta::object_mut(meta::object_mut_value(obj, "metadata"), "annotations")
                .insert(TRIGGER_TIME.to_owned(), json!(time));
        };
        match self.store.get(res, ns, name) {
            Err(_) => {
                stamp(&mut wanted, &now);
                let _ = self
                    .store
                    .create(res, Some(ns), wanted, WriteCtx::new(CONTROLLER));
            }
            Ok(_) => {
                let _ = self
                    .store
                    .modify(res, ns, name, None, WriteCtx::new(CONTROLLER), |cur| {
                        let mut new = cur.clone();
                        if let (Value::Object(new), Value::Object(wanted)) = (&mut new, &wanted) {
                            for (key, value) in wanted {
                                if key == "metadata" {
                                    continue;
                                }
                                new.insert(key.clone(), value.clone());
                            }
                            if !wanted.contains_key("subsets") {
                                new.remove("subsets");
                            }
                        }
                        if let Some(labels) = wanted.pointer("/metadata/labels") {
                            new["metadata"]["labels"] = labels.clone();
                        }
                        crate::types::encode::go_json(&mut new);
                        if new == *cur {
                            return None;
                        }
                        stamp(&mut new, &now);
                        Some(new)
                    });
            }
        }
    }

    /// A Service went away: its Endpoints go too (its slices, owned by
    /// it, are collected with it).
    pub(super) fn service_deleted(&self, ns: &str, name: &str) {
        let _ = self
            .store
            .delete(self.ids.endpoints, ns, name, &Default::default());
    }
}
