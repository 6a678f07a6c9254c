//! Callback ingest against a baseline: signed Udun deposit callbacks (a fifth of them delivered
//! twice, as providers retry) posted to the gateway, and the same load posted to a bare axum + sqlx
//! endpoint in this bench that parses the same form, verifies the same MD5 signature and does one
//! `INSERT … ON CONFLICT DO NOTHING` before it answers `success`. Rounds alternate, at concurrency
//! 8 and 32, on one fresh database.
//!
//! `cargo bench --bench ingest [-- DEPOSITS ROUNDS]` (defaults 3600 deposits a round, 2 rounds of
//! each). Prints a table and one JSON line, and checks that every deposit was stored exactly once.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use sqlx::PgPool;

use custody_gateway::providers::udun::sign::verify_udun_sign;
use custody_gateway::start;

mod common;

use common::{
    IngestRound, SERVER, drop_database, held_callbacks, histogram, labelled_histogram,
    post_callbacks, udun_addresses,
};
use custody_gateway::telemetry::CALLBACK_GROUP_SIZE;

const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";
const OPS_TOKEN: &str = "ops_demo_token";
/// The simulator's Udun key (config/default.toml), which the baseline verifies with.
const UDUN_KEY: &str = "sim-udun-api-key";
/// How long the groups stored as one statement took, from planning to commit.
const GROUP_SECONDS: &str = "custody_callback_group_seconds";
const STORED_AS_STATEMENT: &str = r#"{result="statement"}"#;

/// The gateway's groups in one round: how many callbacks each held, and how long one stored as a
/// statement took (ms). Both are means, from the change in `/metrics` over the round.
struct Groups {
    size: f64,
    statement_ms: f64,
}

/// The histograms [`Groups`] is read from, as they stand.
async fn group_histograms(http: &reqwest::Client, url: &str) -> [(f64, f64); 2] {
    [
        histogram(http, url, OPS_TOKEN, CALLBACK_GROUP_SIZE).await,
        labelled_histogram(http, url, OPS_TOKEN, GROUP_SECONDS, STORED_AS_STATEMENT).await,
    ]
}

impl Groups {
    fn between(before: [(f64, f64); 2], after: [(f64, f64); 2]) -> Groups {
        let mean = |i: usize| (after[i].0 - before[i].0) / (after[i].1 - before[i].1);
        Groups {
            size: mean(0),
            statement_ms: mean(1) * 1e3,
        }
    }
}

/// The baseline: parse the form, check the signature, one insert, answer.
async fn baseline_callback(State(pool): State<PgPool>, body: String) -> &'static str {
    let fields: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    if !verify_udun_sign(
        field("body"),
        UDUN_KEY,
        field("nonce"),
        field("timestamp"),
        field("sign"),
    ) {
        return "error";
    }
    sqlx::query("INSERT INTO bench_baseline (sign) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(field("sign"))
        .execute(&pool)
        .await
        .expect("baseline insert");
    "success"
}

