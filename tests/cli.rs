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

/// Runs `custody-gateway serve` (simulator mode, debug logs) until `probe` has run against it,
/// then stops it and returns everything it printed.
async fn serve_and_capture<F, Fut>(database_url: &str, probe: F) -> String
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use std::io::Read;
    let log_path = std::env::temp_dir().join(format!("cg-log-{}", uuid::Uuid::new_v4().simple()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_custody-gateway"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", database_url)
        .env("CUSTODY__SERVER__BIND", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("binary runs");
    let mut url = None;
    for _ in 0..300 {
        let mut text = String::new();
        std::fs::File::open(&log_path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        if let Some(at) = text.find("listening") {
            let rest = &text[at..];
            if let Some(start) = rest.find("http://127.0.0.1:") {
                let port: String = rest[start + 17..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                url = Some(format!("http://127.0.0.1:{port}"));
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = url.expect("the gateway says where it listens");
    probe(url).await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    text
}

#[tokio::test]
async fn approval_tokens_never_reach_the_logs() {
    let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("{}/{name}", common::database_server());
    // The default configuration's token, and a guess that could be a mistyped real one.
    const TOKEN: &str = "sim-cosigner-token";
    const GUESS: &str = "guessed-secret-8d1f";
    let output = serve_and_capture(&database_url, |url| async move {
        let http = reqwest::Client::new();
        let body = serde_json::json!({
            "type": "sign_start", "transfer_id": 1, "request_id": "nobody-asked",
            "amount": "1", "to": "0x5edc9177997bf6b4db559a5c184051858b3b3704", "symbol": "ETH",
        })
        .to_string();
        for (token, expected) in [(TOKEN, 200), (GUESS, 401)] {
            let response = http
                .post(format!(
                    "{url}/callbacks/chainup-main/cosigner?token={token}"
                ))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), expected);
        }
        let response = http
            .post(format!("{url}/callbacks/chainup-main/cosigner"))
            .bearer_auth(GUESS)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    })
    .await;
    assert!(
        output.contains("approval call refused"),
        "the refusals are logged: {output}"
    );
    assert!(output.contains("/callbacks/chainup-main/cosigner"));
    assert!(!output.contains(TOKEN), "{output}");
    assert!(!output.contains(GUESS), "{output}");

    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT headers::text || body || coalesce(reject_reason, '') FROM provider_callbacks",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|row| !row.contains(TOKEN) && !row.contains(GUESS))
    );
    pool.close().await;
    common::drop_database(&name);
}

#[tokio::test]
async fn list_settings_are_read_from_the_environment() {
    let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
    let database_url = format!("{}/{name}", common::database_server());
    for (var, value) in [
        ("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "1000,2000"),
        ("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "1000"),
        (
            "CUSTODY__SERVER__TRUSTED_PROXIES",
            "10.0.0.5/32, 10.0.1.0/24",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_custody-gateway"))
            .arg("migrate")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "warn")
            .env(var, value)
            .output()
            .expect("binary runs");
        assert!(
            output.status.success(),
            "{var}={value}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_custody-gateway"))
        .arg("migrate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &database_url)
        .env("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "1000,soon")
        .output()
        .expect("binary runs");
    assert!(!output.status.success(), "a bad element is refused");
    common::drop_database(&name);
}
