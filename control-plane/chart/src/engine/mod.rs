//! The template engine: Helm's semantics on top of `gtmpl-ng`.
//!
//! All of a chart's templates are parsed into one `gtmpl_ng::Template`, as
//! Helm parses them into one Go template set, so `define`s are shared. A
//! small dispatcher template (`{{template (.n) .d}}`) is what gets executed,
//! with the name of the file (or of the `include`d definition) to run and its
//! data; that is how one parsed set renders any of its templates.
//!
//! `include` and `tpl` need that set while a render is under way, but
//! `gtmpl-ng` functions are plain `fn` pointers with no context argument, so
//! the active set is kept on a thread-local stack for the duration of the
//! render. The whole render runs on a thread of its own (with a large stack),
//! which keeps the thread-local state private to one render and deep
//! `include` nesting away from the caller's (possibly async) stack.

mod convert;
mod funcs;
mod rewrite;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use gtmpl_ng::{Context, ExecError, FuncError, Limits, ParseError, Template, Value as Tv};

use crate::error::{Error, Result};

pub(crate) use convert::to_template;

/// The name of the dispatcher template.
const DISPATCH: &str = "storeplane/dispatch";
/// The name `tpl` gives its text, as Helm does.
const TPL_NAME: &str = "gotpl";
/// How deep `include` may nest. Helm allows a thousand calls of the same
/// name; every level here is real recursion, so the bound is lower and
/// counts all names together. Real charts stay in single digits.
const MAX_INCLUDE_DEPTH: usize = 100;
/// The stack of the render thread. Reserved, not committed, so generous.
const RENDER_STACK_BYTES: usize = 256 << 20;

/// One parsed template set.
struct TemplateSet {
    template: Template,
    /// The (already rewritten) sources, so `tpl` can build a set of its own.
    sources: Rc<Vec<(String, String)>>,
    /// Which file each `define` came from, so an error inside a helper
    /// names the file (the engine reports the definition's name).
    defined_in: HashMap<String, String>,
}

/// Where and why a render failed.
#[derive(Debug, Clone)]
struct Failure {
    location: Option<(String, usize, usize)>,
    message: String,
}

