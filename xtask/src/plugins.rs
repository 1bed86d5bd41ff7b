//! Builds the engine plugins for `wasm32-wasip2` and assembles their
//! bundles (`plugin.toml`, the component, the config schema and the charts):
//! the product's engines under `target/plugins/<id>/`, where `cargo xtask
//! run` serves them, and every plugin, including the sandbox test plugins
//! of `plugins/testing/`, under `target/test-plugins/<id>/` for the tests.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::sh;

/// Plugin crates: every directory under `plugins/` with a `plugin.toml`.
pub fn plugin_crates(root: &Path) -> Result<Vec<PathBuf>> {
    let mut crates = Vec::new();
    let mut stack = vec![root.join("plugins")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if !path.is_dir() || path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if path.join("plugin.toml").is_file() && path.join("Cargo.toml").is_file() {
                crates.push(path);
            } else {
                stack.push(path);
            }
        }
    }
    crates.sort();
    Ok(crates)
}

fn package_name(krate: &Path) -> Result<String> {
    let manifest = fs::read_to_string(krate.join("Cargo.toml"))?;
    let parsed: toml::Table = toml::from_str(&manifest)?;
    parsed
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no package name", krate.display()))
}

/// Where the bundles went.
pub struct Bundles {
    /// The engines users get (`target/plugins`).
    pub product: PathBuf,
    /// Those and the test plugins (`target/test-plugins`).
    pub all: PathBuf,
}

/// Builds every plugin and writes its bundles.
pub fn build(root: &Path, cargo: impl Fn() -> Command) -> Result<Bundles> {
    crate::ensure_wasm_targets()?;
    let crates = plugin_crates(root)?;
    if crates.is_empty() {
        bail!("no plugin crates under plugins/");
    }
    // One build per WIT version: a plugin that stays on 0.1 enables the
    // SDK's `wit-0-1` feature, and features unify across the packages of
    // one cargo invocation (they would drag every plugin to 0.1).
    let mut by_wit: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut names = Vec::new();
    for krate in &crates {
        let name = package_name(krate)?;
        let manifest: toml::Table = toml::from_str(&fs::read_to_string(krate.join("plugin.toml"))?)
            .with_context(|| format!("{}/plugin.toml", krate.display()))?;
        let wit = manifest
            .get("wit")
            .and_then(|w| w.as_str())
            .unwrap_or_default()
            .to_owned();
        by_wit.entry(wit).or_default().push(name.clone());
        names.push(name);
    }
    for (wit, packages) in &by_wit {
        let mut build = cargo();
        build.args([
            "build",
            "--profile",
            "wasm-release",
            "--target",
            "wasm32-wasip2",
        ]);
        for name in packages {
            build.args(["-p", name]);
        }
        sh(&mut build)
            .with_context(|| format!("building the WIT {wit} plugins for wasm32-wasip2"))?;
    }

    let bundles = Bundles {
        product: root.join("target/plugins"),
        all: root.join("target/test-plugins"),
    };
    for dir in [&bundles.product, &bundles.all] {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
    }
    let testing = root.join("plugins/testing");
    for (krate, name) in crates.iter().zip(&names) {
        let manifest_text = fs::read_to_string(krate.join("plugin.toml"))?;
        let manifest: toml::Table = toml::from_str(&manifest_text)
            .with_context(|| format!("{}/plugin.toml", krate.display()))?;
        let field = |key: &str| -> Result<String> {
            manifest
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .with_context(|| format!("{}/plugin.toml has no {key}", krate.display()))
        };
        let id = field("id")?;
        let bundle = bundles.all.join(&id);
        fs::create_dir_all(&bundle)?;
        fs::write(bundle.join("plugin.toml"), &manifest_text)?;
        let artifact = root
            .join("target/wasm32-wasip2/wasm-release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        fs::copy(&artifact, bundle.join(field("component")?))
            .with_context(|| format!("copying {}", artifact.display()))?;
        let schema = field("config-schema")?;
        fs::copy(krate.join(&schema), bundle.join(&schema))
            .with_context(|| format!("copying {}/{schema}", krate.display()))?;
        for chart in manifest
            .get("charts")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
        {
            copy_dir(&krate.join(chart), &bundle.join(chart))?;
        }
        if !krate.starts_with(&testing) {
            copy_dir(&bundle, &bundles.product.join(&id))?;
        }
        eprintln!("xtask: bundle {}", bundle.display());
    }
    Ok(bundles)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        // The host refuses bundles holding links; copying what one points
        // to would hide it from that check.
        if kind.is_symlink() {
            bail!(
                "{} is a symbolic link; bundles may not hold links",
                entry.path().display()
            );
        }
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
