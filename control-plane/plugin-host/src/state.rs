//! The per-call sandbox: what one plugin call may see and use.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
};

use wasmtime::{ResourceLimiter, component::ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView, p2::pipe::MemoryOutputPipe};

use crate::{
    backend::{HostBackend, HostError, Level, StoreContext},
    limits::{self, LogBudget},
    manifest::Capability,
};

/// Refusals per call that reach the store's timeline; later ones are only
/// logged.
const MAX_REPORTED_REFUSALS: u32 = 20;
/// Most bytes of a plugin's stderr kept per call.
const STDERR_CAPACITY: usize = 64 * 1024;
/// Most table elements a plugin may have.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What a loaded plugin is allowed to do, shared by its calls.
pub(crate) struct PluginGrant {
    /// Engine id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Chart directories in the bundle.
    pub charts: Vec<PathBuf>,
    /// Effective capabilities (asked ∩ granted).
    pub capabilities: BTreeSet<Capability>,
    /// Capabilities the manifest asked for, for messages.
    pub requested: BTreeSet<Capability>,
}

/// Memory and table limits; remembers whether the memory limit was hit so
/// the resulting trap is reported as "out of memory".
pub(crate) struct Limiter {
    max_memory: usize,
    pub hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            // Trap rather than let the guest's allocator see a failed grow:
            // a clear "out of memory" beats whatever the guest does next.
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (wanted {desired})",
                self.max_memory
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Everything one call's `Store` holds.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    plugin: Arc<PluginGrant>,
    store: Option<StoreContext>,
    backend: Arc<dyn HostBackend>,
    stderr: MemoryOutputPipe,
    logs: LogBudget,
    /// Refusals reported to the backend so far in this call (each becomes a
    /// timeline row): a plugin looping on refused calls must not flood it.
    refusals: std::sync::atomic::AtomicU32,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CallState {
    /// A sandbox for one call: WASI grants nothing (no files, network, env
    /// or arguments); stderr is captured for the store's log.
    pub fn new(
        plugin: Arc<PluginGrant>,
        store: Option<StoreContext>,
        backend: Arc<dyn HostBackend>,
        max_memory: usize,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory,
                hit: false,
            },
            plugin,
            store,
            backend,
            stderr,
            logs: LogBudget::default(),
            refusals: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The backend, cloned so no borrow of the state is held across an
    /// `await` (the state is not `Sync`).
    pub fn backend(&self) -> Arc<dyn HostBackend> {
        Arc::clone(&self.backend)
    }

    /// The store of this call if `capability` is granted; a refusal is
    /// reported (see [`CallState::refuse`]).
    pub fn require(&self, capability: Capability, call: &str) -> Result<StoreContext, HostError> {
        if !self.plugin.capabilities.contains(&capability) {
            let why = if self.plugin.requested.contains(&capability) {
                "the operator did not grant it"
            } else {
                "the plugin's manifest does not ask for it"
            };
            return Err(self.refuse(
                call,
                HostError::Denied(format!(
                    "{call} needs capability {}, which plugin {} does not have: {why}",
                    capability.as_str(),
                    self.plugin.id
                )),
            ));
        }
        self.store.clone().ok_or_else(|| {
            self.refuse(
                call,
                HostError::Denied(format!("{call} is not available outside a store call")),
            )
        })
    }

    /// Reports a refusal of `operation` to the backend (the store's
    /// timeline) and returns it, for `?`. Outside a store call there is no
    /// timeline, so it is only logged.
    pub fn refuse(&self, operation: &str, err: HostError) -> HostError {
        // The text can quote plugin-supplied strings; it becomes a
        // timeline row.
        let message = limits::truncate(&err.to_string(), limits::MAX_MESSAGE);
        let reported = self
            .refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.store {
            Some(store) if reported < MAX_REPORTED_REFUSALS => {
                self.backend
                    .refused(&self.plugin.id, store, operation, &message)
            }
            Some(store) => tracing::warn!(
                plugin = %self.plugin.id,
                store = %store.name,
                operation,
                "plugin request refused (not on the timeline: over {MAX_REPORTED_REFUSALS} in this call): {message}"
            ),
            None => tracing::warn!(
                plugin = %self.plugin.id,
                operation,
                "plugin request refused: {message}"
            ),
        }
        err
    }

    /// Reports `result`'s error if it is a refusal (`denied`), e.g. from the
    /// backend or discovery, and passes the result on.
    pub fn report<T>(&self, operation: &str, result: Result<T, HostError>) -> Result<T, HostError> {
        result.map_err(|err| match err {
            HostError::Denied(_) => self.refuse(operation, err),
            other => other,
        })
    }

    /// Reports any error of an object-policy check: everything the policy
    /// refuses, invalid names included, is a refusal.
    pub fn enforce(&self, operation: &str, result: Result<(), HostError>) -> Result<(), HostError> {
        result.map_err(|err| self.refuse(operation, err))
    }

    /// The directory of chart `name` in the bundle.
    pub fn chart_dir(&self, name: &str) -> Result<PathBuf, HostError> {
        self.plugin
            .charts
            .iter()
            .find(|c| c.as_path() == Path::new(name) || c.file_name() == Some(name.as_ref()))
            .map(|c| self.plugin.bundle.join(c))
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .plugin
                    .charts
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect();
                HostError::NotFound(format!(
                    "chart {name} is not in the bundle (it has: {})",
                    known.join(", ")
                ))
            })
    }

    /// Forwards a log line to the backend, within the call's budget
    /// ([`limits::LogBudget`]) and cut to [`limits::MAX_LOG_LINE`].
    pub fn emit_log(&mut self, level: Level, message: &str) {
        let loud = matches!(level, Level::Warn | Level::Error);
        if self.logs.admit(loud) {
            let line = limits::truncate(message, limits::MAX_LOG_LINE);
            self.backend
                .log(&self.plugin.id, self.store.as_ref(), level, &line);
        }
    }

    /// Sends what the plugin wrote to stderr to the log, line by line, and
    /// then the summary of dropped lines, if any: the end of the call.
    pub fn finish_logs(&mut self) {
        let bytes = self.stderr.contents();
        for line in String::from_utf8_lossy(&bytes).lines() {
            if !line.trim().is_empty() {
                self.emit_log(Level::Warn, &format!("stderr: {line}"));
            }
        }
        if let Some(summary) = self.logs.summary() {
            self.backend
                .log(&self.plugin.id, self.store.as_ref(), Level::Warn, &summary);
        }
    }
}
