//! The container image recipe, `control-plane/Dockerfile`, checked without
//! building it: no Docker engine runs here. What can be checked is:
//!
//! - it parses (`dockerfile-parser-rs`) into a build stage and a runtime stage;
//! - every path it copies from the build context exists in the repository
//!   and is not excluded by `.dockerignore`, which does exclude build
//!   outputs and local state;
//! - what it copies from the build stage is what the commands it runs there
//!   produce: the release binary of `cargo build`, and the bundles and the
//!   dashboard of `cargo xtask plugins` / `cargo xtask dashboard`, whose
//!   outputs (`target/plugins/<engine>/plugin.toml`, `target/dashboard/`)
//!   are checked on disk (`cargo xtask test` builds them first);
//! - the runtime stage runs as a non-root user, the one the chart expects,
//!   and points the binary at the copied bundles and dashboard as the chart
//!   does;
//! - its version label is the workspace version, the binary's and the
//!   chart's `appVersion`.

use std::{collections::BTreeMap, str::FromStr as _};

use anyhow::{Context, Result, bail, ensure};
use dockerfile_parser_rs::{Dockerfile, Instruction};
use storeplane_e2e::{binary, dockerignore::DockerIgnore, repo_root};

/// Where the build stage works (its `WORKDIR`).
const SOURCE_DIR: &str = "/src";

/// One `FROM … AS …` stage and what follows it.
struct Stage {
    image: String,
    alias: Option<String>,
    instructions: Vec<Instruction>,
    /// Its `ARG`s with their defaults, global ones included.
    args: BTreeMap<String, String>,
}

impl Stage {
    /// `${NAME}` / `$NAME` replaced by the ARG defaults.
    fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.args {
            out = out
                .replace(&format!("${{{name}}}"), value)
                .replace(&format!("${name}"), value);
        }
        out
    }

    fn runs(&self) -> Vec<String> {
        self.instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Run { command, .. } => Some(command.join(" ")),
                _ => None,
            })
            .collect()
    }

    fn copies(&self) -> Vec<(Option<String>, Vec<String>, String)> {
        self.instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Copy {
                    from,
                    sources,
                    destination,
                    ..
                } => Some((from.clone(), sources.clone(), destination.clone())),
                _ => None,
            })
            .collect()
    }

    fn env(&self) -> BTreeMap<String, String> {
        self.instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Env(vars) => Some(vars.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn labels(&self) -> BTreeMap<String, String> {
        self.instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Label(labels) => Some(labels.clone()),
                _ => None,
            })
            .flatten()
            .map(|(k, v)| (k, self.expand(&v)))
            .collect()
    }
}

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(repo_root().join(path)).with_context(|| format!("reading {path}"))
}

/// The Dockerfile's stages, in order.
fn stages() -> Result<Vec<Stage>> {
    let text = read("control-plane/Dockerfile")?;
    let parsed = Dockerfile::from_str(&text)
        .map_err(|e| anyhow::anyhow!("control-plane/Dockerfile does not parse: {e}"))?;
    let mut global = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in parsed.instructions {
        match (&instruction, stages.last_mut()) {
            (Instruction::From { image, alias, .. }, _) => stages.push(Stage {
                image: image.clone(),
                alias: alias.clone(),
                instructions: Vec::new(),
                args: global.clone(),
            }),
            (Instruction::Arg(args), None) => {
                for (name, value) in args {
                    global.insert(name.clone(), value.clone().unwrap_or_default());
                }
            }
            (Instruction::Arg(args), Some(stage)) => {
                for (name, value) in args {
                    let value = value.clone().or_else(|| global.get(name).cloned());
                    stage.args.insert(name.clone(), value.unwrap_or_default());
                }
            }
            (_, Some(stage)) => stage.instructions.push(instruction),
            (Instruction::Comment(_) | Instruction::Empty {}, None) => {}
            (other, None) => bail!("{other:?} before the first FROM"),
        }
    }
    Ok(stages)
}

