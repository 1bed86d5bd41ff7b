//! One reconcile run of one store.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::Utc;
use storeplane_plugin_host::{CallError, ObservedPhase, Operation, StoreContext};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, debug, info, warn};
use uuid::Uuid;

use super::{
    Context, Error, Next,
    drift::Drift,
    namespace::{self, Claimed, PrepareError, Teardown},
    operation::{self, Step},
};
use crate::domain::{
    self, Attempt, ConditionStatus, Failure, NewEvent, Outcome, Phase, Readiness, Store, StoreRef,
    backup::{BackupTrigger, OperationKind},
    conditions::{
        ENGINE_DEPROVISIONED, ENGINE_PROVISIONED, NAMESPACE_READY, PRE_UPGRADE_BACKUP, READY,
    },
    ports::{self, Claim, StoreRepository},
    release::ObjectRef,
    tenancy::Scope,
};

/// How long to wait for a terminating namespace before trying again (its
/// watch usually wakes the store sooner).
pub const NAMESPACE_WAIT: Duration = Duration::from_secs(5);
/// How soon a teardown looks again when its namespace vanished between
/// being read and being deleted.
pub const NAMESPACE_RECHECK: Duration = Duration::from_secs(1);
/// The attempt whose backoff a run that failed on the database or the
/// cluster (not on the store) waits: the store's own attempts are not
/// counted for a failure that is not its fault.
pub const ERROR_RETRY_ATTEMPT: i32 = 2;
/// How long after the provisioning deadline a waiting store runs again, so
/// the timeout fires on time rather than at the next resync.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(10);
/// How long after another replica's lease lapses this one tries to take
/// the store over: room for the holder's last renewal in flight and for
/// clocks that differ a little between replicas.
const TAKEOVER_MARGIN: Duration = Duration::from_millis(250);

/// Runs one reconcile of store `id` and says when to run again (a panic
/// is caught by the [`Queue`](super::Queue), which retries the store).
pub async fn run(ctx: &Context, id: Uuid) -> Next {
    let span = crate::telemetry::reconcile_span(id);
    run_in(ctx, id).instrument(span).await
}

async fn run_in(ctx: &Context, id: Uuid) -> Next {
    let started = Instant::now();
    let next = match reconcile(ctx, id).await {
        Ok(next) => next,
        Err(err) => {
            ctx.metrics.reconcile_error(err.metric_label());
            warn!(store = %id, error = %err, "reconcile failed; retrying");
            // A database or cluster that does not answer is not the store's
            // fault: no attempt is counted, and the run waits at least as
            // long as the database layer suggests.
            let wait = ctx.backoff.delay(ERROR_RETRY_ATTEMPT);
            Next::After(err.retry_after().map_or(wait, |after| after.max(wait)))
        }
    };
    debug!(store = %id, elapsed_ms = started.elapsed().as_millis() as u64, ?next, "reconciled");
    next
}

async fn reconcile(ctx: &Context, id: Uuid) -> Result<Next, Error> {
    // Asking whether there is work is a read per run; a run queued
    // because there is work (most runs of a store being provisioned)
    // skips it.
    if !ctx.work_known.take(id) && idle(ctx, id).await {
        return Ok(Next::Done);
    }
    let store = match take(ctx.repo.as_ref(), &ctx.replica, ctx.platform.lease, id).await? {
        Taken::Store(store) => *store,
        Taken::Busy(wait) => return Ok(Next::After(wait)),
        Taken::Gone => {
            ctx.drift.take(id);
            return Ok(Next::Done);
        }
    };
    // The lease is renewed while the run lasts (a provision can outlive
    // one lease); if another replica took it over meanwhile, or it cannot
    // be renewed before it lapses, this run stops at its next await instead
    // of racing that replica. Dropping the guard (the run ends, panics or
    // is abandoned) stops the renewal.
    let lost = renew_lease(
        std::sync::Arc::clone(&ctx.repo),
        ctx.replica.clone(),
        ctx.platform.lease,
        id,
    );
    let renewing = lost.clone().drop_guard();
    let next = tokio::select! {
        next = run_leased(ctx, store) => next,
        () = lost.cancelled() => {
            warn!(store = %id, "lease lost or not renewable; abandoning this run");
            // The next run's claim says whether it is still ours.
            return Ok(Next::After(lease_recheck(ctx.platform.lease)));
        }
        () = ctx.abandon.cancelled() => {
            // Shutting down and past the deadline: hand the lease back so
            // another replica takes the store over now, not when it lapses.
            drop(renewing);
            warn!(store = %id, "shutting down: run abandoned, lease handed back");
            release(ctx.repo.as_ref(), &ctx.replica, id).await;
            return Ok(Next::Done);
        }
    };
    drop(renewing);
    release(ctx.repo.as_ref(), &ctx.replica, id).await;
    match next {
        Ok(next) => Ok(next),
        Err(Halt::Superseded) => {
            debug!(store = %id, "the store moved on during this run; the next run takes it from there");
            Ok(Next::Done)
        }
        Err(Halt::Failed(err)) => Err(err),
    }
}

/// How soon a run that lost its lease looks again: its next claim says
/// whether the store is still this replica's.
fn lease_recheck(lease: Duration) -> Duration {
    lease / 3
}

/// What [`take`] got.
#[derive(Debug)]
enum Taken {
    /// This replica holds the lease; the store as it is now.
    Store(Box<Store>),
    /// Another replica holds the lease: try again after this long.
    Busy(Duration),
    /// The store is gone.
    Gone,
}

