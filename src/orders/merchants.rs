//! Merchants and their credentials. Only a SHA-256 hash of an API key is stored.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::providers::crypto::random_alphanumeric;
use crate::store::merchants::{self, MerchantRow};

pub const DEMO_MERCHANT_NAME: &str = "demo";

pub struct CreatedMerchant {
    pub merchant: MerchantRow,
    pub api_key: String,
}

pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub fn new_api_key() -> String {
    format!("cgk_{}", random_alphanumeric(40))
}

/// A Standard Webhooks secret: `whsec_` + Base64 of 24 random bytes.
pub fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub async fn create_merchant(
    pool: &PgPool,
    name: &str,
    webhook_url: Option<&str>,
) -> Result<CreatedMerchant, sqlx::Error> {
    let api_key = new_api_key();
    let mut tx = pool.begin().await?;
    let merchant = merchants::insert_merchant(
        &mut *tx,
        Uuid::now_v7(),
        name,
        webhook_url,
        &new_webhook_secret(),
    )
    .await?;
    merchants::insert_api_key(
        &mut *tx,
        merchant.id,
        &hash_api_key(&api_key),
        &api_key[..8],
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedMerchant { merchant, api_key })
}

/// Makes sure the demo merchant exists and accepts `api_key` (simulator mode only).
pub async fn ensure_demo_merchant(
    pool: &PgPool,
    api_key: &str,
) -> Result<MerchantRow, sqlx::Error> {
    let merchant = match merchants::find_merchant_by_name(pool, DEMO_MERCHANT_NAME).await? {
        Some(existing) => existing,
        None => {
            merchants::insert_merchant(
                pool,
                Uuid::now_v7(),
                DEMO_MERCHANT_NAME,
                None,
                &new_webhook_secret(),
            )
            .await?
        }
    };
    let prefix: String = api_key.chars().take(8).collect();
    merchants::insert_api_key(pool, merchant.id, &hash_api_key(api_key), &prefix).await?;
    Ok(merchant)
}