thread_local! {
    static ACTIVE: RefCell<Vec<Rc<TemplateSet>>> = const { RefCell::new(Vec::new()) };
    static INCLUDE_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The innermost failure of the current file, recorded by the first
    /// `include` it passed through, so the error names the helper's line.
    static INNER_FAILURE: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// A template file to render: its full name (`chart/templates/x.yaml`) and
/// source.
pub(crate) struct Source {
    pub name: String,
    pub text: String,
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
    template.name = DISPATCH.to_owned();
    template
}

fn parse_error(error: &ParseError, fallback: &str) -> Error {
    match error {
        ParseError::WithContext(context, message) => Error::Parse {
            template: context.name.clone(),
            line: context.line,
            message: message.clone(),
        },
        other => Error::Parse {
            template: fallback.to_owned(),
            line: 0,
            message: other.to_string(),
        },
    }
}

fn build_set(
    sources: Rc<Vec<(String, String)>>,
    extra: Option<(&str, &str)>,
) -> Result<TemplateSet> {
    let mut template = new_template();
    for (name, text) in sources.iter() {
        template
            .add_template(name.as_str(), text.as_str())
            .map_err(|e| match e {
                gtmpl_ng::TemplateError::ParseError(p) => parse_error(&p, name),
                other => Error::Parse {
                    template: name.clone(),
                    line: 0,
                    message: other.to_string(),
                },
            })?;
    }
    if let Some((name, text)) = extra {
        template
            .add_template(name, rewrite::rewrite(text))
            .map_err(|e| Error::Parse {
                template: name.to_owned(),
                line: 0,
                message: e.to_string(),
            })?;
    }
    template
        .add_template(DISPATCH, "{{template (.n) .d}}")
        .map_err(|e| Error::Parse {
            template: DISPATCH.to_owned(),
            line: 0,
            message: e.to_string(),
        })?;
    let mut defined_in = HashMap::new();
    for (file, text) in sources.iter() {
        for name in define_names(text) {
            defined_in.insert(name, file.clone());
        }
    }
    Ok(TemplateSet {
        template,
        sources,
        defined_in,
    })
}

/// The names a source `define`s (`{{ define "x" }}`, `{{- define "x" -}}`).
fn define_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
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
fn helm_parse_order(sources: &mut [Source]) {
    sources.sort_by(|a, b| {
        let depth = |s: &str| s.matches('/').count();
        depth(&b.name)
            .cmp(&depth(&a.name))
            .then_with(|| b.name.cmp(&a.name))
    });
}

fn execute(set: &TemplateSet, name: &str, data: Tv) -> std::result::Result<String, ExecError> {
    let mut call = HashMap::new();
    call.insert("n".to_owned(), Tv::String(name.to_owned()));
    call.insert("d".to_owned(), data);
    set.template.render(&Context::from(Tv::Map(call)))
}

fn failure_from(set: &TemplateSet, error: &ExecError) -> Failure {
    match error.as_structured() {
        Some(structured) => {
            let location = structured
                .chain()
                .find(|e| e.context.name != DISPATCH)
                .map(|e| {
                    let name = &e.context.name;
                    let file = set.defined_in.get(name).unwrap_or(name);
                    (file.clone(), e.context.line, e.context.col)
                });
            Failure {
                location,
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

fn active() -> std::result::Result<Rc<TemplateSet>, FuncError> {
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
/// chart (and may add its own), with `data` as its dot.
pub(crate) fn render_tpl(text: &str, data: Tv) -> std::result::Result<String, FuncError> {
    let parent = active()?;
    let set = build_set(parent.sources.clone(), Some((TPL_NAME, text)))
        .map_err(|e| FuncError::Generic(format!("cannot parse template {text:?}: {e}")))?;
    let set = Rc::new(set);
    ACTIVE.with(|a| a.borrow_mut().push(set.clone()));
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
    result.map(|out| out.replace("<no value>", ""))
}

/// The parts of the dot that are kept out of it, behind handles: see
/// `funcs::FILE_SETS`.
pub(crate) struct Shared {
    /// `.Files`: path → contents.
    pub files: BTreeMap<String, String>,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
}

/// Renders every non-partial template with `context` as its dot (plus
/// `.Template`), returning `(name, output)` sorted by name.
pub(crate) fn render(
    mut sources: Vec<Source>,
    chart_name: &str,
    context: HashMap<String, Tv>,
    shared: Shared,
) -> Result<Vec<(String, String)>> {
    helm_parse_order(&mut sources);
    let base_path = format!("{chart_name}/templates");
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("storeplane-chart-render".to_owned())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(scope, move || {
                render_on_this_thread(sources, &base_path, context, shared)
            })
            .map_err(|source| Error::Io {
                path: "render thread".into(),
                source,
            })?;
        handle.join().unwrap_or_else(|_| {
            Err(Error::Render {
                template: chart_name.to_owned(),
                line: 0,
                column: 0,
                message: "the template engine panicked".to_owned(),
            })
        })
    })
}

fn render_on_this_thread(
    sources: Vec<Source>,
    base_path: &str,
    mut context: HashMap<String, Tv>,
    shared: Shared,
) -> Result<Vec<(String, String)>> {
    context.insert("Files".to_owned(), funcs::files_object(shared.files));
    if let Some(Tv::Object(capabilities)) = context.get_mut("Capabilities") {
        capabilities.insert(
            "APIVersions".to_owned(),
            funcs::api_versions_object(&shared.api_versions),
        );
    }
    let rewritten: Vec<(String, String)> = sources
        .iter()
        .map(|s| (s.name.clone(), rewrite::rewrite(&s.text)))
        .collect();
    let set = Rc::new(build_set(Rc::new(rewritten), None)?);
    ACTIVE.with(|a| a.borrow_mut().push(set.clone()));
    let mut names: Vec<&str> = sources
        .iter()
        .map(|s| s.name.as_str())
        .filter(|name| !name.rsplit('/').next().unwrap_or(name).starts_with('_'))
        .collect();
    names.sort_unstable();
    let mut out = Vec::with_capacity(names.len());
    let mut result = Ok(());
    for name in names {
        let mut dot = context.clone();
        let mut template = HashMap::new();
        template.insert("Name".to_owned(), Tv::String(name.to_owned()));
        template.insert("BasePath".to_owned(), Tv::String(base_path.to_owned()));
        dot.insert("Template".to_owned(), Tv::Object(template));
        INNER_FAILURE.with(|slot| slot.borrow_mut().take());
        match execute(&set, name, Tv::Object(dot)) {
            // Go prints a missing value as `<no value>`; Helm strips it.
            Ok(text) => out.push((name.to_owned(), text.replace("<no value>", ""))),
            Err(error) => {
                let failure = INNER_FAILURE
                    .with(|slot| slot.borrow_mut().take())
                    .unwrap_or_else(|| failure_from(&set, &error));
                let (template, line, column) = failure.location.unwrap_or((name.to_owned(), 0, 0));
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
