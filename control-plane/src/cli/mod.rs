//! The client commands: the gRPC API for people and scripts (`storeplane
//! stores …`, `engines`, `audit`, `tokens`, `tenants`, `login`), beside the
//! server's own commands. Errors print the API's message verbatim on stderr
//! and map to documented exit codes ([`ExitCode`]).

mod backups;
mod connection;
mod output;
mod stores;

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use storeplane_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, audit_service_client::AuditServiceClient,
    engine_service_client::EngineServiceClient, info_service_client::InfoServiceClient,
    store_service_client::StoreServiceClient,
};
use tonic::{Code, Request, Status, transport::Channel};

pub use backups::{BackupsCommand, run as backups};
pub use connection::ConnectionArgs;
use output::{Format, Table, print_fields, print_structured, time};
pub use stores::{StoresCommand, run as stores};

/// The exit codes of the client commands (also in the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Done.
    #[expect(dead_code, reason = "documented: a command that succeeds exits 0")]
    Ok = 0,
    /// Any other error (internal, unknown).
    Error = 1,
    /// Bad command line (clap's own code).
    #[expect(dead_code, reason = "documented: clap exits 2 on a bad command line")]
    Usage = 2,
    /// The store, token or tenant does not exist (or is another tenant's).
    NotFound = 3,
    /// Invalid input: a field, the configuration, a name.
    Invalid = 4,
    /// No token, a bad token, or not allowed.
    Denied = 5,
    /// The server cannot be reached or is unavailable.
    Unavailable = 6,
    /// `--wait` ended with the store `FAILED`.
    StoreFailed = 7,
    /// `--wait` gave up after `--timeout`.
    Timeout = 8,
    /// Conflicts with the current state: exists already, wrong phase, stale etag.
    Conflict = 9,
    /// A quota or rate limit.
    Exhausted = 10,
}

impl ExitCode {
    fn of(status: &Status) -> Self {
        match status.code() {
            Code::NotFound => Self::NotFound,
            Code::InvalidArgument | Code::OutOfRange => Self::Invalid,
            Code::Unauthenticated | Code::PermissionDenied => Self::Denied,
            Code::Unavailable | Code::DeadlineExceeded => Self::Unavailable,
            Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => Self::Conflict,
            Code::ResourceExhausted => Self::Exhausted,
            _ => Self::Error,
        }
    }
}

/// A failure that ends the command with a given exit code.
#[derive(Debug)]
pub struct Exit {
    /// The code.
    pub code: ExitCode,
    /// What to print on stderr (after `error: `).
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The exit code and message for an error of a client command.
pub fn exit_for(error: &anyhow::Error) -> (ExitCode, String) {
    if let Some(exit) = error.downcast_ref::<Exit>() {
        return (exit.code, exit.message.clone());
    }
    if let Some(status) = error.downcast_ref::<Status>() {
        return (ExitCode::of(status), status.message().to_owned());
    }
    (ExitCode::Error, format!("{error:#}"))
}

/// A call's failure: the API's status, or "cannot reach" when the
/// transport failed before the server answered.
fn call_error(status: Status, server: &str) -> anyhow::Error {
    let unreachable = status.code() == Code::Unavailable
        && (status.message().contains("transport error")
            || status.message().contains("connect")
            || status.message().contains("dns error"));
    if unreachable {
        anyhow::Error::new(Exit {
            code: ExitCode::Unavailable,
            message: format!(
                "cannot reach the storeplane API at {server}: {}",
                status.message()
            ),
        })
    } else {
        anyhow::Error::new(status)
    }
}

/// Flags of every client command.
#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Output: a table for people, or the API's canonical JSON / YAML.
    #[arg(short, long, value_enum, default_value_t = Format::Table, global = true)]
    output: Format,
}

/// A connected client: the channel, the token, the output format.
pub struct Client {
    channel: Channel,
    server: String,
    token: Option<String>,
    format: Format,
}

impl Client {
    /// Connects as the flags, environment or login file say.
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let (server, token) = args.connection.resolve()?;
        Ok(Self {
            channel: connection::channel(&server)?,
            server,
            token,
            format: args.output,
        })
    }

    /// `message` with the bearer token.
    fn request<T>(&self, message: T) -> anyhow::Result<Request<T>> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}").parse().map_err(|_| Exit {
                code: ExitCode::Invalid,
                message: "the token holds characters a header cannot carry".into(),
            })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }

    fn stores(&self) -> StoreServiceClient<Channel> {
        StoreServiceClient::new(self.channel.clone())
    }

    fn engines(&self) -> EngineServiceClient<Channel> {
        EngineServiceClient::new(self.channel.clone())
    }

    fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel.clone())
    }

    fn fail(&self, status: Status) -> anyhow::Error {
        call_error(status, &self.server)
    }
}

