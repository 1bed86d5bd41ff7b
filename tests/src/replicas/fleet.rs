//! The replica processes: started, SIGKILLed, SIGTERMed and restarted,
//! their addresses published to the clients, their logs kept.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use tonic::transport::Channel;

use crate::{Server, SimClusterProcess, fresh_database, plugins_dir, repo_root};

/// Every service name `grpc.health.v1` reports on ("" is the whole server).
pub const HEALTH_SERVICES: [&str; 6] = [
    "",
    "storeplane.v1.StoreService",
    "storeplane.v1.EngineService",
    "storeplane.v1.AdminService",
    "storeplane.v1.AuditService",
    "storeplane.v1.InfoService",
];

/// The current address of each replica slot (`None` while it is down),
/// shared with the clients so they follow restarts.
#[derive(Clone, Default)]
pub struct Directory(Arc<Mutex<Vec<Option<String>>>>);

impl Directory {
    /// How many slots.
    pub fn len(&self) -> usize {
        self.0.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The URL of slot `slot`'s replica, if it is up.
    pub fn url(&self, slot: usize) -> Option<String> {
        self.0
            .lock()
            .ok()
            .and_then(|d| d.get(slot).cloned().flatten())
    }

    fn set(&self, slot: usize, url: Option<String>) {
        if let Ok(mut d) = self.0.lock() {
            if d.len() <= slot {
                d.resize(slot + 1, None);
            }
            d[slot] = url;
        }
    }
}

/// How an earlier incarnation of a replica ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// SIGKILL: whatever it was doing was cut off.
    Killed,
    /// SIGTERM: it shut down gracefully.
    Terminated,
}

/// One process of a replica slot.
struct Incarnation {
    id: String,
    server: Server,
}

/// A finished incarnation, kept for its log.
struct Retired {
    id: String,
    ended: Ended,
    log: String,
}

/// Replicas on one PostgreSQL database and one simulated cluster process.
pub struct Fleet {
    /// The cluster, which outlives every replica.
    pub cluster: SimClusterProcess,
    /// The database they share.
    pub database_url: String,
    /// The administrator token the first replica wrote.
    pub admin_token: String,
    /// Where the clients find the replicas.
    pub directory: Directory,
    args: Vec<String>,
    filter: String,
    slots: Vec<Option<Incarnation>>,
    retired: Vec<Retired>,
    started: usize,
}

impl Fleet {
    /// Starts `replicas` replicas on a fresh PostgreSQL database and a
    /// simulated cluster with kubelet delay `sim_delay`, each with `extra`
    /// `serve` arguments, logging JSON at `filter`.
    pub async fn start(
        replicas: usize,
        sim_delay: &str,
        extra: &[&str],
        filter: &str,
    ) -> Result<Self> {
        let cluster = SimClusterProcess::start(sim_delay).await?;
        let database_url = fresh_database(crate::Backend::Postgres).await?;
        let mut args = cluster.serve_args();
        args.extend(
            [
                "--plugins-dir",
                &plugins_dir().display().to_string(),
                "--plugin-cache",
                &repo_root()
                    .join("target/plugin-cache")
                    .display()
                    .to_string(),
                "--rate-limit-per-tenant",
                "0",
                "--rate-limit-per-address",
                "0",
                "--read-rate-limit-per-address",
                "0",
                "--read-rate-limit-per-tenant",
                "0",
                // JSON lines: the provision witness parses them.
                "--log-format",
                "json",
            ]
            .map(str::to_owned),
        );
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut fleet = Self {
            cluster,
            database_url,
            admin_token: String::new(),
            directory: Directory::default(),
            args,
            filter: filter.to_owned(),
            slots: (0..replicas).map(|_| None).collect(),
            retired: Vec::new(),
            started: 0,
        };
        // The first start migrates the database and writes the admin token.
        for slot in 0..replicas {
            fleet.restart(slot).await?;
        }
        Ok(fleet)
    }

    /// How many replica slots.
    pub fn replicas(&self) -> usize {
        self.slots.len()
    }

    /// Adds a slot and starts a replica in it; returns the slot.
    pub async fn add(&mut self) -> Result<usize> {
        self.slots.push(None);
        let slot = self.slots.len() - 1;
        self.restart(slot).await?;
        Ok(slot)
    }

    /// Slot `slot`'s current process.
    pub fn server(&self, slot: usize) -> Option<&Server> {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .map(|i| &i.server)
    }

    /// The replica id of slot `slot`'s current process.
    pub fn replica_id(&self, slot: usize) -> Option<&str> {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .map(|i| i.id.as_str())
    }

