//! `bench watch-memory [stores=10000] [watchers=10]`: what each open
//! `WatchStores` stream costs the control plane. A control plane without a
//! cluster gets `stores` records, then `watchers` streams are opened one
//! after the other, each read to the end of its initial list; the
//! server's resident memory is printed after each, and after all are
//! closed again. The first shows the high-water mark of reading and
//! sending one list; the next ones what each open stream keeps, and the
//! figure after [`SETTLE`] idle what stays once the allocator has handed
//! the lists' memory back.

use std::time::Duration;

use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use storeplane_e2e::create_request;

use super::{SETTLE, open_watches, record_only, rss_mib, settled_rss_mib};

pub async fn run(args: &[String]) -> Result<()> {
    let stores: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let watchers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let server = record_only("warn").await?;
    let pid = server.pid().context("pid")?;
    let client = server.stores().await?;
    // 16 creates at a time: the records, not the burst, are measured here.
    let names: Vec<String> = (0..stores).map(|i| format!("w-{i:06}")).collect();
    futures::stream::iter(names)
        .map(|name| {
            let mut client = client.clone();
            async move { client.create_store(create_request(&name)).await }
        })
        .buffer_unordered(16)
        .for_each(|result| {
            if let Err(status) = result {
                eprintln!("create: {status}");
            }
            futures::future::ready(())
        })
        .await;
    let before = rss_mib(pid);
    println!("{stores} stores, no watch: {before:.1} MiB");
    let mut open = Vec::new();
    for i in 1..=watchers {
        open.extend(open_watches(&server, 1).await?);
        let rss = rss_mib(pid);
        println!(
            "{i} open watch(es), each read to the end of its list of {stores}: {rss:.1} MiB, {:.2} MiB per watch",
            (rss - before) / i as f64
        );
    }
    let settled = settled_rss_mib(pid).await;
    println!(
        "{watchers} open, idle {SETTLE:?}: {settled:.1} MiB, {:.2} MiB per watch",
        (settled - before) / watchers as f64
    );
    drop(open);
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("all closed again: {:.1} MiB", rss_mib(pid));
    Ok(())
}
