//! All SQL. Nothing outside this module touches sqlx queries; callers read like sentences.

pub mod addresses;
pub mod backlog;
pub mod batch;
pub mod callbacks;
pub mod deposits;
pub mod merchants;
pub mod outbox;
pub mod polling;
pub mod states;
pub mod transitions;
pub mod treasury;
pub mod webhooks;
pub mod withdrawals;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens the pool, creating the database first when asked to and it does not exist.
pub async fn connect(
    url: &str,
    max_connections: u32,
    create_if_missing: bool,
    acquire_timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    if create_if_missing {
        create_database_if_missing(&options).await?;
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // The pool checks each connection as it is given back. One that has sat idle since is
        // checked again before use; one in steady use is not, which would cost a round trip to
        // the database on every query.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
}

/// How long a pooled connection may sit idle before it is checked again before use.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A connection of its own listening on `channel` (`LISTEN`), outside `pool`: a listener holds
/// its connection for good, and taken from the pool it would leave the queries one fewer.
pub async fn listen(
    pool: &PgPool,
    channel: &str,
) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our CREATE.
            Err(err) if is_code(&err, "42P04") || is_code(&err, "23505") => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

fn is_code(err: &sqlx::Error, code: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

/// One round trip to the database.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// Whether `err` means the database cannot be reached now (rather than a query being wrong).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

/// Whether `err` is a violation of the named unique constraint.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}
