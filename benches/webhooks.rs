//! Webhook delivery: how many notifications a gateway delivers per second to a local endpoint that
//! answers at once, and the lag from an event's commit to its delivery while events arrive at a
//! steady rate.
//!
//! `cargo bench --bench webhooks [-- EVENTS RATE]` (defaults 4000 events for the rate, and 500
//! events/s for the lag). Prints a table and one JSON line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use custody_gateway::start;
use custody_gateway::store::{outbox, transitions};
use custody_gateway::webhooks::wake::OutboxWake;

mod common;

use common::{SERVER, drop_database};

const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";

/// What the endpoint saw: each delivery's event creation time and when it arrived.
#[derive(Default)]
struct Sink {
    arrivals: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

async fn start_sink() -> (String, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let seen = sink.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                let arrived = Utc::now();
                if let Ok(payload) = serde_json::from_str::<Value>(&body)
                    && let Some(created) = payload["created_at"]
                        .as_str()
                        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                {
                    seen.arrivals.lock().unwrap().push((created, arrived));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, sink)
}

/// Queues `count` events for the demo merchant in one transaction, as the gateway's own
/// transitions do (one outbox row each, next in the merchant's log), and wakes the workers as
/// the gateway does after a commit; returns when it committed.
async fn queue_events(wake: &OutboxWake, pool: &PgPool, merchant: Uuid, count: usize) -> Instant {
    {
        let mut tx = pool.begin().await.unwrap();
        for _ in 0..count {
            let id = Uuid::now_v7();
            let sequence = transitions::next_sequence(&mut tx).await.unwrap();
            let payload = json!({
                "id": id, "type": "deposit.confirmed", "created_at": Utc::now(),
                "sequence": sequence, "data": { "bench": true },
            });
            outbox::insert(
                &mut tx,
                &outbox::NewNotification {
                    id,
                    merchant_id: merchant,
                    event_type: "deposit.confirmed",
                    order_id: Some(Uuid::now_v7()),
                    sequence,
                    payload: &payload,
                },
            )
            .await
            .unwrap();
        }
        // Nothing can be delivered before the commit: the backlog's clock starts here.
        let committing = Instant::now();
        tx.commit().await.unwrap();
        // As the gateway does after each commit that queued notifications.
        wake.committed();
        committing
    }
}

async fn delivered(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_outbox WHERE state = 'delivered'")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_delivered(pool: &PgPool, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while delivered(pool).await < count {
        assert!(Instant::now() < deadline, "deliveries stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(4000);
    let rate = args.get(1).copied().unwrap_or(500);

    let database = format!("cg_bench_{}", Uuid::new_v4().simple());
    let mut settings = common::default_settings();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = format!("{SERVER}/{database}").into();
    settings.pollers.interval_ms = 3_600_000;
    let workers = settings.webhooks.workers;
    let gateway = start(settings).await.expect("gateway starts");
    let url = gateway.url();
    let pool = gateway.state.pool.clone();
    let http = reqwest::Client::new();
    let (sink_url, sink) = start_sink().await;
    let set = http
        .put(format!("{url}/v1/webhook"))
        .bearer_auth(API_KEY)
        .json(&json!({ "url": sink_url }))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "webhook URL set");
    let merchant: Uuid = sqlx::query_scalar("SELECT id FROM merchants LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();

    // 1. Rate: a backlog, delivered as fast as the workers go.
    let wake = gateway.state.outbox_wake.clone();
    let started = queue_events(&wake, &pool, merchant, events).await;
    wait_delivered(&pool, events as i64).await;
    let rate_per_s = events as f64 / started.elapsed().as_secs_f64();

    // 2. Lag: events committed one at a time at a steady rate for five seconds.
    sink.arrivals.lock().unwrap().clear();
    let paced = rate * 5;
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let mut ticker = tokio::time::interval(every);
    for _ in 0..paced {
        ticker.tick().await;
        let pool = pool.clone();
        let wake = wake.clone();
        tokio::spawn(async move { queue_events(&wake, &pool, merchant, 1).await });
    }
    wait_delivered(&pool, (events + paced) as i64).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut lags: Vec<f64> = sink
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(created, arrived)| {
            (*arrived - *created).num_microseconds().unwrap_or(0) as f64 / 1e3
        })
        .collect();
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50, p99, max) = (
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        *lags.last().unwrap(),
    );

    println!("webhook delivery ({workers} workers, a local endpoint answering at once)");
    println!("  backlog of {events}       {rate_per_s:.0} deliveries/s");
    println!(
        "  lag at {rate} events/s   p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} events)",
        lags.len()
    );
    println!(
        "{}",
        json!({ "bench": "webhooks", "workers": workers, "events": events,
                "deliveries_per_s": rate_per_s.round(), "lag_rate_per_s": rate,
                "lag_ms": { "p50": p50, "p99": p99, "max": max } })
    );

    gateway.shutdown().await;
    drop(pool);
    drop_database(&database).await;
}
