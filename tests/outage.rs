//! PostgreSQL unreachable: readiness says so at once, callbacks get the provider's retry answer
//! within a couple of seconds, the merchant API answers 503, and nothing is lost once it is back.

mod common;

use std::time::{Duration, Instant};

use common::db_proxy::DbProxy;
use common::{TestApp, TestOptions, str_of};
use reqwest::StatusCode;
use serde_json::json;

/// The longest a test waits for any answer during the outage: far above the configured 1 s and
/// 2 s, far below the 10 s and the endless waits the gateway had before.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn while_the_database_is_unreachable_the_gateway_answers_at_once() {
    let proxy = DbProxy::start("127.0.0.1:5432").await;
    let app = TestApp::spawn_with(TestOptions {
        database_server: Some(proxy.server_url.clone()),
        ..TestOptions::default()
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .unwrap();
    let readyz = || http.get(format!("{}/readyz", app.url)).send();
    assert_eq!(readyz().await.unwrap().status(), StatusCode::OK);
    let address = str_of(&app.create_address("olga", "BTC", "BTC").await, "address").to_owned();
    let held = app
        .udun()
        .deposit_with(&address, "0.3", json!({ "hold": true }))
        .await;
    let form = str_of(&held, "form").to_owned();

    proxy.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let response = readyz().await.expect("readyz answers during the outage");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        eprintln!("readyz during the outage: {:?}", started.elapsed());
    }
    let started = Instant::now();
    let response = http
        .post(format!("{}/callbacks/{}", app.url, common::UDUN_ACCOUNT))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .expect("the callback is answered during the outage");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.text().await.unwrap(),
        "error",
        "Udun's retry answer"
    );
    eprintln!("callback during the outage: {:?}", started.elapsed());
    let response = http
        .get(format!("{}/v1/deposits?user_id=olga", app.url))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .expect("the merchant API answers during the outage");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz().await.map(|r| r.status()).ok() != Some(StatusCode::OK) {
        assert!(Instant::now() < deadline, "ready again after the outage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The provider sends again, as it was asked to: stored once.
    for _ in 0..2 {
        let (status, text) = app.deliver_form(&form).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    let (_, list) = app.get("/v1/deposits?user_id=olga").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["amount"], "0.3");
}
