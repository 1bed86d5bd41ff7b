//! `charts/medusa/files/init.sh` run with `sh` against fake `node` and `npx`
//! (tests/fixtures/fake-medusa.sh): the steps happen in order, a second run
//! creates no second admin, a half-created admin is repaired, and a database
//! that never answers fails naming the step.
//!
//! `tests/real_backend.rs` runs the same script for real (PostgreSQL,
//! Redis, the backend built from its image's steps); this test keeps its
//! control flow and its failure paths honest in milliseconds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test scaffolding: a failing init should fail the test"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/medusa/files/init.sh");
const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-medusa.sh");

struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "storeplane-medusa-init-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        for dir in ["app", "state", "bin"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for tool in ["node", "npx"] {
            let path = root.join("bin").join(tool);
            fs::write(
                &path,
                format!("#!/bin/sh\nexec bash '{FAKE}' {tool} \"$@\"\n"),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Sandbox { root }
    }

    fn state(&self, file: &str) -> PathBuf {
        self.root.join("state").join(file)
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.state(file)).unwrap_or_default()
    }

    fn run(&self) -> Output {
        self.run_with(&[])
    }

    /// Runs the script with the usual inputs, `overrides` replacing some.
    fn run_with(&self, overrides: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .arg(SCRIPT)
            .env_clear()
            .env("PATH", path)
            .env("FAKE_MEDUSA_STATE", self.root.join("state"))
            .env("MEDUSA_DIR", self.root.join("app"))
            .env("WAIT_SECONDS", "5")
            .env("MEDUSA_VERSION", "2.21.2")
            .env("DB_HOST", "shop-postgres")
            .env("DB_PASSWORD", "db-secret")
            .env("REDIS_HOST", "shop-redis")
            .env("ADMIN_EMAIL", "owner@example.com")
            .env("ADMIN_PASSWORD", "admin-secret")
            .env("REGION_NAME", "India")
            .env("REGION_CURRENCY", "inr")
            .env("REGION_COUNTRIES", "in")
            .env("SEED_DEMO_DATA", "false")
            .env("PUBLISHABLE_KEY_SECRET", "0123456789abcdef0123456789abcdef")
            .envs(overrides.iter().copied())
            .output()
            .unwrap()
    }

    fn calls(&self) -> Vec<String> {
        self.read("calls").lines().map(str::to_owned).collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "init.sh failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn first_run_migrates_creates_the_admin_seeds_and_sets_the_key_in_order() {
    let sandbox = Sandbox::new("first");
    assert_ok(&sandbox.run());
    assert_eq!(
        sandbox.calls(),
        [
            "db.mjs ping",
            "medusa db:migrate --execute-safe-links",
            "db.mjs mark-migrated 2.21.2",
            "db.mjs admin-state",
            "medusa user --email=owner@example.com --password=admin-secret",
            "medusa exec ./src/scripts/storeplane-seed.js",
            "medusa exec ./src/scripts/storeplane-publishable-key.js",
        ]
    );
    assert_eq!(sandbox.read("migrated"), "2.21.2");
    assert_eq!(sandbox.read("seeds"), "seed India false\n");
    assert_eq!(sandbox.read("key"), "pk_0123456789abcdef0123456789abcdef");
}

#[test]
fn a_second_run_creates_no_second_admin() {
    let sandbox = Sandbox::new("rerun");
    assert_ok(&sandbox.run());
    let before = sandbox.calls().len();
    assert_ok(&sandbox.run());
    let second = sandbox.calls().split_off(before);
    assert!(
        !second.iter().any(|c| c.starts_with("medusa user")),
        "{second:#?}"
    );
    // The seed script itself is guarded by markers; it is run every time.
    assert!(second.iter().any(|c| c.ends_with("storeplane-seed.js")));
}

#[test]
fn a_half_created_admin_is_dropped_and_created_again() {
    let sandbox = Sandbox::new("partial");
    fs::write(sandbox.state("schema"), "").unwrap();
    fs::write(sandbox.state("user"), "").unwrap();
    assert_ok(&sandbox.run());
    let calls = sandbox.calls();
    let drop = calls
        .iter()
        .position(|c| c == "db.mjs drop-orphan-admin")
        .unwrap();
    let create = calls
        .iter()
        .position(|c| c.starts_with("medusa user"))
        .unwrap();
    assert!(drop < create, "{calls:#?}");
}

#[test]
fn a_database_that_never_answers_fails_naming_the_step() {
    let sandbox = Sandbox::new("nodb");
    fs::write(sandbox.state("db-down"), "").unwrap();
    let output = sandbox.run();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "FAILED during step: wait for PostgreSQL and Redis: gave up waiting for PostgreSQL"
        ),
        "{stdout}"
    );
    assert!(!sandbox.calls().iter().any(|c| c.starts_with("medusa")));
}

/// Finding 4 of the 2026-12 review, for Medusa: an address that looks like
/// an option must reach Medusa as the address, not as an option.
#[test]
fn an_admin_email_that_looks_like_an_option_reaches_medusa_literally() {
    let sandbox = Sandbox::new("flag");
    let email = "--invite@example.com";
    assert_ok(&sandbox.run_with(&[("ADMIN_EMAIL", email)]));
    assert_eq!(sandbox.read("user-email"), email);
    assert_eq!(
        sandbox.read("user-options"),
        "",
        "the address was parsed as an option"
    );
    assert!(
        sandbox
            .calls()
            .iter()
            .all(|c| !c.starts_with("db.mjs admin-state ")),
        "the address is read from the environment, not the command line"
    );
}
