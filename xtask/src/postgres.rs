//! A throwaway PostgreSQL server for the test run: `initdb --auth=trust`
//! into `target/pg`, started with `pg_ctl` on a free port, fsync off.
//! PostgreSQL refuses to run as root, so as root it runs as `postgres`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{on_path, sh};

/// A running throwaway server.
pub struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Server {
    /// Installs PostgreSQL if needed and starts a fresh server under `dir`.
    pub fn start(dir: &Path, port: u16) -> Result<Self> {
        let bin = match find_bin() {
            Some(bin) => bin,
            None => {
                install()?;
                find_bin().context("PostgreSQL installed but initdb/pg_ctl not found")?
            }
        };
        let as_postgres = is_root();
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        let data = dir.join("data");
        let socket = dir.join("socket");
        fs::create_dir_all(&socket)?;
        if as_postgres {
            sh(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir))?;
        }
        let server = Self {
            bin,
            data,
            port,
            as_postgres,
        };
        sh(server
            .command("initdb")
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&server.data))
        .context("initdb failed")?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
            socket.display()
        );
        sh(server
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&server.data)
            .args(["-l"])
            .arg(dir.join("server.log"))
            .args(["-o", &options, "start"]))
        .with_context(|| {
            format!(
                "PostgreSQL did not start; see {}",
                dir.join("server.log").display()
            )
        })?;
        Ok(server)
    }

    /// The superuser URL of the server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&self) {
        let _ = sh(self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .arg("stop"));
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb and pg_ctl.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn install() -> Result<()> {
    apt(&["update"])?;
    apt(&["install", "-y", "--no-install-recommends", "postgresql"])
        .context("apt-get install postgresql failed")
}

/// Runs `apt-get ARGS` non-interactively (with `sudo` unless root).
pub fn apt(args: &[&str]) -> Result<()> {
    if !on_path("apt-get") {
        bail!(
            "apt-get is unavailable: install what `apt-get {}` would and retry",
            args.join(" ")
        );
    }
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    sh(&mut cmd).with_context(|| format!("apt-get {} failed", args.join(" ")))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
