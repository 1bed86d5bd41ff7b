//! Runs the simulated cluster as a process, as `storeplane sim-cluster` does:
//!
//! ```sh
//! cargo run --example standalone -- --listen 127.0.0.1:6443 --write-kubeconfig /tmp/sim.kubeconfig
//! KUBECONFIG=/tmp/sim.kubeconfig kubectl get ns
//! ```
//!
//! `--sim-option NAME=VALUE` sets any [`SimConfig::set_option`] name, e.g.
//! `--sim-option delay=0`.

use std::path::PathBuf;

use storeplane_sim_cluster::{SimConfig, StandaloneOptions, run_standalone};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut listen = "127.0.0.1:6443".parse()?;
    let mut kubeconfig = None;
    let mut config = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--listen" => listen = value()?.parse()?,
            "--write-kubeconfig" => kubeconfig = Some(PathBuf::from(value()?)),
            "--sim-option" => {
                let option = value()?;
                let (name, val) = option
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--sim-option expects NAME=VALUE"))?;
                config.set_option(name, val)?;
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let options = StandaloneOptions {
        listen,
        write_kubeconfig: kubeconfig,
        config,
    };
    let shutdown = async {
        // Without a signal handler the process simply runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    run_standalone(options, shutdown).await?;
    Ok(())
}
