//! The template engine: Helm's semantics on top of `gtmpl-ng`.
//!
//! All of a chart's templates are parsed into one `gtmpl_ng::Template`, as
//! Helm parses them into one Go template set, so `define`s are shared. That
//! happens once, when the chart is loaded ([`Templates::parse`]); a render
//! executes the files of the shared set by name
//! (`Template::render_template`, Go's `ExecuteTemplate`).
//!
//! `include` and `tpl` need that set while a render is under way, but
//! `gtmpl-ng` functions are plain `fn` pointers with no context argument, so
//! the active set is kept on a thread-local stack for the duration of the
//! render. The whole render runs on a render thread (`worker`, with a large
//! stack), which keeps the thread-local state private to one render and deep
//! `include` nesting away from the caller's (possibly async) stack.

mod convert;
mod funcs;
mod rewrite;
mod worker;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use gtmpl_ng::{Context, ExecError, FuncError, Limits, ParseError, Template, Value as Tv};

use crate::chart::ChartFile;
use crate::error::{Error, Result};

pub(crate) use convert::to_template;

/// The name `tpl` gives its text, as Helm does.
const TPL_NAME: &str = "gotpl";
/// How deep `include` may nest. Helm allows a thousand calls of the same
/// name; every level here is real recursion, so the bound is lower and
/// counts all names together. Real charts stay in single digits.
const MAX_INCLUDE_DEPTH: usize = 100;

/// One parsed template set: a chart's, or a chart's plus one `tpl` text.
struct TemplateSet {
    template: Template,
    /// Which file each `define` came from, so an error inside a helper
    /// names the file (the engine reports the definition's name).
    defined_in: Arc<HashMap<String, String>>,
}

/// A chart's templates, parsed once and shared by every render (and every
/// thread: it is `Send + Sync`).
pub(crate) struct Templates {
    set: Arc<TemplateSet>,
    /// The files a render produces (every template but the `_` partials),
    /// sorted by name.
    renderable: Vec<String>,
    /// `.Template.BasePath`: `chart/templates`.
    base_path: String,
    /// The chart's name.
    chart: String,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("renderable", &self.renderable)
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

/// Why a chart's templates did not parse. Kept with the chart and reported
/// by every render, as Helm reports it: a chart whose templates our engine
/// refuses still loads (its metadata and values serve the `helm` binary
/// renderer, which may well parse it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseFailure {
    template: String,
    line: usize,
    message: String,
}

impl From<ParseFailure> for Error {
    fn from(failure: ParseFailure) -> Error {
        Error::Parse {
            template: failure.template,
            line: failure.line,
            message: failure.message,
        }
    }
}

/// Where and why a render failed.
#[derive(Debug, Clone)]
struct Failure {
    location: Option<(String, usize, usize)>,
    message: String,
}

thread_local! {
    static ACTIVE: RefCell<Vec<Arc<TemplateSet>>> = const { RefCell::new(Vec::new()) };
    static INCLUDE_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The innermost failure of the current file, recorded by the first
    /// `include` it passed through, so the error names the helper's line.
    static INNER_FAILURE: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    // A function result (a `.Files.Get` of a big script, a `toYaml` of large
    // values) may legitimately exceed the default million.
    limits.function_output = Some(64 << 20);
    limits.total_iterations = Some(10_000_000);
    limits
}

fn new_template() -> Template {
    let mut template = Template::with_limits(limits());
    template.add_funcs(gtmpl_ng::helm_functions::HELM_FUNCTIONS);
    template.add_funcs(funcs::FUNCTIONS);
    template
}

fn parse_failure(error: &ParseError, fallback: &str) -> ParseFailure {
    match error {
        ParseError::WithContext(context, message) => ParseFailure {
            template: context.name.clone(),
            line: context.line,
            message: message.clone(),
        },
        other => ParseFailure {
            template: fallback.to_owned(),
            line: 0,
            message: other.to_string(),
        },
    }
}

