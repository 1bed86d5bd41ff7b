//! `storeplane sim-cluster`: the simulated cluster as its own process, for
//! kubectl and for tests that want a cluster without storeplane.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::Args;
use tracing::info;

/// `storeplane sim-cluster`.
#[derive(Args)]
pub struct SimClusterArgs {
    /// Address of the simulated API server.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write a kubeconfig for it here.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Kubelet delays: `0s` for tests, a few seconds for demos.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    delay: Duration,
}

/// Serves the simulated cluster until Ctrl-C.
pub async fn run(args: SimClusterArgs) -> anyhow::Result<()> {
    let cluster = storeplane_sim_cluster::SimCluster::new(
        storeplane_sim_cluster::SimConfig::default().with_delays(args.delay),
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(path) = &args.write_kubeconfig {
        storeplane_sim_cluster::write_kubeconfig(path, &url).await?;
    }
    println!("storeplane simulated cluster at {url}");
    info!(%url, "simulated cluster serving; try: kubectl --server {url} get ns");
    tokio::select! {
        result = cluster.serve(listener) => result?,
        _ = tokio::signal::ctrl_c() => info!("stopping"),
    }
    Ok(())
}
