//! The oracle: real Helm, reached through `tests/oracle.py` and the Python
//! named by `STOREPLANE_PYTHON`.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use storeplane_chart::{Chart, RenderOptions, Values};

/// The Python interpreter with `helm-python-sdk` and `kubernetes-validate`.
/// The oracle test fails (it does not skip) without one.
pub fn python() -> PathBuf {
    match std::env::var_os("STOREPLANE_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "STOREPLANE_PYTHON is not set. The oracle test compares against real Helm and needs a \
             Python with `pip install helm-python-sdk==0.2.2 kubernetes-validate==1.37.0`; \
             set STOREPLANE_PYTHON to that interpreter (see README.md, 'Running the tests')."
        ),
    }
}

/// Sends one request to `tests/oracle.py` and returns its answer.
pub fn ask(request: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle.py");
    let python = python();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run STOREPLANE_PYTHON={}: {e}", python.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write request");
    let output = child.wait_with_output().expect("oracle output");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle.py gave no JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    if let Some(fatal) = answer.get("fatal") {
        panic!("oracle.py: {fatal}");
    }
    answer
}

/// One way to render a chart, as `oracle-cases.json` lists them.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub values_files: Vec<String>,
    pub sets: Vec<String>,
    pub json_values: Value,
    pub release: String,
    pub namespace: String,
    pub revision: u64,
    pub is_upgrade: bool,
    pub expect_error: Option<String>,
}

