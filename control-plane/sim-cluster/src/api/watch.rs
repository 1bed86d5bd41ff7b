//! Watch streams: newline-delimited JSON watch events, replayed from the
//! store's history and then fed live, with bookmarks, timeouts and `410 Gone`
//! when a watcher falls out of the history.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::ResponseBody;
use super::table::{IncludeObject, table};
use crate::registry::{ResId, ResourceInfo};
use crate::selector::Filter;
use crate::status::ApiError;
use crate::store::{EventType, Record, Store, WatchStart, parse};

/// How long before a watch's deadline the apiserver sends its last bookmark.
const PRE_DEADLINE_BOOKMARK: Duration = Duration::from_secs(2);

/// Options of one watch request.
pub(crate) struct WatchParams {
    pub start: WatchStart,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the initial ADDED burst with a bookmark
    /// annotated `k8s.io/initial-events-end`.
    pub initial_events_end: bool,
    pub timeout: Option<Duration>,
    pub bookmark_interval: Duration,
    /// Render objects as Table rows (kubectl `get -w`).
    pub table: Option<IncludeObject>,
}

/// What one watcher selects.
struct Selection {
    res: ResId,
    info: ResourceInfo,
    namespace: Option<String>,
    filter: Filter,
    table: Option<IncludeObject>,
}

/// An object to put in a watch line: stored text or a parsed value.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Json(&'a [u8]),
    Value(&'a Value),
}

impl Selection {
    /// The watch line for a change, or `None` when it is not this watcher's.
    fn render(&self, record: &Record) -> Option<Bytes> {
        if record.res != self.res {
            return None;
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|ns| record.namespace != ns)
        {
            return None;
        }
        if self.filter.is_empty() && self.table.is_none() {
            // The common case needs no parsing: the stored text goes out as is.
            return Some(self.line(record.kind.as_str(), Raw::Json(&record.object)));
        }
        let now = self.filter.matches_json(&record.object);
        let kind = match record.kind {
            EventType::Added | EventType::Deleted if now => record.kind,
            EventType::Modified => {
                let before = record
                    .old
                    .as_ref()
                    .map_or(now, |old| self.filter.matches_json(old));
                match (before, now) {
                    (true, true) => EventType::Modified,
                    (false, true) => EventType::Added,
                    (true, false) => EventType::Deleted,
                    (false, false) => return None,
                }
            }
            _ => return None,
        };
        // Filtering changes nothing in the object: its stored text goes out.
        Some(self.line(kind.as_str(), Raw::Json(&record.object)))
    }

    fn line(&self, kind: &str, object: Raw<'_>) -> Bytes {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        let written = match (self.table, object) {
            (None, Raw::Json(json)) => {
                out.extend_from_slice(json);
                Ok(())
            }
            (None, Raw::Value(value)) => serde_json::to_writer(&mut out, value),
            (Some(include), object) => {
                let value = match object {
                    Raw::Json(json) => parse(json),
                    Raw::Value(value) => value.clone(),
                };
                let rv = value
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let rendered = table(
                    &self.info,
                    &[Arc::new(value)],
                    include,
                    json!({ "resourceVersion": rv }),
                );
                serde_json::to_writer(&mut out, &rendered)
            }
        };
        if written.is_err() {
            // Serialising a Value cannot fail; keep the stream well-formed anyway.
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({ "kind": self.info.kind, "apiVersion": self.info.api_version, "metadata": metadata });
        self.line("BOOKMARK", Raw::Value(&object))
    }
}

fn error_line(error: &ApiError) -> Bytes {
    let mut out = serde_json::to_vec(&json!({ "type": "ERROR", "object": error.to_status() }))
        .unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// Starts a watch and returns the streaming response.
pub(crate) fn watch(
    store: &Arc<Store>,
    res: ResId,
    namespace: Option<String>,
    filter: Filter,
    params: WatchParams,
) -> Result<Response<ResponseBody>, ApiError> {
    let selection = Selection {
        res,
        info: store.info(res).clone(),
        namespace,
        filter,
        table: params.table,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    match store.watch(res, selection.namespace.as_deref(), params.start) {
        Ok(feed) => {
            tokio::spawn(pump(selection, feed, params, tx));
        }
        Err(gone) if gone.code == 410 => {
            // The apiserver answers 200 and sends the error as a watch event,
            // which is what clients (kube-runtime's watcher) react to.
            let _ = tx.try_send(error_line(&gone));
        }
        Err(other) => return Err(other),
    }
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, Infallible>(Frame::data(line)), rx))
    });
    let body = StreamBody::new(stream).boxed_unsync();
    Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn pump(
    selection: Selection,
    feed: crate::store::WatchFeed,
    params: WatchParams,
    tx: mpsc::Sender<Bytes>,
) {
    let crate::store::WatchFeed {
        replay,
        mut live,
        resource_version,
    } = feed;
    for record in &replay {
        if let Some(line) = selection.render(record)
            && tx.send(line).await.is_err()
        {
            return;
        }
    }
    // The watcher's own starting point: the apiserver drops bookmarks that
    // would not move a watcher past it.
    let start_rv = match params.start {
        WatchStart::After(rv) => rv,
        WatchStart::Now => resource_version,
    };
    let mut last_rv = resource_version;
    if params.initial_events_end
        && params.bookmarks
        && tx.send(selection.bookmark(last_rv, true)).await.is_err()
    {
        return;
    }
    let deadline = params.timeout.map(|t| tokio::time::Instant::now() + t);
    // Like the apiserver's cacher: a bookmark every interval, and one 2 s
    // before the deadline, so a client that re-watches after the timeout
    // resumes from as late a version as possible.
    let pre_deadline = deadline.and_then(|d| d.checked_sub(PRE_DEADLINE_BOOKMARK));
    let next_bookmark = |now: tokio::time::Instant| {
        let periodic = now + params.bookmark_interval.max(Duration::from_millis(10));
        match pre_deadline {
            Some(pre) if pre > now => periodic.min(pre),
            _ => periodic,
        }
    };
    let mut bookmark_at = params
        .bookmarks
        .then(|| next_bookmark(tokio::time::Instant::now()));
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(record) => {
                    last_rv = record.rv;
                    if let Some(line) = selection.render(&record)
                        && tx.send(line).await.is_err() {
                            return;
                        }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let gone = ApiError::gone(format!("too old resource version: {last_rv}: the watcher fell behind"));
                    let _ = tx.send(error_line(&gone)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sleep_until(bookmark_at) => {
                if last_rv > start_rv && tx.send(selection.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
                bookmark_at = Some(next_bookmark(tokio::time::Instant::now()));
            }
            () = sleep_until(deadline) => return,
            () = tx.closed() => return,
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
