mod common;

use common::{TestApp, str_of};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_new_address_is_201_and_the_same_request_returns_it_with_200() {
    let app = TestApp::spawn().await;
    let body = json!({ "user_id": "user-1", "chain": "trx", "asset": "usdt" });

    let (status, first) = app.post("/v1/addresses", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["chain"], "TRX");
    assert_eq!(first["asset"], "USDT");
    assert_eq!(first["provider"], "udun-main");
    assert!(str_of(&first, "address").starts_with('T'));

    let (status, again) = app.post("/v1/addresses", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["address"], first["address"]);
    assert_eq!(again["id"], first["id"]);

    // The address serves the whole chain: TRX on the same chain is the same address.
    let (status, trx) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "user-1", "chain": "TRX", "asset": "TRX" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trx["address"], first["address"]);

    let (status, eth) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "user-1", "chain": "ETH", "asset": "USDT" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(str_of(&eth, "address").starts_with("0x"));

    let (status, list) = app.get("/v1/addresses?user_id=user-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 2);
}

#[tokio::test]
async fn concurrent_requests_for_one_user_store_one_address() {
    let app = TestApp::spawn().await;
    let body = json!({ "user_id": "racer", "chain": "ETH", "asset": "ETH" });
    let requests = (0..8).map(|_| app.post("/v1/addresses", &body));
    let answers = futures::future::join_all(requests).await;
    let first = &answers[0].1["address"];
    for (status, answer) in &answers {
        assert!(status.is_success(), "{status} {answer}");
        assert_eq!(&answer["address"], first);
    }
    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 1);
}

#[tokio::test]
async fn unknown_chain_or_asset_is_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    for (chain, asset) in [
        ("DOGE", "DOGE"),
        ("ETH", "SHIB"),
        ("", "ETH"),
        ("ETH", "U S D T"),
    ] {
        let (status, body) = app
            .post(
                "/v1/addresses",
                &json!({ "user_id": "u", "chain": chain, "asset": asset }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{chain}/{asset}: {body}");
        assert!(body["error"]["code"].is_string());
        assert!(body["error"]["message"].is_string());
    }
    let (status, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "u", "chain": "ETH", "asset": "ETH", "provider": "nope" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "unknown_provider");
    let (status, body) = app
        .post("/v1/addresses", &json!({ "chain": "ETH", "asset": "ETH" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_body");
    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 0);
}

#[tokio::test]
async fn requests_need_a_valid_key_and_see_only_their_merchant() {
    let app = TestApp::spawn().await;
    app.create_address("user-1", "ETH", "ETH").await;

    let (status, body) = app
        .get_as("wrong-key", "/v1/addresses?user_id=user-1")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let response = app
        .http
        .get(format!("{}/v1/assets", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let other = app.other_merchant_key().await;
    let (status, list) = app.get_as(&other, "/v1/addresses?user_id=user-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"], json!([]));

    // The same user id under another merchant is another user with another address.
    let (status, theirs) = app
        .post_as(
            &other,
            "/v1/addresses",
            &json!({ "user_id": "user-1", "chain": "ETH", "asset": "ETH" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, ours) = app.get("/v1/addresses?user_id=user-1").await;
    assert_ne!(theirs["address"], ours["data"][0]["address"]);
}

#[tokio::test]
async fn assets_and_address_validation() {
    let app = TestApp::spawn().await;
    let (status, assets) = app.get("/v1/assets").await;
    assert_eq!(status, StatusCode::OK);
    let usdt = assets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["chain"] == "TRX" && a["asset"] == "USDT")
        .expect("TRX/USDT listed");
    assert_eq!(usdt["decimals"], 6);
    assert_eq!(usdt["provider"], "udun-main");

    let check = |address: &str| json!({ "chain": "ETH", "asset": "USDT", "address": address });
    let (status, valid) = app
        .post(
            "/v1/addresses/validate",
            &check("0x5edc9177997bf6b4db559a5c184051858b3b3704"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["checked_by"], "udun-main");
    let (_, invalid) = app
        .post(
            "/v1/addresses/validate",
            &check("TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF"),
        )
        .await;
    assert_eq!(invalid["valid"], false);
}
