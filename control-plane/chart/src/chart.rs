//! Loading a chart directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::glob;
use crate::render::Prepared;
use crate::values::Values;
use crate::yaml::{self, Numbers};

/// One file of a chart, by its path relative to the chart directory
/// (`templates/deployment.yaml`, `files/init.sh`), always with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root.
    pub name: String,
    /// The raw contents.
    pub data: Vec<u8>,
}

/// What `Chart.yaml` says. Numbers written unquoted (`appVersion: 1.10`)
/// keep their text, as Helm reads them into string fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// `apiVersion`: `v2` (or the legacy `v1`).
    pub api_version: String,
    /// `name`: the chart's name, which prefixes every template path.
    pub name: String,
    /// `version`: the chart's own version.
    pub version: String,
    /// `appVersion`, if given.
    pub app_version: Option<String>,
    /// `description`, if given.
    pub description: Option<String>,
    /// `type`: `application` or `library`, if given.
    pub chart_type: Option<String>,
    /// `kubeVersion` constraint, if given. Recorded, not enforced.
    pub kube_version: Option<String>,
    /// The whole document, for the fields above and everything else
    /// (`keywords`, `maintainers`, `annotations`, …) that `.Chart` exposes.
    /// `dependencies` is kept here but otherwise ignored: subcharts are not
    /// supported.
    pub raw: Value,
}

/// A chart loaded from a directory: metadata, default values, schema,
/// templates and the other files (`.Files`).
///
/// Loading also parses the templates and compiles the schema, once, so
/// that renders only execute them. A chart is `Send + Sync` and cheap to
/// share: the control plane keeps one per chart directory and renders it
/// from many tasks at once.
#[derive(Debug, Clone)]
pub struct Chart {
    pub(crate) metadata: Metadata,
    pub(crate) values: Value,
    pub(crate) schema: Option<Value>,
    pub(crate) templates: Vec<ChartFile>,
    pub(crate) files: Vec<ChartFile>,
    pub(crate) prepared: Prepared,
}

// Charts are cached and rendered across threads (`Arc<Chart>` in the
// control plane's cluster backend); this keeps that possible.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Chart>();
};

impl Chart {
    /// Loads the chart in `path`: `Chart.yaml` (required), `values.yaml`,
    /// `values.schema.json`, everything under `templates/` (including
    /// subdirectories), and all other files as `.Files`, honouring
    /// `.helmignore`. A chart with subcharts under `charts/` is refused
    /// rather than rendered incompletely.
    pub fn load(path: impl AsRef<Path>) -> Result<Chart> {
        let root = path.as_ref();
        let ignore = IgnoreRules::load(root)?;
        let mut all = Vec::new();
        walk(root, root, &ignore, &mut all)?;
        all.sort_by(|a, b| a.name.cmp(&b.name));

        let mut metadata = None;
        let mut values = Value::Object(serde_json::Map::new());
        let mut schema = None;
        let mut templates = Vec::new();
        let mut files = Vec::new();
        for file in all {
            match file.name.as_str() {
                "Chart.yaml" => metadata = Some(parse_metadata(&file.data)?),
                "values.yaml" => values = Values::from_yaml_named(&text(&file)?, "values.yaml")?,
                "values.schema.json" => {
                    let parsed = serde_json::from_slice(&file.data)
                        .map_err(|e| Error::Schema(format!("not valid JSON: {e}")))?;
                    schema = Some(parsed);
                }
                name if name.starts_with("templates/") => templates.push(file),
                name if name.starts_with("charts/") => {
                    return Err(Error::Metadata(format!(
                        "subcharts are not supported (found {name})"
                    )));
                }
                _ => files.push(file),
            }
        }
        let metadata = metadata
            .ok_or_else(|| Error::Metadata(format!("no Chart.yaml in {}", root.display())))?;
        let prepared = Prepared::new(&metadata, schema.as_ref(), &templates, &files);
        Ok(Chart {
            metadata,
            values,
            schema,
            templates,
            files,
            prepared,
        })
    }

    /// The chart's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The chart's default values (`values.yaml`).
    pub fn default_values(&self) -> &Value {
        &self.values
    }

    /// The chart's `values.schema.json`, if it has one.
    pub fn schema(&self) -> Option<&Value> {
        self.schema.as_ref()
    }

    /// The chart's templates, paths relative to the chart root.
    pub fn templates(&self) -> &[ChartFile] {
        &self.templates
    }

