//! Harness for end-to-end tests: starts the real `storeplane` binary on a
//! fresh database (a SQLite file, or a new database on the PostgreSQL server
//! `cargo xtask test` started) and connects clients to it over a real socket.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use pb::watch_stores_response::EventType;
use storeplane_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, audit_service_client::AuditServiceClient,
    engine_service_client::EngineServiceClient, store_service_client::StoreServiceClient,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tokio_stream::StreamExt as _;
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

pub mod clusters;
pub mod dockerignore;
pub mod replicas;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Sends `token`; an empty token sends no header at all.
    pub fn new(token: &str) -> Result<Self> {
        if token.is_empty() {
            return Ok(Self(None));
        }
        Ok(Self(Some(format!("Bearer {token}").parse()?)))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that authenticates every call.
pub type Authed = InterceptedService<Channel, Bearer>;

pub use storeplane_proto::v1;

/// Which database a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file of its own.
    Sqlite,
    /// A database of its own on the test PostgreSQL server.
    Postgres,
}

/// Generates one `#[tokio::test]` per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `storeplane` binary under test.
pub fn binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("STOREPLANE_BIN") {
        return Ok(bin.into());
    }
    let bin = repo_root().join("target/debug/storeplane");
    if bin.is_file() {
        return Ok(bin);
    }
    bail!(
        "storeplane binary not found: run `cargo xtask test` (or build with `cargo build --workspace --bins`)"
    )
}

/// A fresh, empty database URL for `backend`.
pub async fn fresh_database(backend: Backend) -> Result<String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let dir = repo_root().join("target/e2e").join(&id);
            std::fs::create_dir_all(&dir)?;
            Ok(format!(
                "sqlite://{}?mode=rwc",
                dir.join("storeplane.db").display()
            ))
        }
        Backend::Postgres => {
            let admin = std::env::var("STOREPLANE_TEST_PG").context(
                "STOREPLANE_TEST_PG is not set: run the tests with `cargo xtask test`, \
                 which starts a PostgreSQL server for them",
            )?;
            let pool = sqlx::PgPool::connect(&admin).await?;
            let name = format!("sp_{id}");
            // `name` is a generated identifier (hex digits only).
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await?;
            pool.close().await;
            let base = admin
                .rsplit_once('/')
                .map(|(base, _)| base)
                .context("STOREPLANE_TEST_PG has no database path")?;
            Ok(format!("{base}/{name}"))
        }
    }
}

/// A running `storeplane serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The database it runs on.
    pub database_url: String,
    /// The administrator token written at first start (empty when the
    /// database already had tokens or authentication is disabled).
    pub admin_token: String,
    /// Where the server wrote it (`storeplane admin token written to …`).
    pub admin_token_file: Option<PathBuf>,
    /// URL of the simulated cluster's API when the server serves it.
    pub cluster_url: Option<String>,
    /// `http://127.0.0.1:<port>/metrics` when started with `--metrics-listen`.
    pub metrics_url: Option<String>,
    log: PathBuf,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

/// Options for [`Server::start_with`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Extra `serve` arguments.
    pub args: Vec<String>,
}