async fn start_baseline(pool: PgPool) -> String {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_baseline (sign TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    let app = Router::new()
        .route("/callback", post(baseline_callback))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Where PostgreSQL's write-ahead log has been written to, in bytes: what a round wrote is the
/// change over it (the whole server's, which nothing else writes to meanwhile).
async fn wal_written(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8")
        .fetch_one(pool)
        .await
        .expect("the WAL position")
}

/// One side's round: its load, and the WAL it wrote per callback (kB).
struct Side {
    load: IngestRound,
    wal_kb: f64,
}

impl Side {
    /// Posts `forms` to `target`, `concurrency` at once.
    async fn run(
        http: &reqwest::Client,
        pool: &PgPool,
        target: &str,
        forms: Vec<String>,
        concurrency: usize,
    ) -> Side {
        let before = wal_written(pool).await;
        let load = post_callbacks(http, target, forms, concurrency).await;
        let wal_kb = (wal_written(pool).await - before) as f64 / 1e3 / load.sent as f64;
        Side { load, wal_kb }
    }
}

/// The median of `values` (the mean of the middle two when they are even), the least and the most.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    let median = if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    };
    (median, values[0], values[values.len() - 1])
}

fn describe(
    Side {
        load: round,
        wal_kb,
    }: &Side,
) -> String {
    format!(
        "{:>6.0}/s  p50 {:>5.1} ms  p99 {:>5.1} ms  cpu {:>4.2} ms  wal {:>4.1} kB",
        round.per_second(),
        round.at(0.50).as_secs_f64() * 1e3,
        round.at(0.99).as_secs_f64() * 1e3,
        round.cpu_ms_per_callback().unwrap_or(f64::NAN),
        wal_kb
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let deposits = args.first().copied().unwrap_or(3600);
    let rounds = args.get(1).copied().unwrap_or(2);

    let database = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut settings = common::default_settings();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = format!("{SERVER}/{database}").into();
    settings.pollers.interval_ms = 3_600_000;
    let gateway = start(settings).await.expect("gateway starts");
    let url = gateway.url();
    let pool = gateway.state.pool.clone();
    let http = reqwest::Client::new();
    let baseline = start_baseline(pool.clone()).await;
    let gateway_target = format!("{url}/callbacks/udun-main");

    let addresses = udun_addresses(&http, &url, API_KEY, "bench", 100).await;
    let mut results = Vec::new();
    for round in 0..rounds {
        for concurrency in [8, 32] {
            // The same signed callbacks for both; each gateway round gets deposits of its own.
            let forms = held_callbacks(&http, &url, &addresses, deposits).await;
            let base = Side::run(&http, &pool, &baseline, forms.clone(), concurrency).await;
            let before = group_histograms(&http, &url).await;
            let ours = Side::run(&http, &pool, &gateway_target, forms, concurrency).await;
            let groups = Groups::between(before, group_histograms(&http, &url).await);
            println!(
                "round {} c{concurrency:<2}  baseline {}   gateway {} (groups of {:.1}, {:.2} ms each)   ratio {:.2}",
                round + 1,
                describe(&base),
                describe(&ours),
                groups.size,
                groups.statement_ms,
                ours.load.per_second() / base.load.per_second()
            );
            results.push((concurrency, base, ours, groups));
        }
    }

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
    let expected = (deposits * rounds * 2) as i64;
    let exact = stored == expected && notices == expected;
    println!(
        "callbacks per round: {} ({deposits} deposits, a fifth sent twice); cpu: the whole \
         machine's busy time per callback (load, server, PostgreSQL); ms each: a group stored as \
         one statement, from planning to commit, which a callback waits out before its answer; wal: \
         what PostgreSQL wrote to its log per callback, which each commit waits to flush",
        results[0].1.load.sent
    );
    // Rounds move by a fifth or more on a shared machine: the median says more than any one.
    let mut medians = serde_json::Map::new();
    for concurrency in [8, 32] {
        let ratios: Vec<f64> = results
            .iter()
            .filter(|r| r.0 == concurrency)
            .map(|(_, base, ours, _)| ours.load.per_second() / base.load.per_second())
            .collect();
        let (median, low, high) = spread(ratios);
        println!(
            "ratio at c{concurrency}: median {median:.2} of {rounds} rounds ({low:.2}–{high:.2})"
        );
        medians.insert(concurrency.to_string(), json!(median));
    }
    println!("stored: {stored} deposits, {notices} deposit.confirmed notifications");
    println!("exactly once: {}", if exact { "yes" } else { "NO" });
    let summary: Vec<_> = results
        .iter()
        .map(|(concurrency, base, ours, groups)| {
            json!({ "concurrency": concurrency, "baseline_per_s": base.load.per_second().round(),
                    "gateway_per_s": ours.load.per_second().round(),
                    "gateway_p99_ms": ours.load.at(0.99).as_secs_f64() * 1e3,
                    "baseline_cpu_ms_per_callback": base.load.cpu_ms_per_callback(),
                    "gateway_cpu_ms_per_callback": ours.load.cpu_ms_per_callback(),
                    "gateway_group_size": groups.size,
                    "gateway_group_statement_ms": groups.statement_ms,
                    "baseline_wal_kb_per_callback": base.wal_kb,
                    "gateway_wal_kb_per_callback": ours.wal_kb,
                    "ratio": ours.load.per_second() / base.load.per_second() })
        })
        .collect();
    println!(
        "{}",
        json!({ "bench": "ingest", "deposits_per_round": deposits, "rounds": summary,
                "median_ratio": medians,
                "exactly_once": exact })
    );

    gateway.shutdown().await;
    drop(pool);
    drop_database(&database).await;
    assert!(exact, "every deposit must be stored exactly once");
}