/// Whether the store has nothing for a run to do, read without its lease:
/// a Ready store whose workloads' status changed (the echo of its own
/// provision, a pod restarting), with no drift noted and no desired state
/// it has not acted on. Such a run used to claim and release the lease,
/// two writes on the database's one writer, to do nothing (an estimate of
/// how often: in one logged burst of 1,000 provisions, 422 of 2,738 runs
/// ended within 5 ms).
///
/// Skipping it on a read without the lease loses no work: whatever gives
/// the store work afterwards (a write that needs a run, drift seen by a
/// watch) queues it again once it is there, and a store queued while its
/// run is in flight runs once more. An error reading it is left to the
/// leased path, which reports it.
async fn idle(ctx: &Context, id: Uuid) -> bool {
    match ctx.repo.get(&Scope::All, &StoreRef::Id(id)).await {
        Ok(store) => {
            !store.needs_reconcile() && !ctx.drifted.contains(id) && !ctx.drift.is_pending(id)
        }
        Err(_) => false,
    }
}

/// Claims the store's lease for `replica`, then reads the store (in that
/// order: see [`StoreRepository::take`]).
async fn take(
    repo: &dyn StoreRepository,
    replica: &str,
    lease: Duration,
    id: Uuid,
) -> Result<Taken, domain::Error> {
    Ok(match repo.take(id, replica, lease).await? {
        ports::Taken::Store(store) => Taken::Store(store),
        ports::Taken::Gone => Taken::Gone,
        ports::Taken::Busy { holder, until } => {
            // Another replica works on it, and its writes wake us when there
            // is more to do. Come back when its lease lapses anyway: it may
            // have died holding it, and then nobody else would.
            let wait = (until - Utc::now()).to_std().unwrap_or_default() + TAKEOVER_MARGIN;
            let wait = wait.min(lease + TAKEOVER_MARGIN);
            debug!(store = %id, %holder, wait_ms = wait.as_millis() as u64, "leased by another replica");
            Taken::Busy(wait)
        }
    })
}

/// Gives the lease back; one that cannot be released expires by itself.
async fn release(repo: &dyn StoreRepository, replica: &str, id: Uuid) {
    if let Err(err) = repo.release(id, replica).await {
        warn!(store = %id, error = %err, "cannot release lease; it expires by itself");
    }
}

/// What a run does once it holds the store's lease.
async fn run_leased(ctx: &Context, store: Store) -> Result<Next, Halt> {
    let drifted = ctx.drifted.take(store.id);
    // A store being provisioned or deleted has its objects applied or
    // removed anyway: drift seen meanwhile is moot.
    let engine_drift = ctx.drift.take(store.id);
    match store.phase {
        Phase::Deleting => teardown(ctx, store).await,
        Phase::Provisioning => provision(ctx, store, drifted).await,
        Phase::Ready | Phase::Suspended if store.generation != store.observed_generation => {
            provision(ctx, store, drifted).await
        }
        Phase::Ready if store.operation.is_some() => {
            let Some(operation) = store.operation.clone() else {
                return Ok(Next::Done);
            };
            match operation::step(ctx, &store, &operation).await? {
                Step::Running(next) => Ok(next),
                Step::Finished { .. } => Ok(Next::Done),
            }
        }
        Phase::Ready | Phase::Failed | Phase::Suspended => {
            if drifted {
                restore_baseline(ctx, &store).await?;
            }
            // A paused store stays paused: someone scaling its shop back
            // up by hand is drift too.
            if matches!(store.phase, Phase::Ready | Phase::Suspended) && !engine_drift.is_empty() {
                return correct_drift(ctx, &store, engine_drift).await;
            }
            Ok(Next::Done)
        }
    }
}

/// Has the engine converge a Ready store whose objects drifted, and says
/// so in its timeline: one `DriftCorrected` entry naming every object and
/// who changed it. A deletion counts only for an object of the store's
/// current revision (an upgrade's prune is no drift). Past the store's
/// correction rate, the correction waits for its next slot.
async fn correct_drift(ctx: &Context, store: &Store, drifts: Vec<Drift>) -> Result<Next, Halt> {
    // Each release's current objects, read once however many of its
    // objects went.
    let mut current: HashMap<String, Vec<ObjectRef>> = HashMap::new();
    let mut real = Vec::new();
    for drift in drifts {
        if drift.by.is_none() {
            if !current.contains_key(&drift.release) {
                let objects = ctx
                    .releases
                    .latest(&store.id.to_string(), &drift.release)
                    .await?
                    .map(|revision| revision.objects)
                    .unwrap_or_default();
                current.insert(drift.release.clone(), objects);
            }
            let applied = current.get(&drift.release).is_some_and(|objects| {
                objects
                    .iter()
                    .any(|o| o.kind == drift.kind && o.name == drift.name)
            });
            if !applied {
                continue;
            }
        }
        real.push(drift);
    }
    if real.is_empty() {
        return Ok(Next::Done);
    }
    let installed = ctx.engines.version(&store.engine);
    if installed.as_deref() != Some(store.engine_version.as_str()) {
        // Converging with another engine version would upgrade the store
        // behind its owner's back; an upgrade corrects the drift too.
        warn!(store = %store.name, running = %store.engine_version, installed = ?installed, "objects drifted; not corrected until the store is upgraded");
        return Ok(Next::Done);
    }
    if let Err(wait) = ctx.drift.admit(store.id) {
        debug!(store = %store.name, wait_ms = wait.as_millis() as u64, "drift correction rate reached; waiting");
        ctx.drift.restore(store.id, real);
        return Ok(Next::After(wait));
    }
    let step = Instant::now();
    let what = real
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // The engine converges the store to what it should be, as for its
    // generation: running, or paused (plugins are not asked to provision a
    // suspended store). The version is the installed one (checked above).
    let converged = EngineAction::of(store, &store.engine_version)
        .call(ctx, &store.engine, &store_context(ctx, store))
        .await;
    match converged {
        Ok(()) => {
            for drift in &real {
                ctx.metrics.drift_corrected(&drift.kind);
            }
            info!(store = %store.name, drift = %what, "drift corrected");
            ctx.repo
                .record_event(
                    store.id,
                    NewEvent {
                        reason: "DriftCorrected".into(),
                        message: format!("{what}; the store's resources were re-applied"),
                        outcome: Outcome::Succeeded,
                        duration_ms: ms(step),
                    },
                )
                .await?;
            Ok(Next::Done)
        }
        Err(err) => {
            warn!(store = %store.name, drift = %what, error = %err, "cannot correct drift; retrying");
            ctx.repo
                .record_event(
                    store.id,
                    NewEvent {
                        reason: "DriftCorrectionFailed".into(),
                        message: format!("{what}; re-applying the store's resources failed: {err}"),
                        outcome: Outcome::Failed,
                        duration_ms: ms(step),
                    },
                )
                .await?;
            ctx.drift.restore(store.id, real);
            Ok(Next::After(ctx.backoff.delay(ERROR_RETRY_ATTEMPT)))
        }
    }
}

