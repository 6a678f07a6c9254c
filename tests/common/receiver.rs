//! A merchant's webhook endpoint for tests: a real HTTP server on port 0 that records what it
//! receives and answers as scripted.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Sleep, then answer 200.
    Sleep(Duration),
    /// Answer with this status and body.
    Body(u16, Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Answered once the script is spent; 200 unless set.
    otherwise: Option<u16>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(bind: &str) -> Receiver {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hooks"),
            inner,
        }
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn answer_otherwise(&self, status: u16) {
        self.inner.lock().unwrap().otherwise = Some(status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `count` requests have arrived (or panics after `limit`).
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < limit,
                "only {} of {count} webhooks arrived in {limit:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            at: Instant::now(),
            headers,
            body,
        });
        inner
            .script
            .pop_front()
            .unwrap_or(Answer::Status(inner.otherwise.unwrap_or(200)))
    };
    match answer {
        Answer::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Answer::Sleep(wait) => {
            tokio::time::sleep(wait).await;
            StatusCode::OK.into_response()
        }
        Answer::Body(status, body) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
    }
}

/// A loopback URL where nothing listens, and the address to start a receiver on later.
pub async fn closed_endpoint() -> (String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    (format!("http://{addr}/hooks"), addr.to_string())
}
