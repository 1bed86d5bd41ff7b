//! Render time, this crate against Helm's Go engine, side by side.
//!
//! ```sh
//! STOREPLANE_PYTHON=target/venv/bin/python \
//!   cargo run --release --example render_bench -- [CHART_DIR] [ITERATIONS] [VALUES_FILE]
//! ```
//!
//! Defaults: `testdata/shop`, 200 iterations, `values-prod.yaml` when the
//! chart has one. Helm is timed inside its own process (through
//! `tests/oracle.py`), so Python's start-up and the chart load are not
//! counted against it; the render itself still crosses ctypes and JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use storeplane_chart::{Chart, RenderOptions, Values};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(|| root.join("testdata/shop"), PathBuf::from);
    let iterations: usize = args.next().map_or(Ok(200), |n| n.parse())?;
    let values_file = args
        .next()
        .map(PathBuf::from)
        .or_else(|| Some(dir.join("values-prod.yaml")).filter(|p| p.is_file()));

    let values = match &values_file {
        Some(file) => Values::from_yaml(&std::fs::read_to_string(file)?)?,
        None => serde_json::json!({}),
    };
    let options = RenderOptions {
        release_name: "bench".to_owned(),
        namespace: "bench".to_owned(),
        values: values.clone(),
        ..RenderOptions::default()
    };

    let chart = Chart::load(&dir)?;
    let rendered = chart.render(&options)?; // warm-up, and a size to report
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(chart.render(&options)?);
    }
    let ours_render = start.elapsed().as_secs_f64() / iterations as f64;
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(Chart::load(&dir)?.render(&options)?);
    }
    let ours_load_render = start.elapsed().as_secs_f64() / iterations as f64;

    println!(
        "chart {} ({} manifests, {} hooks, {} bytes), values {}, {iterations} iterations",
        dir.display(),
        rendered.manifests.len(),
        rendered.hooks.len(),
        rendered.to_helm_template_output().len(),
        values_file
            .as_ref()
            .map_or("(defaults)".to_owned(), |p| p.display().to_string()),
    );
    println!("{:<28}{:>14}{:>18}", "", "render", "load + render");
    println!(
        "{:<28}{:>11.3} ms{:>15.3} ms",
        "storeplane-chart (Rust)",
        ours_render * 1e3,
        ours_load_render * 1e3
    );

    match std::env::var_os("STOREPLANE_PYTHON") {
        None => println!("helm (Go, helm-python-sdk)  skipped: set STOREPLANE_PYTHON to compare"),
        Some(python) => {
            let request = serde_json::json!({
                "op": "bench", "chart": dir.to_string_lossy(), "values": values, "iterations": iterations,
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
            let answer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
            let helm = &answer["results"];
            let render = helm["render"].as_f64().ok_or("no render time from Helm")?;
            let load = helm["load_and_render"]
                .as_f64()
                .ok_or("no load time from Helm")?;
            println!(
                "{:<28}{:>11.3} ms{:>15.3} ms",
                "helm v4 (Go, via ctypes)",
                render * 1e3,
                load * 1e3
            );
            println!(
                "ratio (helm / ours)         {:>13.2}x{:>17.2}x",
                render / ours_render,
                load / ours_load_render
            );
        }
    }
    Ok(())
}