/// `[workspace.package] version` and `rust-version` of the root Cargo.toml.
fn workspace_package(key: &str) -> Result<String> {
    let manifest = read("Cargo.toml")?;
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .context("no [workspace.package]")?;
    section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
        .with_context(|| format!("no {key} in [workspace.package]"))
}

#[test]
fn the_dockerfile_parses_into_a_pinned_build_stage_and_a_distroless_runtime() -> Result<()> {
    let stages = stages()?;
    ensure!(
        stages.len() == 2,
        "expected 2 stages, found {}",
        stages.len()
    );
    let (build, runtime) = (&stages[0], &stages[1]);
    ensure!(
        build.alias.as_deref() == Some("build"),
        "first stage: {:?}",
        build.alias
    );
    // The toolchain is the workspace's own.
    let rust = workspace_package("rust-version")?;
    let image = build.expand(&build.image);
    ensure!(
        image.starts_with(&format!("docker.io/library/rust:{rust}-")),
        "build image {image} is not Rust {rust}"
    );
    ensure!(
        runtime.image.starts_with("gcr.io/distroless/cc-") && runtime.image.ends_with(":nonroot"),
        "runtime image {}: expected distroless cc, nonroot",
        runtime.image
    );
    // Both on the same Debian release: the binary links the build's glibc.
    let debian = build
        .args
        .get("DEBIAN_RELEASE")
        .context("no DEBIAN_RELEASE")?;
    let distroless = match debian.as_str() {
        "bookworm" => "debian12",
        "trixie" => "debian13",
        other => bail!("unknown Debian release {other}"),
    };
    ensure!(
        runtime.image.contains(distroless),
        "{} is not {distroless}",
        runtime.image
    );
    ensure!(
        build
            .runs()
            .iter()
            .any(|r| r.contains("wasm32-wasip2") && r.contains("wasm32-unknown-unknown")),
        "the build stage does not add the wasm targets"
    );
    Ok(())
}

fn dockerignore() -> Result<DockerIgnore> {
    DockerIgnore::read(&repo_root())
}

#[test]
fn every_path_copied_from_the_context_exists_and_is_sent() -> Result<()> {
    let patterns = dockerignore()?;
    let root = repo_root();
    let mut copied = 0;
    for stage in stages()? {
        for (from, sources, _) in stage.copies() {
            if from.is_some() {
                continue;
            }
            for source in sources {
                ensure!(
                    root.join(&source).exists(),
                    "COPY {source}: not in the repository"
                );
                ensure!(
                    !patterns.excludes(&source),
                    "COPY {source}: excluded by .dockerignore"
                );
                copied += 1;
            }
        }
    }
    ensure!(copied >= 10, "only {copied} paths copied from the context");
    // Every workspace member is sent (cargo loads them all).
    let manifest = read("Cargo.toml")?;
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .context("no workspace members")?;
    for member in members.split(',').map(|m| m.trim().trim_matches('"')) {
        if member.is_empty() {
            continue;
        }
        ensure!(
            !patterns.excludes(member),
            "workspace member {member} is excluded by .dockerignore"
        );
    }
    Ok(())
}

#[test]
fn the_context_leaves_out_build_outputs_and_local_state() -> Result<()> {
    let patterns = dockerignore()?;
    for path in [
        ".git/HEAD",
        "target/debug/storeplane",
        "web/target/wasm32-unknown-unknown",
        "data/storeplane.db",
        "tests/browser/node_modules/playwright-core",
    ] {
        ensure!(
            patterns.excludes(path),
            "{path} would be sent to the Docker daemon"
        );
    }
    for path in [
        "control-plane/src/main.rs",
        "plugins/woocommerce/charts/woocommerce/Chart.yaml",
        "web/src/lib.rs",
    ] {
        ensure!(!patterns.excludes(path), "{path} would be left out");
    }
    Ok(())
}