impl Server {
    /// Starts a server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Result<Self> {
        let db = fresh_database(backend).await?;
        Self::start_on(&db, &[]).await
    }

    /// Starts a server on `database_url` with extra `serve` arguments.
    pub async fn start_on(database_url: &str, args: &[&str]) -> Result<Self> {
        Self::start_logging(database_url, args, "info,storeplane=debug").await
    }

    /// Like [`Server::start_on`], logging at `filter` (`RUST_LOG` syntax):
    /// benchmarks log less than tests.
    pub async fn start_logging(database_url: &str, args: &[&str], filter: &str) -> Result<Self> {
        let log_dir = repo_root().join("target/e2e/logs");
        std::fs::create_dir_all(&log_dir)?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let log = log_dir.join(format!("{run}.log"));
        // Each server writes its first admin token to a file of its own.
        let token_file = log_dir.join(format!("{run}.admin-token"));
        let token_args: Vec<String> = if args.contains(&"--admin-token-file") {
            Vec::new()
        } else {
            vec![
                "--admin-token-file".into(),
                token_file.display().to_string(),
            ]
        };
        // Each server keeps its backups apart too (they would land in the
        // data directory, here the tests' working directory).
        let backup_args: Vec<String> = if args.contains(&"--backup-dir") {
            Vec::new()
        } else {
            vec![
                "--backup-dir".into(),
                repo_root()
                    .join("target/e2e/backups")
                    .join(&run)
                    .display()
                    .to_string(),
            ]
        };
        let mut child = Command::new(binary()?)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--database-url", database_url])
            .args(&backup_args)
            .arg("--engines-file")
            .arg(repo_root().join("plugins/engines.json"))
            .args(["--watch-heartbeat", "1s"])
            // API tests record stores only; provisioning tests choose a cluster.
            .args(if args.contains(&"--cluster") {
                &[][..]
            } else {
                &["--cluster", "none"][..]
            })
            .args(&token_args)
            .args(args)
            .env("RUST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting storeplane")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut admin_token_file = None;
        let mut cluster_url = None;
        let mut metrics_url = None;
        let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = |line: &str| {
            if let Ok(mut text) = printed.lock() {
                text.push_str(line);
                text.push('\n');
            }
        };
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                keep(&line);
                if let Some(url) = line.strip_prefix("storeplane metrics at ") {
                    metrics_url = Some(url.trim().to_owned());
                }
                if let Some(path) = line.strip_prefix("storeplane admin token written to ") {
                    admin_token_file = Some(PathBuf::from(path.trim()));
                }
                if let Some(url) = line.strip_prefix("storeplane simulated cluster at ") {
                    cluster_url = Some(url.trim().to_owned());
                }
                if let Some(url) = line.strip_prefix("storeplane listening on http://") {
                    return Ok(url.to_owned());
                }
            }
            bail!("storeplane exited before listening")
        })
        .await
        .context("storeplane did not start within 60 s")?
        .with_context(|| {
            format!(
                "storeplane failed to start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        // Keep draining stdout so the server never blocks on a full pipe.
        let drained = std::sync::Arc::clone(&printed);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut text) = drained.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let admin_token = match &admin_token_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the admin token from {}", path.display()))?
                .trim()
                .to_owned(),
            None => String::new(),
        };
        Ok(Self {
            child: Some(child),
            url: format!("http://{addr}"),
            addr,
            database_url: database_url.to_owned(),
            admin_token,
            admin_token_file,
            cluster_url,
            metrics_url,
            log,
            stdout: printed,
        })
    }

    /// A gRPC channel to the server.
    pub async fn channel(&self) -> Result<Channel> {
        Ok(Channel::from_shared(self.url.clone())?.connect().await?)
    }

    /// A channel sending `token` with every call.
    pub async fn authed(&self, token: &str) -> Result<Authed> {
        Ok(InterceptedService::new(
            self.channel().await?,
            Bearer::new(token)?,
        ))
    }

    /// A StoreService client acting as the administrator.
    pub async fn stores(&self) -> Result<StoreServiceClient<Authed>> {
        self.stores_as(&self.admin_token).await
    }

    /// The first page (200 entries) of a store's timeline, as the
    /// administrator reads it.
    pub async fn timeline(&self, name: &str) -> Result<Vec<v1::StoreEvent>> {
        Ok(self
            .stores()
            .await?
            .list_store_events(v1::ListStoreEventsRequest {
                name: name.to_owned(),
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .events)
    }

    /// A StoreService client sending `token`.
    pub async fn stores_as(&self, token: &str) -> Result<StoreServiceClient<Authed>> {
        Ok(StoreServiceClient::new(self.authed(token).await?))
    }

    /// An EngineService client acting as the administrator.
    pub async fn engines(&self) -> Result<EngineServiceClient<Authed>> {
        Ok(EngineServiceClient::new(
            self.authed(&self.admin_token).await?,
        ))
    }

    /// An AdminService client sending `token`.
    pub async fn admin_as(&self, token: &str) -> Result<AdminServiceClient<Authed>> {
        Ok(AdminServiceClient::new(self.authed(token).await?))
    }

    /// An AuditService client sending `token`.
    pub async fn audit_as(&self, token: &str) -> Result<AuditServiceClient<Authed>> {
        Ok(AuditServiceClient::new(self.authed(token).await?))
    }

    /// Creates a tenant (with `quota`) and a member token for it; returns the token.
    pub async fn tenant_with_token(&self, id: &str, quota: Option<pb::Quota>) -> Result<String> {
        let mut admin = self.admin_as(&self.admin_token).await?;
        admin
            .create_tenant(pb::CreateTenantRequest {
                id: id.into(),
                display_name: String::new(),
                quota,
            })
            .await?;
        let issued = admin
            .create_token(pb::CreateTokenRequest {
                tenant: id.into(),
                role: pb::Role::Member.into(),
                description: "test".into(),
                ttl: None,
            })
            .await?
            .into_inner();
        Ok(issued.secret)
    }

    /// `WatchStores` from the start, as the administrator.
    pub async fn watch(&self) -> Result<tonic::Streaming<pb::WatchStoresResponse>> {
        Ok(self
            .stores()
            .await?
            .watch_stores(pb::WatchStoresRequest::default())
            .await?
            .into_inner())
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The text of its Prometheus metrics (needs `--metrics-listen`).
    pub async fn metrics(&self) -> Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let url = self
            .metrics_url
            .as_deref()
            .context("started without --metrics-listen")?;
        let rest = url.strip_prefix("http://").context("metrics URL")?;
        let (host, path) = rest.split_once('/').context("metrics path")?;
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream
            .write_all(
                format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The installation id the server labels what it owns with.
    pub async fn installation_id(&self) -> Result<String> {
        Ok(
            storeplane_proto::v1::info_service_client::InfoServiceClient::new(
                self.channel().await?,
            )
            .get_server_info(storeplane_proto::v1::GetServerInfoRequest {})
            .await?
            .into_inner()
            .installation_id,
        )
    }

    /// A Kubernetes client for the simulated cluster this server serves.
    pub async fn kube(&self) -> Result<kube::Client> {
        let url = self
            .cluster_url
            .as_deref()
            .context("this server does not serve its simulated cluster (--sim-apiserver-addr)")?;
        kube_client(url)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Kills the server with SIGKILL (no clean-up at all).
    pub async fn kill(&mut self) -> Result<()> {
        let mut child = self.child.take().context("already stopped")?;
        child.kill().await?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let pid = child.id().context("no pid")?;
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        Ok(tokio::time::timeout(Duration::from_secs(30), child.wait()).await??)
    }
}

/// A Kubernetes client for the API server at `url` (plain HTTP).
pub fn kube_client(url: &str) -> Result<kube::Client> {
    let config = kube::Config::new(url.parse()?);
    Ok(kube::Client::try_from(config)?)
}

/// Where `cargo xtask test` puts the plugin bundles.
pub fn plugins_dir() -> PathBuf {
    std::env::var_os("STOREPLANE_TEST_PLUGINS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-plugins"))
}

/// `serve` arguments for provisioning on the in-process simulated cluster
/// with no kubelet delay, with the built plugins.
pub fn provisioning_args() -> Vec<String> {
    vec![
        "--cluster".into(),
        "simulated".into(),
        "--sim-delay".into(),
        "0s".into(),
        "--plugins-dir".into(),
        plugins_dir().display().to_string(),
        "--plugin-cache".into(),
        repo_root()
            .join("target/plugin-cache")
            .display()
            .to_string(),
        "--sim-apiserver-addr".into(),
        "127.0.0.1:0".into(),
        "--rate-limit-per-tenant".into(),
        "0".into(),
        "--rate-limit-per-address".into(),
        "0".into(),
    ]
}

/// The simulated cluster as its own process (`storeplane sim-cluster`),
/// which keeps its state while control planes come and go.
pub struct SimClusterProcess {
    child: Child,
    /// Its API, `http://127.0.0.1:<port>`.
    pub url: String,
    /// A kubeconfig pointing at it.
    pub kubeconfig: PathBuf,
}

impl SimClusterProcess {
    /// Starts one with every simulated delay set to `delay` (e.g. `0s`).
    pub async fn start(delay: &str) -> Result<Self> {
        Self::start_with_workers(delay, None).await
    }

    /// [`Self::start`] with `workers` tokio worker threads (tokio's
    /// default, one per core, when `None`). The benchmarks run it on one:
    /// see `SIM_WORKERS` in the bench binary.
    pub async fn start_with_workers(delay: &str, workers: Option<usize>) -> Result<Self> {
        let dir = repo_root()
            .join("target/e2e")
            .join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&dir)?;
        let kubeconfig = dir.join("kubeconfig");
        let mut child = Command::new(binary()?)
            .args(["sim-cluster", "--listen", "127.0.0.1:0", "--delay", delay])
            .arg("--write-kubeconfig")
            .arg(&kubeconfig)
            // Read by `#[tokio::main]`'s runtime builder.
            .envs(workers.map(|n| ("TOKIO_WORKER_THREADS", n.to_string())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next_line().await?.context("sim-cluster exited")?;
            if let Some(url) = line.strip_prefix("storeplane simulated cluster at ") {
                break url.trim().to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            url,
            kubeconfig,
        })
    }

    /// A client of its API.
    pub fn client(&self) -> Result<kube::Client> {
        kube_client(&self.url)
    }

    /// `serve` arguments that use it as a real cluster, through the kubeconfig.
    pub fn serve_args(&self) -> Vec<String> {
        vec![
            "--cluster".into(),
            "kubernetes".into(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
        ]
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops it.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// How long provisioning may take in the tests (zero kubelet delay).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A create request for `engine` with a JSON configuration.
pub fn engine_request(
    name: &str,
    engine: &str,
    config: serde_json::Value,
) -> pb::CreateStoreRequest {
    let mut req = create_request(name);
    req.engine = engine.into();
    req.config = Some(to_struct(config));
    req
}

/// A JSON object as a protobuf `Struct` (strings, booleans, numbers).
pub fn to_struct(config: serde_json::Value) -> prost_types::Struct {
    let fields = config
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let kind = match v {
                        serde_json::Value::String(s) => {
                            prost_types::value::Kind::StringValue(s.clone())
                        }
                        serde_json::Value::Bool(b) => prost_types::value::Kind::BoolValue(*b),
                        serde_json::Value::Number(n) => {
                            prost_types::value::Kind::NumberValue(n.as_f64().unwrap_or(0.0))
                        }
                        _ => prost_types::value::Kind::NullValue(0),
                    };
                    (k.clone(), prost_types::Value { kind: Some(kind) })
                })
                .collect()
        })
        .unwrap_or_default();
    prost_types::Struct { fields }
}

/// Waits, through WatchStores, until every named store is in `phase`;
/// fails early when one fails (unless waiting for Failed).
pub async fn wait_for(
    server: &Server,
    names: &[&str],
    phase: pb::StorePhase,
) -> Result<Vec<pb::Store>> {
    wait_for_within(server, names, phase, PATIENCE).await
}

/// [`wait_for`] with a deadline of `patience`.
pub async fn wait_for_within(
    server: &Server,
    names: &[&str],
    phase: pb::StorePhase,
    patience: Duration,
) -> Result<Vec<pb::Store>> {
    let mut stream = server.watch().await?;
    let mut latest: std::collections::BTreeMap<String, pb::Store> = Default::default();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let done = names
            .iter()
            .all(|n| latest.get(*n).is_some_and(|s| s.phase() == phase));
        if done {
            return Ok(names
                .iter()
                .filter_map(|n| latest.get(*n).cloned())
                .collect());
        }
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(event)) => event?,
            Ok(None) => bail!("watch ended"),
            Err(_) => {
                let states: Vec<String> = latest
                    .values()
                    .map(|s| {
                        format!(
                            "{} {:?} {}: {}",
                            s.name,
                            s.phase(),
                            s.failure_reason,
                            s.failure_message
                        )
                    })
                    .collect();
                bail!(
                    "stores did not reach {phase:?} in time; last states: {states:#?}\nserver log tail:\n{}",
                    tail(&server.log())
                )
            }
        };
        let deleted = event.r#type() == EventType::Deleted;
        if let Some(store) = event.store {
            if deleted {
                latest.remove(&store.name);
                continue;
            }
            if store.phase() == pb::StorePhase::Failed
                && phase != pb::StorePhase::Failed
                && names.contains(&store.name.as_str())
            {
                bail!(
                    "store {} failed: {}: {}",
                    store.name,
                    store.failure_reason,
                    store.failure_message
                );
            }
            latest.insert(store.name.clone(), store);
        }
    }
}

