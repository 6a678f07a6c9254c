mod common;

use common::{PAY_ACCOUNT, TestApp, TestOptions, str_of};
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

/// Each first request holds a connection for its user's lock while it asks the provider; were it
/// to need a second one for its reads and its insert, a burst of them could take the whole pool
/// and wait on each other until the pool's timeout.
#[tokio::test]
async fn a_burst_of_new_users_never_waits_on_its_own_pool() {
    let app = TestApp::spawn_with(TestOptions {
        database_connections: 4,
        ..TestOptions::default()
    })
    .await;
    let bodies: Vec<_> = (0..24)
        .map(|n| json!({ "user_id": format!("burst-{n}"), "chain": "ETH", "asset": "ETH" }))
        .collect();
    let answers =
        futures::future::join_all(bodies.iter().map(|body| app.post("/v1/addresses", body))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
    }
    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 24);
}

/// Address creations wait their turn rather than hold the pool while a provider is slow to answer:
/// a deposit callback arriving meanwhile is stored at once. (Were every connection held by a
/// stalled creation, the callback would wait for one past its deadline and be told to retry.)
#[tokio::test]
async fn a_slow_provider_holds_only_a_share_of_the_pool() {
    let app = TestApp::spawn_with(TestOptions {
        database_connections: 4,
        ..TestOptions::default()
    })
    .await;
    let btc = app.create_address("payee", "BTC", "BTC").await;
    let stalls = 4;
    app.pay()
        .faults(json!({ "user_create": vec!["accept_then_stall"; stalls], "stall_ms": 2500 }))
        .await;
    let creations: Vec<_> = (0..stalls)
        .map(|n| {
            let (http, url, key) = (app.http.clone(), app.url.clone(), app.api_key.clone());
            let body = json!({ "user_id": format!("slow-{n}"), "chain": "TRX", "asset": "USDT",
                               "provider": PAY_ACCOUNT });
            tokio::spawn(async move {
                let sent = http
                    .post(format!("{url}/v1/addresses"))
                    .bearer_auth(key)
                    .json(&body);
                sent.send().await.unwrap().status()
            })
        })
        .collect();
    // Until the simulator has the first creation in hand, nothing is held yet.
    while app.pay().state().await["users"]
        .as_array()
        .map_or(0, Vec::len)
        == 0
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let sent = app.udun().deposit(str_of(&btc, "address"), "0.5").await;
    assert_eq!(sent["response"], "success", "{sent}");
    assert!(
        creations.iter().any(|c| !c.is_finished()),
        "the creations were still stalled when the callback was stored"
    );
    for creation in creations {
        assert_eq!(creation.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 1);
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
