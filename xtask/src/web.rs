//! Builds the web dashboard without trunk (which downloads binaries):
//! `cargo build` of `web/` for `wasm32-unknown-unknown`, then
//! `wasm-bindgen-cli-support` as a library for the JS glue, then
//! `index.html` (with cache-busting queries) and `style.css` beside them.
//!
//! The output directory is what `storeplane serve --dashboard-dir` serves:
//!
//! ```text
//! index.html  storeplane_web.js  storeplane_web_bg.wasm  style.css
//! ```
//!
//! `wasm-bindgen-cli-support` must be the exact version of the web crate's
//! `wasm-bindgen` (the glue and the wasm's custom section must agree);
//! [`build_dashboard`] checks that before doing any work.

use std::{
    collections::hash_map::DefaultHasher,
    env, fs,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail, ensure};

/// The web crate, relative to the repository root.
const WEB_DIR: &str = "web";
/// Its library's file stem (the package name with `_`).
const CRATE_STEM: &str = "storeplane_web";
/// The Rust target of the browser build.
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The cargo profile of the browser build (size-optimised; defined in the
/// manifest of the workspace that holds the web crate).
const WASM_PROFILE: &str = "wasm-release";
/// The `wasm-bindgen` version this builder's `wasm-bindgen-cli-support` is;
/// the web crate pins the same one.
const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// Builds the dashboard of the repository at `root` into `out` (created if
/// missing; previous build outputs in it are replaced).
pub fn build_dashboard(root: &Path, out: &Path) -> Result<()> {
    crate::ensure_wasm_targets()?;
    let web = root.join(WEB_DIR);
    ensure!(
        web.join("Cargo.toml").is_file(),
        "no web crate at {}",
        web.display()
    );
    check_wasm_bindgen_pin(&web)?;
    let wasm = cargo_build(&web)?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    // The glue's file names are fixed (index.html imports them); caches are
    // busted by a content hash in the query string instead, so a stale
    // asset can never be paired with a fresh one.
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name(CRATE_STEM)
        .web(true)?
        .typescript(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(out)
        .with_context(|| format!("wasm-bindgen failed on {}", wasm.display()))?;

    let js_name = format!("{CRATE_STEM}.js");
    let wasm_name = format!("{CRATE_STEM}_bg.wasm");
    let css = fs::read(web.join("style.css")).context("cannot read web/style.css")?;
    let mut hasher = DefaultHasher::new();
    for file in [&js_name, &wasm_name] {
        fs::read(out.join(file))
            .with_context(|| format!("wasm-bindgen did not write {file}"))?
            .hash(&mut hasher);
    }
    css.hash(&mut hasher);
    let hash = format!("{:016x}", hasher.finish());

    let template =
        fs::read_to_string(web.join("index.html")).context("cannot read web/index.html")?;
    let index = template
        .replace("{{js}}", &js_name)
        .replace("{{wasm}}", &wasm_name)
        .replace("{{hash}}", &hash[..12]);
    ensure!(
        !index.contains("{{"),
        "web/index.html has a placeholder the builder does not fill"
    );
    fs::write(out.join("index.html"), index)?;
    fs::write(out.join("style.css"), css)?;

    let size = fs::metadata(out.join(&wasm_name))?.len();
    eprintln!(
        "dashboard: {} ({} KiB wasm)",
        out.display(),
        size.div_ceil(1024)
    );
    Ok(())
}

/// Runs the size-optimised build of the web crate and returns its `.wasm`.
fn cargo_build(web: &Path) -> Result<PathBuf> {
    let target_dir = web.join("target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(web)
        .args([
            "build",
            "--lib",
            "--profile",
            WASM_PROFILE,
            "--target",
            WASM_TARGET,
        ])
        .arg("--manifest-path")
        .arg(web.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build (from a surrounding `cargo run`)
        // must not leak into the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    eprintln!("dashboard: {cmd:?}");
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!(
            "building the web crate failed ({status}); is the target installed? \
             `rustup target add {WASM_TARGET}`"
        );
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join(format!("{CRATE_STEM}.wasm"));
    ensure!(wasm.is_file(), "cargo did not produce {}", wasm.display());
    Ok(wasm)
}

/// Fails early, with a clear message, when the web crate's `wasm-bindgen`
/// pin and this builder's disagree (the generated glue would not load).
fn check_wasm_bindgen_pin(web: &Path) -> Result<()> {
    let manifest = fs::read_to_string(web.join("Cargo.toml"))?;
    let pin = format!("wasm-bindgen = \"={WASM_BINDGEN_VERSION}\"");
    ensure!(
        manifest.lines().any(|l| l.trim() == pin),
        "web/Cargo.toml must pin `{pin}` to match the builder's wasm-bindgen-cli-support"
    );
    Ok(())
}
