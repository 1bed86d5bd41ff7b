//! The per-process change fan-out.

use std::{sync::Arc, time::Duration};

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::domain::{ChangesSince, StoreChange, ports::StoreRepository};

/// How many changes the hub reads from the log at once.
const BATCH: u64 = 500;
/// How many messages a slow watcher may fall behind before it re-reads the
/// log itself.
const CAPACITY: usize = 1024;
/// First pause before reading the log again after a database error; it
/// doubles with every further failure up to [`RETRY_MAX_DELAY`], so an
/// outage costs a handful of attempts, not a busy loop. Watchers stay
/// subscribed meanwhile and get what was missed once the log reads again.
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest pause between two reads of the log during an outage.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(5);

/// What the hub broadcasts.
#[derive(Debug, Clone)]
pub enum HubMessage {
    /// The next committed change, in log order.
    Change(Arc<StoreChange>),
    /// The hub fell behind the log's retention; watchers must resync.
    Gone,
}

/// Fans committed changes out to watchers, in log order, exactly once each.
#[derive(Clone)]
pub struct ChangeHub {
    tx: broadcast::Sender<HubMessage>,
}

impl ChangeHub {
    /// Starts the hub at log position `start`; it reads the log whenever
    /// `wake` is signalled, until `cancel`.
    pub fn spawn(
        repo: Arc<dyn StoreRepository>,
        wake: Arc<Notify>,
        start: i64,
        cancel: CancellationToken,
    ) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let hub = Self { tx: tx.clone() };
        tokio::spawn(async move {
            let mut last = start;
            let mut retry = RETRY_FIRST_DELAY;
            loop {
                tokio::select! {
                    () = wake.notified() => {}
                    () = cancel.cancelled() => return,
                }
                loop {
                    match repo.changes_since(last, BATCH).await {
                        Ok(ChangesSince::Changes(changes)) => {
                            retry = RETRY_FIRST_DELAY;
                            let short = (changes.len() as u64) < BATCH;
                            for change in changes {
                                last = change.seq;
                                // No receivers is fine: nobody is watching.
                                let _ = tx.send(HubMessage::Change(Arc::new(change)));
                            }
                            // A short (or empty) batch is the log's end as of
                            // this read. A commit since then has left `wake` a
                            // permit, so the next read comes at once; reading
                            // on until an empty batch cost every commit two
                            // more statements (the empty read and its bounds
                            // check): a sixth of the control plane's SQLite
                            // statements in a burst of creates.
                            if short {
                                break;
                            }
                        }
                        Ok(ChangesSince::Gone) => {
                            warn!(
                                last,
                                "change hub fell behind the change log; watchers resync"
                            );
                            let _ = tx.send(HubMessage::Gone);
                            match repo.latest_seq().await {
                                Ok(latest) => last = latest,
                                Err(err) => warn!(error = %err, "cannot read change log position"),
                            }
                            break;
                        }
                        Err(err) => {
                            warn!(error = %err, retry_in_ms = retry.as_millis() as u64, "cannot read change log; retrying");
                            tokio::select! {
                                () = tokio::time::sleep(retry) => {}
                                () = cancel.cancelled() => return,
                            }
                            retry = (retry * 2).min(RETRY_MAX_DELAY);
                        }
                    }
                }
                debug!(last, "change hub caught up");
            }
        });
        hub
    }

    /// A receiver of every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HubMessage> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Notify;
    use tokio_util::sync::CancellationToken;

    use super::{ChangeHub, HubMessage};
    use crate::domain::ports::StoreRepository;
    use crate::persistence::scripted::{Scripted, memory_repo, new_store};

    /// The hub reads the log once per wake and stops at a short batch. A
    /// commit that lands after that read but before the hub waits again
    /// must still reach watchers without any later commit to wake the hub:
    /// its wake-up is the permit `Notify` keeps for the next wait.
    #[tokio::test]
    async fn a_commit_during_the_hubs_read_is_delivered_without_another_wake() {
        let wake = Arc::new(Notify::new());
        let repo: Arc<dyn StoreRepository> = memory_repo(Arc::clone(&wake)).await;
        let scripted = Arc::new(Scripted::new(Arc::clone(&repo)));
        let cancel = CancellationToken::new();
        let hub = ChangeHub::spawn(
            Arc::clone(&scripted) as Arc<dyn StoreRepository>,
            wake,
            0,
            cancel.clone(),
        );
        let mut changes = hub.subscribe();
        // The first commit wakes the hub; right after the hub has read it
        // (a short batch, so the read ends there), a second one commits.
        let during = Arc::clone(&repo);
        *scripted.after_changes_read.lock().await = Some(Box::pin(async move {
            during
                .create(new_store("second"), None)
                .await
                .expect("create during the read");
        }));
        repo.create(new_store("first"), None).await.expect("create");

        let mut names = Vec::new();
        while names.len() < 2 {
            let message = tokio::time::timeout(std::time::Duration::from_secs(10), changes.recv())
                .await
                .expect("the change committed during the hub's read was not delivered")
                .expect("hub open");
            match message {
                HubMessage::Change(change) => names.push(change.store.name.clone()),
                HubMessage::Gone => panic!("the log is not behind"),
            }
        }
        assert_eq!(names, ["first", "second"]);
        cancel.cancel();
    }
}
