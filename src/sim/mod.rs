//! Provider simulators (DESIGN §8): each provider's side of its protocol, with the same signing code,
//! in-memory wallets, and a control API that makes things happen and reaches the gateway the way the
//! real provider would.

pub mod chainup;
pub mod faults;
pub mod payprotocol;
pub mod ubao;
pub mod udun;
pub mod waas;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::providers::registry::KINDS;

/// Every kind's simulator, at its mount path. `gateway_url` is set when they run inside the gateway.
pub fn router(settings: &Settings, gateway_url: Option<&str>) -> Router {
    let mut router = Router::new();
    for kind in KINDS {
        let Some(simulator) = &kind.simulator else {
            continue;
        };
        match (simulator.router)(settings, gateway_url) {
            Some(Ok(sim)) => router = router.nest(simulator.mount, sim),
            Some(Err(err)) => {
                tracing::warn!(kind = kind.name, error = %err, "simulator not started")
            }
            None => {}
        }
    }
    router
}

/// Serves the simulators alone (the `sim` command, and tests that run them as a separate host).
pub async fn serve(settings: &Settings, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(settings, None)).await
}

/// Binds `bind` and serves the simulators in the background; returns the bound address.
pub async fn spawn(settings: &Settings, bind: &str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let app = router(settings, None);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "simulator stopped");
        }
    });
    Ok(addr)
}
