//! `charts/woocommerce/files/setup.sh` run with bash against a fake `php`
//! (tests/fixtures/fake-php.sh): the steps happen, a second run changes
//! nothing it should not, and a database that never comes up fails clearly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test scaffolding: a failing setup should fail the test"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/charts/woocommerce/files/setup.sh"
);
const FAKE_PHP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-php.sh");

/// A scratch directory with a WordPress tree, the fake's state and a `php`
/// on PATH.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "storeplane-woo-setup-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        for dir in ["html/wp-includes", "state", "bin"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("html/wp-config.php"), "<?php\n").unwrap();
        fs::write(root.join("html/wp-includes/version.php"), "<?php\n").unwrap();
        let php = root.join("bin/php");
        fs::write(&php, format!("#!/bin/sh\nexec bash '{FAKE_PHP}' \"$@\"\n")).unwrap();
        fs::set_permissions(&php, fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { root }
    }

    fn run(&self, sample_products: u32) -> Output {
        let path = format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(SCRIPT)
            .env_clear()
            .env("PATH", path)
            .env("FAKE_WP_STATE", self.root.join("state"))
            .env("WP_PATH", self.root.join("html"))
            .env("WAIT_SECONDS", "5")
            .env("STORE_URL", "https://shop.example.com")
            .env("STORE_TITLE", "Bean & Leaf")
            .env("STORE_CURRENCY", "JPY")
            .env("STORE_BASE_LOCATION", "JP:JP13")
            .env("SAMPLE_PRODUCTS", sample_products.to_string())
            .env("ADMIN_USER", "admin")
            .env("ADMIN_EMAIL", "owner@example.com")
            .env("ADMIN_PASSWORD", "s3cret-generated")
            .env("WOOCOMMERCE_VERSION", "11.1.2")
            .env("STOREFRONT_VERSION", "4.6.2")
            .output()
            .unwrap()
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.state().join(file)).unwrap_or_default()
    }

    fn state(&self) -> PathBuf {
        self.root.join("state")
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
        "setup.sh failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn option(sandbox: &Sandbox, name: &str) -> String {
    sandbox.read(&format!("options/{name}"))
}

fn exists(sandbox: &Sandbox, file: &str) -> bool {
    Path::new(&sandbox.state().join(file)).exists()
}

#[test]
fn first_run_installs_and_opens_the_shop() {
    let sandbox = Sandbox::new("first");
    let output = sandbox.run(3);
    assert_ok(&output);

    assert!(exists(&sandbox, "installed"));
    assert_eq!(sandbox.read("plugin-woocommerce-version"), "11.1.2");
    assert_eq!(sandbox.read("theme-storefront-version"), "4.6.2");
    assert!(exists(&sandbox, "plugin-woocommerce-active"));
    assert!(exists(&sandbox, "theme-storefront-active"));
    for (name, value) in [
        ("woocommerce_coming_soon", "no"),
        ("woocommerce_store_pages_only", "no"),
        ("woocommerce_currency", "JPY"),
        ("woocommerce_default_country", "JP:JP13"),
        ("woocommerce_price_num_decimals", "0"),
        ("woocommerce_onboarding_profile", "{\"skipped\":true}"),
        ("home", "https://shop.example.com"),
        ("blogname", "Bean & Leaf"),
    ] {
        assert_eq!(option(&sandbox, name), value, "option {name}");
    }
    assert_eq!(sandbox.read("zone-methods").trim(), "free_shipping");
    assert_eq!(
        sandbox.read("skus").split_whitespace().collect::<Vec<_>>(),
        [
            "storeplane-sample-1",
            "storeplane-sample-2",
            "storeplane-sample-3"
        ]
    );
    let calls = sandbox.calls();
    for expected in [
        "rewrite structure /%postname%/",
        "wc tool run install_pages",
        "wc payment_gateway update cod --enabled=true",
    ] {
        assert!(
            calls.iter().any(|c| c == expected),
            "{expected} in {calls:#?}"
        );
    }
    // The password goes through stdin, never the command line.
    assert!(!calls.iter().any(|c| c.contains("s3cret-generated")));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("done: https://shop.example.com/"),
        "{stdout}"
    );
}

#[test]
fn a_second_run_converges_without_duplicates_and_adds_only_new_products() {
    let sandbox = Sandbox::new("rerun");
    assert_ok(&sandbox.run(2));
    let calls_before = sandbox.calls().len();
    assert_ok(&sandbox.run(4));

    let second: Vec<_> = sandbox.calls().split_off(calls_before);
    assert!(
        !second.iter().any(|c| c.starts_with("core install")),
        "{second:#?}"
    );
    assert!(
        !second.iter().any(|c| c.starts_with("plugin install")),
        "{second:#?}"
    );
    assert!(
        !second.iter().any(|c| c.starts_with("theme install")),
        "{second:#?}"
    );
    assert_eq!(sandbox.read("zone-methods").trim(), "free_shipping");
    assert_eq!(
        sandbox.read("skus").split_whitespace().collect::<Vec<_>>(),
        [
            "storeplane-sample-1",
            "storeplane-sample-2",
            "storeplane-sample-3",
            "storeplane-sample-4"
        ]
    );
}

#[test]
fn a_database_that_never_answers_fails_naming_the_step() {
    let sandbox = Sandbox::new("nodb");
    fs::write(sandbox.state().join("db-down"), "").unwrap();
    let output = sandbox.run(1);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("gave up waiting for MySQL"), "{stdout}");
    assert!(
        stdout.contains("FAILED during step: wait for the database"),
        "{stdout}"
    );
    assert!(!exists(&sandbox, "installed"));
}
