//! Slow clients and the gateway's memory: connections sending a byte a second (half of them a
//! request head, half a body announced as 100 000 bytes) at a gateway on a fresh PostgreSQL
//! database, with the gateway's resident memory read from `/proc/self/status` before, during and
//! after.
//!
//! `cargo bench --bench slow_clients [-- CONNECTIONS HOLD_SECS]` (defaults 2000 and 30). The clients
//! run in a child process (this program again), so the figures are the gateway's alone. After
//! HOLD_SECS the clients close whatever the gateway left open.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use custody_gateway::start;

mod common;

use common::{SERVER, drop_database};
const CLIENTS_FLAG: &str = "--slow-clients";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(at) = args.iter().position(|a| a == CLIENTS_FLAG) {
        let addr = args[at + 1].clone();
        let connections = args[at + 2].parse().unwrap();
        let hold = Duration::from_secs(args[at + 3].parse().unwrap());
        runtime.block_on(run_clients(addr, connections, hold));
    } else {
        let numbers: Vec<u64> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
        let connections = numbers.first().copied().unwrap_or(2000);
        let hold = numbers.get(1).copied().unwrap_or(30);
        runtime.block_on(measure(connections, hold));
    }
}

async fn measure(connections: u64, hold_secs: u64) {
    let database = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut settings = common::default_settings();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.url = format!("{SERVER}/{database}").into();
    settings.pollers.interval_ms = 3_600_000;
    let server = settings.server.clone();
    let gateway = start(settings).await.expect("gateway starts");
    println!(
        "limits: header {} ms, body {} ms, request {} ms, max_connections {}",
        server.header_read_timeout_ms,
        server.body_read_timeout_ms,
        server.request_timeout_ms,
        server.max_connections
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("idle:                 {:6.1} MB", rss_mb());

    let mut clients = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            CLIENTS_FLAG,
            &gateway.addr.to_string(),
            &connections.to_string(),
            &hold_secs.to_string(),
        ])
        .spawn()
        .expect("the clients start");
    let started = Instant::now();
    let mut peak = 0.0f64;
    let finished = loop {
        if let Some(status) = clients.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak = peak.max(rss_mb());
    };
    assert!(finished.success(), "the clients failed");
    println!(
        "under load (peak):    {peak:6.1} MB, {connections} slow connections over {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for after in [10, 20, 30] {
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!("{after} s after closing: {:6.1} MB", rss_mb());
    }
    gateway.shutdown().await;
    drop_database(&database).await;
}

/// The client side: `connections` slow connections, reporting how many the gateway closed.
async fn run_clients(addr: String, connections: u64, hold: Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..connections {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await.ok()?;
            let closed = tokio::time::timeout(hold, trickle(stream, n % 2 == 0)).await;
            Some(closed.is_ok())
        }));
    }
    let mut closed_by_gateway = 0;
    let mut failed_to_connect = 0;
    for task in tasks {
        match task.await.unwrap() {
            Some(true) => closed_by_gateway += 1,
            Some(false) => {}
            None => failed_to_connect += 1,
        }
    }
    println!(
        "clients: {closed_by_gateway} of {connections} closed by the gateway within {} s ({failed_to_connect} could not connect), done after {:.0} s",
        hold.as_secs(),
        started.elapsed().as_secs_f64()
    );
}

/// Sends a request a byte a second until the gateway closes the connection.
async fn trickle(mut stream: TcpStream, headers_only: bool) {
    let (head, trickled): (&[u8], Vec<u8>) = if headers_only {
        let line = format!(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}",
            "a".repeat(200)
        );
        (b"", line.into_bytes())
    } else {
        (
            b"POST /callbacks/udun-main HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n",
            vec![b'a'; 100_000],
        )
    };
    let (mut reader, mut writer) = stream.split();
    let write = async {
        if writer.write_all(head).await.is_ok() {
            for byte in trickled {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if writer.write_all(&[byte]).await.is_err() {
                    break;
                }
            }
        }
        std::future::pending::<()>().await
    };
    let read = async {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = reader.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = read => {}
        _ = write => {}
    }
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(-1.0, |kb| kb / 1024.0)
}
