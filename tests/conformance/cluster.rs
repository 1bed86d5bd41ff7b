//! One cluster under test: a `kube::Client` for raw API calls (status,
//! warning headers and bodies as they come), streaming watches, and the
//! real `kubectl` pointed at the same API through a kubeconfig.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures::{AsyncBufReadExt as _, StreamExt as _};
use http::{Method, Request};
use kube::client::Body;
use serde_json::{Value, json};

/// How long one API call, one watch or one kubectl command may take before
/// the step fails as hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A cluster the script runs against.
pub struct Target {
    /// `simulated` or `real`: how the diff names it.
    pub name: &'static str,
    /// A client of its API.
    pub client: kube::Client,
    /// A kubeconfig for kubectl.
    pub kubeconfig: PathBuf,
    /// This run's namespace prefix (the same on both clusters), e.g.
    /// `cf-1a2b3`: the real cluster is shared with tests running in
    /// parallel, so everything this run creates is named after it.
    pub run: String,
    /// A scratch directory of its own (kubectl's cache, manifests).
    pub work: PathBuf,
}

/// What the API answered: the status code, the `Warning` headers and the
/// body (JSON, or the text as a string when it is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Warning` header values, as sent.
    pub warnings: Vec<String>,
    /// The body.
    pub body: Value,
}

/// What kubectl did.
#[derive(Debug, Clone)]
pub struct KubectlRun {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// One line of a watch stream and when it arrived.
#[derive(Debug, Clone)]
pub struct WatchLine {
    /// Since the watch started.
    pub at: Duration,
    /// The watch event.
    pub event: Value,
}

impl Target {
    /// A namespace name of this run: `<run>-<suffix>`.
    pub fn ns(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.run)
    }

