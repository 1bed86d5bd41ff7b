//! The reconciler: turns a store's desired state into cluster resources,
//! level-triggered and event driven (kube-rs's controller-rs is the model).
//!
//! Triggers, none of them polling: every committed store change (this
//! replica's writes and, on PostgreSQL, other replicas' via the change
//! hub), Kubernetes watch events on objects labelled with a store id, and
//! at start-up every store that still needs work. A [`Queue`] dedupes per
//! store and bounds concurrency; a lease on the store row makes sure only
//! one replica works on a store at a time. Each run reads the store, does
//! the next step that is not done for its generation, records the step as
//! a condition and a timeline event, and says when to run again.

pub mod backoff;
pub mod drift;
mod engine;
mod error;
mod namespace;
pub mod operation;
pub mod orphans;
pub mod queue;
mod steps;
mod watches;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

pub use engine::EngineRuntime;
pub use error::Error;
pub use orphans::{Orphan, Orphans};
pub use queue::{Next, Queue};
pub use steps::{DEADLINE_SLACK, ERROR_RETRY_ATTEMPT, NAMESPACE_RECHECK, NAMESPACE_WAIT};

use crate::{
    cluster::KubeOps,
    domain::ports::{ReleaseStore, StoreRepository},
    metrics::Metrics,
    watch::{ChangeHub, HubMessage},
};

/// How stores are provisioned on this platform.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Stores are served at `<name>.<base_domain>`.
    pub base_domain: String,
    /// Ingress class for store Ingresses.
    pub ingress_class: Option<String>,
    /// Storage class for store PVCs.
    pub storage_class: Option<String>,
    /// Whether store Ingresses terminate TLS (cert-manager).
    pub tls: bool,
    /// cert-manager ClusterIssuer.
    pub cluster_issuer: Option<String>,
    /// Namespace of the ingress controller, allowed through the network policy.
    pub ingress_namespace: String,
    /// `spec.hard` of each store's ResourceQuota.
    pub quota: serde_json::Value,
    /// `spec.limits` of each store's LimitRange.
    pub limits: serde_json::Value,
    /// Provisioning that takes longer fails with `ProvisioningTimedOut`.
    pub provision_timeout: Duration,
    /// Retryable failures in a row before a store fails for good.
    pub max_attempts: i32,
    /// Run again after this long while waiting for workloads, in case a
    /// watch event was missed (controller-runtime's sync period).
    pub resync: Duration,
    /// How long a replica's claim on a store lasts without renewal.
    pub lease: Duration,
    /// `--store-role`: the role storeplane binds to itself in each store
    /// namespace; `None`: it relies on rights granted to it cluster-wide.
    pub store_access: Option<StoreAccess>,
    /// Image of the containers that move backup archives (`sh`, `tar`,
    /// `gzip`, `sha256sum`, `curl`), handed to the engines.
    pub transfer_image: String,
}

/// The default [`PlatformConfig::transfer_image`]: curl's own image
/// (Alpine, runs as a non-root user).
pub const DEFAULT_TRANSFER_IMAGE: &str = "docker.io/curlimages/curl:8.17.0";

/// The per-store role storeplane binds to itself in each store namespace
/// (RoleBinding [`namespace::ACCESS_BINDING`]), and the namespaces this
/// process knows to have that binding.
#[derive(Debug, Clone)]
pub struct StoreAccess {
    /// The ClusterRole bound.
    pub role: String,
    /// The RoleBinding's subject.
    pub subject: serde_json::Value,
    bound: Arc<Mutex<HashSet<String>>>,
}

impl StoreAccess {
    /// `role` bound to `user`: `system:serviceaccount:<ns>:<name>` is a
    /// ServiceAccount, anything else a User.
    pub fn new(role: &str, user: &str) -> Self {
        let subject = match user
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
        {
            Some((namespace, name)) => serde_json::json!({
                "kind": "ServiceAccount", "name": name, "namespace": namespace,
            }),
            None => serde_json::json!({
                "kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user,
            }),
        };
        Self {
            role: role.to_owned(),
            subject,
            bound: Arc::default(),
        }
    }

