//! What the benchmarks share: the PostgreSQL server they use and the cleanup of their databases.
#![allow(dead_code)]

/// The local PostgreSQL server every benchmark database lives on.
pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The default settings, with `CUSTODY__SECTION__KEY` variables applied (e.g.
/// `CUSTODY__DATABASE__CALLBACK_GROUPS=2`), so that a run can try other values.
pub fn default_settings() -> custody_gateway::config::Settings {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let custody = std::env::vars().filter(|(name, _)| name.starts_with("CUSTODY__"));
    custody_gateway::config::Settings::load_with_env(&dir, custody).expect("default config")
}

/// Drops a benchmark's database, closing what it left open.
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
        let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await;
    }
}

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

/// One callback in this many is delivered a second time, as providers retry.
pub const REPEAT_EVERY: usize = 5;

/// What one round of callbacks measured.
pub struct IngestRound {
    pub sent: usize,
    pub elapsed: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
    /// CPU time the whole machine spent busy meanwhile (every process: the load, the server,
    /// PostgreSQL), where `/proc/stat` tells it.
    pub busy: Option<Duration>,
}

impl IngestRound {
    pub fn per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }

    /// Busy CPU per callback, in milliseconds: what a round costs the machine, which moves far
    /// less between runs than the rate on a machine shared with others.
    pub fn cpu_ms_per_callback(&self) -> Option<f64> {
        self.busy
            .map(|busy| busy.as_secs_f64() * 1e3 / self.sent as f64)
    }

    pub fn at(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        self.latencies[((n as f64 * q) as usize).min(n - 1)]
    }
}

/// Deposit addresses for `users` users of the demo merchant (`key`), on Udun's BTC.
pub async fn udun_addresses(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    prefix: &str,
    users: usize,
) -> Vec<String> {
    let mut addresses = Vec::new();
    for user in 0..users {
        let created = post_json(
            http.post(format!("{url}/v1/addresses")).bearer_auth(key),
            json!({ "user_id": format!("{prefix}-{user}"), "chain": "BTC", "asset": "BTC" }),
        )
        .await;
        addresses.push(created["address"].as_str().unwrap().to_owned());
    }
    addresses
}

/// Signed Udun deposit callbacks, one per deposit over `addresses`, held by the simulator rather
/// than sent.
pub async fn held_deposits(
    http: &reqwest::Client,
    url: &str,
    addresses: &[String],
    deposits: usize,
) -> Vec<String> {
    let mut forms = Vec::with_capacity(deposits + deposits / REPEAT_EVERY);
    for n in 0..deposits {
        let held = post_json(
            http.post(format!("{url}/sim/udun/deposits")),
            json!({ "address": addresses[n % addresses.len()], "amount": "0.00012345", "hold": true }),
        )
        .await;
        forms.push(held["form"].as_str().unwrap().to_owned());
    }
    forms
}

/// [`held_deposits`], a fifth of them twice (appended), as providers retry.
pub async fn held_callbacks(
    http: &reqwest::Client,
    url: &str,
    addresses: &[String],
    deposits: usize,
) -> Vec<String> {
    let mut forms = held_deposits(http, url, addresses, deposits).await;
    let repeats: Vec<String> = forms.iter().step_by(REPEAT_EVERY).cloned().collect();
    forms.extend(repeats);
    forms
}

/// Posts `forms` to `target`, `concurrency` at a time, each expected to be answered `success`.
pub async fn post_callbacks(
    http: &reqwest::Client,
    target: &str,
    forms: Vec<String>,
    concurrency: usize,
) -> IngestRound {
    let sent = forms.len();
    let busy_before = busy_cpu();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(forms)
        .map(|form| {
            let http = http.clone();
            let target = target.to_owned();
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
    let busy = busy_cpu()
        .zip(busy_before)
        .map(|(after, before)| after.saturating_sub(before));
    latencies.sort();
    IngestRound {
        sent,
        elapsed,
        latencies,
        busy,
    }
}

/// CPU time all cores have spent busy since boot (neither idle nor waiting for I/O), from the
/// first line of `/proc/stat`, which counts in ticks of 1/100 s; `None` where there is none.
pub fn busy_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some(Duration::from_millis(
        (ticks.iter().sum::<u64>() - idle) * 10,
    ))
}

/// The sum and count of a histogram in the gateway's `/metrics` (0 where it has none yet).
pub async fn histogram(http: &reqwest::Client, url: &str, token: &str, name: &str) -> (f64, f64) {
    labelled_histogram(http, url, token, name, "").await
}

/// The sum and count of one series of a histogram, chosen by its labels as `/metrics` writes
/// them (e.g. `{result="statement"}`).
pub async fn labelled_histogram(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    labels: &str,
) -> (f64, f64) {
    let text = http
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |suffix: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(&format!("{name}_{suffix}{labels} "))?
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    (value("sum"), value("count"))
}

pub async fn post_json(request: reqwest::RequestBuilder, body: Value) -> Value {
    request
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
