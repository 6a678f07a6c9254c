//! custody-gateway: one merchant API over several custody providers, with exactly-once callbacks.

pub mod api;
pub mod batching;
pub mod config;
pub mod domain;
pub mod error;
pub mod orders;
pub mod providers;
pub mod server;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod workers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Settings, SettingsError};
use crate::providers::Registry;

/// What every handler and worker shares: the core (settings, database, provider accounts) and
/// what only the HTTP layer needs.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub core: Arc<orders::Core>,
    /// Who may call each approval-taking account's approval endpoint.
    pub approval_guards: HashMap<String, api::caller::ApprovalGuard>,
    /// API keys checked recently, forgotten when credentials change.
    pub known_keys: Arc<api::known_keys::KnownKeys>,
}

impl Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl Deref for AppStateInner {
    type Target = orders::Core;
    fn deref(&self) -> &orders::Core {
        &self.core
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// A gateway serving in the background; dropping it does not stop it, `shutdown` does.
pub struct Gateway {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Set when the simulator mode created the demo merchant.
    pub demo_api_key: Option<String>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Gateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }

    /// Waits until the server stops (on shutdown or a signal).
    pub async fn wait(self) {
        let _ = self.server.await;
    }
}

pub async fn connect_database(settings: &Settings) -> Result<PgPool, StartError> {
    let pool = store::connect(
        settings.database_url(),
        settings.database.max_connections,
        settings.database.create_if_missing,
        std::time::Duration::from_millis(settings.database.acquire_timeout_ms),
    )
    .await?;
    store::migrate(&pool).await?;
    Ok(pool)
}

/// How many address creations may hold a connection at once: a quarter of the pool (at least
/// one), so that a provider slow to create addresses never stalls callbacks and lookups.
fn address_creations(pool_size: u32) -> usize {
    (pool_size as usize / 4).max(1)
}

/// Connects, migrates, binds, and serves the gateway (and, in simulator mode, the simulators on
/// the same listener) with its background workers.
pub async fn start(settings: Settings) -> Result<Gateway, StartError> {
    telemetry::metrics_handle();
    let listener = TcpListener::bind(&settings.server.bind)
        .await
        .map_err(|source| StartError::Bind {
            bind: settings.server.bind.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        bind: settings.server.bind.clone(),
        source,
    })?;
    let public_url = settings
        .server
        .public_url
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let sim_base = settings.sim.enabled.then(|| format!("http://{addr}"));
    let registry = Registry::build(&settings, sim_base.as_deref())?;
    let approval_guards = api::caller::approval_guards(&settings, &registry)?;
    let pool = connect_database(&settings).await?;
    warn_if_requests_cannot_wait_for_providers(&settings);

    let demo_api_key = match (&settings.sim.enabled, &settings.sim.demo_api_key) {
        (true, Some(key)) => {
            orders::merchants::ensure_demo_merchant(&pool, key.expose_secret()).await?;
            Some(key.expose_secret().to_owned())
        }
        _ => None,
    };

    let state = AppState(Arc::new(AppStateInner {
        core: Arc::new(orders::Core {
            settings: settings.clone(),
            pool: pool.clone(),
            registry,
            public_url,
            outbox_wake: Arc::default(),
            callbacks: orders::group_commit::CallbackWriter::start(
                pool,
                batching::Limits {
                    slots: settings.database.callback_groups,
                    max_batch: settings.database.callback_group_max,
                    linger: Duration::from_micros(settings.database.callback_group_linger_us),
                },
            ),
            address_creations: tokio::sync::Semaphore::new(address_creations(
                settings.database.max_connections,
            )),
            making_collection_wallet: tokio::sync::Mutex::default(),
        }),
        approval_guards,
        known_keys: Arc::default(),
    }));
    orders::treasury::sync_sweep_policies(&state).await?;
    let mut router = api::router(state.clone());
    if settings.sim.enabled {
        router = router.merge(sim::router(&settings, Some(&state.public_url)));
    }

    let (stop, mut stopped) = watch::channel(false);
    let workers = workers::spawn(state.clone(), stop.subscribe());
    let server = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = stopped.changed() => {}
                _ = shutdown_signal() => {}
            }
        };
        server::serve(listener, router, &settings.server, shutdown).await;
        workers.abort();
    });
    Ok(Gateway {
        addr,
        state,
        demo_api_key,
        stop,
        server,
    })
}

/// A request that waits on a provider for its whole `timeout_secs` must still be answered by the
/// provider's error, not by the gateway's 408.
fn warn_if_requests_cannot_wait_for_providers(settings: &Settings) {
    let Some(request_timeout) = server::limit(settings.server.request_timeout_ms) else {
        return;
    };
    for account in settings.providers.iter().filter(|a| a.enabled) {
        let provider_timeout = std::time::Duration::from_secs(account.timeout_secs);
        if provider_timeout >= request_timeout {
            tracing::warn!(
                account = %account.id,
                provider_timeout_secs = account.timeout_secs,
                request_timeout_ms = settings.server.request_timeout_ms,
                "server.request_timeout_ms is not above this account's timeout_secs: requests waiting on it may be cut off with 408"
            );
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
