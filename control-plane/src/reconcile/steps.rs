//! One reconcile run of one store.

use std::time::{Duration, Instant};

use chrono::Utc;
use storeplane_plugin_host::{CallError, HostError, ObservedPhase, StoreContext};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::{
    Context, Next, backoff,
    namespace::{self, Claimed, PrepareError, Teardown},
};
use crate::domain::{
    ConditionStatus, Error, Failure, NewEvent, Outcome, Phase, Store, StoreRef, Urls,
    ports::StoreRepository, tenancy::Scope,
};

/// Condition types, in step order.
const NAMESPACE_READY: &str = "NamespaceReady";
const ENGINE_PROVISIONED: &str = "EngineProvisioned";
const READY: &str = "Ready";
const ENGINE_DEPROVISIONED: &str = "EngineDeprovisioned";
/// How long to wait for a terminating namespace before trying again (its
/// watch usually wakes the store sooner).
const NAMESPACE_WAIT: Duration = Duration::from_secs(5);

/// Runs one reconcile of store `id` and says when to run again (a panic
/// is caught by the [`Queue`](super::Queue), which retries the store).
pub async fn run(ctx: &Context, id: Uuid) -> Next {
    let started = Instant::now();
    let next = match reconcile(ctx, id).await {
        Ok(next) => next,
        Err(err) => {
            ctx.metrics.reconcile_error(err_label(&err));
            warn!(store = %id, error = %err, "reconcile failed; retrying");
            // A database that does not answer is not the store's fault: no
            // attempt is counted, and the run waits at least as long as
            // the database layer suggests.
            let wait = match &err {
                Error::Unavailable { retry_after, .. } => (*retry_after).max(backoff::delay(2)),
                _ => backoff::delay(2),
            };
            Next::After(wait)
        }
    };
    debug!(store = %id, elapsed_ms = started.elapsed().as_millis() as u64, ?next, "reconciled");
    next
}

fn err_label(err: &Error) -> &'static str {
    match err {
        Error::Internal { .. } => "database",
        Error::Unavailable { .. } => "database_unavailable",
        _ => "other",
    }
}

async fn reconcile(ctx: &Context, id: Uuid) -> Result<Next, Error> {
    let store = match ctx.repo.get(&Scope::All, &StoreRef::Id(id)).await {
        Ok(store) => store,
        Err(Error::NotFound { .. }) => return Ok(Next::Done),
        Err(err) => return Err(err),
    };
    if !ctx.repo.claim(id, &ctx.replica, ctx.platform.lease).await? {
        // Another replica works on it; its writes will wake us if needed.
        return Ok(Next::After(ctx.platform.lease));
    }
    let drifted = ctx.take_drifted(id);
    let work = async {
        match store.phase {
            Phase::Deleting => teardown(ctx, store).await,
            Phase::Provisioning => provision(ctx, store, drifted).await,
            Phase::Ready if store.generation != store.observed_generation => {
                provision(ctx, store, drifted).await
            }
            Phase::Ready | Phase::Failed => {
                if drifted {
                    restore_baseline(ctx, &store).await?;
                }
                Ok(Next::Done)
            }
        }
    };
    // The lease is renewed while the run lasts (a provision can outlive
    // one lease); if another replica took it over meanwhile, this run
    // stops at its next await instead of racing that replica.
    let lost = renew_lease(
        std::sync::Arc::clone(&ctx.repo),
        ctx.replica.clone(),
        ctx.platform.lease,
        id,
    );
    let next = tokio::select! {
        next = work => next,
        () = lost.cancelled() => {
            warn!(store = %id, "lease lost to another replica; abandoning this run");
            return Ok(Next::After(ctx.platform.lease));
        }
    };
    lost.cancel();
    if let Err(err) = ctx.repo.release(id, &ctx.replica).await {
        warn!(store = %id, error = %err, "cannot release lease; it expires by itself");
    }
    next
}

