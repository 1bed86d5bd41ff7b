//! One watcher: list-then-watch with resume tokens.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use tokio::sync::{
    broadcast::{self, error::RecvError},
    mpsc,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{ChangeHub, HubMessage};
use crate::domain::{
    ChangeType, ChangesSince, Error, Result, Store, StoreChange, ports::StoreRepository,
    tenancy::Scope,
};

/// How many changes a catch-up reads from the log at once.
const CATCH_UP_BATCH: u64 = 500;
/// Events buffered per watcher before the producer waits for the client.
const BUFFER: usize = 256;
/// How long a watch of a replica shutting down may spend sending what was
/// committed up to then before it ends (the client resumes from its last
/// token anyway; this only spares it a few events on the next replica).
const LAST_CATCH_UP: Duration = Duration::from_secs(2);

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

/// Re-checks a watch's credentials: a stream lives as long as its token.
///
/// Both ways the review offered, because each misses what the other sees:
/// - revocations made through this process's API are pushed to its
///   watchers (`revocations`), which end before delivering anything
///   committed after the revocation;
/// - a token revoked by another replica or by `storeplane token revoke`
///   (which writes the database directly) reaches no in-process signal, so
///   every heartbeat also looks the token up (`check`): one indexed read
///   per watcher per heartbeat (15 s by default) bounds the delay to one
///   heartbeat.
///
/// Expiry needs no lookup: the stream ends at `expires_at` exactly.
pub struct WatchAuth {
    /// When the token stops authenticating; the stream ends then.
    pub expires_at: Option<tokio::time::Instant>,
    /// Asked before every heartbeat. `Unauthenticated` ends the stream with
    /// that error; any other error (the database does not answer) keeps it
    /// open until the next heartbeat asks again.
    pub check: Box<dyn Fn() -> BoxFuture<'static, Result<()>> + Send + Sync>,
    /// The token's id and the ids of tokens revoked through this process.
    pub revocations: Option<(String, broadcast::Receiver<String>)>,
}

impl WatchAuth {
    /// No credentials to re-check (authentication disabled, tests).
    pub fn none() -> Self {
        Self {
            expires_at: None,
            check: Box::new(|| Box::pin(async { Ok(()) })),
            revocations: None,
        }
    }
}

/// What the revocation feed says about this watch's token.
enum Revocation {
    /// This token was revoked.
    Mine,
    /// Revocations were missed: look the token up.
    Missed,
    /// Another token; nothing to do.
    Other,
}

/// The next revocation, or never when there is no feed.
async fn next_revocation(feed: &mut Option<(String, broadcast::Receiver<String>)>) -> Revocation {
    let Some((mine, receiver)) = feed else {
        return std::future::pending().await;
    };
    match receiver.recv().await {
        Ok(id) if id == *mine => Revocation::Mine,
        Ok(_) => Revocation::Other,
        Err(RecvError::Lagged(_)) => Revocation::Missed,
        Err(RecvError::Closed) => {
            *feed = None;
            Revocation::Other
        }
    }
}

/// `Unauthenticated` for a revoked token.
fn revoked() -> Error {
    Error::Unauthenticated("the token was revoked; watch again with a valid token".into())
}

/// Starts a watch of the stores in `scope` from `resume` (or from a fresh list)
/// and returns its events. The stream ends when the receiver is dropped,
/// after `ResyncRequired`, with an error, with `Unauthenticated` when
/// `auth` says the token no longer holds, or on `cancel` (this replica
/// shuts down) with [`Error::ShuttingDown`] after the changes committed
/// until then: the client resumes with its last token on another replica.
pub fn watch(
    repo: Arc<dyn StoreRepository>,
    hub: &ChangeHub,
    scope: Scope,
    resume: Option<i64>,
    options: WatchOptions,
    cancel: CancellationToken,
    auth: WatchAuth,
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
        let expires_at = auth.expires_at;
        let expiry = async move {
            match expires_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let mut auth = auth;
        loop {
            let step = tokio::select! {
                // Credentials first: nothing committed after a revocation
                // this process saw may reach the client.
                biased;
                revocation = next_revocation(&mut auth.revocations) => match revocation {
                    Revocation::Mine => Err(revoked()),
                    Revocation::Missed => match (auth.check)().await {
                        Err(err @ Error::Unauthenticated(_)) => Err(err),
                        _ => Ok(true),
                    },
                    Revocation::Other => Ok(true),
                },
                () = &mut expiry => Err(Error::Unauthenticated(
                    "the token expired; watch again with a valid token".into(),
                )),
                // Before changes: a busy log must not keep a replica that
                // shuts down from ending its watches.
                () = cancel.cancelled() => watcher.last_words().await,
                message = changes.recv() => match message {
                    Ok(HubMessage::Change(change)) => watcher.forward(&change).await,
                    Ok(HubMessage::Gone) => watcher.resync().await,
                    // Fell behind the hub: read the missed changes from the log.
                    Err(RecvError::Lagged(_)) => watcher.catch_up().await,
                    Err(RecvError::Closed) => Ok(false),
                },
                _ = heartbeat.tick() => match (auth.check)().await {
                    Ok(()) => watcher.send(WatchEvent::Heartbeat(watcher.last)).await,
                    Err(err @ Error::Unauthenticated(_)) => Err(err),
                    Err(err) => {
                        // Cannot tell now (the database does not answer):
                        // keep the stream, ask again next heartbeat.
                        warn!(error = %err, "cannot re-check a watcher's token");
                        watcher.send(WatchEvent::Heartbeat(watcher.last)).await
                    }
                },
                () = watcher.tx.closed() => Ok(false),
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

    /// The replica shuts down: sends what was committed until now (for
    /// at most [`LAST_CATCH_UP`]), then ends with `ShuttingDown`, from
    /// which the client resumes elsewhere with its last token.
    async fn last_words(&mut self) -> Step {
        match tokio::time::timeout(LAST_CATCH_UP, self.catch_up()).await {
            // The client left, or was told to resync: nothing more to say.
            Ok(Ok(false)) => return Ok(false),
            Ok(Ok(true)) => {}
            Ok(Err(err)) => debug!(error = %err, "no last catch-up for a watch; it resumes anyway"),
            Err(_) => debug!("last catch-up of a watch cut short; it resumes anyway"),
        }
        Err(Error::ShuttingDown)
    }

    async fn resync(&mut self) -> Step {
        self.send(WatchEvent::ResyncRequired).await?;
        Ok(false)
    }
}