    /// The chart's other files, as `.Files` sees them.
    pub fn files(&self) -> &[ChartFile] {
        &self.files
    }
}

fn text(file: &ChartFile) -> Result<String> {
    String::from_utf8(file.data.clone())
        .map_err(|_| Error::Metadata(format!("{} is not UTF-8", file.name)))
}

fn parse_metadata(data: &[u8]) -> Result<Metadata> {
    let source = String::from_utf8_lossy(data);
    // Helm reads Chart.yaml through JSON as well, so an unquoted
    // `appVersion: 1.10` is the float 1.1 and reaches `.Chart` as "1.1".
    let raw = yaml::from_yaml(&source, Numbers::Float).map_err(|e| Error::Yaml {
        file: "Chart.yaml".to_owned(),
        line: e.line,
        message: e.message,
    })?;
    let raw = numbers_as_text(raw);
    let field = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
    let api_version = field("apiVersion")
        .ok_or_else(|| Error::Metadata("chart.metadata.apiVersion is required".to_owned()))?;
    if api_version != "v2" && api_version != "v1" {
        return Err(Error::Metadata(format!(
            "apiVersion {api_version:?} is not valid"
        )));
    }
    let name = field("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::Metadata("chart.metadata.name is required".to_owned()))?;
    if name.contains(['/', '\\']) {
        return Err(Error::Metadata(format!(
            "chart.metadata.name {name:?} is invalid"
        )));
    }
    let version = field("version")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Metadata("chart.metadata.version is required".to_owned()))?;
    Ok(Metadata {
        api_version,
        name,
        version,
        app_version: field("appVersion"),
        description: field("description"),
        chart_type: field("type"),
        kube_version: field("kubeVersion"),
        raw,
    })
}

fn numbers_as_text(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(crate::gofmt::format_g(n.as_f64().unwrap_or(0.0))),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_text).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_text(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `.helmignore` rules with Helm's matching, plus its default rule that
/// hides dot-files under `templates/`.
struct IgnoreRules {
    rules: Vec<IgnoreRule>,
}

struct IgnoreRule {
    pattern: String,
    negate: bool,
    dir_only: bool,
}

impl IgnoreRules {
    fn load(root: &Path) -> Result<IgnoreRules> {
        let mut rules = Vec::new();
        let path = root.join(".helmignore");
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(symlink_refused(&path));
        }
        if path.is_file() {
            let content = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            for line in content.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                rules.push(IgnoreRule::parse(line));
            }
        }
        rules.push(IgnoreRule::parse("templates/.?*"));
        Ok(IgnoreRules { rules })
    }

    /// Helm's `ignore.Rules.Ignore`, negation quirks included.
    fn ignores(&self, path: &str, is_dir: bool) -> bool {
        for rule in &self.rules {
            if rule.negate {
                if rule.dir_only && !is_dir {
                    return true;
                }
                if !rule.matches(path) {
                    return true;
                }
                continue;
            }
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.matches(path) {
                return true;
            }
        }
        false
    }
}

impl IgnoreRule {
    fn parse(line: &str) -> IgnoreRule {
        let (negate, rest) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        IgnoreRule {
            pattern: rest.to_owned(),
            negate,
            dir_only,
        }
    }

    fn matches(&self, path: &str) -> bool {
        if let Some(rooted) = self.pattern.strip_prefix('/') {
            glob::path_match(rooted, path)
        } else if self.pattern.contains('/') {
            glob::path_match(&self.pattern, path)
        } else {
            let base = path.rsplit('/').next().unwrap_or(path);
            glob::path_match(&self.pattern, base)
        }
    }
}

fn walk(root: &Path, dir: &Path, ignore: &IgnoreRules, out: &mut Vec<ChartFile>) -> Result<()> {
    let io = |path: &Path| {
        let path: PathBuf = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        // Not `metadata`, which follows links: a chart (a plugin bundle's
        // above all) must not reach files outside its directory through a
        // link, e.g. `.Files.Get` of a link to a service-account token.
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.file_type().is_symlink() {
            return Err(symlink_refused(&path));
        }
        if ignore.ignores(&relative, meta.is_dir()) {
            continue;
        }
        if meta.is_dir() {
            walk(root, &path, ignore, out)?;
        } else if meta.is_file() {
            let data = std::fs::read(&path).map_err(io(&path))?;
            out.push(ChartFile {
                name: relative,
                data,
            });
        }
    }
    Ok(())
}

