//! The simulated kubelet and controllers. They react to the store's change
//! feed (never polling), and use timers only to model delays and
//! Deployments' progress deadlines.
//!
//! - Deployments, StatefulSets and Jobs get status (and, optionally, Pods,
//!   with a Deployment's ReplicaSets and a StatefulSet's
//!   ControllerRevisions: `history`) after `pod_start_delay` /
//!   `job_duration`; a Deployment that does not progress for its
//!   `progressDeadlineSeconds` reports `ProgressDeadlineExceeded`.
//! - PersistentVolumeClaims become Bound after `volume_bind_delay`; the
//!   pvc-protection controller follows the pods that use them (`claims`).
//! - Services with a selector get Endpoints and an EndpointSlice
//!   (`endpoints`).
//! - LoadBalancer Services and Ingresses get an address.
//! - Namespaces get a `default` ServiceAccount, and terminate: their content
//!   is deleted, then the namespace.
//! - Injected failures (annotation or [`crate::SimCluster::inject_failure`])
//!   show up as pod states, workload conditions and Warning Events.

mod bootstrap;
mod claims;
mod endpoints;
mod events;
mod history;
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
    replica_sets: ResId,
    controller_revisions: ResId,
    endpoints: ResId,
    endpoint_slices: ResId,
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
            replica_sets: id("apps", "v1", "replicasets"),
            controller_revisions: id("apps", "v1", "controllerrevisions"),
            endpoints: id("", "v1", "endpoints"),
            endpoint_slices: id("discovery.k8s.io", "v1", "endpointslices"),
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
    /// Workloads and pods waiting for a claim `(namespace, claim)` to bind.
    claim_waiters: HashMap<(String, String), HashSet<WorkKey>>,
    /// Deployments' progress-deadline timers, by the deadline (Unix
    /// seconds, as the conditions' times).
    deadlines: HashMap<WorkKey, i64>,
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
            deadlines: HashMap::new(),
            claim_waiters: HashMap::new(),
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
        if record.res == self.ids.replica_sets && record.kind == EventType::Deleted {
            // A Deployment's ReplicaSet deleted under it is made again.
            let rs = parse(&record.object);
            if let Some(("Deployment", name)) = controller_owner(&rs)
                .as_ref()
                .map(|(k, n)| (k.as_str(), n.as_str()))
            {
                let ns = record.namespace.clone();
                self.reconcile(Kind::Deployment, &ns, name);
            }
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
        if record.res == self.ids.services {
            if record.kind == EventType::Deleted {
                self.service_deleted(&ns, &name);
            } else {
                self.sync_endpoints(obj);
            }
        }
        if record.res == self.ids.pods && pod_view_changed(record, obj) {
            let before = record.old.as_ref().map(|old| parse(old));
            // The endpoints controllers follow the pods their Services select.
            let mut labels = vec![meta::labels(obj)];
            if let Some(before) = &before {
                labels.push(meta::labels(before));
            }
            self.pod_changed(&ns, &labels);
            // The pvc-protection controller follows the pods using a claim.
            let mut claims = claims::claims_of(obj);
            claims.extend(before.as_ref().map(claims::claims_of).unwrap_or_default());
            claims.sort();
            claims.dedup();
            for claim in claims {
                self.protect_claim_named(&ns, &claim);
            }
        }
        if record.kind == EventType::Deleted && self.terminating.contains(&ns) {
            self.check_namespace_done(&ns);
        }
        if record.res == self.ids.pods && record.kind == EventType::Deleted {
            // A deleted pod is replaced, as a ReplicaSet or StatefulSet would.
            if let Some((kind, owner)) = self.workload_of(obj) {
                self.reconcile(kind, &ns, &owner);
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
            self.deadlines.remove(&key);
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
        if meta::is_deleting(&obj) && kind != Kind::Pvc {
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

    fn reconcile_address(&mut self, key: &WorkKey, obj: &Value, delay: Duration) {
        let wants_address = match key.0 {
            Kind::Service => {
                obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
            }
            _ => self.config.ingress_address.is_some(),
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
            _ => {
                // An IP is reported as one, a name as a hostname.
                let address = self.config.ingress_address.as_deref().unwrap_or("");
                if address.parse::<std::net::IpAddr>().is_ok() {
                    json!([{ "ip": address }])
                } else {
                    json!([{ "hostname": address }])
                }
            }
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
        if pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            self.bind(pod);
            // The binding's change comes back through the feed.
            return;
        }
        let ready =
            self.claims_bound(Kind::Pod, pod) && self.due(key, meta::generation(pod), delay);
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
            events::record(
                &self.store,
                self.ids.events,
                &bound,
                Severity::Normal,
                "Scheduled",
                &format!("Successfully assigned {ns}/{name} to {}", events::NODE_NAME),
                "default-scheduler",
            );
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

impl Sim {
    /// The simulated workload a pod belongs to: its controller, or for a
    /// ReplicaSet's pod the ReplicaSet's Deployment.
    fn workload_of(&self, pod: &Value) -> Option<(Kind, String)> {
        let (kind, name) = controller_owner(pod)?;
        match kind.as_str() {
            "Deployment" => Some((Kind::Deployment, name)),
            "StatefulSet" => Some((Kind::StatefulSet, name)),
            "Job" => Some((Kind::Job, name)),
            "ReplicaSet" => {
                let ns = meta::namespace(pod).unwrap_or("");
                let rs = self.store.get(self.ids.replica_sets, ns, &name).ok()?;
                match controller_owner(&rs)? {
                    (kind, name) if kind == "Deployment" => Some((Kind::Deployment, name)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Whether a pod changed in what the endpoints and pvc-protection
/// controllers look at (labels, address, readiness, phase, node, volumes,
/// deletion): most kubelet status writes do not need them.
fn pod_view_changed(record: &Record, pod: &Value) -> bool {
    let Some(old) = record.old.as_ref().map(|old| parse(old)) else {
        return true;
    };
    let view = |p: &Value| {
        (
            p.pointer("/metadata/labels").cloned(),
            p.pointer("/metadata/deletionTimestamp").cloned(),
            p.pointer("/status/podIP").cloned(),
            p.pointer("/status/phase").cloned(),
            p.pointer("/spec/nodeName").cloned(),
            p.pointer("/spec/volumes").cloned(),
            p.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"].clone()),
        )
    };
    view(&old) != view(pod)
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
