//! Slow and idle clients are cut off: headers or a body sent a byte at a time, a connection that
//! sends nothing, a request that outlasts its deadline, and more connections than the gateway
//! serves at once. Every connection here is raw TCP to 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{CHAINUP_ACCOUNT, TestApp, TestOptions, UDUN_ACCOUNT};

/// Far longer than any limit set here: a connection still open after it was never going to close.
const NEVER: Duration = Duration::from_secs(15);
const TRICKLE: Duration = Duration::from_millis(100);

fn short_limits() -> TestOptions {
    TestOptions {
        header_read_timeout_ms: 500,
        body_read_timeout_ms: 1_000,
        request_timeout_ms: 30_000,
        ..TestOptions::default()
    }
}

/// What the gateway sent on a connection before closing it, and when it closed.
struct Closed {
    received: Vec<u8>,
    after: Duration,
}

impl Closed {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.gateway.addr).await.unwrap()
}

/// Writes `head` at once, then `trickled` a byte every `TRICKLE`, while reading whatever the
/// gateway answers until it closes the connection. Panics if it is still open after `NEVER`.
async fn send_slowly(mut stream: TcpStream, head: Vec<u8>, trickled: Vec<u8>) -> Closed {
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let write = async {
        if writer.write_all(&head).await.is_err() {
            return;
        }
        for byte in trickled {
            tokio::time::sleep(TRICKLE).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
        // Everything sent: wait for the gateway to act.
        std::future::pending::<()>().await;
    };
    let read = async {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
        received
    };
    let outcome = tokio::time::timeout(NEVER, async {
        tokio::select! {
            received = read => received,
            _ = write => unreachable!(),
        }
    })
    .await;
    match outcome {
        Ok(received) => Closed {
            received,
            after: started.elapsed(),
        },
        Err(_) => panic!("the gateway kept a slow connection open for {NEVER:?}"),
    }
}

/// A request head for `path` with a 100 000-byte body announced.
fn head_with_body(path: &str, content_type: &str, auth: Option<&str>) -> Vec<u8> {
    let auth = auth
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{auth}Content-Length: 100000\r\n\r\n"
    )
    .into_bytes()
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let app = TestApp::spawn_with(short_limits()).await;
    // 200 bytes at 10 a second: 20 s to send them all.
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(150)
    );
    let closed = send_slowly(connect(&app).await, Vec::new(), request.into_bytes()).await;
    assert!(
        !closed.text().contains(" 200 "),
        "a request whose headers never finished was served: {}",
        closed.text()
    );
    assert!(
        closed.after < Duration::from_secs(10),
        "closed after {:?}",
        closed.after
    );
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_answered_408_and_cut_off() {
    let app = TestApp::spawn_with(short_limits()).await;
    let body = vec![b'a'; 200];
    let callback = send_slowly(
        connect(&app).await,
        head_with_body(
            &format!("/callbacks/{UDUN_ACCOUNT}"),
            "application/x-www-form-urlencoded",
            None,
        ),
        body.clone(),
    );
    let merchant = send_slowly(
        connect(&app).await,
        head_with_body("/v1/addresses", "application/json", Some(&app.api_key)),
        body,
    );
    let (callback, merchant) = tokio::join!(callback, merchant);

    // A provider gets a plain 408; a merchant the API's error shape.
    let callback = callback.text();
    assert!(callback.starts_with("HTTP/1.1 408"), "{callback}");
    assert!(
        body_of(&callback).contains("did not arrive in time"),
        "{callback}"
    );
    let merchant = merchant.text();
    assert!(merchant.starts_with("HTTP/1.1 408"), "{merchant}");
    let error: Value = serde_json::from_str(body_of(&merchant)).expect("a JSON error body");
    assert_eq!(error["error"]["code"], "request_timeout", "{error}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = TestApp::spawn_with(short_limits()).await;
    let closed = send_slowly(connect(&app).await, Vec::new(), Vec::new()).await;
    assert!(closed.received.is_empty(), "{}", closed.text());
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed() {
    let app = TestApp::spawn_with(short_limits()).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    let closed = send_slowly(connect(&app).await, request, Vec::new()).await;
    // Answered, then closed once no second request came.
    let text = closed.text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(body_of(&text).ends_with("ok"), "{text}");
}

#[tokio::test]
async fn a_request_that_outlasts_its_deadline_is_answered_408() {
    let app = TestApp::spawn_with(TestOptions {
        request_timeout_ms: 1_000,
        provider_timeout_secs: 20,
        ..TestOptions::default()
    })
    .await;
    // A ChainUp that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let gateway = app.instance_with_chainup_at(&silent_url).await;

    let started = Instant::now();
    let response = app
        .http
        .post(format!("{}/v1/addresses", gateway.url()))
        .bearer_auth(&app.api_key)
        .json(&json!({ "user_id": "u-408", "chain": "ETH", "asset": "ETH", "provider": CHAINUP_ACCOUNT }))
        .timeout(NEVER)
        .send()
        .await
        .expect("answered before the provider timeout");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "request_timeout", "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    held.abort();
    gateway.shutdown().await;
}

#[tokio::test]
async fn past_max_connections_a_new_client_waits_for_a_slot() {
    let app = TestApp::spawn_with(TestOptions {
        header_read_timeout_ms: 1_500,
        max_connections: 2,
        ..TestOptions::default()
    })
    .await;
    let idle = [connect(&app).await, connect(&app).await];
    // Let the gateway take both into its two slots.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", app.url))
        .timeout(NEVER)
        .send()
        .await
        .expect("served once the idle connections are cut");
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    // Served only after the idle ones lost their slots (1.5 s after they connected).
    assert!(
        waited > Duration::from_millis(1_000),
        "served after {waited:?}, beside two idle connections"
    );
    for stream in idle {
        let closed = send_slowly(stream, Vec::new(), Vec::new()).await;
        assert!(closed.received.is_empty(), "{}", closed.text());
    }
}

#[tokio::test]
async fn prompt_clients_are_served_beside_slow_ones() {
    let app = TestApp::spawn_with(TestOptions {
        max_connections: 4,
        ..short_limits()
    })
    .await;
    let slow_head = send_slowly(
        connect(&app).await,
        Vec::new(),
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa".to_vec(),
    );
    let slow_body = send_slowly(
        connect(&app).await,
        head_with_body("/v1/addresses", "application/json", Some(&app.api_key)),
        vec![b' '; 200],
    );
    // One client, its connection kept alive between some requests and closed by the gateway
    // (idle past the header read timeout) between others.
    let prompt = async {
        for n in 0..6 {
            let address = app
                .create_address(&format!("prompt-{n}"), "TRX", "USDT")
                .await;
            assert!(address["address"].is_string(), "{address}");
            let pause = if n % 2 == 0 { 100 } else { 800 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        let (status, body) = app.get("/v1/assets").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    };
    let (slow_head, slow_body, ()) = tokio::join!(slow_head, slow_body, prompt);
    assert!(!slow_head.text().contains(" 200 "), "{}", slow_head.text());
    assert!(
        slow_body.text().starts_with("HTTP/1.1 408"),
        "{}",
        slow_body.text()
    );
}
