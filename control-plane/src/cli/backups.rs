//! `storeplane backups …`: list, get, delete. Taking and restoring a backup
//! are store commands (`storeplane stores backup|restore`), cloning is
//! `storeplane stores create --from-backup`.

use clap::Subcommand;
use storeplane_proto::v1 as pb;

use super::output::{Table, print_fields, print_structured, time};
use super::{Answer as _, Client, ClientArgs};

/// `storeplane backups …`
#[derive(Subcommand, Debug)]
pub enum BackupsCommand {
    /// Backups visible to the token, newest first (all pages).
    List {
        /// Only those of stores of this name (also deleted ones).
        #[arg(long, default_value = "")]
        store: String,
    },
    /// One backup.
    Get {
        /// Backup id.
        id: String,
    },
    /// Delete a finished backup and its archive.
    Delete {
        /// Backup id.
        id: String,
    },
}

/// `storeplane backups …`
pub async fn run(args: &ClientArgs, command: &BackupsCommand) -> anyhow::Result<()> {
    let client = Client::new(args)?;
    let mut stores = client.stores();
    match command {
        BackupsCommand::List { store } => {
            let mut all = pb::ListBackupsResponse::default();
            loop {
                let page = stores
                    .list_backups(client.request(pb::ListBackupsRequest {
                        store_id: String::new(),
                        store_name: store.clone(),
                        page_size: 100,
                        page_token: all.next_page_token.clone(),
                    })?)
                    .answer(&client)
                    .await?;
                all.backups.extend(page.backups);
                all.next_page_token = page.next_page_token;
                if all.next_page_token.is_empty() {
                    break;
                }
            }
            if print_structured(client.format, &all, "storeplane.v1.ListBackupsResponse")? {
                return Ok(());
            }
            let mut table = Table::new(&["ID", "STORE", "PHASE", "TRIGGER", "SIZE", "CREATED"]);
            for b in &all.backups {
                table.row(vec![
                    b.id.clone(),
                    b.store_name.clone(),
                    phase(b.phase).to_owned(),
                    trigger(b.trigger).to_owned(),
                    size(b.size_bytes),
                    time(b.create_time.as_ref()),
                ]);
            }
            table.print();
        }
        BackupsCommand::Get { id } => {
            let backup = stores
                .get_backup(client.request(pb::GetBackupRequest { id: id.clone() })?)
                .answer(&client)
                .await?;
            print_backup(&client, &backup)?;
        }
        BackupsCommand::Delete { id } => {
            let backup = stores
                .delete_backup(client.request(pb::DeleteBackupRequest { id: id.clone() })?)
                .answer(&client)
                .await?;
            if !print_structured(client.format, &backup, "storeplane.v1.Backup")? {
                println!("deleted backup {}", backup.id);
            }
        }
    }
    Ok(())
}

/// One backup, as a table of fields or structured output.
pub(super) fn print_backup(client: &Client, b: &pb::Backup) -> anyhow::Result<()> {
    if print_structured(client.format, b, "storeplane.v1.Backup")? {
        return Ok(());
    }
    print_fields(&[
        ("id", b.id.clone()),
        ("store", format!("{} ({})", b.store_name, b.store_id)),
        ("engine", format!("{} {}", b.engine, b.engine_version)),
        ("phase", phase(b.phase).to_owned()),
        ("trigger", trigger(b.trigger).to_owned()),
        ("size", size(b.size_bytes)),
        ("sha256", b.sha256.clone()),
        (
            "message",
            if b.failure_reason.is_empty() {
                b.message.clone()
            } else {
                format!("{}: {}", b.failure_reason, b.message)
            },
        ),
        ("created", time(b.create_time.as_ref())),
        ("completed", time(b.complete_time.as_ref())),
    ]);
    Ok(())
}

fn phase(value: i32) -> &'static str {
    match pb::BackupPhase::try_from(value) {
        Ok(pb::BackupPhase::Pending) => "Pending",
        Ok(pb::BackupPhase::Running) => "Running",
        Ok(pb::BackupPhase::Succeeded) => "Succeeded",
        Ok(pb::BackupPhase::Failed) => "Failed",
        _ => "Unspecified",
    }
}

fn trigger(value: i32) -> &'static str {
    match pb::BackupTrigger::try_from(value) {
        Ok(pb::BackupTrigger::Manual) => "manual",
        Ok(pb::BackupTrigger::Scheduled) => "scheduled",
        Ok(pb::BackupTrigger::PreUpgrade) => "pre-upgrade",
        _ => "",
    }
}

/// Bytes in binary units, as people read sizes.
fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if bytes <= 0 {
        return String::new();
    }
    #[allow(clippy::cast_precision_loss, reason = "a size for people")]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size(0), "");
        assert_eq!(size(318), "318 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(23_383_244), "22.3 MiB");
    }
}
