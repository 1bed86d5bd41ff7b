//! `.dockerignore` as Docker reads the patterns this repository uses: `*`
//! within a path component, `**` across components, and excluding a
//! directory excludes what it holds. Exceptions (`!`) are refused rather
//! than misread. Shared by `tests/image.rs` and the Medusa engine's native
//! image build (`plugins/medusa/tests/support/native_image.rs`).

use std::path::Path;

use anyhow::{Context as _, Result, ensure};

/// The patterns of one build context.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<String>,
}

impl DockerIgnore {
    /// The `.dockerignore` of `context` (none: nothing is excluded).
    pub fn read(context: &Path) -> Result<Self> {
        let path = context.join(".dockerignore");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Self::from_patterns(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#')),
        )
    }

    /// These patterns.
    pub fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let patterns: Vec<String> = patterns.into_iter().map(str::to_owned).collect();
        ensure!(
            !patterns.iter().any(|p| p.starts_with('!')),
            "exceptions (!) in .dockerignore are not understood here"
        );
        Ok(Self { patterns })
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        fn matches(pattern: &[&str], path: &[&str]) -> bool {
            match (pattern.first(), path.first()) {
                (None, _) => true,
                (Some(&"**"), _) => {
                    (0..=path.len()).any(|skip| matches(&pattern[1..], &path[skip..]))
                }
                (Some(_), None) => false,
                (Some(p), Some(c)) => component(p, c) && matches(&pattern[1..], &path[1..]),
            }
        }
        fn component(pattern: &str, name: &str) -> bool {
            match pattern.split_once('*') {
                None => pattern == name,
                Some((prefix, suffix)) => {
                    name.len() >= prefix.len() + suffix.len()
                        && name.starts_with(prefix)
                        && name.ends_with(suffix)
                }
            }
        }
        let path: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.patterns.iter().any(|p| {
            let pattern: Vec<&str> = p.trim_matches('/').split('/').collect();
            matches(&pattern, &path)
        })
    }
}
