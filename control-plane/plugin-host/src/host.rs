//! Loading bundles and calling plugins.

use std::{
    collections::BTreeMap,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::{Arc, PoisonError},
    time::Duration,
};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::{Instrument as _, debug, info, warn};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
    component::{Component, HasSelf, Linker},
};

use crate::{
    backend::{HostBackend, StoreContext},
    error::{CallError, LoadError},
    guest::{self, Archive, JobPhase, Operation},
    limits,
    manifest::{Capability, Grants, Manifest},
    state::{CallState, PluginGrant},
    v0_1, v0_2,
};

/// The export name whose presence identifies the WIT version.
const PLUGIN_EXPORT: &str = "storeplane:engine/plugin@";

/// How often the epoch advances. A computing guest yields to the async
/// runtime once per tick, and deadlines are this precise.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Extra wall-clock time allowed to a call blocked in a host call (which
/// epochs cannot interrupt) before it is abandoned.
const HOST_CALL_GRACE: Duration = Duration::from_secs(5);

/// How the host runs plugins.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Directory of bundles, one sub-directory each.
    pub plugins_dir: PathBuf,
    /// Where compiled components are cached; `None`: compile at every start.
    pub cache_dir: Option<PathBuf>,
    /// What the operator grants.
    pub grants: Grants,
    /// Wall-clock deadline of one call.
    pub call_timeout: Duration,
    /// Linear-memory limit of one call, in bytes.
    pub memory_limit: usize,
    /// Most calls running at once (sizes the instance pool).
    pub max_concurrent_calls: u32,
}

impl HostConfig {
    /// Defaults for `plugins_dir`: 30 s per call, 128 MiB, 64 concurrent calls.
    pub fn new(plugins_dir: impl Into<PathBuf>) -> Self {
        Self {
            plugins_dir: plugins_dir.into(),
            cache_dir: None,
            grants: Grants::default(),
            call_timeout: Duration::from_secs(30),
            memory_limit: 128 << 20,
            max_concurrent_calls: 64,
        }
    }
}

/// An engine as a loaded plugin describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineDescription {
    /// Engine id.
    pub id: String,
    /// Name shown to people.
    pub display_name: String,
    /// Engine version.
    pub version: String,
    /// One paragraph.
    pub description: String,
    /// JSON Schema of the store configuration.
    pub config_schema: Value,
    /// What the plugin asked for.
    pub requested: Vec<Capability>,
    /// What it may use.
    pub granted: Vec<Capability>,
    /// `storeplane:engine` version it was built against.
    pub wit_version: String,
    /// The optional operations it implements (none before WIT 0.2).
    pub operations: Vec<Operation>,
}

impl EngineDescription {
    /// Whether the plugin implements `operation`.
    pub fn supports(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }
}

/// A configuration problem reported by a plugin's `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Path inside the configuration.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A store's state as its plugin observes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Provisioning, ready or failed.
    pub phase: ObservedPhase,
    /// Progress or failure detail.
    pub message: String,
    /// CamelCase reason when failed.
    pub reason: String,
    /// Storefront URL once known.
    pub storefront_url: Option<String>,
    /// Admin URL once known.
    pub admin_url: Option<String>,
    /// Secret with the admin credentials.
    pub credentials_secret: Option<String>,
}

/// Phases a plugin can observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedPhase {
    /// Coming up.
    Provisioning,
    /// Takes orders.
    Ready,
    /// Will not come up.
    Failed,
    /// Paused: no workload runs, the data is kept.
    Suspended,
}

/// A backup's or restore's Job as its plugin reports it, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// Running, succeeded or failed.
    pub phase: JobPhase,
    /// Progress or failure detail.
    pub message: String,
    /// CamelCase reason when failed.
    pub reason: String,
    /// Archive size once known.
    pub size_bytes: Option<u64>,
    /// Archive SHA-256 (64 lowercase hex digits) once known.
    pub sha256: Option<String>,
}

struct Plugin {
    description: EngineDescription,
    grant: Arc<PluginGrant>,
    pre: Pre,
}

/// A component pre-linked against the bindings of the WIT version it
/// exports.
enum Pre {
    V0_1(v0_1::EnginePre<CallState>),
    V0_2(v0_2::EnginePre<CallState>),
}

