//! WaaS (UUWallet) end to end: the gateway against its built-in WaaS simulator, which holds the
//! private key, sends every callback type and checks our encrypted replies, over real HTTP and a
//! real PostgreSQL.

mod common;

use common::{OPS_TOKEN, TestApp, TestOptions, WAAS_ACCOUNT, WAAS_API_KEY, str_of};
use custody_gateway::providers::crypto::rsa::PrivateKey;
use custody_gateway::providers::waas::transport::seal_at_waas;
use reqwest::StatusCode;
use serde_json::{Value, json};

const TRON_TO: &str = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF";

async fn waas_address(
    app: &TestApp,
    key: &str,
    user: &str,
    chain: &str,
    asset: &str,
) -> (StatusCode, Value) {
    app.post_as(
        key,
        "/v1/addresses",
        &json!({ "user_id": user, "chain": chain, "asset": asset, "provider": WAAS_ACCOUNT }),
    )
    .await
}

async fn new_address(app: &TestApp, user: &str) -> String {
    let (status, body) = waas_address(app, &app.api_key, user, "TRX", "USDT").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_of(&body, "address").to_owned()
}

async fn deposits_of(app: &TestApp, user: &str) -> Vec<Value> {
    let (_, list) = app.get(&format!("/v1/deposits?user_id={user}")).await;
    list["data"].as_array().unwrap().clone()
}

/// A withdrawal through WaaS; `(id, callBackId)`.
async fn withdraw(app: &TestApp, client_order_id: &str, amount: &str) -> (String, String) {
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": client_order_id, "chain": "TRX", "asset": "USDT", "amount": amount,
            "to_address": TRON_TO, "provider": WAAS_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    (
        str_of(&created, "id").to_owned(),
        str_of(&created, "provider_request_id").to_owned(),
    )
}

async fn withdrawal(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    body
}