impl Templates {
    /// Parses a chart's templates (`templates/...` files, paths relative to
    /// the chart) into one set, in Helm's order.
    ///
    /// A panic in the parser (a bug, but charts come from outside) is a
    /// parse failure of the chart, not the caller's panic.
    pub(crate) fn parse(
        chart_name: &str,
        files: &[ChartFile],
    ) -> std::result::Result<Templates, ParseFailure> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::parse_unguarded(chart_name, files)
        }))
        .unwrap_or_else(|_| {
            Err(ParseFailure {
                template: format!("{chart_name}/templates"),
                line: 0,
                message: "the template parser panicked".to_owned(),
            })
        })
    }

    fn parse_unguarded(
        chart_name: &str,
        files: &[ChartFile],
    ) -> std::result::Result<Templates, ParseFailure> {
        let mut sources: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                (
                    format!("{chart_name}/{}", f.name),
                    String::from_utf8_lossy(&f.data).into_owned(),
                )
            })
            .collect();
        helm_parse_order(&mut sources);
        let mut template = new_template();
        let mut defined_in = HashMap::new();
        for (name, text) in &sources {
            template
                .add_template(name.as_str(), rewrite::rewrite(text))
                .map_err(|e| match e {
                    gtmpl_ng::TemplateError::ParseError(p) => parse_failure(&p, name),
                    other => ParseFailure {
                        template: name.clone(),
                        line: 0,
                        message: other.to_string(),
                    },
                })?;
            for define in define_names(text) {
                defined_in.insert(define, name.clone());
            }
        }
        let mut renderable: Vec<String> = sources
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !name.rsplit('/').next().unwrap_or(name).starts_with('_'))
            .collect();
        renderable.sort_unstable();
        Ok(Templates {
            set: Arc::new(TemplateSet {
                template,
                defined_in: Arc::new(defined_in),
            }),
            renderable,
            base_path: format!("{chart_name}/templates"),
            chart: chart_name.to_owned(),
        })
    }
}

/// The names a source `define`s (`{{ define "x" }}`, `{{- define "x" -}}`).
fn define_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rewrite::find_open(rest) {
        rest = &rest[open + 2..];
        let action = rest.trim_start_matches(['-', ' ', '\t', '\n', '\r']);
        if let Some(after) = action.strip_prefix("define") {
            let after = after.trim_start();
            if let Some(quoted) = after.strip_prefix('"')
                && let Some(end) = quoted.find('"')
            {
                names.push(quoted[..end].to_owned());
            }
        }
    }
    names
}

/// Helm's parse order: deeper paths first, then reverse-alphabetical, so
/// that where two files define the same name, the shallower and
/// alphabetically first one wins (it is parsed last).
fn helm_parse_order(sources: &mut [(String, String)]) {
    sources.sort_by(|(a, _), (b, _)| {
        let depth = |s: &str| s.matches('/').count();
        depth(b).cmp(&depth(a)).then_with(|| b.cmp(a))
    });
}

fn execute(set: &TemplateSet, name: &str, data: Tv) -> std::result::Result<String, ExecError> {
    set.template.render_template(name, &Context::from(data))
}

fn failure_from(set: &TemplateSet, error: &ExecError) -> Failure {
    match error.as_structured() {
        Some(structured) => {
            let context = &structured.context;
            let file = set.defined_in.get(&context.name).unwrap_or(&context.name);
            Failure {
                location: Some((file.clone(), context.line, context.col)),
                message: structured.message.clone(),
            }
        }
        None => Failure {
            location: None,
            message: error.to_string(),
        },
    }
}

fn record(failure: &Failure) {
    if failure.location.is_some() {
        INNER_FAILURE.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(failure.clone());
            }
        });
    }
}

fn active() -> std::result::Result<Arc<TemplateSet>, FuncError> {
    ACTIVE
        .with(|a| a.borrow().last().cloned())
        .ok_or_else(|| FuncError::Generic("include called outside a render".to_owned()))
}

/// Runs `body` one `include` level deeper, refusing runaway recursion.
fn nested<T>(
    name: &str,
    body: impl FnOnce() -> std::result::Result<T, FuncError>,
) -> std::result::Result<T, FuncError> {
    let depth = INCLUDE_DEPTH.with(Cell::get);
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(FuncError::Generic(format!(
            "rendering template has a nested reference name: {name}: unable to execute template (more than {MAX_INCLUDE_DEPTH} nested includes)"
        )));
    }
    INCLUDE_DEPTH.with(|d| d.set(depth + 1));
    let result = body();
    INCLUDE_DEPTH.with(|d| d.set(depth));
    result
}

/// `include`: renders a named template to a string.
pub(crate) fn include_template(name: &str, data: Tv) -> std::result::Result<String, FuncError> {
    let set = active()?;
    nested(name, || {
        execute(&set, name, data).map_err(|error| {
            let failure = failure_from(&set, &error);
            record(&failure);
            FuncError::Generic(failure.message)
        })
    })
}

