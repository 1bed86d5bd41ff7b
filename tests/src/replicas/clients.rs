//! Clients with no load balancer: calls spread round-robin over the
//! replicas, watches that resume on the next replica with their last token.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use pb::watch_stores_response::EventType;
use storeplane_proto::v1::{self as pb, store_service_client::StoreServiceClient};
use tokio::sync::watch;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use super::Directory;
use crate::{Authed, Bearer};

/// Calls spread round-robin over the replicas, going on to the next one
/// when a replica does not answer.
#[derive(Clone)]
pub struct RoundRobin {
    directory: Directory,
    token: String,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Every failed attempt: `code: message` → count.
    pub failures: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// How long one call may take before the client tries the next replica.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client keeps trying before the scenario fails.
const CALL_PATIENCE: Duration = Duration::from_secs(120);

impl RoundRobin {
    /// A client of the replicas in `directory` sending `token`.
    pub fn new(directory: Directory, token: &str) -> Self {
        Self {
            directory,
            token: token.to_owned(),
            channels: Arc::default(),
            failures: Arc::default(),
        }
    }

    /// A StoreService client of slot `slot`, if it is up.
    fn stores_at(&self, slot: usize) -> Result<Option<StoreServiceClient<Authed>>> {
        let Some(url) = self.directory.url(slot) else {
            return Ok(None);
        };
        let channel = {
            let mut channels = self.channels.lock().map_err(|_| anyhow::anyhow!("lock"))?;
            match channels.get(&url) {
                Some(channel) => channel.clone(),
                None => {
                    let channel = Channel::from_shared(url.clone())?
                        .connect_timeout(Duration::from_secs(2))
                        .connect_lazy();
                    channels.insert(url, channel.clone());
                    channel
                }
            }
        };
        Ok(Some(StoreServiceClient::new(InterceptedService::new(
            channel,
            Bearer::new(&self.token)?,
        ))))
    }

    fn failed(&self, status: &tonic::Status) {
        let message: String = status.message().chars().take(80).collect();
        if let Ok(mut f) = self.failures.lock() {
            *f.entry(format!("{:?}: {message}", status.code()))
                .or_default() += 1;
        }
    }

