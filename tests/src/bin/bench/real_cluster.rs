//! `bench real-cluster [--audit-log PATH] [--stores N]`: the cost to a real
//! API server (issue 14, point 6).
//!
//! Against a real control plane (`cargo xtask cluster up --dir DIR`; the
//! kubeconfig from `STOREPLANE_TEST_KUBECONFIG` or `KUBECONFIG`, the audit
//! log from `--audit-log`, `STOREPLANE_TEST_AUDIT_LOG` or `logs/audit.log`
//! beside the kubeconfig), one storeplane server provisions 1 static-site
//! store, then N (50) at once, then 1 WooCommerce store; then the real
//! `helm install --wait` installs the same charts with the same values
//! (read from storeplane's `releases` table), 1, N at once and 1, each into
//! a fresh namespace under the same Pod Security label. It prints create →
//! Ready p50 / p99 (for Helm: process start → exit of `install --wait`) and
//! the API requests each needed, per store, from the API server's audit
//! log.
//!
//! How requests are attributed. Every client here holds the same admin
//! certificate (user `kubernetes-admin`), so the user agent tells them
//! apart: Helm sends `Helm/<version>`, kubectl (which this bench uses to
//! create Helm's namespaces and to clean up) `kubectl/...`, and storeplane
//! `storeplane/<version>`. A request is counted
//! once (by audit ID, whatever its stages) in the phase whose window —
//! first create to last Ready — holds its `requestReceivedTimestamp`. The
//! server's start-up (discovery, its watches) comes before the first
//! window and is reported apart; a watch counts once, when it is opened,
//! however many events it carries. Run it on a cluster of its own: other
//! kube-rs clients with the admin certificate would be counted as
//! storeplane (the bench reports namespaced requests outside its own
//! namespaces as foreign, which shows that this happened).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::BufRead as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt as _;
use serde_json::{Value, json};
use storeplane_e2e::{Backend, Server, fresh_database, plugins_dir, repo_root, v1 as pb};

/// How long a phase may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(900);
/// How long after the last Ready storeplane's requests are still watched
/// for (reported apart: what it does once the stores are Ready).
const SETTLE: Duration = Duration::from_secs(5);

/// How long the server gets to open its watches before the first create.
const STARTUP: Duration = Duration::from_secs(3);

/// Store name → when it was first seen Ready.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// Where the bench finds what it needs.
struct Setup {
    kubeconfig: PathBuf,
    audit_log: PathBuf,
    helm: PathBuf,
    kubectl: PathBuf,
    /// HOME for helm (its cache, config, and kube discovery cache).
    home: PathBuf,
    stores: usize,
}

impl Setup {
    fn from_args(args: &[String]) -> Result<Self> {
        let mut audit_log = std::env::var_os("STOREPLANE_TEST_AUDIT_LOG").map(PathBuf::from);
        let mut stores = 50;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--audit-log" => audit_log = args.next().map(PathBuf::from),
                "--stores" => {
                    stores = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .context("--stores takes a number")?;
                }
                other => bail!("bench real-cluster: unknown argument {other:?}"),
            }
        }
        let kubeconfig = std::env::var_os("STOREPLANE_TEST_KUBECONFIG")
            .or_else(|| std::env::var_os("KUBECONFIG"))
            .and_then(|k| std::env::split_paths(&k).next())
            .context(
                "no kubeconfig: set STOREPLANE_TEST_KUBECONFIG (or KUBECONFIG) to a real \
                 cluster's, e.g. after `cargo xtask cluster up --dir target/k8s/run-bench`, \
                 target/k8s/run-bench/admin.kubeconfig",
            )?;
        let audit_log = match audit_log {
            Some(path) => path,
            // `cargo xtask cluster up` writes both into the run directory.
            None => kubeconfig
                .parent()
                .map(|dir| dir.join("logs/audit.log"))
                .context("no audit log")?,
        };
        ensure!(
            audit_log.is_file(),
            "no audit log at {} (pass --audit-log or set STOREPLANE_TEST_AUDIT_LOG)",
            audit_log.display()
        );
        let bin = repo_root().join("target/k8s/bin");
        let helm = std::env::var_os("STOREPLANE_TEST_HELM")
            .map(PathBuf::from)
            .unwrap_or_else(|| bin.join("helm"));
        let kubectl = helm
            .parent()
            .map(|d| d.join("kubectl"))
            .filter(|k| k.is_file())
            .unwrap_or_else(|| bin.join("kubectl"));
        let home = repo_root()
            .join("target/e2e")
            .join(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&home)?;
        Ok(Self {
            kubeconfig,
            audit_log,
            helm,
            kubectl,
            home,
            stores,
        })
    }
}

