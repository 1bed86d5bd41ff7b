//! What can go wrong loading plugins and calling them.

use std::path::PathBuf;

/// Why a plugin bundle was rejected at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plugins directory could not be read.
    #[error("cannot read plugins directory {path}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A bundle file could not be read.
    #[error("plugin bundle {bundle}: cannot read {path}")]
    ReadFile {
        /// The bundle directory.
        bundle: PathBuf,
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `plugin.toml` is missing fields, has bad values, or disagrees with the component.
    #[error("plugin bundle {bundle}: invalid manifest: {reason}")]
    Manifest {
        /// The bundle directory.
        bundle: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is not a valid WebAssembly component.
    #[error("plugin bundle {bundle}: {path} is not a valid WebAssembly component: {reason}")]
    MalformedComponent {
        /// The bundle directory.
        bundle: PathBuf,
        /// The component file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The component was built against a host API this host does not support.
    #[error(
        "plugin bundle {bundle}: built against storeplane:engine@{found}, but this host supports {supported}; rebuild the plugin with a compatible SDK"
    )]
    IncompatibleVersion {
        /// The bundle directory.
        bundle: PathBuf,
        /// The version the component exports (or `none`).
        found: String,
        /// What the host supports.
        supported: String,
    },
    /// The component imports something the host does not provide.
    #[error("plugin bundle {bundle}: cannot link the component: {reason}")]
    Link {
        /// The bundle directory.
        bundle: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The bundle holds a symbolic link. Bundles are self-contained; a link
    /// could expose the host's files (through a chart's `.Files`).
    #[error(
        "plugin bundle {bundle}: {path} is a symbolic link; bundles may not contain links (copy the file into the bundle)"
    )]
    Symlink {
        /// The bundle directory.
        bundle: PathBuf,
        /// The link.
        path: PathBuf,
    },
    /// Two bundles claim the same engine id.
    #[error("plugin {id} is provided by two bundles: {first} and {second}")]
    Duplicate {
        /// The engine id.
        id: String,
        /// One bundle.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Calling `describe` at load failed.
    #[error("plugin bundle {bundle}: describe() failed: {source}")]
    Describe {
        /// The bundle directory.
        bundle: PathBuf,
        /// Cause.
        #[source]
        source: CallError,
    },
    /// The wasmtime engine could not be configured.
    #[error("cannot configure the WebAssembly runtime: {0}")]
    Runtime(String),
}

/// Why a plugin call did not return a result. "The plugin said no"
/// ([`CallError::Plugin`]) is kept apart from "the plugin broke"
/// (trap, timeout, out of memory) all the way to the store's failure reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The plugin returned a failure.
    #[error("{reason}: {message}")]
    Plugin {
        /// CamelCase reason from the plugin.
        reason: String,
        /// The plugin's message.
        message: String,
        /// Whether the plugin asked to be retried.
        retryable: bool,
    },
    /// The call ran past its wall-clock deadline and was stopped.
    #[error("plugin {plugin} timed out after {seconds:.1} s in {function}")]
    TimedOut {
        /// Engine id.
        plugin: String,
        /// The export called.
        function: &'static str,
        /// The deadline.
        seconds: f64,
    },
    /// The plugin tried to grow its memory past the limit.
    #[error("plugin {plugin} ran out of memory in {function} (limit {limit_mib} MiB)")]
    OutOfMemory {
        /// Engine id.
        plugin: String,
        /// The export called.
        function: &'static str,
        /// The limit.
        limit_mib: u64,
    },
    /// The plugin trapped (panicked, hit `unreachable`, ...).
    #[error("plugin {plugin} crashed in {function}: {trap}")]
    Trapped {
        /// Engine id.
        plugin: String,
        /// The export called.
        function: &'static str,
        /// The trap as wasmtime reported it.
        trap: String,
    },
    /// The plugin's observation cannot be stored safely (a URL that is not
    /// http(s), a reason that is not a short CamelCase word, a credentials
    /// Secret name that is not a name). A broken plugin, so not retryable.
    #[error("plugin {plugin} returned an invalid observation: {problem}")]
    InvalidObservation {
        /// Engine id.
        plugin: String,
        /// Which field and why.
        problem: String,
    },
    /// No loaded plugin has this id.
    #[error("no plugin provides engine {0}")]
    UnknownPlugin(String),
    /// The plugin does not implement this optional operation (its
    /// `describe` does not list it, or it was built against WIT 0.1); the
    /// plugin was not called.
    #[error("engine {plugin} does not support {operation}")]
    Unsupported {
        /// Engine id.
        plugin: String,
        /// The operation asked for.
        operation: crate::Operation,
    },
}

impl CallError {
    /// The CamelCase reason to put on a failed store.
    pub fn reason(&self) -> &str {
        match self {
            CallError::Plugin { reason, .. } => reason,
            CallError::TimedOut { .. } => "PluginTimedOut",
            CallError::OutOfMemory { .. } => "PluginOutOfMemory",
            CallError::Trapped { .. } => "PluginCrashed",
            CallError::InvalidObservation { .. } => "InvalidObservation",
            CallError::UnknownPlugin(_) => "EngineNotInstalled",
            CallError::Unsupported { .. } => "OperationNotSupported",
        }
    }

    /// Whether trying again later could help.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Plugin { retryable, .. } => *retryable,
            // Plugins return quickly and leave waiting to `observe`; one
            // that runs out its deadline, crashes or runs out of memory
            // will do so again.
            CallError::TimedOut { .. }
            | CallError::OutOfMemory { .. }
            | CallError::Trapped { .. }
            | CallError::InvalidObservation { .. }
            | CallError::UnknownPlugin(_)
            | CallError::Unsupported { .. } => false,
        }
    }
}