    /// Sends one request; `body` is `(content type, JSON)`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, &Value)>,
    ) -> Result<Reply> {
        let mut request = Request::builder().method(method.clone()).uri(path);
        let bytes = match body {
            Some((content_type, value)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                serde_json::to_vec(value)?
            }
            None => Vec::new(),
        };
        request = request.header(http::header::ACCEPT, "application/json");
        let request = request.body(Body::from(bytes))?;
        let response = tokio::time::timeout(CALL_TIMEOUT, self.client.send(request))
            .await
            .with_context(|| format!("{method} {path} timed out on the {} cluster", self.name))?
            .with_context(|| format!("{method} {path} on the {} cluster", self.name))?;
        let status = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let bytes = response.into_body().collect_bytes().await?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Reply {
            status,
            warnings,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call(Method::POST, path, Some(("application/json", body)))
            .await
    }

    /// Server-side apply of `object` at `path` as `manager`.
    pub async fn apply(
        &self,
        path: &str,
        manager: &str,
        force: bool,
        object: &Value,
    ) -> Result<Reply> {
        let mut uri = format!("{path}?fieldManager={manager}");
        if force {
            uri.push_str("&force=true");
        }
        self.call(
            Method::PATCH,
            &uri,
            Some(("application/apply-patch+yaml", object)),
        )
        .await
    }

    /// A JSON merge patch.
    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Reply> {
        self.call(
            Method::PATCH,
            path,
            Some(("application/merge-patch+json", patch)),
        )
        .await
    }

    /// A JSON patch.
    pub async fn json_patch(&self, path: &str, patch: &Value) -> Result<Reply> {
        self.call(
            Method::PATCH,
            path,
            Some(("application/json-patch+json", patch)),
        )
        .await
    }

    /// `DELETE path` with `DeleteOptions` (background propagation, and a uid
    /// and/or resourceVersion precondition when given).
    pub async fn delete(&self, path: &str, uid: Option<&str>, rv: Option<&str>) -> Result<Reply> {
        let mut options = json!({
            "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
        });
        if uid.is_some() || rv.is_some() {
            options["preconditions"] = json!({"uid": uid, "resourceVersion": rv});
        }
        self.call(Method::DELETE, path, Some(("application/json", &options)))
            .await
    }

    /// Opens a watch at `path` (query included) and reads it in the
    /// background until the server ends it, `limit` lines came, an event
    /// satisfies `stop`, or `within` passed. Non-2xx answers come back as
    /// one line holding the `Status` under `http_status`.
    pub fn watch(
        &self,
        path: &str,
        limit: usize,
        within: Duration,
        stop: fn(&Value) -> bool,
    ) -> tokio::task::JoinHandle<Result<Vec<WatchLine>>> {
        let client = self.client.clone();
        let path = path.to_owned();
        tokio::spawn(async move {
            let started = Instant::now();
            let request = Request::builder().uri(&path).body(Vec::new())?;
            let reader = match client.request_stream(request).await {
                Ok(reader) => reader,
                Err(kube::Error::Api(status)) => {
                    return Ok(vec![WatchLine {
                        at: started.elapsed(),
                        event: json!({"http_status": serde_json::to_value(&status)?}),
                    }]);
                }
                Err(other) => return Err(other).context(format!("watch {path}")),
            };
            let mut lines = reader.lines();
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + within;
            while out.len() < limit {
                let next = tokio::time::timeout_at(deadline, lines.next()).await;
                match next {
                    Err(_) | Ok(None) => break,
                    Ok(Some(line)) => {
                        let line = line?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        let event: Value = serde_json::from_str(&line)
                            .with_context(|| format!("watch line {line:?}"))?;
                        let done = stop(&event);
                        out.push(WatchLine {
                            at: started.elapsed(),
                            event,
                        });
                        if done {
                            break;
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    /// Waits (by watching, with `fieldSelector=metadata.name=`) until the
    /// object `name` in the collection at `collection` satisfies `done`,
    /// and returns it; `None` once it is deleted. Fails after `within`.
    pub async fn wait_for(
        &self,
        collection: &str,
        name: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Option<Value>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let current = self.get(&format!("{collection}/{name}")).await?;
            match current.status {
                404 => return Ok(None),
                200 if done(&current.body) => return Ok(Some(current.body)),
                200 => {}
                other => bail!("GET {collection}/{name}: {other} {}", current.body),
            }
            let rv = current.body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                bail!(
                    "{name} in {collection} on the {} cluster: still not there after {within:?}: {}",
                    self.name,
                    current.body
                );
            }
            let watch = format!(
                "{collection}?watch=1&fieldSelector=metadata.name%3D{name}&resourceVersion={rv}&timeoutSeconds={}",
                left.as_secs().max(1)
            );
            if let Some(found) = self.watch_until(&watch, left, &done).await? {
                return Ok(found);
            }
        }
    }

    /// Reads a watch until an event satisfies `done` (`Some(Some(object))`)
    /// or deletes the object (`Some(None)`); `None` when the watch ended
    /// first (the caller re-reads and watches again).
    async fn watch_until(
        &self,
        path: &str,
        within: Duration,
        done: &impl Fn(&Value) -> bool,
    ) -> Result<Option<Option<Value>>> {
        let request = Request::builder().uri(path).body(Vec::new())?;
        let reader = self.client.request_stream(request).await?;
        let mut lines = reader.lines();
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.next()).await {
            let event: Value = serde_json::from_str(&line?)?;
            match event["type"].as_str() {
                Some("DELETED") => return Ok(Some(None)),
                Some("ADDED" | "MODIFIED") if done(&event["object"]) => {
                    return Ok(Some(Some(event["object"].clone())));
                }
                Some("ERROR") => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    /// Runs the real kubectl against this cluster.
    pub async fn kubectl(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&Path>,
    ) -> Result<KubectlRun> {
        let mut command = tokio::process::Command::new(kubectl_binary());
        command
            .args(args)
            .arg("--cache-dir")
            .arg(self.work.join("kube-cache"))
            // Files are named relative to the scratch directory, so the
            // arguments (which the outcome records) are the same on both.
            .current_dir(&self.work)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.work)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command.stdin(match stdin {
            Some(file) => Stdio::from(std::fs::File::open(file)?),
            None => Stdio::null(),
        });
        let output = tokio::time::timeout(CALL_TIMEOUT, command.output())
            .await
            .with_context(|| format!("kubectl {args:?} timed out on the {} cluster", self.name))?
            .with_context(|| format!("running kubectl {args:?}"))?;
        Ok(KubectlRun {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// The kubectl of the pinned Kubernetes build (`target/k8s/bin`, which
/// `cargo xtask test` also puts first on PATH), else whatever is on PATH.
pub fn kubectl_binary() -> PathBuf {
    let built = storeplane_e2e::repo_root().join("target/k8s/bin/kubectl");
    if built.is_file() {
        return built;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("kubectl"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}
