//! API keys are kept by the gateway after a check, and a revoked key or a disabled merchant is
//! refused all the same from the moment its change is announced, not when the kept copy expires
//! (half a minute).

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use custody_gateway::orders::merchants::hash_api_key;
use reqwest::StatusCode;

/// Far below how long a kept key is trusted, so that only the announcement can pass the tests.
const HEARD_WITHIN: Duration = Duration::from_secs(5);

/// Uses the app's key until the gateway keeps it (it keeps none before it listens for changes).
async fn until_kept(app: &TestApp) {
    let kept = || {
        app.gateway
            .state
            .known_keys
            .merchant(&hash_api_key(&app.api_key))
    };
    let deadline = Instant::now() + HEARD_WITHIN;
    while kept().is_none() {
        assert!(Instant::now() < deadline, "the key was never kept");
        let (status, body) = app.get("/v1/addresses?user_id=ann").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept(), Some(app.merchant_id));
}

/// Runs an operator's statement on the app's database.
async fn operator_runs(app: &TestApp, statement: &'static str) {
    sqlx::query(statement).execute(&app.pool).await.unwrap();
}

/// The status the app's key gets once it stops getting 200, within `HEARD_WITHIN`.
async fn refused_with(app: &TestApp) -> (StatusCode, String) {
    let deadline = Instant::now() + HEARD_WITHIN;
    loop {
        let (status, body) = app.get("/v1/addresses?user_id=ann").await;
        if status != StatusCode::OK {
            return (status, body["error"]["code"].as_str().unwrap().to_owned());
        }
        assert!(Instant::now() < deadline, "the key still works");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_kept_key_that_is_revoked_is_refused_at_once() {
    let app = TestApp::spawn().await;
    until_kept(&app).await;

    operator_runs(&app, "UPDATE api_keys SET revoked_at = now()").await;

    let refused = refused_with(&app).await;
    assert_eq!(refused, (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    let (status, _) = app.get("/v1/addresses?user_id=ann").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and stays refused");
}

#[tokio::test]
async fn a_kept_key_of_a_merchant_disabled_is_refused_at_once() {
    let app = TestApp::spawn().await;
    until_kept(&app).await;

    operator_runs(&app, "UPDATE merchants SET disabled = true").await;

    let refused = refused_with(&app).await;
    assert_eq!(refused, (StatusCode::FORBIDDEN, "merchant_disabled".into()));
}

#[tokio::test]
async fn keys_are_read_again_while_changes_cannot_be_heard() {
    let app = TestApp::spawn().await;
    until_kept(&app).await;

    // Cut the gateway's listening connection, and revoke the key, unannounced, while it
    // reconnects.
    operator_runs(
        &app,
        "ALTER TABLE api_keys DISABLE TRIGGER api_keys_changed",
    )
    .await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%custody_credentials%'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(cut, [true]);
    operator_runs(&app, "UPDATE api_keys SET revoked_at = now()").await;

    let refused = refused_with(&app).await;
    assert_eq!(refused, (StatusCode::UNAUTHORIZED, "unauthorized".into()));
}

#[tokio::test]
async fn a_webhook_test_goes_to_the_endpoint_as_set_now() {
    let app = TestApp::spawn().await;
    until_kept(&app).await;
    let (status, body) = app.post("/v1/webhook/test", &serde_json::json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "no_webhook_url");

    // Nothing listens on port 1: the attempt fails, but it is made to the URL just set.
    app.set_webhook_url("http://127.0.0.1:1/hooks").await;
    let (status, body) = app.post("/v1/webhook/test", &serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], false);
}