    /// Starts slot `slot` (again). Every process gets a new replica id, as
    /// pods of a Deployment get new names: a dead process's leases are
    /// then nobody's, and its stores wait for them to lapse.
    pub async fn restart(&mut self, slot: usize) -> Result<()> {
        ensure!(
            self.slots.get(slot).is_some_and(Option::is_none),
            "slot {slot} is running"
        );
        self.started += 1;
        let id = format!("replica-{slot}-{}", self.started);
        let mut args = self.args.clone();
        args.extend(["--replica-id".to_owned(), id.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Server::start_logging(&self.database_url, &args, &self.filter).await?;
        if self.admin_token.is_empty() {
            self.admin_token = server.admin_token.clone();
        }
        server.admin_token = self.admin_token.clone();
        self.directory.set(slot, Some(server.url.clone()));
        self.slots[slot] = Some(Incarnation { id, server });
        Ok(())
    }

    fn take(&mut self, slot: usize) -> Result<Incarnation> {
        let incarnation = self
            .slots
            .get_mut(slot)
            .and_then(Option::take)
            .with_context(|| format!("slot {slot} is not running"))?;
        self.directory.set(slot, None);
        Ok(incarnation)
    }

    /// SIGKILLs slot `slot`'s process.
    pub async fn kill(&mut self, slot: usize) -> Result<()> {
        let mut incarnation = self.take(slot)?;
        incarnation.server.kill().await?;
        self.retired.push(Retired {
            id: incarnation.id,
            ended: Ended::Killed,
            log: incarnation.server.log(),
        });
        Ok(())
    }

    /// SIGTERMs slot `slot`'s process, checks that `health` streams opened
    /// on it before saw every service turn NOT_SERVING, and returns how
    /// long it took to exit (successfully). Clients keep calling it until
    /// it has exited, as they would while a Service still routes to a pod
    /// that is going: calls in flight must finish, later ones fail over.
    pub async fn terminate(&mut self, slot: usize) -> Result<Termination> {
        let incarnation = self
            .slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .with_context(|| format!("slot {slot} is not running"))?;
        let health = HealthWatch::open(&incarnation.server.url).await?;
        let sent = Instant::now();
        let exiting = incarnation.server.terminate();
        let (status, flipped) = tokio::join!(exiting, health.not_serving(Duration::from_secs(15)));
        let exit = sent.elapsed();
        let incarnation = self.take(slot)?;
        let status = status?;
        let log = incarnation.server.log();
        ensure!(
            status.success(),
            "replica {} exited with {status}; its log:\n{}",
            incarnation.id,
            crate::tail(&log)
        );
        self.retired.push(Retired {
            id: incarnation.id.clone(),
            ended: Ended::Terminated,
            log,
        });
        Ok(Termination {
            replica: incarnation.id,
            exit,
            health_flipped: flipped?,
        })
    }

    /// The logs of every process so far: replica id, how it ended (`None`:
    /// still running), its log.
    pub fn logs(&self) -> Vec<(String, Option<Ended>, String)> {
        let mut logs: Vec<_> = self
            .retired
            .iter()
            .map(|r| (r.id.clone(), Some(r.ended), r.log.clone()))
            .collect();
        logs.extend(
            self.slots
                .iter()
                .flatten()
                .map(|i| (i.id.clone(), None, i.server.log())),
        );
        logs
    }

    /// The tails of the running replicas' logs, for failure messages.
    pub fn log_tails(&self) -> String {
        self.slots
            .iter()
            .flatten()
            .map(|i| format!("--- {}:\n{}", i.id, crate::tail(&i.server.log())))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One SIGTERM.
#[derive(Debug, Clone)]
pub struct Termination {
    /// The replica id.
    pub replica: String,
    /// SIGTERM → exit.
    pub exit: Duration,
    /// Whether every service's health turned NOT_SERVING first.
    pub health_flipped: bool,
}

/// `grpc.health.v1.Health/Watch` streams on every service of one replica.
struct HealthWatch {
    streams: Vec<tonic::Streaming<tonic_health::pb::HealthCheckResponse>>,
}

impl HealthWatch {
    /// Opens one stream per service and waits for its first (SERVING) answer.
    async fn open(url: &str) -> Result<Self> {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let channel = Channel::from_shared(url.to_owned())?.connect().await?;
        let mut streams = Vec::new();
        for service in HEALTH_SERVICES {
            let mut stream = HealthClient::new(channel.clone())
                .watch(HealthCheckRequest {
                    service: service.into(),
                })
                .await?
                .into_inner();
            let first = stream
                .message()
                .await?
                .with_context(|| format!("health of {service:?} ended at once"))?;
            ensure!(
                first.status() == tonic_health::pb::health_check_response::ServingStatus::Serving,
                "health of {service:?} was {:?} before the shutdown",
                first.status()
            );
            streams.push(stream);
        }
        Ok(Self { streams })
    }

    /// Whether every stream says NOT_SERVING within `within` (the streams
    /// are dropped then, as a client that saw it would).
    async fn not_serving(self, within: Duration) -> Result<bool> {
        use tonic_health::pb::health_check_response::ServingStatus;
        let deadline = tokio::time::Instant::now() + within;
        for mut stream in self.streams {
            loop {
                match tokio::time::timeout_at(deadline, stream.message()).await {
                    Ok(Ok(Some(answer))) if answer.status() == ServingStatus::NotServing => break,
                    Ok(Ok(Some(_))) => {}
                    // Ended or cut before saying NOT_SERVING.
                    Ok(Ok(None) | Err(_)) | Err(_) => return Ok(false),
                }
            }
        }
        Ok(true)
    }
}