/// The product engines (not `plugins/testing/`) by bundle id.
fn product_engines() -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("plugins"))? {
        let manifest = entry?.path().join("plugin.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)?;
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("id = "))
            .and_then(|v| v.split('"').nth(1))
            .with_context(|| format!("no id in {}", manifest.display()))?;
        ids.push(id.to_owned());
    }
    ids.sort();
    ensure!(ids.len() >= 3, "engines found: {ids:?}");
    Ok(ids)
}

#[test]
fn what_the_runtime_copies_from_the_build_is_what_cargo_and_xtask_produce() -> Result<()> {
    let stages = stages()?;
    let (build, runtime) = (&stages[0], &stages[1]);
    let workdir = build
        .instructions
        .iter()
        .find_map(|i| match i {
            Instruction::Workdir { path } => Some(path.clone()),
            _ => None,
        })
        .context("the build stage has no WORKDIR")?;
    ensure!(workdir == SOURCE_DIR, "build WORKDIR {workdir}");
    let runs = build.runs();
    let ran = |needle: &str| runs.iter().any(|r| r.contains(needle));
    let root = repo_root();
    let mut destinations: BTreeMap<&str, String> = BTreeMap::new();
    for (from, sources, destination) in runtime.copies() {
        ensure!(
            from.as_deref() == Some("build"),
            "the runtime stage copies {sources:?} from the context, not from the build stage"
        );
        for source in sources {
            let relative = source
                .strip_prefix(&format!("{SOURCE_DIR}/"))
                .unwrap_or(&source)
                .to_owned();
            match relative.as_str() {
                "target/release/storeplane" => {
                    ensure!(
                        ran("cargo build --release")
                            && ran("-p storeplane")
                            && ran("--bin storeplane"),
                        "target/release/storeplane is copied but not built by `cargo build --release -p storeplane --bin storeplane`"
                    );
                    destinations.insert("binary", destination.clone());
                }
                "target/plugins" => {
                    ensure!(
                        ran("cargo xtask plugins"),
                        "target/plugins is copied but `cargo xtask plugins` is not run"
                    );
                    // What `cargo xtask plugins` wrote here, engine by engine.
                    for engine in product_engines()? {
                        let manifest = root
                            .join("target/plugins")
                            .join(&engine)
                            .join("plugin.toml");
                        ensure!(
                            manifest.is_file(),
                            "{} is missing: `cargo xtask plugins` writes each engine's bundle there \
                             (run it, or `cargo xtask test`, before this test)",
                            manifest.display()
                        );
                    }
                    destinations.insert("plugins", destination.clone());
                }
                "target/dashboard" => {
                    ensure!(
                        ran("cargo xtask dashboard"),
                        "target/dashboard is copied but `cargo xtask dashboard` is not run"
                    );
                    for file in [
                        "index.html",
                        "storeplane_web.js",
                        "storeplane_web_bg.wasm",
                        "style.css",
                    ] {
                        let path = root.join("target/dashboard").join(file);
                        ensure!(
                            path.is_file(),
                            "{} is missing: `cargo xtask dashboard` writes it (run it, or `cargo xtask test`, first)",
                            path.display()
                        );
                    }
                    destinations.insert("dashboard", destination.clone());
                }
                state if state.starts_with("/rootfs/") => {
                    ensure!(
                        runs.iter()
                            .any(|r| r.starts_with("mkdir -p") && r.contains(state)),
                        "{state} is copied but the build stage does not create it"
                    );
                    ensure!(
                        destination == state.trim_start_matches("/rootfs"),
                        "{state} is copied to {destination}"
                    );
                }
                other => bail!(
                    "the runtime copies {other}: not one of the build's products the image carries \
                     (target/release/storeplane, target/plugins, target/dashboard, /rootfs/…)"
                ),
            }
        }
    }
    for what in ["binary", "plugins", "dashboard"] {
        ensure!(
            destinations.contains_key(what),
            "the runtime stage lacks the {what}"
        );
    }

    // The runtime points the binary at them, and so does the chart.
    let env = runtime.env();
    ensure!(
        env.get("STOREPLANE_PLUGINS_DIR") == destinations.get("plugins"),
        "STOREPLANE_PLUGINS_DIR: {env:?}"
    );
    ensure!(
        env.get("STOREPLANE_DASHBOARD_DIR") == destinations.get("dashboard"),
        "STOREPLANE_DASHBOARD_DIR: {env:?}"
    );
    let entrypoint = runtime
        .instructions
        .iter()
        .find_map(|i| match i {
            Instruction::Entrypoint(e) => Some(e.clone()),
            _ => None,
        })
        .context("no ENTRYPOINT")?;
    ensure!(
        entrypoint.first() == destinations.get("binary"),
        "ENTRYPOINT {entrypoint:?} is not the copied binary"
    );
    let helpers = read("charts/storeplane/templates/_helpers.tpl")?;
    let deployment = read("charts/storeplane/templates/deployment.yaml")?;
    for (what, file) in [("plugins", &helpers), ("dashboard", &deployment)] {
        let path = destinations.get(what).context("destination")?;
        ensure!(
            file.contains(path.as_str()),
            "the chart does not use the image's {what} at {path}"
        );
    }
    Ok(())
}

