//! The client commands (`storeplane stores …`, `engines`, `audit`,
//! `tokens`, `tenants`, `login`, `completions`) as a person or a script runs
//! them: the real binary against a real server on each database, in table
//! and JSON/YAML output, `--wait` to Ready and to Failed, and bad input
//! reported with the API's own words and the documented exit codes.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use storeplane_e2e::{
    Backend, Server, binary, engine_request, fresh_database, on_both_backends, provisioning_args,
    repo_root, v1 as pb,
};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

on_both_backends!(
    every_store_command_works_in_table_and_json,
    bad_input_gets_the_apis_words_and_exit_codes,
    create_wait_exits_7_with_the_reason_when_the_store_fails,
    administration_tokens_tenants_audit_and_login,
);

/// One run of the CLI.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(self) -> Result<Self> {
        ensure!(
            self.code == 0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        Ok(self)
    }
}

/// The CLI pointed at `server` as its administrator, with a login file of
/// its own (never the developer's).
struct Cli {
    server: String,
    token: Option<String>,
    login_file: PathBuf,
}

impl Cli {
    fn new(server: &Server) -> Self {
        let login_file = repo_root()
            .join("target/e2e")
            .join(uuid::Uuid::new_v4().simple().to_string())
            .join("config.toml");
        Self {
            server: server.addr.clone(),
            token: Some(server.admin_token.clone()),
            login_file,
        }
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut command = Command::new(binary()?);
        command
            .args(args)
            .env_remove("STOREPLANE_TOKEN")
            .env_remove("STOREPLANE_SERVER")
            .env("STOREPLANE_LOGIN_FILE", &self.login_file)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env("STOREPLANE_SERVER", &self.server)
            .stdin(Stdio::null());
        if let Some(token) = &self.token {
            command.env("STOREPLANE_TOKEN", token);
        }
        Ok(command)
    }

    async fn run(&self, args: &[&str]) -> Result<Run> {
        let output = self.command(args)?.output().await?;
        Ok(Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    async fn ok(&self, args: &[&str]) -> Result<Run> {
        self.run(args)
            .await?
            .ok()
            .with_context(|| format!("storeplane {}", args.join(" ")))
    }
}

/// A namespace storeplane did not create, named as a store's would be.
async fn foreign_namespace(
    server: &Server,
    name: &str,
) -> Result<kube::Api<k8s_openapi::api::core::v1::Namespace>> {
    let namespaces = kube::Api::all(server.kube().await?);
    namespaces
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?,
        )
        .await?;
    Ok(namespaces)
}

async fn start(backend: Backend) -> Result<Server> {
    let args = provisioning_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_on(&fresh_database(backend).await?, &args).await
}

async fn every_store_command_works_in_table_and_json(backend: Backend) -> Result<()> {
    let server = start(backend).await?;
    let cli = Cli::new(&server);

    let engines = cli.ok(&["engines", "list"]).await?;
    ensure!(engines.stdout.starts_with("ENGINE"), "{}", engines.stdout);
    ensure!(engines.stdout.contains("static-site"), "{}", engines.stdout);
    let engines = cli.ok(&["engines", "list", "-o", "json"]).await?.json()?;
    ensure!(
        engines["engines"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["id"] == "static-site")),
        "{engines}"
    );
    let described = cli
        .ok(&["engines", "describe", "static-site", "-o", "yaml"])
        .await?;
    ensure!(
        described.stdout.contains("configSchema:"),
        "{}",
        described.stdout
    );
    let described = cli.ok(&["engines", "describe", "static-site"]).await?;
    ensure!(
        described.stdout.contains("configuration schema:"),
        "{}",
        described.stdout
    );

    // Create and follow it to Ready.
    let created = cli
        .ok(&[
            "stores",
            "create",
            "shop",
            "--engine",
            "static-site",
            "--config",
            "currency=EUR",
            "--wait",
        ])
        .await?;
    ensure!(
        created.stderr.contains("Ready"),
        "progress: {}",
        created.stderr
    );
    ensure!(
        created.stdout.contains("phase") && created.stdout.contains("Ready"),
        "{}",
        created.stdout
    );