/// One call of a plugin export, with its arguments in the host's types;
/// each version's module converts them.
pub(crate) enum Op {
    Describe,
    Validate(String),
    Provision(StoreContext),
    Observe(StoreContext),
    Deprovision(StoreContext),
    Upgrade(StoreContext, String),
    Backup(StoreContext, Archive),
    Restore(StoreContext, Archive),
    Suspend(StoreContext),
    Resume(StoreContext),
}

impl Op {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Describe => "describe",
            Op::Validate(_) => "validate",
            Op::Provision(_) => "provision",
            Op::Observe(_) => "observe",
            Op::Deprovision(_) => "deprovision",
            Op::Upgrade(..) => "upgrade",
            Op::Backup(..) => "backup",
            Op::Restore(..) => "restore",
            Op::Suspend(_) => "suspend",
            Op::Resume(_) => "resume",
        }
    }

    /// The optional operation this call needs the plugin to implement.
    fn optional(&self) -> Option<Operation> {
        match self {
            Op::Backup(..) => Some(Operation::Backup),
            Op::Restore(..) => Some(Operation::Restore),
            Op::Suspend(_) => Some(Operation::Suspend),
            Op::Resume(_) => Some(Operation::Resume),
            _ => None,
        }
    }
}

/// What an export returned, in the host's types.
pub(crate) enum Returned {
    Info(guest::Info),
    Problems(Vec<guest::FieldError>),
    Done(Result<(), guest::Failure>),
    Observed(Result<guest::Observation, guest::Failure>),
    Job(Result<guest::JobStatus, guest::Failure>),
}

/// The epoch clock: a thread that ticks the engine's epoch every
/// [`EPOCH_TICK`] while at least one call runs, and sleeps on a condition
/// variable otherwise, so an idle control plane spends no CPU on it (a
/// clock ticking forever woke the process 100 times a second).
struct Ticker {
    state: Arc<(std::sync::Mutex<TickerState>, std::sync::Condvar)>,
}

#[derive(Default)]
struct TickerState {
    /// Calls running now.
    calls: usize,
    /// The host is gone: the thread ends.
    stopped: bool,
}

impl Ticker {
    fn start(tick: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let state = Arc::new((
            std::sync::Mutex::new(TickerState::default()),
            std::sync::Condvar::new(),
        ));
        let shared = Arc::clone(&state);
        // A dedicated thread keeps the clock going even when every async
        // worker is busy running guests.
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                let (lock, wake) = &*shared;
                let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if state.stopped {
                        return;
                    }
                    if state.calls == 0 {
                        state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                        continue;
                    }
                    drop(state);
                    std::thread::sleep(EPOCH_TICK);
                    tick();
                    state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                }
            })?;
        Ok(Self { state })
    }

    /// Keeps the clock ticking until the returned guard is dropped.
    fn running(&self) -> TickerCall {
        let (lock, wake) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        state.calls += 1;
        if state.calls == 1 {
            wake.notify_one();
        }
        TickerCall {
            state: Arc::clone(&self.state),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let (lock, wake) = &*self.state;
        lock.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
        wake.notify_one();
    }
}

/// One call's hold on the epoch clock.
struct TickerCall {
    state: Arc<(std::sync::Mutex<TickerState>, std::sync::Condvar)>,
}

impl Drop for TickerCall {
    fn drop(&mut self) {
        let (lock, _) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        state.calls = state.calls.saturating_sub(1);
    }
}

/// Loaded plugins and the sandbox they run in.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<CallState>,
    backend: Arc<dyn HostBackend>,
    config: HostConfig,
    plugins: BTreeMap<String, Plugin>,
    rejected: Vec<LoadError>,
    ticker: Ticker,
}

