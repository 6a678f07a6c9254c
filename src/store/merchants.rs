use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// A merchant, with its webhook secret: no `Debug`, so that it cannot be printed by accident.
#[derive(Clone, sqlx::FromRow)]
pub struct MerchantRow {
    pub id: Uuid,
    pub name: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for MerchantRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"[redacted]")
            .field("disabled", &self.disabled)
            .finish()
    }
}

pub async fn insert_merchant(
    db: impl PgExecutor<'_>,
    id: Uuid,
    name: &str,
    webhook_url: Option<&str>,
    webhook_secret: &str,
) -> Result<MerchantRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO merchants (id, name, webhook_url, webhook_secret) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(id)
    .bind(name)
    .bind(webhook_url)
    .bind(webhook_secret)
    .fetch_one(db)
    .await
}

/// Stores a key's hash; returns false when that key is already stored.
pub async fn insert_api_key(
    db: impl PgExecutor<'_>,
    merchant_id: Uuid,
    key_hash: &[u8],
    key_prefix: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO api_keys (id, merchant_id, key_hash, key_prefix) VALUES ($1, $2, $3, $4)
         ON CONFLICT ON CONSTRAINT api_keys_hash_unique DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(merchant_id)
    .bind(key_hash)
    .bind(key_prefix)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The merchant an API key belongs to, when the key is not revoked.
#[derive(sqlx::FromRow)]
pub struct KeyHolder {
    pub id: Uuid,
    pub disabled: bool,
}

pub async fn find_key_holder(
    pool: &PgPool,
    key_hash: &[u8],
) -> Result<Option<KeyHolder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.disabled FROM merchants m JOIN api_keys k ON k.merchant_id = m.id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(pool)
    .await
}

pub async fn find_merchant(pool: &PgPool, id: Uuid) -> Result<Option<MerchantRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM merchants WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn find_merchant_by_name(
    pool: &PgPool,
    name: &str,
) -> Result<Option<MerchantRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM merchants WHERE name = $1 ORDER BY created_at LIMIT 1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

pub async fn list_merchants(pool: &PgPool) -> Result<Vec<MerchantRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM merchants ORDER BY created_at")
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::MerchantRow;

    #[test]
    fn debug_output_never_shows_the_webhook_secret() {
        let row = MerchantRow {
            id: uuid::Uuid::nil(),
            name: "Acme".into(),
            webhook_url: None,
            webhook_secret: "whsec_do_not_print".into(),
            disabled: false,
            created_at: chrono::Utc::now(),
        };
        let shown = format!("{row:?}");
        assert!(shown.contains("Acme"));
        assert!(!shown.contains("whsec_do_not_print"));
    }
}
