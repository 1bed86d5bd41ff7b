//! `cargo xtask cluster build | up | down | env`: a real, node-less
//! Kubernetes control plane for the end-to-end tests, built from the pinned
//! Go modules in `tests/k8s/` (see `tests/k8s/README.md`).
//!
//! `up` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
//! kwok (fake Nodes and pod lifecycle) and our harness (default
//! StorageClass provisioner, fault-injection webhook, readiness check) on
//! 127.0.0.1 with fresh PKI, detached, with their pids and logs in the run
//! directory (`target/k8s/run` unless `--dir`). A cluster already running in
//! that directory is stopped first: every `up` starts from an empty etcd.

use std::{
    env,
    fmt::Write as _,
    fs::{self, File},
    io::{BufRead, BufReader, Read},
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// Kubernetes version stamped into the binaries (`kube-apiserver --version`).
const KUBE_VERSION: &str = "v1.37.2";
/// Release date of [`KUBE_VERSION`] (from the module's `.info`), used as the
/// stamped build date so builds stay reproducible.
const KUBE_BUILD_DATE: &str = "2026-10-27T12:01:04Z";
const ETCD_VERSION: &str = "v3.7.3";
const KWOK_VERSION: &str = "v0.8.0";
const HELM_VERSION: &str = "v4.3.2";

/// Every process `up` starts, in start order; `down` stops the last four,
/// then kube-apiserver, then etcd.
const COMPONENTS: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "storeplane-k8s-harness",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

const APISERVER_TIMEOUT: Duration = Duration::from_secs(90);
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running cluster. Dropping it stops every process and removes the run
/// directory, unless [`Cluster::detach`] was called.
#[derive(Debug)]
pub struct Cluster {
    /// The run directory (PKI, logs, pids, etcd data).
    pub dir: PathBuf,
    /// Admin kubeconfig (`O=system:masters`), certificates embedded.
    pub kubeconfig: PathBuf,
    /// Where `kubectl`, `helm` and the control-plane binaries are.
    pub bin_dir: PathBuf,
    /// kube-apiserver's audit log: one JSON event per line, every request
    /// at level Metadata (stage `RequestReceived` omitted, so each request
    /// has one `ResponseComplete` event; watches also log
    /// `ResponseStarted`).
    pub audit_log: PathBuf,
    /// The apiserver URL, `https://127.0.0.1:<port>`.
    pub server: String,
    /// Names of the fake (kwok) Nodes.
    pub nodes: Vec<String>,
    /// The default StorageClass (our provisioner).
    pub storage_class: String,
    /// From the start of the first process to ready.
    pub startup: Duration,
    children: Vec<(String, Child)>,
    stop_on_drop: bool,
}

#[allow(dead_code, reason = "API for `cargo xtask test`")]
impl Cluster {
    /// Leaves the processes running after this value is dropped (`cargo
    /// xtask cluster up`); `down` stops them later.
    pub fn detach(mut self) {
        self.stop_on_drop = false;
        // Dropping a `Child` neither kills nor waits for it.
        self.children.clear();
    }

    /// Stops every process and removes the run directory.
    pub fn stop(mut self) -> Result<()> {
        self.stop_on_drop = false;
        stop_processes(&self.dir, &mut self.children)?;
        remove_dir(&self.dir)
    }

    /// Stops every process but keeps the run directory (logs, audit log)
    /// for inspection; the next `up` or `down` clears it.
    pub fn stop_keeping_logs(mut self) -> Result<()> {
        self.stop_on_drop = false;
        stop_processes(&self.dir, &mut self.children)
    }

    /// `kubectl` from [`Cluster::bin_dir`], pointed at this cluster.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// `helm` from [`Cluster::bin_dir`], pointed at this cluster, with its
    /// caches inside the run directory.
    pub fn helm(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("helm"));
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"));
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.stop_on_drop {
            if let Err(e) = stop_processes(&self.dir, &mut self.children) {
                eprintln!("xtask: stopping the cluster: {e:#}");
            }
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `cargo xtask cluster <build|up|down|env> [--dir DIR]`.
pub(crate) fn main(root: &Path, args: &[String]) -> Result<()> {
    let mut dir = default_dir(root);
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            // Relative to the workspace root: xtask runs from there.
            "--dir" => dir = root.join(rest.next().context("--dir needs a value")?),
            other => bail!("unknown argument {other:?}"),
        }
    }
    match args.first().map(String::as_str) {
        Some("build") => build(root).map(|_| ()),
        Some("up") => {
            let cluster = up(root, &dir)?;
            eprintln!(
                "xtask: cluster ready in {:.1}s at {} with nodes {}\n\
                 xtask: admin kubeconfig: {}\n\
                 xtask: audit log: {}\n\
                 xtask: use it with:  eval \"$(cargo xtask cluster env)\" && kubectl get nodes\n\
                 xtask: stop it with: cargo xtask cluster down",
                cluster.startup.as_secs_f64(),
                cluster.server,
                cluster.nodes.join(", "),
                cluster.kubeconfig.display(),
                cluster.audit_log.display(),
            );
            cluster.detach();
            Ok(())
        }
        Some("down") => down(&dir),
        Some("env") => {
            let kubeconfig = dir.join("admin.kubeconfig");
            if !kubeconfig.is_file() {
                bail!(
                    "no cluster in {}: run `cargo xtask cluster up`",
                    dir.display()
                );
            }
            println!("export KUBECONFIG={}", shell_quote(&kubeconfig));
            println!("export PATH={}:\"$PATH\"", shell_quote(&bin_dir(root)));
            Ok(())
        }
        _ => bail!(
            "usage: cargo xtask cluster <build|up|down|env> [--dir DIR]\n  \
             build  build the binaries into target/k8s/bin (skipped when up to date)\n  \
             up     build if needed, then start a fresh cluster (stopping one already in DIR)\n  \
             down   stop every process and remove DIR\n  \
             env    print `export KUBECONFIG=... PATH=...` lines for eval"
        ),
    }
}

/// `target/k8s/run`.
pub fn default_dir(root: &Path) -> PathBuf {
    root.join("target/k8s/run")
}

fn bin_dir(root: &Path) -> PathBuf {
    root.join("target/k8s/bin")
}

// ---------------------------------------------------------------- build --

/// One `go build` in one module of `tests/k8s/`.
struct GoBuild {
    module: &'static str,
    /// `(package, output file name)`.
    outputs: Vec<(&'static str, &'static str)>,
    ldflags: String,
}

fn go_builds() -> Vec<GoBuild> {
    let mut kube = String::from("-s -w");
    let minor = KUBE_VERSION.split('.').nth(1).unwrap_or_default();
    for (key, value) in [
        ("gitVersion", KUBE_VERSION),
        ("gitMajor", "1"),
        ("gitMinor", minor),
        ("gitTreeState", "clean"),
        // The module zip carries no commit; empty beats `$Format:%H$`.
        ("gitCommit", ""),
        ("buildDate", KUBE_BUILD_DATE),
    ] {
        // Both, as kubernetes' hack/lib/version.sh does: client-go's is
        // what kubectl reports as its client version.
        for pkg in [
            "k8s.io/client-go/pkg/version",
            "k8s.io/component-base/version",
        ] {
            let _ = write!(kube, " -X {pkg}.{key}={value}");
        }
    }
    vec![
        // One build, so the four share their compile work and link in
        // parallel; the harness reuses client-go from it.
        GoBuild {
            module: "kube",
            outputs: vec![
                ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"),
                (
                    "k8s.io/kubernetes/cmd/kube-controller-manager",
                    "kube-controller-manager",
                ),
                ("k8s.io/kubernetes/cmd/kube-scheduler", "kube-scheduler"),
                ("k8s.io/kubernetes/cmd/kubectl", "kubectl"),
                ("./cmd/storeplane-k8s-harness", "storeplane-k8s-harness"),
            ],
            ldflags: kube,
        },
        GoBuild {
            module: "etcd",
            outputs: vec![("go.etcd.io/etcd/server/v3", "etcd")],
            ldflags: format!("-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={ETCD_VERSION}"),
        },
        GoBuild {
            module: "kwok",
            outputs: vec![("sigs.k8s.io/kwok/cmd/kwok", "kwok")],
            ldflags: format!(
                "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={}",
                KWOK_VERSION.trim_start_matches('v')
            ),
        },
        GoBuild {
            module: "helm",
            outputs: vec![("helm.sh/helm/v4/cmd/helm", "helm")],
            ldflags: format!(
                "-s -w -X helm.sh/helm/v4/internal/version.version={HELM_VERSION} \
                 -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
            ),
        },
    ]
}

/// Builds every binary into `target/k8s/bin` (skipping a module whose
/// stamp, a hash of its go.mod, go.sum, sources, flags and Go version,
/// matches) and returns that directory.
pub fn build(root: &Path) -> Result<PathBuf> {
    let bin = bin_dir(root);
    fs::create_dir_all(&bin)?;
    let go_version = Command::new("go")
        .arg("version")
        .output()
        .context("Go is needed to build the test cluster (tests/k8s/README.md)")?;
    let go_version = String::from_utf8_lossy(&go_version.stdout).into_owned();
    let total = Instant::now();
    for b in go_builds() {
        let dir = root.join("tests/k8s").join(b.module);
        let stamp_file = bin.join(format!(".stamp-{}", b.module));
        let stamp = stamp(&dir, &go_version, &b)?;
        let built = b.outputs.iter().all(|(_, out)| bin.join(out).is_file());
        if built && fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
            continue;
        }
        let names: Vec<&str> = b.outputs.iter().map(|(_, o)| *o).collect();
        eprintln!(
            "xtask: building {} (tests/k8s/{})",
            names.join(", "),
            b.module
        );
        let started = Instant::now();
        let _ = fs::remove_file(&stamp_file);
        let mut cmd = Command::new("go");
        cmd.current_dir(&dir)
            .args([
                "build",
                "-v",
                "-p",
                "2",
                "-mod=readonly",
                "-trimpath",
                "-buildvcs=false",
            ])
            .arg(format!("-ldflags={}", b.ldflags))
            // A workspace would unify versions across the modules.
            .env("GOWORK", "off")
            .env("CGO_ENABLED", "0")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped());
        match b.outputs.as_slice() {
            [(pkg, out)] => {
                cmd.arg("-o").arg(bin.join(out)).arg(pkg);
            }
            many => {
                // `-o dir/` with several main packages writes each.
                cmd.arg("-o").arg(format!("{}/", bin.display()));
                cmd.args(many.iter().map(|(pkg, _)| *pkg));
            }
        }
        run_with_progress(&mut cmd, b.module)?;
        eprintln!(
            "xtask: built {} in {:.1}s",
            names.join(", "),
            started.elapsed().as_secs_f64()
        );
        fs::write(&stamp_file, &stamp)?;
    }
    eprintln!(
        "xtask: k8s binaries up to date in {} ({:.1}s)",
        bin.display(),
        total.elapsed().as_secs_f64()
    );
    Ok(bin)
}