    fn is_bound(&self, namespace: &str) -> bool {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(namespace)
    }

    fn set_bound(&self, namespace: &str, bound: bool) {
        let mut known = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        if bound {
            known.insert(namespace.to_owned());
        } else {
            known.remove(namespace);
        }
    }
}

impl PlatformConfig {
    /// Defaults for a local cluster: `*.localhost`, no TLS, 15 min timeout.
    pub fn local() -> Self {
        Self {
            base_domain: "localhost".into(),
            ingress_class: None,
            storage_class: None,
            tls: false,
            cluster_issuer: None,
            ingress_namespace: "ingress-nginx".into(),
            quota: serde_json::json!({
                "requests.cpu": "4", "requests.memory": "8Gi",
                "limits.cpu": "8", "limits.memory": "16Gi",
                "persistentvolumeclaims": "10", "requests.storage": "50Gi",
                "pods": "30", "services": "20",
            }),
            limits: serde_json::json!([{
                "type": "Container",
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "max": {"cpu": "4", "memory": "8Gi"},
            }]),
            provision_timeout: Duration::from_secs(15 * 60),
            max_attempts: 8,
            resync: Duration::from_secs(60),
            lease: Duration::from_secs(60),
            store_access: None,
            transfer_image: DEFAULT_TRANSFER_IMAGE.into(),
        }
    }
}

/// Everything a reconcile run needs (controller-rs's `Context`).
pub struct Context {
    /// Stores.
    pub repo: Arc<dyn StoreRepository>,
    /// The engines (the plugin host).
    pub engines: Arc<dyn EngineRuntime>,
    /// Chart release records: which objects a store's current revision has.
    pub releases: Arc<dyn ReleaseStore>,
    /// The cluster.
    pub kube: Arc<KubeOps>,
    /// Platform settings.
    pub platform: PlatformConfig,
    /// This replica's id (lease holder).
    pub replica: String,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// This installation's id (label `storeplane.dev/instance`).
    pub installation: Uuid,
    /// Orphaned namespaces seen by this process.
    pub orphans: Arc<Orphans>,
    /// `--delete-orphans`: delete this installation's orphans after this
    /// grace period; `None` (the default): report them only.
    pub orphan_deletion: Option<Duration>,
    /// Stores whose platform baseline a watch saw drift: their next run
    /// re-applies it.
    pub drifted: StoreMarks,
    /// Stores queued because they are known to have work (a committed
    /// change that needs a run, a run that yielded, the start-up catch-up):
    /// their next run skips the read that asks whether there is any.
    pub work_known: StoreMarks,
    /// The last store version each reconcile run wrote: its echo from the
    /// change hub wakes nobody (the run that wrote it already acted on it).
    pub own_writes: OwnWrites,
    /// Store namespaces as the namespace watch last saw them (owner labels
    /// and whether terminating), so a run need not read its namespace to
    /// know it is still its own.
    pub namespaces: Mutex<HashMap<String, namespace::Seen>>,
    /// Cancelled when a replica shutting down gives up waiting for its runs
    /// in flight: they stop at their next await and hand their leases back
    /// (see [`Reconciler::drain`]).
    pub abandon: CancellationToken,
    /// Delays between retries of a failing store.
    pub backoff: backoff::Policy,
    /// Engine objects that drifted, and the per-store correction rate.
    pub drift: drift::DriftLog,
    /// Where backup archives are kept; `None`: backups fail with
    /// `NoBackupStorage`.
    pub archives: Option<Arc<crate::archives::Archives>>,
}