    // The JSON is the API's canonical JSON of the same store.
    let got = cli
        .ok(&["stores", "get", "shop", "-o", "json"])
        .await?
        .json()?;
    ensure!(
        got["name"] == "shop" && got["phase"] == "STORE_PHASE_READY",
        "{got}"
    );
    ensure!(got["config"]["currency"] == "EUR", "{got}");
    ensure!(
        got["generation"] == "1",
        "int64 as a string in proto3 JSON: {got}"
    );
    let yaml = cli.ok(&["stores", "get", "shop", "-o", "yaml"]).await?;
    ensure!(
        yaml.stdout.contains("phase: STORE_PHASE_READY"),
        "{}",
        yaml.stdout
    );

    let list = cli.ok(&["stores", "list"]).await?;
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("shop "))
        .context("no row for shop")?;
    ensure!(
        row.contains("Ready") && row.contains("http://shop.localhost/"),
        "{}",
        list.stdout
    );
    let list = cli.ok(&["stores", "list", "-o", "json"]).await?.json()?;
    ensure!(list["stores"][0]["name"] == "shop", "{list}");

    let events = cli.ok(&["stores", "events", "shop"]).await?;
    ensure!(events.stdout.starts_with("TIME"), "{}", events.stdout);
    let events = cli
        .ok(&["stores", "events", "shop", "-o", "json"])
        .await?
        .json()?;
    ensure!(
        events["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["reason"] == "Ready")),
        "{events}"
    );

    let credentials = cli
        .ok(&["stores", "credentials", "shop", "-o", "json"])
        .await?
        .json()?;
    ensure!(
        credentials["password"]
            .as_str()
            .is_some_and(|p| !p.is_empty()),
        "{credentials}"
    );

    // Upgrade, rollback: each waits for the new generation to be Ready.
    cli.ok(&[
        "stores",
        "upgrade",
        "shop",
        "--config",
        "currency=GBP",
        "--wait",
    ])
    .await?;
    let got = cli
        .ok(&["stores", "get", "shop", "-o", "json"])
        .await?
        .json()?;
    ensure!(
        got["config"]["currency"] == "GBP" && got["generation"] == "2",
        "{got}"
    );
    let rolled = cli.ok(&["stores", "rollback", "shop", "--wait"]).await?;
    ensure!(rolled.stdout.contains("Ready"), "{}", rolled.stdout);

    // Day-2: the static-site example (plugin API 0.1) cannot pause; a
    // WooCommerce store gets a custom domain, is paused and resumed, each
    // waiting for its generation.
    let refused = cli.run(&["stores", "suspend", "shop"]).await?;
    ensure!(
        refused.code != 0 && refused.stderr.contains("engine static-site"),
        "exit {}: {}",
        refused.code,
        refused.stderr
    );
    cli.ok(&[
        "stores",
        "create",
        "napper",
        "--engine",
        "woocommerce",
        "--config",
        "admin_email=owner@example.com",
        "--domain",
        "napper.cli.example",
        "--wait",
    ])
    .await?;
    let domains = cli
        .ok(&["stores", "domains", "napper", "shop.cli.example", "--wait"])
        .await?;
    ensure!(
        domains.stdout.contains("shop.cli.example"),
        "{}",
        domains.stdout
    );
    let paused = cli.ok(&["stores", "suspend", "napper", "--wait"]).await?;
    ensure!(paused.stdout.contains("Suspended"), "{}", paused.stdout);
    let got = cli
        .ok(&["stores", "get", "napper", "-o", "json"])
        .await?
        .json()?;
    ensure!(
        got["phase"] == "STORE_PHASE_SUSPENDED"
            && got["suspended"] == true
            && got["customDomains"] == serde_json::json!(["shop.cli.example"]),
        "{got}"
    );
    let resumed = cli.ok(&["stores", "resume", "napper", "--wait"]).await?;
    ensure!(resumed.stdout.contains("Ready"), "{}", resumed.stdout);

    // Backups: take one, list it, clone it, restore it, schedule, delete.
    let backup = cli
        .ok(&["stores", "backup", "napper", "--wait", "-o", "json"])
        .await?
        .json()?;
    ensure!(backup["phase"] == "BACKUP_PHASE_SUCCEEDED", "{backup}");
    let id = backup["id"].as_str().context("backup id")?.to_owned();
    let listed = cli.ok(&["backups", "list", "--store", "napper"]).await?;
    ensure!(
        listed.stdout.contains(&id) && listed.stdout.contains("Succeeded"),
        "{}",
        listed.stdout
    );
    let clone = cli
        .ok(&[
            "stores",
            "create",
            "napper-copy",
            "--from-backup",
            &id,
            "--wait",
            "-o",
            "json",
        ])
        .await?
        .json()?;
    ensure!(
        clone["phase"] == "STORE_PHASE_READY"
            && clone["clonedFrom"] == id.as_str()
            && clone["engine"] == "woocommerce",
        "{clone}"
    );
    let restored = cli
        .ok(&[
            "stores", "restore", "napper", "--backup", &id, "--wait", "-o", "json",
        ])
        .await?
        .json()?;
    ensure!(restored.get("operation").is_none(), "{restored}");
    let scheduled = cli
        .ok(&[
            "stores",
            "schedule",
            "napper",
            "--cron",
            "0 3 * * *",
            "-o",
            "json",
        ])
        .await?
        .json()?;
    ensure!(
        scheduled["backupSchedule"] == serde_json::json!({"cron": "0 3 * * *", "retention": 7}),
        "{scheduled}"
    );
    let bad_cron = cli
        .run(&["stores", "schedule", "napper", "--cron", "nightly"])
        .await?;
    ensure!(
        bad_cron.code == 4,
        "exit {}: {}",
        bad_cron.code,
        bad_cron.stderr
    );
    let deleted = cli.ok(&["backups", "delete", &id]).await?;
    ensure!(deleted.stdout.contains(&id), "{}", deleted.stdout);
    let gone = cli.run(&["backups", "get", &id]).await?;
    ensure!(gone.code == 3, "exit {}: {}", gone.code, gone.stderr);

    // watch: the first list, as NDJSON.
    let mut watch = cli.command(&["stores", "watch", "shop", "-o", "json"])?;
    let mut child = watch.stdout(Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await?.context("watch ended")?)?;
    ensure!(
        first["type"] == "ADDED" && first["store"]["name"] == "shop",
        "{first}"
    );
    let second: Value = serde_json::from_str(&lines.next_line().await?.context("watch ended")?)?;
    ensure!(second["type"] == "INITIAL_LIST_COMPLETE", "{second}");
    child.kill().await?;

    // A FAILED store retried.
    let namespaces = foreign_namespace(&server, "store-again").await?;
    let failed = cli
        .run(&[
            "stores",
            "create",
            "again",
            "--engine",
            "static-site",
            "--wait",
            "-o",
            "json",
        ])
        .await?;
    ensure!(failed.code == 7, "exit {}: {}", failed.code, failed.stderr);
    // The operator hands the namespace over; retry then adopts it.
    let adopt = serde_json::json!({"metadata": {"labels": {
        "app.kubernetes.io/managed-by": "storeplane",
        "storeplane.dev/store": failed.json()?["id"],
        "storeplane.dev/instance": server.installation_id().await?,
    }}});
    namespaces
        .patch(
            "store-again",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&adopt),
        )
        .await?;
    cli.ok(&["stores", "retry", "again", "--wait"]).await?;

    let deleted = cli.ok(&["stores", "delete", "shop", "--wait"]).await?;
    ensure!(
        deleted.stdout.contains("deleted shop"),
        "{}",
        deleted.stdout
    );
    let gone = cli.run(&["stores", "get", "shop"]).await?;
    ensure!(gone.code == 3, "exit {}: {}", gone.code, gone.stderr);
    Ok(())
}

