//! The transfer container's HTTP request: one HTTP/1.1 exchange over a
//! plain TCP connection (no TLS, no proxy, no redirects), as `curl` without
//! `-L` would make it.

use std::io;

use bytes::Bytes;
use futures::TryStreamExt as _;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::archive::ArchiveError;

/// Why a transfer failed; each message is what follows `archive upload
/// failed: ` in the pod's status. None of them carries the URL, whose query
/// may hold a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransferError {
    #[error("the Secret {0} has no url")]
    NoUrl(String),
    #[error("the Secret {0} has no storeplane.dev/archive-engine annotation")]
    NoEngine(String),
    #[error("the URL is not a valid http:// URL")]
    BadUrl,
    #[error("{0} URLs are not supported: the simulated cluster transfers over plain http only")]
    Scheme(String),
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        #[source]
        source: io::Error,
    },
    #[error("HTTP exchange with {authority}: {source}")]
    Http {
        authority: String,
        #[source]
        source: hyper::Error,
    },
    #[error("HTTP {0}")]
    Status(u16),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("cannot build the archive: {0}")]
    Build(#[source] io::Error),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the archive check stopped: {0}")]
    Check(String),
}

/// An open exchange: the response, and the task driving its connection
/// (aborted when dropped, so a timed-out transfer leaves nothing behind).
pub(crate) struct Exchange {
    pub response: Response<Incoming>,
    _connection: AbortOnDrop,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `method` to `url` with `body` and waits for the response's head.
/// Any status but 2xx is an error.
pub(crate) async fn send(
    method: Method,
    url: &str,
    body: Option<(Bytes, &'static str)>,
) -> Result<Exchange, TransferError> {
    let uri: Uri = url.trim().parse().map_err(|_| TransferError::BadUrl)?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(TransferError::Scheme(other.to_owned())),
        None => return Err(TransferError::BadUrl),
    }
    let authority = uri.authority().ok_or(TransferError::BadUrl)?.to_string();
    let host = uri.host().ok_or(TransferError::BadUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let stream =
        TcpStream::connect((host, port))
            .await
            .map_err(|source| TransferError::Connect {
                authority: authority.clone(),
                source,
            })?;
    let http = |source| TransferError::Http {
        authority: authority.clone(),
        source,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, &authority)
        .header(USER_AGENT, "storeplane-sim-cluster");
    let body = match body {
        Some((bytes, content_type)) => {
            request = request
                .header(CONTENT_TYPE, content_type)
                .header(CONTENT_LENGTH, bytes.len());
            bytes
        }
        None => Bytes::new(),
    };
    let request = request
        .body(Full::new(body))
        .map_err(|_| TransferError::BadUrl)?;
    let response = sender.send_request(request).await.map_err(http)?;
    if !response.status().is_success() {
        return Err(TransferError::Status(response.status().as_u16()));
    }
    Ok(Exchange {
        response,
        _connection: connection,
    })
}

impl Exchange {
    /// Reads and drops the rest of the response body.
    pub(crate) async fn drain(self) -> u64 {
        let mut body = self.response.into_body();
        let mut read = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
            }
        }
        read
    }

    /// Reads the response body with `read` on a blocking thread, streaming
    /// (an archive is never held whole in memory); the connection stays
    /// open until `read` returns.
    pub(crate) async fn read_blocking<T: Send + 'static>(
        self,
        read: impl FnOnce(&mut dyn io::Read) -> T + Send + 'static,
    ) -> Result<T, TransferError> {
        let Exchange {
            response,
            _connection: connection,
        } = self;
        let stream = response
            .into_body()
            .into_data_stream()
            .map_err(io::Error::other);
        let mut reader = SyncIoBridge::new(StreamReader::new(stream));
        let result = tokio::task::spawn_blocking(move || read(&mut reader))
            .await
            .map_err(|error| TransferError::Check(error.to_string()));
        drop(connection);
        result
    }
}
