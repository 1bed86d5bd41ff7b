//! `src/backup/after-restore.sh` run with `sh` (as the restore Job's `clone`
//! container does) against a fake `wp` (tests/fixtures/fake-wp.sh) holding a
//! restored shop: a clone of another store takes this store's address
//! everywhere but in GUIDs, also JSON-escaped, and this store's admin
//! password, given on stdin only; a store's own backup is left at its
//! address; a second run changes nothing; bad inputs fail clearly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test scaffolding: a failing step should fail the test"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use storeplane_plugin_woocommerce::backup::AFTER_RESTORE_SCRIPT;

const FAKE_WP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-wp.sh");

const SOURCE_URL: &str = "http://source-shop.shops.example.com";
const STORE_URL: &str = "http://copy.shops.example.com";
const SOURCE_PASSWORD: &str = "source-store-password";
const PASSWORD: &str = "Copy-Generated-0123456789abcdef";

/// The restored database outside `wp_options`, as `column<TAB>value` lines:
/// a link in a post, the same address JSON-escaped in a block's attributes
/// and in a WooCommerce setting, and a GUID, which must keep the old one.
const CONTENT: &str = "\
post_content\t<a href=\"http://source-shop.shops.example.com/product/sencha/\">Sencha</a>
post_content\t<!-- wp:cover {\"url\":\"http:\\/\\/source-shop.shops.example.com\\/wp-content\\/uploads\\/tea.jpg\"} -->
option_value\t{\"return_url\":\"http:\\/\\/source-shop.shops.example.com\\/checkout\\/\"}
guid\thttp://source-shop.shops.example.com/?p=12
";

/// A scratch directory with a WordPress tree, the fake's state (a restored
/// shop whose `home` is `home`, with an administrator `admin`), the script
/// and a `wp` on PATH.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str, home: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "storeplane-woo-after-restore-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        for dir in ["html", "state/options", "state/users/admin", "bin"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("html/wp-config.php"), "<?php\n").unwrap();
        fs::write(root.join("after-restore.sh"), AFTER_RESTORE_SCRIPT).unwrap();
        let wp = root.join("bin/wp");
        fs::write(&wp, format!("#!/bin/sh\nexec sh '{FAKE_WP}' \"$@\"\n")).unwrap();
        fs::set_permissions(&wp, fs::Permissions::from_mode(0o755)).unwrap();
        let sandbox = Sandbox { root };
        sandbox.write("options/home", home);
        sandbox.write("options/siteurl", home);
        sandbox.write("users/admin/ID", "1");
        sandbox.write("users/admin/password", SOURCE_PASSWORD);
        sandbox.write("content", CONTENT);
        sandbox
    }

    fn run(&self) -> Output {
        self.run_with(&[], &[])
    }

    /// Runs the script with the Job's inputs, `overrides` replacing some and
    /// `removed` left out.
    fn run_with(&self, overrides: &[(&str, &str)], removed: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut inputs = vec![
            ("STORE_URL", STORE_URL),
            ("ADMIN_USER", "admin"),
            ("ADMIN_PASSWORD", PASSWORD),
            ("HOME", "/tmp"),
        ];
        inputs.retain(|(name, _)| !removed.contains(name));
        for (name, value) in overrides {
            inputs.retain(|(n, _)| n != name);
            inputs.push((name, value));
        }
        Command::new("sh")
            .arg(self.root.join("after-restore.sh"))
            .env_clear()
            .env("PATH", path)
            .env("FAKE_WP_STATE", self.root.join("state"))
            .env("WP_PATH", self.root.join("html"))
            .envs(inputs)
            .output()
            .unwrap()
    }

    fn write(&self, file: &str, contents: &str) {
        fs::write(self.root.join("state").join(file), contents).unwrap();
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.root.join("state").join(file)).unwrap_or_default()
    }

    fn option(&self, name: &str) -> String {
        self.read(&format!("options/{name}"))
    }

    fn password(&self) -> String {
        self.read("users/admin/password")
    }

    /// Every `wp` call's whole argv, one line each.
    fn calls(&self) -> Vec<String> {
        self.read("calls").lines().map(str::to_owned).collect()
    }

    /// The `search-replace` calls: old, new and the flags.
    fn replacements(&self) -> Vec<(String, String, String)> {
        self.read("search-replace")
            .lines()
            .map(|line| {
                let mut fields = line.split('\t').map(str::to_owned);
                let mut next = || fields.next().unwrap_or_default();
                (next(), next(), next())
            })
            .collect()
    }

    /// What a test compares across runs: options, password, content.
    fn snapshot(&self) -> [String; 4] {
        [
            self.option("home"),
            self.option("siteurl"),
            self.password(),
            self.read("content"),
        ]
    }

    /// Fails the test if the script made a call the fake does not know,
    /// even one whose failure the script ignores.
    fn assert_no_unexpected_calls(&self) {
        let unexpected = self.read("unexpected");
        assert!(unexpected.is_empty(), "unexpected wp calls:\n{unexpected}");
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
        "after-restore.sh failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_failed_with(output: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "after-restore.sh succeeded\nstderr:\n{stderr}"
    );
    assert!(stderr.contains(message), "{message:?} not in:\n{stderr}");
}

