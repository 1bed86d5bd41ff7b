//! Several replicas sharing the work on one PostgreSQL (issue 15, points 4
//! and 5): three `serve` processes, one simulated cluster process that
//! outlives them, clients spread round-robin with no load balancer. See
//! `storeplane_e2e::replicas` for what every scenario checks; these run it
//! at a size that keeps CI within budget (`bench scale-out` runs it big).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use storeplane_e2e::{
    create_request,
    replicas::{Fault, Fleet, Report, RoundRobin, Scenario, run},
    to_struct,
};
use tonic::Code;

fn scenario(fault: Fault) -> Scenario {
    Scenario {
        replicas: 3,
        stores: 45,
        delete_every: 5,
        create_interval: Duration::ZERO,
        // Workloads take a second to be ready, so stores are in flight at
        // every step when a fault strikes.
        sim_delay: "1s".into(),
        // Short, so that the stores of a killed replica are taken over
        // within seconds.
        lease: "3s".into(),
        shutdown_timeout: "10s".into(),
        concurrency: 8,
        fault,
        patience: Duration::from_secs(120),
        log_filter: "info,storeplane=debug".into(),
    }
}

fn show(what: &str, report: &Report) {
    println!(
        "{what}: {} stores ({} deleted) on {} replicas, {} kills, {} SIGTERMs {:?}, converged in {:.1} s; \
         provision calls {} ({} cut off by a kill and made again, {} retried after a failure, \
         {} duplicates); \
         watch clients (changes, streams, endings) {:?}; failovers {:?}",
        report.created,
        report.deleted,
        report.replicas,
        report.kills,
        report.terminations.len(),
        report
            .terminations
            .iter()
            .map(|t| format!("{} exited in {:.2} s", t.replica, t.exit.as_secs_f64()))
            .collect::<Vec<_>>(),
        report.converged_in.as_secs_f64(),
        report.provisions.starts,
        report.provisions.interrupted,
        report.provisions.retried,
        report.provisions.duplicates,
        report.watches,
        report.failovers,
    );
}

/// SIGKILL one replica every 1.5 s (each in turn, twice, restarted at once
/// under a new replica id) while 60 stores are created across the three
/// over six seconds and 12 of them deleted: every store converges (Ready, or gone with its
/// namespace), each is provisioned once (a call cut off by a kill is made
/// again, nothing else), no namespace is orphaned, and every watch client
/// (resuming on another replica with its last token when its own dies)
/// sees every change once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_killed_during_a_burst_lose_nothing_and_provision_each_store_once() -> Result<()> {
    let mut scenario = scenario(Fault::Kill {
        every: Duration::from_millis(1500),
        rounds: 2,
    });
    // Spread over six seconds, so that kills land throughout the burst.
    scenario.stores = 60;
    scenario.create_interval = Duration::from_millis(100);
    let report = run(&scenario).await?;
    show("kills", &report);
    ensure!(report.kills >= 6, "only {} kills", report.kills);
    // Each watch client's replica was killed at least once under it.
    ensure!(
        report.watches.iter().all(|w| w.streams >= 2),
        "a watch client was never cut off: {:?}",
        report.watches
    );
    Ok(())
}

/// A rolling restart (SIGTERM each replica in turn, restart it, go on)
/// during a burst of creates: every accepted store is Ready and provisioned
/// exactly once, no provision is cut off (runs in flight finish before the
/// replica exits), each replica turns every service NOT_SERVING before it
/// closes its listener and exits well within its shutdown timeout, and its
/// watches end with UNAVAILABLE ("shutting down") to be resumed elsewhere,
/// losing and repeating nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_during_a_burst_loses_nothing() -> Result<()> {
    let mut scenario = scenario(Fault::RollingRestart {
        pause: Duration::from_millis(500),
    });
    // Creates keep coming while the replicas go and come back.
    scenario.create_interval = Duration::from_millis(150);
    let report = run(&scenario).await?;
    show("rolling restart", &report);
    ensure!(report.terminations.len() == 3);
    for termination in &report.terminations {
        ensure!(
            termination.health_flipped,
            "{} closed before every service said NOT_SERVING",
            termination.replica
        );
        // The shutdown timeout (10 s) plus the time abandoned runs get to
        // hand their leases back (5 s): a bound, not a benchmark.
        ensure!(
            termination.exit < Duration::from_secs(15),
            "{} took {:?} to exit",
            termination.replica,
            termination.exit
        );
    }
    ensure!(
        report.provisions.interrupted == 0,
        "a SIGTERM cut provisions off: {:?}",
        report.provisions
    );
    for watch in &report.watches {
        for ending in watch.endings.keys() {
            ensure!(
                ending.starts_with(&format!(
                    "{:?}: the server is shutting down",
                    Code::Unavailable
                )),
                "a watch ended with {ending:?} instead of UNAVAILABLE (shutting down)"
            );
        }
    }
    Ok(())
}

/// A replica shutting down with a run that does not finish (a plugin call
/// that spins) gives up on it at its shutdown timeout (2 s), hands the
/// store's lease back and says so: the other replica takes the store over
/// within seconds, not when the 60 s lease would have lapsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_shutting_down_hands_a_stuck_run_back_at_its_deadline() -> Result<()> {
    let mut fleet = Fleet::start(
        1,
        "0s",
        &["--store-lease", "60s", "--shutdown-timeout", "2s"],
        "info,storeplane=debug",
    )
    .await?;
    let db = sqlx::PgPool::connect(&fleet.database_url).await?;
    let first = fleet.replica_id(0).context("replica 0")?.to_owned();
    let clients = RoundRobin::new(fleet.directory.clone(), &fleet.admin_token);
    let mut req = create_request("stuck");
    req.engine = "misbehave".into();
    req.config = Some(to_struct(serde_json::json!({"mode": "loop"})));
    req.request_id = "create-stuck".into();
    clients.create(0, req).await?;
    // Wait until the first replica is inside the endless provision.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fleet
        .server(0)
        .is_some_and(|s| s.log().contains("engine provision starting"))
    {
        ensure!(Instant::now() < deadline, "the provision never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = fleet.add().await?;
    let second = fleet.replica_id(second).context("replica 1")?.to_owned();

    let termination = fleet.terminate(0).await?;
    ensure!(termination.health_flipped);
    // It waited for the run (2 s), then gave up on it: the shutdown
    // timeout plus the abandoned runs' grace (5 s) bound the exit.
    ensure!(
        termination.exit >= Duration::from_secs(2) && termination.exit < Duration::from_secs(10),
        "exited after {:?}",
        termination.exit
    );
    let log = fleet
        .logs()
        .into_iter()
        .find(|(id, ..)| *id == first)
        .map(|(.., log)| log)
        .unwrap_or_default();
    ensure!(
        log.contains("shutting down: run abandoned, lease handed back"),
        "no run was abandoned:\n{}",
        storeplane_e2e::tail(&log)
    );
    let exited = Instant::now();
    loop {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT lease_holder FROM stores WHERE name = 'stuck' AND lease_until > now()",
        )
        .fetch_optional(&db)
        .await?;
        if holder.as_deref() == Some(second.as_str()) {
            break;
        }
        ensure!(
            exited.elapsed() < Duration::from_secs(15),
            "the other replica did not take the store over (holder {holder:?}); its log:\n{}",
            fleet.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "stuck run handed back: SIGTERM → exit {:.2} s, exit → taken over {:.2} s",
        termination.exit.as_secs_f64(),
        exited.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}