/// The simulator's order, once its second confirmation has been answered.
async fn settled_order(app: &TestApp, call_back_id: &str) -> Value {
    for _ in 0..100 {
        let state = app.waas().state().await;
        let order = state["withdrawals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["call_back_id"] == call_back_id)
            .cloned();
        if let Some(order) = order
            && order["status"] != "pending"
        {
            return order;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("WaaS never settled {call_back_id}");
}

async fn event_types(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM webhook_outbox ORDER BY sequence")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn one_address_per_user_and_chain_for_every_symbol_and_never_shared_across_merchants() {
    let app = TestApp::spawn().await;
    let usdt = new_address(&app, "alice").await;
    let (status, trx) = waas_address(&app, &app.api_key, "alice", "TRX", "TRX").await;
    assert_eq!(status, StatusCode::OK, "the chain's address serves TRX too");
    assert_eq!(trx["address"], usdt.as_str());
    let (status, eth) = waas_address(&app, &app.api_key, "alice", "ETH", "ETH").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(str_of(&eth, "address").starts_with("0x"));

    let other = app.other_merchant_key().await;
    let (status, theirs) = waas_address(&app, &other, "alice", "TRX", "USDT").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(
        theirs["address"],
        usdt.as_str(),
        "another merchant's alice is another user"
    );
    let users = app.waas().state().await["users"].as_object().unwrap().len();
    assert_eq!(users, 2);

    // Deposits to the one address are told apart by symbol.
    app.waas()
        .deposit(&usdt, "2.500000000000", "USDT", (3, 3))
        .await;
    app.waas().deposit(&usdt, "7", "TRX", (3, 3)).await;
    let mut assets: Vec<(String, String)> = deposits_of(&app, "alice")
        .await
        .iter()
        .map(|d| {
            (
                d["asset"].as_str().unwrap().to_owned(),
                d["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assets.sort();
    assert_eq!(
        assets,
        [
            ("TRX".to_owned(), "7".to_owned()),
            ("USDT".to_owned(), "2.5".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_deposit_is_credited_once_across_redeliveries_with_its_risk_scores() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "bob").await;
    let sent = app
        .waas()
        .deposit_with(
            &address,
            "12.345678",
            "USDT",
            (12, 4),
            json!({ "repeat": 3 }),
        )
        .await;
    let callbacks = sent["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 3);
    let uuids: std::collections::HashSet<&str> = callbacks
        .iter()
        .map(|c| c["fields"]["requestUUID"].as_str().unwrap())
        .collect();
    assert_eq!(uuids.len(), 3, "a new requestUUID each delivery");
    for callback in callbacks {
        assert_eq!(
            callback["accepted"], true,
            "the simulator accepts our echo: {callback}"
        );
    }
    let deposits = deposits_of(&app, "bob").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["amount"], "12.345678");
    assert_eq!(deposits[0]["state"], "confirmed");
    assert_eq!(deposits[0]["tx_hash"], sent["deposit"]["txId"]);
    assert_eq!(
        deposits[0]["risk"],
        json!({ "source_score": 12, "target_score": 4 })
    );
    assert_eq!(
        event_types(&app).await,
        ["deposit.detected", "deposit.confirmed"]
    );
}

/// A callback sealed with WaaS's key, posted with `api_key` as its `X-API-KEY`.
async fn post_sealed(app: &TestApp, api_key: &str, fields: Value) -> (StatusCode, String) {
    let key = PrivateKey::parse(include_str!("../config/sim/waas_private.pem")).unwrap();
    let body = seal_at_waas(&fields, &key).unwrap();
    let response = app
        .http
        .post(format!("{}/callbacks/{WAAS_ACCOUNT}", app.url))
        .header("X-API-KEY", api_key)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_callback_without_our_key_or_that_does_not_open_changes_nothing() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "carol").await;
    let deposit = json!({
        "type": 1, "trackingId": "t-1", "requestUUID": "r-1", "tenantUserId": "x", "txId": "ab",
        "txIndex": 0, "chainName": "TRON", "symbol": "USDT", "amount": "5", "toAddress": address,
        "riskLevelFrom": 0, "riskLevelTo": 0,
    });
    let (status, body) = post_sealed(&app, "not-our-key", deposit.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        !body.contains(WAAS_API_KEY),
        "our key is never told to a stranger"
    );
    let response = app
        .http
        .post(format!("{}/callbacks/{WAAS_ACCOUNT}", app.url))
        .header("X-API-KEY", WAAS_API_KEY)
        .body("bm90IGEgY2lwaGVydGV4dA==")
        .send()
        .await
        .unwrap();
    let reply: Value = response.json().await.unwrap();
    assert_ne!(reply["errCode"], 0, "{reply}");
    assert_eq!(deposits_of(&app, "carol").await.len(), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'rejected'")
            .await,
        2
    );
    // The same deposit, properly sent, goes through.
    let (status, body) = post_sealed(&app, WAAS_API_KEY, deposit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["errCode"], 0);
    assert_eq!(deposits_of(&app, "carol").await.len(), 1);
}

async fn ops_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.post_as(OPS_TOKEN, path, &body).await
}

#[tokio::test]
async fn a_deposit_at_risk_waits_for_an_operator_to_release_or_reject_it() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "dan").await;
    app.waas().deposit(&address, "100", "USDT", (85, 2)).await;
    app.waas().deposit(&address, "200", "USDT", (90, 2)).await;
    let mut held = deposits_of(&app, "dan").await;
    held.sort_by_key(|d| d["amount"].as_str().unwrap().to_owned());
    for deposit in &held {
        assert_eq!(deposit["state"], "detected");
        assert_eq!(deposit["needs_review"], true);
    }
    let (first, second) = (str_of(&held[0], "id"), str_of(&held[1], "id"));

    let (status, _) = ops_post(&app, &format!("/ops/deposits/{first}/release"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required");
    let (status, released) = ops_post(
        &app,
        &format!("/ops/deposits/{first}/release"),
        json!({ "reason": "source checked: exchange hot wallet" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["state"], "confirmed");
    let (status, rejected) = ops_post(
        &app,
        &format!("/ops/deposits/{second}/reject"),
        json!({ "reason": "sanctioned source" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["state"], "failed");
    let (status, _) = ops_post(
        &app,
        &format!("/ops/deposits/{first}/reject"),
        json!({ "reason": "too late" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a released deposit is no longer held"
    );

    let (_, order) = app.ops_get(&format!("/ops/orders/{first}")).await;
    let last = order["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["source"], "ops");
    assert_eq!(last["to_state"], "confirmed");
    assert_eq!(last["reason"], "source checked: exchange hot wallet");
    let types = event_types(&app).await;
    assert_eq!(
        types.iter().filter(|t| *t == "deposit.confirmed").count(),
        1
    );
    assert_eq!(types.iter().filter(|t| *t == "deposit.failed").count(), 1);
}

#[tokio::test]
async fn the_second_confirmation_approves_only_our_withdrawal_as_we_made_it() {
    let app = TestApp::spawn().await;
    let (id, call_back_id) = withdraw(&app, "wq-1", "3.25").await;
    let order = settled_order(&app, &call_back_id).await;
    assert_eq!(order["status"], "approved", "{order}");
    assert_eq!(order["amount"], "3.25");
    assert_eq!(order["to_addr"], TRON_TO);
    assert_eq!(order["requests"], 1);

    // Asked again about something else, the answer is no.
    for overrides in [
        json!({ "amount": "32.5" }),
        json!({ "toAddress": "TGDHyoMpgDQj4DmoZdwJP2FSkSG4DEchnK" }),
    ] {
        let asked = app
            .waas()
            .withdrawal(&call_back_id, "confirm", overrides)
            .await;
        assert_eq!(asked["callbacks"][0]["reply"]["errCode"], 1, "{asked}");
    }
    let asked = app
        .waas()
        .withdrawal("never-made-here", "confirm", json!({}))
        .await;
    assert_eq!(asked["callbacks"][0]["reply"]["errCode"], 1, "{asked}");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'refused'")
            .await,
        3
    );
    assert_eq!(withdrawal(&app, &id).await["needs_review"], true);

    // The second confirmation is heard on the main callback address too.
    let (status, body) = post_sealed(
        &app,
        WAAS_API_KEY,
        json!({ "type": 2, "trackingId": order["tracking_id"], "requestUUID": "r-main",
                "tenantUserId": order["tenant_user_id"], "callBackId": call_back_id,
                "toAddress": TRON_TO, "chainName": "TRON", "symbol": "USDT", "amount": "3.25" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["errCode"], 0);
}

#[tokio::test]
async fn a_withdrawal_completes_fails_or_waits_as_waas_says() {
    let app = TestApp::spawn().await;
    let (done, done_id) = withdraw(&app, "wq-2", "1").await;
    settled_order(&app, &done_id).await;
    let completed = app.waas().withdrawal(&done_id, "complete", json!({})).await;
    let body = withdrawal(&app, &done).await;
    assert_eq!(body["state"], "completed");
    assert_eq!(body["tx_hash"], completed["withdrawal"]["tx_id"]);

    let (ended, ended_id) = withdraw(&app, "wq-3", "1").await;
    settled_order(&app, &ended_id).await;
    app.waas()
        .withdrawal(&ended_id, "terminate", json!({}))
        .await;
    let body = withdrawal(&app, &ended).await;
    assert_eq!(body["state"], "failed");
    assert_eq!(body["error"]["code"], "provider_failed");

    let (waiting, waiting_id) = withdraw(&app, "wq-4", "1").await;
    settled_order(&app, &waiting_id).await;
    let before = withdrawal(&app, &waiting).await["state"].clone();
    app.waas()
        .withdrawal(&waiting_id, "short_hot", json!({}))
        .await;
    app.waas()
        .withdrawal(&waiting_id, "short_hot", json!({}))
        .await;
    let body = withdrawal(&app, &waiting).await;
    assert_eq!(body["state"], before, "the state stays");
    assert_eq!(body["delay"]["reason"], "hot_wallet_short");
    app.waas()
        .withdrawal(&waiting_id, "short_gas", json!({}))
        .await;
    assert_eq!(
        withdrawal(&app, &waiting).await["delay"]["reason"],
        "gas_short"
    );
    app.waas()
        .withdrawal(&waiting_id, "complete", json!({}))
        .await;
    let body = withdrawal(&app, &waiting).await;
    assert_eq!(body["state"], "completed");
    assert_eq!(body["delay"], Value::Null, "cleared when it moves on");
    let delayed = event_types(&app)
        .await
        .iter()
        .filter(|t| *t == "withdrawal.delayed")
        .count();
    assert_eq!(delayed, 2, "once per delay, not per repeat");
}

#[tokio::test]
async fn a_changed_address_is_served_and_the_old_one_still_credits_its_user() {
    let app = TestApp::spawn().await;
    let old = new_address(&app, "erin").await;
    app.waas().deposit(&old, "1", "USDT", (0, 0)).await;
    let changed = app.waas().change_address(&old, "TRX").await;
    assert_eq!(changed["callbacks"][0]["accepted"], true, "{changed}");
    let fresh = str_of(&changed, "new_address").to_owned();

    let (_, listed) = app.get("/v1/addresses?user_id=erin").await;
    let listed: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [fresh.as_str()]);
    let (status, again) = waas_address(&app, &app.api_key, "erin", "TRX", "USDT").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["address"], fresh.as_str());

    // A late deposit to the old address, and one to the new, are both erin's.
    let late = json!({
        "type": 1, "trackingId": "late-1", "requestUUID": "r-late", "tenantUserId": "x",
        "txId": "cd", "txIndex": 0, "chainName": "TRON", "symbol": "USDT", "amount": "2",
        "toAddress": old, "riskLevelFrom": 0, "riskLevelTo": 0,
    });
    assert_eq!(
        post_sealed(&app, WAAS_API_KEY, late).await.0,
        StatusCode::OK
    );
    app.waas().deposit(&fresh, "3", "USDT", (0, 0)).await;
    let mut amounts: Vec<String> = deposits_of(&app, "erin")
        .await
        .iter()
        .map(|d| d["amount"].as_str().unwrap().to_owned())
        .collect();
    amounts.sort();
    assert_eq!(amounts, ["1", "2", "3"]);

    let notice: Value = sqlx::query_scalar(
        "SELECT payload FROM webhook_outbox WHERE event_type = 'address.changed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        notice["data"],
        json!({ "user_id": "erin", "chain": "TRX", "old_address": old, "new_address": fresh,
                "provider": WAAS_ACCOUNT })
    );
}

#[tokio::test]
async fn a_type_0_notice_is_ignored() {
    let app = TestApp::spawn().await;
    let sent = app
        .waas()
        .raw_callback(json!({ "type": 0, "trackingId": "z" }))
        .await;
    assert_eq!(sent["callbacks"][0]["status"], 200);
    assert_eq!(sent["callbacks"][0]["reply"], "");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks").await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM provider_events").await, 0);
}

#[tokio::test]
async fn a_timed_out_withdrawal_is_unknown_and_never_sent_under_another_callback_id() {
    let app = TestApp::spawn_with(TestOptions {
        provider_timeout_secs: 1,
        waas_withdraw_mode: "direct",
        ..TestOptions::default()
    })
    .await;
    app.waas()
        .faults(json!({ "withdraw": ["accept_then_stall"], "stall_ms": 2500 }))
        .await;
    let (id, call_back_id) = withdraw(&app, "wq-5", "2").await;
    assert_eq!(withdrawal(&app, &id).await["state"], "unknown");
    custody_gateway::workers::resubmit::resubmit_due(&app.gateway.state, 0)
        .await
        .unwrap();
    let body = withdrawal(&app, &id).await;
    assert_eq!(body["provider_request_id"], call_back_id.as_str());
    let state = app.waas().state().await;
    let orders = state["withdrawals"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "one order at WaaS");
    assert_eq!(orders[0]["call_back_id"], call_back_id.as_str());
    assert_eq!(
        orders[0]["requests"], 2,
        "sent again under the same callBackId"
    );
    assert_eq!(orders[0]["verify"], false);
}

#[tokio::test]
async fn a_callback_we_could_not_store_is_sent_again_and_credited_once_it_is() {
    let proxy = common::db_proxy::DbProxy::start("127.0.0.1:5432").await;
    let app = TestApp::spawn_with(TestOptions {
        database_server: Some(proxy.server_url.clone()),
        ..TestOptions::default()
    })
    .await;
    let address = new_address(&app, "fay").await;

    proxy.cut();
    let sent = app.waas().deposit(&address, "4.5", "USDT", (0, 0)).await;
    let attempts = sent["callbacks"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "sent again while the reply is wrong");
    for attempt in attempts {
        assert_eq!(attempt["accepted"], false, "{attempt}");
        assert_ne!(attempt["reply"]["errCode"], 0, "{attempt}");
        assert!(attempt["reply"]["message"].as_str().unwrap().len() > 1);
    }
    let uuids: std::collections::HashSet<&str> = attempts
        .iter()
        .map(|a| a["fields"]["requestUUID"].as_str().unwrap())
        .collect();
    assert_eq!(uuids.len(), 3, "a new requestUUID each delivery");

    proxy.restore();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let fields = attempts[0]["fields"].clone();
    loop {
        let (status, body) = post_sealed(&app, WAAS_API_KEY, fields.clone()).await;
        if status == StatusCode::OK && serde_json::from_str::<Value>(&body).unwrap()["errCode"] == 0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stored once the database is back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, _) = post_sealed(&app, WAAS_API_KEY, attempts[2]["fields"].clone()).await;
    assert_eq!(status, StatusCode::OK);
    let deposits = deposits_of(&app, "fay").await;
    assert_eq!(deposits.len(), 1, "credited once");
    assert_eq!(deposits[0]["amount"], "4.5");
}

#[tokio::test]
async fn a_withdrawal_waas_goes_quiet_on_is_listed_for_attention() {
    let app = TestApp::spawn_with(TestOptions {
        attention_after_secs: 1,
        ..TestOptions::default()
    })
    .await;
    let (quiet, quiet_id) = withdraw(&app, "wq-6", "1").await;
    let (done, done_id) = withdraw(&app, "wq-7", "1").await;
    settled_order(&app, &quiet_id).await;
    settled_order(&app, &done_id).await;
    app.waas().withdrawal(&done_id, "complete", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    let (status, attention) = app.ops_get("/ops/withdrawals/attention").await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = attention["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["withdrawal"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [quiet.as_str()], "not {done}, which completed");
    assert_eq!(withdrawal(&app, &quiet).await["state"], "submitted");
}
