//! `storeplane chart`: storeplane's chart engine on the command line, to
//! check a chart's output against `helm template` by hand.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use storeplane_chart::{Chart, HelmBinary, RenderOptions, Values};

/// `storeplane chart …`
#[derive(Subcommand)]
pub enum ChartCommand {
    /// Print a chart's manifests like `helm template`.
    Render {
        /// Chart directory.
        chart: PathBuf,
        /// Release name.
        #[arg(long, default_value = "release-name")]
        release: String,
        /// Namespace.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Values files, in order.
        #[arg(short = 'f', long = "values")]
        values: Vec<PathBuf>,
        /// `key=value` overrides, Helm's `--set` syntax.
        #[arg(long = "set")]
        set: Vec<String>,
        /// `key=value` overrides kept as strings.
        #[arg(long = "set-string")]
        set_string: Vec<String>,
        /// Render with `helm template` through this Helm binary instead of
        /// the built-in engine (the output is parsed and printed the same way).
        #[arg(long, env = "STOREPLANE_HELM_BINARY")]
        helm_binary: Option<PathBuf>,
    },
}

/// Runs a `chart` subcommand.
pub fn run(command: ChartCommand) -> anyhow::Result<()> {
    match command {
        ChartCommand::Render {
            chart,
            release,
            namespace,
            values,
            set,
            set_string,
            helm_binary,
        } => {
            let dir = chart;
            let chart = Chart::load(&dir)?;
            let mut merged = serde_json::Value::Object(serde_json::Map::new());
            for file in &values {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                merged = Values::merge(&merged, &Values::from_yaml(&text)?);
            }
            for expression in &set {
                Values::apply_set(&mut merged, expression)?;
            }
            for expression in &set_string {
                Values::apply_set_string(&mut merged, expression)?;
            }
            let options = RenderOptions {
                release_name: release,
                namespace,
                values: merged,
                ..RenderOptions::default()
            };
            let rendered = match helm_binary {
                Some(helm) => HelmBinary::new(helm).render(&chart, &dir, &options)?,
                None => chart.render(&options)?,
            };
            print!("{}", rendered.to_helm_template_output());
            Ok(())
        }
    }
}