async fn bad_input_gets_the_apis_words_and_exit_codes(backend: Backend) -> Result<()> {
    let server = start(backend).await?;
    let cli = Cli::new(&server);
    let mut api = server.stores().await?;

    // An unknown store: NotFound, the API's message.
    let api_says = api
        .get_store(pb::GetStoreRequest {
            name: "nope".into(),
            ..Default::default()
        })
        .await
        .err()
        .context("GetStore of an unknown store succeeded")?;
    let run = cli.run(&["stores", "get", "nope"]).await?;
    ensure!(run.code == 3, "exit {}: {}", run.code, run.stderr);
    ensure!(
        run.stderr.trim() == format!("error: {}", api_says.message()),
        "{}",
        run.stderr
    );

    // An invalid configuration: refused before the call, with the words
    // the server uses for the same configuration.
    let api_says = api
        .create_store(engine_request(
            "xyz-shop",
            "static-site",
            serde_json::json!({"currency": "XYZ"}),
        ))
        .await
        .err()
        .context("an invalid currency was accepted")?;
    let run = cli
        .run(&[
            "stores",
            "create",
            "xyz-shop",
            "--engine",
            "static-site",
            "--config",
            "currency=XYZ",
        ])
        .await?;
    ensure!(run.code == 4, "exit {}: {}", run.code, run.stderr);
    ensure!(
        run.stderr.trim() == format!("error: {}", api_says.message()),
        "{}\nAPI: {}",
        run.stderr,
        api_says.message()
    );
    let run = cli
        .run(&[
            "stores",
            "create",
            "xyz-shop",
            "--engine",
            "static-site",
            "--config",
            "no-equals-sign",
        ])
        .await?;
    ensure!(
        run.code == 4 && run.stderr.contains("is not KEY=VALUE"),
        "{}",
        run.stderr
    );
    let missing = repo_root().join("target/e2e/no-such-config.yaml");
    let run = cli
        .run(&[
            "stores",
            "create",
            "xyz-shop",
            "--engine",
            "static-site",
            "--config-file",
            &missing.display().to_string(),
        ])
        .await?;
    ensure!(
        run.code == 4 && run.stderr.contains("no-such-config.yaml"),
        "{}",
        run.stderr
    );

    // An unknown engine: the server's words.
    let run = cli
        .run(&["stores", "create", "xyz-shop", "--engine", "nope"])
        .await?;
    ensure!(
        run.code == 4 && run.stderr.contains("unknown engine \"nope\""),
        "{}",
        run.stderr
    );
    let list = api
        .list_stores(pb::ListStoresRequest::default())
        .await?
        .into_inner();
    ensure!(
        list.stores.is_empty(),
        "a refused create left a store: {list:?}"
    );

    // No token: the API's Unauthenticated message, exit 5.
    let api_says = pb::store_service_client::StoreServiceClient::new(server.channel().await?)
        .list_stores(pb::ListStoresRequest::default())
        .await
        .err()
        .context("ListStores without a token succeeded")?;
    let anonymous = Cli {
        token: None,
        ..Cli::new(&server)
    };
    let run = anonymous.run(&["stores", "list"]).await?;
    ensure!(run.code == 5, "exit {}: {}", run.code, run.stderr);
    ensure!(
        run.stderr.trim() == format!("error: {}", api_says.message()),
        "{}",
        run.stderr
    );

    // Nobody listening: exit 6, saying where it tried.
    let nowhere = Cli {
        server: "127.0.0.1:1".into(),
        ..Cli::new(&server)
    };
    let run = nowhere.run(&["stores", "list"]).await?;
    ensure!(
        run.code == 6
            && run
                .stderr
                .contains("cannot reach the storeplane API at http://127.0.0.1:1"),
        "{}",
        run.stderr
    );

    // A bad command line: clap's exit 2.
    let run = cli.run(&["stores", "create"]).await?;
    ensure!(run.code == 2, "exit {}: {}", run.code, run.stderr);
    Ok(())
}

