//! `storeplane db token …` (also `storeplane token …`): API tokens, in the
//! database.

use clap::Subcommand;
use storeplane::domain::tenancy::Role;

use super::db::{DbArgs, admin, operator};
use crate::cli;

/// `storeplane db token …`
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once).
    Create {
        #[command(flatten)]
        token: cli::TokenArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this tenant's.
        #[arg(long, default_value = "")]
        tenant: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (the part after `spt_`, before the second `_`).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs a `db token` subcommand.
pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { token, db } => {
            let role = match token.role {
                cli::RoleArg::Admin => Role::Admin,
                cli::RoleArg::Member => Role::Member,
            };
            let issued = admin(&db)
                .await?
                .create_token(
                    &operator(),
                    &token.tenant,
                    Some(role),
                    &token.description,
                    token.expires_in,
                )
                .await?;
            // The secret alone on stdout, so that a script can capture it;
            // what it is goes to stderr.
            eprintln!(
                "created token {} for tenants/{} ({}); it is shown once:",
                issued.token.id,
                issued.token.tenant.0,
                issued.token.role.as_str()
            );
            println!("{}", issued.secret);
        }
        TokenCommand::List { tenant, db } => {
            println!(
                "{:<18} {:<24} {:<7} {:<26} {:<10}  DESCRIPTION",
                "ID", "TENANT", "ROLE", "EXPIRES", "STATE"
            );
            for t in admin(&db).await?.tokens(&operator(), &tenant).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.is_valid_at(chrono::Utc::now()) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "{:<18} {:<24} {:<7} {:<26} {:<10}  {}",
                    t.id,
                    t.tenant.0,
                    t.role.as_str(),
                    t.expires_at
                        .map_or_else(|| "never".into(), |e| e.to_rfc3339()),
                    state,
                    t.description
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let token = admin(&db).await?.revoke_token(&operator(), &id).await?;
            println!("revoked token {}", token.id);
        }
    }
    Ok(())
}