/// A unary call's answer, or its failure as the CLI reports it.
trait Answer<T> {
    async fn answer(self, client: &Client) -> anyhow::Result<T>;
}

impl<T, F> Answer<T> for F
where
    F: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
{
    async fn answer(self, client: &Client) -> anyhow::Result<T> {
        self.await
            .map(tonic::Response::into_inner)
            .map_err(|s| client.fail(s))
    }
}

/// The installed engines.
async fn list_engines(client: &Client) -> anyhow::Result<pb::ListEnginesResponse> {
    client
        .engines()
        .list_engines(client.request(pb::ListEnginesRequest {})?)
        .answer(client)
        .await
}

/// `storeplane engines …`
#[derive(Subcommand, Debug)]
pub enum EnginesCommand {
    /// The engines a store can be created with.
    List,
    /// One engine: version, description and its configuration schema.
    Describe {
        /// Engine id, e.g. `woocommerce`.
        engine: String,
    },
}

/// `storeplane audit …`
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Audit entries, newest first (administrators see every tenant's).
    List {
        /// Only this tenant's entries (administrators).
        #[arg(long, default_value = "")]
        tenant: String,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
}

/// `storeplane orphans …`
#[derive(Subcommand, Debug)]
pub enum OrphansCommand {
    /// Namespaces labelled as storeplane's with no store record here
    /// (administrators): reported, deleted only by `serve --delete-orphans`.
    List,
}

/// Token roles.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    /// Every tenant's stores, plus administration.
    Admin,
    /// Its own tenant's stores.
    Member,
}

/// A new token, on the command line (`tokens create` and `db token create`).
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Tenant the token acts for.
    #[arg(long)]
    pub tenant: String,
    /// What the token may do.
    #[arg(long, value_enum, default_value_t = RoleArg::Member)]
    pub role: RoleArg,
    /// Free text, e.g. who holds it.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Lifetime, e.g. `30d` (default: no expiry).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub expires_in: Option<Duration>,
}

/// `storeplane tokens …` (through the API; administrators).
#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create a token; its secret is printed once.
    Create {
        #[command(flatten)]
        token: TokenArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this tenant's.
        #[arg(long, default_value = "")]
        tenant: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id.
        id: String,
    },
}

/// `storeplane tenants …` (through the API; administrators).
#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// Lowercase DNS label, e.g. `acme`.
        id: String,
        /// Name shown to people (default: the id).
        #[arg(long, default_value = "")]
        display_name: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// List tenants and their quotas.
    List,
    /// Replace a tenant's quota.
    SetQuota {
        /// Tenant id.
        tenant: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
}

/// A tenant's quota on the command line (`tenants` and `db tenant`).
#[derive(Args, Debug)]
pub struct QuotaArgs {
    /// Most stores the tenant may have (default: unlimited).
    #[arg(long)]
    pub max_stores: Option<u32>,
    /// Most stores provisioning at once (default: unlimited).
    #[arg(long)]
    pub max_concurrent_provisions: Option<u32>,
    /// Engines the tenant may use, comma separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub allowed_engines: Vec<String>,
}

impl QuotaArgs {
    /// The API's form (`int32`; a larger limit is clamped to `i32::MAX`,
    /// more than any real one).
    fn to_pb(&self) -> pb::Quota {
        let limit = |l: Option<u32>| l.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
        pb::Quota {
            max_stores: limit(self.max_stores),
            max_concurrent_provisions: limit(self.max_concurrent_provisions),
            allowed_engines: self.allowed_engines.clone(),
        }
    }
}

/// `storeplane login`: checks the server and token, then saves both.
pub async fn login(args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let token = client.token.clone().ok_or_else(|| Exit {
        code: ExitCode::Invalid,
        message: "login needs a token: --token or STOREPLANE_TOKEN".into(),
    })?;
    let info = InfoServiceClient::new(client.channel.clone())
        .get_server_info(client.request(pb::GetServerInfoRequest {})?)
        .answer(&client)
        .await?;
    // A call that needs the token proves it works.
    list_engines(&client).await?;
    let path = args.connection.config_path()?;
    connection::write_login(
        &path,
        &connection::LoginFile {
            server: client.server.clone(),
            token,
        },
    )?;
    eprintln!(
        "logged in to {} (storeplane {}); saved to {}",
        client.server,
        info.version,
        path.display()
    );
    Ok(())
}