async fn create_wait_exits_7_with_the_reason_when_the_store_fails(backend: Backend) -> Result<()> {
    let server = start(backend).await?;
    let cli = Cli::new(&server);
    // A namespace storeplane did not create: the store fails with
    // NamespaceConflict and the namespace is left alone.
    foreign_namespace(&server, "store-taken").await?;
    let run = cli
        .run(&[
            "stores",
            "create",
            "taken",
            "--engine",
            "static-site",
            "--wait",
            "-o",
            "json",
        ])
        .await?;
    ensure!(
        run.code == 7,
        "exit {}: {}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    ensure!(
        run.stderr
            .contains("error: store \"taken\" failed: NamespaceConflict"),
        "{}",
        run.stderr
    );
    let store = run.json()?;
    ensure!(store["phase"] == "STORE_PHASE_FAILED", "{store}");

    // A wait that cannot finish in time: exit 8. Pods on this cluster take
    // a minute to start, the wait gives up after a second.
    let mut args = provisioning_args();
    let delay = args
        .iter()
        .position(|a| a == "--sim-delay")
        .context("no --sim-delay")?;
    args[delay + 1] = "60s".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let slow = Server::start_on(&fresh_database(backend).await?, &args).await?;
    let run = Cli::new(&slow)
        .run(&[
            "stores",
            "create",
            "slow-shop",
            "--engine",
            "static-site",
            "--wait",
            "--timeout",
            "1s",
        ])
        .await?;
    ensure!(run.code == 8, "exit {}: {}", run.code, run.stderr);
    ensure!(
        run.stderr
            .contains("error: store \"slow-shop\" is still not Ready after 1s"),
        "{}",
        run.stderr
    );
    Ok(())
}