impl PluginHost {
    /// A host with no plugins yet.
    pub fn new(config: HostConfig, backend: Arc<dyn HostBackend>) -> Result<Self, LoadError> {
        let mut wasm = Config::new();
        // Each call's execution stack is handed back zeroed (decommitted):
        // one tenant's call never sees what another's left on a reused
        // stack, and a stack used once in a burst does not stay resident
        // (2 MiB reserved each; ~3 MiB stayed resident across the default
        // 1,000 after a burst of 1,000 provisions).
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .async_stack_zeroing(true);
        let calls = config.max_concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(calls)
            .total_stacks(calls)
            .total_core_instances(calls.saturating_mul(16))
            .total_memories(calls.saturating_mul(2))
            .total_tables(calls.saturating_mul(16))
            .max_memory_size(config.memory_limit);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| LoadError::Runtime(e.to_string()))?;

        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Runtime(e.to_string()))?;
        v0_1::Engine::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Runtime(e.to_string()))?;
        v0_2::Engine::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Runtime(e.to_string()))?;

        // Epoch interruption needs a clock.
        let ticking = engine.clone();
        let ticker = Ticker::start(move || ticking.increment_epoch())
            .map_err(|e| LoadError::Runtime(e.to_string()))?;

        Ok(Self {
            engine,
            linker,
            backend,
            config,
            plugins: BTreeMap::new(),
            rejected: Vec::new(),
            ticker,
        })
    }

    /// Loads every bundle under the plugins directory. A bad bundle is
    /// rejected (see [`PluginHost::rejected`]) without stopping the others.
    pub async fn load(
        config: HostConfig,
        backend: Arc<dyn HostBackend>,
    ) -> Result<Self, LoadError> {
        let dir = config.plugins_dir.clone();
        let mut host = Self::new(config, backend)?;
        let entries = std::fs::read_dir(&dir).map_err(|source| LoadError::ReadDir {
            path: dir.clone(),
            source,
        })?;
        let mut bundles: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.join("plugin.toml").is_file())
            .collect();
        bundles.sort();
        for bundle in bundles {
            if let Err(err) = host.load_bundle(&bundle).await {
                warn!(error = %err, "plugin rejected");
                host.rejected.push(err);
            }
        }
        Ok(host)
    }

    /// Loads one bundle directory.
    pub async fn load_bundle(&mut self, bundle: &Path) -> Result<&EngineDescription, LoadError> {
        match crate::links::first_symlink(bundle) {
            Ok(None) => {}
            Ok(Some(path)) => {
                return Err(LoadError::Symlink {
                    bundle: bundle.to_path_buf(),
                    path,
                });
            }
            Err(source) => {
                return Err(LoadError::ReadFile {
                    bundle: bundle.to_path_buf(),
                    path: bundle.to_path_buf(),
                    source,
                });
            }
        }
        let manifest = Manifest::load(bundle)?;
        if let Some(existing) = self.plugins.get(&manifest.id) {
            return Err(LoadError::Duplicate {
                id: manifest.id.clone(),
                first: existing.grant.bundle.clone(),
                second: bundle.to_path_buf(),
            });
        }
        let component_path = bundle.join(&manifest.component);
        let bytes = std::fs::read(&component_path).map_err(|source| LoadError::ReadFile {
            bundle: bundle.to_path_buf(),
            path: component_path.clone(),
            source,
        })?;
        let component = self
            .compile(&bytes)
            .map_err(|reason| LoadError::MalformedComponent {
                bundle: bundle.to_path_buf(),
                path: component_path.clone(),
                reason,
            })?;

        let found = self.wit_version(&component);
        let supported = format!("{}x and {}x", v0_2::VERSION_PREFIX, v0_1::VERSION_PREFIX);
        let (version, prefix) = match &found {
            Some(v) if v.starts_with(v0_2::VERSION_PREFIX) => (v.clone(), v0_2::VERSION_PREFIX),
            Some(v) if v.starts_with(v0_1::VERSION_PREFIX) => (v.clone(), v0_1::VERSION_PREFIX),
            other => {
                return Err(LoadError::IncompatibleVersion {
                    bundle: bundle.to_path_buf(),
                    found: other
                        .clone()
                        .unwrap_or_else(|| "none (no storeplane:engine/plugin export)".into()),
                    supported,
                });
            }
        };
        if !manifest.wit.starts_with(prefix) {
            return Err(LoadError::Manifest {
                bundle: bundle.to_path_buf(),
                reason: format!(
                    "wit = {:?} but the component exports storeplane:engine@{version}",
                    manifest.wit
                ),
            });
        }
        let linked = self.linker.instantiate_pre(&component);
        let pre = if prefix == v0_2::VERSION_PREFIX {
            linked.and_then(v0_2::EnginePre::new).map(Pre::V0_2)
        } else {
            linked.and_then(v0_1::EnginePre::new).map(Pre::V0_1)
        }
        .map_err(|e| LoadError::Link {
            bundle: bundle.to_path_buf(),
            reason: format!("{e:#}"),
        })?;

        let schema_path = bundle.join(&manifest.config_schema);
        let schema_text =
            std::fs::read_to_string(&schema_path).map_err(|source| LoadError::ReadFile {
                bundle: bundle.to_path_buf(),
                path: schema_path.clone(),
                source,
            })?;
        let invalid = |reason: String| LoadError::Manifest {
            bundle: bundle.to_path_buf(),
            reason,
        };
        let config_schema: Value = serde_json::from_str(&schema_text)
            .map_err(|e| invalid(format!("{}: {e}", schema_path.display())))?;

        let granted = self.config.grants.effective(&manifest);
        let grant = Arc::new(PluginGrant {
            id: manifest.id.clone(),
            bundle: bundle.to_path_buf(),
            charts: manifest.charts.clone(),
            capabilities: granted.clone(),
            requested: manifest.capabilities.clone(),
        });
        let info = match self
            .run(&manifest.id, &grant, &pre, None, Op::Describe)
            .await
        {
            Ok(Returned::Info(info)) => info,
            Ok(_) => return Err(invalid("describe returned the wrong type".into())),
            Err(source) => {
                return Err(LoadError::Describe {
                    bundle: bundle.to_path_buf(),
                    source,
                });
            }
        };
        if info.id != manifest.id || info.version != manifest.version {
            return Err(invalid(format!(
                "the component describes itself as {} {} but plugin.toml says {} {}",
                info.id, info.version, manifest.id, manifest.version
            )));
        }
        if let Some(missing) = info
            .capabilities
            .iter()
            .find(|c| !manifest.capabilities.contains(c))
        {
            return Err(invalid(format!(
                "the component needs capability {} which plugin.toml does not list",
                missing.as_str()
            )));
        }
        let own_schema: Value = serde_json::from_str(&info.config_schema)
            .map_err(|e| invalid(format!("describe().config-schema is not JSON: {e}")))?;
        if own_schema != config_schema {
            return Err(invalid(format!(
                "describe().config-schema differs from {}",
                manifest.config_schema.display()
            )));
        }
        for missing in manifest.capabilities.difference(&granted) {
            warn!(plugin = %manifest.id, capability = missing.as_str(), "capability requested but not granted");
        }
        let description = EngineDescription {
            id: info.id,
            display_name: info.display_name,
            version: info.version,
            description: info.description,
            config_schema,
            requested: manifest.capabilities.iter().copied().collect(),
            granted: granted.iter().copied().collect(),
            wit_version: version,
            operations: {
                let mut ops = info.operations;
                ops.sort();
                ops.dedup();
                ops
            },
        };
        info!(plugin = %description.id, version = %description.version, wit = %description.wit_version, "plugin loaded");
        let id = manifest.id.clone();
        self.plugins.insert(
            id.clone(),
            Plugin {
                description,
                grant,
                pre,
            },
        );
        self.plugins
            .get(&id)
            .map(|p| &p.description)
            .ok_or_else(|| invalid("plugin vanished after insert".into()))
    }

    /// The loaded engines, by id.
    pub fn engines(&self) -> impl Iterator<Item = &EngineDescription> {
        self.plugins.values().map(|p| &p.description)
    }

    /// One loaded engine.
    pub fn engine(&self, id: &str) -> Option<&EngineDescription> {
        self.plugins.get(id).map(|p| &p.description)
    }

    /// Bundles rejected by [`PluginHost::load`], with the reasons.
    pub fn rejected(&self) -> &[LoadError] {
        &self.rejected
    }

    /// Asks the plugin to check a configuration beyond its schema.
    pub async fn validate(&self, id: &str, config: &Value) -> Result<Vec<FieldProblem>, CallError> {
        match self
            .call(id, None, Op::Validate(config.to_string()))
            .await?
        {
            Returned::Problems(p) => Ok(limits::problems(p)),
            _ => Ok(Vec::new()),
        }
    }

    /// Creates or converges the store's resources.
    pub async fn provision(&self, id: &str, store: &StoreContext) -> Result<(), CallError> {
        self.done(id, store, Op::Provision(store.clone())).await
    }

    /// Removes what provisioning created.
    pub async fn deprovision(&self, id: &str, store: &StoreContext) -> Result<(), CallError> {
        self.done(id, store, Op::Deprovision(store.clone())).await
    }

    /// Pauses the store (WIT 0.2 plugins that implement it; otherwise
    /// [`CallError::Unsupported`] without calling the plugin).
    pub async fn suspend(&self, id: &str, store: &StoreContext) -> Result<(), CallError> {
        self.done(id, store, Op::Suspend(store.clone())).await
    }

    /// Brings a suspended store back (like [`PluginHost::suspend`]).
    pub async fn resume(&self, id: &str, store: &StoreContext) -> Result<(), CallError> {
        self.done(id, store, Op::Resume(store.clone())).await
    }

    /// Starts or reports on the backup of the store into `archive`.
    pub async fn backup(
        &self,
        id: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError> {
        self.job(id, store, Op::Backup(store.clone(), archive.clone()))
            .await
    }

    /// Starts or reports on restoring `archive` into the store.
    pub async fn restore(
        &self,
        id: &str,
        store: &StoreContext,
        archive: &Archive,
    ) -> Result<JobReport, CallError> {
        self.job(id, store, Op::Restore(store.clone(), archive.clone()))
            .await
    }

    async fn job(&self, id: &str, store: &StoreContext, op: Op) -> Result<JobReport, CallError> {
        let function = op.name();
        match self.call(id, Some(store.clone()), op).await? {
            Returned::Job(Ok(status)) => limits::job_status(id, status),
            Returned::Job(Err(f)) => Err(limits::failure(f)),
            _ => Err(CallError::Trapped {
                plugin: id.to_owned(),
                function,
                trap: "unexpected result type".into(),
            }),
        }
    }

    /// Moves a store from `from_version` to the plugin's version.
    pub async fn upgrade(
        &self,
        id: &str,
        store: &StoreContext,
        from_version: &str,
    ) -> Result<(), CallError> {
        let op = Op::Upgrade(store.clone(), from_version.to_owned());
        self.done(id, store, op).await
    }

    /// Reports the store's phase and URLs.
    pub async fn observe(&self, id: &str, store: &StoreContext) -> Result<Observed, CallError> {
        let op = Op::Observe(store.clone());
        match self.call(id, Some(store.clone()), op).await? {
            // Checked before anyone stores it: see `limits`.
            Returned::Observed(Ok(o)) => limits::observation(id, o),
            Returned::Observed(Err(f)) => Err(limits::failure(f)),
            _ => Err(CallError::Trapped {
                plugin: id.to_owned(),
                function: "observe",
                trap: "unexpected result type".into(),
            }),
        }
    }

    async fn done(&self, id: &str, store: &StoreContext, op: Op) -> Result<(), CallError> {
        match self.call(id, Some(store.clone()), op).await? {
            Returned::Done(result) => result.map_err(limits::failure),
            _ => Ok(()),
        }
    }

    async fn call(
        &self,
        id: &str,
        store: Option<StoreContext>,
        op: Op,
    ) -> Result<Returned, CallError> {
        let plugin = self
            .plugins
            .get(id)
            .ok_or_else(|| CallError::UnknownPlugin(id.to_owned()))?;
        let function = op.name();
        if let Some(operation) = op.optional()
            && !plugin.description.supports(operation)
        {
            return Err(CallError::Unsupported {
                plugin: id.to_owned(),
                operation,
            });
        }
        // One span per call, with how it ended; the host calls the plugin
        // makes (Kubernetes requests) are its children.
        let span = tracing::info_span!(
            "plugin call",
            otel.name = %format!("plugin {id} {function}"),
            plugin = id,
            function,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let result = self
            .run(id, &plugin.grant, &plugin.pre, store, op)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(Returned::Done(Err(_)) | Returned::Observed(Err(_)) | Returned::Job(Err(_))) => {
                "plugin error"
            }
            Ok(_) => "ok",
            Err(CallError::Plugin { .. }) => "plugin error",
            Err(CallError::TimedOut { .. }) => "timeout",
            Err(_) => "trap",
        };
        span.record("outcome", outcome);
        if outcome != "ok" {
            span.record("otel.status_code", "ERROR");
        }
        result
    }

    /// One call in a fresh store: instantiate from the pre-linked component,
    /// call, classify how it ended.
    async fn run(
        &self,
        id: &str,
        grant: &Arc<PluginGrant>,
        pre: &Pre,
        store_ctx: Option<StoreContext>,
        op: Op,
    ) -> Result<Returned, CallError> {
        let function = op.name();
        // The epoch clock runs while any call does (its deadline and its
        // yields to the runtime depend on it).
        let _clock = self.ticker.running();
        let state = CallState::new(
            Arc::clone(grant),
            store_ctx,
            Arc::clone(&self.backend),
            self.config.memory_limit,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every epoch tick the guest stops and this callback decides: past
        // the wall-clock deadline the call traps (`Trap::Interrupt`, reported
        // as `TimedOut`); before it, the guest yields to the tokio runtime
        // and resumes for one more tick. Trapping at the deadline alone
        // (`epoch_deadline_trap`) would keep a computing guest on its worker
        // thread for the whole deadline, freezing every other task there.
        let started = std::time::Instant::now();
        let deadline = started + self.config.call_timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if std::time::Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });

        let outcome = tokio::time::timeout(
            self.config.call_timeout + HOST_CALL_GRACE,
            invoke(pre, &mut store, op),
        )
        .await;
        store.data_mut().finish_logs();
        debug!(
            plugin = id,
            function,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "plugin call"
        );
        let timed_out = || CallError::TimedOut {
            plugin: id.to_owned(),
            function,
            seconds: self.config.call_timeout.as_secs_f64(),
        };
        match outcome {
            Err(_elapsed) => Err(timed_out()),
            Ok(Ok(returned)) => Ok(returned),
            Ok(Err(err)) => {
                if store.data().limiter.hit {
                    Err(CallError::OutOfMemory {
                        plugin: id.to_owned(),
                        function,
                        limit_mib: (self.config.memory_limit >> 20) as u64,
                    })
                } else if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    Err(timed_out())
                } else {
                    Err(CallError::Trapped {
                        plugin: id.to_owned(),
                        function,
                        trap: trap_message(&err),
                    })
                }
            }
        }
    }

    /// Compiles a component, through the on-disk cache when configured.
    fn compile(&self, bytes: &[u8]) -> Result<Component, String> {
        let Some(cache) = &self.config.cache_dir else {
            return Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}"));
        };
        // The key covers the component, the wasmtime version and every
        // engine setting that affects code generation.
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut compat);
        let key = format!("{}-{:016x}", hex(&Sha256::digest(bytes)), compat.finish());
        let path = cache.join(format!("{key}.cwasm"));
        if path.is_file() {
            match deserialize_cached(&self.engine, &path) {
                Ok(component) => return Ok(component),
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "ignoring unusable cached component")
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| format!("{e:#}"))?;
        if let Err(e) = std::fs::create_dir_all(cache).and_then(|()| {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &compiled)?;
            std::fs::rename(&tmp, &path)
        }) {
            warn!(dir = %cache.display(), error = %e, "cannot write component cache");
        }
        deserialize_cached(&self.engine, &path)
            .or_else(|_| Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}")))
    }

    fn wit_version(&self, component: &Component) -> Option<String> {
        component
            .component_type()
            .exports(&self.engine)
            .find_map(|(name, _)| name.strip_prefix(PLUGIN_EXPORT).map(str::to_owned))
    }
}

