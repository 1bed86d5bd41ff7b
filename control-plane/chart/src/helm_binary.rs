//! `helm template` through a Helm binary: the alternative renderer for
//! operators who want Helm's own engine (e.g. for a chart feature the
//! built-in engine lacks). Its output is parsed into the same [`Rendered`]
//! as the built-in engine's, so everything downstream (install order,
//! apply, prune, the recorded digest) is the same.
//!
//! Differences to the built-in engine, all from `helm template` itself:
//! `.Release.Revision` is always 1 (the command has no revision flag), so a
//! chart that prints its revision renders the same text on every upgrade;
//! `Rendered::files` holds the manifests per template rather than the raw
//! template output; and NOTES.txt is not rendered.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Chart, Error, RenderOptions, Rendered, Result, Values};

/// A Helm binary used as the renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmBinary {
    path: PathBuf,
}

impl HelmBinary {
    /// Renders with the `helm` at `path` (or found on `PATH` when it is a
    /// bare name).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The binary.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `helm template` on `chart`, loaded from `dir`, with `options`
    /// and parses what it prints. The user values go to Helm on standard
    /// input (`--values -`, as JSON, which is YAML), so nothing is written to
    /// disk. `chart` supplies the defaults the recorded values are coalesced
    /// with. Blocking: call it off async worker threads.
    pub fn render(&self, chart: &Chart, dir: &Path, options: &RenderOptions) -> Result<Rendered> {
        let mut command = Command::new(&self.path);
        command
            .arg("template")
            .arg(&options.release_name)
            .arg(dir)
            .args(["--namespace", &options.namespace])
            .args(["--kube-version", &options.kube_version])
            .args(["--values", "-"]);
        if options.is_upgrade {
            command.arg("--is-upgrade");
        }
        for api_version in &options.api_versions {
            command.args(["--api-versions", api_version]);
        }
        let failed = |message: String| Error::HelmBinary {
            binary: self.path.clone(),
            message,
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot run: {e}")))?;
        let values = options.values.to_string();
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| failed("no standard input".into()))?;
        // Helm reads all of its input before it prints: no deadlock.
        stdin
            .write_all(values.as_bytes())
            .map_err(|e| failed(format!("writing values: {e}")))?;
        drop(stdin);
        let output = child
            .wait_with_output()
            .map_err(|e| failed(format!("waiting for it: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(failed(format!(
                "{}: {}",
                output.status,
                stderr.trim().trim_start_matches("Error: ")
            )));
        }
        let text = String::from_utf8(output.stdout)
            .map_err(|_| failed("printed something that is not UTF-8".into()))?;
        let files = files_of(&text).map_err(failed)?;
        let values = Values::coalesce(chart.default_values(), &options.values);
        Rendered::assemble(files, None, values)
    }
}

/// Splits `helm template` output into `(source, text)` per template: each
/// document is introduced by `---` and `# Source: <chart>/templates/<file>`;
/// documents of one template are joined again in their order.
fn files_of(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    let flush = |doc: Option<(String, Vec<&str>)>, files: &mut Vec<(String, Vec<String>)>| {
        if let Some((source, lines)) = doc {
            let body = lines.join("\n");
            match files.iter_mut().find(|(s, _)| *s == source) {
                Some((_, docs)) => docs.push(body),
                None => files.push((source, vec![body])),
            }
        }
    };
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "---" {
            let source = lines
                .peek()
                .and_then(|l| l.strip_prefix("# Source: "))
                .map(str::to_owned);
            if let Some(source) = source {
                lines.next();
                flush(current.take(), &mut files);
                current = Some((source, Vec::new()));
                continue;
            }
        }
        match &mut current {
            Some((_, body)) => body.push(line),
            None if line.trim().is_empty() => {}
            None => {
                return Err(format!(
                    "unexpected output before the first `# Source:` line: {line:?}"
                ));
            }
        }
    }
    flush(current.take(), &mut files);
    Ok(files
        .into_iter()
        .map(|(source, docs)| (source, docs.join("\n---\n")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_per_template_with_documents_in_order() {
        let text = "---\n# Source: shop/templates/a.yaml\nkind: A\n---\n# Source: shop/templates/b.yaml\nkind: B\n---\n# Source: shop/templates/a.yaml\nkind: A2\n";
        assert_eq!(
            files_of(text).unwrap(),
            vec![
                (
                    "shop/templates/a.yaml".to_owned(),
                    "kind: A\n---\nkind: A2".to_owned()
                ),
                ("shop/templates/b.yaml".to_owned(), "kind: B".to_owned()),
            ]
        );
    }

    #[test]
    fn a_separator_inside_a_document_is_kept() {
        let text = "---\n# Source: s/templates/c.yaml\ndata:\n  x: |\n    ---\n    y\n";
        assert_eq!(
            files_of(text).unwrap(),
            vec![(
                "s/templates/c.yaml".to_owned(),
                "data:\n  x: |\n    ---\n    y".to_owned()
            )]
        );
        assert!(files_of("garbage\n---\n# Source: s/templates/c.yaml\n").is_err());
    }

    #[test]
    fn a_missing_binary_is_a_clear_error() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/shop");
        let chart = Chart::load(&dir).unwrap();
        let err = HelmBinary::new("/nonexistent/helm")
            .render(&chart, &dir, &RenderOptions::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("helm template (/nonexistent/helm): cannot run"),
            "{err}"
        );
    }
}
