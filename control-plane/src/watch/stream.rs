//! One watcher: list-then-watch with resume tokens.

use std::{sync::Arc, time::Duration};

use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{ChangeHub, HubMessage};
use crate::domain::{
    ChangeType, ChangesSince, Result, Store, StoreChange, ports::StoreRepository, tenancy::Scope,
};

/// How many changes a catch-up reads from the log at once.
const CATCH_UP_BATCH: u64 = 500;
/// Events buffered per watcher before the producer waits for the client.
const BUFFER: usize = 256;

/// What a watcher receives.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// A store of the initial list (no resume token: a client cut off during
    /// the initial list must list again) or a created store.
    Added(Store, Option<i64>),
    /// A store changed.
    Modified(Store, i64),
    /// A store is gone.
    Deleted(Store, i64),
    /// The initial list is complete.
    InitialListComplete(i64),
    /// Nothing happened for a while.
    Heartbeat(i64),
    /// The resume point is gone; list again. Last event of the stream.
    ResyncRequired,
}

/// How a watch behaves.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Interval between heartbeats on an idle stream.
    pub heartbeat: Duration,
}

/// Starts a watch of the stores in `scope` from `resume` (or from a fresh list)
/// and returns its events. The stream ends when the receiver is dropped,
/// on `cancel` (server shutdown), after `ResyncRequired`, or with an error.
pub fn watch(
    repo: Arc<dyn StoreRepository>,
    hub: &ChangeHub,
    scope: Scope,
    resume: Option<i64>,
    options: WatchOptions,
    cancel: CancellationToken,
) -> mpsc::Receiver<Result<WatchEvent>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    // Subscribe before reading so nothing committed meanwhile is missed.
    let mut changes = hub.subscribe();
    tokio::spawn(async move {
        let mut watcher = Watcher {
            repo,
            scope,
            tx,
            last: 0,
        };
        let started = match resume {
            None => watcher.list().await,
            Some(seq) => {
                watcher.last = seq;
                watcher.catch_up().await
            }
        };
        if !matches!(started, Ok(true)) {
            return watcher.finish(started).await;
        }
        let mut heartbeat = tokio::time::interval_at(
            tokio::time::Instant::now() + options.heartbeat,
            options.heartbeat,
        );
        loop {
            let step = tokio::select! {
                message = changes.recv() => match message {
                    Ok(HubMessage::Change(change)) => watcher.forward(&change).await,
                    Ok(HubMessage::Gone) => watcher.resync().await,
                    // Fell behind the hub: read the missed changes from the log.
                    Err(RecvError::Lagged(_)) => watcher.catch_up().await,
                    Err(RecvError::Closed) => Ok(false),
                },
                _ = heartbeat.tick() => watcher.send(WatchEvent::Heartbeat(watcher.last)).await,
                () = watcher.tx.closed() => Ok(false),
                () = cancel.cancelled() => Ok(false),
            };
            if !matches!(step, Ok(true)) {
                return watcher.finish(step).await;
            }
        }
    });
    rx
}

struct Watcher {
    repo: Arc<dyn StoreRepository>,
    scope: Scope,
    tx: mpsc::Sender<Result<WatchEvent>>,
    /// Log position of the last change handled.
    last: i64,
}

/// `Ok(true)`: keep going; `Ok(false)`: stop quietly; `Err`: stop with it.
type Step = Result<bool>;

impl Watcher {
    async fn send(&self, event: WatchEvent) -> Step {
        Ok(self.tx.send(Ok(event)).await.is_ok())
    }

    async fn finish(self, step: Step) {
        if let Err(err) = step {
            debug!(error = %err, "watch ended with an error");
            let _ = self.tx.send(Err(err)).await;
        }
    }

    async fn list(&mut self) -> Step {
        let snapshot = self.repo.snapshot(&self.scope).await?;
        self.last = snapshot.seq;
        for store in snapshot.stores {
            if !self.send(WatchEvent::Added(store, None)).await? {
                return Ok(false);
            }
        }
        self.send(WatchEvent::InitialListComplete(self.last)).await
    }

    async fn catch_up(&mut self) -> Step {
        loop {
            match self.repo.changes_since(self.last, CATCH_UP_BATCH).await? {
                ChangesSince::Gone => return self.resync().await,
                ChangesSince::Changes(changes) if changes.is_empty() => return Ok(true),
                ChangesSince::Changes(changes) => {
                    for change in &changes {
                        if !self.forward(change).await? {
                            return Ok(false);
                        }
                    }
                }
            }
        }
    }

    async fn forward(&mut self, change: &StoreChange) -> Step {
        if change.seq <= self.last {
            return Ok(true);
        }
        self.last = change.seq;
        if !self.scope.includes(&change.store.tenant) {
            return Ok(true);
        }
        let store = change.store.clone();
        let event = match change.change_type {
            ChangeType::Added => WatchEvent::Added(store, Some(change.seq)),
            ChangeType::Modified => WatchEvent::Modified(store, change.seq),
            ChangeType::Deleted => WatchEvent::Deleted(store, change.seq),
        };
        self.send(event).await
    }

    async fn resync(&mut self) -> Step {
        self.send(WatchEvent::ResyncRequired).await?;
        Ok(false)
    }
}
