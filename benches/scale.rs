//! Cost as data grows: callback ingest on a database seeded with a million deposits (100,000
//! users), two million events and 100,000 withdrawals, against the same on a database that stays
//! nearly empty, in alternating rounds; then, on the seeded database, the latency of the listings a
//! merchant and an operator use most and of the merchant API's most frequent calls.
//!
//! `cargo bench --bench scale [-- DEPOSITS]` (default 1,000,000; events are twice as many).
//! Prints a table and one JSON line.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use custody_gateway::{Gateway, start};

mod common;

use common::{SERVER, drop_database, held_callbacks, post_callbacks, udun_addresses};

const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";
const OPS_TOKEN: &str = "ops_demo_token";
/// Callbacks per ingest round, how many at once, and rounds on each database.
const CALLBACKS: usize = 6_000;
const INGEST_ROUNDS: usize = 4;
const CONCURRENCY: usize = 32;
/// Requests per listing (enough that a p99 is not a handful of samples), and how many at once.
const REQUESTS: usize = 2_000;
const LISTING_CONCURRENCY: usize = 8;

/// A million deposits over 100,000 users (about ten each), twice as many events in the merchant's
/// log, and 100,000 withdrawals, written by `generate_series` in a few statements.
async fn seed(pool: &PgPool, merchant: Uuid, deposits: i64) {
    let users = (deposits / 10).max(1);
    let statements = [
        format!(
            "INSERT INTO addresses (id, merchant_id, user_id, account_id, chain, asset, address)
             SELECT gen_random_uuid(), '{merchant}', 'seed-' || u, 'udun-main', 'BTC', 'BTC', 'seedaddr' || u
               FROM generate_series(1, {users}) u"
        ),
        format!(
            "INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id, chain,
                                   asset, address, amount, tx_hash, state, created_at, updated_at)
             SELECT gen_random_uuid(), '{merchant}', a.id, 'udun-main', 'seed-' || d, a.user_id, 'BTC', 'BTC',
                    a.address, 0.001, 'seedtx' || d, 'confirmed',
                    now() - make_interval(secs => {deposits} - d), now()
               FROM generate_series(1, {deposits}) d
               JOIN addresses a ON a.account_id = 'udun-main' AND a.chain = 'BTC'
                               AND a.address = 'seedaddr' || (d % {users} + 1)"
        ),
        format!(
            "INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload, state,
                                         attempts, delivered_at)
             SELECT gen_random_uuid(), '{merchant}', 'deposit.confirmed', gen_random_uuid(), e, '{{}}'::jsonb,
                    'delivered', 1, now()
               FROM generate_series(1, {deposits} * 2) e"
        ),
        format!(
            "INSERT INTO withdrawals (id, merchant_id, client_order_id, account_id, provider_request_id,
                                      chain, asset, amount, to_address, state)
             SELECT gen_random_uuid(), '{merchant}', 'seed-' || w, 'udun-main', 'seedreq' || w, 'TRX', 'USDT',
                    1, 'TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF',
                    (ARRAY['submitted', 'completed', 'failed', 'rejected'])[w % 4 + 1]
               FROM generate_series(1, {deposits} / 10) w"
        ),
        // A database that has lived with its data is vacuumed and checkpointed; measuring while
        // autovacuum first walks three million fresh rows would time that instead. Only the
        // seeded tables: the others have nothing yet to take statistics of.
        "VACUUM ANALYZE addresses, deposits, webhook_outbox, withdrawals".to_owned(),
        "CHECKPOINT".to_owned(),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .expect("seeding");
    }
}

/// p50 and p99 of `REQUESTS` GETs of the paths `path(n)` gives, `LISTING_CONCURRENCY` at once.
async fn listing(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: impl Fn(usize) -> String,
) -> (f64, f64) {
    timed(LISTING_CONCURRENCY, |n| {
        http.get(format!("{url}{}", path(n))).bearer_auth(token)
    })
    .await
}