impl Context {
    /// A context with nothing seen yet: no drift, no own writes, no
    /// namespaces, orphans reported but never deleted, the default backoff.
    #[allow(
        clippy::too_many_arguments,
        reason = "one per port; named at every call"
    )]
    pub fn new(
        repo: Arc<dyn StoreRepository>,
        engines: Arc<dyn EngineRuntime>,
        releases: Arc<dyn ReleaseStore>,
        kube: Arc<KubeOps>,
        platform: PlatformConfig,
        replica: String,
        metrics: Arc<Metrics>,
        installation: Uuid,
    ) -> Self {
        Self {
            repo,
            engines,
            releases,
            kube,
            platform,
            replica,
            metrics,
            installation,
            orphans: Arc::default(),
            orphan_deletion: None,
            drifted: StoreMarks::default(),
            work_known: StoreMarks::default(),
            own_writes: OwnWrites::default(),
            namespaces: Mutex::default(),
            abandon: CancellationToken::new(),
            backoff: backoff::Policy::DEFAULT,
            drift: drift::DriftLog::default(),
            archives: None,
        }
    }

    /// Whether an `storeplane.dev/instance` label value names this
    /// installation (compared without formatting the id per event).
    fn is_this_installation(&self, label: &str) -> bool {
        Uuid::parse_str(label).is_ok_and(|id| id == self.installation)
    }
}

/// Stores marked for their next run (drift seen, work known): a mark
/// stays until a run takes it.
#[derive(Default)]
pub struct StoreMarks(Mutex<HashSet<Uuid>>);

impl StoreMarks {
    /// Marks store `id`.
    pub fn mark(&self, id: Uuid) {
        self.set().insert(id);
    }

    /// Whether store `id` is marked (keeps the mark).
    pub fn contains(&self, id: Uuid) -> bool {
        self.set().contains(&id)
    }

    /// Whether store `id` was marked (clears the mark).
    pub fn take(&self, id: Uuid) -> bool {
        self.set().remove(&id)
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last store version each reconcile run wrote, so that its echo from
/// the change hub wakes nobody (the run that wrote it already acted on it).
#[derive(Default)]
pub struct OwnWrites(Mutex<HashMap<Uuid, i64>>);

impl OwnWrites {
    /// Records that a run wrote version `resource_version` of store `id`.
    pub fn record(&self, id: Uuid, resource_version: i64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, resource_version);
    }

    /// Whether a change is the echo of a recorded write. A write is
    /// forgotten once its echo, or any later version, went by: every change
    /// passes here (those that need no run too, such as the write that
    /// marks a store Ready), so no entry outlives its echo.
    pub fn is_echo(&self, id: Uuid, resource_version: i64) -> bool {
        let mut own = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match own.get(&id) {
            Some(&wrote) if wrote <= resource_version => {
                own.remove(&id);
                wrote == resource_version
            }
            _ => false,
        }
    }

    /// Whether no write awaits its echo (for tests: nothing else needs it).
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// How long runs abandoned at shutdown get to hand their leases back.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

/// One reconcile run of store `id`, as the queue runs it, and when to run
/// again: for tests and tools that drive the reconciler step by step.
pub async fn run_once(ctx: &Context, id: Uuid) -> Next {
    steps::run(ctx, id).await
}

/// The running reconciler. It learns of store changes from the change hub
/// only (the one wake path for this replica's API writes and other
/// replicas' alike), of cluster changes from its watches.
#[derive(Clone)]
pub struct Reconciler {
    queue: Queue,
    ctx: Arc<Context>,
}

impl Reconciler {
    /// Starts reconciling: the queue, the triggers, and a first pass over
    /// every store that needs work. `handed_back` is signalled when another
    /// replica shut down and gave its work back (PostgreSQL): every store
    /// that needs work is then queued again, so it is taken over at once
    /// rather than when that replica's leases or timers would have fired.
    /// From `cancel` on no run starts; see [`Reconciler::drain`].
    pub async fn start(
        ctx: Arc<Context>,
        hub: &ChangeHub,
        handed_back: Arc<tokio::sync::Notify>,
        concurrency: usize,
        cancel: CancellationToken,
    ) -> Self {
        let run_ctx = Arc::clone(&ctx);
        let queue = Queue::start_with_gauge(
            concurrency,
            cancel.clone(),
            ctx.metrics.queue_depth(),
            move |id| {
                let ctx = Arc::clone(&run_ctx);
                async move { steps::run(&ctx, id).await }
            },
        );

        // Store changes, from this replica and (PostgreSQL) the others.
        let mut changes = hub.subscribe();
        let (hub_queue, hub_ctx, hub_cancel) = (queue.clone(), Arc::clone(&ctx), cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = hub_cancel.cancelled() => return,
                    message = changes.recv() => match message {
                        Ok(HubMessage::Change(change)) => {
                            let store = &change.store;
                            // Asked of every change, not only of those that
                            // need a run: that is where a write is forgotten.
                            let own = hub_ctx.own_writes.is_echo(store.id, store.resource_version);
                            if store.needs_reconcile() && !own {
                                hub_ctx.work_known.mark(store.id);
                                hub_queue.enqueue(store.id);
                            }
                        }
                        Ok(HubMessage::Gone) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            enqueue_all(&hub_ctx, &hub_queue).await;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });

        // Work another replica handed back when it shut down.
        let (handoff_queue, handoff_ctx, handoff_cancel) =
            (queue.clone(), Arc::clone(&ctx), cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = handoff_cancel.cancelled() => return,
                    () = handed_back.notified() => {
                        info!("another replica handed its work back");
                        enqueue_all(&handoff_ctx, &handoff_queue).await;
                    }
                }
            }
        });

