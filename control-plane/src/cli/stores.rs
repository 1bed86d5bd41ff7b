//! `storeplane stores …`: list, get, create (`--wait`), delete, retry,
//! upgrade, rollback, suspend, resume, domains, events, credentials, watch.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Map, Value};
use storeplane::{
    domain::{Error as DomainError, FieldViolation},
    engines::{compile_schema, schema_violations},
    grpc::{convert::config_to_struct, to_status},
};
use storeplane_proto::v1::{self as pb, watch_stores_response::EventType};
use tokio_stream::StreamExt as _;

use super::output::{Table, print_fields, print_structured, time};
use super::{Answer as _, Client, ClientArgs, Exit, ExitCode, find_engine, list_engines};

/// `storeplane stores …`
#[derive(Subcommand, Debug)]
pub enum StoresCommand {
    /// Stores visible to the token (all pages).
    List {
        /// Only this engine's.
        #[arg(long, default_value = "")]
        engine: String,
    },
    /// One store.
    Get {
        /// Store name.
        name: String,
    },
    /// Create a store; with `--wait`, follow it to Ready or Failed.
    Create {
        /// Store name: a lowercase DNS label.
        name: String,
        /// Engine id (`storeplane engines list`); a clone's is its backup's.
        #[arg(long, default_value = "", required_unless_present = "from_backup")]
        engine: String,
        /// Clone: start from this backup's data (`storeplane backups list`);
        /// engine and configuration default to the backup's.
        #[arg(long, value_name = "BACKUP_ID")]
        from_backup: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
        /// Idempotency key: the same id creates the store once (default: a
        /// new UUID).
        #[arg(long)]
        request_id: Option<String>,
        /// Create it for another tenant (administrators).
        #[arg(long, default_value = "")]
        tenant: String,
        /// A custom domain to serve it at too (repeatable).
        #[arg(long = "domain", value_name = "HOST")]
        domains: Vec<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Delete a store (its namespace and everything in it).
    Delete {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Provision a FAILED store again.
    Retry {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Change a store's configuration (a new release revision).
    Upgrade {
        /// Store name.
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Go back to the previous release revision.
    Rollback {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Pause a store: workloads stop, data is kept.
    Suspend {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Bring a suspended store back.
    Resume {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Set a store's custom domains (the full list; none removes them).
    Domains {
        /// Store name.
        name: String,
        /// Host names, e.g. shop.example.com.
        domains: Vec<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Back a store up (its database and files); with `--wait`, until the
    /// backup ends (exit 7 if it failed).
    Backup {
        /// Store name.
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Replace a store's data with a backup's.
    Restore {
        /// Store name.
        name: String,
        /// The backup (`storeplane backups list`).
        #[arg(long, value_name = "BACKUP_ID")]
        backup: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Schedule a store's backups (an empty `--cron` removes the schedule).
    Schedule {
        /// Store name.
        name: String,
        /// 5-field cron expression, UTC, e.g. "0 3 * * *".
        #[arg(long)]
        cron: String,
        /// Scheduled backups to keep (0: 7).
        #[arg(long, default_value_t = 0)]
        retention: i32,
    },
    /// A store's timeline.
    Events {
        /// Store name.
        name: String,
    },
    /// Reveal a store's admin credentials (audited).
    Credentials {
        /// Store name.
        name: String,
    },
    /// Follow changes to stores (all, or one) until interrupted.
    Watch {
        /// Only this store.
        name: Option<String>,
    },
}

/// Engine configuration on the command line.
#[derive(clap::Args, Debug, Default)]
pub struct ConfigArgs {
    /// A configuration value, `key=value` (repeatable; `a.b=v` for nested
    /// keys). The engine's schema decides whether `value` is a string, a
    /// number or a boolean.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pairs: Vec<String>,
    /// A JSON or YAML file with the configuration; `--config` values
    /// override its keys.
    #[arg(long)]
    config_file: Option<PathBuf>,
}

/// `--wait` and its limit.
#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    /// Follow the store until it is Ready (or gone, for delete); exits 7 if
    /// it fails.
    #[arg(long)]
    wait: bool,
    /// How long `--wait` waits (exit 8 after it).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

fn by_name(name: &str) -> (String, String) {
    (String::new(), name.to_owned())
}

/// `storeplane stores …`
pub async fn run(args: &ClientArgs, command: &StoresCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let mut stores = client.stores();
    match command {
        StoresCommand::List { engine } => {
            let mut all = pb::ListStoresResponse::default();
            loop {
                let page = stores
                    .list_stores(client.request(pb::ListStoresRequest {
                        page_size: 100,
                        page_token: all.next_page_token.clone(),
                        phases: Vec::new(),
                        engine: engine.clone(),
                    })?)
                    .answer(&client)
                    .await?;
                all.stores.extend(page.stores);
                all.next_page_token = page.next_page_token;
                if all.next_page_token.is_empty() {
                    break;
                }
            }
            if print_structured(client.format, &all, "storeplane.v1.ListStoresResponse")? {
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "ENGINE", "PHASE", "TENANT", "CREATED", "URL"]);
            for s in &all.stores {
                table.row(vec![
                    s.name.clone(),
                    s.engine.clone(),
                    phase_name(s.phase).to_owned(),
                    s.tenant.clone(),
                    time(s.create_time.as_ref()),
                    s.urls
                        .as_ref()
                        .map(|u| u.storefront.clone())
                        .unwrap_or_default(),
                ]);
            }
            table.print();
        }
        StoresCommand::Get { name } => {
            let (id, name) = by_name(name);
            let store = stores
                .get_store(client.request(pb::GetStoreRequest { id, name })?)
                .answer(&client)
                .await?;
            print_store(&client, &store)?;
        }
        StoresCommand::Create {
            name,
            engine,
            from_backup,
            config,
            request_id,
            tenant,
            domains,
            wait,
        } => {
            // A clone without an engine or configuration of its own takes
            // its backup's, which the server knows.
            let config = if from_backup.is_some() && engine.is_empty() {
                config_from_args(config, &Map::new(), &Value::Null)?
            } else {
                checked_config(&client, engine, config, &Map::new()).await?
            };
            let store = stores
                .create_store(
                    client.request(pb::CreateStoreRequest {
                        name: name.clone(),
                        engine: engine.clone(),
                        config: Some(config_to_struct(&config)),
                        request_id: request_id
                            .clone()
                            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                        tenant: tenant.clone(),
                        custom_domains: domains.clone(),
                        from_backup: from_backup.clone().unwrap_or_default(),
                        backup_schedule: None,
                    })?,
                )
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Ready).await?;
        }
        StoresCommand::Delete { name, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .delete_store(client.request(pb::DeleteStoreRequest {
                    id,
                    name,
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Gone).await?;
        }
        StoresCommand::Retry { name, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .retry_store(client.request(pb::RetryStoreRequest { id, name })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Ready).await?;
        }
        StoresCommand::Upgrade { name, config, wait } => {
            let (id, store_name) = by_name(name);
            let current = stores
                .get_store(client.request(pb::GetStoreRequest {
                    id: id.clone(),
                    name: store_name.clone(),
                })?)
                .answer(&client)
                .await?;
            let base = storeplane::grpc::convert::struct_to_config(current.config.clone())
                .unwrap_or_default();
            let config = checked_config(&client, &current.engine, config, &base).await?;
            let store = stores
                .upgrade_store(client.request(pb::UpgradeStoreRequest {
                    id,
                    name: store_name,
                    config: Some(config_to_struct(&config)),
                    etag: current.etag,
                })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Ready).await?;
        }
        StoresCommand::Rollback { name, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .rollback_store(client.request(pb::RollbackStoreRequest { id, name })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Ready).await?;
        }
        StoresCommand::Backup { name, wait } => {
            let backup = stores
                .create_backup(client.request(pb::CreateBackupRequest {
                    store_id: String::new(),
                    store_name: name.clone(),
                })?)
                .answer(&client)
                .await?;
            if !wait.wait {
                return super::backups::print_backup(&client, &backup);
            }
            let store = stores
                .get_store(client.request(pb::GetStoreRequest {
                    id: backup.store_id.clone(),
                    name: String::new(),
                })?)
                .answer(&client)
                .await?;
            wait_quietly(&client, store, wait, Goal::Idle, false).await?;
            let backup = stores
                .get_backup(client.request(pb::GetBackupRequest { id: backup.id })?)
                .answer(&client)
                .await?;
            super::backups::print_backup(&client, &backup)?;
            if backup.phase == pb::BackupPhase::Failed as i32 {
                return Err(Exit {
                    code: ExitCode::StoreFailed,
                    message: format!(
                        "backup {} failed: {}: {}",
                        backup.id, backup.failure_reason, backup.message
                    ),
                }
                .into());
            }
        }
        StoresCommand::Restore { name, backup, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .restore_store(client.request(pb::RestoreStoreRequest {
                    id,
                    name,
                    backup: backup.clone(),
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Idle).await?;
        }
        StoresCommand::Schedule {
            name,
            cron,
            retention,
        } => {
            let (id, name) = by_name(name);
            let store = stores
                .set_store_backup_schedule(client.request(pb::SetStoreBackupScheduleRequest {
                    id,
                    name,
                    schedule: Some(pb::BackupSchedule {
                        cron: cron.clone(),
                        retention: *retention,
                    }),
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            print_store(&client, &store)?;
        }
        StoresCommand::Suspend { name, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .suspend_store(client.request(pb::SuspendStoreRequest {
                    id,
                    name,
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Suspended).await?;
        }
        StoresCommand::Resume { name, wait } => {
            let (id, name) = by_name(name);
            let store = stores
                .resume_store(client.request(pb::ResumeStoreRequest {
                    id,
                    name,
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            finish(&client, store, wait, Goal::Ready).await?;
        }
        StoresCommand::Domains {
            name,
            domains,
            wait,
        } => {
            let (id, name) = by_name(name);
            let store = stores
                .set_store_custom_domains(client.request(pb::SetStoreCustomDomainsRequest {
                    id,
                    name,
                    custom_domains: domains.clone(),
                    etag: String::new(),
                })?)
                .answer(&client)
                .await?;
            let goal = if store.suspended {
                Goal::Suspended
            } else {
                Goal::Ready
            };
            finish(&client, store, wait, goal).await?;
        }
        StoresCommand::Events { name } => {
            let mut all = pb::ListStoreEventsResponse::default();
            loop {
                let (id, name) = by_name(name);
                let page = stores
                    .list_store_events(client.request(pb::ListStoreEventsRequest {
                        id,
                        name,
                        page_size: 200,
                        page_token: all.next_page_token.clone(),
                    })?)
                    .answer(&client)
                    .await?;
                all.events.extend(page.events);
                all.next_page_token = page.next_page_token;
                if all.next_page_token.is_empty() {
                    break;
                }
            }
            if print_structured(client.format, &all, "storeplane.v1.ListStoreEventsResponse")? {
                return Ok(());
            }
            let mut table = Table::new(&["TIME", "REASON", "OUTCOME", "DURATION", "MESSAGE"]);
            for e in &all.events {
                table.row(vec![
                    time(e.time.as_ref()),
                    e.reason.clone(),
                    outcome_name(e.outcome).to_owned(),
                    if e.duration_ms > 0 {
                        format!("{:.1}s", e.duration_ms as f64 / 1000.0)
                    } else {
                        String::new()
                    },
                    e.message.clone(),
                ]);
            }
            table.print();
        }
        StoresCommand::Credentials { name } => {
            let (id, name) = by_name(name);
            let credentials = stores
                .reveal_store_credentials(
                    client.request(pb::RevealStoreCredentialsRequest { id, name })?,
                )
                .answer(&client)
                .await?;
            if !print_structured(
                client.format,
                &credentials,
                "storeplane.v1.StoreCredentials",
            )? {
                print_fields(&[
                    ("login url", credentials.login_url.clone()),
                    ("username", credentials.username.clone()),
                    ("password", credentials.password.clone()),
                    ("secret", credentials.secret.clone()),
                ]);
            }
        }
        StoresCommand::Watch { name } => watch(&client, name.as_deref()).await?,
    }
    Ok(())
}

fn phase_name(phase: i32) -> &'static str {
    match pb::StorePhase::try_from(phase) {
        Ok(pb::StorePhase::Provisioning) => "Provisioning",
        Ok(pb::StorePhase::Ready) => "Ready",
        Ok(pb::StorePhase::Failed) => "Failed",
        Ok(pb::StorePhase::Deleting) => "Deleting",
        Ok(pb::StorePhase::Suspended) => "Suspended",
        _ => "Unspecified",
    }
}

fn outcome_name(outcome: i32) -> &'static str {
    match pb::EventOutcome::try_from(outcome) {
        Ok(pb::EventOutcome::Succeeded) => "succeeded",
        Ok(pb::EventOutcome::Failed) => "failed",
        Ok(pb::EventOutcome::Info) => "info",
        _ => "",
    }
}

/// What the store's conditions say it is doing now.
fn current_step(store: &pb::Store) -> String {
    if !store.failure_message.is_empty() {
        return format!("{}: {}", store.failure_reason, store.failure_message);
    }
    if let Some(op) = &store.operation {
        let what = if op.kind == pb::store_operation::Kind::Restore as i32 {
            "restoring"
        } else {
            "backing up to"
        };
        return format!("{what} backup {}", op.backup_id);
    }
    if store.phase == pb::StorePhase::Deleting as i32 {
        return "removing the namespace and everything in it".to_owned();
    }
    store
        .conditions
        .iter()
        .find(|c| c.status != pb::ConditionStatus::True as i32 && !c.message.is_empty())
        .or_else(|| store.conditions.iter().find(|c| c.r#type == "Ready"))
        .map(|c| {
            if c.reason.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.reason, c.message)
            }
        })
        .unwrap_or_default()
}

fn print_store(client: &Client, store: &pb::Store) -> anyhow::Result<()> {
    if print_structured(client.format, store, "storeplane.v1.Store")? {
        return Ok(());
    }
    let urls = store.urls.clone().unwrap_or_default();
    let config = storeplane::grpc::convert::struct_to_config(store.config.clone())
        .map(|c| Value::Object(c).to_string())
        .unwrap_or_default();
    print_fields(&[
        ("name", store.name.clone()),
        ("id", store.id.clone()),
        ("tenant", store.tenant.clone()),
        (
            "engine",
            format!("{} {}", store.engine, store.engine_version),
        ),
        ("phase", phase_name(store.phase).to_owned()),
        ("status", current_step(store)),
        ("storefront", urls.storefront),
        ("admin", urls.admin),
        ("domains", store.custom_domains.join(", ")),
        ("config", config),
        ("generation", store.generation.to_string()),
        ("created", time(store.create_time.as_ref())),
        ("updated", time(store.update_time.as_ref())),
    ]);
    Ok(())
}

/// The configuration to send: the file, then the pairs, over `base`
/// (the current one, for upgrades), checked against the engine's schema
/// exactly as the server checks it, so a mistake is reported before the
/// call with the server's words.
async fn checked_config(
    client: &Client,
    engine: &str,
    args: &ConfigArgs,
    base: &Map<String, Value>,
) -> anyhow::Result<Map<String, Value>> {
    let list = list_engines(client).await?;
    let Ok(found) = find_engine(&list, engine) else {
        // The server names the unknown engine in its own words.
        return config_from_args(args, base, &Value::Null);
    };
    let schema: Value = serde_json::from_str(&found.config_schema)
        .with_context(|| format!("engine {engine} publishes a schema that is not JSON"))?;
    let config = config_from_args(args, base, &schema)?;
    let validator = compile_schema(&schema)
        .map_err(|e| anyhow::anyhow!("engine {engine} publishes an invalid schema: {e}"))?;
    let violations = schema_violations(&validator, &config);
    if !violations.is_empty() {
        return Err(anyhow::Error::new(to_status(DomainError::InvalidArgument(
            violations,
        ))));
    }
    Ok(config)
}

fn invalid(field: &str, why: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(to_status(DomainError::InvalidArgument(vec![
        FieldViolation::new(field, why.into()),
    ])))
}

fn config_from_args(
    args: &ConfigArgs,
    base: &Map<String, Value>,
    schema: &Value,
) -> anyhow::Result<Map<String, Value>> {
    let mut config = base.clone();
    if let Some(path) = &args.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| Exit {
            code: ExitCode::Invalid,
            message: format!("--config-file {}: {e}", path.display()),
        })?;
        // YAML is a superset of JSON: one parser reads both.
        let file: Value = serde_saphyr::from_str(&text).map_err(|e| Exit {
            code: ExitCode::Invalid,
            message: format!("--config-file {}: {e}", path.display()),
        })?;
        let Value::Object(file) = file else {
            return Err(Exit {
                code: ExitCode::Invalid,
                message: format!(
                    "--config-file {}: not a mapping of keys to values",
                    path.display()
                ),
            }
            .into());
        };
        config.extend(file);
    }
    for pair in &args.pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(invalid("config", format!("{pair:?} is not KEY=VALUE")));
        };
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(invalid("config", format!("{key:?} is not a key")));
        }
        let value = typed(raw, schema_at(schema, &path));
        insert(&mut config, &path, value);
    }
    Ok(config)
}

/// The schema of the property at `path`, if the schema says.
fn schema_at<'a>(schema: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(schema, |s, key| {
        s.pointer(&format!("/properties/{key}"))
            .unwrap_or(&Value::Null)
    })
}

/// `raw` as the type the schema gives; without one, JSON if it parses.
fn typed(raw: &str, schema: &Value) -> Value {
    let parsed = || serde_json::from_str::<Value>(raw).ok();
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => Value::String(raw.to_owned()),
        Some("boolean" | "integer" | "number" | "array" | "object") => {
            parsed().unwrap_or_else(|| Value::String(raw.to_owned()))
        }
        _ => match parsed() {
            Some(v @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_))) => v,
            _ => Value::String(raw.to_owned()),
        },
    }
}

fn insert(config: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = config;
    for key in parents {
        let entry = at
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        at = next;
    }
    at.insert((*last).to_owned(), value);
}

/// What `--wait` waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    Ready,
    Suspended,
    Gone,
    /// Ready with no backup or restore running.
    Idle,
}

impl Goal {
    /// What the store is waited for to be, in messages.
    fn word(self) -> &'static str {
        match self {
            Goal::Ready => "Ready",
            Goal::Suspended => "Suspended",
            Goal::Gone => "deleted",
            Goal::Idle => "done with its backup or restore",
        }
    }

    /// The phase that reaches the goal, once the latest generation is
    /// observed; `None` for a deletion.
    fn phase(self) -> Option<pb::StorePhase> {
        match self {
            Goal::Ready | Goal::Idle => Some(pb::StorePhase::Ready),
            Goal::Suspended => Some(pb::StorePhase::Suspended),
            Goal::Gone => None,
        }
    }
}

/// Prints the store, or follows it with `--wait`.
async fn finish(
    client: &Client,
    store: pb::Store,
    wait: &WaitArgs,
    goal: Goal,
) -> anyhow::Result<()> {
    if !wait.wait {
        return print_store(client, &store);
    }
    wait_for(client, store, wait, goal).await
}

/// Follows the store until it reaches `goal` and prints it.
async fn wait_for(
    client: &Client,
    store: pb::Store,
    wait: &WaitArgs,
    goal: Goal,
) -> anyhow::Result<()> {
    wait_quietly(client, store, wait, goal, true).await
}

/// Follows the store until it reaches `goal`; prints it at the end when
/// `print` (a command that prints something else afterwards does not).
async fn wait_quietly(
    client: &Client,
    store: pb::Store,
    wait: &WaitArgs,
    goal: Goal,
    print: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let people = client.format == super::output::Format::Table;
    if people {
        eprintln!(
            "{}: {} (waiting up to {})",
            store.name,
            phase_name(store.phase),
            humantime::format_duration(wait.timeout)
        );
    }
    let followed =
        tokio::time::timeout(wait.timeout, follow(client, &store, goal, started, people)).await;
    match followed {
        Err(_) => Err(Exit {
            code: ExitCode::Timeout,
            message: format!(
                "store {:?} is still not {} after {}",
                store.name,
                goal.word(),
                humantime::format_duration(wait.timeout)
            ),
        }
        .into()),
        Ok(Err(e)) => Err(e),
        Ok(Ok(Some(last))) => {
            match (print, goal) {
                (false, _) => {}
                (true, Goal::Gone) if people => println!("deleted {}", last.name),
                (true, Goal::Gone) => {
                    print_structured(client.format, &last, "storeplane.v1.Store")?;
                }
                (true, _) => print_store(client, &last)?,
            }
            if last.phase == pb::StorePhase::Failed as i32 && goal != Goal::Gone {
                return Err(Exit {
                    code: ExitCode::StoreFailed,
                    message: format!(
                        "store {:?} failed: {}: {}",
                        last.name, last.failure_reason, last.failure_message
                    ),
                }
                .into());
            }
            Ok(())
        }
        Ok(Ok(None)) => Err(Exit {
            code: ExitCode::Unavailable,
            message: "the watch ended before the store settled; run the command again with --wait"
                .into(),
        }
        .into()),
    }
}

/// Follows `store` on `WatchStores` (the list first, then changes, so a
/// transition that happened before the watch started is in the list) until
/// it reaches `goal` or fails; prints each new step for people.
async fn follow(
    client: &Client,
    store: &pb::Store,
    goal: Goal,
    started: Instant,
    people: bool,
) -> anyhow::Result<Option<pb::Store>> {
    let mut stream = client
        .stores()
        .watch_stores(client.request(pb::WatchStoresRequest {
            resume_token: String::new(),
        })?)
        .answer(client)
        .await?;
    let mut last_line = String::new();
    let mut in_list = false;
    while let Some(event) = stream.next().await {
        let event = event.map_err(|s| client.fail(s))?;
        let kind = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
        if kind == EventType::InitialListComplete {
            if goal == Goal::Gone && !in_list {
                return Ok(Some(store.clone()));
            }
            continue;
        }
        let Some(current) = event.store else { continue };
        if current.id != store.id {
            continue;
        }
        match kind {
            EventType::Deleted if goal == Goal::Gone => return Ok(Some(current)),
            EventType::Deleted => {
                return Err(Exit {
                    code: ExitCode::NotFound,
                    message: format!("store {:?} was deleted while waiting for it", current.name),
                }
                .into());
            }
            EventType::Added => in_list = true,
            _ => {}
        }
        let line = format!("{}  {}", phase_name(current.phase), current_step(&current));
        if people && line != last_line {
            eprintln!("{:>7.1}s  {line}", started.elapsed().as_secs_f64());
            last_line = line;
        }
        let phase = pb::StorePhase::try_from(current.phase).unwrap_or_default();
        // Ready (or Suspended) counts once the store's latest generation is
        // what is ready (an upgrade keeps serving the old one meanwhile).
        if let Some(wanted) = goal.phase() {
            let settled = phase == pb::StorePhase::Failed
                || (phase == wanted
                    && current.observed_generation >= current.generation
                    && (goal != Goal::Idle || current.operation.is_none()));
            if settled {
                return Ok(Some(current));
            }
        }
    }
    Ok(None)
}

/// `storeplane stores watch`: one line per change (NDJSON with `-o json`).
async fn watch(client: &Client, name: Option<&str>) -> anyhow::Result<()> {
    let mut stream = client
        .stores()
        .watch_stores(client.request(pb::WatchStoresRequest {
            resume_token: String::new(),
        })?)
        .answer(client)
        .await?;
    while let Some(event) = stream.next().await {
        let event = event.map_err(|s| client.fail(s))?;
        let kind = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
        if kind == EventType::Heartbeat {
            continue;
        }
        if let (Some(name), Some(store)) = (name, &event.store)
            && store.name != name
        {
            continue;
        }
        match client.format {
            super::output::Format::Table => match &event.store {
                Some(store) => println!(
                    "{:<22} {:<24} {:<13} {}",
                    kind.as_str_name(),
                    store.name,
                    phase_name(store.phase),
                    current_step(store)
                ),
                None => println!("{}", kind.as_str_name()),
            },
            _ => {
                let json =
                    super::output::canonical_json(&event, "storeplane.v1.WatchStoresResponse")?;
                println!("{json}");
            }
        }
    }
    Ok(())
}
