//! The binary's merchant commands against a real database.

mod common;

use std::process::Command;

use custody_gateway::orders::merchants::hash_api_key;
use serde_json::Value;

fn gateway(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custody-gateway"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

#[tokio::test]
async fn merchant_create_prints_credentials_once_and_stores_only_a_hash() {
    let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("{}/{name}", common::database_server());

    let output = gateway(
        &database_url,
        &[
            "merchant",
            "create",
            "--name",
            "Acme",
            "--webhook-url",
            "https://acme.example/hooks",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let api_key = created["api_key"].as_str().unwrap();
    assert!(created["id"].is_string());
    assert!(
        created["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );

    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, hash_api_key(api_key).to_vec());
    let key_anywhere: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_prefix = $1 OR encode(key_hash, 'escape') LIKE '%' || $1 || '%')",
    )
    .bind(api_key)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!key_anywhere, "the key itself is not stored");
    pool.close().await;

    let output = gateway(&database_url, &["merchant", "list"]);
    assert!(output.status.success());
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(listed.contains("\"Acme\""));
    assert!(!listed.contains(api_key), "list never shows keys");
    assert!(!listed.contains("whsec_"), "list never shows secrets");

    let output = gateway(&database_url, &["migrate"]);
    assert!(output.status.success());
    common::drop_database(&name);
}