/// Renews the store's lease every third of its length until the returned
/// token is cancelled. Cancels it itself when the lease is lost: another
/// replica holds it, or it could not be renewed and has no more than a
/// third of its length left (client-go's renew deadline), so the run stops
/// before anyone else may take the store over.
fn renew_lease(
    repo: std::sync::Arc<dyn StoreRepository>,
    replica: String,
    lease: Duration,
    id: Uuid,
) -> CancellationToken {
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        // The claim that started the run was made just before.
        let mut confirmed = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(lease / 3) => {}
            }
            let asked = Instant::now();
            match repo.claim(id, &replica, lease).await {
                Ok(Claim::Held) => confirmed = asked,
                Ok(Claim::Taken { holder, .. }) => {
                    warn!(store = %id, %holder, "another replica took the store's lease over");
                    stop.cancel();
                    return;
                }
                // Removed (by this very run, at its end): nothing to guard.
                Ok(Claim::NoStore) => return,
                Err(err) => {
                    warn!(store = %id, error = %err, "cannot renew store lease");
                    if confirmed.elapsed() + lease / 3 >= lease {
                        stop.cancel();
                        return;
                    }
                }
            }
        }
    });
    token
}

/// The timeline entry of a re-applied baseline.
async fn restored_event(ctx: &Context, store: &Store, step: Instant) -> Result<(), domain::Error> {
    ctx.repo
        .record_event(
            store.id,
            NewEvent {
                reason: "BaselineRestored".into(),
                message: format!(
                    "the platform's objects in namespace {} were missing or changed; re-applied",
                    store.namespace()
                ),
                outcome: Outcome::Succeeded,
                duration_ms: ms(step),
            },
        )
        .await
}

/// Re-applies the baseline of a Ready or Failed store after drift, and
/// says so in its timeline.
async fn restore_baseline(ctx: &Context, store: &Store) -> Result<(), Error> {
    let step = Instant::now();
    match namespace::reassert(ctx, store).await {
        Ok(true) => {
            info!(store = %store.name, "platform baseline drifted; re-applied");
            Ok(restored_event(ctx, store, step).await?)
        }
        Ok(false) => Ok(()),
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot re-apply the platform baseline; retrying");
            ctx.drifted.mark(store.id);
            Err(Error::Cluster {
                doing: "re-apply the platform baseline",
                source: err,
            })
        }
    }
}

/// What the plugin is told about the store.
pub fn store_context(ctx: &Context, store: &Store) -> StoreContext {
    let platform = &ctx.platform;
    StoreContext {
        id: store.id.to_string(),
        name: store.name.clone(),
        namespace: store.namespace(),
        tenant: store.tenant.resource_name(),
        config: serde_json::Value::Object(store.config.clone()),
        generation: store.generation,
        host: format!("{}.{}", store.name, platform.base_domain),
        ingress_class: platform.ingress_class.clone(),
        storage_class: platform.storage_class.clone(),
        tls: platform.tls,
        cluster_issuer: platform.cluster_issuer.clone(),
        extra_hosts: store.custom_domains.clone(),
        suspended: store.suspended,
    }
}

pub(super) fn ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Why a run ends before its step is done.
#[derive(Debug)]
pub(super) enum Halt {
    /// The store moved on since the run read it (it is being deleted, or
    /// has a new generation): whatever the run would still do or write is
    /// obsolete. The write that moved it queued the store again, and the
    /// next run acts on the store as it is now.
    Superseded,
    /// A failure; the store is retried.
    Failed(Error),
}

impl From<Error> for Halt {
    fn from(err: Error) -> Self {
        Self::Failed(err)
    }
}

impl From<domain::Error> for Halt {
    fn from(err: domain::Error) -> Self {
        Self::Failed(err.into())
    }
}

/// Writes a change to the store read as `store`, and says whether it wrote
/// anything (`change` may find nothing to do). A store that moved on since
/// (a newer generation or another phase) is left alone and the run halts:
/// going on with the store as it is now would act on a state the run never
/// checked (a store being deleted would be provisioned and written Ready,
/// undoing the deletion).
async fn write_change(
    repo: &dyn StoreRepository,
    store: &Store,
    change: impl Fn(&mut Store) -> domain::Result<Vec<NewEvent>> + Send + Sync,
) -> Result<(Store, bool), Halt> {
    let generation = store.generation;
    let phase = store.phase;
    let wrote = std::sync::atomic::AtomicBool::new(false);
    let superseded = std::sync::atomic::AtomicBool::new(false);
    let written = repo
        .update_seen(store, &|s: &mut Store| {
            if s.generation != generation || s.phase != phase {
                superseded.store(true, std::sync::atomic::Ordering::Relaxed);
                return Ok(Vec::new());
            }
            let events = change(s)?;
            wrote.store(!events.is_empty(), std::sync::atomic::Ordering::Relaxed);
            Ok(events)
        })
        .await?;
    if superseded.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Halt::Superseded);
    }
    Ok((written, wrote.load(std::sync::atomic::Ordering::Relaxed)))
}