/// The last 30 lines of a log.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A valid WooCommerce create request.
pub fn create_request(name: &str) -> pb::CreateStoreRequest {
    pb::CreateStoreRequest {
        name: name.to_owned(),
        engine: "woocommerce".to_owned(),
        config: Some(config(&[("admin_email", "owner@example.com")])),
        request_id: String::new(),
        tenant: String::new(),
        custom_domains: Vec::new(),
        from_backup: String::new(),
        backup_schedule: None,
    }
}

/// A `Struct` of string fields.
pub fn config(fields: &[(&str, &str)]) -> prost_types::Struct {
    prost_types::Struct {
        fields: fields
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue((*v).to_owned())),
                    },
                )
            })
            .collect(),
    }
}

/// Puts a store into the Failed phase directly in the database, as the
/// reconciler does when provisioning gives up.
pub async fn force_failed(database_url: &str, name: &str) -> Result<()> {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        sqlx::query(
            "UPDATE stores SET phase = 'Failed', failure_reason = 'ProvisioningTimedOut', \
             failure_message = 'forced by the test' WHERE name = ?1",
        )
        .bind(name)
        .execute(&pool)
        .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query(
            "UPDATE stores SET phase = 'Failed', failure_reason = 'ProvisioningTimedOut', \
             failure_message = 'forced by the test' WHERE name = $1",
        )
        .bind(name)
        .execute(&pool)
        .await?;
        pool.close().await;
    }
    Ok(())
}

