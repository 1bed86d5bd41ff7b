//! `charts/woocommerce/files/backup.sh` and `restore.sh` for real: a
//! throwaway MariaDB server (the machine's `mariadbd`, started by the test)
//! holds a WordPress-shaped store database (posts with products and an
//! order, postmeta, options, users, WooCommerce's HPOS order tables, utf8mb4
//! text and a binary column), a directory holds a wp-content tree with an
//! uploaded image. The scripts run with `sh` as the Job's containers would,
//! as the store's own database user (not root), and afterwards every table
//! has the same rows (`COUNT(*)`, `CHECKSUM TABLE`, `SHOW CREATE TABLE`) and
//! every file the same bytes: once restored over a store changed after the
//! backup, once into a dropped and recreated database and a deleted
//! wp-content. A damaged, incomplete or foreign backup is refused before
//! anything is touched.
//!
//! Needs MariaDB's server and client (`cargo xtask test` installs
//! `mariadb-server` and `mariadb-client`); without them the tests fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test scaffolding: a failing step should fail the test"
)]
#![allow(
    clippy::print_stderr,
    reason = "the test reports its measurements (row counts, sizes, timings)"
)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const FILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/woocommerce/files");
/// The store database and its user, as the chart's MySQL StatefulSet makes
/// them (`MYSQL_DATABASE`, `MYSQL_USER`: all privileges on that database
/// only).
const DATABASE: &str = "wordpress";
const USER: &str = "wordpress";
const PASSWORD: &str = "Generated-Secret-0123456789abcdef";

/// `program` on PATH or in the sbin directories, where Debian puts
/// `mariadbd`.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn required_program(program: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!(
            "{program} is not installed: this test needs MariaDB's server and client \
             (`cargo xtask test` installs them; or apt-get install mariadb-server mariadb-client)"
        )
    })
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A MariaDB server in a scratch directory, killed and removed on drop.
struct MariaDb {
    root: PathBuf,
    port: u16,
    child: Child,
}