/// p50 and p99 of `REQUESTS` requests `request(n)`, `concurrency` at once; each must succeed. The
/// first `concurrency` requests (new connections, statements prepared on them) are not counted.
async fn timed(
    concurrency: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> (f64, f64) {
    let mut latencies: Vec<Duration> = futures::stream::iter(0..REQUESTS + concurrency)
        .map(|n| {
            let request = request(n);
            async move {
                let begun = Instant::now();
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap();
                begun.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .skip(concurrency)
        .collect()
        .await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (at(0.50).as_secs_f64() * 1e3, at(0.99).as_secs_f64() * 1e3)
}

/// A gateway on a database of its own, with deposit addresses to pay.
struct Side {
    gateway: Gateway,
    database: String,
    addresses: Vec<String>,
}

impl Side {
    async fn start() -> Side {
        let database = format!("cg_bench_{}", Uuid::new_v4().simple());
        let mut settings = common::default_settings();
        settings.server.bind = "127.0.0.1:0".into();
        settings.database.url = format!("{SERVER}/{database}").into();
        settings.pollers.interval_ms = 3_600_000;
        settings.webhooks.workers = 0;
        let gateway = start(settings).await.expect("gateway starts");
        let addresses = udun_addresses(
            &reqwest::Client::new(),
            &gateway.url(),
            API_KEY,
            "bench",
            100,
        )
        .await;
        Side {
            gateway,
            database,
            addresses,
        }
    }

    /// One ingest round of `CALLBACKS` new deposits, `CONCURRENCY` at once: callbacks a second.
    async fn ingest(&self, http: &reqwest::Client) -> f64 {
        let url = self.gateway.url();
        let forms = held_callbacks(http, &url, &self.addresses, CALLBACKS).await;
        let target = format!("{url}/callbacks/udun-main");
        post_callbacks(http, &target, forms, CONCURRENCY)
            .await
            .per_second()
    }

    async fn stop(self) {
        self.gateway.shutdown().await;
        drop_database(&self.database).await;
    }
}

#[tokio::main]
async fn main() {
    let deposits: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);

    // Two gateways, one on a database that stays nearly empty and one on the seeded database;
    // their ingest rounds alternate, so that the machine's drift falls on both alike.
    let empty_side = Side::start().await;
    let seeded_side = Side::start().await;
    let (url, pool, http) = (
        seeded_side.gateway.url(),
        seeded_side.gateway.state.pool.clone(),
        reqwest::Client::new(),
    );
    let merchant: Uuid = sqlx::query_scalar("SELECT id FROM merchants LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();

    let seeding = Instant::now();
    seed(&pool, merchant, deposits).await;
    let seeded_in = seeding.elapsed();

    let (mut empty, mut seeded) = (Vec::new(), Vec::new());
    for round in 0..INGEST_ROUNDS {
        let (first, second) = if round % 2 == 0 {
            (&empty_side, &seeded_side)
        } else {
            (&seeded_side, &empty_side)
        };
        let rates = [first.ingest(&http).await, second.ingest(&http).await];
        let [empty_round, seeded_round] = if round % 2 == 0 {
            rates
        } else {
            [rates[1], rates[0]]
        };
        empty.push(empty_round);
        seeded.push(seeded_round);
    }
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
    let ratio = mean(&seeded) / mean(&empty);

    let users = (deposits / 10).max(1) as usize;
    let cursor: Uuid = sqlx::query_scalar(
        "SELECT id FROM webhook_outbox WHERE merchant_id = $1 ORDER BY tx_id, log_position
         OFFSET $2 LIMIT 1",
    )
    .bind(merchant)
    .bind(deposits)
    .fetch_one(&pool)
    .await
    .unwrap();
    let lookups = [
        (
            "GET /v1/deposits?user_id=",
            listing(&http, &url, API_KEY, |n| {
                format!("/v1/deposits?user_id=seed-{}", n * 7919 % users + 1)
            })
            .await,
        ),
        (
            "GET /v1/withdrawals?state=",
            listing(&http, &url, API_KEY, |n| {
                let state = ["submitted", "completed", "failed", "rejected"][n % 4];
                format!("/v1/withdrawals?state={state}")
            })
            .await,
        ),
        (
            "GET /v1/events?cursor=",
            listing(&http, &url, API_KEY, |_| {
                format!("/v1/events?cursor={cursor}")
            })
            .await,
        ),
        (
            "GET /ops/orders?q=<tx hash>",
            listing(&http, &url, OPS_TOKEN, |n| {
                format!(
                    "/ops/orders?q=seedtx{}",
                    n * 104_729 % deposits as usize + 1
                )
            })
            .await,
        ),
    ];

    // The merchant API at concurrency 32: an existing user's address, and one withdrawal.
    let withdrawal_ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM withdrawals LIMIT 1000")
        .fetch_all(&pool)
        .await
        .unwrap();
    let calls = [
        (
            "POST /v1/addresses (existing)",
            timed(CONCURRENCY, |n| {
                http.post(format!("{url}/v1/addresses"))
                    .bearer_auth(API_KEY)
                    .json(&json!({ "user_id": format!("bench-{}", n % 100), "chain": "BTC", "asset": "BTC" }))
            })
            .await,
        ),
        (
            "GET /v1/withdrawals/{id}",
            timed(CONCURRENCY, |n| {
                http.get(format!(
                    "{url}/v1/withdrawals/{}",
                    withdrawal_ids[n % withdrawal_ids.len()]
                ))
                .bearer_auth(API_KEY)
            })
            .await,
        ),
    ];

    println!(
        "cost as data grows ({deposits} deposits, {} events, {} withdrawals seeded in {:.1} s)",
        deposits * 2,
        deposits / 10,
        seeded_in.as_secs_f64()
    );
    let listed = |rates: &[f64]| {
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  ingest, empty database     {:.0} callbacks/s (rounds: {})",
        mean(&empty),
        listed(&empty)
    );
    println!(
        "  ingest, seeded database    {:.0} callbacks/s (rounds: {})",
        mean(&seeded),
        listed(&seeded)
    );
    println!("  seeded / empty             {ratio:.2}");
    println!("  listings, {LISTING_CONCURRENCY} at once:");
    for (name, (p50, p99)) in &lookups {
        println!("    {name:<30} p50 {p50:.1} ms, p99 {p99:.1} ms");
    }
    println!("  merchant API, {CONCURRENCY} at once:");
    for (name, (p50, p99)) in &calls {
        println!("    {name:<30} p50 {p50:.1} ms, p99 {p99:.1} ms");
    }
    let listings: serde_json::Map<String, serde_json::Value> = lookups
        .iter()
        .chain(calls.iter())
        .map(|(name, (p50, p99))| ((*name).to_owned(), json!({ "p50_ms": p50, "p99_ms": p99 })))
        .collect();
    println!(
        "{}",
        json!({ "bench": "scale", "deposits": deposits, "ingest_empty_per_s": mean(&empty).round(),
                "ingest_seeded_per_s": mean(&seeded).round(), "ingest_empty_rounds": empty,
                "ingest_seeded_rounds": seeded, "ratio": ratio,
                "listings": listings })
    );

    drop(pool);
    empty_side.stop().await;
    seeded_side.stop().await;
}