/// [`write_change`] with at most one event, remembering what the run
/// wrote (its echo wakes nobody).
async fn write(
    ctx: &Context,
    store: &Store,
    change: impl Fn(&mut Store) -> domain::Result<Option<NewEvent>> + Send + Sync,
) -> Result<Store, Halt> {
    write_events(ctx, store, |s| Ok(change(s)?.into_iter().collect())).await
}

/// [`write_change`], remembering what the run wrote (its echo wakes nobody).
async fn write_events(
    ctx: &Context,
    store: &Store,
    change: impl Fn(&mut Store) -> domain::Result<Vec<NewEvent>> + Send + Sync,
) -> Result<Store, Halt> {
    let (written, wrote) = write_change(ctx.repo.as_ref(), store, change).await?;
    if wrote {
        ctx.own_writes.record(written.id, written.resource_version);
    }
    Ok(written)
}

/// Records that the store's provisioning of its current generation began
/// at `now`.
async fn begin(ctx: &Context, store: &Store, now: chrono::DateTime<Utc>) -> Result<Store, Halt> {
    write(ctx, store, |s| s.begin_provisioning(now)).await
}

/// The namespace could not be prepared: a retry, after the start of the
/// store's provisioning when it is `starting` (not on record yet, being
/// meant to go with the prepared namespace).
async fn prepare_failed(
    ctx: &Context,
    store: Store,
    starting: bool,
    now: chrono::DateTime<Utc>,
    message: &str,
) -> Result<Next, Halt> {
    let store = if starting {
        begin(ctx, &store, now).await?
    } else {
        store
    };
    retry(ctx, &store, "PrepareNamespace", message, true).await
}

