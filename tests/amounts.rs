//! Provider amounts are read exactly: a plain decimal within the asset's decimals, from its digits,
//! never through a float. Anything else is recorded as an invalid event, flags its order, and is
//! never credited.

mod common;

use common::{CHAINUP_ACCOUNT, CHAINUP_APP_ID, TestApp, UDUN_API_KEY, form_field, str_of};
use custody_gateway::providers::chainup_mpc::transport::seal_notification;
use custody_gateway::providers::crypto::rsa::PrivateKey;
use custody_gateway::providers::udun::sign::udun_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ETH_TO: &str = "0x5edc9177997bf6b4db559a5c184051858b3b3704";

/// Posts a transaction notification sealed with ChainUp's (the simulator's) private key.
async fn chainup_notify(app: &TestApp, fields: Value) -> (StatusCode, String) {
    let key = PrivateKey::parse(include_str!("../config/sim/chainup_sim_private.pem")).unwrap();
    let Value::Object(fields) = fields else {
        panic!("fields are an object")
    };
    let data = seal_notification(&fields, &key).unwrap();
    let response = app
        .http
        .post(format!("{}/callbacks/{CHAINUP_ACCOUNT}", app.url))
        .form(&[("app_id", CHAINUP_APP_ID), ("data", data.as_str())])
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn deposit_record(id: i64, address: &str, amount: &str, status: i64) -> Value {
    json!({
        "side": "deposit", "charset": "utf-8", "id": id, "symbol": "ETH", "base_symbol": "ETH",
        "amount": amount, "address_to": address, "txid": format!("0x{id:064x}"),
        "tx_height": 1_000_000, "confirmations": 1, "status": status,
    })
}

async fn chainup_address(app: &TestApp, user: &str) -> String {
    let (status, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": user, "chain": "ETH", "asset": "ETH", "provider": CHAINUP_ACCOUNT }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_of(&body, "address").to_owned()
}

async fn invalid_events(app: &TestApp) -> Vec<Value> {
    let (_, events) = app.ops_get("/ops/events?outcome=invalid").await;
    events["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn amounts_that_are_not_plain_exact_decimals_are_never_credited() {
    let app = TestApp::spawn().await;
    let address = chainup_address(&app, "amy").await;
    let bad = [
        "1e5",
        "0.1234567890123456789012345678901234567890",
        // 19 decimals on an 18-decimal asset.
        "1.0000000000000000001",
    ];
    for (i, amount) in bad.iter().enumerate() {
        let record = deposit_record(7_000 + i as i64, &address, amount, 2000);
        // Authentic, so it is recorded (and ChainUp told to stop sending it), but never applied.
        assert_eq!(
            chainup_notify(&app, record).await,
            (StatusCode::OK, "SUCCESS".to_owned())
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM webhook_outbox").await, 0);
    let invalid = invalid_events(&app).await;
    assert_eq!(invalid.len(), 3, "{invalid:?}");
    for event in &invalid {
        assert_eq!(event["payload"]["kind"], "invalid");
        assert!(
            str_of(event, "outcome_detail").contains("amount"),
            "{event}"
        );
    }

    // The same deposit with a plain amount at the asset's full precision is credited exactly.
    let exact = deposit_record(7_100, &address, "0.123456789012345678", 2000);
    chainup_notify(&app, exact).await;
    let (_, list) = app.get("/v1/deposits?user_id=amy").await;
    assert_eq!(list["data"][0]["amount"], "0.123456789012345678");
    assert_eq!(list["data"][0]["state"], "confirmed");
}

#[tokio::test]
async fn a_later_record_with_an_unreadable_amount_flags_the_deposit_and_does_not_credit_it() {
    let app = TestApp::spawn().await;
    let address = chainup_address(&app, "bo").await;
    chainup_notify(&app, deposit_record(8_000, &address, "0.5", 1000)).await;
    let (status, _) = chainup_notify(&app, deposit_record(8_000, &address, "5e-1", 2000)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.get("/v1/deposits?user_id=bo").await;
    assert_eq!(list["data"][0]["state"], "detected");
    assert_eq!(list["data"][0]["needs_review"], true);
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'")
            .await,
        0
    );
    let invalid = invalid_events(&app).await;
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["order_id"], list["data"][0]["id"]);
}

#[tokio::test]
async fn a_withdrawal_record_with_an_unreadable_amount_flags_the_withdrawal() {
    let app = TestApp::spawn().await;
    let (_, created) = app
        .withdraw(&json!({
            "client_order_id": "am-1", "chain": "ETH", "asset": "ETH", "amount": "0.2",
            "to_address": ETH_TO, "provider": CHAINUP_ACCOUNT,
        }))
        .await;
    let record = json!({
        "side": "withdraw", "charset": "utf-8", "id": 9_000, "symbol": "ETH",
        "request_id": created["provider_request_id"], "amount": "2E-1", "address_to": ETH_TO,
        "txid": "0xfeed", "status": 2000, "real_fee": "0.0004",
    });
    assert_eq!(chainup_notify(&app, record).await.0, StatusCode::OK);
    let (_, after) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(after["state"], "submitted");
    assert_eq!(after["tx_hash"], Value::Null);
    assert_eq!(after["needs_review"], true);
}

/// Co-Signer's `sign_start` with `amount` written as given (a JSON number or string); its answer.
async fn sign_start(app: &TestApp, request_id: &str, amount: &str) -> String {
    let body = format!(
        r#"{{"type":"sign_start","transfer_id":4,"request_id":"{request_id}","amount":{amount},"to":"{ETH_TO}","symbol":"ETH"}}"#
    );
    app.http
        .post(format!(
            "{}/callbacks/{CHAINUP_ACCOUNT}/cosigner?token={}",
            app.url,
            common::APPROVAL_TOKEN
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_numeric_cosigner_amount_is_read_from_its_digits() {
    let app = TestApp::spawn().await;
    // An exact 18-decimal ETH amount, which a binary float cannot hold.
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": "am-2", "chain": "ETH", "asset": "ETH",
            "amount": "0.123456789012345678", "to_address": ETH_TO, "provider": CHAINUP_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let request_id = str_of(&created, "provider_request_id");
    for amount in ["0.123456789012345678", "\"0.123456789012345678\""] {
        assert_eq!(
            sign_start(&app, request_id, amount).await,
            "SUCCESS",
            "{amount}"
        );
    }
    // One digit more than ETH has is refused, and so is an exponent.
    for amount in ["0.1234567890123456781", "1e-1"] {
        assert_ne!(
            sign_start(&app, request_id, amount).await,
            "SUCCESS",
            "{amount}"
        );
    }
}

#[tokio::test]
async fn a_signed_udun_trade_with_an_unreadable_amount_is_recorded_and_never_credited() {
    let app = TestApp::spawn().await;
    let address = str_of(&app.create_address("cy", "ETH", "ETH").await, "address").to_owned();
    let sent = app
        .udun()
        .deposit_with(&address, "0.75", json!({ "hold": true }))
        .await;
    let form = str_of(&sent, "form").to_owned();
    let (nonce, timestamp) = (form_field(&form, "nonce"), form_field(&form, "timestamp"));
    let trade: Value = serde_json::from_str(&form_field(&form, "body")).unwrap();
    for (amount, decimals) in [("7.5e17", "18"), ("75", "19")] {
        let mut bad = trade.clone();
        bad["amount"] = json!(amount);
        bad["decimals"] = json!(decimals);
        bad["tradeId"] = json!(format!("{}-{decimals}", trade["tradeId"]));
        let body = bad.to_string();
        let signed = form_urlencoded::Serializer::new(String::new())
            .append_pair("timestamp", &timestamp)
            .append_pair("nonce", &nonce)
            .append_pair("sign", &udun_sign(&body, UDUN_API_KEY, &nonce, &timestamp))
            .append_pair("body", &body)
            .finish();
        let (status, text) = app.deliver_form(&signed).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(invalid_events(&app).await.len(), 2);
}

#[tokio::test]
async fn a_web3_notification_is_kept_as_a_notice_once() {
    let app = TestApp::spawn().await;
    let record = json!({
        "side": "web3-trans", "charset": "utf-8", "id": 31_337, "trans_id": 31_337,
        "main_chain_symbol": "ETH", "interactive_contract": "0xc0ffee", "input_data": "0x",
        "amount": "-1", "status": 2000, "symbol": "ETH",
    });
    for _ in 0..2 {
        assert_eq!(
            chainup_notify(&app, record.clone()).await,
            (StatusCode::OK, "SUCCESS".to_owned())
        );
    }
    let (_, events) = app.ops_get("/ops/events?outcome=recorded").await;
    let events = events["data"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["order_kind"], "notice");
    assert_eq!(events[0]["event_key"], "web3-trans:31337:2000");
    assert_eq!(events[0]["payload"]["kind"], "notice");
    assert_eq!(
        events[0]["payload"]["content"]["interactive_contract"],
        "0xc0ffee"
    );
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM webhook_outbox").await, 0);
}