async fn invoke(pre: &Pre, store: &mut Store<CallState>, op: Op) -> wasmtime::Result<Returned> {
    match pre {
        Pre::V0_1(pre) => v0_1::invoke(pre, store, op).await,
        Pre::V0_2(pre) => v0_2::invoke(pre, store, op).await,
    }
}

/// Loads a component compiled by this host earlier.
#[allow(unsafe_code)]
fn deserialize_cached(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: wasmtime requires that the file was produced by
    // `precompile_component` of a compatible engine and not tampered with.
    // Only this host writes the cache directory (an operator-owned path),
    // names files by the hash of the source component and of the engine's
    // compatibility settings, and wasmtime itself re-checks the version and
    // settings recorded in the artifact header.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))
}

fn trap_message(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    // The backtrace part of wasmtime's message is long and not for store owners.
    text.lines().next().unwrap_or("trap").to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_epoch_clock_ticks_only_while_a_call_runs() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ticks);
        let ticker = Ticker::start(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .expect("ticker");
        std::thread::sleep(EPOCH_TICK * 5);
        assert_eq!(ticks.load(Ordering::SeqCst), 0, "an idle host ticked");
        let call = ticker.running();
        let started = std::time::Instant::now();
        while ticks.load(Ordering::SeqCst) < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no tick during a call"
            );
            std::thread::sleep(EPOCH_TICK);
        }
        drop(call);
        // At most the tick already under way once the last call ended.
        std::thread::sleep(EPOCH_TICK * 2);
        let after = ticks.load(Ordering::SeqCst);
        std::thread::sleep(EPOCH_TICK * 5);
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            after,
            "ticking after the calls ended"
        );
    }
}