async fn provision(ctx: &Context, mut store: Store, drifted: bool) -> Result<Next, Halt> {
    let now = Utc::now();
    // A new store's first run creates its namespace and ends there, before
    // it writes anything: the rest waits behind every other store's first
    // run (`Next::Yield`), so in a burst of creates every store gets its
    // namespace as its create arrives rather than after every older
    // store's install. The next run finds the namespace as it left it and
    // carries on from there (what the claim found is used below either
    // way: it is not asked twice).
    let mut claimed_early = None;
    if store.provisioning_since.is_none()
        && !store.is_done(NAMESPACE_READY)
        && ctx.engines.version(&store.engine).is_some()
    {
        let claimed = namespace::claim(ctx, &store)
            .instrument(tracing::info_span!(
                "prepare namespace",
                otel.name = "prepare namespace"
            ))
            .await;
        if matches!(claimed, Ok(Claimed::Created)) {
            ctx.work_known.mark(store.id);
            return Ok(Next::Yield);
        }
        claimed_early = Some(claimed);
    }
    // The start of a new store's provisioning is recorded with its
    // namespace's preparation, in one write, when this run gets that far
    // (the common case); a run that stops on the way records it first.
    let mut starting = false;
    if store.provisioning_since.is_none() {
        if matches!(claimed_early, Some(Ok(_))) && !store.is_done(NAMESPACE_READY) {
            starting = true;
        } else {
            store = begin(ctx, &store, now).await?;
        }
    }
    let since = store.provisioning_since.unwrap_or(now);
    let elapsed = store.provisioning_elapsed(now);
    if store.provisioning_timed_out(now, ctx.platform.provision_timeout) {
        return fail(
            ctx,
            &store,
            "ProvisioningTimedOut",
            format!(
                "the store did not become ready within {} s",
                ctx.platform.provision_timeout.as_secs()
            ),
        )
        .await;
    }
    let Some(engine_version) = ctx.engines.version(&store.engine) else {
        return fail(
            ctx,
            &store,
            "EngineNotInstalled",
            format!("no plugin provides engine {}", store.engine),
        )
        .await;
    };

    // Every run checks that the namespace is still this store's before a
    // plugin acts in it: it may have been deleted or replaced meanwhile.
    let step = Instant::now();
    let claimed = match claimed_early {
        Some(claimed) => claimed,
        None => {
            namespace::claim(ctx, &store)
                .instrument(tracing::info_span!(
                    "prepare namespace",
                    otel.name = "prepare namespace"
                ))
                .await
        }
    };
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(PrepareError::Conflict(message)) => {
            return fail(ctx, &store, "NamespaceConflict", message).await;
        }
        Err(PrepareError::Terminating(ns)) => {
            write(ctx, &store, |s| {
                Ok(s.set_condition(
                    NAMESPACE_READY,
                    ConditionStatus::False,
                    "Terminating",
                    &format!("namespace {ns} is still being deleted"),
                    Utc::now(),
                )
                .then(|| {
                    NewEvent::info(
                        "WaitingForNamespace",
                        format!("namespace {ns} is still being deleted; waiting"),
                    )
                }))
            })
            .await?;
            return Ok(Next::After(NAMESPACE_WAIT));
        }
        Err(PrepareError::Cluster(err)) => {
            return retry(ctx, &store, "PrepareNamespace", &err.to_string(), true).await;
        }
    };
    let prepared = store.is_done(NAMESPACE_READY);
    if let Err(err) = namespace::ensure_access(ctx, &store, claimed).await {
        return prepare_failed(ctx, store, starting, now, &err.to_string()).await;
    }
    if !prepared || drifted || claimed == Claimed::Created {
        if let Err(err) = namespace::apply_baseline(ctx, &store, claimed).await {
            if drifted {
                ctx.drifted.mark(store.id);
            }
            return prepare_failed(ctx, store, starting, now, &err.to_string()).await;
        }
        if prepared {
            restored_event(ctx, &store, step).await?;
        } else {
            store = write_events(ctx, &store, |s| {
                let mut events = Vec::new();
                if starting {
                    events.extend(s.begin_provisioning(now)?);
                }
                s.set_condition(
                    NAMESPACE_READY,
                    ConditionStatus::True,
                    "Prepared",
                    "namespace, quota, limits and network policies applied",
                    Utc::now(),
                );
                events.push(NewEvent {
                    reason: "NamespacePrepared".into(),
                    message: format!(
                        "namespace {} with quota, limit range, network policies and Pod Security {}",
                        s.namespace(),
                        namespace::POD_SECURITY_LEVEL
                    ),
                    outcome: Outcome::Succeeded,
                    duration_ms: ms(step),
                });
                Ok(events)
            })
            .await?;
        }
    }

    if !store.is_done(ENGINE_PROVISIONED)
        && matches!(store.phase, Phase::Ready | Phase::Provisioning)
        && matches!(
            EngineAction::of(&store, &engine_version),
            EngineAction::Upgrade(_)
        )
        && ctx
            .engines
            .operations(&store.engine)
            .contains(&Operation::Backup)
        && !store.is_done(PRE_UPGRADE_BACKUP)
    {
        match pre_upgrade_backup(ctx, store, &engine_version).await? {
            Ok(backed_up) => store = backed_up,
            Err(next) => return Ok(next),
        }
    }

    let plugin_ctx = store_context(ctx, &store);
    // The engine's step, once applied, is recorded with the first look at
    // the store when that look finds it still waiting (the common case:
    // workloads just applied are not ready yet), in one write instead of
    // two; otherwise on its own first, as the step it is.
    let mut applied = None;
    if !store.is_done(ENGINE_PROVISIONED) {
        let step = Instant::now();
        // One line per plugin call and one per recorded result: with the
        // timeline, the witness that a store is provisioned once per
        // generation however many replicas share the work.
        info!(store = %store.id, name = %store.name, generation = store.generation, replica = %ctx.replica, "engine provision starting");
        let action = EngineAction::of(&store, &engine_version);
        let result = action.call(ctx, &store.engine, &plugin_ctx).await;
        if let Err(err) = result {
            warn!(store = %store.id, generation = store.generation, replica = %ctx.replica, error = %err, "engine provision failed");
            return call_failed(ctx, &store, "Provision", err).await;
        }
        let version = engine_version;
        let duration_ms = ms(step);
        applied = Some(move |s: &mut Store| engine_applied(s, &action, &version, duration_ms));
    }

    let observed = ctx.engines.observe(&store.engine, &plugin_ctx).await;
    let waiting = observed.as_ref().is_ok_and(|observed| {
        matches!(
            (observed.phase, store.suspended),
            (ObservedPhase::Provisioning, _)
                | (ObservedPhase::Ready, true)
                | (ObservedPhase::Suspended, false)
        )
    });
    if let Some(applied) = &applied
        && !waiting
    {
        store = record_applied(ctx, &store, |s| Ok(vec![applied(s)])).await?;
    }
    let observed = match observed {
        Ok(observed) => observed,
        Err(err) => return call_failed(ctx, &store, "Observe", err).await,
    };
    match observed.phase {
        ObservedPhase::Suspended if store.suspended => {
            let total = (Utc::now() - since).num_milliseconds();
            write(ctx, &store, |s| {
                s.mark_suspended(&observed.message, total, Utc::now())
                    .map(Some)
            })
            .await?;
            info!(store = %store.name, "store suspended");
            Ok(Next::Done)
        }
        ObservedPhase::Ready if !store.suspended => {
            // A clone gets its backup's data before it is Ready.
            if let Some(op) = store.operation.clone()
                && op.kind == OperationKind::Restore
            {
                match operation::step(ctx, &store, &op).await? {
                    Step::Running(next) => {
                        let message = format!("restoring backup {}", op.backup);
                        write(ctx, &store, |s| {
                            Ok(s.set_condition(
                                READY,
                                ConditionStatus::False,
                                "Restoring",
                                &message,
                                Utc::now(),
                            )
                            .then(|| NewEvent::info("Waiting", message.clone())))
                        })
                        .await?;
                        return Ok(next);
                    }
                    Step::Finished {
                        store: written,
                        succeeded,
                        message,
                    } => {
                        if !succeeded {
                            return fail(ctx, &written, "RestoreFailed", message).await;
                        }
                        store = *written;
                    }
                }
            }
            let total = (Utc::now() - since).num_milliseconds();
            ctx.metrics.provisioned(
                &store.engine,
                Duration::from_millis(u64::try_from(total).unwrap_or(0)),
            );
            let readiness = Readiness {
                storefront_url: observed.storefront_url.clone().unwrap_or_default(),
                admin_url: observed.admin_url.clone().unwrap_or_default(),
                credentials_secret: observed.credentials_secret.clone(),
                message: observed.message.clone(),
            };
            write(ctx, &store, |s| {
                s.mark_ready(readiness.clone(), total, Utc::now()).map(Some)
            })
            .await?;
            info!(store = %store.name, "store ready");
            Ok(Next::Done)
        }
        ObservedPhase::Failed => {
            let reason = if observed.reason.is_empty() {
                "EngineReportedFailure".into()
            } else {
                observed.reason.clone()
            };
            fail(ctx, &store, &reason, observed.message).await
        }
        // Still moving between running and paused (a store to be paused
        // that still runs, or one resuming that is still paused): wait, as
        // for provisioning. This is `waiting`: an engine step just applied
        // is recorded here.
        ObservedPhase::Provisioning | ObservedPhase::Ready | ObservedPhase::Suspended => {
            let wait = |s: &mut Store| {
                let mut events: Vec<NewEvent> = applied.iter().map(|applied| applied(s)).collect();
                if s.set_condition(
                    READY,
                    ConditionStatus::False,
                    "Provisioning",
                    &observed.message,
                    Utc::now(),
                ) {
                    events.push(NewEvent::info("Waiting", observed.message.clone()));
                }
                Ok(events)
            };
            if applied.is_some() {
                record_applied(ctx, &store, wait).await?;
            } else {
                write_events(ctx, &store, wait).await?;
            }
            // Watches wake the store as its workloads change; the timer is
            // only the resync, or the overall deadline when that is sooner,
            // so a timeout fires on time.
            let deadline = ctx.platform.provision_timeout.saturating_sub(elapsed);
            Ok(Next::After(
                ctx.platform.resync.min(deadline + DEADLINE_SLACK),
            ))
        }
    }
}

