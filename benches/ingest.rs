//! Callback ingest throughput: signed Udun deposit callbacks posted to a gateway on a fresh
//! PostgreSQL database, with a share of them delivered twice, as providers retry.
//!
//! `cargo bench --bench ingest [-- CALLBACKS CONCURRENCY]` (defaults 2000 and 32). Prints what it
//! measured and checks that every deposit was stored exactly once.

use custody_gateway::config::Settings;
use custody_gateway::start;

mod common;

use common::{SERVER, drop_database, held_callbacks, post_callbacks, udun_addresses};
const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";

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

    let addresses = udun_addresses(&http, &url, API_KEY, "bench", 100).await;
    let forms = held_callbacks(&http, &url, &addresses, callbacks).await;
    let round = post_callbacks(
        &http,
        &format!("{url}/callbacks/udun-main"),
        forms,
        concurrency,
    )
    .await;
    let (sent, elapsed) = (round.sent, round.elapsed);
    let at = |q: f64| round.at(q);

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
    println!("  throughput       {:.0} callbacks/s", round.per_second());
    println!(
        "  latency          p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        round.latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!("  stored           {stored} deposits, {notices} deposit.confirmed notifications");
    let exact = stored == callbacks as i64 && notices == callbacks as i64;
    println!("  exactly once     {}", if exact { "yes" } else { "NO" });

    gateway.shutdown().await;
    drop(pool);
    drop_database(&database).await;
    assert!(exact, "every deposit must be stored exactly once");
}
