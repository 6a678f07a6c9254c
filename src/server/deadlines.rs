//! Deadlines on a request once its headers are in: one for its whole body, one for the response.
//!
//! A per-frame body timeout (`tower_http`'s `RequestBodyTimeoutLayer`) never fires for a client
//! that sends a byte a second, so the body deadline here counts the whole body. Both answer 408
//! and drop the handler; hyper then closes the connection, as the body was not read to its end.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};

/// How long a request may take, each limit `None` when off.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From the end of the headers to the end of the body.
    pub body: Option<Duration>,
    /// From the end of the headers to the response.
    pub request: Option<Duration>,
}

/// Middleware (`axum::middleware::from_fn`) enforcing `deadlines` on each request. The 408 it
/// answers is plain text; `error_shape::json_errors`, outside it, shapes it where JSON is due.
pub async fn enforce(deadlines: Deadlines, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let awaited = Arc::new(AtomicBool::new(true));
    let body = WatchedBody::new(body, awaited.clone());
    let response = next.run(Request::from_parts(parts, Body::new(body)));
    let body_late = async {
        match deadlines.body {
            Some(limit) => {
                tokio::time::sleep(limit).await;
                if !awaited.load(Ordering::Acquire) {
                    // The body is in (or the handler gave up on it): no body deadline any more.
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    let too_long = async {
        match deadlines.request {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        response = response => response,
        _ = body_late => timed_out("the request body did not arrive in time"),
        _ = too_long => timed_out("the request took too long"),
    }
}

fn timed_out(message: &'static str) -> Response {
    (StatusCode::REQUEST_TIMEOUT, message).into_response()
}

/// A request body that records when the gateway stops waiting for it: at its end, on an error, or
/// when the handler drops it unread.
struct WatchedBody {
    inner: Body,
    awaited: Arc<AtomicBool>,
}

impl WatchedBody {
    fn new(inner: Body, awaited: Arc<AtomicBool>) -> WatchedBody {
        if inner.is_end_stream() {
            awaited.store(false, Ordering::Release);
        }
        WatchedBody { inner, awaited }
    }

    fn done(&self) {
        self.awaited.store(false, Ordering::Release);
    }
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.done(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.done(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.done();
    }
}