/// Records an engine step `action` that applied `version`'s resources in
/// `duration_ms`: its condition, the version now running, and the event
/// that says so.
fn engine_applied(
    s: &mut Store,
    action: &EngineAction,
    version: &str,
    duration_ms: i64,
) -> NewEvent {
    s.set_condition(
        ENGINE_PROVISIONED,
        ConditionStatus::True,
        "Applied",
        &format!("{} {} applied its resources", s.engine, version),
        Utc::now(),
    );
    let (reason, message) = match action {
        EngineAction::Suspend => (
            "EngineSuspended",
            format!("{} {version} is pausing the store", s.engine),
        ),
        EngineAction::Resume => (
            "EngineResumed",
            format!("{} {version} is bringing the store back", s.engine),
        ),
        EngineAction::Upgrade(from) => (
            "EngineUpgraded",
            format!("upgraded from {} {from} to {version}", s.engine),
        ),
        EngineAction::Provision => (
            "EngineProvisioned",
            format!("{} {version} applied the store's resources", s.engine),
        ),
    };
    if !matches!(action, EngineAction::Suspend | EngineAction::Resume) {
        s.engine_version = version.to_owned();
    }
    NewEvent {
        reason: reason.into(),
        message,
        outcome: Outcome::Succeeded,
        duration_ms,
    }
}

/// Writes `change`, which records an engine step that was applied: one not
/// on record is applied again by the next run (at least once; an engine's
/// `provision` is idempotent), and both are logged.
async fn record_applied(
    ctx: &Context,
    store: &Store,
    change: impl Fn(&mut Store) -> domain::Result<Vec<NewEvent>> + Send + Sync,
) -> Result<Store, Halt> {
    let recorded = write_events(ctx, store, change).await;
    match &recorded {
        Ok(written)
            if written.is_done(ENGINE_PROVISIONED) && !store.is_done(ENGINE_PROVISIONED) =>
        {
            info!(store = %store.id, generation = store.generation, replica = %ctx.replica, "engine provision recorded");
        }
        Ok(_) => {}
        Err(_) => {
            warn!(store = %store.id, generation = store.generation, replica = %ctx.replica, "engine provision not recorded");
        }
    }
    recorded
}

/// Cloudron's rule: a backup before every upgrade of the engine version
/// (the data migrations an upgrade runs cannot be undone otherwise). The
/// upgrade waits for it, and does not start when it fails: the store is
/// marked Failed (`PreUpgradeBackupFailed`), still running the version it
/// had, for its owner to retry or roll back. `Ok(store)` once the backup
/// succeeded; `Err(next)` while it runs, or after the store was failed.
async fn pre_upgrade_backup(
    ctx: &Context,
    store: Store,
    to: &str,
) -> Result<Result<Store, Next>, Halt> {
    let store = match &store.operation {
        Some(_) => store,
        None => {
            let id = Uuid::now_v7();
            write(ctx, &store, |s| {
                s.start_backup(id, BackupTrigger::PreUpgrade, None, Utc::now())
                    .map(Some)
            })
            .await?
        }
    };
    let Some(op) = store.operation.clone() else {
        return Ok(Err(Next::After(Duration::ZERO)));
    };
    match operation::step(ctx, &store, &op).await? {
        Step::Running(next) => Ok(Err(next)),
        // Another backup or restore was in flight: it ran first; now the
        // upgrade's own.
        Step::Finished { .. } if op.trigger != BackupTrigger::PreUpgrade => {
            Ok(Err(Next::After(Duration::ZERO)))
        }
        Step::Finished {
            store: written,
            succeeded: false,
            message,
        } => fail(
            ctx,
            &written,
            "PreUpgradeBackupFailed",
            format!(
                "the upgrade to {} {to} did not start because the backup before it failed \
                 ({message}); the store still runs {} {}",
                written.engine, written.engine, written.engine_version
            ),
        )
        .await
        .map(Err),
        Step::Finished { store: written, .. } => {
            let message = format!("backup {} taken before the upgrade to {to}", op.backup);
            write(ctx, written.as_ref(), |s| {
                s.set_condition(
                    PRE_UPGRADE_BACKUP,
                    ConditionStatus::True,
                    "BackedUp",
                    &message,
                    Utc::now(),
                );
                Ok(Some(NewEvent::info("PreUpgradeBackup", message.clone())))
            })
            .await
            .map(Ok)
        }
    }
}

/// What the engine is asked to do for a store's new generation.
enum EngineAction {
    /// Pause it (the owner suspended it).
    Suspend,
    /// Bring it back (the engine paused it; the owner resumed it).
    Resume,
    /// Create or converge it with the installed engine version.
    Provision,
    /// Move it from the engine version it runs (the field) to the installed one.
    Upgrade(String),
}

impl EngineAction {
    /// Asks the engine for this action.
    async fn call(
        &self,
        ctx: &Context,
        engine: &str,
        store: &StoreContext,
    ) -> Result<(), CallError> {
        match self {
            EngineAction::Suspend => ctx.engines.suspend(engine, store).await,
            EngineAction::Resume => ctx.engines.resume(engine, store).await,
            EngineAction::Provision => ctx.engines.provision(engine, store).await,
            EngineAction::Upgrade(from) => ctx.engines.upgrade(engine, store, from).await,
        }
    }

    fn of(store: &Store, installed: &str) -> Self {
        if store.suspended {
            EngineAction::Suspend
        } else if store.was_suspended() {
            EngineAction::Resume
        } else if store.engine_version.is_empty() || store.engine_version == installed {
            EngineAction::Provision
        } else {
            EngineAction::Upgrade(store.engine_version.clone())
        }
    }
}

