//! `cargo run -- [OUT]` (in `web/builder/`): builds the dashboard into
//! OUT (default `<repo>/target/dashboard`) with the same code
//! `cargo xtask` will use once `xtask/src/web.rs` is wired in.

use std::{env, path::PathBuf};

use anyhow::{Context, Result};

#[path = "../../../xtask/src/web.rs"]
mod web;

fn main() -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .context("cannot find the repository root")?;
    let out = env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/dashboard"));
    web::build_dashboard(&root, &out)
}