/// Runs `go build -v`, counting the packages it reports to show progress
/// every 30 s and passing every other line (errors) through.
fn run_with_progress(cmd: &mut Command, module: &str) -> Result<()> {
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot run go")?;
    let stderr = child.stderr.take().context("go's stderr")?;
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let reader = thread::spawn(move || {
        let mut other = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // `-v` prints bare import paths; anything else is a message.
            if line.contains(' ') || line.starts_with('#') || line.is_empty() {
                eprintln!("{line}");
                other.push(line);
            } else {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        other
    });
    let mut next_report = started + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(30);
            let secs = started.elapsed().as_secs();
            eprintln!(
                "xtask: {module}: {} packages compiled, {}m{:02}s",
                count.load(Ordering::Relaxed),
                secs / 60,
                secs % 60
            );
        }
    };
    let _ = reader.join();
    if !status.success() {
        bail!("go build in tests/k8s/{module} failed with {status}");
    }
    Ok(())
}

fn stamp(dir: &Path, go_version: &str, b: &GoBuild) -> Result<String> {
    let mut h = Fnv::default();
    h.add(go_version.as_bytes());
    h.add(b.ldflags.as_bytes());
    for (pkg, out) in &b.outputs {
        h.add(pkg.as_bytes());
        h.add(out.as_bytes());
    }
    let mut files = vec![dir.join("go.mod"), dir.join("go.sum")];
    collect_files(&dir.join("cmd"), &mut files)?;
    for f in files {
        h.add(f.to_string_lossy().as_bytes());
        h.add(&fs::read(&f).with_context(|| format!("reading {}", f.display()))?);
    }
    Ok(format!("{:016x}\n", h.0))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// FNV-1a: a stable hash for the build stamp (std's hasher may change
/// between Rust releases).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        // Length first, so ("ab","c") and ("a","bc") differ.
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

// ------------------------------------------------------------------- up --

/// Builds if needed and starts a fresh cluster in `dir` (stopping one that
/// already runs there), returning once it can run pods: apiserver ready,
/// the fake Nodes Ready, ServiceAccounts `default` present, the default
/// StorageClass and fault webhook registered, and a smoke pod Ready.
pub fn up(root: &Path, dir: &Path) -> Result<Cluster> {
    let bin = build(root)?;
    if dir.exists() {
        stop_processes(dir, &mut Vec::new())?;
        remove_dir(dir)?;
    }
    // etcd makes its own data directory (0700, or it warns).
    for sub in ["pki", "logs", "pids"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut cluster = Cluster {
        kubeconfig: dir.join("admin.kubeconfig"),
        audit_log: dir.join("logs/audit.log"),
        bin_dir: bin,
        server: String::new(),
        nodes: Vec::new(),
        storage_class: "standard".to_owned(),
        startup: Duration::ZERO,
        children: Vec::new(),
        stop_on_drop: true,
        dir,
    };
    match start(root, &mut cluster) {
        Ok(()) => Ok(cluster),
        Err(e) => {
            // Keep the logs: they say why.
            cluster.stop_on_drop = false;
            let _ = stop_processes(&cluster.dir, &mut cluster.children);
            eprintln!(
                "xtask: the cluster did not start; logs are in {}",
                cluster.dir.join("logs").display()
            );
            Err(e)
        }
    }
}

/// Free loopback ports, all bound at once so they differ.
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

fn start(root: &Path, c: &mut Cluster) -> Result<()> {
    let dir = c.dir.clone();
    let bin = c.bin_dir.clone();
    let started = Instant::now();
    let pki = dir.join("pki");
    make_pki(&pki)?;
    let p = |name: &str| pki.join(name).display().to_string();
    let [etcd_port, peer_port, api_port, webhook_port] = free_ports::<4>()?;
    c.server = format!("https://127.0.0.1:{api_port}");
    for (name, cert) in [
        ("admin", "admin"),
        ("kube-controller-manager", "kube-controller-manager"),
        ("kube-scheduler", "kube-scheduler"),
        ("kwok", "kwok"),
        ("storeplane-k8s-harness", "harness"),
    ] {
        let file = if name == "admin" {
            c.kubeconfig.clone()
        } else {
            dir.join(format!("{name}.kubeconfig"))
        };
        write_kubeconfig(&file, &c.server, &pki, cert)?;
    }
    fs::write(
        dir.join("audit-policy.yaml"),
        "apiVersion: audit.k8s.io/v1\nkind: Policy\n\
         omitStages: [\"RequestReceived\"]\nrules:\n- level: Metadata\n",
    )?;
    fs::copy(
        root.join("tests/k8s/kwok/stages.yaml"),
        dir.join("kwok-stages.yaml"),
    )
    .context("copying tests/k8s/kwok/stages.yaml")?;

    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let etcd = spawn(
        &dir,
        "etcd",
        &bin,
        &[
            "--name=node0".to_owned(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=node0={peer_url}"),
            // A throwaway cluster: durability buys nothing, fsync costs.
            "--unsafe-no-fsync=true".to_owned(),
            "--quota-backend-bytes=4294967296".to_owned(),
            "--auto-compaction-mode=periodic".to_owned(),
            "--auto-compaction-retention=5m".to_owned(),
            "--log-level=warn".to_owned(),
        ],
    )?;
    c.children.push(etcd);
    wait_until(c, Duration::from_secs(30), "etcd to listen", |_| {
        Ok(TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], etcd_port)),
            Duration::from_millis(200),
        )
        .is_ok())
    })?;

    let mut api_args = vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={api_port}"),
        format!("--cert-dir={}", pki.display()),
        format!("--tls-cert-file={}", p("apiserver.crt")),
        format!("--tls-private-key-file={}", p("apiserver.key")),
        format!("--client-ca-file={}", p("ca.crt")),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
        format!("--service-account-key-file={}", p("sa.pub")),
        format!("--service-account-signing-key-file={}", p("sa.key")),
        "--authorization-mode=Node,RBAC".to_owned(),
        "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
        "--allow-privileged=true".to_owned(),
        // The default-on plugins (NamespaceLifecycle, LimitRanger,
        // ServiceAccount, DefaultStorageClass, ResourceQuota, PodSecurity,
        // the admission webhooks, ...) stay on; this only adds.
        "--enable-admission-plugins=NodeRestriction".to_owned(),
        format!(
            "--audit-policy-file={}",
            dir.join("audit-policy.yaml").display()
        ),
        format!("--audit-log-path={}", c.audit_log.display()),
        "--audit-log-format=json".to_owned(),
        "--audit-log-maxsize=0".to_owned(),
        "--profiling=false".to_owned(),
        // kube-apiserver compacts etcd every 5 min by default, so a young
        // cluster still serves a watch of an uncached resource (Events) from
        // resourceVersion 1. The cluster conformance test needs the `410
        // Gone` path (`tests/conformance`): compact every 10 s, so revisions
        // older than ~20 s are gone, as on a long-running cluster.
        "--etcd-compaction-interval=10s".to_owned(),
    ];
    if !has_default_route() || env::var_os("STOREPLANE_K8S_LOOPBACK_ADVERTISE").is_some() {
        // Without a default route the apiserver cannot pick an address to
        // advertise, and the `kubernetes` Endpoints refuse loopback ones:
        // advertise 127.0.0.1 and leave that Endpoints object empty.
        api_args.push("--advertise-address=127.0.0.1".to_owned());
        api_args.push("--endpoint-reconciler-type=none".to_owned());
    }
    let apiserver = spawn(&dir, "kube-apiserver", &bin, &api_args)?;
    c.children.push(apiserver);

    // The harness waits for /readyz itself and says so in a file, so that
    // xtask needs no HTTPS client.
    let apiserver_ready = dir.join("apiserver-ready");
    let ready_file = dir.join("ready.json");
    let harness = spawn(
        &dir,
        "storeplane-k8s-harness",
        &bin,
        &[
            format!(
                "--kubeconfig={}",
                dir.join("storeplane-k8s-harness.kubeconfig").display()
            ),
            format!("--webhook-addr=127.0.0.1:{webhook_port}"),
            format!("--tls-cert={}", p("webhook.crt")),
            format!("--tls-key={}", p("webhook.key")),
            format!("--ca-cert={}", p("ca.crt")),
            format!("--storage-class={}", c.storage_class),
            "--nodes=2".to_owned(),
            format!("--apiserver-ready-file={}", apiserver_ready.display()),
            format!("--ready-file={}", ready_file.display()),
            format!("--ready-timeout={}s", READY_TIMEOUT.as_secs()),
        ],
    )?;
    c.children.push(harness);
    wait_until(c, APISERVER_TIMEOUT, "kube-apiserver /readyz", |_| {
        Ok(apiserver_ready.is_file())
    })?;
    let api_ready = started.elapsed();

    let kcm = spawn(
        &dir,
        "kube-controller-manager",
        &bin,
        &[
            format!(
                "--kubeconfig={}",
                dir.join("kube-controller-manager.kubeconfig").display()
            ),
            // No HTTPS endpoint: nothing scrapes it, and it would cost a
            // port plus delegated-auth requests in the audit log.
            "--secure-port=0".to_owned(),
            "--leader-elect=false".to_owned(),
            "--use-service-account-credentials=true".to_owned(),
            format!("--service-account-private-key-file={}", p("sa.key")),
            format!("--root-ca-file={}", p("ca.crt")),
            format!("--cluster-signing-cert-file={}", p("ca.crt")),
            format!("--cluster-signing-key-file={}", p("ca.key")),
            "--controllers=*".to_owned(),
            "--node-monitor-period=2s".to_owned(),
        ],
    )?;
    c.children.push(kcm);
    let scheduler = spawn(
        &dir,
        "kube-scheduler",
        &bin,
        &[
            format!(
                "--kubeconfig={}",
                dir.join("kube-scheduler.kubeconfig").display()
            ),
            "--secure-port=0".to_owned(),
            "--leader-elect=false".to_owned(),
        ],
    )?;
    c.children.push(scheduler);
    let kwok = spawn(
        &dir,
        "kwok",
        &bin,
        &[
            format!("--kubeconfig={}", dir.join("kwok.kubeconfig").display()),
            format!("--config={}", dir.join("kwok-stages.yaml").display()),
            "--manage-all-nodes=false".to_owned(),
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".to_owned(),
            "--node-lease-duration-seconds=40".to_owned(),
            // kwok's default pod CIDR (10.0.0.0/24) is our service range.
            "--cidr=10.244.0.0/16".to_owned(),
            "--node-ip=10.1.0.1".to_owned(),
        ],
    )?;
    c.children.push(kwok);

    wait_until(c, READY_TIMEOUT, "the cluster to be ready", |_| {
        Ok(ready_file.is_file())
    })?;
    c.startup = started.elapsed();
    let report = fs::read_to_string(&ready_file)?;
    c.nodes = json_strings(&report, "nodes");
    eprintln!(
        "xtask: kube-apiserver ready after {:.1}s, cluster after {:.1}s",
        api_ready.as_secs_f64(),
        c.startup.as_secs_f64()
    );
    Ok(())
}

