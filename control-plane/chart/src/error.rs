//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong loading or rendering a chart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the chart could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// `Chart.yaml` is missing a required field or has an unsupported one.
    #[error("Chart.yaml: {0}")]
    Metadata(String),
    /// A YAML document (Chart.yaml, a values file, a rendered manifest) did
    /// not parse.
    #[error("YAML parse error on {file} line {line}: {message}")]
    Yaml {
        /// Which document.
        file: String,
        /// 1-based line.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// Values are not shaped as values (the document is not a map).
    #[error("values: {0}")]
    Values(String),
    /// A `--set` expression did not parse.
    #[error("failed parsing --set data {expression:?}: {message}")]
    Set {
        /// The expression as given.
        expression: String,
        /// Why it was refused.
        message: String,
    },
    /// `values.schema.json` is not a usable JSON schema.
    #[error("values.schema.json: {0}")]
    Schema(String),
    /// The merged values do not satisfy `values.schema.json`. Each entry
    /// names the offending path and constraint.
    #[error("values don't meet the specifications of the schema(s) in the following chart(s):\n{chart}:\n{}", .violations.join("\n"))]
    SchemaViolation {
        /// The chart whose schema was violated.
        chart: String,
        /// One line per violation: `- at '/path': message`.
        violations: Vec<String>,
    },
    /// A template failed to parse.
    #[error("parse error at ({template}:{line}): {message}")]
    Parse {
        /// `chart/templates/file.yaml`.
        template: String,
        /// 1-based line (0 when the engine gave none).
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A template failed while rendering. `message` is the template's own
    /// words where it has them: `required` and `fail` messages pass through
    /// verbatim.
    #[error("execution error at ({template}:{line}:{column}): {message}")]
    Render {
        /// The template where it failed, innermost first: for a failure in a
        /// helper reached through `include`, the helper's file.
        template: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// The configured `helm` binary could not run, or `helm template`
    /// failed; `message` is Helm's own error output.
    #[error("helm template ({binary}): {message}")]
    HelmBinary {
        /// The binary that was run.
        binary: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A rendered manifest is not a YAML map (or not YAML at all).
    #[error("YAML parse error on {source_file}: {message}")]
    Manifest {
        /// `chart/templates/file.yaml`.
        source_file: String,
        /// What was wrong with it.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