/// A plugin call failed: a failure the plugin says is final, a crash, an
/// out-of-memory or an unknown engine fails the store; the rest retry.
async fn call_failed(
    ctx: &Context,
    store: &Store,
    step: &str,
    err: CallError,
) -> Result<Next, Halt> {
    if err.is_retryable() {
        retry(ctx, store, step, &err.to_string(), true).await
    } else {
        fail(ctx, store, err.reason(), err.to_string()).await
    }
}

async fn retry(
    ctx: &Context,
    store: &Store,
    step: &str,
    message: &str,
    retryable: bool,
) -> Result<Next, Halt> {
    let attempts = match store.next_attempt(ctx.platform.max_attempts) {
        Attempt::Retry(attempts) if retryable => attempts,
        Attempt::Retry(attempts) | Attempt::Exhausted(attempts) => {
            return fail(
                ctx,
                store,
                &format!("{step}Failed"),
                format!("{message} (after {attempts} attempts)"),
            )
            .await;
        }
    };
    let delay = ctx.backoff.delay(attempts);
    let message = format!(
        "{step} failed: {message}; retry {attempts} in {} s",
        delay.as_secs()
    );
    write(ctx, store, |s| {
        let event = NewEvent {
            reason: format!("{step}Retrying"),
            message: message.clone(),
            outcome: Outcome::Failed,
            duration_ms: 0,
        };
        s.record_attempt(attempts, event).map(Some)
    })
    .await?;
    Ok(Next::After(delay))
}

async fn fail(ctx: &Context, store: &Store, reason: &str, message: String) -> Result<Next, Halt> {
    ctx.metrics.failed(&store.engine, reason);
    warn!(store = %store.name, reason, %message, "store failed");
    let failure = Failure {
        reason: reason.to_owned(),
        message,
    };
    write(ctx, store, |s| {
        s.mark_failed(failure.clone(), Utc::now()).map(Some)
    })
    .await?;
    Ok(Next::Done)
}

async fn teardown(ctx: &Context, store: Store) -> Result<Next, Halt> {
    let started = Instant::now();
    let mut store = store;
    // Nothing is removed from a namespace that is not this store's: not by
    // the plugin (its deprovision acts on fixed names), not by us.
    let owned = match namespace::delete_check(ctx, &store).await {
        Ok(owned) => owned,
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot read the namespace; retrying");
            return Ok(Next::After(ctx.backoff.delay(store.attempts.max(1))));
        }
    };
    if let Err(left_alone) = owned {
        return remove_record(ctx, &store, left_alone, Outcome::Info).await;
    }
    if !store.is_done(ENGINE_DEPROVISIONED) {
        // The engine's clean-up acts through storeplane's binding in the
        // namespace (a namespace from before `--store-role` gets it now).
        if let Err(err) = namespace::ensure_access(ctx, &store, Claimed::Existing).await {
            warn!(store = %store.name, error = %err, "cannot bind the store role; the engine's clean-up may be refused");
        }
        let outcome = if ctx.engines.version(&store.engine).is_some() {
            ctx.engines
                .deprovision(&store.engine, &store_context(ctx, &store))
                .await
                .map_err(|e| e.to_string())
        } else {
            Err(format!(
                "engine {} is not installed; skipping its clean-up",
                store.engine
            ))
        };
        // Deleting the namespace removes everything anyway; a failed
        // deprovision is recorded, never a reason to keep the store.
        let (outcome, message) = match &outcome {
            Ok(()) => (
                Outcome::Succeeded,
                "the engine removed its resources".to_owned(),
            ),
            Err(e) => (Outcome::Failed, format!("engine clean-up failed: {e}")),
        };
        store = write(ctx, &store, |s| {
            s.set_condition(
                ENGINE_DEPROVISIONED,
                ConditionStatus::True,
                "Done",
                &message,
                Utc::now(),
            );
            Ok(Some(NewEvent {
                reason: "EngineDeprovisioned".into(),
                message: message.clone(),
                outcome,
                duration_ms: ms(started),
            }))
        })
        .await?;
    }
    match namespace::delete(ctx, &store).await {
        Ok(Teardown::Gone) => {
            let message = format!(
                "namespace {} is gone; store record deleted",
                store.namespace()
            );
            remove_record(ctx, &store, message, Outcome::Succeeded).await
        }
        Ok(Teardown::NotOurs(message)) => remove_record(ctx, &store, message, Outcome::Info).await,
        // The namespace watch wakes us when it is gone.
        Ok(Teardown::Waiting) => Ok(Next::After(ctx.platform.resync)),
        Err(err) if err.is_not_found() => Ok(Next::After(NAMESPACE_RECHECK)),
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot delete namespace; retrying");
            Ok(Next::After(ctx.backoff.delay(store.attempts.max(1))))
        }
    }
}