impl Case {
    fn from_json(value: &Value) -> Case {
        let strings = |key: &str| -> Vec<String> {
            value
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |key: &str, default: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_owned()
        };
        Case {
            name: text("name", "case"),
            values_files: strings("values_files"),
            sets: strings("sets"),
            json_values: value.get("json_values").cloned().unwrap_or(json!({})),
            release: text("release", "release-name"),
            namespace: text("namespace", "default"),
            revision: value.get("revision").and_then(Value::as_u64).unwrap_or(1),
            is_upgrade: value
                .get("is_upgrade")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            expect_error: value
                .get("expect_error")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }

    fn plain(name: &str, values_files: Vec<String>) -> Case {
        Case::from_json(&json!({"name": name, "values_files": values_files}))
    }
}

/// The cases for a chart directory: `oracle-cases.json` if it has one, else
/// the defaults plus one case per `values-*.yaml` beside `Chart.yaml`.
pub fn cases_for(dir: &Path) -> Vec<Case> {
    let listed = dir.join("oracle-cases.json");
    if listed.is_file() {
        let text = std::fs::read_to_string(&listed).expect("read oracle-cases.json");
        let cases: Value = serde_json::from_str(&text).expect("oracle-cases.json is JSON");
        return cases
            .as_array()
            .expect("a list of cases")
            .iter()
            .map(Case::from_json)
            .collect();
    }
    let mut cases = vec![Case::plain("defaults", Vec::new())];
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("read chart dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("values-") && n.ends_with(".yaml"))
        .collect();
    files.sort();
    for file in files {
        cases.push(Case::plain(&file.clone(), vec![file]));
    }
    cases
}

/// Every number as a float, which is what a value that travels as JSON
/// becomes in Helm.
pub fn as_json_transported(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(value.clone(), Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(as_json_transported).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_json_transported(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Numbers compared by value, whatever their representation.
pub fn normalized(value: &Value) -> Value {
    as_json_transported(value)
}

/// The user values of a case, as the Helm CLI would layer them.
pub fn user_values(dir: &Path, case: &Case) -> Value {
    let mut values = json!({});
    for file in &case.values_files {
        let text = std::fs::read_to_string(dir.join(file)).expect("values file");
        values = Values::merge(
            &values,
            &Values::from_yaml(&text).expect("values file parses"),
        );
    }
    for set in &case.sets {
        Values::apply_set(&mut values, set).expect("--set parses");
    }
    Values::merge(&values, &case.json_values)
}

fn objects_by_source(
    rendered: &storeplane_chart::Rendered,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for m in rendered.manifests.iter().chain(&rendered.hooks) {
        out.entry(m.source.clone())
            .or_default()
            .push(normalized(&m.object).to_string());
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// Renders every case of the chart in `dir` with this crate and with Helm
/// and requires the same result: the same text for every template file, the
/// same sorted `helm template` manifest, the same NOTES, the same objects
/// (Helm's text read by PyYAML), the same merged values, and manifests that
/// pass `kubernetes-validate --strict`. Returns how many cases it checked.
pub fn check_chart_dir(dir: &Path) -> usize {
    let chart = Chart::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let cases = cases_for(dir);
    let transported: Vec<Value> = cases
        .iter()
        .map(|c| as_json_transported(&user_values(dir, c)))
        .collect();
    let request = json!({
        "op": "render",
        "chart": dir.to_string_lossy(),
        "cases": cases.iter().zip(&transported).map(|(c, v)| json!({
            "values": v, "name": c.release, "namespace": c.namespace,
            "revision": c.revision, "is_upgrade": c.is_upgrade,
        })).collect::<Vec<_>>(),
    });
    let answer = ask(&request);
    let results = answer["results"].as_array().expect("results");
    let mut to_validate = Vec::new();
    for ((case, values), helm) in cases.iter().zip(&transported).zip(results) {
        let label = format!("{} / case {:?}", dir.display(), case.name);
        let ours = chart.render(&RenderOptions {
            release_name: case.release.clone(),
            namespace: case.namespace.clone(),
            revision: case.revision,
            is_upgrade: case.is_upgrade,
            values: values.clone(),
            ..RenderOptions::default()
        });
        if let Some(expected) = &case.expect_error {
            let helm_error = helm
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_else(|| {
                    panic!(
                        "{label}: Helm rendered, but an error containing {expected:?} was expected"
                    )
                });
            let our_error = match ours {
                Ok(_) => panic!("{label}: we rendered, Helm failed with: {helm_error}"),
                Err(e) => e.to_string(),
            };
            assert!(
                helm_error.contains(expected.as_str()),
                "{label}: Helm's error {helm_error:?} lacks {expected:?}"
            );
            assert!(
                our_error.contains(expected.as_str()),
                "{label}: our error {our_error:?} lacks {expected:?} (Helm: {helm_error})"
            );
            continue;
        }
        if let Some(error) = helm.get("error") {
            panic!(
                "{label}: Helm failed: {error}; ours: {:?}",
                ours.as_ref().err()
            );
        }
        let ours = ours.unwrap_or_else(|e| panic!("{label}: we failed where Helm rendered: {e}"));

        let helm_files: std::collections::BTreeMap<String, String> = helm["files"]
            .as_object()
            .expect("files")
            .iter()
            .filter(|(k, _)| !k.rsplit('/').next().unwrap_or(k).starts_with('_'))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let our_files: std::collections::BTreeMap<String, String> =
            ours.files.iter().cloned().collect();
        assert_eq!(
            our_files.keys().collect::<Vec<_>>(),
            helm_files.keys().collect::<Vec<_>>(),
            "{label}: rendered file sets differ"
        );
        for (name, text) in &helm_files {
            pretty_assert(&label, name, text, &our_files[name]);
        }

        // Helm's sorted manifest comes from an install dry run, so only
        // install cases at revision 1 have one.
        if let Some(helm_manifest) = helm["manifest"].as_str() {
            let expected_prefix = format!("{}\n", helm_manifest.trim());
            let ours_text = ours.to_helm_template_output();
            let ours_prefix = &ours_text[..ours_text.len().min(expected_prefix.len())];
            pretty_assert(
                &label,
                "helm template output (manifests)",
                &expected_prefix,
                ours_prefix,
            );
            if ours.hooks.is_empty() {
                assert_eq!(
                    ours_text.len(),
                    expected_prefix.len(),
                    "{label}: trailing output after the manifests"
                );
            }
        }

        assert_eq!(
            ours.notes.as_deref(),
            helm["notes"].as_str(),
            "{label}: NOTES.txt differs"
        );

        let helm_objects: std::collections::BTreeMap<String, Vec<String>> = helm["objects"]
            .as_object()
            .expect("objects")
            .iter()
            .filter(|(_, docs)| docs.as_array().is_some_and(|d| !d.is_empty()))
            .map(|(k, docs)| {
                let mut list: Vec<String> = docs
                    .as_array()
                    .expect("docs")
                    .iter()
                    .map(|d| normalized(d).to_string())
                    .collect();
                list.sort();
                (k.clone(), list)
            })
            .collect();
        let our_objects = objects_by_source(&ours);
        let sources: std::collections::BTreeSet<&String> =
            our_objects.keys().chain(helm_objects.keys()).collect();
        for source in sources {
            let (a, b) = (helm_objects.get(source), our_objects.get(source));
            if a != b {
                let (a, b) = (
                    a.cloned().unwrap_or_default(),
                    b.cloned().unwrap_or_default(),
                );
                let at = a
                    .iter()
                    .zip(&b)
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()));
                panic!(
                    "{label}: objects parsed from {source} differ ({} from Helm's text, {} ours); first difference:\n--- helm\n{}\n--- ours\n{}",
                    a.len(),
                    b.len(),
                    a.get(at).map_or("<none>", String::as_str),
                    b.get(at).map_or("<none>", String::as_str),
                );
            }
        }

        assert_eq!(
            normalized(&ours.values),
            normalized(&helm["merged"]),
            "{label}: merged values differ"
        );

        for m in ours.manifests.iter().chain(&ours.hooks) {
            to_validate.push((label.clone(), m.object.clone()));
        }
    }
    let answer = ask(&json!({
        "op": "validate",
        "kube_version": "1.36.0",
        "objects": to_validate.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
    }));
    let problems: Vec<String> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .zip(&to_validate)
        .filter_map(|(r, (label, _))| r.as_str().map(|e| format!("{label}: {e}")))
        .collect();
    assert!(
        problems.is_empty(),
        "kubernetes-validate --strict rejected manifests:\n{}",
        problems.join("\n")
    );
    cases.len()
}

fn pretty_assert(label: &str, what: &str, expected: &str, actual: &str) {
    if expected == actual {
        return;
    }
    let expected_lines: Vec<&str> = expected.split('\n').collect();
    let actual_lines: Vec<&str> = actual.split('\n').collect();
    let first = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(expected_lines.len().min(actual_lines.len()));
    let from = first.saturating_sub(3);
    panic!(
        "{label}: {what} differs from Helm at line {}\n--- helm\n{}\n--- ours\n{}\n",
        first + 1,
        expected_lines[from..(first + 4).min(expected_lines.len())].join("\n"),
        actual_lines[from..(first + 4).min(actual_lines.len())].join("\n"),
    );
}

/// Every chart under `testdata/`.
pub fn testdata_charts() -> Vec<PathBuf> {
    charts_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"))
}

/// The charts users get: the engines' (`plugins/<engine>/charts/<chart>`)
/// and the platform's own under `charts/`.
pub fn product_charts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = charts_under(&root.join("charts"));
    let plugins = std::fs::read_dir(root.join("plugins")).expect("plugins/");
    for plugin in plugins.filter_map(|e| Some(e.ok()?.path())) {
        dirs.extend(charts_under(&plugin.join("charts")));
    }
    dirs.sort();
    dirs
}

/// The chart directories directly under `root` (none when it is missing).
fn charts_under(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}
