//! The simulated kubelet and controllers. They react to the store's change
//! feed (never polling), and use timers only to model delays.
//!
//! - Deployments, StatefulSets and Jobs get status (and, optionally, Pods)
//!   after `pod_start_delay` / `job_duration`.
//! - PersistentVolumeClaims become Bound after `volume_bind_delay`.
//! - LoadBalancer Services and Ingresses get an address.
//! - Namespaces get a `default` ServiceAccount, and terminate: their content
//!   is deleted, then the namespace.
//! - Injected failures (annotation or [`crate::SimCluster::inject_failure`])
//!   show up as pod states, workload conditions and Warning Events.

mod bootstrap;
mod events;
mod namespace;
mod pods;
mod status;
mod workloads;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) use bootstrap::bootstrap;
use events::Severity;
use status::Phase;

use crate::config::{
    FAIL_ANNOTATION, Failure, FailureTarget, READY_AFTER_ANNOTATION, SimConfig, parse_duration,
};
use crate::meta;
use crate::registry::ResId;
use crate::store::{EventType, Record, Store, WriteCtx, parse};

/// Failures injected through the Rust API.
pub(crate) type Failures = Arc<Mutex<HashMap<FailureTarget, Failure>>>;

/// The kinds the simulation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Deployment,
    StatefulSet,
    Job,
    Pvc,
    Service,
    Ingress,
    /// A Pod created by a user (not by a simulated workload).
    Pod,
}

const WORKLOADS: [Kind; 5] = [
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::Job,
    Kind::Pvc,
    Kind::Pod,
];

type WorkKey = (Kind, String, String);

/// Messages the controller sends itself or receives from the cluster API.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A delay ran out: look at the object again.
    Due(WorkKey),
    /// A namespace's termination delay ran out: delete its content.
    Terminate(String),
    /// Injected failures changed for this target.
    Resync(FailureTarget),
}

/// Resource ids the controller uses.
struct Ids {
    deployments: ResId,
    statefulsets: ResId,
    jobs: ResId,
    pvcs: ResId,
    services: ResId,
    ingresses: ResId,
    namespaces: ResId,
    pods: ResId,
    events: ResId,
    service_accounts: ResId,
    config_maps: ResId,
    limit_ranges: ResId,
    quotas: ResId,
}

impl Ids {
    fn new(store: &Store) -> Self {
        let r = store.registry();
        let id = |g: &str, v: &str, p: &str| r.lookup(g, v, p).unwrap_or_default();
        Self {
            deployments: id("apps", "v1", "deployments"),
            statefulsets: id("apps", "v1", "statefulsets"),
            jobs: id("batch", "v1", "jobs"),
            pvcs: id("", "v1", "persistentvolumeclaims"),
            services: id("", "v1", "services"),
            ingresses: id("networking.k8s.io", "v1", "ingresses"),
            namespaces: id("", "v1", "namespaces"),
            pods: id("", "v1", "pods"),
            events: id("", "v1", "events"),
            service_accounts: id("", "v1", "serviceaccounts"),
            config_maps: id("", "v1", "configmaps"),
            limit_ranges: id("", "v1", "limitranges"),
            quotas: id("", "v1", "resourcequotas"),
        }
    }

    fn res(&self, kind: Kind) -> ResId {
        match kind {
            Kind::Deployment => self.deployments,
            Kind::StatefulSet => self.statefulsets,
            Kind::Job => self.jobs,
            Kind::Pvc => self.pvcs,
            Kind::Service => self.services,
            Kind::Ingress => self.ingresses,
            Kind::Pod => self.pods,
        }
    }

    fn kind(&self, res: ResId) -> Option<Kind> {
        [
            Kind::Deployment,
            Kind::StatefulSet,
            Kind::Job,
            Kind::Pvc,
            Kind::Service,
            Kind::Ingress,
            Kind::Pod,
        ]
        .into_iter()
        .find(|k| self.res(*k) == res)
    }
}

const CONTROLLER: &str = "kube-controller-manager";
const KUBELET: &str = "kubelet";

/// The controller's state; owned by its task.
pub(crate) struct Sim {
    store: Arc<Store>,
    config: SimConfig,
    ids: Ids,
    failures: Failures,
    tx: mpsc::UnboundedSender<Msg>,
    /// When each workload (at its current generation) was first seen.
    seen: HashMap<WorkKey, (i64, Instant)>,
    /// Timers already running, by when they fire.
    scheduled: HashMap<WorkKey, Instant>,
    /// Namespaces whose termination has been scheduled or started.
    terminating: HashSet<String>,
    /// Workloads whose pods admission refused, with how many attempts
    /// failed (for the back-off).
    failed_creates: HashMap<WorkKey, u32>,
}

