//! One scenario, two clusters: the simulated cluster (in-process, per
//! server) and a real Kubernetes control plane (kube-apiserver, controllers,
//! scheduler and kwok's fake nodes, started once per test run by `cargo
//! xtask test`, see `tests/k8s/`). Whatever passes on one and fails on the
//! other is a bug in storeplane or in the simulator.
//!
//! The real cluster is shared by every test of the run, so store names are
//! made unique there ([`Env::name`]); each server has its own database and
//! so its own installation id, which keeps the tests' stores apart.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, Result};

use crate::{Backend, Server, fresh_database, kube_client, provisioning_args};

/// Which cluster a test provisions on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterKind {
    /// The simulated cluster, in the control plane's process.
    Simulated,
    /// The real control plane `cargo xtask test` started
    /// (`STOREPLANE_TEST_KUBECONFIG`).
    Real,
}

/// Where a provisioning scenario runs: a database and a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    /// The database.
    pub backend: Backend,
    /// The cluster.
    pub cluster: ClusterKind,
}

/// How long provisioning may take on the real cluster: kwok's pods are
/// ready at once, but controllers, Jobs and namespace finalization take
/// real seconds (a namespace takes 10–20 s to go).
pub const REAL_PATIENCE: Duration = Duration::from_secs(180);

/// The real cluster's admin kubeconfig.
pub fn real_kubeconfig() -> Result<PathBuf> {
    std::env::var_os("STOREPLANE_TEST_KUBECONFIG")
        .map(PathBuf::from)
        .context(
            "STOREPLANE_TEST_KUBECONFIG is not set: `cargo xtask test` starts the real \
             Kubernetes control plane and sets it (by hand: `cargo xtask cluster up`, then \
             STOREPLANE_TEST_KUBECONFIG=target/k8s/run/admin.kubeconfig)",
        )
}

