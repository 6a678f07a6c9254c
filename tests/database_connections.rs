//! The gateway's connections to PostgreSQL. They send each message at once (`TCP_NODELAY`): with
//! Nagle's algorithm on, a message written in more than one piece, as a group of callbacks is
//! once it outgrows a TLS record, waits for the server's delayed ACK, 40 ms or more a statement.
//! And the pool is the queries' own: the listeners connect beside it.

mod common;

use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use common::{TestApp, TestOptions};
use sqlx::Connection;

/// Whether each TCP socket of this process connected to `server` has `TCP_NODELAY` set.
fn nodelay_of_sockets_to(server: SocketAddr) -> Vec<bool> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(fd) = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .parse::<RawFd>()
        else {
            continue;
        };
        // SAFETY: only borrowed for the two queries below; a descriptor closed meanwhile makes
        // them fail, and those are skipped.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&borrowed);
        let Some(peer) = socket.peer_addr().ok().and_then(|a| a.as_socket()) else {
            continue;
        };
        if peer == server {
            found.push(socket.tcp_nodelay().expect("a TCP socket"));
        }
    }
    found
}

#[tokio::test]
async fn every_database_connection_sends_without_delay() {
    let app = TestApp::spawn().await;
    let pool = &app.gateway.state.pool;
    let _held: Vec<_> = futures::future::try_join_all((0..3).map(|_| pool.acquire()))
        .await
        .unwrap();

    let server: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let sockets = nodelay_of_sockets_to(server);
    assert!(
        sockets.len() >= 3,
        "the connections just taken: {sockets:?}"
    );
    assert!(
        sockets.iter().all(|&nodelay| nodelay),
        "TCP_NODELAY on each connection: {sockets:?}"
    );
}

/// The listeners (webhook wake-ups, credential changes) hold connections of their own for good:
/// every connection of the configured pool is left to queries.
#[tokio::test]
async fn listeners_leave_the_whole_pool_to_queries() {
    let app = TestApp::spawn_with(TestOptions {
        database_connections: 3,
        ..TestOptions::webhooks(1)
    })
    .await;
    let mut watcher = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'",
        )
        .bind(&app.database)
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if listening == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{listening} listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pool = &app.gateway.state.pool;
    let all = futures::future::try_join_all((0..3).map(|_| pool.acquire()));
    let held = tokio::time::timeout(Duration::from_secs(5), all).await;
    assert!(
        matches!(held, Ok(Ok(_))),
        "all three pooled connections could be taken while both listeners listen"
    );
}
