//! Transports: a `tower::Service` for in-process clients and an HTTP/1.1
//! server for kubectl and out-of-process clients.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::Inner;
use crate::api::media::MAX_BODY_BYTES;
use crate::api::{self, ResponseBody};
use crate::error::Result;
use crate::status::ApiError;

/// The simulated API server as a `tower::Service`, for any request body.
///
/// [`crate::SimCluster::client`] wraps it in a `kube::Client`; other HTTP
/// clients built on tower can use it directly.
#[derive(Clone)]
pub struct SimService {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SimService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimService").finish_non_exhaustive()
    }
}

impl<B> tower::Service<Request<B>> for SimService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match read_body(body).await {
                Ok(bytes) => bytes,
                Err(error) => return Ok(api::json_response(error.code, &error.to_status())),
            };
            Ok(api::handle(&inner.api, Request::from_parts(parts, bytes)))
        })
    }
}

/// Reads a request body, refusing one over the apiserver's limit (413)
/// without reading further: a client cannot make the server buffer more.
async fn read_body<B>(body: B) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    use bytes::{Buf, BufMut};
    let mut body = std::pin::pin!(body);
    let mut read = bytes::BytesMut::new();
    loop {
        // The frame (and its error type, which need not be Send) is
        // consumed before the next await.
        let data = match body.frame().await {
            None => break,
            Some(Err(e)) => {
                return Err(ApiError::bad_request(format!(
                    "reading the request body failed: {e}"
                )));
            }
            Some(Ok(frame)) => frame.into_data().ok(),
        };
        let Some(data) = data else { continue };
        if read.len() + data.remaining() > MAX_BODY_BYTES {
            drain(body, MAX_BODY_BYTES * 4).await;
            return Err(ApiError::entity_too_large(MAX_BODY_BYTES));
        }
        read.put(data);
    }
    Ok(read.freeze())
}

/// Reads and discards up to `at_most` more bytes of a refused body, so a
/// client still sending it reads the 413 instead of a connection reset;
/// nothing is kept, so memory stays bounded.
async fn drain<B>(mut body: std::pin::Pin<&mut B>, at_most: usize)
where
    B: Body,
{
    use bytes::Buf;
    let mut discarded = 0;
    while discarded < at_most {
        let data = match body.frame().await {
            Some(Ok(frame)) => frame.into_data().ok(),
            Some(Err(_)) | None => return,
        };
        discarded += data.map_or(0, |d| d.remaining());
    }
}

/// Whether a request's `Host` names this machine's loopback interface:
/// `127.0.0.1`, `localhost` or `[::1]`, with any port. Anything else is
/// what a DNS-rebinding page sends (its own host name, resolved to
/// 127.0.0.1), so it is refused. The `Host` header is read, or the URI's
/// authority for absolute-form requests; a request with neither is refused.
pub(crate) fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // `[::1]` or `[::1]:6443`.
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || valid_port(port) => {
                return inside == "::1";
            }
            _ => return false,
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1"
}

fn valid_port(port: &str) -> bool {
    port.strip_prefix(':')
        .unwrap_or(port)
        .parse::<u16>()
        .is_ok()
}

/// The host a request was addressed to, as sent.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    match req.headers().get(http::header::HOST) {
        Some(value) => value.to_str().ok().map(str::to_owned),
        None => req.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// Accepts connections until the future is dropped.
pub(crate) async fn serve(inner: Arc<Inner>, listener: TcpListener) -> Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(connection) => connection,
            Err(e) => {
                // Accept errors (too many open files, aborted handshakes) are
                // transient; back off briefly rather than spin.
                tracing::warn!(error = %e, "sim-cluster: accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = SimService {
            inner: Arc::clone(&inner),
        };
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let mut service = service.clone();
                let host = request_host(&req);
                let allowed = host.as_deref().is_some_and(host_is_loopback);
                let response: <SimService as tower::Service<Request<hyper::body::Incoming>>>::Future =
                    if allowed {
                        tower::Service::call(&mut service, req)
                    } else {
                        let error = ApiError::host_forbidden(host.as_deref().unwrap_or(""));
                        tracing::warn!(host = ?host, "sim-cluster: refused a request for a non-loopback host");
                        Box::pin(async move { Ok(api::json_response(error.code, &error.to_status())) })
                    };
                response
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "sim-cluster: connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_allowed() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:6443",
            "localhost",
            "LOCALHOST:1",
            "[::1]",
            "[::1]:6443",
        ] {
            assert!(host_is_loopback(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:6443",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0.2",
            "[::2]:6443",
            "127.0.0.1:notaport",
            "127.0.0.1:6443:1",
            "",
        ] {
            assert!(!host_is_loopback(bad), "{bad}");
        }
    }
}