/// One measured phase.
struct Phase {
    tool: &'static str,
    engine: &'static str,
    names: Vec<String>,
    /// create (or helm start) → Ready (or helm exit), ms.
    latencies: Vec<f64>,
    all_ready: Duration,
    /// Microseconds since the epoch.
    window: (i64, i64),
}

/// Runs the bench.
pub async fn run(args: &[String]) -> Result<()> {
    let setup = Setup::from_args(args)?;
    let run = &uuid::Uuid::new_v4().simple().to_string()[..5];
    println!(
        "real cluster: {} (audit log {}); storeplane {}; helm {}",
        setup.kubeconfig.display(),
        setup.audit_log.display(),
        storeplane_e2e::binary()?.display(),
        setup.helm.display()
    );

    let started = now_micros();
    let db = fresh_database(Backend::Sqlite).await?;
    let kubeconfig = setup.kubeconfig.display().to_string();
    let plugins = plugins_dir().display().to_string();
    let cache = repo_root()
        .join("target/plugin-cache")
        .display()
        .to_string();
    let server = Server::start_logging(
        &db,
        &[
            "--cluster",
            "kubernetes",
            "--kubeconfig",
            &kubeconfig,
            "--plugins-dir",
            &plugins,
            "--plugin-cache",
            &cache,
            "--rate-limit-per-tenant",
            "0",
            "--rate-limit-per-address",
            "0",
        ],
        "warn,storeplane=info",
    )
    .await?;
    let ready = ready_watch(&server).await?;
    // Its watches start in the background: let them, so that they count
    // as start-up, not as the first store's.
    tokio::time::sleep(STARTUP).await;

    let n = setup.stores;
    let mut phases = Vec::new();
    for (engine, count, base) in [
        ("static-site", 1, "one"),
        ("static-site", n, "many"),
        ("woocommerce", 1, "woo"),
    ] {
        let names: Vec<String> = (0..count)
            .map(|i| format!("b{run}-{base}-{i:02}"))
            .collect();
        phases.push(storeplane_phase(&server, &ready, engine, names).await?);
        tokio::time::sleep(SETTLE).await;
    }
    let releases = recorded_values(&db).await?;
    drop(server);

    for phase in 0..3 {
        let (engine, names) = (phases[phase].engine, phases[phase].names.clone());
        phases.push(helm_phase(&setup, &releases, engine, names).await?);
    }

    // The API server writes its audit log as requests complete.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = read_audit_log(&setup.audit_log, started)?;
    report(&phases, &requests, started, n);

    let mut namespaces = Vec::new();
    for phase in &phases {
        let prefix = if phase.tool == "helm" {
            "helm"
        } else {
            "store"
        };
        namespaces.extend(phase.names.iter().map(|n| format!("{prefix}-{n}")));
    }
    let deleted = tokio::process::Command::new(&setup.kubectl)
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .args(["delete", "namespace", "--wait=false", "--ignore-not-found"])
        .args(&namespaces)
        .output()
        .await?;
    if !deleted.status.success() {
        eprintln!(
            "cleaning up: {}",
            String::from_utf8_lossy(&deleted.stderr).trim()
        );
    }
    Ok(())
}

