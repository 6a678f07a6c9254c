mod common;

use common::{OPS_TOKEN, TestApp, str_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn btc_address(app: &TestApp, user: &str) -> String {
    str_of(&app.create_address(user, "BTC", "BTC").await, "address").to_owned()
}

const DEPOSITS: &str = "SELECT count(*) FROM deposits";
const CONFIRMED_TRANSITIONS: &str = "SELECT count(*) FROM order_transitions WHERE order_kind = 'deposit' AND to_state = 'confirmed'";
const CONFIRMED_NOTICES: &str =
    "SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'";
const DETECTED_NOTICES: &str =
    "SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.detected'";

#[tokio::test]
async fn a_simulated_deposit_is_stored_with_its_exact_amount_and_confirmed() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "alice").await;

    let sent = app
        .udun()
        .deposit_raw(
            json!({ "address": address, "amount_units": "12345678", "fee_units": "452000" }),
        )
        .await;
    assert_eq!(sent["status"], 200);
    assert_eq!(sent["response"], "success");
    // The simulator sends Udun's callback form with smallest units and a 13-digit timestamp.
    let form = str_of(&sent, "form");
    assert_eq!(common::form_field(form, "timestamp").len(), 13);
    assert!(str_of(&sent, "body").contains(r#""amount":"12345678""#));

    let (status, list) = app.get("/v1/deposits?user_id=alice").await;
    assert_eq!(status, StatusCode::OK);
    let deposits = list["data"].as_array().unwrap();
    assert_eq!(deposits.len(), 1);
    let deposit = &deposits[0];
    assert_eq!(deposit["amount"], "0.12345678");
    assert_eq!(deposit["fee"], "0.00452");
    assert_eq!(deposit["state"], "confirmed");
    assert_eq!(deposit["chain"], "BTC");
    assert_eq!(deposit["asset"], "BTC");
    assert_eq!(deposit["address"], address.as_str());

    let stored: rust_decimal::Decimal = sqlx::query_scalar("SELECT amount FROM deposits")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.to_string(), "0.12345678");

    let (status, one) = app
        .get(&format!("/v1/deposits/{}", str_of(deposit, "id")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["amount"], "0.12345678");

    assert_eq!(app.count(DETECTED_NOTICES).await, 1);
    assert_eq!(app.count(CONFIRMED_NOTICES).await, 1);
    let payload: Value = sqlx::query_scalar(
        "SELECT payload FROM webhook_outbox WHERE event_type = 'deposit.confirmed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(payload["type"], "deposit.confirmed");
    assert_eq!(payload["data"]["amount"], "0.12345678");
    assert_eq!(payload["data"]["state"], "confirmed");
}

#[tokio::test]
async fn token_amounts_convert_at_full_precision() {
    let app = TestApp::spawn().await;
    let address = str_of(&app.create_address("bob", "ETH", "ETH").await, "address").to_owned();
    app.udun()
        .deposit_raw(json!({ "address": address, "amount_units": "1234567890123456789012" }))
        .await;
    app.udun()
        .deposit_with(
            &address,
            "1000000.000001",
            json!({ "coin_type": "0xdac17f958d2ee523a2206206994597c13d831ec7" }),
        )
        .await;
    let (_, list) = app.get("/v1/deposits?user_id=bob").await;
    let mut amounts: Vec<(String, String)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["asset"].as_str().unwrap().to_owned(),
                d["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    amounts.sort();
    assert_eq!(
        amounts,
        vec![
            ("ETH".to_owned(), "1234.567890123456789012".to_owned()),
            ("USDT".to_owned(), "1000000.000001".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_same_callback_delivered_again_changes_nothing() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "alice").await;
    let sent = app.udun().deposit(&address, "0.5").await;
    let form = str_of(&sent, "form");

    for _ in 0..3 {
        let (status, text) = app.deliver_form(form).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    assert_eq!(app.count(DEPOSITS).await, 1);
    assert_eq!(app.count(CONFIRMED_TRANSITIONS).await, 1);
    assert_eq!(app.count(CONFIRMED_NOTICES).await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'duplicate'")
            .await,
        3
    );
}

#[tokio::test]
async fn twenty_concurrent_copies_credit_once() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "alice").await;
    let sent = app
        .udun()
        .deposit_with(&address, "1.25", json!({ "hold": true }))
        .await;
    let form = str_of(&sent, "form").to_owned();

    let copies = (0..20).map(|_| app.deliver_form(&form));
    for (status, text) in futures::future::join_all(copies).await {
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    assert_eq!(app.count(DEPOSITS).await, 1);
    assert_eq!(app.count(CONFIRMED_TRANSITIONS).await, 1);
    assert_eq!(app.count(CONFIRMED_NOTICES).await, 1);
    assert_eq!(app.count("SELECT count(*) FROM provider_events").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks").await,
        20
    );
}

#[tokio::test]
async fn a_deposit_moves_forward_only() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "carol").await;
    let pending = app
        .udun()
        .deposit_with(
            &address,
            "2",
            json!({ "status": 0, "trade_id": "t-1", "tx_id": "aa" }),
        )
        .await;
    assert_eq!(pending["response"], "success");
    let (_, list) = app.get("/v1/deposits?user_id=carol").await;
    assert_eq!(list["data"][0]["state"], "detected");
    assert_eq!(app.count(CONFIRMED_NOTICES).await, 0);

    app.udun()
        .deposit_with(
            &address,
            "2",
            json!({ "status": 3, "trade_id": "t-1", "tx_id": "aa" }),
        )
        .await;
    // A late "pending" after "confirmed" is recorded, not applied.
    app.udun()
        .deposit_with(
            &address,
            "2",
            json!({ "status": 1, "trade_id": "t-1", "tx_id": "aa" }),
        )
        .await;
    let (_, list) = app.get("/v1/deposits?user_id=carol").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["state"], "confirmed");
    assert_eq!(app.count(DETECTED_NOTICES).await, 1);
    assert_eq!(app.count(CONFIRMED_NOTICES).await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'stale'")
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_statuses_and_unknown_addresses_are_kept_not_applied() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "dave").await;

    let odd = app
        .udun()
        .deposit_with(&address, "1", json!({ "status": 9 }))
        .await;
    assert_eq!(odd["response"], "success");
    assert_eq!(app.count(DEPOSITS).await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'unknown_status'")
            .await,
        1
    );

    let orphan = app
        .udun().deposit_with("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3", json!({ "merchant_id": common::UDUN_MERCHANT_ID, "main_coin_type": "0", "call_url": format!("{}/callbacks/udun-main", app.url) }))
        .await;
    assert_eq!(orphan["status"], 200);
    assert_eq!(orphan["response"], "success");
    assert_eq!(app.count(DEPOSITS).await, 0);

    let (status, events) = app.ops_get("/ops/events?outcome=orphan").await;
    assert_eq!(status, StatusCode::OK);
    let events = events["data"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["payload"]["address"],
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
    );
    assert_eq!(events[0]["payload"]["amount"], "3");

    let (status, _) = app.get_as("not-the-token", "/ops/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get_as(&app.api_key, "/ops/events").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a merchant key is not an ops token"
    );
    let (status, _) = app.get_as(OPS_TOKEN, "/ops/events").await;
    assert_eq!(status, StatusCode::OK, "the ops token itself is let in");
}

#[tokio::test]
async fn deposits_are_listed_newest_first_by_cursor_and_private_to_their_merchant() {
    let app = TestApp::spawn().await;
    let address = btc_address(&app, "erin").await;
    for amount in ["0.1", "0.2", "0.3"] {
        app.udun().deposit(&address, amount).await;
    }
    let (_, page1) = app.get("/v1/deposits?user_id=erin&limit=2").await;
    let amounts: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, vec!["0.3", "0.2"]);
    let cursor = str_of(&page1, "next_cursor");
    let (_, page2) = app
        .get(&format!(
            "/v1/deposits?user_id=erin&limit=2&cursor={cursor}"
        ))
        .await;
    let amounts: Vec<&str> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, vec!["0.1"]);
    assert!(page2["next_cursor"].is_null());

    let (_, confirmed) = app.get("/v1/deposits?state=confirmed").await;
    assert_eq!(confirmed["data"].as_array().unwrap().len(), 3);
    let (status, _) = app.get("/v1/deposits?state=credited").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let other = app.other_merchant_key().await;
    let (_, theirs) = app.get_as(&other, "/v1/deposits").await;
    assert_eq!(theirs["data"], json!([]));
    let id = str_of(&page2["data"][0], "id");
    let (status, body) = app.get_as(&other, &format!("/v1/deposits/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

/// A deposit's address and merchant are one key: the database refuses a deposit that names
/// another merchant's address.
#[tokio::test]
async fn a_deposit_names_an_address_of_its_own_merchant() {
    let app = TestApp::spawn().await;
    app.create_address("alice", "BTC", "BTC").await;
    app.other_merchant_key().await;
    let insert = |merchant: &'static str| {
        format!(
            "INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id,
                                   chain, asset, address, amount, state)
             SELECT gen_random_uuid(), ({merchant}), a.id, a.account_id, gen_random_uuid()::text,
                    a.user_id, a.chain, a.asset, a.address, 1, 'detected'
               FROM addresses a WHERE a.user_id = 'alice'"
        )
    };
    let own = "SELECT merchant_id FROM addresses WHERE user_id = 'alice'";
    let other = "SELECT id FROM merchants WHERE name = 'other-merchant'";
    sqlx::query(sqlx::AssertSqlSafe(insert(own)))
        .execute(&app.pool)
        .await
        .expect("its own merchant's address");
    let refused = sqlx::query(sqlx::AssertSqlSafe(insert(other)))
        .execute(&app.pool)
        .await
        .expect_err("another merchant's address");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("23503"),
        "{refused}"
    );
    let count: i64 = sqlx::query_scalar(DEPOSITS)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}