/// The fields named in a status's `BadRequest` details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A PostgreSQL server of a test's own (`initdb --auth=trust` + `pg_ctl`,
/// as the `postgres` user when run as root), for tests that stop and start
/// the database; the shared test server is never stopped.
pub struct ThrowawayPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl ThrowawayPostgres {
    /// Initialises and starts one on a free port under `target/e2e`.
    pub fn start() -> Result<Self> {
        let bin = postgres_bin().context(
            "PostgreSQL's initdb and pg_ctl were not found under /usr/lib/postgresql \
             (`cargo xtask test` installs them)",
        )?;
        let dir = repo_root()
            .join("target/e2e")
            .join(format!("pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("socket"))?;
        let as_postgres = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if as_postgres {
            run(std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let server = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        run(server
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(server.dir.join("data")))
        .context("initdb")?;
        server.resume()?;
        Ok(server)
    }

    /// The superuser URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it (fast shutdown: open connections are cut).
    pub fn pause(&self) -> Result<()> {
        run(self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop"))
        .context("pg_ctl stop")
    }

    /// Starts it (again) on the same port and data.
    pub fn resume(&self) -> Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c max_connections=200",
            self.port,
            self.dir.join("socket").display()
        );
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &options, "start"]))
        .context("pg_ctl start")
    }

    fn command(&self, program: &str) -> std::process::Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = std::process::Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            std::process::Command::new(program)
        }
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = self.pause();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut std::process::Command) -> Result<()> {
    let out = command.output()?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}{}",
            command,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The newest `/usr/lib/postgresql/<version>/bin` with initdb and pg_ctl.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}