impl Sim {
    /// Starts the controller task.
    pub(crate) fn spawn(
        store: Arc<Store>,
        config: SimConfig,
        failures: Failures,
        records: mpsc::UnboundedReceiver<Arc<Record>>,
        tx: mpsc::UnboundedSender<Msg>,
        msgs: mpsc::UnboundedReceiver<Msg>,
        shutdown: tokio::sync::oneshot::Receiver<()>,
    ) {
        let ids = Ids::new(&store);
        let sim = Sim {
            store,
            config,
            ids,
            failures,
            tx,
            seen: HashMap::new(),
            scheduled: HashMap::new(),
            terminating: HashSet::new(),
            failed_creates: HashMap::new(),
        };
        tokio::spawn(sim.run(records, msgs, shutdown));
    }

    async fn run(
        mut self,
        mut records: mpsc::UnboundedReceiver<Arc<Record>>,
        mut msgs: mpsc::UnboundedReceiver<Msg>,
        mut shutdown: tokio::sync::oneshot::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                record = records.recv() => match record {
                    Some(record) => self.on_record(&record),
                    None => return,
                },
                msg = msgs.recv() => match msg {
                    Some(msg) => self.on_msg(msg),
                    None => return,
                },
            }
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Due(key) => {
                self.scheduled.remove(&key);
                self.reconcile(key.0, &key.1, &key.2);
            }
            Msg::Terminate(ns) => self.terminate(&ns),
            Msg::Resync(target) => match target {
                FailureTarget::Namespace(ns) => self.resync_namespace(&ns),
                FailureTarget::Object { namespace, name } => {
                    for kind in WORKLOADS {
                        self.reconcile(kind, &namespace, &name);
                    }
                }
            },
        }
    }

    fn on_record(&mut self, record: &Record) {
        if (record.res == self.ids.limit_ranges || record.res == self.ids.quotas)
            && self.failed_creates.keys().any(|k| k.1 == record.namespace)
        {
            // What admission checks changed: refused pods may fit now.
            let ns = record.namespace.clone();
            self.retry_refused(&ns);
        }
        let interesting = record.res == self.ids.namespaces
            || record.res == self.ids.pods
            || self.ids.kind(record.res).is_some()
            || (record.kind == EventType::Deleted && self.terminating.contains(&record.namespace));
        if !interesting {
            return;
        }
        let obj = &parse(&record.object);
        let ns = meta::namespace(obj).unwrap_or("").to_owned();
        let name = meta::name(obj).unwrap_or("").to_owned();
        if record.res == self.ids.namespaces {
            self.on_namespace(record, obj, &name);
            return;
        }
        if record.kind == EventType::Deleted && self.terminating.contains(&ns) {
            self.check_namespace_done(&ns);
        }
        if record.res == self.ids.pods && record.kind == EventType::Deleted {
            // A deleted pod is replaced, as a ReplicaSet or StatefulSet would.
            if let Some(owner) = controller_owner(obj) {
                let kind = match owner.0.as_str() {
                    "Deployment" => Some(Kind::Deployment),
                    "StatefulSet" => Some(Kind::StatefulSet),
                    "Job" => Some(Kind::Job),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.reconcile(kind, &ns, &owner.1);
                }
            }
            return;
        }
        if record.res == self.ids.pods && controller_owner(obj).is_some() {
            return;
        }
        let Some(kind) = self.ids.kind(record.res) else {
            return;
        };
        let key = (kind, ns, name);
        if record.kind == EventType::Deleted {
            self.seen.remove(&key);
            self.scheduled.remove(&key);
            return;
        }
        self.reconcile(key.0, &key.1, &key.2);
    }

    /// The failure in force for an object: its annotation, then the Rust API
    /// for the object, then the namespace's annotation, then the Rust API for
    /// the namespace.
    fn failure_for(&self, obj: &Value) -> Option<Failure> {
        if let Some(f) = meta::annotation(obj, FAIL_ANNOTATION).and_then(|a| a.parse().ok()) {
            return Some(f);
        }
        let ns = meta::namespace(obj).unwrap_or("");
        let name = meta::name(obj).unwrap_or("");
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = failures.get(&FailureTarget::object(ns, name)) {
            return Some(*f);
        }
        let from_namespace = self
            .store
            .get(self.ids.namespaces, "", ns)
            .ok()
            .and_then(|n| meta::annotation(&n, FAIL_ANNOTATION).and_then(|a| a.parse().ok()));
        from_namespace.or_else(|| failures.get(&FailureTarget::namespace(ns)).copied())
    }

    fn delay_for(&self, kind: Kind, obj: &Value) -> Duration {
        let annotated = meta::annotation(obj, READY_AFTER_ANNOTATION)
            .map(str::to_owned)
            .or_else(|| {
                let ns = meta::namespace(obj).unwrap_or("");
                self.store
                    .get(self.ids.namespaces, "", ns)
                    .ok()
                    .and_then(|n| meta::annotation(&n, READY_AFTER_ANNOTATION).map(str::to_owned))
            })
            .and_then(|text| parse_duration(&text).ok());
        annotated.unwrap_or(match kind {
            Kind::Deployment | Kind::StatefulSet | Kind::Pod => self.config.pod_start_delay,
            Kind::Job => self.config.job_duration,
            Kind::Pvc => self.config.volume_bind_delay,
            Kind::Service | Kind::Ingress => self.config.load_balancer_delay,
        })
    }

    /// Whether the object's delay has passed; schedules a wake-up if not.
    fn due(&mut self, key: &WorkKey, generation: i64, delay: Duration) -> bool {
        let now = Instant::now();
        let entry = self.seen.entry(key.clone()).or_insert((generation, now));
        if entry.0 != generation {
            *entry = (generation, now);
        }
        let at = entry.1 + delay;
        if at <= now {
            return true;
        }
        if self.scheduled.get(key) != Some(&at) {
            self.scheduled.insert(key.clone(), at);
            let tx = self.tx.clone();
            let key = key.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let _ = tx.send(Msg::Due(key));
            });
        }
        false
    }

    fn reconcile(&mut self, kind: Kind, ns: &str, name: &str) {
        let res = self.ids.res(kind);
        let Ok(obj) = self.store.get(res, ns, name) else {
            return;
        };
        if meta::is_deleting(&obj) {
            return;
        }
        let key = (kind, ns.to_owned(), name.to_owned());
        let delay = self.delay_for(kind, &obj);
        match kind {
            Kind::Deployment | Kind::StatefulSet | Kind::Job => {
                self.reconcile_workload(kind, &key, &obj, delay);
            }
            Kind::Pvc => self.reconcile_pvc(&key, &obj, delay),
            Kind::Service | Kind::Ingress => self.reconcile_address(&key, &obj, delay),
            Kind::Pod => self.reconcile_pod(&key, &obj, delay),
        }
    }

    /// The StatefulSet controller's claims: `<template>-<set>-<ordinal>`
    /// from `volumeClaimTemplates`, with the template's labels and the set's
    /// selector labels. Like Kubernetes' default retention policy (Retain),
    /// they carry no owner and outlive the set; namespace deletion removes
    /// them. An existing claim is left as it is.
    fn create_claims(&self, set: &Value) {
        let Some(templates) = set
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
        else {
            return;
        };
        let (ns, set_name) = (
            meta::namespace(set).unwrap_or(""),
            meta::name(set).unwrap_or(""),
        );
        let selector = set
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for template in templates {
            let Some(claim) = template.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            let mut labels = template
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            labels.extend(selector.clone());
            for ordinal in 0..status::replicas(set) {
                let name = format!("{claim}-{set_name}-{ordinal}");
                if self.store.get(self.ids.pvcs, ns, &name).is_ok() {
                    continue;
                }
                let mut labels = labels.clone();
                labels.insert(
                    "statefulset.kubernetes.io/pod-name".to_owned(),
                    json!(format!("{set_name}-{ordinal}")),
                );
                let pvc = json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": labels,
                        "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
                    },
                    "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
                });
                if self
                    .store
                    .create(self.ids.pvcs, Some(ns), pvc, WriteCtx::new(CONTROLLER))
                    .is_ok()
                {
                    events::record(
                        &self.store,
                        self.ids.events,
                        set,
                        Severity::Normal,
                        "SuccessfulCreate",
                        &format!(
                            "Create Claim {name} Pod {set_name}-{ordinal} in StatefulSet {set_name} success"
                        ),
                        "statefulset-controller",
                    );
                }
            }
        }
    }

    fn reconcile_pvc(&mut self, key: &WorkKey, pvc: &Value, delay: Duration) {
        if pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound") {
            return;
        }
        if !self.due(key, 0, delay) {
            return;
        }
        let (ns, name) = (&key.1, &key.2);
        let class = pvc
            .pointer("/spec/storageClassName")
            .and_then(Value::as_str)
            .unwrap_or("standard")
            .to_owned();
        if self.failure_for(pvc).is_some() {
            let message = format!(
                "failed to provision volume with StorageClass \"{class}\": simulated failure ({FAIL_ANNOTATION})"
            );
            events::record(
                &self.store,
                self.ids.events,
                pvc,
                Severity::Warning,
                "ProvisioningFailed",
                &message,
                "persistentvolume-controller",
            );
            return;
        }
        let volume = format!("pvc-{}", meta::uid(pvc));
        let bound = self.store.modify(
            self.ids.pvcs,
            ns,
            name,
            None,
            WriteCtx::new(CONTROLLER),
            |cur| {
                let mut updated = cur.clone();
                meta::object_mut(&mut updated, "spec")
                    .insert("volumeName".to_owned(), json!(volume));
                let annotations = meta::object_mut(
                    meta::object_mut_value(&mut updated, "metadata"),
                    "annotations",
                );
                annotations.insert("pv.kubernetes.io/bind-completed".to_owned(), json!("yes"));
                annotations.insert(
                    "pv.kubernetes.io/bound-by-controller".to_owned(),
                    json!("yes"),
                );
                annotations.insert(
                    "volume.kubernetes.io/storage-provisioner".to_owned(),
                    json!("sim.storeplane.io/hostpath"),
                );
                Some(updated)
            },
        );
        if bound.is_err() {
            return;
        }
        let written = self.store.modify(self.ids.pvcs, ns, name, Some("status"), WriteCtx::new(CONTROLLER), |cur| {
            let access = cur.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"]));
            let size = cur.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("1Gi"));
            status::with_status(cur, json!({ "phase": "Bound", "accessModes": access, "capacity": { "storage": size } }))
        });
        if let Ok(Some(updated)) = written {
            let message = format!("Successfully provisioned volume {volume}");
            events::record(
                &self.store,
                self.ids.events,
                &updated,
                Severity::Normal,
                "ProvisioningSucceeded",
                &message,
                "sim.storeplane.io/hostpath",
            );
        }
    }

    fn reconcile_address(&mut self, key: &WorkKey, obj: &Value, delay: Duration) {
        let wants_address = match key.0 {
            Kind::Service => {
                obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
            }
            _ => true,
        };
        let has_address = obj
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .is_some_and(|i| !i.is_empty());
        if !wants_address || has_address || !self.due(key, 0, delay) {
            return;
        }
        let ingress = match key.0 {
            Kind::Service => json!([{ "ip": "172.18.255.200", "ipMode": "VIP" }]),
            _ => json!([{ "hostname": "localhost" }]),
        };
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

    /// A pod nobody controls: the kubelet starts it after the usual delay.
    fn reconcile_pod(&mut self, key: &WorkKey, pod: &Value, delay: Duration) {
        if controller_owner(pod).is_some() {
            return;
        }
        let ready = self.due(key, meta::generation(pod), delay);
        let phase = match (ready, self.failure_for(pod)) {
            (false, _) => Phase::Starting,
            (true, None) => Phase::Ready,
            (true, Some(f)) => Phase::Failed(f),
        };
        let state = pods::state_for(Kind::Pod, phase);
        if pods::observed_state(pod) == Some(state) {
            return;
        }
        let written = self
            .store
            .modify(
                self.ids.pods,
                &key.1,
                &key.2,
                Some("status"),
                WriteCtx::new(KUBELET),
                |cur| status::with_status(cur, pods::status(cur, state)),
            )
            .ok()
            .flatten();
        if let Some(pod) = written {
            for (warning, reason, message) in pods::events_for(&pod, state) {
                let severity = if warning {
                    Severity::Warning
                } else {
                    Severity::Normal
                };
                events::record(
                    &self.store,
                    self.ids.events,
                    &pod,
                    severity,
                    reason,
                    &message,
                    KUBELET,
                );
            }
        }
    }

    fn resync_namespace(&mut self, ns: &str) {
        for kind in WORKLOADS {
            for obj in self.store.all(self.ids.res(kind), Some(ns)) {
                let name = meta::name(&obj).unwrap_or("").to_owned();
                self.reconcile(kind, ns, &name);
            }
        }
    }
}

/// `(kind, name)` of the object's controller owner.
fn controller_owner(obj: &Value) -> Option<(String, String)> {
    let refs = obj.pointer("/metadata/ownerReferences")?.as_array()?;
    let owner = refs
        .iter()
        .find(|r| r.get("controller") == Some(&json!(true)))?;
    Some((
        owner.get("kind")?.as_str()?.to_owned(),
        owner.get("name")?.as_str()?.to_owned(),
    ))
}

fn controller_owner_uid(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller") == Some(&json!(true)))?
        .get("uid")?
        .as_str()
}
