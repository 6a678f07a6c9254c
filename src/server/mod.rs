//! The gateway's HTTP/1.1 listener: an accept loop that bounds what a slow or idle client can hold
//! (a connection slot, a header read, a keep-alive wait), with graceful shutdown.
//!
//! `axum::serve` has no header read timeout and no connection cap, so connections are served here
//! with hyper's own HTTP/1 connection builder. Nothing on this listener speaks HTTP/2.

pub mod deadlines;
mod memory;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ServerSettings;

/// The largest read buffer one connection may grow to. It holds a request's headers and the part
/// of its body not yet read by the handler; hyper's default (about 400 KiB) lets each of a
/// thousand connections keep that much. Headers must fit in it.
const MAX_READ_BUFFER_BYTES: usize = 64 * 1024;

/// A limit in milliseconds, 0 meaning none.
pub fn limit(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in progress
/// finish (for at most the request timeout, when there is one) and returns.
///
/// Each request carries `ConnectInfo<SocketAddr>` with its peer address.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Also closes a keep-alive connection that sends no next request in time: hyper starts
        // this timer whenever it waits for a request head.
        .header_read_timeout(limit(settings.header_read_timeout_ms))
        .max_buf_size(MAX_READ_BUFFER_BYTES);

    // A slot is taken before `accept`, not after: past the cap, new connections wait in the
    // kernel's listen backlog and cost the gateway nothing, and each is served as soon as a slot
    // frees (the timeouts bound how long any connection keeps one). Accepting and closing them at
    // once would instead fail requests that a moment's wait would have served.
    let slots =
        (settings.max_connections > 0).then(|| Arc::new(Semaphore::new(settings.max_connections)));
    let closings = memory::Closings::default();
    let trimmer = tokio::spawn(memory::give_back_after_closings(closings.clone()));
    let graceful = GracefulShutdown::new();
    // Dropped when the drain below gives up, which ends the connections still open.
    let (force_close, force_closed) = watch::channel(());
    let mut shutdown = pin!(shutdown);

    loop {
        let slot = match &slots {
            Some(slots) => tokio::select! {
                slot = slots.clone().acquire_owned() => Some(slot.expect("the slots are never closed")),
                _ = &mut shutdown => break,
            },
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    wait_after_accept_error(err).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let mut force_closed = force_closed.clone();
        let closings = closings.clone();
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    if let Err(err) = served {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                }
                _ = force_closed.changed() => {}
            }
            drop(slot);
            closings.record();
        });
    }

    drop(listener);
    let drained = graceful.shutdown();
    match limit(settings.request_timeout_ms) {
        Some(timeout) => {
            if tokio::time::timeout(timeout, drained).await.is_err() {
                tracing::warn!("connections still open after the request timeout; closing them");
            }
        }
        None => drained.await,
    }
    drop(force_close);
    trimmer.abort();
}

/// A failed `accept` is either one client's connection going away (ignore it) or the process out
/// of file descriptors or memory, which a pause may cure and a tight retry loop would not.
async fn wait_after_accept_error(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
