//! Rendering a loaded chart: values, context objects, templates, manifests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use gtmpl_ng::Value as Tv;
use serde_json::Value;

use crate::chart::{Chart, ChartFile, Metadata, chart_object};
use crate::engine::{self, ParseFailure, Shared, Templates, to_template};
use crate::error::{Error, Result};
use crate::manifest::{self, Document, Entry, Manifest};
use crate::values::Values;

/// The Kubernetes version `.Capabilities` reports unless told otherwise:
/// Helm v4.2's own default, so that output matches `helm template`.
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";

/// The API versions Helm v4.2 reports offline in
/// `.Capabilities.APIVersions` (its client library's built-in scheme).
const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// [`DEFAULT_API_VERSIONS`] as the set the engine looks them up in, built
/// once for every render that adds none.
static DEFAULT_API_VERSION_SET: LazyLock<Arc<BTreeMap<String, String>>> =
    LazyLock::new(|| Arc::new(api_version_set(&[])));

fn api_version_set(extra: &[String]) -> BTreeMap<String, String> {
    DEFAULT_API_VERSIONS
        .iter()
        .map(|v| (*v).to_owned())
        .chain(extra.iter().cloned())
        .map(|v| (v, String::new()))
        .collect()
}

/// What every render of a chart shares, worked out once when the chart is
/// loaded: the parsed templates, the compiled schema, `.Files` and `.Chart`.
/// Failures are kept and reported by each render, as before the work moved
/// to load time: a chart our engine cannot parse still loads (for the
/// `helm` binary renderer, which might).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    templates: std::result::Result<Arc<Templates>, ParseFailure>,
    validator: Option<std::result::Result<Arc<jsonschema::Validator>, String>>,
    files: Arc<BTreeMap<String, String>>,
    chart_object: Tv,
}

impl Prepared {
    pub(crate) fn new(
        metadata: &Metadata,
        schema: Option<&Value>,
        templates: &[ChartFile],
        files: &[ChartFile],
    ) -> Prepared {
        let validator = schema.map(|schema| {
            jsonschema::validator_for(schema)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        let files = files
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    String::from_utf8_lossy(&f.data).into_owned(),
                )
            })
            .collect();
        let chart_object = Tv::map(
            chart_object(metadata)
                .into_iter()
                .map(|(k, v)| (k, to_template(&v)))
                .collect(),
        );
        Prepared {
            templates: Templates::parse(&metadata.name, templates).map(Arc::new),
            validator,
            files: Arc::new(files),
            chart_object,
        }
    }
}

/// What to render a chart with. `Default` gives `helm template`'s defaults:
/// release `release-name` in namespace `default`, revision 1, an install.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// `.Release.Name`.
    pub release_name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: u64,
    /// `.Release.IsUpgrade` (and `IsInstall` is its negation).
    pub is_upgrade: bool,
    /// `.Capabilities.KubeVersion`, e.g. `v1.31.2`.
    pub kube_version: String,
    /// Extra entries for `.Capabilities.APIVersions` (`--api-versions`).
    pub api_versions: Vec<String>,
    /// The user's values: values files and `--set` already layered with
    /// [`Values::merge`] and [`Values::apply_set`]. The chart's defaults are
    /// coalesced under these at render time.
    pub values: Value,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".to_owned(),
            namespace: "default".to_owned(),
            revision: 1,
            is_upgrade: false,
            kube_version: DEFAULT_KUBE_VERSION.to_owned(),
            api_versions: Vec::new(),
            values: Value::Object(serde_json::Map::new()),
        }
    }
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The objects to apply, in Helm's install order (by kind, stable by
    /// template path and position), hooks excluded.
    pub manifests: Vec<Manifest>,
    /// Objects annotated `helm.sh/hook` with an event Helm knows, in install
    /// order. Helm runs these around install/upgrade rather than applying
    /// them with the rest; the caller decides what to do with them.
    pub hooks: Vec<Manifest>,
    /// The rendered `templates/NOTES.txt`, if the chart has one.
    pub notes: Option<String>,
    /// The final values the templates saw (defaults coalesced with the
    /// user's values).
    pub values: Value,
    /// Every rendered file (`chart/templates/x.yaml` → text), partials and
    /// NOTES.txt excluded, as Helm's engine returns them.
    pub files: Vec<(String, String)>,
    sorted: SortedEntries,
}

/// The documents `helm template` prints, comment-only ones included.
#[derive(Debug, Clone, PartialEq)]
struct SortedEntries {
    manifests: Vec<Document>,
    hooks: Vec<Document>,
}

impl Rendered {
    /// The text `helm template` prints: each manifest (comment-only
    /// documents included, as Helm keeps them) preceded by
    /// `---\n# Source: <chart>/templates/<file>\n`, then the hooks.
    pub fn to_helm_template_output(&self) -> String {
        manifest::helm_template_text(&self.sorted.manifests, &self.sorted.hooks)
    }

    /// Hex SHA-256 of [`Rendered::to_helm_template_output`], to record what
    /// a revision applied.
    pub fn digest(&self) -> String {
        manifest::sha256_hex(&self.to_helm_template_output())
    }
}

