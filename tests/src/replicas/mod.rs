//! Several `storeplane serve` replicas sharing one PostgreSQL database and
//! one simulated cluster that outlives them (issue 15, points 4 and 5),
//! with faults: replicas SIGKILLed and restarted during a burst of creates,
//! or restarted one after another with SIGTERM (a rolling restart).
//!
//! There is no load balancer: clients spread calls round-robin over the
//! replicas and, when one does not answer, go on to the next (a create with
//! the same request id, so a retry never makes a second store). Watch
//! clients follow the same rule with their last resume token.
//!
//! What a scenario checks, from four witnesses that do not depend on one
//! another:
//! - the database: every accepted store is Ready (or, when deleted, gone,
//!   and never back in another phase meanwhile) and its timeline holds one
//!   `EngineProvisioned` per generation;
//! - the replicas' logs: a store's `provision` call ("engine provision
//!   starting") is made again only after the earlier one failed, could not
//!   be recorded, was given up (lease lost, shutdown) or was cut off by the
//!   death of its replica, never while it ran nor after it was recorded
//!   (no two replicas, and no replica twice, provision a store);
//! - the cluster: every store namespace belongs to a store in the
//!   database, and every Ready store has one (no orphan);
//! - and every watch client saw exactly the change log, once each, in order.
//!
//! The test suite runs this small (`tests/scale_out.rs`); the bench big
//! (`bench scale-out`).

mod clients;
mod fleet;
mod witness;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use tokio::sync::watch;

pub use clients::{RoundRobin, Seen, WatchLog, check_watch, spawn_watcher};
pub use fleet::{Directory, Ended, Fleet, HEALTH_SERVICES, Termination};
pub use witness::{Provisions, count_provisions, orphans};

/// The fault a scenario injects during its burst.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// None: the baseline.
    Nothing,
    /// SIGKILL slot after slot, every `every`, restarting each at once,
    /// until the stores converged and every slot was killed `rounds` times.
    Kill {
        /// Time between two kills.
        every: Duration,
        /// Kills of each slot at least.
        rounds: usize,
    },
    /// SIGTERM each slot once, one after another, restarting each before
    /// the next (a rolling restart), `pause` apart.
    RollingRestart {
        /// Time between one replica being back and the next SIGTERM.
        pause: Duration,
    },
}

/// A scenario's size and fault.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Replicas.
    pub replicas: usize,
    /// Stores created (static-site, the lightest engine).
    pub stores: usize,
    /// Every `delete_every`-th store is deleted as soon as it is created
    /// (0: none).
    pub delete_every: usize,
    /// Time between two creates (zero: all at once).
    pub create_interval: Duration,
    /// The simulated kubelet's delay (`0s`, `1s`).
    pub sim_delay: String,
    /// `--store-lease`.
    pub lease: String,
    /// `--shutdown-timeout`.
    pub shutdown_timeout: String,
    /// `--reconcile-concurrency` of each replica.
    pub concurrency: usize,
    /// What goes wrong meanwhile.
    pub fault: Fault,
    /// How long the stores may take to converge.
    pub patience: Duration,
    /// Log filter (`RUST_LOG` syntax); the provision lines are at info.
    pub log_filter: String,
}

/// What one watch client went through.
#[derive(Debug, Clone, Default)]
pub struct WatchSummary {
    /// Changes received (each checked against the log).
    pub changes: usize,
    /// Streams opened: 1 + how often it resumed elsewhere.
    pub streams: usize,
    /// How its streams ended: `code: message` → count.
    pub endings: BTreeMap<String, usize>,
}

/// What a scenario measured (every check already passed).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Stores created (and accepted).
    pub created: usize,
    /// Of them, deleted.
    pub deleted: usize,
    /// Replicas.
    pub replicas: usize,
    /// SIGKILLs.
    pub kills: usize,
    /// SIGTERMs.
    pub terminations: Vec<Termination>,
    /// First create → every store converged.
    pub converged_in: Duration,
    /// The provision witnesses.
    pub provisions: Provisions,
    /// Per watch client: changes seen, streams opened, how streams ended.
    pub watches: Vec<WatchSummary>,
    /// Failed client attempts that went to another replica.
    pub failovers: BTreeMap<String, usize>,
}

