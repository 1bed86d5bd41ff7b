//! Where the client commands connect and as whom: flags, then the
//! environment (`STOREPLANE_SERVER`, `STOREPLANE_TOKEN`), then the file
//! `storeplane login` writes (`$XDG_CONFIG_HOME/storeplane/config.toml`,
//! default `~/.config/storeplane/config.toml`, mode 0600: it holds a token).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};

/// The server the CLI talks to when nothing says otherwise: `cargo xtask run`'s.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// Connection flags shared by every client command.
#[derive(Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// The storeplane API, e.g. `http://127.0.0.1:50051` (default: the
    /// login file's, else this).
    #[arg(long, env = "STOREPLANE_SERVER", global = true)]
    pub server: Option<String>,
    /// Bearer token (default: the login file's).
    #[arg(long, env = "STOREPLANE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The login file to read (and `login` to write).
    #[arg(long, env = "STOREPLANE_LOGIN_FILE", global = true)]
    pub login_file: Option<PathBuf>,
}

/// The login file.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct LoginFile {
    /// The API's URL.
    pub server: String,
    /// The bearer token.
    pub token: String,
}

impl ConnectionArgs {
    /// The login file's path.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.login_file {
            return Ok(path.clone());
        }
        let base = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(
                std::env::var_os("HOME")
                    .context("neither XDG_CONFIG_HOME nor HOME is set: pass --login-file")?,
            )
            .join(".config"),
        };
        Ok(base.join("storeplane").join("config.toml"))
    }

    fn read_login_file(&self) -> anyhow::Result<Option<LoginFile>> {
        let path = self.config_path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The server URL and token in effect.
    pub fn resolve(&self) -> anyhow::Result<(String, Option<String>)> {
        let file = if self.server.is_none() || self.token.is_none() {
            self.read_login_file()?
        } else {
            None
        };
        let server = self
            .server
            .clone()
            .or_else(|| file.as_ref().map(|f| f.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let token = self
            .token
            .clone()
            .or_else(|| file.map(|f| f.token))
            .filter(|t| !t.is_empty());
        Ok((normalize(&server), token))
    }
}

/// `host:port` → `http://host:port`.
pub fn normalize(server: &str) -> String {
    if server.contains("://") {
        server.trim_end_matches('/').to_owned()
    } else {
        format!("http://{}", server.trim_end_matches('/'))
    }
}

/// A channel to `server`; connecting waits for the first call, so an
/// unreachable server is reported by the call that needed it.
pub fn channel(server: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(server.to_owned())
        .with_context(|| format!("--server {server:?} is not a URL"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("storeplane-cli/", env!("CARGO_PKG_VERSION")))?
        .connect_lazy())
}

/// Writes the login file with owner-only permissions.
pub fn write_login(path: &std::path::Path, login: &LoginFile) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = toml::to_string(login)?;
    let tmp = path.with_extension("toml.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
