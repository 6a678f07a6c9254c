//! The gateway's connections to PostgreSQL send each message at once (`TCP_NODELAY`). With
//! Nagle's algorithm on, a message written in more than one piece, as a group of callbacks is
//! once it outgrows a TLS record, waits for the server's delayed ACK: 40 ms or more a statement.

mod common;

use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};

use common::TestApp;

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
