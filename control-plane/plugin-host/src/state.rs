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
    manifest::Capability,
};

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
        }
    }

    /// The backend, cloned so no borrow of the state is held across an
    /// `await` (the state is not `Sync`).
    pub fn backend(&self) -> Arc<dyn HostBackend> {
        Arc::clone(&self.backend)
    }

    /// The store of this call if `capability` is granted.
    pub fn require(&self, capability: Capability, call: &str) -> Result<StoreContext, HostError> {
        if !self.plugin.capabilities.contains(&capability) {
            let why = if self.plugin.requested.contains(&capability) {
                "the operator did not grant it"
            } else {
                "the plugin's manifest does not ask for it"
            };
            return Err(HostError::Denied(format!(
                "{call} needs capability {}, which plugin {} does not have: {why}",
                capability.as_str(),
                self.plugin.id
            )));
        }
        self.store.clone().ok_or_else(|| {
            HostError::Denied(format!("{call} is not available outside a store call"))
        })
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

    /// Forwards a log line to the backend.
    pub fn emit_log(&self, level: Level, message: &str) {
        self.backend
            .log(&self.plugin.id, self.store.as_ref(), level, message);
    }

    /// Sends what the plugin wrote to stderr to the log, line by line.
    pub fn flush_stderr(&self) {
        let bytes = self.stderr.contents();
        for line in String::from_utf8_lossy(&bytes).lines() {
            if !line.trim().is_empty() {
                self.emit_log(Level::Warn, &format!("stderr: {line}"));
            }
        }
    }
}