impl MariaDb {
    fn start(name: &str) -> Self {
        let install_db = required_program("mariadb-install-db");
        let server = required_program("mariadbd");
        required_program("mysqldump");
        let root = std::env::temp_dir().join(format!(
            "storeplane-woo-backup-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let data = root.join("data");
        // mariadbd refuses to run as root unless told to.
        let user: &[&str] = if running_as_root() {
            &["--user=root"]
        } else {
            &[]
        };
        let install = Command::new(install_db)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(user)
            .output()
            .unwrap();
        assert!(
            install.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&install.stdout),
            String::from_utf8_lossy(&install.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = root.join("server.log");
        let child = Command::new(server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", root.join("socket").display()))
            .arg(format!("--pid-file={}", root.join("server.pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .args(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Self { root, port, child };
        let started = Instant::now();
        while !server
            .admin(None)
            .arg("-e")
            .arg("SELECT 1")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "mariadbd exited ({status}):\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mariadbd did not answer within 60 s:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The client as root over the socket.
    fn admin(&self, database: Option<&str>) -> Command {
        let mut command = Command::new("mysql");
        command
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.root.join("socket").display()))
            .args(["--user=root", "--batch", "--skip-column-names"])
            .args(database);
        command
    }

    /// Runs `sql` as root, returns its output.
    fn sql(&self, database: Option<&str>, sql: &str) -> String {
        let mut child = self
            .admin(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "SQL failed: {}\n{sql:.2000}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The store database and its user, as the mysql image's entrypoint
    /// makes them.
    fn create_store(&self) {
        self.sql(
            None,
            &format!(
                "CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;
                 CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';
                 GRANT ALL ON `{DATABASE}`.* TO '{USER}'@'%';"
            ),
        );
    }

    /// Every table's row count, `CHECKSUM TABLE` and definition.
    fn snapshot(&self) -> BTreeMap<String, TableState> {
        let tables = self.sql(
            None,
            &format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = '{DATABASE}' ORDER BY TABLE_NAME"
            ),
        );
        tables
            .lines()
            .map(|table| {
                let count = self.sql(Some(DATABASE), &format!("SELECT COUNT(*) FROM `{table}`"));
                let checksum = self.sql(Some(DATABASE), &format!("CHECKSUM TABLE `{table}`"));
                let create = self.sql(Some(DATABASE), &format!("SHOW CREATE TABLE `{table}`"));
                let state = TableState {
                    rows: count.trim().parse().unwrap(),
                    checksum: checksum
                        .split('\t')
                        .nth(1)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                    definition: create,
                };
                (table.to_owned(), state)
            })
            .collect()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.root);
    }
}

#[derive(Debug, PartialEq, Eq)]
struct TableState {
    rows: u64,
    checksum: String,
    definition: String,
}

/// A WordPress + WooCommerce database in miniature: the core tables and
/// HPOS's order tables with WordPress's own column types and collation,
/// products and an order in both the posts and the HPOS tables, and a
/// plugin's table with a binary column.
const SCHEMA: &str = r#"
SET NAMES utf8mb4;
CREATE TABLE wp_options (
  option_id bigint unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name), KEY autoload (autoload)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_users (
  ID bigint unsigned NOT NULL AUTO_INCREMENT,
  user_login varchar(60) NOT NULL DEFAULT '',
  user_pass varchar(255) NOT NULL DEFAULT '',
  user_nicename varchar(50) NOT NULL DEFAULT '',
  user_email varchar(100) NOT NULL DEFAULT '',
  user_registered datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  display_name varchar(250) NOT NULL DEFAULT '',
  PRIMARY KEY (ID), KEY user_login_key (user_login), KEY user_email (user_email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_posts (
  ID bigint unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  post_name varchar(200) NOT NULL DEFAULT '',
  post_parent bigint unsigned NOT NULL DEFAULT 0,
  guid varchar(255) NOT NULL DEFAULT '',
  post_type varchar(20) NOT NULL DEFAULT 'post',
  post_mime_type varchar(100) NOT NULL DEFAULT '',
  PRIMARY KEY (ID), KEY post_name (post_name(191)),
  KEY type_status_date (post_type, post_status, post_date, ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_postmeta (
  meta_id bigint unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id), KEY post_id (post_id), KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_wc_orders (
  id bigint unsigned NOT NULL,
  status varchar(20) DEFAULT NULL,
  currency varchar(10) DEFAULT NULL,
  type varchar(20) DEFAULT NULL,
  tax_amount decimal(26,8) DEFAULT NULL,
  total_amount decimal(26,8) DEFAULT NULL,
  customer_id bigint unsigned DEFAULT NULL,
  billing_email varchar(320) DEFAULT NULL,
  date_created_gmt datetime DEFAULT NULL,
  payment_method varchar(100) DEFAULT NULL,
  customer_note text,
  PRIMARY KEY (id), KEY status (status), KEY billing_email (billing_email(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_wc_order_addresses (
  id bigint unsigned NOT NULL AUTO_INCREMENT,
  order_id bigint unsigned NOT NULL,
  address_type varchar(20) DEFAULT NULL,
  first_name text, last_name text, address_1 text, city text,
  postcode text, country text, email varchar(320) DEFAULT NULL,
  PRIMARY KEY (id), UNIQUE KEY address_type_order_id (address_type, order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_woocommerce_order_items (
  order_item_id bigint unsigned NOT NULL AUTO_INCREMENT,
  order_item_name text NOT NULL,
  order_item_type varchar(200) NOT NULL DEFAULT '',
  order_id bigint unsigned NOT NULL,
  PRIMARY KEY (order_item_id), KEY order_id (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_woocommerce_order_itemmeta (
  meta_id bigint unsigned NOT NULL AUTO_INCREMENT,
  order_item_id bigint unsigned NOT NULL,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id), KEY order_item_id (order_item_id), KEY meta_key (meta_key(32))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_plugin_binary_cache (
  id int unsigned NOT NULL AUTO_INCREMENT,
  name varchar(64) NOT NULL,
  payload longblob NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

INSERT INTO wp_options (option_name, option_value, autoload) VALUES
  ('siteurl', 'https://shop.example.com', 'yes'),
  ('home', 'https://shop.example.com', 'yes'),
  ('blogname', 'Bean & Leaf ☕ — Kaffee für alle 🛒', 'yes'),
  ('woocommerce_currency', 'EUR', 'yes'),
  ('active_plugins', 'a:1:{i:0;s:27:\"woocommerce/woocommerce.php\";}', 'yes'),
  ('storeplane_awkward', 'it''s \"quoted\", a back\\slash,\ta tab and\na new line', 'no');
INSERT INTO wp_users (user_login, user_pass, user_nicename, user_email, user_registered, display_name) VALUES
  ('admin', '$wp$2y$10$abcdefghijklmnopqrstuv', 'admin', 'owner@example.com', '2026-01-02 03:04:05', 'Zoë Owner 👩‍💼'),
  ('buyer', '$wp$2y$10$zyxwvutsrqponmlkjihgfe', 'buyer', 'buyer@example.com', '2026-01-03 10:00:00', 'Bjørn Käufer');
INSERT INTO wp_posts (ID, post_author, post_date, post_content, post_title, post_excerpt, post_status, post_name, guid, post_type, post_mime_type) VALUES
  (1, 1, '2026-01-02 03:04:05', '<!-- wp:woocommerce/classic-shortcode /-->', 'Shop', '', 'publish', 'shop', 'https://shop.example.com/?page_id=1', 'page', ''),
  (10, 1, '2026-01-02 03:05:00', 'Holds a large coffee. ☕', 'Coffee Mug ☕', 'A mug.', 'publish', 'coffee-mug', 'https://shop.example.com/?post_type=product&p=10', 'product', ''),
  (11, 1, '2026-01-02 03:06:00', 'Carries everything. 👜', 'Canvas Tote 👜', '', 'publish', 'canvas-tote', 'https://shop.example.com/?post_type=product&p=11', 'product', ''),
  (12, 1, '2026-01-02 03:07:00', '', 'mug', '', 'inherit', 'mug', 'https://shop.example.com/wp-content/uploads/2026/01/mug.png', 'attachment', 'image/png'),
  (20, 2, '2026-01-04 12:00:00', '', 'Order &ndash; January 4, 2026', '', 'wc-processing', 'order-20', 'https://shop.example.com/?post_type=shop_order&p=20', 'shop_order', '');
INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES
  (10, '_sku', 'storeplane-sample-1'), (10, '_regular_price', '9.90'), (10, '_price', '9.90'),
  (10, '_stock_status', 'instock'), (10, '_thumbnail_id', '12'),
  (11, '_sku', 'storeplane-sample-2'), (11, '_regular_price', '14.50'), (11, '_price', '14.50'),
  (12, '_wp_attached_file', '2026/01/mug.png'),
  (20, '_order_total', '19.80'), (20, '_billing_email', 'buyer@example.com');
INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount, customer_id, billing_email, date_created_gmt, payment_method, customer_note) VALUES
  (20, 'wc-processing', 'EUR', 'shop_order', 0, 19.80, 2, 'buyer@example.com', '2026-01-04 11:00:00', 'cod', 'Bitte klingeln 🔔 — danke!');
INSERT INTO wp_wc_order_addresses (order_id, address_type, first_name, last_name, address_1, city, postcode, country, email) VALUES
  (20, 'billing', 'Zoë', 'Ünïcødé 😀', 'Straße 1', 'Köln', '50667', 'DE', 'buyer@example.com'),
  (20, 'shipping', 'Zoë', 'Ünïcødé 😀', 'Straße 1', 'Köln', '50667', 'DE', NULL);
INSERT INTO wp_woocommerce_order_items (order_item_name, order_item_type, order_id) VALUES
  ('Coffee Mug ☕', 'line_item', 20), ('Free shipping', 'shipping', 20);
INSERT INTO wp_woocommerce_order_itemmeta (order_item_id, meta_key, meta_value) VALUES
  (1, '_product_id', '10'), (1, '_qty', '2'), (1, '_line_total', '19.80'),
  (2, 'method_id', 'free_shipping'), (2, 'cost', '0.00');
"#;

/// Rows in bulk on top of the handful above: `products` products with
/// their meta, `orders` HPOS orders with addresses and items, and binary
/// payloads holding every byte value.
fn bulk_rows(products: u64, orders: u64) -> String {
    let mut sql = String::from("SET NAMES utf8mb4;\n");
    let values = |rows: Vec<String>| rows.join(",\n");
    let posts = (0..products)
        .map(|i| {
            let id = 1000 + i;
            format!(
                "({id}, 1, '2026-02-01 00:00:00', 'Bulk product {i} — ünïcødé ✓', 'Product {i} 🧪', '', \
                 'publish', 'product-{i}', 'https://shop.example.com/?p={id}', 'product', '')"
            )
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_posts (ID, post_author, post_date, post_content, post_title, post_excerpt, \
         post_status, post_name, guid, post_type, post_mime_type) VALUES\n{};\n",
        values(posts)
    );
    let meta = (0..products)
        .flat_map(|i| {
            let id = 1000 + i;
            [
                format!("({id}, '_sku', 'bulk-{i}')"),
                format!("({id}, '_price', '{}.{:02}')", 5 + i % 50, i % 100),
                format!("({id}, '_stock_status', 'instock')"),
                format!("({id}, '_product_attributes', 'a:0:{{}}')"),
            ]
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES\n{};\n",
        values(meta)
    );
    let order_rows = (0..orders)
        .map(|i| {
            format!(
                "({}, 'wc-completed', 'EUR', 'shop_order', 0, {}.{:02}, NULL, 'guest{i}@example.com', \
                 '2026-03-01 00:00:00', 'cod', NULL)",
                5000 + i,
                10 + i % 90,
                i % 100
            )
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount, customer_id, \
         billing_email, date_created_gmt, payment_method, customer_note) VALUES\n{};\n",
        values(order_rows)
    );
    let addresses = (0..orders)
        .map(|i| {
            format!(
                "({}, 'billing', 'Gäst {i}', 'Ñandú', 'Rue {i}', 'Montréal', 'H2X', 'CA', 'guest{i}@example.com')",
                5000 + i
            )
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_wc_order_addresses (order_id, address_type, first_name, last_name, address_1, \
         city, postcode, country, email) VALUES\n{};\n",
        values(addresses)
    );
    let items = (0..orders)
        .map(|i| {
            format!(
                "('Product {} 🧪', 'line_item', {})",
                i % products.max(1),
                5000 + i
            )
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_woocommerce_order_items (order_item_name, order_item_type, order_id) VALUES\n{};\n",
        values(items)
    );
    let every_byte: String = (0..=255u8).map(|b| format!("{b:02X}")).collect();
    let blobs = (0..8)
        .map(|i| {
            format!(
                "('payload-{i}', UNHEX(REPEAT('{every_byte}', {})))",
                1 + i * 64
            )
        })
        .collect();
    sql += &format!(
        "INSERT INTO wp_plugin_binary_cache (name, payload) VALUES\n{};\n",
        values(blobs)
    );
    sql
}

/// A wp-content tree: an uploaded image (every byte value after a PNG
/// signature), a theme, a plugin, dot files, an empty directory, a
/// non-ASCII file name and a symbolic link.
fn write_wp_content(dir: &Path) {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    png.extend(0..=255u8);
    let files: [(&str, &[u8]); 7] = [
        ("index.php", b"<?php\n// Silence is golden.\n"),
        ("uploads/2026/01/mug.png", &png),
        ("uploads/.htaccess", b"Options -Indexes\n"),
        (
            "uploads/2026/01/caf\u{e9}-men\u{fc} \u{2615}.txt",
            "Caf\u{e9} au lait \u{2615}\n".as_bytes(),
        ),
        (
            "themes/storefront/style.css",
            b"/* Theme Name: Storefront */\n",
        ),
        (
            "plugins/woocommerce/woocommerce.php",
            b"<?php\n/* Plugin Name: WooCommerce */\n",
        ),
        ("plugins/index.php", b"<?php\n"),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
    }
    fs::set_permissions(
        dir.join("uploads/.htaccess"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    fs::create_dir_all(dir.join("upgrade")).unwrap();
    symlink("2026/01/mug.png", dir.join("uploads/latest.png")).unwrap();
}

/// Every entry under `dir`: its kind, mode and content (or link target).
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let meta = fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.mode() & 0o7777;
            let entry = if meta.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                walk(root, &path, out);
                format!("dir {mode:o}")
            } else {
                let bytes = fs::read(&path).unwrap();
                format!(
                    "file {mode:o} {} bytes {:?}",
                    bytes.len(),
                    fingerprint(&bytes)
                )
            };
            out.insert(name, entry);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The bytes themselves for small files, else length and an FNV-1a hash.
fn fingerprint(bytes: &[u8]) -> String {
    if bytes.len() <= 64 {
        return format!("{bytes:?}");
    }
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("fnv1a {hash:016x}")
}

/// A scratch directory for one test: the backup directory, wp-content and
/// the scripts' TMPDIR.
struct Sandbox {
    root: PathBuf,
    db_host: String,
}

impl Sandbox {
    fn new(name: &str, db_port: u16) -> Self {
        let root = std::env::temp_dir().join(format!(
            "storeplane-woo-backup-files-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        for dir in ["backup", "tmp", "wp-content"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        Self {
            root,
            db_host: format!("127.0.0.1:{db_port}"),
        }
    }

    fn backup_dir(&self) -> PathBuf {
        self.root.join("backup")
    }

    fn wp_content(&self) -> PathBuf {
        self.root.join("wp-content")
    }

    /// `sh files/<script> <mode>` with the Job's environment, `backup` as
    /// BACKUP_DIR.
    fn run(&self, script: &str, mode: &str, backup: &Path) -> (Output, Duration) {
        let started = Instant::now();
        let output = Command::new("sh")
            .arg(format!("{FILES}/{script}"))
            .arg(mode)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("BACKUP_DIR", backup)
            .env("TMPDIR", self.root.join("tmp"))
            .env("WP_CONTENT", self.wp_content())
            .env("WORDPRESS_DB_HOST", &self.db_host)
            .env("WORDPRESS_DB_NAME", DATABASE)
            .env("WORDPRESS_DB_USER", USER)
            .env("WORDPRESS_DB_PASSWORD", PASSWORD)
            .env("WAIT_SECONDS", "4")
            .output()
            .unwrap();
        let text = text(&output);
        assert!(
            !text.contains(PASSWORD),
            "{script} {mode} printed the password:\n{text}"
        );
        let tmp_left: Vec<_> = fs::read_dir(self.root.join("tmp")).unwrap().collect();
        assert!(
            tmp_left.is_empty(),
            "{script} {mode} left files in TMPDIR (the password file?)"
        );
        (output, started.elapsed())
    }

    fn run_ok(&self, script: &str, mode: &str, backup: &Path) -> Duration {
        let (output, took) = self.run(script, mode, backup);
        assert!(
            output.status.success(),
            "{script} {mode} failed:\n{}",
            text(&output)
        );
        took
    }

    /// Runs a script that must refuse, returns what it printed.
    fn run_refused(&self, script: &str, mode: &str, backup: &Path) -> String {
        let (output, _) = self.run(script, mode, backup);
        let text = text(&output);
        assert!(
            !output.status.success(),
            "{script} {mode} succeeded:\n{text}"
        );
        text
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A store with data and files, backed up; returns its state.
fn backed_up_store(
    server: &MariaDb,
    sandbox: &Sandbox,
) -> (BTreeMap<String, TableState>, BTreeMap<String, String>) {
    server.create_store();
    server.sql(Some(DATABASE), SCHEMA);
    server.sql(Some(DATABASE), &bulk_rows(500, 200));
    write_wp_content(&sandbox.wp_content());
    let database = server.snapshot();
    let files = tree(&sandbox.wp_content());
    let db_time = sandbox.run_ok("backup.sh", "db", &sandbox.backup_dir());
    let files_time = sandbox.run_ok("backup.sh", "files", &sandbox.backup_dir());
    eprintln!(
        "backup: db part {:.2} s, files part {:.2} s",
        db_time.as_secs_f64(),
        files_time.as_secs_f64()
    );
    (database, files)
}

fn print_counts(label: &str, tables: &BTreeMap<String, TableState>) {
    let counts: Vec<String> = tables
        .iter()
        .map(|(table, state)| format!("{table}={}", state.rows))
        .collect();
    eprintln!("{label}: {}", counts.join(" "));
}

#[test]
fn a_restore_brings_back_every_row_and_every_file_of_the_backup() {
    let server = MariaDb::start("roundtrip");
    let sandbox = Sandbox::new("roundtrip", server.port);
    let (database, files) = backed_up_store(&server, &sandbox);
    print_counts("rows at the backup", &database);

    let backup = sandbox.backup_dir();
    let manifest = fs::read_to_string(backup.join("manifest")).unwrap();
    assert!(
        manifest.starts_with("format storeplane-backup/1\nengine woocommerce\ncreated "),
        "{manifest}"
    );
    for file in ["database.sql.gz", "wp-content.tar.gz"] {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("file {file} ")))
            .unwrap_or_else(|| panic!("{file} is not in the manifest:\n{manifest}"));
        let size = fs::metadata(backup.join(file)).unwrap().len();
        assert_eq!(
            line.split(' ').nth(3),
            Some(size.to_string().as_str()),
            "{line}"
        );
        eprintln!("{file}: {size} bytes");
    }
    let names: Vec<_> = fs::read_dir(&backup)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "only the two parts and the manifest: {names:?}"
    );

    // The store goes on after the backup: rows change, an order and a
    // table go, a plugin adds a table, uploads come and go.
    server.sql(
        Some(DATABASE),
        "DELETE FROM wp_wc_orders WHERE id = 20;
         UPDATE wp_options SET option_value = 'changed' WHERE option_name = 'blogname';
         INSERT INTO wp_posts (post_content, post_title, post_excerpt, post_type) VALUES ('', 'New product', '', 'product');
         DROP TABLE wp_woocommerce_order_itemmeta;
         CREATE TABLE wp_added_after_backup (id int PRIMARY KEY);",
    );
    let wp = sandbox.wp_content();
    fs::remove_file(wp.join("uploads/2026/01/mug.png")).unwrap();
    fs::write(wp.join("themes/storefront/style.css"), "/* edited */").unwrap();
    fs::write(
        wp.join("uploads/added-after-backup.jpg"),
        [0xFF, 0xD8, 0xFF],
    )
    .unwrap();
    fs::create_dir_all(wp.join("plugins/added-after-backup")).unwrap();
    let changed = server.snapshot();
    assert_ne!(changed, database);
    print_counts("rows changed after it", &changed);

    let db_time = sandbox.run_ok("restore.sh", "db", &backup);
    let files_time = sandbox.run_ok("restore.sh", "files", &backup);
    let restored = server.snapshot();
    print_counts("rows restored over them", &restored);
    assert_eq!(restored, database, "restore over a changed database");
    assert_eq!(tree(&wp), files, "restore over a changed wp-content");
    eprintln!(
        "restore over a changed store: db part {:.2} s, files part {:.2} s",
        db_time.as_secs_f64(),
        files_time.as_secs_f64()
    );

    // The database dropped (as a new StatefulSet's empty one) and
    // wp-content gone.
    server.sql(
        None,
        &format!(
            "DROP DATABASE `{DATABASE}`; \
             CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;"
        ),
    );
    fs::remove_dir_all(&wp).unwrap();
    assert!(server.snapshot().is_empty());
    let db_time = sandbox.run_ok("restore.sh", "db", &backup);
    let files_time = sandbox.run_ok("restore.sh", "files", &backup);
    let restored = server.snapshot();
    print_counts("rows restored into an empty database", &restored);
    assert_eq!(restored, database, "restore into an empty database");
    assert_eq!(tree(&wp), files, "restore into a deleted wp-content");
    eprintln!(
        "restore into an empty store: db part {:.2} s, files part {:.2} s",
        db_time.as_secs_f64(),
        files_time.as_secs_f64()
    );
    eprintln!(
        "{} tables, {} wp-content entries equal",
        database.len(),
        files.len()
    );
}

/// Flips one byte in the middle of `file`.
fn damage(file: &Path) {
    let mut bytes = fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(file, bytes).unwrap();
}

/// A copy of the backup in `name`, changed by `change`.
fn variant(sandbox: &Sandbox, name: &str, change: impl FnOnce(&Path)) -> PathBuf {
    let dir = sandbox.root.join(name);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(sandbox.backup_dir()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    change(&dir);
    dir
}

#[test]
fn a_damaged_incomplete_or_foreign_backup_is_refused_and_the_store_left_untouched() {
    let server = MariaDb::start("refusals");
    let sandbox = Sandbox::new("refusals", server.port);
    let (database, files) = backed_up_store(&server, &sandbox);

    let damaged_dump = variant(&sandbox, "damaged-dump", |dir| {
        damage(&dir.join("database.sql.gz"));
    });
    let damaged_archive = variant(&sandbox, "damaged-archive", |dir| {
        damage(&dir.join("wp-content.tar.gz"));
    });
    let incomplete = variant(&sandbox, "incomplete", |dir| {
        fs::remove_file(dir.join("wp-content.tar.gz")).unwrap();
    });
    let no_manifest = variant(&sandbox, "no-manifest", |dir| {
        fs::remove_file(dir.join("manifest")).unwrap();
    });
    // What the Medusa engine's backup.sh writes: the same format, its own
    // engine and file; the checksum is right, the engine is not.
    let medusa = sandbox.root.join("medusa");
    fs::create_dir_all(&medusa).unwrap();
    fs::write(medusa.join("database.pgdump"), b"PGDMP").unwrap();
    fs::write(
        medusa.join("manifest"),
        "format storeplane-backup/1\nengine medusa\ncreated 2026-01-01T00:00:00Z\n\
         file database.pgdump b5a26a21290c39819235a235b8ed66b3bd98ed90c8316c8949bfbb7419cac878 5 2026-01-01T00:00:00Z\n",
    )
    .unwrap();

    let cases = [
        (
            &damaged_dump,
            "db",
            "database.sql.gz does not match the manifest",
        ),
        // Every part checks the whole backup: the files part refuses a
        // backup whose database dump is damaged too.
        (
            &damaged_dump,
            "files",
            "database.sql.gz does not match the manifest",
        ),
        (
            &damaged_archive,
            "db",
            "wp-content.tar.gz does not match the manifest",
        ),
        (
            &damaged_archive,
            "files",
            "wp-content.tar.gz does not match the manifest",
        ),
        (
            &incomplete,
            "files",
            "wp-content.tar.gz is in the manifest but not in",
        ),
        (&no_manifest, "db", "no manifest in"),
        (
            &medusa,
            "db",
            "this is a backup of a medusa store, not a WooCommerce one",
        ),
        (
            &medusa,
            "files",
            "this is a backup of a medusa store, not a WooCommerce one",
        ),
    ];
    for (backup, mode, expected) in cases {
        let printed = sandbox.run_refused("restore.sh", mode, backup);
        assert!(
            printed.contains(expected) && printed.contains("refusing to restore it"),
            "restore.sh {mode} of {}: expected {expected:?} in:\n{printed}",
            backup.display()
        );
        eprintln!(
            "restore.sh {mode} of {}: {}",
            backup.file_name().unwrap().to_string_lossy(),
            printed.trim()
        );
        assert_eq!(server.snapshot(), database, "the database was touched");
        assert_eq!(tree(&sandbox.wp_content()), files, "wp-content was touched");
    }

    // A backup directory holding another engine's backup is not added to.
    let printed = sandbox.run_refused("backup.sh", "db", &medusa);
    assert!(
        printed.contains("belongs to another engine's backup"),
        "{printed}"
    );
}

#[test]
fn a_database_that_never_answers_fails_after_the_bounded_wait() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::new("unreachable", port);
    let started = Instant::now();
    let printed = sandbox.run_refused("backup.sh", "db", &sandbox.backup_dir());
    assert!(
        printed.contains("the database did not answer within 4s"),
        "{printed}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        fs::read_dir(sandbox.backup_dir()).unwrap().next().is_none(),
        "a failed backup left files behind"
    );
    let printed = sandbox.run_refused("backup.sh", "nonsense", &sandbox.backup_dir());
    assert!(printed.contains("usage: backup.sh db|files"), "{printed}");
}
