//! A TCP relay in front of the test PostgreSQL that a test can cut: while it is down, connections are
//! accepted and held and no byte is relayed, as during a network partition or a stuck server.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub struct DbProxy {
    /// `postgres://postgres@127.0.0.1:<port>`, to use in place of the real server.
    pub server_url: String,
    down: Arc<AtomicBool>,
}

impl DbProxy {
    /// Relays to `upstream` (host:port).
    pub async fn start(upstream: &str) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let flag = down.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, down) = (upstream.clone(), flag.clone());
                tokio::spawn(async move {
                    while down.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, down).await;
                    }
                });
            }
        });
        DbProxy {
            server_url: format!("postgres://postgres@127.0.0.1:{port}"),
            down,
        }
    }

    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

async fn relay(client: TcpStream, server: TcpStream, down: Arc<AtomicBool>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(pump(client_read, server_write, down.clone()));
    let back = tokio::spawn(pump(server_read, client_write, down));
    let _ = tokio::join!(up, back);
}

/// Copies bytes one way, holding them (not dropping them) while the relay is down.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    down: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while down.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