/// `storeplane engines …`
pub async fn engines(args: &ClientArgs, command: &EnginesCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let list = list_engines(&client).await?;
    match command {
        EnginesCommand::List => {
            if print_structured(client.format, &list, "storeplane.v1.ListEnginesResponse")? {
                return Ok(());
            }
            let mut table = Table::new(&["ENGINE", "VERSION", "NAME", "DESCRIPTION"]);
            for e in &list.engines {
                table.row(vec![
                    e.id.clone(),
                    e.version.clone(),
                    e.display_name.clone(),
                    e.description.clone(),
                ]);
            }
            table.print();
        }
        EnginesCommand::Describe { engine } => {
            let found = find_engine(&list, engine)?;
            if print_structured(client.format, found, "storeplane.v1.Engine")? {
                return Ok(());
            }
            print_fields(&[
                ("engine", found.id.clone()),
                ("name", found.display_name.clone()),
                ("version", found.version.clone()),
                ("description", found.description.clone()),
            ]);
            let schema: serde_json::Value =
                serde_json::from_str(&found.config_schema).unwrap_or_default();
            println!("configuration schema:");
            println!("{}", serde_json::to_string_pretty(&schema)?);
        }
    }
    Ok(())
}

/// The engine `id`, or the server's wording for an unknown one.
fn find_engine<'a>(list: &'a pb::ListEnginesResponse, id: &str) -> anyhow::Result<&'a pb::Engine> {
    list.engines.iter().find(|e| e.id == id).ok_or_else(|| {
        let known: Vec<&str> = list.engines.iter().map(|e| e.id.as_str()).collect();
        let known = if known.is_empty() {
            "no engines are installed".to_owned()
        } else {
            format!("known engines: {}", known.join(", "))
        };
        anyhow::Error::new(Exit {
            code: ExitCode::NotFound,
            message: format!("unknown engine {id:?}; {known}"),
        })
    })
}

/// `storeplane audit …`
pub async fn audit(args: &ClientArgs, command: &AuditCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let AuditCommand::List { tenant, limit } = command;
    let entries = AuditServiceClient::new(client.channel.clone())
        .list_audit_entries(client.request(pb::ListAuditEntriesRequest {
            page_size: *limit,
            page_token: String::new(),
            tenant: tenant.clone(),
        })?)
        .answer(&client)
        .await?;
    if print_structured(
        client.format,
        &entries,
        "storeplane.v1.ListAuditEntriesResponse",
    )? {
        return Ok(());
    }
    let mut table = Table::new(&["TIME", "TENANT", "METHOD", "RESOURCE", "OUTCOME", "MESSAGE"]);
    for e in &entries.entries {
        table.row(vec![
            time(e.time.as_ref()),
            e.tenant.clone(),
            e.method.clone(),
            e.resource.clone(),
            e.outcome.clone(),
            e.message.clone(),
        ]);
    }
    table.print();
    Ok(())
}

/// `storeplane orphans …`
pub async fn orphans(args: &ClientArgs, command: &OrphansCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let OrphansCommand::List = command;
    let orphans = client
        .admin()
        .list_orphaned_namespaces(client.request(pb::ListOrphanedNamespacesRequest {})?)
        .answer(&client)
        .await?;
    if print_structured(
        client.format,
        &orphans,
        "storeplane.v1.ListOrphanedNamespacesResponse",
    )? {
        return Ok(());
    }
    let mut table = Table::new(&[
        "NAMESPACE",
        "STORE ID",
        "INSTALLATION",
        "FIRST SEEN",
        "DELETE AFTER",
    ]);
    for o in &orphans.namespaces {
        table.row(vec![
            o.namespace.clone(),
            o.store_id.clone(),
            if o.this_installation {
                "this".to_owned()
            } else {
                o.installation_id.clone()
            },
            time(o.first_seen.as_ref()),
            time(o.delete_after.as_ref()),
        ]);
    }
    table.print();
    Ok(())
}

fn role_name(role: i32) -> &'static str {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Admin) => "admin",
        Ok(pb::Role::Member) => "member",
        _ => "unspecified",
    }
}