        watches::spawn(Arc::clone(&ctx), queue.clone(), cancel);
        enqueue_all(&ctx, &queue).await;
        info!(concurrency, "reconciler started");
        Self { queue, ctx }
    }

    /// After `start`'s `cancel` (no run starts any more): waits up to
    /// `deadline` for the runs in flight to finish, then abandons the rest,
    /// which hand their leases back so that another replica can take their
    /// stores over at once instead of when the leases lapse. Returns whether
    /// any run was abandoned.
    pub async fn drain(&self, deadline: Duration) -> bool {
        let started = std::time::Instant::now();
        if tokio::time::timeout(deadline, self.queue.drained())
            .await
            .is_ok()
        {
            info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "reconciler stopped: every run in flight finished"
            );
            return false;
        }
        warn!(
            deadline_ms = deadline.as_millis() as u64,
            "runs still in flight at the shutdown deadline; abandoning them"
        );
        self.ctx.abandon.cancel();
        if tokio::time::timeout(ABANDON_GRACE, self.queue.drained())
            .await
            .is_err()
        {
            warn!("abandoned runs did not stop in time; their leases expire by themselves");
        }
        true
    }

    /// The work queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }
}

/// Level-triggered catch-up: every store that still needs work.
async fn enqueue_all(ctx: &Context, queue: &Queue) {
    match ctx.repo.needing_work().await {
        Ok(ids) => {
            info!(
                stores = ids.len(),
                "reconciling every store that needs work"
            );
            for id in ids {
                ctx.work_known.mark(id);
                queue.enqueue(id);
            }
        }
        Err(err) => warn!(error = %err, "cannot list stores that need work"),
    }
}

/// Parses a store id from a label value.
fn store_id(label: &str) -> Option<Uuid> {
    Uuid::parse_str(label).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_forgotten_once_its_echo_or_a_later_version_went_by() {
        let writes = OwnWrites::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        writes.record(a, 3);
        writes.record(b, 7);
        // An older change (another writer's, delivered late) is not the echo.
        assert!(!writes.is_echo(a, 2));
        assert!(writes.is_echo(a, 3));
        // Once only: the same version again is not ours any more.
        assert!(!writes.is_echo(a, 3));
        // A later version went by first (the echo was missed): forgotten.
        assert!(!writes.is_echo(b, 8));
        assert!(writes.is_empty());
    }
}
