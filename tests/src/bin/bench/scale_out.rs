//! `bench scale-out [--stores N] [--replicas R] [--kill-every DURATION]
//! [--lease DURATION] [--delete-every K] [--sim-delay DURATION]`: several
//! replicas sharing the work on one PostgreSQL under faults (issue 15,
//! points 4 and 5), big; `tests/scale_out.rs` runs the same scenarios small.
//!
//! Three phases, each on a fresh database and a fresh simulated cluster
//! process (zero kubelet delay by default), R replicas (3), clients spread
//! round-robin with no load balancer, one watch client per replica that
//! resumes on the next replica with its last token:
//! 0. N (300) stores created at once, nothing going wrong: the baseline;
//! 1. N static-site stores created at once across the replicas while
//!    one replica is SIGKILLed every `--kill-every` (2 s), in turn, and
//!    restarted at once under a new replica id, until every store is Ready
//!    (every K-th deleted right after its create with `--delete-every K`);
//! 2. N more created over about ten seconds while the replicas are
//!    restarted one after another with SIGTERM (a rolling restart).
//!
//! Each prints stores, replicas, kills or SIGTERMs (with each replica's
//! exit time), the time from the first create until every store converged,
//! the provision calls (made again after a kill cut them off, and
//! duplicates, which must be 0), the changes each watch client saw (each
//! checked against the change log) and the client calls that went to
//! another replica. Every check of `storeplane_e2e::replicas` holds, or the
//! bench fails. Needs `STOREPLANE_TEST_PG` (the tests' PostgreSQL server).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use storeplane_e2e::replicas::{Fault, Report, Scenario, run};

struct Options {
    stores: usize,
    replicas: usize,
    kill_every: Duration,
    lease: String,
    delete_every: usize,
    sim_delay: String,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            stores: 300,
            replicas: 3,
            kill_every: Duration::from_secs(2),
            // The product's default.
            lease: "15s".into(),
            delete_every: 0,
            sim_delay: "0s".into(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} takes a value"));
            match arg.as_str() {
                "--stores" => options.stores = value()?.parse()?,
                "--replicas" => options.replicas = value()?.parse()?,
                "--kill-every" => options.kill_every = parse_duration(value()?)?,
                "--lease" => options.lease = value()?.clone(),
                "--delete-every" => options.delete_every = value()?.parse()?,
                "--sim-delay" => options.sim_delay = value()?.clone(),
                other => bail!("bench scale-out: unknown argument {other:?}"),
            }
        }
        Ok(options)
    }

    fn scenario(&self, fault: Fault) -> Scenario {
        Scenario {
            replicas: self.replicas,
            stores: self.stores,
            delete_every: self.delete_every,
            create_interval: Duration::ZERO,
            sim_delay: self.sim_delay.clone(),
            lease: self.lease.clone(),
            shutdown_timeout: "10s".into(),
            concurrency: 16,
            fault,
            patience: Duration::from_secs(1800),
            log_filter: "warn,storeplane=info".into(),
        }
    }
}

/// `2s`, `500ms`.
fn parse_duration(text: &str) -> Result<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return Ok(Duration::from_millis(ms.parse()?));
    }
    if let Some(s) = text.strip_suffix('s') {
        return Ok(Duration::from_secs_f64(s.parse()?));
    }
    bail!("{text:?} is not a duration like 2s or 500ms")
}

fn print(phase: &str, report: &Report) {
    println!("{phase}:");
    println!(
        "  stores: {} created ({} of them deleted at once), {} replicas",
        report.created, report.deleted, report.replicas
    );
    if report.kills > 0 {
        println!(
            "  kills: {} SIGKILLs, each replica restarted at once",
            report.kills
        );
    }
    for t in &report.terminations {
        println!(
            "  SIGTERM {}: exited in {:.3} s, every service NOT_SERVING first: {}",
            t.replica,
            t.exit.as_secs_f64(),
            t.health_flipped
        );
    }
    println!(
        "  converged: every store Ready (deleted ones gone) {:.1} s after the first create",
        report.converged_in.as_secs_f64()
    );
    let p = &report.provisions;
    println!(
        "  provision calls: {} started, {} cut off by a kill and made again, {} retried after \
         a failure, duplicates {} (timelines: {} stores with a duplicate EngineProvisioned, \
         {} Ready without one)",
        p.starts, p.interrupted, p.retried, p.duplicates, p.duplicate_events, p.missing_events
    );
    for (i, w) in report.watches.iter().enumerate() {
        println!(
            "  watch client {i}: {} changes, each once and in order; {} streams; endings {:?}",
            w.changes, w.streams, w.endings
        );
    }
    println!(
        "  client calls sent on to another replica: {:?}",
        report.failovers
    );
    println!("  orphaned namespaces: 0");
}

/// Runs both phases.
pub async fn run_bench(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    let baseline = run(&options.scenario(Fault::Nothing))
        .await
        .context("phase 0 (no fault)")?;
    print("phase 0: no fault (the baseline)", &baseline);
    let kills = run(&options.scenario(Fault::Kill {
        every: options.kill_every,
        rounds: 1,
    }))
    .await
    .context("phase 1 (kills)")?;
    print(
        &format!(
            "phase 1: SIGKILL one replica every {:?} (lease {})",
            options.kill_every, options.lease
        ),
        &kills,
    );
    let mut rolling = options.scenario(Fault::RollingRestart {
        pause: Duration::from_secs(1),
    });
    // The creates span the restarts (about ten seconds in all).
    rolling.create_interval = Duration::from_millis(10_000 / options.stores.max(1) as u64);
    let rolling = run(&rolling).await.context("phase 2 (rolling restart)")?;
    print("phase 2: rolling restart with SIGTERM", &rolling);
    Ok(())
}