/// The error for a symbolic link inside a chart: links are refused, even
/// ones pointing inside the chart, so no file can be read from elsewhere.
fn symlink_refused(path: &Path) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a symbolic link; charts may not contain symbolic links",
        ),
    }
}

/// The `.Chart` object: `Chart.yaml` under Helm's Go field names, with the
/// zero value for anything the file leaves out (as a Go struct would have).
pub(crate) fn chart_object(metadata: &Metadata) -> BTreeMap<String, Value> {
    let raw = &metadata.raw;
    // Helm v4 hands templates a map whose absent lists and maps are empty
    // (so `{{ .Chart }}` prints `Keywords:[]`, `Annotations:map[]`).
    let list = |key: &str| {
        raw.get(key)
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(Value::Array(Vec::new()))
    };
    let map = |key: &str| {
        raw.get(key)
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(Value::Object(serde_json::Map::new()))
    };
    let text = |key: &str| {
        Value::String(
            raw.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )
    };
    let maintainers = match raw.get("maintainers") {
        Some(Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|m| {
                    let field = |k: &str| Value::String(m.get(k).and_then(Value::as_str).unwrap_or("").to_owned());
                    serde_json::json!({"Name": field("name"), "Email": field("email"), "URL": field("url")})
                })
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    };
    let mut object = BTreeMap::new();
    object.insert("Name".to_owned(), text("name"));
    object.insert("Home".to_owned(), text("home"));
    object.insert("Sources".to_owned(), list("sources"));
    object.insert("Version".to_owned(), text("version"));
    object.insert("Description".to_owned(), text("description"));
    object.insert("Keywords".to_owned(), list("keywords"));
    object.insert("Maintainers".to_owned(), maintainers);
    object.insert("Icon".to_owned(), text("icon"));
    object.insert("APIVersion".to_owned(), text("apiVersion"));
    object.insert("Condition".to_owned(), text("condition"));
    object.insert("Tags".to_owned(), text("tags"));
    object.insert("AppVersion".to_owned(), text("appVersion"));
    object.insert(
        "Deprecated".to_owned(),
        Value::Bool(
            raw.get("deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    object.insert("Annotations".to_owned(), map("annotations"));
    object.insert("KubeVersion".to_owned(), text("kubeVersion"));
    object.insert("Dependencies".to_owned(), list("dependencies"));
    object.insert("IsRoot".to_owned(), Value::Bool(true));
    object.insert("Type".to_owned(), text("type"));
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chart directory under the system temp dir, removed on drop.
    struct TempChart(PathBuf);

    impl TempChart {
        fn new(name: &str) -> std::io::Result<TempChart> {
            let dir = std::env::temp_dir()
                .join(format!("storeplane-chart-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("templates"))?;
            std::fs::create_dir_all(dir.join("files"))?;
            std::fs::write(
                dir.join("Chart.yaml"),
                "apiVersion: v2\nname: linked\nversion: 0.1.0\n",
            )?;
            Ok(TempChart(dir))
        }
    }

    impl Drop for TempChart {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn refused_as_link(result: Result<Chart>) -> bool {
        matches!(result, Err(Error::Io { ref source, .. }) if source.to_string().contains("symbolic link"))
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_refused_not_followed() -> std::io::Result<()> {
        let chart = TempChart::new("file")?;
        std::fs::write(chart.0.join("files/plain.txt"), "ok")?;
        assert!(Chart::load(&chart.0).is_ok());
        std::os::unix::fs::symlink("/etc/hostname", chart.0.join("files/host.txt"))?;
        let result = Chart::load(&chart.0);
        assert!(
            refused_as_link(result),
            "a link out of the chart was followed"
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_directory_is_refused() -> std::io::Result<()> {
        let chart = TempChart::new("dir")?;
        std::os::unix::fs::symlink("/etc", chart.0.join("files/etc"))?;
        assert!(refused_as_link(Chart::load(&chart.0)));
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_helmignore_is_refused() -> std::io::Result<()> {
        let chart = TempChart::new("ignore")?;
        std::os::unix::fs::symlink("/etc/hostname", chart.0.join(".helmignore"))?;
        assert!(refused_as_link(Chart::load(&chart.0)));
        Ok(())
    }
}
