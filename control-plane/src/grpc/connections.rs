//! Accepting connections with a cap per client address.
//!
//! Every open connection costs memory (HTTP/2 buffers, streams) and a file
//! descriptor; one address must not be able to hold thousands. Connections
//! past the cap are closed as soon as they are accepted and counted in
//! `storeplane_refused_connections_total`. Trusted proxies (an ingress
//! controller carrying many clients) are exempt: their clients are told
//! apart per call by `X-Forwarded-For` (see [`super::gate::ClientAddresses`]).

use std::{
    collections::HashMap,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tracing::{debug, warn};

use super::gate::ClientAddresses;
use crate::metrics::Metrics;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

type Open = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A TCP connection counted against its address until dropped.
pub struct CountedStream {
    inner: TcpStream,
    _slot: Option<Slot>,
}

struct Slot {
    open: Open,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(&self.address)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Accepts connections on `listener`, at most `max_per_address` open at
/// once per client address (`None`: no cap).
pub fn incoming(
    listener: TcpListener,
    max_per_address: Option<usize>,
    addresses: ClientAddresses,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = io::Result<CountedStream>> {
    let open: Open = Arc::default();
    futures::stream::unfold(listener, move |listener| {
        let open = Arc::clone(&open);
        let addresses = addresses.clone();
        let metrics = Arc::clone(&metrics);
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        warn!(error = %err, "cannot accept a connection");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let address = peer.ip();
                let slot = match max_per_address {
                    Some(max) if !addresses.is_trusted(address) => {
                        match take(&open, address, max) {
                            Some(slot) => Some(slot),
                            None => {
                                debug!(%address, max, "too many connections from one address; closing");
                                metrics.connection_refused();
                                drop(stream);
                                continue;
                            }
                        }
                    }
                    _ => None,
                };
                // gRPC sends small frames that must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                return Some((
                    Ok(CountedStream {
                        inner: stream,
                        _slot: slot,
                    }),
                    listener,
                ));
            }
        }
    })
}

fn take(open: &Open, address: IpAddr, max: usize) -> Option<Slot> {
    let mut counts = open.lock().ok()?;
    let n = counts.entry(address).or_default();
    if *n >= max {
        return None;
    }
    *n += 1;
    Some(Slot {
        open: Arc::clone(open),
        address,
    })
}

impl Connected for CountedStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    #[tokio::test]
    async fn connections_past_the_cap_are_closed_and_slots_come_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let metrics = Arc::new(Metrics::new());
        let accepted = incoming(
            listener,
            Some(2),
            ClientAddresses::default(),
            Arc::clone(&metrics),
        );
        tokio::pin!(accepted);
        let _a = TcpStream::connect(addr).await.expect("a");
        let _b = TcpStream::connect(addr).await.expect("b");
        let first = accepted.next().await.expect("first").expect("ok");
        let _second = accepted.next().await.expect("second").expect("ok");
        // The third is accepted and closed at once (nothing is yielded);
        // after the first goes away, a fourth gets its slot.
        let _c = TcpStream::connect(addr).await.expect("c");
        let refused = tokio::time::timeout(Duration::from_millis(300), accepted.next()).await;
        assert!(refused.is_err(), "a third connection was let through");
        drop(first);
        let _d = TcpStream::connect(addr).await.expect("d");
        let fourth = tokio::time::timeout(Duration::from_secs(5), accepted.next())
            .await
            .expect("a connection within the cap is accepted")
            .expect("stream")
            .expect("ok");
        let local = fourth.inner.peer_addr().expect("peer");
        assert_eq!(local.ip(), addr.ip());
        assert!(
            metrics
                .render(&[])
                .contains("storeplane_refused_connections_total 1")
        );
    }
}