/// `tpl`: renders `text` as a template that sees every `define` of the
/// active set (and may add its own), with `data` as its dot. The set is
/// shared, not re-parsed: a clone of it costs a pointer per template.
pub(crate) fn render_tpl(text: &str, data: Tv) -> std::result::Result<String, FuncError> {
    let parent = active()?;
    let mut template = parent.template.clone();
    template
        .add_template(TPL_NAME, rewrite::rewrite(text))
        .map_err(|e| {
            let error = Error::Parse {
                template: TPL_NAME.to_owned(),
                line: 0,
                message: e.to_string(),
            };
            FuncError::Generic(format!("cannot parse template {text:?}: {error}"))
        })?;
    let set = Arc::new(TemplateSet {
        template,
        defined_in: Arc::clone(&parent.defined_in),
    });
    ACTIVE.with(|a| a.borrow_mut().push(Arc::clone(&set)));
    let result = nested(TPL_NAME, || {
        execute(&set, TPL_NAME, data).map_err(|error| {
            let failure = failure_from(&set, &error);
            record(&failure);
            FuncError::Generic(format!(
                "error during tpl function execution for {text:?}: {}",
                failure.message
            ))
        })
    });
    ACTIVE.with(|a| a.borrow_mut().pop());
    result.map(without_no_value)
}

/// Go prints a missing value as `<no value>`; Helm strips it from output.
fn without_no_value(text: String) -> String {
    if text.contains("<no value>") {
        text.replace("<no value>", "")
    } else {
        text
    }
}

/// The parts of the dot that are kept out of it, behind handles: see
/// `funcs::FILE_SETS`.
pub(crate) struct Shared {
    /// `.Files`: path → contents, the chart's own map.
    pub files: Arc<BTreeMap<String, String>>,
    /// `.Capabilities.APIVersions`, as a set.
    pub api_versions: Arc<BTreeMap<String, String>>,
}

/// Renders every non-partial template with `context` as its dot (plus
/// `.Template`), returning `(name, output)` sorted by name.
pub(crate) fn render(
    templates: &Arc<Templates>,
    context: HashMap<String, Tv>,
    shared: Shared,
) -> Result<Vec<(String, String)>> {
    let owned = Arc::clone(templates);
    match worker::run(move || render_on_this_thread(&owned, context, shared)) {
        Ok(Some(result)) => result,
        Ok(None) => Err(Error::Render {
            template: templates.chart.clone(),
            line: 0,
            column: 0,
            message: "the template engine panicked".to_owned(),
        }),
        Err(source) => Err(Error::Io {
            path: "render thread".into(),
            source,
        }),
    }
}

fn render_on_this_thread(
    templates: &Templates,
    mut context: HashMap<String, Tv>,
    shared: Shared,
) -> Result<Vec<(String, String)>> {
    // The thread may have rendered before; nothing of that render is left,
    // but make sure.
    ACTIVE.with(|a| a.borrow_mut().clear());
    INCLUDE_DEPTH.with(|d| d.set(0));
    funcs::clear_file_sets();
    context.insert("Files".to_owned(), funcs::files_object(shared.files));
    if let Some(Tv::Object(capabilities)) = context.get_mut("Capabilities") {
        Arc::make_mut(capabilities).insert(
            "APIVersions".to_owned(),
            funcs::api_versions_object(shared.api_versions),
        );
    }
    let set = &templates.set;
    ACTIVE.with(|a| a.borrow_mut().push(Arc::clone(set)));
    let mut out = Vec::with_capacity(templates.renderable.len());
    let mut result = Ok(());
    for name in &templates.renderable {
        let mut dot = context.clone();
        let template = HashMap::from([
            ("Name".to_owned(), Tv::String(name.clone())),
            (
                "BasePath".to_owned(),
                Tv::String(templates.base_path.clone()),
            ),
        ]);
        dot.insert("Template".to_owned(), Tv::object(template));
        INNER_FAILURE.with(|slot| slot.borrow_mut().take());
        match execute(set, name, Tv::object(dot)) {
            Ok(text) => out.push((name.clone(), without_no_value(text))),
            Err(error) => {
                let failure = INNER_FAILURE
                    .with(|slot| slot.borrow_mut().take())
                    .unwrap_or_else(|| failure_from(set, &error));
                let (template, line, column) = failure.location.unwrap_or((name.clone(), 0, 0));
                result = Err(Error::Render {
                    template,
                    line,
                    column,
                    message: failure.message,
                });
                break;
            }
        }
    }
    ACTIVE.with(|a| a.borrow_mut().clear());
    funcs::clear_file_sets();
    result.map(|()| out)
}
