//! The simulated kubelet and controllers. They react to the store's change
//! feed (never polling), and use timers only to model delays and
//! Deployments' progress deadlines.
//!
//! Each kind the simulation acts on has one [`Controller`], in its own file;
//! this module only routes the feed and timers to them:
//!
//! - Deployments (`deployment`), StatefulSets (`stateful_set`) and Jobs
//!   (`job`) get status (and, optionally, Pods, with a Deployment's
//!   ReplicaSets and a StatefulSet's ControllerRevisions: `history`) after
//!   `pod_start_delay` / `job_duration`, through the pod machinery they
//!   share (`workloads`); a Deployment that does not progress for its
//!   `progressDeadlineSeconds` reports `ProgressDeadlineExceeded`.
//! - PersistentVolumeClaims become Bound after `volume_bind_delay`; the
//!   pvc-protection controller follows the pods that use them (`claims`).
//! - Pods nobody controls are bound and started by the scheduler and the
//!   kubelet (`kubelet`).
//! - Services with a selector get Endpoints and an EndpointSlice
//!   (`endpoints`).
//! - LoadBalancer Services and Ingresses get an address (`address`).
//! - Namespaces get a `default` ServiceAccount, and terminate: their content
//!   is deleted, then the namespace (`namespace`).
//! - Injected failures (annotation or [`crate::SimCluster::inject_failure`])
//!   show up as pod states, workload conditions and Warning Events.
//! - The transfer container of backup and restore Jobs is played by the
//!   kubelet: it uploads or downloads the backup archive over HTTP before
//!   the Job's pod may succeed (`transfer`).

mod address;
mod bootstrap;
mod claims;
mod deployment;
mod endpoints;
mod events;
mod history;
mod job;
mod kubelet;
mod namespace;
mod pods;
mod stateful_set;
mod status;
mod transfer;
mod workloads;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) use bootstrap::bootstrap;

use crate::config::{
    FAIL_ANNOTATION, Failure, FailureTarget, READY_AFTER_ANNOTATION, SimConfig, parse_duration,
};
use crate::meta;
use crate::registry::ResId;
use crate::store::{Committed, EventType, Record, Store, parse};

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

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::Job,
        Kind::Pvc,
        Kind::Service,
        Kind::Ingress,
        Kind::Pod,
    ];

    /// The controller that owns the kind. This is the one place the
    /// simulation tells kinds apart; everything else asks the controller.
    fn controller(self) -> &'static dyn Controller {
        match self {
            Kind::Deployment => &deployment::Deployments,
            Kind::StatefulSet => &stateful_set::StatefulSets,
            Kind::Job => &job::Jobs,
            Kind::Pvc => &claims::Claims,
            Kind::Service => &address::LoadBalancers,
            Kind::Ingress => &address::Ingresses,
            Kind::Pod => &kubelet::BarePods,
        }
    }

    /// The kinds whose objects show injected failures, which are looked at
    /// again when the failures change.
    fn failing() -> impl Iterator<Item = Kind> {
        Kind::ALL
            .into_iter()
            .filter(|kind| kind.controller().shows_failures())
    }
}

/// One simulated controller: the resource it reconciles, and how.
trait Controller {
    /// The resource whose objects it reconciles.
    fn resource(&self, ids: &Ids) -> ResId;

    /// How long after an object is first seen (at its generation) the
    /// controller is done with it, unless `READY_AFTER_ANNOTATION` says
    /// otherwise.
    fn delay(&self, config: &SimConfig) -> Duration;

    /// Whether injected failures show on its objects.
    fn shows_failures(&self) -> bool {
        true
    }

    /// Whether it still acts on an object being deleted (the
    /// pvc-protection controller releases its finalizer then).
    fn acts_while_deleting(&self) -> bool {
        false
    }

    /// The name of its object that a pod's controller owner `(kind, name)`
    /// stands for: a deleted pod of that object is replaced.
    fn owner_of_pod(&self, _sim: &Sim, _pod: &Value, _owner: &(String, String)) -> Option<String> {
        None
    }

    /// Moves `obj` (the object `key` names, acted on after `delay`) towards
    /// what the real controller makes of it.
    fn reconcile(&self, sim: &mut Sim, key: &WorkKey, obj: &Value, delay: Duration);
}

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
    /// A Job's archive transfer finished (`transfer`).
    Transferred {
        key: WorkKey,
        run: transfer::Run,
        outcome: transfer::Outcome,
    },
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
    secrets: ResId,
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
            secrets: id("", "v1", "secrets"),
        }
    }

    fn res(&self, kind: Kind) -> ResId {
        kind.controller().resource(self)
    }

    fn kind(&self, res: ResId) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| self.res(*k) == res)
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
    /// Jobs' archive transfers, started and finished.
    transfers: transfer::Transfers,
}