/// Runs `scenario` and checks everything (see the module documentation);
/// an error says what did not hold.
pub async fn run(scenario: &Scenario) -> Result<Report> {
    let concurrency = scenario.concurrency.to_string();
    let extra = [
        "--store-lease",
        &scenario.lease,
        "--shutdown-timeout",
        &scenario.shutdown_timeout,
        "--reconcile-concurrency",
        &concurrency,
    ];
    let fleet = Fleet::start(
        scenario.replicas,
        &scenario.sim_delay,
        &extra,
        &scenario.log_filter,
    )
    .await?;
    let db = sqlx::PgPool::connect(&fleet.database_url).await?;
    let directory = fleet.directory.clone();
    let token = fleet.admin_token.clone();
    let kube = fleet.cluster.client()?;
    let fleet = Arc::new(tokio::sync::Mutex::new(fleet));

    // One watch client per replica, each listed before the first create.
    let (stop_watching, watch_until) = watch::channel(None);
    let mut watchers = Vec::new();
    for slot in 0..scenario.replicas {
        let (task, mut listed) =
            spawn_watcher(directory.clone(), token.clone(), slot, watch_until.clone());
        tokio::time::timeout(Duration::from_secs(30), listed.wait_for(|l| *l))
            .await
            .context("a watch client never got its initial list")??;
        watchers.push(task);
    }

    let clients = RoundRobin::new(directory.clone(), &token);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fault = {
        let fleet = Arc::clone(&fleet);
        let done = Arc::clone(&done);
        let fault = scenario.fault;
        let replicas = scenario.replicas;
        tokio::spawn(async move {
            let mut kills = 0;
            let mut terminations = Vec::new();
            match fault {
                Fault::Nothing => {}
                Fault::Kill { every, rounds } => loop {
                    tokio::time::sleep(every).await;
                    if done.load(std::sync::atomic::Ordering::SeqCst) && kills >= rounds * replicas
                    {
                        break;
                    }
                    let slot = kills % replicas;
                    let mut fleet = fleet.lock().await;
                    fleet.kill(slot).await?;
                    kills += 1;
                    fleet.restart(slot).await?;
                },
                Fault::RollingRestart { pause } => {
                    for slot in 0..replicas {
                        tokio::time::sleep(pause).await;
                        let mut fleet = fleet.lock().await;
                        terminations.push(fleet.terminate(slot).await?);
                        fleet.restart(slot).await?;
                    }
                }
            }
            anyhow::Ok((kills, terminations))
        })
    };

    // The burst.
    let started = Instant::now();
    let names: Vec<String> = (0..scenario.stores).map(|i| format!("s{i:04}")).collect();
    let mut calls = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let clients = clients.clone();
        let name = name.clone();
        let delete =
            scenario.delete_every > 0 && i % scenario.delete_every == scenario.delete_every - 1;
        let replicas = scenario.replicas;
        calls.push(tokio::spawn(async move {
            let mut req = crate::create_request(&name);
            req.engine = "static-site".into();
            req.config = Some(prost_types::Struct::default());
            req.request_id = format!("create-{name}");
            clients.create(i % replicas, req).await?;
            if delete {
                clients.delete((i + 1) % replicas, &name).await?;
            }
            anyhow::Ok((name, delete))
        }));
        if !scenario.create_interval.is_zero() {
            tokio::time::sleep(scenario.create_interval).await;
        }
    }
    let mut kept = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    for call in calls {
        let (name, delete) = call.await??;
        if delete {
            deleted.insert(name);
        } else {
            kept.insert(name);
        }
    }

    // Converged: every kept store Ready, every deleted one gone.
    let deadline = started + scenario.patience;
    let converged_in = loop {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, phase FROM stores")
            .fetch_all(&db)
            .await?;
        let phases: BTreeMap<String, String> = rows.into_iter().collect();
        if let Some((name, _)) = phases.iter().find(|(_, phase)| *phase == "Failed") {
            let failure: (String, String) = sqlx::query_as(
                "SELECT failure_reason, failure_message FROM stores WHERE name = $1",
            )
            .bind(name)
            .fetch_one(&db)
            .await?;
            bail!("store {name} failed: {failure:?}");
        }
        // A deletion, once accepted, is final: its store is Deleting until
        // its record goes. Anything else is a run that revived it.
        if let Some((name, phase)) = phases
            .iter()
            .find(|(name, phase)| deleted.contains(*name) && *phase != "Deleting")
        {
            bail!("store {name} was deleted, and is {phase} again");
        }
        let ready = kept
            .iter()
            .filter(|n| phases.get(*n).is_some_and(|p| p == "Ready"))
            .count();
        let lingering = deleted.iter().filter(|n| phases.contains_key(*n)).count();
        if ready == kept.len() && lingering == 0 {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for phase in phases.values() {
                *counts.entry(phase).or_default() += 1;
            }
            bail!(
                "not converged within {:?}: {ready}/{} Ready, {lingering} deleted stores still there, \
                 phases {counts:?}\n{}",
                scenario.patience,
                kept.len(),
                fleet.lock().await.log_tails()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (kills, terminations) = fault.await??;

    // Every watch client catches up with the log, wherever it is now.
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM store_changes")
        .fetch_one(&db)
        .await?;
    let _ = stop_watching.send(Some(last));
    let mut watches = Vec::new();
    for watcher in watchers {
        let log = tokio::time::timeout(Duration::from_secs(60), watcher)
            .await
            .context("a watch client never caught up")???;
        check_watch(&log, &db).await?;
        let mut endings = BTreeMap::new();
        for (code, message) in &log.endings {
            *endings.entry(format!("{code:?}: {message}")).or_default() += 1;
        }
        watches.push(WatchSummary {
            changes: log.changes.len(),
            streams: log.streams,
            endings,
        });
    }

    let fleet = fleet.lock().await;
    let provisions = count_provisions(&fleet.logs(), &db).await?;
    ensure!(
        provisions.duplicates == 0
            && provisions.duplicate_events == 0
            && provisions.missing_events == 0,
        "provisioned more or less than once: {provisions:?}"
    );
    let (orphaned, missing) = orphans(&kube, &db).await?;
    ensure!(
        orphaned.is_empty() && missing.is_empty(),
        "orphaned namespaces {orphaned:?}; Ready stores without their namespace {missing:?}"
    );
    // Each accepted store once: names are unique, so count the rows.
    let stores: i64 = sqlx::query_scalar("SELECT count(*) FROM stores")
        .fetch_one(&db)
        .await?;
    ensure!(
        stores == i64::try_from(kept.len())?,
        "{stores} store records for {} stores kept",
        kept.len()
    );
    let failovers = clients
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    db.close().await;
    Ok(Report {
        created: names.len(),
        deleted: deleted.len(),
        replicas: scenario.replicas,
        kills,
        terminations,
        converged_in,
        provisions,
        watches,
        failovers,
    })
}
