//! Render time, this crate against Helm's Go engine, side by side.
//!
//! ```sh
//! STOREPLANE_PYTHON=target/venv/bin/python \
//!   cargo run --release -p storeplane-chart --example render_bench -- [CHART_DIR [ITERATIONS [VALUES_FILE]]]
//! ```
//!
//! With no arguments it benches the bench chart (`testdata/shop` with its
//! `values-prod.yaml`) and each engine's chart (`plugins/static-site`,
//! `plugins/woocommerce` and `plugins/medusa`, with their default values, as
//! the oracle test's `defaults` case renders them), 200 iterations each, and
//! prints one table. Given a chart directory it benches that chart alone:
//! with VALUES_FILE, else its `values-prod.yaml` if it has one, else its
//! defaults.
//!
//! "render" renders an already loaded chart; "load + render" loads it from
//! disk every time as well. Each side runs its iterations in five batches
//! and reports the fastest batch's time per render, so that a burst of other
//! work on the machine does not land on one side only. Helm is timed inside
//! its own process (through `tests/oracle.py`), so Python's start-up is not
//! counted against it; its render still crosses ctypes and JSON. Without
//! `STOREPLANE_PYTHON` only our side is timed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;
use storeplane_chart::{Chart, RenderOptions, Values};

/// Batches per measurement; the fastest one counts.
const BATCHES: usize = 5;
const DEFAULT_ITERATIONS: usize = 200;

type Error = Box<dyn std::error::Error>;

/// One chart with one set of values.
struct Case {
    label: String,
    dir: PathBuf,
    values_file: Option<PathBuf>,
}

/// Seconds per iteration.
#[derive(Clone, Copy)]
struct Timing {
    render: f64,
    load_and_render: f64,
}

fn main() -> Result<(), Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let (cases, iterations) = match args.next() {
        None => (default_cases(root), DEFAULT_ITERATIONS),
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let iterations = args.next().map_or(Ok(DEFAULT_ITERATIONS), |n| n.parse())?;
            let values_file = args
                .next()
                .map(PathBuf::from)
                .or_else(|| Some(dir.join("values-prod.yaml")).filter(|p| p.is_file()));
            let label = label(&dir, values_file.as_deref());
            let case = Case {
                label,
                dir,
                values_file,
            };
            (vec![case], iterations)
        }
    };
    let python = std::env::var_os("STOREPLANE_PYTHON").filter(|p| !p.is_empty());

    println!(
        "{iterations} iterations per chart and measurement, fastest of {BATCHES} batches; times per render"
    );
    println!(
        "{:<36}{:>9}{:>8} |{:^31}|{:^31}",
        "", "", "", "render", "load + render"
    );
    println!(
        "{:<36}{:>9}{:>8} |{:>10}{:>10}{:>11}|{:>10}{:>10}{:>11}",
        "chart",
        "objects",
        "bytes",
        "ours ms",
        "helm ms",
        "helm/ours",
        "ours ms",
        "helm ms",
        "helm/ours"
    );
    for case in &cases {
        let values = match &case.values_file {
            Some(file) => Values::from_yaml(&std::fs::read_to_string(file)?)?,
            None => serde_json::json!({}),
        };
        let (ours, summary) = time_ours(&case.dir, &values, iterations)?;
        let helm = python
            .as_ref()
            .map(|python| time_helm(root, Path::new(python), &case.dir, &values, iterations))
            .transpose()?;
        let cell = |f: fn(&Timing) -> f64| match &helm {
            Some(helm) => (
                format!("{:.3}", f(helm) * 1e3),
                format!("{:.2}x", f(helm) / f(&ours)),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let (helm_render, render_ratio) = cell(|t| t.render);
        let (helm_load, load_ratio) = cell(|t| t.load_and_render);
        println!(
            "{:<36}{:>9}{:>8} |{:>10.3}{:>10}{:>11}|{:>10.3}{:>10}{:>11}",
            case.label,
            summary.0,
            summary.1,
            ours.render * 1e3,
            helm_render,
            render_ratio,
            ours.load_and_render * 1e3,
            helm_load,
            load_ratio,
        );
    }
    if python.is_none() {
        println!(
            "helm: skipped; set STOREPLANE_PYTHON to a Python with helm-python-sdk to compare"
        );
    }
    Ok(())
}

/// The bench chart and the engines' charts.
fn default_cases(root: &Path) -> Vec<Case> {
    let shop = root.join("testdata/shop");
    let mut cases = vec![Case {
        label: "testdata/shop (values-prod.yaml)".to_owned(),
        values_file: Some(shop.join("values-prod.yaml")),
        dir: shop,
    }];
    for engine in ["static-site", "woocommerce", "medusa"] {
        let dir = root.join(format!("../../plugins/{engine}/charts/{engine}"));
        cases.push(Case {
            label: format!("{engine} (defaults)"),
            dir,
            values_file: None,
        });
    }
    cases
}

fn label(dir: &Path, values_file: Option<&Path>) -> String {
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    match values_file {
        Some(file) => format!("{} ({})", name(dir), name(file)),
        None => format!("{} (defaults)", name(dir)),
    }
}

/// Our times, and the rendered chart's size: "manifests+hooks" and bytes
/// of `helm template` output.
fn time_ours(
    dir: &Path,
    values: &Value,
    iterations: usize,
) -> Result<(Timing, (String, usize)), Error> {
    let options = RenderOptions {
        release_name: "bench".to_owned(),
        namespace: "bench".to_owned(),
        values: values.clone(),
        ..RenderOptions::default()
    };
    let chart = Chart::load(dir)?;
    let rendered = chart.render(&options)?; // warm-up, and a size to report
    let summary = (
        format!("{}+{}", rendered.manifests.len(), rendered.hooks.len()),
        rendered.to_helm_template_output().len(),
    );
    let render = fastest_batch(iterations, || {
        std::hint::black_box(chart.render(&options)?);
        Ok(())
    })?;
    let load_and_render = fastest_batch(iterations, || {
        std::hint::black_box(Chart::load(dir)?.render(&options)?);
        Ok(())
    })?;
    Ok((
        Timing {
            render,
            load_and_render,
        },
        summary,
    ))
}

/// Seconds per call of `body` in the fastest of [`BATCHES`] batches that
/// share `iterations` calls.
fn fastest_batch(
    iterations: usize,
    mut body: impl FnMut() -> Result<(), Error>,
) -> Result<f64, Error> {
    let per_batch = (iterations / BATCHES).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..per_batch {
            body()?;
        }
        best = best.min(start.elapsed().as_secs_f64() / per_batch as f64);
    }
    Ok(best)
}

/// Helm's times, measured the same way by `tests/oracle.py`.
fn time_helm(
    root: &Path,
    python: &Path,
    dir: &Path,
    values: &Value,
    iterations: usize,
) -> Result<Timing, Error> {
    let request = serde_json::json!({
        "op": "bench", "chart": dir.to_string_lossy(), "values": values,
        "iterations": iterations, "batches": BATCHES,
    });
    let mut child = Command::new(python)
        .arg(root.join("tests/oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(request.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    let answer: Value = serde_json::from_slice(&output.stdout)?;
    if let Some(fatal) = answer.get("fatal") {
        return Err(format!("oracle.py: {fatal}").into());
    }
    let helm = &answer["results"];
    Ok(Timing {
        render: helm["render"].as_f64().ok_or("no render time from Helm")?,
        load_and_render: helm["load_and_render"]
            .as_f64()
            .ok_or("no load time from Helm")?,
    })
}