impl Chart {
    /// Renders the chart: coalesces `options.values` over the defaults,
    /// validates them against `values.schema.json`, renders every template
    /// and returns the manifests in install order.
    pub fn render(&self, options: &RenderOptions) -> Result<Rendered> {
        let prepared = &self.prepared;
        let values = Values::coalesce(&self.values, &options.values);
        if let Some(validator) = &prepared.validator {
            let validator = validator.as_ref().map_err(|e| Error::Schema(e.clone()))?;
            validate(&self.metadata.name, validator, &values)?;
        }
        let templates = prepared.templates.as_ref().map_err(|e| e.clone())?;
        let name = &self.metadata.name;
        let context = self.context(options, &values);
        let api_versions = if options.api_versions.is_empty() {
            Arc::clone(&DEFAULT_API_VERSION_SET)
        } else {
            Arc::new(api_version_set(&options.api_versions))
        };
        let rendered = engine::render(
            templates,
            context,
            Shared {
                files: Arc::clone(&prepared.files),
                api_versions,
            },
        )?;

        let notes_name = format!("{name}/templates/NOTES.txt");
        let mut notes = None;
        let mut files = Vec::new();
        for (file, text) in rendered {
            if file == notes_name {
                notes = Some(text);
            } else if !file.ends_with("NOTES.txt") {
                files.push((file, text));
            }
        }
        Rendered::assemble(files, notes, values)
    }
}

impl Rendered {
    /// The rendered files (`chart/templates/x.yaml` → text, NOTES.txt
    /// apart) split, parsed and put in install order.
    pub(crate) fn assemble(
        files: Vec<(String, String)>,
        notes: Option<String>,
        values: Value,
    ) -> Result<Rendered> {
        let sorted = manifest::sort_manifests(&files)?;
        // Each entry's object moves into its manifest; the text stays for
        // `to_helm_template_output`, comment-only documents included.
        let split = |entries: Vec<Entry>| {
            let mut manifests = Vec::with_capacity(entries.len());
            let mut documents = Vec::with_capacity(entries.len());
            for entry in entries {
                if entry.object.is_object() {
                    manifests.push(Manifest {
                        source: entry.source.clone(),
                        object: entry.object,
                        yaml: entry.content.clone(),
                    });
                }
                documents.push(Document {
                    source: entry.source,
                    content: entry.content,
                });
            }
            (manifests, documents)
        };
        let (manifests, manifest_documents) = split(sorted.manifests);
        let (hooks, hook_documents) = split(sorted.hooks);
        Ok(Rendered {
            manifests,
            hooks,
            notes,
            values,
            files,
            sorted: SortedEntries {
                manifests: manifest_documents,
                hooks: hook_documents,
            },
        })
    }
}

impl Chart {
    fn context(&self, options: &RenderOptions, values: &Value) -> HashMap<String, Tv> {
        let mut release = HashMap::new();
        release.insert("Name".to_owned(), Tv::from(options.release_name.as_str()));
        release.insert("Namespace".to_owned(), Tv::from(options.namespace.as_str()));
        release.insert(
            "Revision".to_owned(),
            Tv::Number(gtmpl_ng::Number::signed(
                i64::try_from(options.revision).unwrap_or(i64::MAX),
            )),
        );
        release.insert("IsInstall".to_owned(), Tv::Bool(!options.is_upgrade));
        release.insert("IsUpgrade".to_owned(), Tv::Bool(options.is_upgrade));
        release.insert("Service".to_owned(), Tv::from("Helm"));

        let version = options.kube_version.trim_start_matches('v');
        let mut parts = version.split(['.', '-', '+']);
        let major = parts.next().unwrap_or("").to_owned();
        let minor = parts.next().unwrap_or("").to_owned();
        let git_version = format!("v{version}");
        let mut kube = HashMap::new();
        kube.insert("Version".to_owned(), Tv::String(git_version.clone()));
        kube.insert("GitVersion".to_owned(), Tv::String(git_version));
        kube.insert("Major".to_owned(), Tv::String(major));
        kube.insert("Minor".to_owned(), Tv::String(minor));
        let mut capabilities = HashMap::new();
        capabilities.insert("KubeVersion".to_owned(), Tv::object(kube));
        capabilities.insert(
            "HelmVersion".to_owned(),
            Tv::map(HashMap::from([("Version".to_owned(), Tv::from("v4.2"))])),
        );

        let mut context = HashMap::new();
        context.insert("Values".to_owned(), to_template(values));
        context.insert("Release".to_owned(), Tv::map(release));
        context.insert("Chart".to_owned(), self.prepared.chart_object.clone());
        context.insert("Capabilities".to_owned(), Tv::object(capabilities));
        context.insert("Subcharts".to_owned(), Tv::map(HashMap::new()));
        context
    }
}

/// Validates coalesced values against the chart's JSON schema.
fn validate(chart: &str, validator: &jsonschema::Validator, values: &Value) -> Result<()> {
    let violations: Vec<String> = validator
        .iter_errors(values)
        .map(|e| format!("- at '{}': {}", e.instance_path(), e))
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::SchemaViolation {
            chart: chart.to_owned(),
            violations,
        })
    }
}
