//! Callback ingest throughput: signed Udun deposit callbacks posted to a gateway on a fresh
//! PostgreSQL database, with a share of them delivered twice, as providers retry.
//!
//! `cargo bench --bench ingest [-- CALLBACKS CONCURRENCY]` (defaults 2000 and 32). Prints what it
//! measured and checks that every deposit was stored exactly once.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use custody_gateway::config::Settings;
use custody_gateway::start;

mod common;

use common::{SERVER, drop_database};
const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";
/// One callback in this many is delivered a second time.
const REPEAT_EVERY: usize = 5;

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let callbacks = args.first().copied().unwrap_or(2000);
    let concurrency = args.get(1).copied().unwrap_or(32);

    let database = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut settings =
        Settings::from_toml(include_str!("../config/default.toml")).expect("default config");
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = format!("{SERVER}/{database}").into();
    settings.pollers.interval_ms = 3_600_000;
    let gateway = start(settings).await.expect("gateway starts");
    let url = gateway.url();
    let http = reqwest::Client::new();

    // Addresses for 100 users, then one held (signed, unsent) callback per deposit.
    let mut addresses = Vec::new();
    for user in 0..100 {
        let created = post_json(
            http.post(format!("{url}/v1/addresses"))
                .bearer_auth(API_KEY),
            json!({ "user_id": format!("bench-{user}"), "chain": "BTC", "asset": "BTC" }),
        )
        .await;
        addresses.push(created["address"].as_str().unwrap().to_owned());
    }
    let mut forms = Vec::with_capacity(callbacks + callbacks / REPEAT_EVERY);
    for n in 0..callbacks {
        let held = post_json(
            http.post(format!("{url}/sim/udun/deposits")),
            json!({ "address": addresses[n % addresses.len()], "amount": "0.00012345", "hold": true }),
        )
        .await;
        forms.push(held["form"].as_str().unwrap().to_owned());
    }
    let repeats: Vec<String> = forms.iter().step_by(REPEAT_EVERY).cloned().collect();
    forms.extend(repeats);
    let sent = forms.len();

    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(forms)
        .map(|form| {
            let http = http.clone();
            let target = format!("{url}/callbacks/udun-main");
            async move {
                let begun = Instant::now();
                let response = http
                    .post(target)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.text().await.unwrap(), "success");
                begun.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];

    let pool = gateway.state.pool.clone();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM deposits")
        .fetch_one(&pool)
        .await
        .unwrap();
    let notices: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    println!(
        "callback ingest: {sent} callbacks ({callbacks} deposits, {} repeated), concurrency {concurrency}",
        sent - callbacks
    );
    println!("  wall time        {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput       {:.0} callbacks/s",
        sent as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency          p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!("  stored           {stored} deposits, {notices} deposit.confirmed notifications");
    let exact = stored == callbacks as i64 && notices == callbacks as i64;
    println!("  exactly once     {}", if exact { "yes" } else { "NO" });

    gateway.shutdown().await;
    drop(pool);
    drop_database(&database).await;
    assert!(exact, "every deposit must be stored exactly once");
}

async fn post_json(request: reqwest::RequestBuilder, body: Value) -> Value {
    request
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
