//! `bench scale [stores…]`: how the control plane's cost grows with the
//! stores it manages. One installation (the real control plane, the
//! simulated cluster as its own process with zero delays, static-site
//! stores) grows to each count in turn (default 1,000 then 10,000), and at
//! each count the table gets:
//!
//! - resident memory of the control plane, at the end of the idle window
//!   below (an idle control plane's, once its allocator handed back what
//!   the bursts freed);
//! - CPU while idle over `STOREPLANE_BENCH_IDLE` seconds (default 60), of
//!   the control plane and of the simulated API server: nothing polls, so
//!   both must stay near zero;
//! - resident memory of a control plane without a cluster serving the same
//!   database (after walking every page and [`SETTLE`](super::SETTLE)
//!   idle), and the difference per store;
//! - start-up to serving: the control plane stopped (SIGTERM) and started
//!   again on the same database, until it answers a `ListStores`;
//! - a full resync: from that start until every watch of the reconciler
//!   holds the cluster's complete list again (every store's namespace,
//!   workloads, baseline and engine objects re-listed; the
//!   `storeplane_cluster_watch_synced` gauge of each kind is 1);
//! - a burst of 1,000 creates → all Ready, at provisioning concurrency 16
//!   and 64 (a control plane restarted with each);
//! - `ListStores` pages of 100 walked from first to last, p50 / p99;
//! - a change's delivery to `STOREPLANE_BENCH_WATCHERS` (default 1,000)
//!   concurrent `WatchStores` clients resumed at the current position (no
//!   initial list), p50 / p99 from the moment the write is sent to each
//!   receipt.
//!
//! `STOREPLANE_BENCH_BACKEND=sqlite|postgres` picks one database (default:
//! both, PostgreSQL needs `STOREPLANE_TEST_PG`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use futures::StreamExt as _;
use pb::watch_stores_response::EventType;
use storeplane_e2e::{Backend, Server, SimClusterProcess, fresh_database, v1 as pb};
use tokio::sync::Barrier;

use super::{cpu_time, create_all, managed_args, pct, rss_mib, settled_rss_mib};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One row of the table.
struct Row {
    backend: &'static str,
    stores: usize,
    rss_mib: f64,
    records_rss_mib: f64,
    idle_cp_ms_per_s: f64,
    idle_sim_ms_per_s: f64,
    restart_s: f64,
    resync_s: f64,
    bursts: (f64, f64),
    list: (f64, f64, usize),
    delivery: (f64, f64, usize),
}

