//! What the benchmarks share: the PostgreSQL server they use and the cleanup of their databases.

/// The local PostgreSQL server every benchmark database lives on.
pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

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
