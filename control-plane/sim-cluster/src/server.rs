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
            let bytes: Bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let error =
                        ApiError::bad_request(format!("reading the request body failed: {e}"));
                    return Ok(api::json_response(400, &error.to_status()));
                }
            };
            Ok(api::handle(&inner.api, Request::from_parts(parts, bytes)))
        })
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
            let handler = hyper::service::service_fn(move |req| {
                let mut service = service.clone();
                tower::Service::call(&mut service, req)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "sim-cluster: connection ended with an error");
            }
        });
    }
}
