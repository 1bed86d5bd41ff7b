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
        self.run_with(sample_products, &[])
    }

    /// Runs the script with the usual inputs, `overrides` replacing some.
    fn run_with(&self, sample_products: u32, overrides: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let samples = sample_products.to_string();
        let mut inputs = vec![
            ("WAIT_SECONDS", "5"),
            ("STORE_URL", "https://shop.example.com"),
            ("STORE_TITLE", "Bean & Leaf"),
            ("STORE_CURRENCY", "JPY"),
            ("STORE_BASE_LOCATION", "JP:JP13"),
            ("SAMPLE_PRODUCTS", samples.as_str()),
            ("ADMIN_USER", "admin"),
            ("ADMIN_EMAIL", "owner@example.com"),
            ("ADMIN_PASSWORD", "s3cret-generated"),
            ("WOOCOMMERCE_VERSION", "11.1.2"),
            ("STOREFRONT_VERSION", "4.6.2"),
        ];
        for (name, value) in overrides {
            inputs.retain(|(n, _)| n != name);
            inputs.push((name, value));
        }
        Command::new("bash")
            .arg(SCRIPT)
            .env_clear()
            .env("PATH", path)
            .env("FAKE_WP_STATE", self.root.join("state"))
            .env("WP_PATH", self.root.join("html"))
            .envs(inputs)
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

/// Finding 4 of the 2026-12 review: WP-CLI reads `--exec=<php>` as a flag
/// wherever it stands, so a title passed as a positional argument ran PHP.
/// The fake records any such flag; the title must arrive as data.
#[test]
fn tenant_strings_that_look_like_flags_reach_wordpress_literally_and_run_nothing() {
    let sandbox = Sandbox::new("flags");
    let title = r#"--exec=file_put_contents("/tmp/pwned", "x");"#;
    let email = "--require=/etc/passwd@example.com";
    let output = sandbox.run_with(1, &[("STORE_TITLE", title), ("ADMIN_EMAIL", email)]);
    assert_ok(&output);

    assert!(
        !exists(&sandbox, "executed"),
        "WP-CLI was handed a code flag: {}",
        sandbox.read("executed")
    );
    assert_eq!(option(&sandbox, "blogname"), title);
    assert_eq!(option(&sandbox, "admin_email"), email);
    assert_eq!(sandbox.read("admin-user-email"), email);
}

#[test]
fn the_administrator_is_updated_from_the_environment() {
    let sandbox = Sandbox::new("admin");
    assert_ok(&sandbox.run(0));
    assert_eq!(sandbox.read("admin-user-email"), "owner@example.com");
    assert_eq!(option(&sandbox, "woocommerce_currency"), "JPY");
    // Neither the e-mail nor the password is an argument of any call.
    let calls = sandbox.calls();
    let after_install: Vec<_> = calls
        .iter()
        .filter(|c| !c.starts_with("core install"))
        .collect();
    assert!(
        !after_install
            .iter()
            .any(|c| c.contains("owner@example.com") || c.contains("s3cret-generated")),
        "{after_install:#?}"
    );
}