#[test]
fn the_runtime_runs_as_the_non_root_user_the_chart_expects() -> Result<()> {
    let stages = stages()?;
    let runtime = stages.last().context("no stage")?;
    let (user, group) = runtime
        .instructions
        .iter()
        .rev()
        .find_map(|i| match i {
            Instruction::User { user, group } => Some((user.clone(), group.clone())),
            _ => None,
        })
        .context("the runtime stage has no USER: it would run as root")?;
    let uid: u32 = user.parse().with_context(|| {
        format!("USER {user}: use a numeric uid, so runAsNonRoot can verify it")
    })?;
    ensure!(uid != 0, "USER is root");
    let gid: u32 = group.as_deref().unwrap_or("0").parse()?;
    ensure!(gid != 0, "the runtime's group is root");
    let deployment = read("charts/storeplane/templates/deployment.yaml")?;
    for field in [
        format!("runAsUser: {uid}"),
        format!("runAsGroup: {gid}"),
        "runAsNonRoot: true".into(),
    ] {
        ensure!(
            deployment.contains(&field),
            "the chart's pod does not set {field}"
        );
    }
    Ok(())
}

#[test]
fn the_version_label_is_the_workspace_and_binary_and_chart_version() -> Result<()> {
    let version = workspace_package("version")?;
    let stages = stages()?;
    let runtime = stages.last().context("no stage")?;
    let labels = runtime.labels();
    let label = labels
        .get("org.opencontainers.image.version")
        .context("no org.opencontainers.image.version label")?;
    ensure!(
        *label == version,
        "image version label {label}, workspace version {version}"
    );
    let output = std::process::Command::new(binary()?)
        .arg("--version")
        .output()?;
    let printed = String::from_utf8_lossy(&output.stdout);
    ensure!(
        printed.trim() == format!("storeplane {version}"),
        "the binary says {printed:?}"
    );
    let chart = read("charts/storeplane/Chart.yaml")?;
    ensure!(
        chart
            .lines()
            .any(|l| l == format!("appVersion: \"{version}\"")),
        "charts/storeplane/Chart.yaml's appVersion (the default image tag) is not {version}"
    );
    Ok(())
}

#[test]
fn dockerignore_patterns_match_like_docker() -> Result<()> {
    let patterns =
        DockerIgnore::from_patterns(["target", "**/node_modules", "plugins/*/target", ".env*"])?;
    assert!(patterns.excludes("target"));
    assert!(patterns.excludes("target/debug/x"));
    assert!(!patterns.excludes("xtask/target-notes"));
    assert!(!patterns.excludes("control-plane/target"));
    assert!(patterns.excludes("node_modules/x"));
    assert!(patterns.excludes("tests/browser/node_modules/x"));
    assert!(patterns.excludes("plugins/medusa/target/wasm"));
    assert!(!patterns.excludes("plugins/medusa/src/lib.rs"));
    assert!(patterns.excludes(".env.local"));
    Ok(())
}
