//! `storeplane db tenant …` (also `storeplane tenant …`): tenants, in the
//! database.

use clap::Subcommand;
use storeplane::domain::tenancy::Quota;

use super::db::{DbArgs, admin, operator};
use crate::cli;

/// `storeplane db tenant …`
#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Lowercase DNS label, e.g. `acme`.
        id: String,
        /// Name shown to people (default: the id).
        #[arg(long, default_value = "")]
        display_name: String,
        #[command(flatten)]
        quota: cli::QuotaArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tenants and their quotas.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs a `db tenant` subcommand.
pub async fn run(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            id,
            display_name,
            quota,
            db,
        } => {
            let quota = Quota {
                max_stores: quota.max_stores,
                max_concurrent_provisions: quota.max_concurrent_provisions,
                allowed_engines: quota.allowed_engines.clone(),
            };
            let tenant = admin(&db)
                .await?
                .create_tenant(&operator(), &id, &display_name, quota)
                .await?;
            println!("created tenants/{}", tenant.id.0);
        }
        TenantCommand::List { db } => {
            println!(
                "{:<24} {:<32} {:>10} {:>13}  ENGINES",
                "ID", "NAME", "STORES", "PROVISIONING"
            );
            for t in admin(&db).await?.tenants(&operator()).await? {
                let engines = if t.quota.allowed_engines.is_empty() {
                    "all".to_owned()
                } else {
                    t.quota.allowed_engines.join(",")
                };
                println!(
                    "{:<24} {:<32} {:>10} {:>13}  {engines}",
                    t.id.0,
                    t.display_name,
                    show_limit(t.quota.max_stores),
                    show_limit(t.quota.max_concurrent_provisions),
                );
            }
        }
    }
    Ok(())
}

/// A quota limit in the table, where "none" means unlimited.
fn show_limit(limit: Option<u32>) -> String {
    limit.map_or_else(|| "unlimited".into(), |l| l.to_string())
}
