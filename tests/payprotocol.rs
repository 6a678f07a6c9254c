//! Pay Protocol end to end: the gateway against its built-in Pay Protocol simulator, which checks
//! every request's HMAC signature and signs its callbacks, over real HTTP and a real PostgreSQL.
//! Whatever a callback says, what is applied is what Pay Protocol's own API answers.

mod common;

use common::{
    OPS_TOKEN, PAY_ACCOUNT, PAY_API_KEY, PAY_API_SECRET, TestApp, TestOptions, UDUN_ACCOUNT, str_of,
};
use custody_gateway::providers::payprotocol::sign::pay_sign;
use custody_gateway::providers::payprotocol::user_uuid;
use custody_gateway::workers::pollers::{PollReport, poll_account};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TRON_TO: &str = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF";

async fn pay_address(app: &TestApp, key: &str, user: &str, chain: &str, asset: &str) -> Value {
    let (status, body) = app
        .post_as(
            key,
            "/v1/addresses",
            &json!({ "user_id": user, "chain": chain, "asset": asset, "provider": PAY_ACCOUNT }),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    body
}

async fn new_address(app: &TestApp, user: &str) -> String {
    str_of(
        &pay_address(app, &app.api_key, user, "TRX", "USDT").await,
        "address",
    )
    .to_owned()
}

async fn deposits_of(app: &TestApp, user: &str) -> Vec<Value> {
    let (_, list) = app.get(&format!("/v1/deposits?user_id={user}")).await;
    list["data"].as_array().unwrap().clone()
}

async fn withdrawal(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    body
}

/// A withdrawal through Pay Protocol; `(id, its outTradeNo)`.
async fn withdraw(app: &TestApp, client_order_id: &str, amount: &str) -> (String, String) {
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": client_order_id, "chain": "TRX", "asset": "USDT", "amount": amount,
            "to_address": TRON_TO, "provider": PAY_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    (
        str_of(&created, "id").to_owned(),
        str_of(&created, "provider_request_id").to_owned(),
    )
}

/// The simulator's record of the withdrawal applied with `out_trade_no`.
async fn sim_withdrawal(app: &TestApp, out_trade_no: &str) -> Value {
    let state = app.pay().state().await;
    state["withdrawals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["outTradeNo"] == out_trade_no)
        .cloned()
        .unwrap_or_else(|| panic!("Pay Protocol holds no {out_trade_no}: {state}"))
}

async fn poll(app: &TestApp) -> PollReport {
    let provider = app.gateway.state.registry.get(PAY_ACCOUNT).unwrap();
    poll_account(&app.gateway.state, provider.as_ref())
        .await
        .expect("poll round")
}

/// Posts `body` to our callback URL as Pay Protocol would, signed with `secret` over `path`.
async fn post_signed(
    app: &TestApp,
    body: &Value,
    secret: &str,
    path: &str,
) -> (StatusCode, String) {
    post_signed_at(app, body, secret, path, "", 0).await
}

/// [`post_signed`] to our callback URL with `query` appended, stamped `skew_secs` off our clock.
async fn post_signed_at(
    app: &TestApp,
    body: &Value,
    secret: &str,
    path: &str,
    query: &str,
    skew_secs: i64,
) -> (StatusCode, String) {
    let body = body.to_string();
    let timestamp = (chrono::Utc::now().timestamp() + skew_secs).to_string();
    let response = app
        .http
        .post(format!("{}/callbacks/{PAY_ACCOUNT}{query}", app.url))
        .header("content-type", "application/json")
        .header("X-PAY-KEY", PAY_API_KEY)
        .header("X-PAY-TIMESTAMP", &timestamp)
        .header(
            "X-PAY-SIGN",
            pay_sign(secret, &timestamp, "POST", path, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

const CALLBACK_PATH: &str = "/callbacks/payprotocol-main";

/// Calls Pay Protocol's API directly, signed as the gateway signs, as an earlier gateway process
/// would have.
async fn call_pay_api(app: &TestApp, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signed = format!("/api/mer{path}");
    let sign = pay_sign(PAY_API_SECRET, &timestamp, "POST", &signed, &body);
    app.http
        .post(format!("{}/sim/payprotocol{signed}", app.url))
        .header("content-type", "application/json")
        .header("X-PAY-KEY", PAY_API_KEY)
        .header("X-PAY-TIMESTAMP", &timestamp)
        .header("X-PAY-SIGN", sign)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn creates_of(state: &Value, uuid: &str) -> Value {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["uuid"] == uuid)
        .map(|u| u["creates"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn one_wallet_per_user_and_chain_found_again_after_a_crash_between_create_and_detail() {
    let app = TestApp::spawn().await;
    // An earlier process created ann's user, then stopped before asking for her wallet.
    let ann = user_uuid(app.merchant_id, "ann");
    let created = call_pay_api(&app, "/user/create", &json!({ "uuid": ann })).await;
    assert_eq!(created["code"], 200, "{created}");
    let usdt = new_address(&app, "ann").await;
    // Pay Protocol makes ben's user, then its answer is lost: the wallet is still found.
    app.pay()
        .faults(json!({ "user_create": ["accept_then_500"] }))
        .await;
    new_address(&app, "ben").await;
    let state = app.pay().state().await;
    assert_eq!(creates_of(&state, &ann), 1, "{state}");
    let ben = user_uuid(app.merchant_id, "ben");
    assert_eq!(creates_of(&state, &ben), 1, "{state}");

    let trx = str_of(
        &pay_address(&app, &app.api_key, "ann", "TRX", "TRX").await,
        "address",
    )
    .to_owned();
    assert_eq!(usdt, trx, "one wallet on the chain for every currency");
    let eth = str_of(
        &pay_address(&app, &app.api_key, "ann", "ETH", "USDT").await,
        "address",
    )
    .to_owned();
    assert!(eth.starts_with("0x"), "{eth}");

    let other = app.other_merchant_key().await;
    let theirs = str_of(
        &pay_address(&app, &other, "ann", "TRX", "USDT").await,
        "address",
    )
    .to_owned();
    assert_ne!(theirs, usdt, "another merchant's ann is another user");

    let state = app.pay().state().await;
    let users = state["users"].as_array().unwrap();
    assert_eq!(users.len(), 3, "{state}");
    for user in users {
        assert_eq!(user["creates"], 1, "never created twice: {user}");
    }
}

#[tokio::test]
async fn a_recharge_is_credited_once_from_its_callback_a_redelivery_and_the_poller() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "bea").await;
    let sent = app.pay().recharge(&address, "12.345678", "USDT").await;
    assert_eq!(sent["callbacks"][0]["accepted"], true, "{sent}");
    assert_eq!(sent["recharge"]["rechargeAmount"], "12345678");

    let deposits = deposits_of(&app, "bea").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["amount"], "12.345678");
    assert_eq!(deposits[0]["state"], "confirmed");
    assert_eq!(deposits[0]["tx_hash"], sent["recharge"]["transferHash"]);

    // Sent again on operator request, and read again from the list: still once.
    let id = str_of(&deposits[0], "id").to_owned();
    let (status, body) = app
        .post_as(OPS_TOKEN, &format!("/ops/orders/{id}/renotify"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = app.pay().state().await;
        let accepted = state["callbacks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "recharge" && c["accepted"] == true)
            .count();
        if accepted == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the callback and its redelivery: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let report = poll(&app).await;
    assert_eq!(report.new_events, 0, "{report:?}");
    assert_eq!(deposits_of(&app, "bea").await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_tampered_callback_credits_what_pay_protocol_says() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "cat").await;
    app.pay().faults(json!({ "drop_callbacks": true })).await;
    let sent = app
        .pay()
        .recharge_with(&address, "5", json!({ "currency": "USDT", "status": 1 }))
        .await;
    let mut body = sent["recharge"].clone();
    // Signed with our secret, but saying more than Pay Protocol does.
    body["rechargeAmount"] = json!("5000000000");
    body["rechargeStatus"] = json!(0);
    let (status, text) = post_signed(&app, &body, PAY_API_SECRET, CALLBACK_PATH).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    let deposits = deposits_of(&app, "cat").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["amount"], "5");
    assert_eq!(
        deposits[0]["state"], "detected",
        "Pay Protocol says pending"
    );
}

#[tokio::test]
async fn callbacks_with_a_wrong_secret_are_prompts_and_path_only_signatures_verify() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "dee").await;

    app.pay()
        .faults(json!({ "callback_signing": "wrong_secret" }))
        .await;
    let sent = app.pay().recharge(&address, "1.5", "USDT").await;
    assert_eq!(sent["callbacks"][0]["accepted"], true, "{sent}");
    assert_eq!(deposits_of(&app, "dee").await[0]["amount"], "1.5");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_callbacks WHERE NOT verified AND outcome = 'processed'"
        )
        .await,
        1
    );
    let (_, unverified) = app
        .ops_get(&format!(
            "/ops/callbacks?account={PAY_ACCOUNT}&verified=false"
        ))
        .await;
    assert_eq!(unverified["data"].as_array().unwrap().len(), 1);

    // A forged call about a recharge Pay Protocol does not hold credits nothing.
    let forged = json!({ "rechargeId": 999_999, "chainId": 1, "currencyId": 2,
                         "rechargeAmount": "100000000", "rechargeStatus": 0,
                         "walletAddress": address });
    let (status, _) = post_signed(&app, &forged, "not-our-secret", CALLBACK_PATH).await;
    assert_ne!(status, StatusCode::OK);
    assert_eq!(deposits_of(&app, "dee").await.len(), 1);

    app.pay()
        .faults(json!({ "callback_signing": "path_only" }))
        .await;
    let sent = app.pay().recharge(&address, "2", "USDT").await;
    assert_eq!(sent["callbacks"][0]["accepted"], true, "{sent}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_callbacks WHERE verified AND outcome = 'processed'"
        )
        .await,
        1,
        "signed over the path alone: verified"
    );
    assert_eq!(deposits_of(&app, "dee").await.len(), 2);

    // To a callback URL with a query: signed over the path and query, or the path alone, it
    // verifies; over anything else, or stamped outside the window, it is a prompt.
    let body = sent["recharge"].clone();
    let verified = || {
        app.count(
            "SELECT count(*) FROM provider_callbacks WHERE verified AND outcome = 'duplicate'",
        )
    };
    let query = "?via=console";
    let with_query = format!("{CALLBACK_PATH}{query}");
    for (path, skew, counts) in [
        (with_query.as_str(), 0, 1),
        (CALLBACK_PATH, 0, 2),
        ("/callbacks/elsewhere", 0, 2),
        (CALLBACK_PATH, -400, 2),
        (CALLBACK_PATH, 250, 3),
    ] {
        let (status, _) = post_signed_at(&app, &body, PAY_API_SECRET, path, query, skew).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(verified().await, counts, "signed over {path}, {skew} s off");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_callbacks WHERE NOT verified AND outcome = 'duplicate'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn unverified_prompts_past_the_limit_are_answered_retry_and_not_asked_about() {
    let app = TestApp::spawn_with(TestOptions {
        pay_unverified_per_minute: 2,
        ..TestOptions::default()
    })
    .await;
    let address = new_address(&app, "eve").await;
    app.pay().faults(json!({ "drop_callbacks": true })).await;
    let sent = app.pay().recharge(&address, "3", "USDT").await;
    let body = sent["recharge"].clone();
    for _ in 0..2 {
        let (status, text) = post_signed(&app, &body, "forger", CALLBACK_PATH).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
    let (status, text) = post_signed(&app, &body, "forger", CALLBACK_PATH).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'limited'")
            .await,
        1
    );
    assert_eq!(deposits_of(&app, "eve").await.len(), 1);
    // A signed callback is never limited.
    let (status, _) = post_signed(&app, &body, PAY_API_SECRET, CALLBACK_PATH).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("custody_callbacks_total")
                && l.contains(PAY_ACCOUNT)
                && l.contains("result=\"limited\"")),
        "{metrics}"
    );
}

async fn history(app: &TestApp, id: &str) -> Vec<String> {
    withdrawal(app, id).await["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to_state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_withdrawal_status_maps_and_none_moves_backwards() {
    let app = TestApp::spawn().await;
    let (done, done_no) = withdraw(&app, "pw-1", "1.25").await;
    let record = sim_withdrawal(&app, &done_no).await;
    assert_eq!(record["withdrawAmount"], "1250000", "{record}");
    assert_eq!(record["withdrawStatus"], 1);
    assert_eq!(withdrawal(&app, &done).await["state"], "submitted");
    let withdraw_id = record["withdrawId"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    let mut sent = Vec::new();
    for (action, state) in [
        ("approve", "approved"),
        ("broadcast", "broadcast"),
        ("complete", "completed"),
    ] {
        let moved = app.pay().withdrawal(&withdraw_id, action).await;
        assert_eq!(moved["callbacks"][0]["accepted"], true, "{moved}");
        sent.push(moved["callbacks"][0]["body"].clone());
        assert_eq!(withdrawal(&app, &done).await["state"], state);
    }
    let completed = withdrawal(&app, &done).await;
    assert!(completed["tx_hash"].as_str().is_some_and(|h| h.len() == 64));
    // The earlier callbacks, sent again late: Pay Protocol says completed, and so do we.
    for body in &sent {
        let (status, _) = post_signed(&app, body, PAY_API_SECRET, CALLBACK_PATH).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        history(&app, &done).await,
        [
            "accepted",
            "submitted",
            "approved",
            "broadcast",
            "completed"
        ]
    );

    let (failed, failed_no) = withdraw(&app, "pw-2", "1").await;
    let id = sim_withdrawal(&app, &failed_no).await["withdrawId"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    app.pay().withdrawal(&id, "approve").await;
    app.pay().withdrawal(&id, "fail").await;
    assert_eq!(withdrawal(&app, &failed).await["state"], "failed");

    let (rejected, rejected_no) = withdraw(&app, "pw-3", "1").await;
    let id = sim_withdrawal(&app, &rejected_no).await["withdrawId"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    app.pay().withdrawal(&id, "reject").await;
    assert_eq!(withdrawal(&app, &rejected).await["state"], "rejected");
}

#[tokio::test]
async fn an_apply_that_times_out_is_unknown_and_resolved_by_its_out_trade_no() {
    let app = TestApp::spawn_with(TestOptions {
        provider_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;
    app.pay()
        .faults(json!({ "withdraw": ["accept_then_stall"], "stall_ms": 2500 }))
        .await;
    let (id, out_trade_no) = withdraw(&app, "pw-4", "2").await;
    assert_eq!(withdrawal(&app, &id).await["state"], "unknown");
    custody_gateway::workers::resubmit::resubmit_due(&app.gateway.state, 0)
        .await
        .unwrap();
    assert_eq!(withdrawal(&app, &id).await["state"], "submitted");
    let record = sim_withdrawal(&app, &out_trade_no).await;
    assert_eq!(record["applies"], 1, "never applied twice: {record}");
}

#[tokio::test]
async fn with_every_callback_lost_the_poller_credits_and_reconciles() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "fox").await;
    app.pay().faults(json!({ "drop_callbacks": true })).await;
    app.pay().recharge(&address, "7.000001", "USDT").await;
    let (id, out_trade_no) = withdraw(&app, "pw-5", "3").await;
    let withdraw_id = sim_withdrawal(&app, &out_trade_no).await["withdrawId"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    app.pay().withdrawal(&withdraw_id, "approve").await;
    app.pay().withdrawal(&withdraw_id, "complete").await;
    assert!(deposits_of(&app, "fox").await.is_empty());
    assert_eq!(withdrawal(&app, &id).await["state"], "submitted");

    let report = poll(&app).await;
    assert_eq!(report.reconciled, 1, "{report:?}");
    let deposits = deposits_of(&app, "fox").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["amount"], "7.000001");
    assert_eq!(deposits[0]["state"], "confirmed");
    assert_eq!(withdrawal(&app, &id).await["state"], "completed");
    assert_eq!(poll(&app).await.new_events, 0, "read again, stored once");
}

#[tokio::test]
async fn renotify_is_asked_of_pay_protocol_and_unsupported_on_udun() {
    let app = TestApp::spawn().await;
    let (id, out_trade_no) = withdraw(&app, "pw-6", "1").await;
    let withdraw_id = sim_withdrawal(&app, &out_trade_no).await["withdrawId"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    app.pay().faults(json!({ "drop_callbacks": true })).await;
    app.pay().withdrawal(&withdraw_id, "approve").await;
    app.pay().faults(json!({ "drop_callbacks": false })).await;
    let (status, body) = app
        .post_as(OPS_TOKEN, &format!("/ops/orders/{id}/renotify"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while withdrawal(&app, &id).await["state"] != "approved" {
        assert!(
            std::time::Instant::now() < deadline,
            "the callback sent again is applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let address = str_of(&app.create_address("gil", "BTC", "BTC").await, "address").to_owned();
    app.udun().deposit(&address, "0.1").await;
    let deposit = str_of(&deposits_of(&app, "gil").await[0], "id").to_owned();
    let (status, body) = app
        .post_as(
            OPS_TOKEN,
            &format!("/ops/orders/{deposit}/renotify"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "unsupported");
    let _ = UDUN_ACCOUNT;
}

#[tokio::test]
async fn decimals_that_differ_from_pay_protocols_stop_the_asset_until_they_agree() {
    let app = TestApp::spawn().await;
    app.pay().set_decimals(1, 2, 8).await;
    let (status, checked) = app
        .post_as(
            OPS_TOKEN,
            &format!("/ops/accounts/{PAY_ACCOUNT}/refresh"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    let problem = |checked: &Value, asset: &str| {
        checked["configured"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["chain"] == "TRX" && a["asset"] == asset)
            .unwrap()["problem"]
            .clone()
    };
    assert!(
        problem(&checked, "USDT")
            .as_str()
            .unwrap()
            .contains("8 decimals"),
        "{checked}"
    );
    assert_eq!(problem(&checked, "TRX"), Value::Null);
    let (status, refused) = app
        .withdraw(&json!({
            "client_order_id": "pw-7", "chain": "TRX", "asset": "USDT", "amount": "1",
            "to_address": TRON_TO, "provider": PAY_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "asset_unavailable");
    assert!(sim_withdrawals_empty(&app).await);

    app.pay().set_decimals(1, 2, 6).await;
    let (_, checked) = app
        .post_as(
            OPS_TOKEN,
            &format!("/ops/accounts/{PAY_ACCOUNT}/refresh"),
            &json!({}),
        )
        .await;
    assert_eq!(problem(&checked, "USDT"), Value::Null);
    withdraw(&app, "pw-7", "1").await;
}

async fn sim_withdrawals_empty(app: &TestApp) -> bool {
    app.pay().state().await["withdrawals"]
        .as_array()
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn when_the_detail_query_fails_pay_protocol_is_asked_to_send_again() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "hal").await;
    app.pay().faults(json!({ "detail_500": true })).await;
    let sent = app.pay().recharge(&address, "4.2", "USDT").await;
    let first = &sent["callbacks"][0];
    assert_eq!(first["accepted"], false, "{sent}");
    assert_eq!(first["status"], 503);
    assert!(deposits_of(&app, "hal").await.is_empty());

    // Its next send (the schedule here is 0, 300, 600 ms) is applied.
    app.pay().faults(json!({ "detail_500": false })).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while deposits_of(&app, "hal").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "credited on a later send"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(deposits_of(&app, "hal").await[0]["amount"], "4.2");
}

#[tokio::test]
async fn a_pending_recharge_is_detected_then_confirmed_by_the_poller() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "ida").await;
    app.pay().faults(json!({ "drop_callbacks": true })).await;
    let sent = app
        .pay()
        .recharge_with(&address, "9", json!({ "currency": "TRX", "status": 1 }))
        .await;
    poll(&app).await;
    let deposits = deposits_of(&app, "ida").await;
    assert_eq!(deposits[0]["state"], "detected");
    assert_eq!(deposits[0]["asset"], "TRX");
    let id = sent["recharge"]["rechargeId"].to_string();
    app.pay().recharge_action(&id, "succeed").await;
    poll(&app).await;
    assert_eq!(deposits_of(&app, "ida").await[0]["state"], "confirmed");
}
