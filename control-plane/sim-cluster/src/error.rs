//! The crate's error type.
//!
//! Errors the simulated API server returns to clients are not here: they are
//! Kubernetes `metav1.Status` bodies built by [`crate::status::ApiError`]. This
//! type covers what can fail for the Rust caller: binding, serving, writing the
//! kubeconfig and parsing options.

use std::path::PathBuf;

/// What failed while starting, serving or configuring the simulated cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener could not be bound or inspected.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address we tried to listen on.
        addr: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Accepting a connection failed in a way that stops the server.
    #[error("accepting a connection failed")]
    Accept(#[source] std::io::Error),
    /// The kubeconfig file could not be written.
    #[error("cannot write kubeconfig {path}")]
    WriteKubeconfig {
        /// The file we tried to write.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A duration option could not be parsed (expects e.g. `0`, `500ms`, `3s`, `2m`).
    #[error("invalid duration {0:?}: expected a number with a unit such as 500ms, 3s or 2m")]
    InvalidDuration(String),
    /// A failure-injection mode could not be parsed.
    #[error("unknown failure mode {0:?}: expected image-pull, crash-loop, job-fail or never-ready")]
    InvalidFailure(String),
    /// A cluster option was given an unknown name or a bad value.
    #[error("invalid sim-cluster option {name}: {message}")]
    InvalidOption {
        /// The option's name.
        name: String,
        /// Why it was rejected.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