pub async fn run(counts: Vec<usize>) -> Result<()> {
    let counts = if counts.is_empty() {
        vec![1_000, 10_000]
    } else {
        counts
    };
    let backends: Vec<Backend> = match std::env::var("STOREPLANE_BENCH_BACKEND").as_deref() {
        Ok("sqlite") => vec![Backend::Sqlite],
        Ok("postgres") => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    let idle = Duration::from_secs(env_number("STOREPLANE_BENCH_IDLE", 60));
    let watchers = usize::try_from(env_number("STOREPLANE_BENCH_WATCHERS", 1000)).unwrap_or(1000);
    println!(
        "| database | Ready stores | control plane RSS | record-only RSS (same database) | per store above the records | idle CPU (control plane / sim API server) | start-up to serving | full resync | ListStores page p50 / p99 | change → {watchers} watchers p50 / p99 | burst of 1,000 → all Ready at concurrency 16 / 64 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for backend in backends {
        let cluster = SimClusterProcess::start("0s").await?;
        let database = fresh_database(backend).await?;
        let mut server = start(&cluster, &database, None, None).await?;
        let token = server.admin_token.clone();
        let mut total = 0;
        for &count in &counts {
            grow(&server, &mut total, count).await?;
            let pid = server.pid().context("pid")?;
            // Idle first: the resident memory is that of an idle control
            // plane, after its allocator handed back what the bursts freed.
            let (cp, sim) = idle_cpu(pid, cluster.pid().context("sim pid")?, idle).await;
            let rss = rss_mib(pid);
            let list = list_pages(&server).await?;
            let delivery = deliver(&server, watchers).await?;
            total += 1;
            server.terminate().await?;
            let started = Instant::now();
            server = start(&cluster, &database, Some(token.clone()), None).await?;
            server
                .stores()
                .await?
                .list_stores(pb::ListStoresRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await?;
            let restart = started.elapsed().as_secs_f64();
            synced(&server).await?;
            let resync = started.elapsed().as_secs_f64();
            let mut bursts = Vec::new();
            for concurrency in ["16", "64"] {
                server.terminate().await?;
                server = start(&cluster, &database, Some(token.clone()), Some(concurrency)).await?;
                synced(&server).await?;
                let started = Instant::now();
                let to = total + 1000;
                grow(&server, &mut total, to).await?;
                bursts.push(started.elapsed().as_secs_f64());
            }
            // The same records served by a control plane without a cluster:
            // what managing the stores costs beyond keeping their records.
            server.terminate().await?;
            let records = record_only_rss(&database, &token).await?;
            server = start(&cluster, &database, Some(token.clone()), None).await?;
            print_row(&Row {
                backend: match backend {
                    Backend::Sqlite => "SQLite",
                    Backend::Postgres => "PostgreSQL",
                },
                stores: count,
                rss_mib: rss,
                records_rss_mib: records,
                idle_cp_ms_per_s: cp,
                idle_sim_ms_per_s: sim,
                restart_s: restart,
                resync_s: resync,
                bursts: (bursts[0], bursts[1]),
                list,
                delivery,
            });
        }
    }
    Ok(())
}

/// One line of the table, printed as soon as it is measured.
fn print_row(row: &Row) {
    println!(
        "| {} | {} | {:.1} MiB | {:.1} MiB | {:.2} KiB | {:.2} / {:.2} ms per s | {:.2} s | {:.2} s | {:.2} / {:.2} ms ({} pages) | {:.1} / {:.1} ms | {:.1} / {:.1} s |",
        row.backend,
        row.stores,
        row.rss_mib,
        row.records_rss_mib,
        (row.rss_mib - row.records_rss_mib) * 1024.0 / row.stores as f64,
        row.idle_cp_ms_per_s,
        row.idle_sim_ms_per_s,
        row.restart_s,
        row.resync_s,
        row.list.0,
        row.list.1,
        row.list.2,
        row.delivery.0,
        row.delivery.1,
        row.bursts.0,
        row.bursts.1,
    );
}

/// A control plane managing the stores of `database` on `cluster`, with
/// its metrics served; `concurrency` overrides the provisioning
/// concurrency.
async fn start(
    cluster: &SimClusterProcess,
    database: &str,
    token: Option<String>,
    concurrency: Option<&str>,
) -> Result<Server> {
    let mut args = managed_args(cluster);
    if let Some(concurrency) = concurrency
        && let Some(at) = args.iter().position(|a| a == "--reconcile-concurrency")
    {
        args[at + 1] = concurrency.to_owned();
    }
    args.extend(["--metrics-listen".to_owned(), "127.0.0.1:0".to_owned()]);
    // A thousand watchers of one tenant: no read limits or watch cap.
    for flag in [
        "--read-rate-limit-per-tenant",
        "--read-rate-limit-per-address",
        "--max-watches-per-tenant",
    ] {
        args.extend([flag.to_owned(), "0".to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_logging(database, &args, "warn,storeplane=info").await?;
    if let Some(token) = token {
        // The database already has its administrator token.
        server.admin_token = token;
    }
    Ok(server)
}

/// Resident memory of a control plane with no cluster serving the
/// records of `database`, once it has walked every `ListStores` page.
async fn record_only_rss(database: &str, token: &str) -> Result<f64> {
    let mut server = Server::start_logging(
        database,
        &[
            "--read-rate-limit-per-tenant",
            "0",
            "--read-rate-limit-per-address",
            "0",
        ],
        "warn",
    )
    .await?;
    server.admin_token = token.to_owned();
    list_pages(&server).await?;
    let rss = settled_rss_mib(server.pid().context("pid")?).await;
    server.terminate().await?;
    Ok(rss)
}

/// Waits until every watch of the reconciler holds its complete list
/// (each kind's `storeplane_cluster_watch_synced` is 1). The gauge is read
/// every 10 ms: the bench polls, the control plane does not.
async fn synced(server: &Server) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let metrics = server.metrics().await?;
        let kinds: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("storeplane_cluster_watch_synced{"))
            .collect();
        if !kinds.is_empty() && kinds.iter().all(|l| l.ends_with(" 1")) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the watches never synced: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Creates stores in bursts of 1,000 until `count` are Ready.
async fn grow(server: &Server, total: &mut usize, count: usize) -> Result<()> {
    while *total < count {
        let n = 1000.min(count - *total);
        let names: Vec<String> = (*total..*total + n)
            .map(|i| format!("scale-{i:06}"))
            .collect();
        let mut watch = server.watch().await?;
        create_all(server, &names).await?;
        let mut waiting: std::collections::HashSet<String> = names.into_iter().collect();
        let deadline = Instant::now() + Duration::from_secs(600);
        while !waiting.is_empty() {
            ensure!(
                Instant::now() < deadline,
                "{} stores never became Ready",
                waiting.len()
            );
            let event = tokio::time::timeout(Duration::from_secs(60), watch.next())
                .await
                .context("no watch event for a minute")?
                .context("the watch ended")??;
            if let Some(store) = event.store
                && store.phase() == pb::StorePhase::Ready
            {
                waiting.remove(&store.name);
            }
        }
        *total += n;
    }
    Ok(())
}

/// CPU per second of wall time of the control plane and the simulated
/// API server over `idle`.
async fn idle_cpu(server: u32, sim: u32, idle: Duration) -> (f64, f64) {
    // Let the last runs and watch events settle first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cp0, sim0) = (cpu_time(server), cpu_time(sim));
    tokio::time::sleep(idle).await;
    let per_s = |d: Duration| d.as_secs_f64() * 1000.0 / idle.as_secs_f64();
    (
        per_s(cpu_time(server).saturating_sub(cp0)),
        per_s(cpu_time(sim).saturating_sub(sim0)),
    )
}

/// Walks `ListStores` in pages of 100; latency of each page.
async fn list_pages(server: &Server) -> Result<(f64, f64, usize)> {
    let mut client = server.stores().await?;
    let mut token = String::new();
    let mut samples = Vec::new();
    loop {
        let started = Instant::now();
        let page = client
            .list_stores(pb::ListStoresRequest {
                page_size: 100,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let pages = samples.len();
    Ok((pct(&mut samples, 0.5), pct(&mut samples, 0.99), pages))
}

/// Opens `watchers` watches resumed at the current position, makes one
/// change, and measures when each watcher receives it.
async fn deliver(server: &Server, watchers: usize) -> Result<(f64, f64, usize)> {
    // The current position: the token of the initial list's end.
    let mut first = server.watch().await?;
    let position = loop {
        let event = first.next().await.context("watch ended")??;
        if event.r#type() == EventType::InitialListComplete {
            break event.resume_token;
        }
    };
    drop(first);
    // Watchers share a few HTTP/2 connections, as clients behind a proxy
    // would; each is its own stream.
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(server.stores().await?);
    }
    let ready = Arc::new(Barrier::new(watchers + 1));
    let (sent_tx, sent_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::new();
    for i in 0..watchers {
        let mut client = clients[i % clients.len()].clone();
        let position = position.clone();
        let ready = Arc::clone(&ready);
        let sent = sent_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = client
                .watch_stores(pb::WatchStoresRequest {
                    resume_token: position,
                })
                .await?
                .into_inner();
            ready.wait().await;
            loop {
                let event = stream.next().await.context("watch ended")??;
                if event.r#type() == EventType::Added {
                    let received = Instant::now();
                    let sent = (*sent.borrow()).context("received before the write was sent")?;
                    return anyhow::Ok(received.saturating_duration_since(sent));
                }
            }
        }));
    }
    ready.wait().await;
    let name = format!(
        "delivered-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    sent_tx.send(Some(Instant::now()))?;
    create_all(server, std::slice::from_ref(&name)).await?;
    let mut samples = Vec::new();
    for task in tasks {
        let took = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .context("a watcher never received the change")???;
        samples.push(took.as_secs_f64() * 1000.0);
    }
    Ok((pct(&mut samples, 0.5), pct(&mut samples, 0.99), watchers))
}
