//! A simulated Kubernetes cluster for storeplane, in the spirit of kwok
//! ("Kubernetes WithOut Kubelet"): an in-memory API server subset, a
//! simulated kubelet and the controllers whose status storeplane waits for.
//!
//! Reach it in-process with [`SimCluster::client`] (a real `kube::Client`
//! over a `tower::Service`), or over HTTP with [`SimCluster::serve`], which
//! also serves the discovery documents `kubectl` needs. [`run_standalone`] is
//! what `storeplane sim-cluster --listen ADDR --write-kubeconfig FILE` runs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_openapi::api::apps::v1::Deployment;
//! use storeplane_sim_cluster::{SimCluster, SimConfig};
//!
//! let cluster = SimCluster::new(SimConfig::instant());
//! let deployments: kube::Api<Deployment> = kube::Api::namespaced(cluster.client(), "default");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! tokio::spawn(cluster.serve(listener));
//! # let _ = deployments;
//! # Ok(())
//! # }
//! ```
//!
//! No container runs, with one exception played by the simulated kubelet:
//! the archive transfer container of storeplane's backup and restore Jobs
//! (an HTTP upload or download at the URL of a Secret annotated
//! `storeplane.dev/archive-transfer`), which the kubelet makes itself before
//! the Job's pod may succeed, so that backups work end to end here; a real
//! cluster runs that container.
//!
//! See the crate README for what is simulated and what is not.

mod admission;
mod api;
mod apply;
mod config;
mod error;
mod kubeconfig;
mod meta;
mod patch;
mod protobuf;
mod quantity;
mod registry;
mod selector;
mod server;
mod sim;
mod status;
mod store;
mod types;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use api::ResponseBody;
pub use config::{
    FAIL_ANNOTATION, Failure, FailureTarget, READY_AFTER_ANNOTATION, SimConfig, parse_duration,
};
pub use error::{Error, Result};
pub use kubeconfig::{CONTEXT_NAME, kubeconfig_yaml, write_kubeconfig};
pub use server::SimService;

use api::ApiContext;
use registry::Registry;
use sim::{Failures, Msg, Sim};
use store::Store;

/// Shared by every handle, service and connection of one cluster.
pub(crate) struct Inner {
    api: ApiContext,
    failures: Failures,
    controller: mpsc::UnboundedSender<Msg>,
    /// Dropped with the last handle, which stops the controller task.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// One simulated cluster. Cheap to clone: clones share the same state.
///
/// State lives in memory for the life of the cluster; the controller task
/// stops when the last clone (and every connection using it) is dropped.
#[derive(Clone)]
pub struct SimCluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCluster")
            .field("config", &self.inner.api.config)
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

impl SimCluster {
    /// Starts a cluster with the built-in namespaces (`default`,
    /// `kube-system`, ...), one Ready node and a default StorageClass.
    ///
    /// Must be called inside a Tokio runtime: it spawns the simulated
    /// kubelet/controller task.
    pub fn new(config: SimConfig) -> Self {
        let registry = Arc::new(Registry::builtin());
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let (msgs_tx, msgs_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let store = Arc::new(Store::new(registry, config.watch_history, records_tx));
        let failures: Failures = Arc::new(Mutex::new(HashMap::new()));
        sim::bootstrap(&store);
        spawn_compactor(&store, config.compaction_interval);
        Sim::spawn(
            Arc::clone(&store),
            config.clone(),
            Arc::clone(&failures),
            records_rx,
            msgs_tx.clone(),
            msgs_rx,
            shutdown_rx,
        );
        Self {
            inner: Arc::new(Inner {
                api: ApiContext { store, config },
                failures,
                controller: msgs_tx,
                _shutdown: shutdown_tx,
            }),
        }
    }

    /// The cluster's configuration.
    pub fn config(&self) -> &SimConfig {
        &self.inner.api.config
    }

    /// A `kube::Client` talking to this cluster in-process, with `default` as
    /// its default namespace.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }

    /// The API server as a `tower::Service` (what [`SimCluster::client`] uses).
    pub fn service(&self) -> SimService {
        SimService {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Serves the Kubernetes API over HTTP/1.1 on `listener` until the
    /// returned future is dropped. Spawn it: `tokio::spawn(cluster.serve(l))`.
    pub fn serve(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        server::serve(Arc::clone(&self.inner), listener)
    }

    /// Makes the simulated kubelet fail the target's workloads from now on
    /// (objects already running are re-evaluated at once). The same effect
    /// as the [`FAIL_ANNOTATION`] annotation; an annotation wins.
    pub fn inject_failure(&self, target: FailureTarget, failure: Failure) {
        self.failures().insert(target.clone(), failure);
        let _ = self.inner.controller.send(Msg::Resync(target));
    }

    /// Removes a failure injected with [`SimCluster::inject_failure`]; the
    /// target's workloads then become ready after their usual delay.
    pub fn clear_failure(&self, target: &FailureTarget) {
        self.failures().remove(target);
        let _ = self.inner.controller.send(Msg::Resync(target.clone()));
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<FailureTarget, Failure>> {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest resourceVersion (the number of changes so far).
    pub fn resource_version(&self) -> u64 {
        self.inner.api.store.resource_version()
    }
}

/// Compacts "etcd" as kube-apiserver's compactor does: every `interval`,
/// up to the resourceVersion seen at the previous tick. Stops with the
/// cluster (it holds the store weakly).
fn spawn_compactor(store: &Arc<Store>, interval: std::time::Duration) {
    if interval.is_zero() {
        return;
    }
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut previous = None;
        loop {
            tokio::time::sleep(interval).await;
            let Some(store) = store.upgrade() else {
                return;
            };
            if let Some(rv) = previous {
                store.compact(rv);
            }
            previous = Some(store.resource_version());
        }
    });
}

/// What `storeplane sim-cluster` runs with.
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// Where to listen, e.g. `127.0.0.1:6443` (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Where to write a kubeconfig pointing at the server, if anywhere.
    pub write_kubeconfig: Option<PathBuf>,
    /// Delays, pods, watch history.
    pub config: SimConfig,
}

/// A cluster bound to its port, its kubeconfig written, not yet serving:
/// lets a caller learn the URL (for port 0) before [`Standalone::run`].
#[derive(Debug)]
pub struct Standalone {
    cluster: SimCluster,
    listener: TcpListener,
    url: String,
}

impl Standalone {
    /// Binds `options.listen`, starts the cluster and writes the kubeconfig
    /// (after binding, so it names the real port).
    pub async fn start(options: StandaloneOptions) -> Result<Self> {
        let listen_error = |source| Error::Listen {
            addr: options.listen.to_string(),
            source,
        };
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let url = format!("http://{addr}");
        if let Some(path) = &options.write_kubeconfig {
            write_kubeconfig(path, &url).await?;
        }
        Ok(Self {
            cluster: SimCluster::new(options.config),
            listener,
            url,
        })
    }

    /// The server's URL, e.g. `http://127.0.0.1:6443`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster, for in-process access and failure injection.
    pub fn cluster(&self) -> &SimCluster {
        &self.cluster
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        tracing::info!(url = %self.url, "storeplane sim-cluster serving");
        tokio::select! {
            served = self.cluster.serve(self.listener) => served,
            () = shutdown => Ok(()),
        }
    }
}

/// Runs a cluster as a process would ([`Standalone::start`] then
/// [`Standalone::run`]): what `storeplane sim-cluster --listen ADDR
/// --write-kubeconfig FILE` calls, with Ctrl-C as `shutdown`.
pub async fn run_standalone(
    options: StandaloneOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    Standalone::start(options).await?.run(shutdown).await
}
