//! A container image's Dockerfile carried out natively: no Docker engine
//! runs here, but every step of the Medusa backend's Dockerfile is a file
//! copy or a shell command this machine can run. Reading the Dockerfile
//! instead of restating it means a step added to, or changed in, the recipe
//! is what the test runs.
//!
//! How the image's filesystem is mapped: each stage gets a directory of its
//! own under the output directory, and an absolute path inside the image
//! (`/src`, `/app`) is that path under the stage's directory. `WORKDIR`,
//! `COPY` (from the build context, honouring `.dockerignore`, or `--from` a
//! stage), `RUN` (shell form, with the stage's `ENV`) and `ENV` are carried
//! out; `ARG` defaults expand in `FROM`; `USER`, `EXPOSE` and `CMD` are
//! recorded. What only a container runtime can do is skipped and printed:
//! `chown` (file ownership in the image), `npm cache clean` (it would empty
//! this machine's npm cache, which keeps warm runs offline-fast), `--chown`
//! and `--chmod` on `COPY`. Any other instruction (`ADD`, `SHELL`, exec-form
//! `RUN`, heredocs, `--mount`) fails the build, so the recipe cannot grow a
//! step this harness silently ignores. The base image's own contents are
//! this machine's: Node 20 and npm 11 here, `node:22-alpine` in the image.
//!
//! Layer cache, as Docker's: a step's key hashes the previous step's key,
//! the instruction and the content it copies. A stage whose recorded keys
//! match up to some step skips those steps; the first step that differs and
//! every later one run again. So `npm ci` runs only when `package.json` or
//! `package-lock.json` changed, and `medusa build` only when a source did.
//! When the first difference comes before any cached `RUN`, the stage
//! directory is cleared first, as a fresh layer would be.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;

use anyhow::{Context, Result, bail, ensure};

use super::dockerignore::DockerIgnore;
use dockerfile_parser_rs::{Dockerfile, Instruction};
use sha2::{Digest, Sha256};

/// The last stage of a Dockerfile, built natively: what a container of the
/// image starts from.
#[derive(Debug, Clone)]
pub struct NativeImage {
    /// The image's `WORKDIR`, mapped under [`NativeImage::root`].
    pub workdir: PathBuf,
    /// The image's `ENV`.
    pub env: BTreeMap<String, String>,
    /// The image's `CMD` (exec form).
    pub cmd: Vec<String>,
}

/// `in_image` (absolute, or relative to `workdir`) under `root`.
fn under(root: &Path, in_image: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in Path::new(in_image).components() {
        if let Component::Normal(part) = part {
            path.push(part);
        }
    }
    path
}

struct Stage {
    name: String,
    root: PathBuf,
    /// Inside the image, absolute.
    workdir: String,
    env: BTreeMap<String, String>,
    cmd: Vec<String>,
    /// Keys of the steps carried out so far in this build.
    keys: Vec<String>,
    /// Keys recorded by the previous build of this stage.
    cached: Vec<String>,
    /// Whether every step so far matched the previous build.
    reusing: bool,
    /// Whether a cached `RUN` has been kept (its output is in the directory).
    kept_run: bool,
}

impl Stage {
    fn workdir_path(&self) -> PathBuf {
        under(&self.root, &self.workdir)
    }

    fn resolve(&self, in_image: &str) -> PathBuf {
        if in_image.starts_with('/') {
            under(&self.root, in_image)
        } else {
            under(&self.workdir_path(), in_image)
        }
    }

    fn stamp(&self) -> PathBuf {
        self.root.join(".native-image-layers")
    }

    /// Records step `key`; true when the previous build already did it.
    fn step(&mut self, key_input: &[u8]) -> Result<bool> {
        let mut hasher = Sha256::new();
        hasher.update(self.keys.last().map(String::as_bytes).unwrap_or_default());
        hasher.update(key_input);
        let key = hex(&hasher.finalize());
        let index = self.keys.len();
        self.keys.push(key.clone());
        if self.reusing && self.cached.get(index) == Some(&key) {
            return Ok(true);
        }
        if self.reusing {
            self.reusing = false;
            if !self.kept_run && self.root.exists() {
                fs::remove_dir_all(&self.root)
                    .with_context(|| format!("clearing {}", self.root.display()))?;
            }
        }
        Ok(false)
    }