/// A client of the real cluster.
pub async fn real_client() -> Result<kube::Client> {
    let path = real_kubeconfig()?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&path)
        .with_context(|| format!("reading {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

impl Env {
    /// The simulated cluster on `backend`.
    pub fn simulated(backend: Backend) -> Self {
        Self {
            backend,
            cluster: ClusterKind::Simulated,
        }
    }

    /// The real cluster on `backend`.
    pub fn real(backend: Backend) -> Self {
        Self {
            backend,
            cluster: ClusterKind::Real,
        }
    }

    /// A store name for `base`: `base` itself on a simulated cluster of
    /// its own, `base-xxxxx` on the shared real cluster.
    pub fn name(&self, base: &str) -> String {
        match self.cluster {
            ClusterKind::Simulated => base.to_owned(),
            ClusterKind::Real => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                format!("{base}-{}", &id[..5])
            }
        }
    }

    /// How long a store may take to reach a phase here.
    pub fn patience(&self) -> Duration {
        match self.cluster {
            ClusterKind::Simulated => crate::PATIENCE,
            ClusterKind::Real => REAL_PATIENCE,
        }
    }

    /// `serve` arguments that provision on this cluster with the test
    /// plugins and no rate limits.
    pub fn serve_args(&self) -> Result<Vec<String>> {
        let mut args = provisioning_args();
        if self.cluster == ClusterKind::Real {
            // Replace `--cluster simulated --sim-delay 0s --sim-apiserver-addr …`.
            let mut kept = Vec::new();
            let mut skip = false;
            for arg in args {
                if skip {
                    skip = false;
                    continue;
                }
                if ["--cluster", "--sim-delay", "--sim-apiserver-addr"].contains(&arg.as_str()) {
                    skip = true;
                    continue;
                }
                kept.push(arg);
            }
            kept.extend([
                "--cluster".into(),
                "kubernetes".into(),
                "--kubeconfig".into(),
                real_kubeconfig()?.display().to_string(),
            ]);
            args = kept;
        }
        Ok(args)
    }

    /// A server on a fresh database provisioning on this cluster, with
    /// `extra` arguments.
    pub async fn start(&self, extra: &[&str]) -> Result<Server> {
        let mut args = self.serve_args()?;
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::start_on(&fresh_database(self.backend).await?, &args).await
    }

    /// Waits until every named store is in `phase` (see [`crate::wait_for`]).
    pub async fn wait_for(
        &self,
        server: &Server,
        names: &[&str],
        phase: crate::v1::StorePhase,
    ) -> Result<Vec<crate::v1::Store>> {
        crate::wait_for_within(server, names, phase, self.patience()).await
    }

    /// Creates a static-site store named after `base` and waits until it
    /// is Ready; its name and its namespace.
    pub async fn ready_static_site(&self, server: &Server, base: &str) -> Result<(String, String)> {
        let name = self.name(base);
        server
            .stores()
            .await?
            .create_store(crate::engine_request(
                &name,
                "static-site",
                serde_json::json!({}),
            ))
            .await?;
        self.wait_for(server, &[&name], crate::v1::StorePhase::Ready)
            .await?;
        let namespace = format!("store-{name}");
        Ok((name, namespace))
    }

    /// A Kubernetes client of the cluster `server` provisions on.
    pub async fn kube(&self, server: &Server) -> Result<kube::Client> {
        match self.cluster {
            ClusterKind::Simulated => server.kube().await,
            ClusterKind::Real => real_client().await,
        }
    }
}

/// A cluster that outlives the control planes a test starts and stops on
/// it: the simulated cluster as its own process, or the real one.
pub struct SharedCluster {
    sim: Option<crate::SimClusterProcess>,
}

impl Env {
    /// This environment's cluster as one that outlives servers (`delay`:
    /// the simulated kubelet's, e.g. `0s`).
    pub async fn shared_cluster(&self, delay: &str) -> Result<SharedCluster> {
        Ok(SharedCluster {
            sim: match self.cluster {
                ClusterKind::Simulated => Some(crate::SimClusterProcess::start(delay).await?),
                ClusterKind::Real => None,
            },
        })
    }
}

impl SharedCluster {
    /// `serve` arguments provisioning on it with the test plugins.
    pub fn serve_args(&self) -> Result<Vec<String>> {
        let kubeconfig = match &self.sim {
            Some(sim) => sim.kubeconfig.clone(),
            None => real_kubeconfig()?,
        };
        Ok(vec![
            "--cluster".into(),
            "kubernetes".into(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--plugins-dir".into(),
            crate::plugins_dir().display().to_string(),
            "--plugin-cache".into(),
            crate::repo_root()
                .join("target/plugin-cache")
                .display()
                .to_string(),
        ])
    }

    /// A client of it.
    pub async fn client(&self) -> Result<kube::Client> {
        match &self.sim {
            Some(sim) => sim.client(),
            None => real_client().await,
        }
    }

    /// Stops the simulated cluster (the real one stays up for other tests).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(sim) = &mut self.sim {
            sim.kill().await?;
        }
        Ok(())
    }
}

/// A client for the simulated cluster at `url`, or the real one.
pub async fn client_for(cluster: ClusterKind, sim_url: Option<&str>) -> Result<kube::Client> {
    match cluster {
        ClusterKind::Simulated => kube_client(sim_url.context("no simulated cluster URL")?),
        ClusterKind::Real => real_client().await,
    }
}

/// Generates, from an `async fn(Env)`, one test per setup: the simulated
/// cluster on SQLite and on PostgreSQL, and the real cluster on PostgreSQL.
#[macro_export]
macro_rules! on_every_cluster {
    ($($name:ident),* $(,)?) => {
        mod sqlite_sim {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::clusters::Env::simulated($crate::Backend::Sqlite)).await
                }
            )*
        }
        mod postgres_sim {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::clusters::Env::simulated($crate::Backend::Postgres)).await
                }
            )*
        }
        mod postgres_real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::clusters::Env::real($crate::Backend::Postgres)).await
                }
            )*
        }
    };
}

/// Like [`on_every_cluster!`] with one database (SQLite) on each cluster,
/// for scenarios where the database makes no difference.
#[macro_export]
macro_rules! on_both_clusters {
    ($($name:ident),* $(,)?) => {
        mod sim {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::clusters::Env::simulated($crate::Backend::Sqlite)).await
                }
            )*
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::clusters::Env::real($crate::Backend::Sqlite)).await
                }
            )*
        }
    };
}
