//! YAML the way Go's `yaml.v2` (through `sigs.k8s.io/yaml`) reads and writes it.
//!
//! Helm, kubectl and Argo CD all see YAML through that library, which follows
//! YAML 1.1's implicit types (`yes` is a boolean, `0644` is octal) and has its
//! own output style. Reading with a YAML 1.2 library, or writing with one,
//! would change values (a file mode of `0644` becoming 644) and bytes (quoting
//! and key order), so this module reproduces both sides.

mod emit;
mod fast;
mod parse;
mod resolve;

pub use emit::to_yaml;
pub use parse::{Numbers, from_yaml};
