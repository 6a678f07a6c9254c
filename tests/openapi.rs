//! The published OpenAPI description matches the API that answers.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, str_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn spec(app: &TestApp) -> Value {
    let response = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn every_documented_operation_exists_and_needs_an_api_key() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 13, "{:?}", paths.keys());
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "01a20866-7e63-7370-9c68-c41e56a5c314");
        for method in keys(item) {
            let request = match method.as_str() {
                "get" => app.http.get(format!("{}{concrete}", app.url)),
                "post" => app
                    .http
                    .post(format!("{}{concrete}", app.url))
                    .json(&json!({})),
                "put" => app
                    .http
                    .put(format!("{}{concrete}", app.url))
                    .json(&json!({})),
                other => panic!("undocumented method {other}"),
            };
            let status = request.send().await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            operations += 1;
        }
    }
    assert_eq!(operations, 16);
    let docs = app
        .http
        .get(format!("{}/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn documented_shapes_are_the_shapes_returned() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let schema = |name: &str| keys(&spec["components"]["schemas"][name]["properties"]);

    let address = app.create_address("ola", "BTC", "BTC").await;
    assert_eq!(keys(&address), schema("AddressView"));
    app.sim_deposit(json!({ "address": str_of(&address, "address"), "amount": "0.5" }))
        .await;
    let (_, deposits) = app.get("/v1/deposits?user_id=ola").await;
    assert_eq!(keys(&deposits), schema("DepositPage"));
    assert_eq!(keys(&deposits["data"][0]), schema("DepositView"));

    let (_, withdrawal) = app
        .withdraw(&json!({
            "client_order_id": "doc-1", "chain": "TRX", "asset": "TRX", "amount": "3",
            "to_address": common::TRON_ADDRESS,
        }))
        .await;
    let (_, one) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&withdrawal, "id")))
        .await;
    assert_eq!(keys(&one), schema("WithdrawalView"));
    assert_eq!(keys(&one["history"][0]), schema("TransitionRow"));
    let (status, error) = app.get("/v1/withdrawals?state=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(keys(&error), schema("ErrorBody"));
    assert_eq!(
        keys(&error["error"]),
        schema("ErrorDetail")
            .into_iter()
            .filter(|k| k != "details")
            .collect()
    );
}
