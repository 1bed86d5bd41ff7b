//! Provisioning benchmark (not a test): starts the real control plane on the
//! simulated cluster with zero kubelet delay and prints
//!
//! - create → first apply (the store's namespace appears): p50 / p99
//! - workloads ready → store Ready → `WatchStores` event: p50 / p99
//! - a burst of N creates until all are Ready
//! - the control plane's resident memory with M stores
//!
//! `cargo run -p storeplane-e2e --bin bench -- [burst=1000] [stores=10000]`
//! (after `cargo xtask plugins`; uses `target/debug/storeplane` unless
//! `STOREPLANE_BIN` says otherwise).

#![allow(clippy::expect_used, missing_docs)]

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::StreamExt as _;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace};
use kube::{Api, runtime::watcher};
use pb::watch_stores_response::EventType;
use storeplane_e2e::{
    Backend, Server, create_request, fresh_database, provisioning_args, v1 as pb,
};

fn request(name: &str) -> pb::CreateStoreRequest {
    let mut req = create_request(name);
    req.engine = "static-site".into();
    req.config = Some(prost_types::Struct::default());
    req
}

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let burst = args.first().copied().unwrap_or(1000);
    let many = args.get(1).copied().unwrap_or(10_000);

    let mut serve: Vec<String> = provisioning_args();
    serve.extend(["--reconcile-concurrency".into(), "32".into()]);
    let serve: Vec<&str> = serve.iter().map(String::as_str).collect();
    let server = Server::start_on(&fresh_database(Backend::Sqlite).await?, &serve).await?;
    let kube = server.kube().await?;

    // Cluster-side timestamps: when a store's namespace and Deployment appear/become available.
    let namespaces = Api::<Namespace>::all(kube.clone());
    let deployments = Api::<Deployment>::all(kube.clone());
    let first_apply = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Instant>::new()));
    let available = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Instant>::new()));
    {
        let first_apply = first_apply.clone();
        tokio::spawn(async move {
            let mut events = watcher(namespaces, watcher::Config::default()).boxed();
            // `Init`/`InitDone` and transient errors are part of the stream.
            while let Some(event) = events.next().await {
                let Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns)) = event else {
                    continue;
                };
                if let Some(name) = ns.metadata.name {
                    first_apply
                        .lock()
                        .expect("lock")
                        .entry(name)
                        .or_insert_with(Instant::now);
                }
            }
        });
    }
    {
        let available = available.clone();
        tokio::spawn(async move {
            let mut events = watcher(deployments, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = event else {
                    continue;
                };
                let ready = d
                    .status
                    .as_ref()
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0)
                    > 0;
                if let (true, Some(ns)) = (ready, d.metadata.namespace) {
                    available
                        .lock()
                        .expect("lock")
                        .entry(ns)
                        .or_insert_with(Instant::now);
                }
            }
        });
    }
    let mut watch = server
        .stores()
        .await?
        .watch_stores(pb::WatchStoresRequest::default())
        .await?
        .into_inner();
    let ready_seen = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Instant>::new()));
    {
        let ready_seen = ready_seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(event)) = watch.next().await {
                if let (EventType::Modified, Some(store)) = (event.r#type(), event.store)
                    && store.phase() == pb::StorePhase::Ready
                {
                    ready_seen
                        .lock()
                        .expect("lock")
                        .entry(store.name)
                        .or_insert_with(Instant::now);
                }
            }
        });
    }

    // A burst of creates, timed individually and as a whole.
    let started = Instant::now();
    let mut created_at = HashMap::new();
    let mut calls = Vec::new();
    for i in 0..burst {
        let name = format!("burst-{i:05}");
        let mut client = server.stores().await?;
        let req = request(&name);
        calls.push(tokio::spawn(async move {
            (name, Instant::now(), client.create_store(req).await)
        }));
    }
    for call in calls {
        let (name, at, result) = call.await?;
        result.context("create")?;
        created_at.insert(name, at);
    }
    loop {
        if ready_seen.lock().expect("lock").len() >= burst {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "burst did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let burst_secs = started.elapsed().as_secs_f64();

    let (first_apply, available, ready_seen) = (
        first_apply.lock().expect("lock").clone(),
        available.lock().expect("lock").clone(),
        ready_seen.lock().expect("lock").clone(),
    );
    let mut to_apply: Vec<f64> = created_at
        .iter()
        .filter_map(|(name, t)| {
            first_apply
                .get(&format!("store-{name}"))
                .map(|a| a.duration_since(*t).as_secs_f64() * 1e3)
        })
        .collect();
    let mut to_event: Vec<f64> = ready_seen
        .iter()
        .filter_map(|(name, t)| {
            available
                .get(&format!("store-{name}"))
                .map(|a| t.duration_since(*a).as_secs_f64() * 1e3)
        })
        .collect();
    println!("stores in the burst:                       {burst}");
    println!(
        "create → first apply (namespace):           p50 {:.1} ms, p99 {:.1} ms",
        pct(&mut to_apply, 0.5),
        pct(&mut to_apply, 0.99)
    );
    println!(
        "workloads ready → store Ready watch event:  p50 {:.1} ms, p99 {:.1} ms",
        pct(&mut to_event, 0.5),
        pct(&mut to_event, 0.99)
    );
    println!("burst of {burst} creates → all Ready:        {burst_secs:.1} s");

    // Memory with many stores: record-only mode keeps the cost to the control plane itself.
    let record_only = Server::start_on(
        &fresh_database(Backend::Sqlite).await?,
        &[
            "--rate-limit-per-tenant",
            "0",
            "--rate-limit-per-address",
            "0",
        ],
    )
    .await?;
    let pid = record_only.pid().context("pid")?;
    let before = rss_mib(pid);
    let mut client = record_only.stores().await?;
    for i in 0..many {
        client
            .create_store(create_request(&format!("m-{i:06}")))
            .await?;
    }
    let mut watchers = Vec::new();
    for _ in 0..10 {
        let mut w = record_only
            .stores()
            .await?
            .watch_stores(pb::WatchStoresRequest::default())
            .await?
            .into_inner();
        while let Some(Ok(e)) = w.next().await {
            if e.r#type() == EventType::InitialListComplete {
                break;
            }
        }
        watchers.push(w);
    }
    println!(
        "control plane RSS: {before:.1} MiB empty, {:.1} MiB with {many} stores and 10 open watches",
        rss_mib(pid)
    );
    Ok(())
}
