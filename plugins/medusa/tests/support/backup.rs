//! The chart's `files/backup.sh` and `files/restore.sh` run as a backup or
//! restore Job's container would (`sh`, exactly the given environment plus
//! this machine's `PATH`), and a PostgreSQL database compared before and
//! after: every table's rows, every object's name.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use super::stack::psql;

const FILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/medusa/files");

/// What one run of a script did.
pub struct ScriptRun {
    pub status: ExitStatus,
    /// Its stdout and stderr.
    pub output: String,
    pub took: Duration,
}

impl ScriptRun {
    /// Fails unless it exited 0, showing what it printed.
    pub fn ok(self, what: &str) -> Result<Self> {
        ensure!(
            self.status.success(),
            "{what} exited {}:\n{}",
            self.status,
            self.output
        );
        Ok(self)
    }
}

/// `sh files/<script>` with `env` and `BACKUP_DIR=backup_dir`. Fails if it
/// printed the database password.
pub fn run_script(
    script: &str,
    env: &BTreeMap<String, String>,
    backup_dir: &Path,
) -> Result<ScriptRun> {
    let started = Instant::now();
    let output = Command::new("sh")
        .arg(format!("{FILES}/{script}"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .env("BACKUP_DIR", backup_dir)
        .output()
        .with_context(|| format!("starting {script}"))?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(password) = env.get("DB_PASSWORD").filter(|p| !p.is_empty()) {
        ensure!(
            !printed.contains(password.as_str()),
            "{script} printed the database password:\n{printed}"
        );
    }
    Ok(ScriptRun {
        status: output.status,
        output: printed,
        took: started.elapsed(),
    })
}

/// A table's state: its exact row count and a hash of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    pub rows: i64,
    pub content: String,
}

/// Every table of every non-system schema: `schema.table` → its rows.
pub fn tables(url: &str) -> Result<BTreeMap<String, TableState>> {
    let out = psql(
        url,
        &[],
        r#"SELECT format('%s.%s', schemaname, tablename),
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text,
       (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS h FROM %I.%I t', schemaname, tablename), false, true, '')))[1]::text
  FROM pg_catalog.pg_tables
 WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY 1"#,
    )?;
    out.lines()
        .map(|line| {
            let mut fields = line.split('|');
            let (Some(name), Some(rows), Some(content)) =
                (fields.next(), fields.next(), fields.next())
            else {
                anyhow::bail!("unexpected line from the table query: {line}");
            };
            Ok((
                name.to_owned(),
                TableState {
                    rows: rows.parse()?,
                    content: content.to_owned(),
                },
            ))
        })
        .collect()
}

/// The names of everything in the non-system schemas (schemas, tables,
/// columns, indexes, sequences with their positions, views, types,
/// functions, triggers, constraints): what a restore must bring back
/// beside the rows, and must not leave behind.
pub fn objects(url: &str) -> Result<Vec<String>> {
    let out = psql(
        url,
        &[],
        r#"WITH user_schemas AS (
  SELECT oid, nspname FROM pg_catalog.pg_namespace
   WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%'
)
SELECT 'schema ' || nspname FROM user_schemas
UNION ALL
SELECT format('relation %s.%s kind %s', s.nspname, c.relname, c.relkind)
  FROM pg_catalog.pg_class c JOIN user_schemas s ON s.oid = c.relnamespace
 WHERE c.relkind <> 't'
UNION ALL
SELECT format('column %s.%s.%s %s not-null %s default %s', table_schema, table_name, column_name,
              data_type, is_nullable, coalesce(column_default, '-'))
  FROM information_schema.columns
 WHERE table_schema IN (SELECT nspname FROM user_schemas)
UNION ALL
SELECT format('sequence %s.%s at %s', schemaname, sequencename, coalesce(last_value::text, 'unused'))
  FROM pg_catalog.pg_sequences
UNION ALL
SELECT format('type %s.%s', s.nspname, t.typname)
  FROM pg_catalog.pg_type t JOIN user_schemas s ON s.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
UNION ALL
SELECT format('function %s.%s', s.nspname, p.proname)
  FROM pg_catalog.pg_proc p JOIN user_schemas s ON s.oid = p.pronamespace
UNION ALL
SELECT format('trigger %s on %s', t.tgname, t.tgrelid::regclass)
  FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal
UNION ALL
SELECT format('constraint %s on %s', c.conname, c.conrelid::regclass)
  FROM pg_catalog.pg_constraint c JOIN user_schemas s ON s.oid = c.connamespace
ORDER BY 1"#,
    )?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// The size of a file, for the report.
pub fn size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .len())
}
