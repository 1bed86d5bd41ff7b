//! `charts/medusa/files/backup.sh` and `restore.sh` against the tests'
//! PostgreSQL server, on a Medusa-shaped database made with psql (no Medusa
//! build needed): the store's user owns the database and is not a
//! superuser, as in `real_backend.rs`. A restore over a database changed
//! after the backup (rows gone, a column, an index, a table and a schema
//! added) or into a recreated empty one gives back exactly the dump; a
//! damaged, truncated or foreign backup is refused, or rolled back, with
//! the database untouched.
//!
//! `tests/real_backend.rs` runs the same scripts on the real Medusa
//! backend's database. Needs `STOREPLANE_TEST_PG` (a superuser URL; `cargo
//! xtask test` starts the server) and PostgreSQL's client programs of the
//! server's major version (`psql`, `pg_dump`, `pg_restore`).

#![allow(
    clippy::print_stderr,
    reason = "the test reports its measurements (row counts, sizes, timings)"
)]

mod support {
    pub mod backup;
    #[allow(
        dead_code,
        reason = "shared with real_backend.rs, which uses the rest of it"
    )]
    pub mod stack;
}

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use support::backup::{ScriptRun, TableState, objects, run_script, size, tables};
use support::stack::psql;

/// A Medusa store's database in miniature: its module tables' shape (text
/// ids, soft deletes, jsonb metadata, an enum, a serial display id), a
/// binary column, a view, a function with its trigger, and a few hundred
/// rows with non-ASCII text.
const SCHEMA: &str = r#"
CREATE TYPE order_status AS ENUM ('pending', 'completed', 'canceled');
CREATE TABLE region (
  id text PRIMARY KEY, name text NOT NULL, currency_code text NOT NULL,
  metadata jsonb, created_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz
);
CREATE TABLE sales_channel (
  id text PRIMARY KEY, name text NOT NULL, is_disabled boolean NOT NULL DEFAULT false,
  deleted_at timestamptz
);
CREATE TABLE api_key (
  id text PRIMARY KEY, token text NOT NULL UNIQUE, title text NOT NULL, type text NOT NULL,
  revoked_at timestamptz
);
CREATE TABLE product (
  id text PRIMARY KEY, title text NOT NULL, handle text NOT NULL, thumbnail bytea,
  metadata jsonb, updated_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz
);
CREATE UNIQUE INDEX "IDX_product_handle_unique" ON product (handle) WHERE deleted_at IS NULL;
CREATE TABLE product_variant (
  id text PRIMARY KEY, product_id text NOT NULL REFERENCES product (id) ON DELETE CASCADE,
  sku text, price numeric(20, 4) NOT NULL, deleted_at timestamptz
);
CREATE TABLE "order" (
  id text PRIMARY KEY, display_id serial, region_id text REFERENCES region (id),
  email text, currency_code text NOT NULL, status order_status NOT NULL DEFAULT 'pending',
  total numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE order_line_item (
  id text PRIMARY KEY, order_id text NOT NULL REFERENCES "order" (id) ON DELETE CASCADE,
  variant_id text REFERENCES product_variant (id), title text NOT NULL,
  quantity integer NOT NULL, unit_price numeric NOT NULL
);
CREATE TABLE storeplane_setup (step text PRIMARY KEY, done_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$fn$;
CREATE TRIGGER product_touch BEFORE UPDATE ON product
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE VIEW order_items_total AS
  SELECT o.id, sum(li.quantity * li.unit_price) AS items_total
    FROM "order" o JOIN order_line_item li ON li.order_id = o.id GROUP BY o.id;

INSERT INTO region VALUES
  ('reg_eu', 'Europe 🇪🇺', 'eur', '{"seeded_by": "storeplane", "note": "Grüße ☕"}', '2026-01-01T00:00:00Z', NULL);
INSERT INTO sales_channel VALUES ('sc_default', 'Default Sales Channel', false, NULL);
INSERT INTO api_key VALUES ('apk_1', 'pk_0123456789abcdef', 'Storefront', 'publishable', NULL);
INSERT INTO storeplane_setup (step) VALUES ('seed'), ('publishable-key');
INSERT INTO product (id, title, handle, thumbnail, metadata)
  SELECT format('prod_%s', lpad(i::text, 3, '0')), format('Product %s — Tasse ☕ 😀', i), format('product-%s', i),
         CASE WHEN i % 10 = 0 THEN (SELECT string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea ORDER BY b) FROM generate_series(0, 255) b) END,
         jsonb_build_object('position', i, 'tags', jsonb_build_array('ünï', 'cødé'))
    FROM generate_series(1, 300) i;
INSERT INTO product_variant
  SELECT format('variant_%s_%s', lpad(i::text, 3, '0'), v), format('prod_%s', lpad(i::text, 3, '0')),
         format('SKU-%s-%s', i, v), 5 + (i * 7 + v) % 90 + 0.99, NULL
    FROM generate_series(1, 300) i, generate_series(1, 2) v;
INSERT INTO "order" (id, region_id, email, currency_code, status, total)
  SELECT format('order_%s', lpad(i::text, 3, '0')), 'reg_eu', format('buyer%s@example.com', i), 'eur',
         (ARRAY['pending', 'completed', 'canceled']::order_status[])[1 + i % 3], 0
    FROM generate_series(1, 100) i;
INSERT INTO order_line_item
  SELECT format('item_%s_%s', o, n), format('order_%s', lpad(o::text, 3, '0')),
         format('variant_%s_1', lpad((o * 3 % 300 + 1)::text, 3, '0')), format('Product %s ☕', o * 3 % 300 + 1),
         n, 9.99
    FROM generate_series(1, 100) o, generate_series(1, 1 + o % 4) n;
UPDATE "order" o SET total = t.items_total + 4.5 FROM order_items_total t WHERE t.id = o.id;
"#;

/// A database and its owner (not a superuser) on the tests' server,
/// dropped with it.
struct StoreDatabase {
    server: String,
    name: String,
    /// The backup Job's environment: the chart's DB_* names.
    env: BTreeMap<String, String>,
    /// The store user's URL, for the checks.
    url: String,
    scratch: PathBuf,
}

impl StoreDatabase {
    fn create(test: &str) -> Result<Self> {
        let server = std::env::var("STOREPLANE_TEST_PG").context(
            "STOREPLANE_TEST_PG is not set: run the tests with `cargo xtask test`, \
             which starts a PostgreSQL server for them",
        )?;
        let (scheme_and_user, rest) = server
            .split_once('@')
            .context("STOREPLANE_TEST_PG has no host")?;
        let (host_port, _) = rest
            .split_once('/')
            .context("STOREPLANE_TEST_PG has no database path")?;
        let (host, port) = host_port
            .rsplit_once(':')
            .context("STOREPLANE_TEST_PG has no port")?;
        ensure!(
            scheme_and_user.starts_with("postgres"),
            "not a PostgreSQL URL"
        );
        let name = format!("sp_backup_{test}_{}", std::process::id());
        let password = format!("Pw-{}-generated", std::process::id());
        psql(
            &server,
            &[("n", &name), ("p", &password)],
            r#"DROP DATABASE IF EXISTS :"n" WITH (FORCE);
SELECT format('DROP ROLE IF EXISTS %I', :'n') \gexec
CREATE ROLE :"n" LOGIN PASSWORD :'p';
CREATE DATABASE :"n" OWNER :"n";
"#,
        )?;
        let env = BTreeMap::from(
            [
                ("DB_HOST", host),
                ("DB_PORT", port),
                ("DB_NAME", &name),
                ("DB_USER", &name),
                ("DB_PASSWORD", &password),
                ("WAIT_SECONDS", "4"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let scratch = std::env::temp_dir().join(&name);
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch)?;
        Ok(Self {
            url: format!("postgres://{name}:{password}@{host}:{port}/{name}"),
            server,
            name,
            env,
            scratch,
        })
    }

    /// As the postgres image would make it for a new StatefulSet: dropped
    /// and created empty, owned by the store's user.
    fn recreate(&self) -> Result<()> {
        psql(
            &self.server,
            &[("n", &self.name)],
            r#"DROP DATABASE :"n" WITH (FORCE);
CREATE DATABASE :"n" OWNER :"n";
"#,
        )?;
        Ok(())
    }

    fn state(&self) -> Result<(BTreeMap<String, TableState>, Vec<String>)> {
        Ok((tables(&self.url)?, objects(&self.url)?))
    }

    fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.scratch.join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn backup(&self, dir: &Path) -> Result<ScriptRun> {
        run_script("backup.sh", &self.env, dir)?.ok("backup.sh")
    }

    fn restore(&self, dir: &Path) -> Result<ScriptRun> {
        run_script("restore.sh", &self.env, dir)
    }
}

impl Drop for StoreDatabase {
    fn drop(&mut self) {
        let _ = psql(
            &self.server,
            &[("n", &self.name)],
            r#"DROP DATABASE IF EXISTS :"n" WITH (FORCE);
SELECT format('DROP ROLE IF EXISTS %I', :'n') \gexec
"#,
        );
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

fn counts(tables: &BTreeMap<String, TableState>) -> String {
    tables
        .iter()
        .map(|(name, state)| format!("{name}={}", state.rows))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_restore_makes_the_database_equal_the_dump_over_changes_and_into_an_empty_one() -> Result<()> {
    let store = StoreDatabase::create("roundtrip")?;
    psql(&store.url, &[], SCHEMA)?;
    let at_backup = store.state()?;
    let backup = store.dir("backup")?;
    let run = store.backup(&backup)?;
    let manifest = fs::read_to_string(backup.join("manifest"))?;
    ensure!(
        manifest.starts_with("format storeplane-backup/1\nengine medusa\ncreated ")
            && manifest.contains("\nfile database.pgdump "),
        "{manifest}"
    );
    eprintln!(
        "backup: database.pgdump {} bytes in {:.2} s",
        size(&backup.join("database.pgdump"))?,
        run.took.as_secs_f64()
    );
    eprintln!("rows at the backup:          {}", counts(&at_backup.0));

    // What a store does after a backup, and what an upgrade's migration
    // does: rows deleted and changed, a column, an index, a table, a schema
    // and sequence values added.
    psql(
        &store.url,
        &[],
        r#"DELETE FROM "order" WHERE id = 'order_007';
UPDATE product SET deleted_at = now() WHERE id = 'prod_001';
DELETE FROM product WHERE id = 'prod_002';
ALTER TABLE product ADD COLUMN subtitle text;
CREATE INDEX "IDX_product_title" ON product (title);
CREATE TABLE added_after_backup (id text PRIMARY KEY);
CREATE SCHEMA plugin_extra;
CREATE TABLE plugin_extra.cache (k text PRIMARY KEY, v bytea);
SELECT nextval('order_display_id_seq') FROM generate_series(1, 5);
"#,
    )?;
    let changed = store.state()?;
    ensure!(changed != at_backup, "the changes changed nothing");
    eprintln!("rows changed after it:       {}", counts(&changed.0));

    let run = store
        .restore(&backup)?
        .ok("restore.sh over a changed database")?;
    let restored = store.state()?;
    eprintln!("rows restored over them:     {}", counts(&restored.0));
    ensure!(
        restored.0 == at_backup.0,
        "rows after the restore differ from the backup's"
    );
    ensure!(
        restored.1 == at_backup.1,
        "objects after the restore differ from the backup's: {:?}",
        diff(&at_backup.1, &restored.1)
    );
    eprintln!(
        "restore over a changed database: {:.2} s",
        run.took.as_secs_f64()
    );

    // The database gone, a new empty one in its place.
    store.recreate()?;
    ensure!(store.state()?.0.is_empty());
    let run = store
        .restore(&backup)?
        .ok("restore.sh into an empty database")?;
    let restored = store.state()?;
    eprintln!("rows restored into an empty: {}", counts(&restored.0));
    ensure!(restored == at_backup, "restore into an empty database");
    eprintln!(
        "restore into an empty database: {:.2} s",
        run.took.as_secs_f64()
    );

    // A backup of the restored database restores the same way: the public
    // schema restore.sh recreates is the one pg_dump leaves out.
    let again = store.dir("again")?;
    store.backup(&again)?;
    psql(&store.url, &[], "TRUNCATE \"order\" CASCADE;")?;
    store
        .restore(&again)?
        .ok("restore.sh of a restored database's backup")?;
    ensure!(store.state()? == at_backup, "backup of a restored database");
    Ok(())
}

fn diff(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let gone = before.iter().filter(|o| !after.contains(o)).cloned();
    let added = after.iter().filter(|o| !before.contains(o)).cloned();
    (gone.collect(), added.collect())
}

/// A copy of `backup` in `name`, changed by `change`.
fn variant(
    store: &StoreDatabase,
    backup: &Path,
    name: &str,
    change: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let dir = store.dir(name)?;
    for entry in fs::read_dir(backup)? {
        let entry = entry?;
        fs::copy(entry.path(), dir.join(entry.file_name()))?;
    }
    change(&dir)?;
    Ok(dir)
}

fn sha256(path: &Path) -> Result<String> {
    let out = std::process::Command::new("sha256sum").arg(path).output()?;
    ensure!(out.status.success(), "sha256sum {}", path.display());
    Ok(String::from_utf8(out.stdout)?
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[test]
fn a_damaged_truncated_or_foreign_backup_is_refused_or_rolled_back_leaving_the_database_as_it_was()
-> Result<()> {
    let store = StoreDatabase::create("refusals")?;
    psql(&store.url, &[], SCHEMA)?;
    let backup = store.dir("backup")?;
    store.backup(&backup)?;
    // The store after the backup: what every refused restore must leave.
    psql(
        &store.url,
        &[],
        "DELETE FROM \"order\" WHERE id = 'order_001'; CREATE TABLE added_after_backup (id int);",
    )?;
    let current = store.state()?;

    let damaged = variant(&store, &backup, "damaged", |dir| {
        let path = dir.join("database.pgdump");
        let mut bytes = fs::read(&path)?;
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        fs::write(&path, bytes)?;
        Ok(())
    })?;
    // Cut short, with a manifest made to match: the checksum passes and the
    // archive's table of contents reads, so the load starts, drops every
    // schema and then fails; the transaction must take it all back.
    let truncated = variant(&store, &backup, "truncated", |dir| {
        let path = dir.join("database.pgdump");
        let bytes = fs::read(&path)?;
        let cut = bytes.len() * 7 / 10;
        fs::write(&path, &bytes[..cut])?;
        let sum = sha256(&path)?;
        let manifest = fs::read_to_string(dir.join("manifest"))?;
        let manifest: Vec<String> = manifest
            .lines()
            .map(
                |line| match line.split(' ').collect::<Vec<_>>().as_slice() {
                    ["file", name, _, _, at] => format!("file {name} {sum} {cut} {at}"),
                    _ => line.to_owned(),
                },
            )
            .collect();
        fs::write(dir.join("manifest"), manifest.join("\n") + "\n")?;
        Ok(())
    })?;
    let no_manifest = variant(&store, &backup, "no-manifest", |dir| {
        Ok(fs::remove_file(dir.join("manifest"))?)
    })?;
    // What the WooCommerce engine's backup.sh writes, its checksum right.
    let woocommerce = store.dir("woocommerce")?;
    fs::write(woocommerce.join("database.sql.gz"), b"\x1f\x8b")?;
    fs::write(
        woocommerce.join("manifest"),
        format!(
            "format storeplane-backup/1\nengine woocommerce\ncreated 2026-01-01T00:00:00Z\n\
             file database.sql.gz {} 2 2026-01-01T00:00:00Z\n",
            sha256(&woocommerce.join("database.sql.gz"))?
        ),
    )?;

    let cases = [
        (
            &damaged,
            "database.pgdump does not match the manifest",
            "the backup is damaged, refusing to restore it; nothing was changed",
        ),
        (
            &truncated,
            "pg_restore could not read the whole dump",
            "the transaction was rolled back, the database is as it was",
        ),
        (
            &no_manifest,
            "no manifest in",
            "not a storeplane backup, refusing to restore it",
        ),
        (
            &woocommerce,
            "this is a backup of a woocommerce store, not a Medusa one",
            "refusing to restore it",
        ),
    ];
    for (dir, what, outcome) in cases {
        let run = store.restore(dir)?;
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        ensure!(
            !run.status.success() && run.output.contains(what) && run.output.contains(outcome),
            "restore.sh of the {name} backup: expected {what:?} and {outcome:?} in:\n{}",
            run.output
        );
        let failure = run
            .output
            .lines()
            .find(|l| l.contains("FAILED"))
            .unwrap_or_default();
        eprintln!("restore.sh of the {name} backup: {failure}");
        ensure!(
            store.state()? == current,
            "the {name} backup changed the database"
        );
    }

    // A backup directory holding another engine's backup is not written to.
    let run = run_script("backup.sh", &store.env, &woocommerce)?;
    ensure!(
        !run.status.success() && run.output.contains("belongs to another engine's backup"),
        "{}",
        run.output
    );
    Ok(())
}

#[test]
fn a_database_that_never_answers_fails_after_the_bounded_wait() -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();
    let env = BTreeMap::from(
        [
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", port.as_str()),
            ("DB_NAME", "medusa"),
            ("DB_USER", "medusa"),
            ("DB_PASSWORD", "never-printed-secret"),
            ("WAIT_SECONDS", "2"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let dir = std::env::temp_dir().join(format!("sp_backup_unreachable_{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let run = run_script("backup.sh", &env, &dir)?;
    let left = fs::read_dir(&dir)?.count();
    let _ = fs::remove_dir_all(&dir);
    ensure!(
        !run.status.success() && run.output.contains("the database did not answer within 2s"),
        "{}",
        run.output
    );
    ensure!(left == 0, "a failed backup left {left} files behind");
    Ok(())
}