/// When each store is first seen Ready, from `WatchStores`.
async fn ready_watch(server: &Server) -> Result<Seen> {
    let seen: Seen = Arc::default();
    let out = Arc::clone(&seen);
    let mut watch = server.watch().await?;
    tokio::spawn(async move {
        while let Some(Ok(event)) = watch.next().await {
            let Some(store) = event.store else { continue };
            if store.phase() == pb::StorePhase::Ready {
                out.lock()
                    .expect("lock")
                    .entry(store.name)
                    .or_insert_with(Instant::now);
            } else if store.phase() == pb::StorePhase::Failed {
                eprintln!(
                    "store {} failed: {} {}",
                    store.name, store.failure_reason, store.failure_message
                );
            }
        }
    });
    Ok(seen)
}

fn config(engine: &str) -> Value {
    match engine {
        "woocommerce" => json!({"admin_email": "owner@example.com"}),
        _ => json!({}),
    }
}

/// Creates `names` at once and waits until all are Ready.
async fn storeplane_phase(
    server: &Server,
    ready: &Seen,
    engine: &'static str,
    names: Vec<String>,
) -> Result<Phase> {
    let from = now_micros();
    let started = Instant::now();
    let mut calls = Vec::new();
    for name in &names {
        let mut client = server.stores().await?;
        let request = storeplane_e2e::engine_request(name, engine, config(engine));
        let name = name.clone();
        calls.push(tokio::spawn(async move {
            let at = Instant::now();
            (name, at, client.create_store(request).await)
        }));
    }
    let mut created = HashMap::new();
    for call in calls {
        let (name, at, result) = call.await?;
        result.with_context(|| format!("creating {name}"))?;
        created.insert(name, at);
    }
    let done = loop {
        {
            let ready = ready.lock().expect("lock");
            if names.iter().all(|n| ready.contains_key(n)) {
                break ready.clone();
            }
        }
        ensure!(
            started.elapsed() < PATIENCE,
            "{engine} stores not Ready within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let all_ready = started.elapsed();
    let to = now_micros();
    let latencies = names
        .iter()
        .filter_map(|n| Some(ms(done.get(n)?.duration_since(*created.get(n)?))))
        .collect();
    Ok(Phase {
        tool: "storeplane",
        engine,
        names,
        latencies,
        all_ready,
        window: (from, to),
    })
}

/// Release name → (chart directory, values) as storeplane installed it.
async fn recorded_values(database_url: &str) -> Result<HashMap<String, (String, Value)>> {
    let pool = sqlx::SqlitePool::connect(database_url).await?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(r#"SELECT name, chart_dir, "values" FROM releases"#)
            .fetch_all(&pool)
            .await?;
    pool.close().await;
    rows.into_iter()
        .map(|(name, dir, values)| Ok((name, (dir, serde_json::from_str(&values)?))))
        .collect()
}

/// `helm install --wait` of each store's chart with its values, all at
/// once, each into `helm-<name>`.
async fn helm_phase(
    setup: &Setup,
    releases: &HashMap<String, (String, Value)>,
    engine: &'static str,
    names: Vec<String>,
) -> Result<Phase> {
    // Namespaces first (kubectl: not counted as Helm's), under the store
    // namespaces' Pod Security level.
    let list = json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": names.iter().map(|n| json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": format!("helm-{n}"),
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        })).collect::<Vec<_>>(),
    });
    let manifest = setup.home.join(format!("namespaces-{}.json", names[0]));
    std::fs::write(&manifest, serde_json::to_vec(&list)?)?;
    let out = tokio::process::Command::new(&setup.kubectl)
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .arg("apply")
        .arg("-f")
        .arg(&manifest)
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut installs = Vec::new();
    for name in &names {
        let (chart, values) = releases
            .get(name)
            .with_context(|| format!("no recorded release {name}"))?;
        let values_file = setup.home.join(format!("{name}.values.json"));
        std::fs::write(&values_file, serde_json::to_vec(values)?)?;
        let mut helm = tokio::process::Command::new(&setup.helm);
        helm.args([
            "install",
            name,
            chart,
            "--namespace",
            &format!("helm-{name}"),
        ])
        .arg("--values")
        .arg(&values_file)
        .args(["--wait", "--timeout", "15m"])
        .env("KUBECONFIG", &setup.kubeconfig)
        // Its own HOME: a discovery cache of its own (warmed by the
        // first install), and nothing from the user's helm.
        .env("HOME", &setup.home)
        .env_remove("HELM_CACHE_HOME")
        .env_remove("HELM_CONFIG_HOME")
        .env_remove("HELM_DATA_HOME");
        installs.push(helm);
    }
    let from = now_micros();
    let started = Instant::now();
    let tasks: Vec<_> = installs
        .into_iter()
        .zip(names.clone())
        .map(|(mut helm, name)| {
            tokio::spawn(async move {
                let at = Instant::now();
                let out = helm.output().await;
                (name, at.elapsed(), out)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        let (name, took, out) = task.await?;
        let out = out?;
        ensure!(
            out.status.success(),
            "helm install {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        latencies.push(ms(took));
    }
    Ok(Phase {
        tool: "helm",
        engine,
        names,
        latencies,
        all_ready: started.elapsed(),
        window: (from, now_micros()),
    })
}

/// One API request from the audit log.
struct Request {
    received: i64,
    user: String,
    agent: String,
    verb: String,
    /// `deployments`, `namespaces`, … or the path of a non-resource URL.
    resource: String,
    namespace: String,
}

impl Request {
    /// What kind of request it is, for the breakdown.
    fn class(&self) -> &'static str {
        if self.resource.starts_with('/') {
            "discovery"
        } else {
            match self.verb.as_str() {
                "watch" => "watch",
                "get" | "list" => "read",
                _ => "write",
            }
        }
    }

    /// `patch deployments`, `get /apis/apps/v1`.
    fn label(&self) -> String {
        format!("{} {}", self.verb, self.resource)
    }
}

/// Every request received since `since` (µs), once per audit ID.
fn read_audit_log(path: &Path, since: i64) -> Result<Vec<Request>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut seen = HashSet::new();
    let mut requests = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let event: Value = match serde_json::from_str(&line?) {
            Ok(event) => event,
            // A line being written as we read.
            Err(_) => continue,
        };
        let Some(received) = event["requestReceivedTimestamp"]
            .as_str()
            .and_then(rfc3339_micros)
        else {
            continue;
        };
        if received < since
            || !seen.insert(event["auditID"].as_str().unwrap_or_default().to_owned())
        {
            continue;
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let object = &event["objectRef"];
        let resource = if object["resource"].is_string() {
            match object["subresource"].as_str() {
                Some(sub) => format!("{}/{sub}", text(&object["resource"])),
                None => text(&object["resource"]),
            }
        } else {
            // Non-resource URLs: discovery, /version, /openapi.
            text(&event["requestURI"])
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        requests.push(Request {
            received,
            user: text(&event["user"]["username"]),
            agent: text(&event["userAgent"]),
            verb: text(&event["verb"]),
            resource,
            namespace: text(&object["namespace"]),
        });
    }
    Ok(requests)
}

/// Whether `request` came from `tool`'s process (see the module docs).
fn by(tool: &str, request: &Request) -> bool {
    if request.user != "kubernetes-admin" {
        return false;
    }
    match tool {
        "helm" => request.agent.starts_with("Helm/"),
        _ => request.agent.starts_with("storeplane/"),
    }
}

fn report(phases: &[Phase], requests: &[Request], started: i64, n: usize) {
    let first = phases.first().map_or(started, |p| p.window.0);
    let startup: Vec<&Request> = requests
        .iter()
        .filter(|r| r.received < first && by("storeplane", r))
        .collect();
    let agents: HashSet<&str> = requests
        .iter()
        .filter(|r| by("storeplane", r))
        .map(|r| r.agent.as_str())
        .collect();
    println!();
    println!(
        "storeplane's requests: user kubernetes-admin, user agent {:?}; Helm's: user agent Helm/…",
        agents
    );
    println!(
        "storeplane server start-up, once (before the first create): {} requests — {}",
        startup.len(),
        breakdown(&startup, 1.0, 40)
    );
    println!();
    println!(
        "| tool | engine | stores | create → Ready p50 | p99 | all Ready | requests | per store | write | read | watch | discovery |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut details = Vec::new();
    for phase in phases {
        let own: HashSet<String> = phase
            .names
            .iter()
            .flat_map(|n| [format!("store-{n}"), format!("helm-{n}")])
            .collect();
        let (from, to) = phase.window;
        let counted: Vec<&Request> = requests
            .iter()
            .filter(|r| r.received >= from && r.received <= to && by(phase.tool, r))
            .collect();
        let foreign = counted
            .iter()
            .filter(|r| !r.namespace.is_empty() && !own.contains(&r.namespace))
            .count();
        let stores = phase.names.len() as f64;
        let class = |c: &str| counted.iter().filter(|r| r.class() == c).count() as f64 / stores;
        let mut latencies = phase.latencies.clone();
        println!(
            "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.1} s | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            phase.tool,
            phase.engine,
            phase.names.len(),
            pct(&mut latencies, 0.5),
            pct(&mut latencies, 0.99),
            phase.all_ready.as_secs_f64(),
            counted.len(),
            counted.len() as f64 / stores,
            class("write"),
            class("read"),
            class("watch"),
            class("discovery"),
        );
        details.push(format!(
            "{} {} ×{}: {}{}",
            phase.tool,
            phase.engine,
            phase.names.len(),
            breakdown(&counted, stores, 40),
            if foreign > 0 {
                format!(
                    " — WARNING: {foreign} namespaced requests outside this phase's namespaces: \
                     another client shares the admin certificate and user agent"
                )
            } else {
                String::new()
            }
        ));
        if phase.tool == "storeplane" {
            let after: Vec<&Request> = requests
                .iter()
                .filter(|r| {
                    r.received > to
                        && r.received <= to + SETTLE.as_micros() as i64
                        && by("storeplane", r)
                })
                .collect();
            details.push(format!(
                "  then, in the {} s after the last Ready: {} requests — {}",
                SETTLE.as_secs(),
                after.len(),
                breakdown(&after, 1.0, 40)
            ));
        }
    }
    println!(
        "(Helm's create → Ready: from starting `helm install --wait` to its exit; its \
         namespaces are made beforehand by kubectl, not counted. write: create, patch, update, \
         delete; read: get, list; watch: watches opened; discovery: non-resource URLs.)"
    );
    println!();
    println!("per store, by request (verb resource), the most frequent first (N = {n}):");
    for line in details {
        println!("  {line}");
    }
}

/// The most frequent `verb resource` pairs, per store.
fn breakdown(requests: &[&Request], stores: f64, top: usize) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in requests {
        *counts.entry(r.label()).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: usize = counts.iter().skip(top).map(|(_, c)| c).sum();
    let mut parts: Vec<String> = counts
        .iter()
        .take(top)
        .map(|(label, c)| format!("{label} {}", trim(*c as f64 / stores)))
        .collect();
    if rest > 0 {
        parts.push(format!("others {}", trim(rest as f64 / stores)));
    }
    parts.join(", ")
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn pct(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `2026-12-05T18:07:23.061101Z` → microseconds since the epoch (the audit
/// log's timestamps are UTC).
fn rfc3339_micros(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut hms = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, min, s) = (hms.next()??, hms.next()??, hms.next()??);
    let micros: i64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + min * 60 + s) * 1_000_000) + micros)
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_timestamps_are_read_as_utc_microseconds() {
        assert_eq!(
            super::rfc3339_micros("1970-01-02T00:00:01.5Z"),
            Some(86_401_500_000)
        );
        assert_eq!(
            super::rfc3339_micros("2026-12-05T18:07:23.061101Z"),
            Some(1_796_494_043_061_101)
        );
    }
}