async fn administration_tokens_tenants_audit_and_login(backend: Backend) -> Result<()> {
    let server = start(backend).await?;
    let cli = Cli::new(&server);

    let created = cli
        .ok(&[
            "tenants",
            "create",
            "acme",
            "--display-name",
            "Acme",
            "--max-stores",
            "1",
        ])
        .await?;
    ensure!(
        created.stdout.trim() == "tenants/acme",
        "{}",
        created.stdout
    );
    let tenants = cli.ok(&["tenants", "list", "-o", "json"]).await?.json()?;
    ensure!(
        tenants["tenants"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["id"] == "acme" && t["quota"]["maxStores"] == 1)),
        "{tenants}"
    );
    let updated = cli
        .ok(&[
            "tenants",
            "set-quota",
            "acme",
            "--max-stores",
            "2",
            "-o",
            "json",
        ])
        .await?
        .json()?;
    ensure!(updated["quota"]["maxStores"] == 2, "{updated}");
    let table = cli.ok(&["tenants", "list"]).await?;
    ensure!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("acme ") && l.contains("Acme")),
        "{}",
        table.stdout
    );

    let issued = cli
        .ok(&[
            "tokens",
            "create",
            "--tenant",
            "acme",
            "--role",
            "member",
            "--description",
            "ci",
        ])
        .await?;
    let secret = issued.stdout.trim().to_owned();
    ensure!(secret.starts_with("spt_"), "{}", issued.stdout);
    let tokens = cli
        .ok(&["tokens", "list", "--tenant", "acme", "-o", "json"])
        .await?
        .json()?;
    let id = tokens["tokens"][0]["id"]
        .as_str()
        .context("no token listed")?
        .to_owned();
    ensure!(tokens["tokens"][0]["role"] == "ROLE_MEMBER", "{tokens}");

    // The member's token works until revoked.
    let member = Cli {
        token: Some(secret.clone()),
        ..Cli::new(&server)
    };
    member.ok(&["stores", "list"]).await?;
    let forbidden = member.run(&["tenants", "list"]).await?;
    ensure!(
        forbidden.code == 5,
        "a member listed tenants: {}",
        forbidden.stderr
    );
    cli.ok(&["tokens", "revoke", &id]).await?;
    let revoked = member.run(&["stores", "list"]).await?;
    ensure!(
        revoked.code == 5,
        "exit {}: {}",
        revoked.code,
        revoked.stderr
    );

    let audit = cli.ok(&["audit", "list", "-o", "json"]).await?.json()?;
    ensure!(
        audit["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["method"]
                .as_str()
                .is_some_and(|m| m.contains("RevokeToken")))),
        "{audit}"
    );
    let audit = cli.ok(&["audit", "list"]).await?;
    ensure!(audit.stdout.starts_with("TIME"), "{}", audit.stdout);

    // login checks the token before saving it, and saves it privately.
    let fresh = Cli {
        token: Some("spt_not_a_token".into()),
        ..Cli::new(&server)
    };
    let refused = fresh.run(&["login"]).await?;
    ensure!(
        refused.code == 5 && !fresh.login_file.exists(),
        "{}",
        refused.stderr
    );
    let login = Cli {
        token: Some(server.admin_token.clone()),
        ..fresh
    };
    login.ok(&["login"]).await?;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&login.login_file)?.permissions(),
    );
    ensure!(
        mode & 0o077 == 0,
        "the login file is readable by others: {mode:o}"
    );
    // Without flags or environment, the saved server and token are used.
    let mut saved = Command::new(binary()?);
    saved
        .args(["stores", "list", "-o", "json"])
        .env_remove("STOREPLANE_TOKEN")
        .env_remove("STOREPLANE_SERVER")
        .env("STOREPLANE_LOGIN_FILE", &login.login_file);
    let output = saved.output().await?;
    ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Orphans: none on a fresh cluster; the JSON names this installation.
    let orphans = cli.ok(&["orphans", "list", "-o", "json"]).await?.json()?;
    ensure!(
        orphans["installationId"] == server.installation_id().await?.as_str(),
        "{orphans}"
    );
    let orphans = cli.ok(&["orphans", "list"]).await?;
    ensure!(
        orphans.stdout.starts_with("NAMESPACE"),
        "{}",
        orphans.stdout
    );

    let completions = cli.ok(&["completions", "bash"]).await?;
    ensure!(
        completions.stdout.contains("storeplane") && completions.stdout.contains("stores"),
        "no completions"
    );
    Ok(())
}