impl Sim {
    /// Starts the controller task.
    pub(crate) fn spawn(
        store: Arc<Store>,
        config: SimConfig,
        failures: Failures,
        records: mpsc::UnboundedReceiver<Committed>,
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
            transfers: transfer::Transfers::default(),
        };
        tokio::spawn(sim.run(records, msgs, shutdown));
    }

    async fn run(
        mut self,
        mut records: mpsc::UnboundedReceiver<Committed>,
        mut msgs: mpsc::UnboundedReceiver<Msg>,
        mut shutdown: tokio::sync::oneshot::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                record = records.recv() => match record {
                    Some(change) => self.on_record(&change.record, &change.object),
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
            Msg::Transferred { key, run, outcome } => self.transfer_done(key, run, outcome),
            Msg::Resync(target) => match target {
                FailureTarget::Namespace(ns) => self.resync_namespace(&ns),
                FailureTarget::Object { namespace, name } => {
                    for kind in Kind::failing() {
                        self.reconcile(kind, &namespace, &name);
                    }
                }
            },
        }
    }

    fn on_record(&mut self, record: &Record, obj: &Value) {
        if (record.res == self.ids.limit_ranges || record.res == self.ids.quotas)
            && self.failed_creates.keys().any(|k| k.1 == record.namespace)
        {
            // What admission checks changed: refused pods may fit now.
            let ns = record.namespace.clone();
            self.retry_refused(&ns);
        }
        if record.res == self.ids.replica_sets && record.kind == EventType::Deleted {
            self.replica_set_deleted(record);
        }
        let interesting = record.res == self.ids.namespaces
            || record.res == self.ids.pods
            || self.ids.kind(record.res).is_some()
            || (record.kind == EventType::Deleted && self.terminating.contains(&record.namespace));
        if !interesting {
            return;
        }
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
        // The Deployment controller's own writes (its status, the revision
        // annotation): the run that wrote one goes on to its end with
        // everything else, and a run on the echo compares the ReplicaSets
        // and pods again, rebuilds the same status and writes nothing. A
        // Deployment's next step comes from someone else's change to it, a
        // pod or ReplicaSet deleted, or its own timers. The other
        // controllers still run on their own writes: a StatefulSet's or
        // Job's progress may follow its status.
        if kind == Kind::Deployment && record.updated_by.as_deref() == Some(CONTROLLER) {
            return;
        }
        let key = (kind, ns, name);
        if record.kind == EventType::Deleted {
            self.seen.remove(&key);
            self.scheduled.remove(&key);
            self.deadlines.remove(&key);
            self.transfers.forget(&key);
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
        annotated.unwrap_or_else(|| kind.controller().delay(&self.config))
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
            self.wake_at(key, at);
        }
        false
    }

    /// Looks at the object `key` names again at `at`.
    fn wake_at(&self, key: &WorkKey, at: Instant) {
        let tx = self.tx.clone();
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let _ = tx.send(Msg::Due(key));
        });
    }

    /// Hands the object to its kind's controller.
    fn reconcile(&mut self, kind: Kind, ns: &str, name: &str) {
        let controller = kind.controller();
        let Ok(obj) = self.store.get(controller.resource(&self.ids), ns, name) else {
            return;
        };
        if meta::is_deleting(&obj) && !controller.acts_while_deleting() {
            return;
        }
        let key = (kind, ns.to_owned(), name.to_owned());
        let delay = self.delay_for(kind, &obj);
        controller.reconcile(self, &key, &obj, delay);
    }

    fn resync_namespace(&mut self, ns: &str) {
        for kind in Kind::failing() {
            for obj in self.store.all(self.ids.res(kind), Some(ns)) {
                let name = meta::name(&obj).unwrap_or("").to_owned();
                self.reconcile(kind, ns, &name);
            }
        }
    }

    /// The simulated workload a pod belongs to, as its controller owner's
    /// controller judges it.
    fn workload_of(&self, pod: &Value) -> Option<(Kind, String)> {
        let owner = controller_owner(pod)?;
        Kind::ALL.into_iter().find_map(|kind| {
            let name = kind.controller().owner_of_pod(self, pod, &owner)?;
            Some((kind, name))
        })
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

/// The owner reference a controller puts on what it makes for `owner`.
fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta::name(owner),
        "uid": meta::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
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
