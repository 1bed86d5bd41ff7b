//! `storeplane-plugin-bundle <plugin-dir> <component.wasm> <out-root>`:
//! assembles `<out-root>/<id>/` from a plugin's sources and its built component.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [plugin_dir, component, out_root] = args.as_slice() else {
        eprintln!("usage: storeplane-plugin-bundle <plugin-dir> <component.wasm> <out-root>");
        return ExitCode::from(2);
    };
    match storeplane_plugin_bundle::assemble(plugin_dir, component, out_root) {
        Ok(bundle) => {
            println!("{}", bundle.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