/// Renews the store's lease every third of its length until the returned
/// token is cancelled; cancels it itself when the lease is lost.
fn renew_lease(
    repo: std::sync::Arc<dyn StoreRepository>,
    replica: String,
    lease: Duration,
    id: Uuid,
) -> CancellationToken {
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(lease / 3) => {}
            }
            match repo.claim(id, &replica, lease).await {
                Ok(true) => {}
                Ok(false) => {
                    stop.cancel();
                    return;
                }
                // The database is unreachable: so are this run's writes;
                // try again at the next tick.
                Err(err) => warn!(store = %id, error = %err, "cannot renew store lease"),
            }
        }
    });
    token
}

/// The timeline entry of a re-applied baseline.
async fn restored_event(ctx: &Context, store: &Store, step: Instant) -> Result<(), Error> {
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
            restored_event(ctx, store, step).await
        }
        Ok(false) => Ok(()),
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot re-apply the platform baseline; retrying");
            ctx.mark_drifted(store.id);
            Err(Error::internal(
                "re-apply the platform baseline",
                err.to_string(),
            ))
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
    }
}

fn ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Writes a change to the store unless it no longer needs it (a newer
/// generation or another phase arrived meanwhile).
async fn write(
    ctx: &Context,
    store: &Store,
    change: impl Fn(&mut Store) -> Option<NewEvent> + Send + Sync,
) -> Result<Store, Error> {
    let generation = store.generation;
    let phase = store.phase;
    let wrote = std::sync::atomic::AtomicBool::new(false);
    let written = ctx
        .repo
        .update(
            &Scope::All,
            &StoreRef::Id(store.id),
            false,
            &|s: &mut Store| {
                if s.generation != generation || s.phase != phase {
                    return Ok(None);
                }
                let event = change(s);
                wrote.store(event.is_some(), std::sync::atomic::Ordering::Relaxed);
                Ok(event)
            },
        )
        .await?;
    if wrote.load(std::sync::atomic::Ordering::Relaxed) {
        ctx.wrote(written.id, written.resource_version);
    }
    Ok(written)
}

async fn provision(ctx: &Context, mut store: Store, drifted: bool) -> Result<Next, Error> {
    let now = Utc::now();
    if store.provisioning_since.is_none() {
        store = write(ctx, &store, |s| {
            s.provisioning_since = Some(now);
            Some(NewEvent::info(
                "ProvisioningStarted",
                format!("provisioning generation {}", s.generation),
            ))
        })
        .await?;
    }
    let since = store.provisioning_since.unwrap_or(now);
    let elapsed = (now - since).to_std().unwrap_or_default();
    if elapsed > ctx.platform.provision_timeout {
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
    let Some(engine) = ctx.plugins.engine(&store.engine).cloned() else {
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
    let claimed = match namespace::claim(ctx, &store).await {
        Ok(claimed) => claimed,
        Err(PrepareError::Conflict(message)) => {
            return fail(ctx, &store, "NamespaceConflict", message).await;
        }
        Err(PrepareError::Terminating(ns)) => {
            write(ctx, &store, |s| {
                s.set_condition(
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
                })
            })
            .await?;
            return Ok(Next::After(NAMESPACE_WAIT));
        }
        Err(PrepareError::Cluster(err)) => {
            return retry(ctx, &store, "PrepareNamespace", &err.to_string(), true).await;
        }
    };
    let prepared = store.is_done(NAMESPACE_READY);
    if !prepared || drifted || claimed == Claimed::Created {
        if let Err(err) = namespace::apply_baseline(ctx, &store, claimed).await {
            if drifted {
                ctx.mark_drifted(store.id);
            }
            return retry(ctx, &store, "PrepareNamespace", &err.to_string(), true).await;
        }
        if prepared {
            restored_event(ctx, &store, step).await?;
        } else {
            store = write(ctx, &store, |s| {
                s.set_condition(
                    NAMESPACE_READY,
                    ConditionStatus::True,
                    "Prepared",
                    "namespace, quota, limits and network policies applied",
                    Utc::now(),
                );
                Some(NewEvent {
                    reason: "NamespacePrepared".into(),
                    message: format!(
                        "namespace {} with quota, limit range, network policies and Pod Security {}",
                        s.namespace(),
                        namespace::POD_SECURITY_LEVEL
                    ),
                    outcome: Outcome::Succeeded,
                    duration_ms: ms(step),
                })
            })
            .await?;
        }
    }

    let plugin_ctx = store_context(ctx, &store);
    if !store.is_done(ENGINE_PROVISIONED) {
        let step = Instant::now();
        let result = if store.engine_version.is_empty() || store.engine_version == engine.version {
            ctx.plugins.provision(&store.engine, &plugin_ctx).await
        } else {
            let from = store.engine_version.clone();
            ctx.plugins.upgrade(&store.engine, &plugin_ctx, &from).await
        };
        if let Err(err) = result {
            return call_failed(ctx, &store, "Provision", err).await;
        }
        let version = engine.version.clone();
        store = write(ctx, &store, |s| {
            s.set_condition(
                ENGINE_PROVISIONED,
                ConditionStatus::True,
                "Applied",
                &format!("{} {} applied its resources", s.engine, version),
                Utc::now(),
            );
            let upgraded = !s.engine_version.is_empty() && s.engine_version != version;
            let message = if upgraded {
                format!(
                    "upgraded from {} {} to {version}",
                    s.engine, s.engine_version
                )
            } else {
                format!("{} {version} applied the store's resources", s.engine)
            };
            s.engine_version = version.clone();
            Some(NewEvent {
                reason: if upgraded {
                    "EngineUpgraded"
                } else {
                    "EngineProvisioned"
                }
                .into(),
                message,
                outcome: Outcome::Succeeded,
                duration_ms: ms(step),
            })
        })
        .await?;
    }

    let observed = match ctx.plugins.observe(&store.engine, &plugin_ctx).await {
        Ok(observed) => observed,
        Err(err) => return call_failed(ctx, &store, "Observe", err).await,
    };
    match observed.phase {
        ObservedPhase::Ready => {
            let total = (Utc::now() - since).num_milliseconds();
            ctx.metrics.provisioned(
                &store.engine,
                Duration::from_millis(u64::try_from(total).unwrap_or(0)),
            );
            write(ctx, &store, |s| {
                s.phase = Phase::Ready;
                s.observed_generation = s.generation;
                s.provisioning_since = None;
                s.attempts = 0;
                s.failure = None;
                s.urls = Urls {
                    storefront: observed.storefront_url.clone().unwrap_or_default(),
                    admin: observed.admin_url.clone().unwrap_or_default(),
                };
                s.credentials_secret = observed.credentials_secret.clone();
                s.set_condition(
                    READY,
                    ConditionStatus::True,
                    "Ready",
                    &observed.message,
                    Utc::now(),
                );
                Some(NewEvent {
                    reason: "Ready".into(),
                    message: format!("the store is ready: {}", s.urls.storefront),
                    outcome: Outcome::Succeeded,
                    duration_ms: total,
                })
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
        ObservedPhase::Provisioning => {
            write(ctx, &store, |s| {
                s.set_condition(
                    READY,
                    ConditionStatus::False,
                    "Provisioning",
                    &observed.message,
                    Utc::now(),
                )
                .then(|| NewEvent::info("Waiting", observed.message.clone()))
            })
            .await?;
            // Watches wake the store as its workloads change; the timer is
            // only the resync, or the overall deadline when that is sooner,
            // so a timeout fires on time.
            let deadline = ctx.platform.provision_timeout.saturating_sub(elapsed);
            Ok(Next::After(
                ctx.platform
                    .resync
                    .min(deadline + Duration::from_millis(10)),
            ))
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
) -> Result<Next, Error> {
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
) -> Result<Next, Error> {
    let attempts = store.attempts + 1;
    if !retryable || attempts >= ctx.platform.max_attempts {
        return fail(
            ctx,
            store,
            &format!("{step}Failed"),
            format!("{message} (after {attempts} attempts)"),
        )
        .await;
    }
    let delay = backoff::delay(attempts);
    let message = format!(
        "{step} failed: {message}; retry {attempts} in {} s",
        delay.as_secs()
    );
    write(ctx, store, |s| {
        s.attempts = attempts;
        Some(NewEvent {
            reason: format!("{step}Retrying"),
            message: message.clone(),
            outcome: Outcome::Failed,
            duration_ms: 0,
        })
    })
    .await?;
    Ok(Next::After(delay))
}

async fn fail(ctx: &Context, store: &Store, reason: &str, message: String) -> Result<Next, Error> {
    ctx.metrics.failed(&store.engine, reason);
    warn!(store = %store.name, reason, %message, "store failed");
    write(ctx, store, |s| {
        s.phase = Phase::Failed;
        s.observed_generation = s.generation;
        s.provisioning_since = None;
        s.failure = Some(Failure {
            reason: reason.to_owned(),
            message: message.clone(),
        });
        s.set_condition(READY, ConditionStatus::False, reason, &message, Utc::now());
        Some(NewEvent {
            reason: "Failed".into(),
            message: format!("{reason}: {message}"),
            outcome: Outcome::Failed,
            duration_ms: 0,
        })
    })
    .await?;
    Ok(Next::Done)
}

async fn teardown(ctx: &Context, store: Store) -> Result<Next, Error> {
    let started = Instant::now();
    let mut store = store;
    // Nothing is removed from a namespace that is not this store's: not by
    // the plugin (its deprovision acts on fixed names), not by us.
    let owned = match namespace::delete_check(ctx, &store).await {
        Ok(owned) => owned,
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot read the namespace; retrying");
            return Ok(Next::After(backoff::delay(store.attempts.max(1))));
        }
    };
    if let Err(left_alone) = owned {
        return remove_record(ctx, &store, left_alone, Outcome::Info).await;
    }
    if !store.is_done(ENGINE_DEPROVISIONED) {
        let outcome = if ctx.plugins.engine(&store.engine).is_some() {
            ctx.plugins
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
            Some(NewEvent {
                reason: "EngineDeprovisioned".into(),
                message: message.clone(),
                outcome,
                duration_ms: ms(started),
            })
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
        Err(HostError::NotFound(_)) => Ok(Next::After(Duration::from_secs(1))),
        Err(err) => {
            warn!(store = %store.name, error = %err, "cannot delete namespace; retrying");
            Ok(Next::After(backoff::delay(store.attempts.max(1))))
        }
    }
}

/// Deletes the store's record (its namespace is gone or was never its own).
async fn remove_record(
    ctx: &Context,
    store: &Store,
    message: String,
    outcome: Outcome,
) -> Result<Next, Error> {
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
    use crate::domain::{NewStore, TenantId, tenancy::GlobalLimits};

    async fn repo_with_store() -> (Arc<dyn StoreRepository>, Uuid) {
        let db = crate::persistence::connect("sqlite::memory:")
            .await
            .expect("db");
        crate::persistence::migrate(&db).await.expect("migrate");
        let repo: Arc<dyn StoreRepository> = crate::persistence::repository(
            db,
            Arc::new(tokio::sync::Notify::new()),
            100,
            GlobalLimits::default(),
        );
        let created = repo
            .create(
                NewStore {
                    tenant: TenantId::default_tenant(),
                    name: "leased".into(),
                    engine: "static-site".into(),
                    config: Default::default(),
                },
                None,
            )
            .await
            .expect("create");
        (repo, created.into_store().id)
    }

    #[tokio::test]
    async fn a_long_run_keeps_its_lease_so_no_other_replica_can_claim_the_store() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_millis(300);
        assert!(repo.claim(id, "a", lease).await.expect("claim"));
        let renewing = renew_lease(Arc::clone(&repo), "a".into(), lease, id);
        // Three lease lengths later the run is still going: without renewal
        // replica b would take the store over here.
        tokio::time::sleep(lease * 3).await;
        assert!(!repo.claim(id, "b", lease).await.expect("claim"));
        assert!(!renewing.is_cancelled(), "replica a lost a lease it renews");
        renewing.cancel();
        tokio::time::sleep(lease * 2).await;
        assert!(repo.claim(id, "b", lease).await.expect("claim"));
    }

    #[tokio::test]
    async fn a_run_learns_that_another_replica_took_its_lease() {
        let (repo, id) = repo_with_store().await;
        let lease = Duration::from_millis(300);
        assert!(repo.claim(id, "b", lease * 100).await.expect("claim"));
        let renewing = renew_lease(Arc::clone(&repo), "a".into(), lease, id);
        tokio::time::timeout(lease * 3, renewing.cancelled())
            .await
            .expect("the lost lease was never noticed");
    }
}