/// The strings of a flat JSON array field (the harness's ready report);
/// avoids a JSON dependency for one field.
fn json_strings(json: &str, field: &str) -> Vec<String> {
    let Some(start) = json.find(&format!("\"{field}\"")) else {
        return Vec::new();
    };
    let rest = &json[start..];
    let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Polls `done` every 50 ms, failing when a started process exits or time
/// runs out (showing the end of the logs).
fn wait_until(
    c: &mut Cluster,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&mut Cluster) -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if done(c)? {
            return Ok(());
        }
        for (name, child) in &mut c.children {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited ({status}) while waiting for {what}:\n{}",
                    log_tail(&c.dir, name)
                );
            }
        }
        if Instant::now() > deadline {
            let tails: String = c
                .children
                .iter()
                .map(|(name, _)| log_tail(&c.dir, name))
                .collect();
            bail!("timed out after {timeout:?} waiting for {what}\n{tails}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(dir: &Path, name: &str) -> String {
    let text = fs::read_to_string(dir.join("logs").join(format!("{name}.log"))).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    format!("--- {name} (last lines of logs/{name}.log)\n{tail}\n")
}

/// Starts a detached process (own process group, so a Ctrl-C in the
/// terminal that ran `up` does not reach it) logging to `logs/NAME.log`.
fn spawn(dir: &Path, name: &str, bin: &Path, args: &[String]) -> Result<(String, Child)> {
    let log = File::create(dir.join("logs").join(format!("{name}.log")))?;
    let child = Command::new(bin.join(name))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    fs::write(
        dir.join("pids").join(format!("{name}.pid")),
        child.id().to_string(),
    )?;
    Ok((name.to_owned(), child))
}

/// Whether the host has an IPv4 default route (what kube-apiserver needs
/// to choose its advertise address by itself).
fn has_default_route() -> bool {
    fs::read_to_string("/proc/net/route").is_ok_and(|t| {
        t.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    })
}

// ------------------------------------------------------------------ PKI --

/// CA, serving certificates (apiserver, webhook), one client certificate
/// per component, and the service-account key pair; ECDSA P-256 so that
/// generating them all takes milliseconds.
fn make_pki(pki: &Path) -> Result<()> {
    if !crate::on_path("openssl") {
        crate::apt_install(&["openssl"]).context("installing openssl")?;
    }
    let cnf = pki.join("openssl.cnf");
    // Our own config: the system one would make every `req -x509` a CA.
    fs::write(&cnf, "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n")?;
    let openssl = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(pki)
            .output()
            .context("cannot run openssl")?;
        if !out.status.success() {
            bail!(
                "openssl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let cert = |name: &str, subject: &str, ext: &[&str], ca: bool| -> Result<()> {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec![
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-noenc",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "3650",
            "-subj",
            subject,
        ];
        if !ca {
            args.extend(["-CA", "ca.crt", "-CAkey", "ca.key"]);
        }
        for e in ext {
            args.extend(["-addext", e]);
        }
        openssl(&args)
    };
    cert(
        "ca",
        "/CN=storeplane-test-ca",
        &[
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        ],
        true,
    )?;
    let server = |name: &str, cn: &str, san: &str| {
        cert(
            name,
            cn,
            &[
                "basicConstraints=critical,CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=serverAuth",
                san,
            ],
            false,
        )
    };
    server(
        "apiserver",
        "/CN=kube-apiserver",
        "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,\
         DNS:kubernetes.default,DNS:kubernetes.default.svc,\
         DNS:kubernetes.default.svc.cluster.local",
    )?;
    server(
        "webhook",
        "/CN=storeplane-k8s-harness",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    )?;
    // Controller manager and scheduler under their own names, so RBAC
    // (system:kube-controller-manager, system:kube-scheduler) is the real
    // one; the test helpers are cluster admins, with names of their own so
    // the audit log tells them apart.
    for (name, subject) in [
        ("admin", "/O=system:masters/CN=kubernetes-admin"),
        (
            "kube-controller-manager",
            "/CN=system:kube-controller-manager",
        ),
        ("kube-scheduler", "/CN=system:kube-scheduler"),
        ("kwok", "/O=system:masters/CN=storeplane:kwok"),
        ("harness", "/O=system:masters/CN=storeplane:k8s-harness"),
    ] {
        cert(
            name,
            subject,
            &[
                "basicConstraints=critical,CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=clientAuth",
            ],
            false,
        )?;
    }
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "sa.key",
    ])?;
    openssl(&["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"])
}