#[test]
fn a_clone_takes_this_stores_address_everywhere_but_in_guids() {
    for (name, restored_home) in [
        ("clone", SOURCE_URL.to_owned()),
        ("clone-slash", format!("{SOURCE_URL}/")),
    ] {
        let sandbox = Sandbox::new(name, &restored_home);
        assert_ok(&sandbox.run());
        sandbox.assert_no_unexpected_calls();

        let flags = "--all-tables --skip-columns=guid --report-changed-only";
        assert_eq!(
            sandbox.replacements(),
            [
                (SOURCE_URL.into(), STORE_URL.into(), flags.into()),
                (
                    r"http:\/\/source-shop.shops.example.com".into(),
                    r"http:\/\/copy.shops.example.com".into(),
                    flags.into()
                ),
            ],
            "restored home {restored_home}"
        );
        assert_eq!(
            sandbox.read("content"),
            "\
post_content\t<a href=\"http://copy.shops.example.com/product/sencha/\">Sencha</a>
post_content\t<!-- wp:cover {\"url\":\"http:\\/\\/copy.shops.example.com\\/wp-content\\/uploads\\/tea.jpg\"} -->
option_value\t{\"return_url\":\"http:\\/\\/copy.shops.example.com\\/checkout\\/\"}
guid\thttp://source-shop.shops.example.com/?p=12
",
            "restored home {restored_home}"
        );
        assert_eq!(sandbox.option("home"), STORE_URL);
        assert_eq!(sandbox.option("siteurl"), STORE_URL);
        assert_eq!(sandbox.password(), PASSWORD);
    }
}

#[test]
fn the_password_reaches_wordpress_on_stdin_only() {
    let sandbox = Sandbox::new("stdin", SOURCE_URL);
    assert_ok(&sandbox.run());
    assert_eq!(sandbox.password(), PASSWORD);
    let calls = sandbox.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.ends_with("user update admin --prompt=user_pass --skip-email")),
        "{calls:#?}"
    );
    assert!(!calls.iter().any(|c| c.contains(PASSWORD)), "{calls:#?}");
    // Every call leaves plugins and themes unloaded, on the store's tree.
    let path = format!("--path={}", sandbox.root.join("html").display());
    for call in &calls {
        assert!(
            call.starts_with(&format!("{path} --skip-plugins --skip-themes ")),
            "{call}"
        );
    }
}

#[test]
fn a_stores_own_backup_restored_in_place_keeps_its_address_and_gets_the_password() {
    let sandbox = Sandbox::new("in-place", STORE_URL);
    // A siteurl that differs only by its slash is still set to the address.
    sandbox.write("options/siteurl", &format!("{STORE_URL}/"));
    let output = sandbox.run();
    assert_ok(&output);
    sandbox.assert_no_unexpected_calls();

    assert_eq!(sandbox.replacements(), []);
    assert_eq!(sandbox.read("content"), CONTENT);
    assert_eq!(sandbox.option("home"), STORE_URL);
    assert_eq!(sandbox.option("siteurl"), STORE_URL);
    assert_eq!(sandbox.password(), PASSWORD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("the shop's address is already {STORE_URL}")),
        "{stdout}"
    );
}

#[test]
fn a_second_run_changes_nothing_and_replaces_nothing() {
    let sandbox = Sandbox::new("rerun", &format!("{SOURCE_URL}/"));
    assert_ok(&sandbox.run());
    let after_first = sandbox.snapshot();
    let replacements = sandbox.replacements().len();
    assert_eq!(replacements, 2);

    assert_ok(&sandbox.run());
    sandbox.assert_no_unexpected_calls();
    assert_eq!(sandbox.snapshot(), after_first);
    assert_eq!(sandbox.replacements().len(), replacements);
}

#[test]
fn an_unknown_administrator_fails_naming_the_user() {
    let sandbox = Sandbox::new("no-user", SOURCE_URL);
    let output = sandbox.run_with(&[("ADMIN_USER", "shopkeeper")], &[]);
    assert_failed_with(&output, "the restored shop has no user shopkeeper");
    sandbox.assert_no_unexpected_calls();
    assert_eq!(sandbox.password(), SOURCE_PASSWORD);
    // Checked first: nothing else changes either.
    assert_eq!(sandbox.calls().len(), 1, "{:#?}", sandbox.calls());
    assert_eq!(sandbox.option("home"), SOURCE_URL);
    assert_eq!(sandbox.read("content"), CONTENT);
}

#[test]
fn an_unreadable_home_option_fails_before_changing_anything() {
    let sandbox = Sandbox::new("no-home", SOURCE_URL);
    let output = sandbox.run_with(&[("FAKE_WP_FAIL_OPTION_GET", "1")], &[]);
    assert_failed_with(&output, "reading the restored home option");
    sandbox.assert_no_unexpected_calls();
    // The administrator is looked up first, then the home option.
    assert_eq!(sandbox.calls().len(), 2, "{:#?}", sandbox.calls());
    assert_eq!(sandbox.option("home"), SOURCE_URL);
    assert_eq!(sandbox.read("content"), CONTENT);
    assert_eq!(sandbox.password(), SOURCE_PASSWORD);
}

#[test]
fn a_missing_input_fails_before_any_wp_call() {
    for input in ["STORE_URL", "ADMIN_USER", "ADMIN_PASSWORD"] {
        for (how, overrides, removed) in [
            ("unset", &[][..], &[input][..]),
            ("empty", &[(input, "")][..], &[][..]),
        ] {
            let sandbox = Sandbox::new(&format!("missing-{input}-{how}"), SOURCE_URL);
            let output = sandbox.run_with(overrides, removed);
            assert!(!output.status.success(), "{input} {how}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(input), "{input} {how}: {stderr}");
            assert_eq!(sandbox.calls(), Vec::<String>::new(), "{input} {how}");
        }
    }
}