    /// Runs `call` on slot `first`, then on the next slots while it fails
    /// because a replica does not answer (or shuts down).
    async fn call<T, F, Fut>(&self, first: usize, what: &str, call: F) -> Result<T>
    where
        F: Fn(StoreServiceClient<Authed>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let started = Instant::now();
        let mut slot = first;
        loop {
            ensure!(
                started.elapsed() < CALL_PATIENCE,
                "{what}: no replica answered within {CALL_PATIENCE:?}"
            );
            let n = self.directory.len().max(1);
            let Some(client) = self.stores_at(slot % n)? else {
                if let Ok(mut f) = self.failures.lock() {
                    *f.entry("replica down".into()).or_default() += 1;
                }
                slot += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            match call(client).await {
                Ok(answer) => return Ok(answer),
                Err(status) if retryable(&status) => {
                    self.failed(&status);
                    slot += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(status) => bail!("{what}: {status:?}"),
            }
        }
    }

    /// Creates `req` (with its request id set), starting at slot `first`;
    /// returns the store's id.
    pub async fn create(&self, first: usize, req: pb::CreateStoreRequest) -> Result<String> {
        ensure!(!req.request_id.is_empty(), "creates need a request id");
        let what = format!("create {}", req.name);
        let store = self
            .call(first, &what, |mut client| {
                let mut request = tonic::Request::new(req.clone());
                request.set_timeout(CALL_TIMEOUT);
                async move { client.create_store(request).await }
            })
            .await?
            .into_inner();
        Ok(store.id)
    }

    /// Deletes store `name`, starting at slot `first` (a store already
    /// gone counts as deleted: an earlier attempt did it).
    pub async fn delete(&self, first: usize, name: &str) -> Result<()> {
        let what = format!("delete {name}");
        self.call(first, &what, |mut client| {
            let mut request = tonic::Request::new(pb::DeleteStoreRequest {
                name: name.to_owned(),
                ..Default::default()
            });
            request.set_timeout(CALL_TIMEOUT);
            async move {
                match client.delete_store(request).await {
                    Err(status) if status.code() == Code::NotFound => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        })
        .await
    }
}

/// Whether a failed call may be sent to another replica: the replica did
/// not answer, answered that it shuts down, or its database did not answer.
fn retryable(status: &tonic::Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => true,
        // A connection cut under a call surfaces as an h2 error.
        Code::Internal => {
            let message = status.message();
            message.contains("h2")
                || message.contains("transport")
                || message.contains("connection")
        }
        _ => false,
    }
}

/// One change a watch client received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its resume token (change-log position).
    pub seq: i64,
    /// Added, Modified or Deleted.
    pub kind: EventType,
    /// The store.
    pub store_id: String,
    /// The store's resource version in it.
    pub resource_version: i64,
}

/// What a watch client saw, across replicas.
#[derive(Debug, Default, Clone)]
pub struct WatchLog {
    /// Position of its initial list.
    pub listed_at: i64,
    /// Its last resume token.
    pub last: i64,
    /// Every change, in the order received.
    pub changes: Vec<Seen>,
    /// How each stream it had ended (`code: message`), in order.
    pub endings: Vec<(Code, String)>,
    /// How many streams it opened.
    pub streams: usize,
}

/// A watch client that starts on slot `first` and, whenever its stream
/// ends, resumes with its last token on the next replica; it stops once
/// `stop` names a position it has reached. The receiver turns true once
/// it has its initial list.
pub fn spawn_watcher(
    directory: Directory,
    token: String,
    first: usize,
    stop: watch::Receiver<Option<i64>>,
) -> (
    tokio::task::JoinHandle<Result<WatchLog>>,
    watch::Receiver<bool>,
) {
    let (listed_tx, listed_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let client = RoundRobin::new(directory.clone(), &token);
        let mut log = WatchLog::default();
        let mut listed = false;
        let mut slot = first;
        let started = Instant::now();
        loop {
            if let Some(target) = *stop.borrow()
                && listed
                && log.last >= target
            {
                return Ok(log);
            }
            ensure!(
                started.elapsed() < Duration::from_secs(3600),
                "watch client ran for an hour"
            );
            let n = directory.len().max(1);
            let Some(mut stores) = client.stores_at(slot % n)? else {
                slot += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let resume_token = if listed {
                log.last.to_string()
            } else {
                String::new()
            };
            let mut stream = match stores
                .watch_stores(pb::WatchStoresRequest { resume_token })
                .await
            {
                Ok(stream) => stream.into_inner(),
                Err(status) if retryable(&status) => {
                    slot += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(status) => bail!("WatchStores refused: {status:?}"),
            };
            log.streams += 1;
            let mut stop = stop.clone();
            let ending = loop {
                let message = tokio::select! {
                    message = stream.message() => message,
                    // Checked between events too: an idle client stops on
                    // its heartbeat's token.
                    _ = stop.changed() => continue,
                };
                match message {
                    Ok(Some(event)) => {
                        let seq = event.resume_token.parse::<i64>().ok();
                        match event.r#type() {
                            EventType::InitialListComplete => {
                                let seq = seq.context("INITIAL_LIST_COMPLETE without a token")?;
                                log.listed_at = seq;
                                log.last = seq;
                                listed = true;
                                let _ = listed_tx.send(true);
                            }
                            EventType::Heartbeat => {
                                if listed && let Some(seq) = seq {
                                    log.last = log.last.max(seq);
                                }
                            }
                            // Initial list (no token): the stores as they are.
                            EventType::Added if seq.is_none() => {}
                            kind
                            @ (EventType::Added | EventType::Modified | EventType::Deleted) => {
                                let seq = seq.context("a change without a token")?;
                                let store = event.store.unwrap_or_default();
                                log.changes.push(Seen {
                                    seq,
                                    kind,
                                    store_id: store.id,
                                    // The etag is the quoted resource version.
                                    resource_version: store
                                        .etag
                                        .trim_matches('"')
                                        .parse()
                                        .context("an etag that is not a version")?,
                                });
                                log.last = seq;
                            }
                            EventType::ResyncRequired => bail!("RESYNC_REQUIRED at {}", log.last),
                            EventType::Unspecified => bail!("unknown watch event"),
                        }
                        if let Some(target) = *stop.borrow()
                            && listed
                            && log.last >= target
                        {
                            return Ok(log);
                        }
                    }
                    Ok(None) => break (Code::Ok, "ended".to_owned()),
                    Err(status) => break (status.code(), status.message().to_owned()),
                }
            };
            log.endings.push(ending);
            if !listed {
                // Cut off in its initial list: list again from scratch.
                log = WatchLog {
                    endings: log.endings,
                    streams: log.streams,
                    ..WatchLog::default()
                };
            }
            slot += 1;
        }
    });
    (task, listed_rx)
}

/// Checks that `log` holds every change of the log between its initial
/// list and its last token exactly once, in log order (hence in order per
/// store, each store's resource version rising).
pub async fn check_watch(log: &WatchLog, db: &sqlx::PgPool) -> Result<()> {
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM store_changes WHERE seq > $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(log.listed_at)
    .bind(log.last)
    .fetch_all(db)
    .await?;
    let got: Vec<i64> = log.changes.iter().map(|c| c.seq).collect();
    if got != expected {
        let expected_set: BTreeSet<i64> = expected.iter().copied().collect();
        let mut seen = BTreeSet::new();
        let duplicated: Vec<i64> = got.iter().copied().filter(|s| !seen.insert(*s)).collect();
        let missing: Vec<i64> = expected_set.difference(&seen).copied().collect();
        let extra: Vec<i64> = seen.difference(&expected_set).copied().collect();
        let out_of_order = got.windows(2).filter(|w| w[0] >= w[1]).count();
        bail!(
            "a watch client saw {} changes, the log holds {} ({}..={}): missing {missing:?}, \
             duplicated {duplicated:?}, not in the log {extra:?}, {out_of_order} out of order",
            got.len(),
            expected.len(),
            log.listed_at,
            log.last
        );
    }
    let mut versions: HashMap<&str, i64> = HashMap::new();
    for change in &log.changes {
        let last = versions.entry(&change.store_id).or_insert(0);
        // A deletion carries the store as it was last written.
        let rose = if change.kind == EventType::Deleted {
            change.resource_version >= *last
        } else {
            change.resource_version > *last
        };
        ensure!(
            rose,
            "store {} went from version {last} to {} on a watch",
            change.store_id,
            change.resource_version
        );
        *last = change.resource_version;
    }
    Ok(())
}
