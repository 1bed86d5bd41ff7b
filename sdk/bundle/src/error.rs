use std::path::PathBuf;

/// Why a manifest could not be read or a bundle could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `plugin.toml` is not in the TOML subset a manifest uses.
    #[error("plugin.toml line {line}: {message}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The manifest parses but a field is missing or wrong.
    #[error("plugin.toml: field `{field}`: {message}")]
    Field {
        /// The manifest key, e.g. `capabilities`.
        field: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The file given as the component is not a WebAssembly component.
    #[error("{path}: not a WebAssembly component (build with --target wasm32-wasip2)")]
    NotAComponent {
        /// The offending file.
        path: PathBuf,
    },
    /// A file to copy into the bundle is a symbolic link. Bundles are
    /// self-contained: the host refuses a bundle holding a link, so
    /// assembling one fails here, where the author can fix it.
    #[error("{path}: is a symbolic link; copy the file into the plugin instead")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