/// `storeplane tokens …`
pub async fn tokens(args: &ClientArgs, command: &TokensCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let mut admin = client.admin();
    match command {
        TokensCommand::Create {
            token:
                TokenArgs {
                    tenant,
                    role,
                    description,
                    expires_in,
                },
        } => {
            let created = admin
                .create_token(
                    client.request(pb::CreateTokenRequest {
                        tenant: tenant.clone(),
                        role: match role {
                            RoleArg::Admin => pb::Role::Admin,
                            RoleArg::Member => pb::Role::Member,
                        }
                        .into(),
                        description: description.clone(),
                        ttl: expires_in.and_then(|d| prost_types::Duration::try_from(d).ok()),
                    })?,
                )
                .answer(&client)
                .await?;
            if print_structured(client.format, &created, "storeplane.v1.CreateTokenResponse")? {
                return Ok(());
            }
            if let Some(token) = &created.token {
                eprintln!(
                    "created token {} for {} ({}); it is shown once:",
                    token.id,
                    token.tenant,
                    role_name(token.role)
                );
            }
            println!("{}", created.secret);
        }
        TokensCommand::List { tenant } => {
            let list = admin
                .list_tokens(client.request(pb::ListTokensRequest {
                    tenant: tenant.clone(),
                })?)
                .answer(&client)
                .await?;
            if print_structured(client.format, &list, "storeplane.v1.ListTokensResponse")? {
                return Ok(());
            }
            let mut table =
                Table::new(&["ID", "TENANT", "ROLE", "EXPIRES", "REVOKED", "DESCRIPTION"]);
            for t in &list.tokens {
                table.row(vec![
                    t.id.clone(),
                    t.tenant.clone(),
                    role_name(t.role).to_owned(),
                    t.expire_time
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), |e| time(Some(e))),
                    time(t.revoke_time.as_ref()),
                    t.description.clone(),
                ]);
            }
            table.print();
        }
        TokensCommand::Revoke { id } => {
            let token = admin
                .revoke_token(client.request(pb::RevokeTokenRequest { id: id.clone() })?)
                .answer(&client)
                .await?;
            if !print_structured(client.format, &token, "storeplane.v1.Token")? {
                println!("revoked token {}", token.id);
            }
        }
    }
    Ok(())
}

fn limit_text(limit: Option<i32>) -> String {
    limit.map_or_else(|| "unlimited".into(), |l| l.to_string())
}

/// `storeplane tenants …`
pub async fn tenants(args: &ClientArgs, command: &TenantsCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let mut admin = client.admin();
    let tenant = match command {
        TenantsCommand::Create {
            id,
            display_name,
            quota,
        } => {
            admin
                .create_tenant(client.request(pb::CreateTenantRequest {
                    id: id.clone(),
                    display_name: display_name.clone(),
                    quota: Some(quota.to_pb()),
                })?)
                .answer(&client)
                .await?
        }
        TenantsCommand::SetQuota { tenant, quota } => {
            admin
                .update_tenant_quota(client.request(pb::UpdateTenantQuotaRequest {
                    tenant: tenant.clone(),
                    quota: Some(quota.to_pb()),
                })?)
                .answer(&client)
                .await?
        }
        TenantsCommand::List => {
            let list = admin
                .list_tenants(client.request(pb::ListTenantsRequest {})?)
                .answer(&client)
                .await?;
            if print_structured(client.format, &list, "storeplane.v1.ListTenantsResponse")? {
                return Ok(());
            }
            let mut table = Table::new(&["TENANT", "NAME", "STORES", "PROVISIONING", "ENGINES"]);
            for t in &list.tenants {
                let quota = t.quota.clone().unwrap_or_default();
                table.row(vec![
                    t.id.clone(),
                    t.display_name.clone(),
                    limit_text(quota.max_stores),
                    limit_text(quota.max_concurrent_provisions),
                    if quota.allowed_engines.is_empty() {
                        "all".into()
                    } else {
                        quota.allowed_engines.join(",")
                    },
                ]);
            }
            table.print();
            return Ok(());
        }
    };
    if !print_structured(client.format, &tenant, "storeplane.v1.Tenant")? {
        println!("{}", tenant.name);
    }
    Ok(())
}

/// Prints shell completions for `command`.
pub fn completions(shell: clap_complete::Shell, command: &mut clap::Command) {
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, command, name, &mut std::io::stdout());
}

/// Runs a client command to its exit code, printing its error.
pub async fn run(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    match work.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let (code, message) = exit_for(&error);
            eprintln!("error: {message}");
            std::process::ExitCode::from(code as u8)
        }
    }
}
