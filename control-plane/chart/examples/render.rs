//! `helm template` with this crate: `cargo run --example render -- CHART_DIR
//! [--name N] [--namespace NS] [-f values.yaml]... [--set a=b]... [--files]`.
//!
//! `--files` prints each rendered template file instead of the sorted
//! manifest stream, which is handy for diffing against Helm's engine.

use storeplane_chart::{Chart, RenderOptions, Values};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: render CHART_DIR [options]")?;
    let mut options = RenderOptions::default();
    let mut values = serde_json::json!({});
    let mut per_file = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--name" => options.release_name = args.next().ok_or("--name needs a value")?,
            "--namespace" => options.namespace = args.next().ok_or("--namespace needs a value")?,
            "-f" => {
                let text = std::fs::read_to_string(args.next().ok_or("-f needs a file")?)?;
                values = Values::merge(&values, &Values::from_yaml(&text)?);
            }
            "--set" => Values::apply_set(&mut values, &args.next().ok_or("--set needs a value")?)?,
            "--files" => per_file = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    options.values = values;
    let rendered = Chart::load(&dir)?.render(&options)?;
    if per_file {
        for (name, text) in &rendered.files {
            println!("=== {name}\n{text}");
        }
    } else {
        print!("{}", rendered.to_helm_template_output());
    }
    Ok(())
}
