//! What a store's Pods run, on loopback: the chart's objects read from a
//! real render, their environment resolved from the Secrets the engine
//! generated, and their Services mapped to local ports.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

/// The rendered release: its objects and the Secrets the engine ensured.
pub struct Release {
    pub objects: Vec<Value>,
    /// Secret name → key → generated value.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

impl Release {
    pub fn find(&self, kind: &str, name: &str) -> Result<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .with_context(|| format!("the render has no {kind} {name}"))
    }

    /// The pod template's container (or init container) `name` of a workload.
    pub fn container<'a>(&self, workload: &'a Value, name: &str) -> Result<&'a Value> {
        let spec = &workload["spec"]["template"]["spec"];
        spec["containers"]
            .as_array()
            .into_iter()
            .chain(spec["initContainers"].as_array())
            .flatten()
            .find(|c| c["name"] == name)
            .with_context(|| {
                format!(
                    "{} {} has no container {name}",
                    workload["kind"], workload["metadata"]["name"]
                )
            })
    }

    /// A container's environment as Kubernetes would give it: literal
    /// values and `secretKeyRef`s to the engine's generated Secrets. A
    /// reference to a Secret or key the engine does not generate fails, as
    /// the kubelet would (`CreateContainerConfigError`).
    pub fn env(&self, container: &Value) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        for var in container["env"].as_array().into_iter().flatten() {
            let name = var["name"]
                .as_str()
                .context("an env entry without a name")?;
            let value = if let Some(value) = var.get("value") {
                value.as_str().context("a non-string env value")?.to_owned()
            } else if let Some(reference) = var.pointer("/valueFrom/secretKeyRef") {
                let secret = reference["name"].as_str().unwrap_or_default();
                let key = reference["key"].as_str().unwrap_or_default();
                self.secrets
                    .get(secret)
                    .with_context(|| {
                        format!("env {name}: Secret {secret} is not one the engine ensures")
                    })?
                    .get(key)
                    .with_context(|| {
                        format!("env {name}: Secret {secret} has no key {key} (the engine generates {:?})",
                            self.secrets[secret].keys().collect::<Vec<_>>())
                    })?
                    .clone()
            } else {
                bail!("env {name}: only values and secretKeyRefs are resolved here: {var}");
            };
            env.insert(name.to_owned(), value);
        }
        Ok(env)
    }

    /// The Service `name`'s port, after checking that it selects the pods of
    /// `workload` (so a renamed label or Service breaks the test, as it
    /// would break the store).
    pub fn service_port(&self, name: &str, workload: &Value) -> Result<u16> {
        let service = self.find("Service", name)?;
        let labels = &workload["spec"]["template"]["metadata"]["labels"];
        let selector = service["spec"]["selector"]
            .as_object()
            .context("a Service without a selector")?;
        for (key, value) in selector {
            ensure!(
                &labels[key] == value,
                "Service {name} selects {key}={value}, which {} {}'s pods do not carry",
                workload["kind"],
                workload["metadata"]["name"]
            );
        }
        let port = service["spec"]["ports"][0]["port"]
            .as_u64()
            .context("a Service without a port")?;
        Ok(u16::try_from(port)?)
    }
}

/// Points `<PREFIX>_HOST` / `<PREFIX>_PORT` variables naming `service` on
/// `service_port` at `127.0.0.1:local_port` instead: the cluster's DNS and
/// Service routing, on one machine. A variable that names the Service with
/// the wrong port fails.
pub fn route(
    env: &mut BTreeMap<String, String>,
    service: &str,
    service_port: u16,
    local_port: u16,
) -> Result<usize> {
    let hosts: Vec<String> = env
        .iter()
        .filter(|(k, v)| k.ends_with("_HOST") && v.as_str() == service)
        .map(|(k, _)| k.clone())
        .collect();
    for host in &hosts {
        let prefix = host.trim_end_matches("_HOST");
        let port_var = format!("{prefix}_PORT");
        let port = env
            .get(&port_var)
            .with_context(|| format!("{host}={service} but {port_var} is not set"))?;
        ensure!(
            port == &service_port.to_string(),
            "{port_var}={port}, but Service {service} listens on {service_port}"
        );
        env.insert(host.clone(), "127.0.0.1".into());
        env.insert(port_var, local_port.to_string());
    }
    Ok(hosts.len())
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `psql` against the tests' PostgreSQL server, SQL on stdin with
/// `:'name'` / `:"name"` variables (psql quotes them), rows unaligned.
pub fn psql(url: &str, variables: &[(&str, &str)], sql: &str) -> Result<String> {
    let mut command = Command::new("psql");
    command
        .arg(url)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in variables {
        command.arg("-v").arg(format!("{name}={value}"));
    }
    let mut child = command.spawn().context("running psql")?;
    child
        .stdin
        .take()
        .context("psql stdin")?
        .write_all(sql.as_bytes())?;
    let output = child.wait_with_output()?;
    ensure!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `program` as a container would run it: in `dir`, with exactly `env`
/// (plus this machine's `PATH` and `HOME`, where Node and npm live), no
/// stdin, leading a process group of its own so it can be killed whole.
fn container_command(program: &str, dir: &Path, env: &BTreeMap<String, String>) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .process_group(0);
    command
}

/// A process group started for the test, killed when dropped.
pub struct Process {
    child: Child,
    pub log: PathBuf,
    what: String,
}

impl Process {
    /// Starts `argv` in `dir` with exactly `env` (plus `PATH`), output to `log`.
    pub fn start(
        what: &str,
        argv: &[String],
        dir: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> Result<Self> {
        let (program, args) = argv.split_first().context("an empty command")?;
        let out = fs::File::create(log)?;
        let child = container_command(program, dir, env)
            .args(args)
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {what}: {argv:?}"))?;
        Ok(Self {
            child,
            log: log.to_path_buf(),
            what: what.to_owned(),
        })
    }

    /// The last `lines` lines of its output.
    pub fn tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Fails if it has exited.
    pub fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.what, self.tail(30));
        }
        Ok(())
    }

    /// SIGKILL to the whole group (`npx` → `node` → workers).
    pub fn kill(&mut self) {
        kill_group(&mut self.child);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILL to `child`'s process group (it was started as its leader), then
/// reaps it.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `argv` to completion like a Job's container; with `kill_on`, kills
/// its process group as soon as a line of its output contains that text
/// and returns `None` (a Pod deleted mid-run).
pub fn run_job(
    argv: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
    log: &Path,
    kill_on: Option<&str>,
) -> Result<Option<ExitStatus>> {
    ensure!(!argv.is_empty(), "an empty command");
    // Its stderr joins stdout, as in a container's log.
    let mut child = container_command("sh", dir, env)
        .args(["-c", "exec \"$@\" 2>&1", "sh"])
        .args(argv)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {argv:?}"))?;
    let mut out = fs::File::create(log)?;
    let reader = BufReader::new(child.stdout.take().context("stdout")?);
    for line in reader.lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        if kill_on.is_some_and(|needle| line.contains(needle)) {
            kill_group(&mut child);
            return Ok(None);
        }
    }
    Ok(Some(child.wait()?))
}

/// Waits until `check` passes, up to `limit`, saying what for.
pub fn wait_until(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if check()? {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