fn write_kubeconfig(file: &Path, server: &str, pki: &Path, cert: &str) -> Result<()> {
    let read = |name: String| -> Result<String> {
        let mut data = Vec::new();
        File::open(pki.join(&name))
            .with_context(|| format!("reading {name}"))?
            .read_to_end(&mut data)?;
        Ok(base64(&data))
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: storeplane-test\n  cluster:\n    \
         server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {cert}\n  user:\n    \
         client-certificate-data: {crt}\n    client-key-data: {key}\ncontexts:\n- name: storeplane-test\n  \
         context:\n    cluster: storeplane-test\n    user: {cert}\n    namespace: default\n\
         current-context: storeplane-test\n",
        ca = read("ca.crt".to_owned())?,
        crt = read(format!("{cert}.crt"))?,
        key = read(format!("{cert}.key"))?,
    );
    fs::write(file, text)?;
    Ok(())
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ----------------------------------------------------------------- down --

/// Stops every process of the cluster in `dir` (SIGTERM, then SIGKILL after
/// 10 s) and removes `dir`.
pub fn down(dir: &Path) -> Result<()> {
    if !dir.exists() {
        eprintln!("xtask: no cluster in {}", dir.display());
        return Ok(());
    }
    stop_processes(dir, &mut Vec::new())?;
    remove_dir(dir)?;
    eprintln!("xtask: cluster in {} stopped and removed", dir.display());
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
}

/// Our processes for `dir` as `(component, pid)`: those in `pids/`, plus
/// any process running one of our binaries with `dir` on its command line
/// (in case a pid file was lost), each checked against `/proc` so that a
/// recycled pid is never signalled.
fn cluster_pids(dir: &Path) -> Vec<(&'static str, u32)> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let marker = dir.display().to_string();
    let component = |pid: u32| -> Option<&'static str> {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        let exe = exe.to_string_lossy();
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
        let name = COMPONENTS
            .into_iter()
            .find(|c| exe.ends_with(&format!("/{c}")))?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains(&marker)
            .then_some(name)
    };
    let mut pids: Vec<u32> = fs::read_dir(dir.join("pids"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .collect();
    pids.extend(
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()),
    );
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .filter(|&pid| pid != std::process::id())
        .filter_map(|pid| Some((component(pid)?, pid)))
        .collect()
}

/// Whether `pid` runs (a zombie does not: it only waits to be reaped).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Stops the clients first, then kube-apiserver, then etcd: an apiserver
/// whose etcd is gone first hangs in its graceful shutdown.
fn stop_processes(dir: &Path, children: &mut Vec<(String, Child)>) -> Result<()> {
    let pids = cluster_pids(dir);
    let mut stuck = Vec::new();
    for group in [&COMPONENTS[2..], &COMPONENTS[1..2], &COMPONENTS[..1]] {
        let group: Vec<u32> = pids
            .iter()
            .filter(|(name, _)| group.contains(name))
            .map(|(_, pid)| *pid)
            .collect();
        stuck.extend(stop_group(&group, children));
    }
    // Reap our own children so no zombie is left either.
    for (_, mut child) in children.drain(..) {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = fs::remove_dir_all(dir.join("pids"));
    if !stuck.is_empty() {
        bail!("processes {stuck:?} of {} would not stop", dir.display());
    }
    Ok(())
}

/// SIGTERM, then SIGKILL after 10 s; returns the pids still running.
fn stop_group(pids: &[u32], children: &mut [(String, Child)]) -> Vec<u32> {
    let mut left = pids.to_vec();
    for (sig, wait) in [("TERM", 10), ("KILL", 5)] {
        if left.is_empty() {
            break;
        }
        if sig == "KILL" {
            eprintln!("xtask: killing {left:?} (still running 10s after SIGTERM)");
        }
        signal(sig, &left);
        let deadline = Instant::now() + Duration::from_secs(wait);
        while !left.is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            for (_, child) in children.iter_mut() {
                let _ = child.try_wait();
            }
            left.retain(|&pid| alive(pid));
        }
    }
    left
}

fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