/// Deletes the store's record (its namespace is gone or was never its own).
async fn remove_record(
    ctx: &Context,
    store: &Store,
    message: String,
    outcome: Outcome,
) -> Result<Next, Halt> {
    ctx.repo
        .remove(
            store.id,
            NewEvent {
                reason: "Deleted".into(),
                message,
                outcome,
                duration_ms: (Utc::now() - store.updated_at).num_milliseconds().max(0),
            },
        )
        .await?;
    info!(store = %store.name, "store deleted");
    Ok(Next::Done)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::persistence::scripted::{Scripted, memory_repo, new_store};

    async fn repo_with_store() -> (Arc<dyn StoreRepository>, Uuid) {
        let repo: Arc<dyn StoreRepository> =
            memory_repo(Arc::new(tokio::sync::Notify::new())).await;
        let created = repo
            .create(new_store("leased"), None)
            .await
            .expect("create");
        (repo, created.into_store().id)
    }

    #[tokio::test]
    async fn a_run_reads_the_store_after_claiming_it_so_it_sees_the_last_holders_work() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_secs(60);
        // Replica b holds the store and is about to record its provision.
        assert_eq!(
            repo.claim(id, "b", lease).await.expect("claim"),
            Claim::Held
        );
        let scripted = Arc::new(Scripted::new(Arc::clone(&repo)));
        let b = Arc::clone(&repo);
        // b records EngineProvisioned and releases its lease just before
        // a's claim reaches the database.
        *scripted.before_claim.lock().await = Some(Box::pin(async move {
            b.update(&Scope::All, &StoreRef::Id(id), &|s: &mut Store| {
                s.set_condition(
                    ENGINE_PROVISIONED,
                    ConditionStatus::True,
                    "Applied",
                    "b applied the store's resources",
                    Utc::now(),
                );
                Ok(Some(NewEvent::info("EngineProvisioned", "by b")))
            })
            .await
            .expect("b's write");
            b.release(id, "b").await.expect("b's release");
        }));
        let taken = take(scripted.as_ref(), "a", lease, id).await.expect("take");
        let Taken::Store(store) = taken else {
            panic!("a did not get the store: {taken:?}");
        };
        // Read before the claim, a would provision the store a second time.
        assert!(
            store.is_done(ENGINE_PROVISIONED),
            "a works on a store read before b's last write"
        );
    }

    #[tokio::test]
    async fn a_run_halts_when_the_store_is_deleted_under_it_instead_of_reviving_it() {
        let (repo, id) = repo_with_store().await;
        // The run reads the store while it provisions...
        let read = repo.get(&Scope::All, &StoreRef::Id(id)).await.expect("get");
        // ...and the owner deletes it meanwhile (as the API does).
        repo.update(&Scope::All, &StoreRef::Id(id), &|s: &mut Store| {
            Ok(s.request_deletion())
        })
        .await
        .expect("delete");
        let written = write_change(repo.as_ref(), &read, |s| {
            s.mark_ready(Readiness::default(), 0, Utc::now())
                .map(|event| vec![event])
        })
        .await;
        assert!(
            matches!(written, Err(Halt::Superseded)),
            "the run went on with the deleted store: {written:?}"
        );
        let now = repo.get(&Scope::All, &StoreRef::Id(id)).await.expect("get");
        assert_eq!(now.phase, Phase::Deleting);
        // A write the store still needs goes through, and says it wrote.
        let (written, wrote) = write_change(repo.as_ref(), &now, |s| {
            s.set_condition(
                ENGINE_DEPROVISIONED,
                ConditionStatus::True,
                "Done",
                "removed",
                Utc::now(),
            );
            Ok(vec![NewEvent::info("EngineDeprovisioned", "removed")])
        })
        .await
        .expect("write");
        assert!(wrote && written.is_done(ENGINE_DEPROVISIONED));
    }

    #[tokio::test]
    async fn a_store_leased_elsewhere_is_tried_again_when_that_lease_lapses() {
        let (repo, id) = repo_with_store().await;
        assert_eq!(
            repo.claim(id, "b", Duration::from_secs(10))
                .await
                .expect("claim"),
            Claim::Held
        );
        let taken = take(repo.as_ref(), "a", Duration::from_secs(60), id)
            .await
            .expect("take");
        let Taken::Busy(wait) = taken else {
            panic!("a took a store b holds: {taken:?}");
        };
        // When b's lease lapses (b may have died), not a whole lease of a's
        // own later.
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10) + TAKEOVER_MARGIN,
            "retry in {wait:?}"
        );
        repo.remove(id, NewEvent::info("Deleted", "gone"))
            .await
            .expect("remove");
        assert!(matches!(
            take(repo.as_ref(), "a", Duration::from_secs(60), id).await,
            Ok(Taken::Gone)
        ));
    }

    #[tokio::test]
    async fn a_lease_that_cannot_be_renewed_stops_the_run_before_it_lapses() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_millis(600);
        assert_eq!(
            repo.claim(id, "a", lease).await.expect("claim"),
            Claim::Held
        );
        let claimed = Instant::now();
        let scripted = Arc::new(Scripted::new(Arc::clone(&repo)));
        scripted
            .fail_claims
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let renewing = renew_lease(
            Arc::clone(&scripted) as Arc<dyn StoreRepository>,
            "a".into(),
            lease,
            id,
        );
        tokio::time::timeout(lease * 2, renewing.cancelled())
            .await
            .expect("a run went on with a lease it could not renew");
        // Stopped while the lease still held: no other replica could have
        // taken the store over yet.
        assert!(
            claimed.elapsed() < lease,
            "stopped after {:?}",
            claimed.elapsed()
        );
    }

    #[tokio::test]
    async fn a_long_run_keeps_its_lease_so_no_other_replica_can_claim_the_store() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_millis(300);
        assert_eq!(
            repo.claim(id, "a", lease).await.expect("claim"),
            Claim::Held
        );
        let renewing = renew_lease(Arc::clone(&repo), "a".into(), lease, id);
        // Three lease lengths later the run is still going: without renewal
        // replica b would take the store over here.
        tokio::time::sleep(lease * 3).await;
        assert!(matches!(
            repo.claim(id, "b", lease).await.expect("claim"),
            Claim::Taken { holder, .. } if holder == "a"
        ));
        assert!(!renewing.is_cancelled(), "replica a lost a lease it renews");
        renewing.cancel();
        tokio::time::sleep(lease * 2).await;
        assert_eq!(
            repo.claim(id, "b", lease).await.expect("claim"),
            Claim::Held
        );
    }

    #[tokio::test]
    async fn a_run_learns_that_another_replica_took_its_lease() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_millis(300);
        assert_eq!(
            repo.claim(id, "b", lease * 100).await.expect("claim"),
            Claim::Held
        );
        let renewing = renew_lease(Arc::clone(&repo), "a".into(), lease, id);
        tokio::time::timeout(lease * 3, renewing.cancelled())
            .await
            .expect("the lost lease was never noticed");
    }
}