    fn save(&self) -> Result<()> {
        fs::create_dir_all(&self.root)?;
        fs::write(self.stamp(), self.keys.join("\n"))?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds `dockerfile` with `context` as the build context into stage
/// directories under `out`, and returns its last stage.
pub fn build(dockerfile: &Path, context: &Path, out: &Path) -> Result<NativeImage> {
    let text = fs::read_to_string(dockerfile)
        .with_context(|| format!("reading {}", dockerfile.display()))?;
    let parsed = Dockerfile::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", dockerfile.display()))?;
    let ignore = DockerIgnore::read(context)?;
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();

    for instruction in parsed.instructions {
        let text = instruction.to_string();
        match instruction {
            Instruction::Comment(_) | Instruction::Empty {} => {}
            Instruction::Arg(declared) => {
                for (name, default) in declared {
                    args.entry(name).or_insert(default.unwrap_or_default());
                }
            }
            Instruction::From { image, alias, .. } => {
                let mut image = image;
                for (name, value) in &args {
                    image = image.replace(&format!("${{{name}}}"), value);
                }
                let name = alias.unwrap_or_else(|| format!("stage-{}", stages.len()));
                let root = out.join(&name);
                let cached = fs::read_to_string(root.join(".native-image-layers"))
                    .map(|s| s.lines().map(str::to_owned).collect())
                    .unwrap_or_default();
                let mut stage = Stage {
                    name,
                    root,
                    workdir: "/".into(),
                    env: BTreeMap::new(),
                    cmd: Vec::new(),
                    keys: Vec::new(),
                    cached,
                    reusing: true,
                    kept_run: false,
                };
                stage.step(format!("FROM {image}").as_bytes())?;
                stages.push(stage);
            }
            other => {
                let last = stages.len().saturating_sub(1);
                let (done, rest) = stages.split_at_mut(last);
                let stage = rest
                    .first_mut()
                    .with_context(|| format!("`{text}` before the first FROM"))?;
                carry_out(other, &text, stage, done, context, &ignore)
                    .with_context(|| format!("stage {}: {text}", stage.name))?;
                stage.save()?;
            }
        }
    }
    let last = stages.pop().context("the Dockerfile has no FROM")?;
    last.save()?;
    Ok(NativeImage {
        workdir: last.workdir_path(),
        env: last.env,
        cmd: last.cmd,
    })
}

fn carry_out(
    instruction: Instruction,
    text: &str,
    stage: &mut Stage,
    earlier: &[Stage],
    context: &Path,
    ignore: &DockerIgnore,
) -> Result<()> {
    match instruction {
        Instruction::Workdir { path } => {
            stage.workdir = if path.starts_with('/') {
                path
            } else {
                format!("{}/{path}", stage.workdir.trim_end_matches('/'))
            };
            stage.step(text.as_bytes())?;
            fs::create_dir_all(stage.workdir_path())?;
        }
        Instruction::Env(vars) => {
            stage.step(text.as_bytes())?;
            stage.env.extend(vars);
        }
        Instruction::Copy {
            from,
            sources,
            destination,
            ..
        } => {
            let (base, base_name) = match &from {
                Some(name) => {
                    let source = earlier
                        .iter()
                        .find(|s| &s.name == name)
                        .with_context(|| format!("no earlier stage {name}"))?;
                    (source.root.clone(), format!("stage {name}"))
                }
                None => (context.to_path_buf(), "the build context".to_owned()),
            };
            let mut files = Vec::new();
            for source in &sources {
                let path = under(&base, source);
                ensure!(path.exists(), "{source} is not in {base_name}");
                collect(&path, &base, &mut files, from.is_none().then_some(ignore))?;
            }
            let mut key = text.as_bytes().to_vec();
            for file in &files {
                key.extend(
                    file.strip_prefix(&base)
                        .unwrap_or(file)
                        .as_os_str()
                        .as_encoded_bytes(),
                );
                key.extend(Sha256::digest(fs::read(file)?));
            }
            if stage.step(&key)? {
                return Ok(());
            }
            let dest = stage.resolve(&destination);
            for source in &sources {
                let path = under(&base, source);
                let target = if path.is_dir() || destination.ends_with('/') {
                    // A directory's contents go into the destination; a
                    // file into it, keeping its name.
                    if path.is_dir() {
                        dest.clone()
                    } else {
                        dest.join(path.file_name().context("a source without a name")?)
                    }
                } else {
                    dest.clone()
                };
                // A directory copied to a path of its own replaces what an
                // earlier build left there (a deleted source must not linger).
                if path.is_dir() && target != stage.workdir_path() && target.exists() {
                    fs::remove_dir_all(&target)?;
                }
                copy_tree(&path, &target, from.is_none().then_some((ignore, &base)))?;
            }
        }
        Instruction::Run {
            mount,
            network,
            security,
            command,
            heredoc,
        } => {
            ensure!(
                mount.is_none() && network.is_none() && security.is_none() && heredoc.is_none(),
                "RUN options and heredocs are not carried out natively"
            );
            let line = command.join(" ");
            ensure!(
                !line.trim_start().starts_with('['),
                "exec-form RUN is not carried out natively"
            );
            if stage.step(text.as_bytes())? {
                stage.kept_run = true;
                eprintln!("native image: {}: cached: {line}", stage.name);
                return Ok(());
            }
            let (kept, skipped) = split_runtime_only(&line);
            for part in &skipped {
                eprintln!(
                    "native image: {}: skipped (container runtime only): {part}",
                    stage.name
                );
            }
            if kept.is_empty() {
                return Ok(());
            }
            let script = kept.join(" && ");
            eprintln!("native image: {}: RUN {script}", stage.name);
            let workdir = stage.workdir_path();
            fs::create_dir_all(&workdir)?;
            let started = std::time::Instant::now();
            let status = Command::new("sh")
                .args(["-c", &script])
                .current_dir(&workdir)
                .envs(&stage.env)
                .status()
                .with_context(|| format!("starting `{script}`"))?;
            if !status.success() {
                // A failed step must not count as done next time.
                stage.keys.pop();
                stage.reusing = false;
                bail!("`{script}` failed ({status})");
            }
            eprintln!(
                "native image: {}: done in {:.1} s",
                stage.name,
                started.elapsed().as_secs_f64()
            );
        }
        Instruction::Cmd(cmd) => {
            stage.step(text.as_bytes())?;
            stage.cmd = cmd;
        }
        Instruction::User { .. } | Instruction::Expose { .. } | Instruction::Label(_) => {
            stage.step(text.as_bytes())?;
        }
        other => bail!("{other} is not carried out natively"),
    }
    Ok(())
}

/// A shell-form command split at `&&` into what runs here and what only
/// makes sense inside an image.
fn split_runtime_only(line: &str) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for part in line.split("&&").map(str::trim).filter(|p| !p.is_empty()) {
        if part.starts_with("chown ") || part.starts_with("npm cache clean") {
            skipped.push(part.to_owned());
        } else {
            kept.push(part.to_owned());
        }
    }
    (kept, skipped)
}

/// `path` relative to `base`, `/`-separated.
fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn collect(
    path: &Path,
    base: &Path,
    files: &mut Vec<PathBuf>,
    ignore: Option<&DockerIgnore>,
) -> Result<()> {
    if ignore.is_some_and(|i| i.excludes(&relative(path, base))) {
        return Ok(());
    }
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for entry in entries {
            collect(&entry, base, files, ignore)?;
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, ignore: Option<(&DockerIgnore, &Path)>) -> Result<()> {
    if let Some((ignore, base)) = ignore
        && ignore.excludes(&relative(from, base))
    {
        return Ok(());
    }
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), ignore)?;
        }
    } else {
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}
