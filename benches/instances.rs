//! Two gateway processes, one database: signed Udun deposit callbacks split between two running
//! `custody-gateway` processes, with a fifth of them delivered to both at the same moment (a
//! provider retrying against another instance behind the load balancer). Prints the rate of each
//! process and the combined rate, beside the same load on one process alone, and checks that every
//! deposit was stored and announced exactly once.
//!
//! `cargo bench --bench instances [-- DEPOSITS]` (default 3000 deposits a round). On a 2-core
//! machine the second process adds no throughput: what this proves is correctness.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use sqlx::PgPool;

mod common;

use common::{REPEAT_EVERY, SERVER, drop_database, held_deposits, udun_addresses};

const API_KEY: &str = "cgk_demo_key_for_the_simulators_only";
const CONCURRENCY: usize = 32;

/// A gateway process of its own, stopped when dropped.
struct Instance {
    url: String,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn_instance(http: &reqwest::Client, database_url: &str) -> Instance {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_custody-gateway"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CUSTODY__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("CUSTODY__DATABASE__URL", database_url)
        .env("CUSTODY__POLLERS__INTERVAL_MS", "3600000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the gateway binary starts");
    let instance = Instance {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let started = Instant::now();
    loop {
        let ready = http.get(format!("{}/healthz", instance.url)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return instance;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gateway did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Which instance gets each delivery: deposits alternate between them, and every
/// `REPEAT_EVERY`th is also sent to the other one right beside the first delivery.
fn deliveries(forms: &[String], instances: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, form) in forms.iter().enumerate() {
        out.push((form.clone(), n % instances));
        if n % REPEAT_EVERY == 0 {
            out.push((form.clone(), (n + 1) % instances));
        }
    }
    out
}

struct Round {
    sent: Vec<usize>,
    elapsed: Duration,
}

impl Round {
    fn per_second(&self, instance: usize) -> f64 {
        self.sent[instance] as f64 / self.elapsed.as_secs_f64()
    }

    fn combined(&self) -> f64 {
        self.sent.iter().sum::<usize>() as f64 / self.elapsed.as_secs_f64()
    }
}

async fn post_all(
    http: &reqwest::Client,
    targets: &[String],
    deliveries: Vec<(String, usize)>,
) -> Round {
    let mut sent = vec![0; targets.len()];
    for (_, instance) in &deliveries {
        sent[*instance] += 1;
    }
    let started = Instant::now();
    futures::stream::iter(deliveries)
        .map(|(form, instance)| {
            let request = http
                .post(&targets[instance])
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            async move {
                let response = request.send().await.expect("the gateway answers");
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                assert_eq!(
                    (status.as_u16(), text.as_str()),
                    (200, "success"),
                    "every callback is taken"
                );
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    Round {
        sent,
        elapsed: started.elapsed(),
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::main]
async fn main() {
    let deposits: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let database = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("{SERVER}/{database}");
    let http = reqwest::Client::new();

    // The first applies the migrations and makes the demo merchant; the second finds them.
    let first = spawn_instance(&http, &database_url).await;
    let second = spawn_instance(&http, &database_url).await;
    let pool = PgPool::connect(&database_url).await.unwrap();
    let addresses = udun_addresses(&http, &first.url, API_KEY, "instances", 100).await;
    let targets: Vec<String> = [&first, &second]
        .iter()
        .map(|i| format!("{}/callbacks/udun-main", i.url))
        .collect();

    let forms = held_deposits(&http, &first.url, &addresses, deposits).await;
    let alone = post_all(&http, &targets[..1], deliveries(&forms, 1)).await;
    let forms = held_deposits(&http, &first.url, &addresses, deposits).await;
    let split = post_all(&http, &targets, deliveries(&forms, 2)).await;

    let stored = count(&pool, "SELECT count(*) FROM deposits").await;
    let confirmed = count(
        &pool,
        "SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'",
    )
    .await;
    let events = count(&pool, "SELECT count(*) FROM provider_events").await;
    let expected = (deposits * 2) as i64;
    let exact = stored == expected && confirmed == expected && events == expected;

    println!("ingest over {deposits} deposits a round, a fifth delivered twice, c{CONCURRENCY}");
    println!("  one process        {:>6.0}/s", alone.per_second(0));
    println!(
        "  two processes      {:>6.0}/s + {:>6.0}/s = {:>6.0}/s combined",
        split.per_second(0),
        split.per_second(1),
        split.combined()
    );
    println!(
        "stored: {stored} deposits, {confirmed} deposit.confirmed notifications, {events} events"
    );
    println!("exactly once: {}", if exact { "yes" } else { "NO" });
    println!(
        "{}",
        json!({ "bench": "instances", "deposits_per_round": deposits, "concurrency": CONCURRENCY,
                "one_process_per_s": alone.per_second(0).round(),
                "two_processes_per_s": [split.per_second(0).round(), split.per_second(1).round()],
                "combined_per_s": split.combined().round(), "exactly_once": exact })
    );

    drop(pool);
    drop(first);
    drop(second);
    drop_database(&database).await;
    assert!(exact, "every deposit must be stored exactly once");
}
