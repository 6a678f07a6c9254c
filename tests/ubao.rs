//! UBAO end to end: the gateway against its built-in UBAO simulator, which checks every request's
//! sign, keeps receive, collection and watch wallets with balances, and signs its callbacks, over
//! real HTTP and a real PostgreSQL.

mod common;

use common::db_proxy::DbProxy;
use common::{OPS_TOKEN, TestApp, TestOptions, UBAO_ACCOUNT, UBAO_API_KEY, UDUN_ACCOUNT, str_of};
use custody_gateway::providers::ubao::sign::{encode_body, ubao_sign};
use custody_gateway::workers::sweeps::sweep_due;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

const TRON_TO: &str = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF";
const USDT_TRC20: i64 = 1004;
const TRX: i64 = 1003;

async fn ubao_address(app: &TestApp, user: &str, chain: &str, asset: &str) -> String {
    let (status, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": user, "chain": chain, "asset": asset, "provider": UBAO_ACCOUNT }),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    str_of(&body, "address").to_owned()
}

async fn deposits_of(app: &TestApp, user: &str) -> Vec<Value> {
    let (_, list) = app.get(&format!("/v1/deposits?user_id={user}")).await;
    list["data"].as_array().unwrap().clone()
}

async fn withdraw(app: &TestApp, client_order_id: &str, amount: &str) -> (StatusCode, Value) {
    app.withdraw(&json!({
        "client_order_id": client_order_id, "chain": "TRX", "asset": "USDT", "amount": amount,
        "to_address": TRON_TO, "provider": UBAO_ACCOUNT,
    }))
    .await
}

async fn withdrawal(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/withdrawals/{id}")).await.1
}

/// The simulator's wallets of one type.
async fn wallets(app: &TestApp, kind: &str) -> Vec<Value> {
    app.ubao().state().await["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == kind)
        .cloned()
        .collect()
}

/// A form callback as UBAO sends one, signed with `key`.
fn signed_form(body: &Value, key: &str) -> (String, String, String, String) {
    let body = encode_body(body);
    let (nonce, timestamp) = (
        "123456".to_owned(),
        chrono::Utc::now().timestamp().to_string(),
    );
    let sign = ubao_sign(&body, key, &nonce, &timestamp);
    (body, nonce, timestamp, sign)
}

async fn post_form(app: &TestApp, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .http
        .post(format!("{}/callbacks/{UBAO_ACCOUNT}", app.url))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_recharge_is_credited_once_across_ubaos_retries_and_shares_the_chains_address() {
    let app = TestApp::spawn().await;
    let usdt = ubao_address(&app, "amy", "TRX", "USDT").await;
    let trx = ubao_address(&app, "amy", "TRX", "TRX").await;
    assert_eq!(usdt, trx, "a token and its chain's coin share the address");
    assert_eq!(wallets(&app, "receive").await.len(), 1);

    let sent = app
        .ubao()
        .deposit_with(
            &usdt,
            "98.26",
            json!({ "coin_id": USDT_TRC20, "repeat": 3 }),
        )
        .await;
    let attempts = sent["callbacks"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "{sent}");
    for attempt in attempts {
        assert_eq!(attempt["reply"], "SUCCESS", "{attempt}");
    }
    assert_eq!(sent["recharge"]["amount"], "98260000");
    let deposits = deposits_of(&app, "amy").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["amount"], "98.26");
    assert_eq!(deposits[0]["asset"], "USDT");
    assert_eq!(deposits[0]["state"], "confirmed");
    assert_eq!(deposits[0]["tx_hash"], sent["recharge"]["hash"]);
}

#[tokio::test]
async fn a_bad_sign_or_a_tampered_body_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let address = ubao_address(&app, "bob", "TRX", "USDT").await;
    let recharge = json!({
        "callbackType": "recharge", "amount": "5000000", "decimals": 6, "address": address,
        "chainType": 160, "coinType": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "coinID": USDT_TRC20,
        "hash": "ab12", "fromAddress": TRON_TO, "coinName": "USDT",
    });
    let (body, nonce, timestamp, sign) = signed_form(&recharge, "not-our-key");
    let (status, text) = post_form(
        &app,
        &[
            ("body", &body),
            ("nonce", &nonce),
            ("timestamp", &timestamp),
            ("sign", &sign),
        ],
    )
    .await;
    assert_ne!(text, "SUCCESS", "{status}");

    let (body, nonce, timestamp, sign) = signed_form(&recharge, UBAO_API_KEY);
    let mut tampered = body.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (_, text) = post_form(
        &app,
        &[
            ("body", &tampered),
            ("nonce", &nonce),
            ("timestamp", &timestamp),
            ("sign", &sign),
        ],
    )
    .await;
    assert_ne!(text, "SUCCESS");
    assert!(deposits_of(&app, "bob").await.is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'rejected'")
            .await,
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM provider_events").await, 0);

    // The same recharge, signed with our key, is credited.
    let (status, text) = post_form(
        &app,
        &[
            ("body", &body),
            ("nonce", &nonce),
            ("timestamp", &timestamp),
            ("sign", &sign),
        ],
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "SUCCESS"));
    assert_eq!(deposits_of(&app, "bob").await[0]["amount"], "5");
}

/// Waits until `sql` counts `want`: what UBAO sends after answering comes a moment later.
async fn eventually(app: &TestApp, sql: &'static str, want: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.count(sql).await != want {
        assert!(
            std::time::Instant::now() < deadline,
            "{sql} never counted {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A deposit of `amount` USDT to `user`'s address, swept into the collection wallet.
async fn fund_collection_wallet(app: &TestApp, user: &str, amount: &str) -> String {
    let address = ubao_address(app, user, "TRX", "USDT").await;
    app.ubao().deposit(&address, amount, USDT_TRC20).await;
    assert_eq!(sweep_due(&app.gateway.state).await.unwrap(), 1);
    // The sweep's transfer, then the balances of both addresses (after the deposit's own).
    eventually(
        app,
        "SELECT count(*) FROM provider_events WHERE order_kind = 'treasury'",
        1,
    )
    .await;
    eventually(
        app,
        "SELECT count(*) FROM provider_events WHERE order_kind = 'balance'",
        3,
    )
    .await;
    address
}

/// Withdrawals that need the collection wallet while UBAO is slow to make it wait for it without
/// holding connections: a callback arriving meanwhile is stored at once. (Were each waiting on
/// the wallet's lock in a transaction of its own, they would take the whole pool, and the
/// callback would wait for a connection past its deadline and be told to retry.)
#[tokio::test]
async fn withdrawals_waiting_for_the_collection_wallet_hold_no_connections() {
    let app = TestApp::spawn_with(TestOptions {
        database_connections: 4,
        ..TestOptions::default()
    })
    .await;
    let btc = app.create_address("payee", "BTC", "BTC").await;
    app.ubao()
        .faults(json!({ "address": ["accept_then_stall"], "stall_ms": 2500 }))
        .await;
    let waiting: Vec<_> = (0..4)
        .map(|n| {
            let (http, url, key) = (app.http.clone(), app.url.clone(), app.api_key.clone());
            let body = json!({
                "client_order_id": format!("wait-{n}"), "chain": "TRX", "asset": "USDT",
                "amount": "1", "to_address": TRON_TO, "provider": UBAO_ACCOUNT,
            });
            tokio::spawn(async move {
                let sent = http
                    .post(format!("{url}/v1/withdrawals"))
                    .bearer_auth(key)
                    .json(&body);
                sent.send().await.unwrap().status()
            })
        })
        .collect();
    // The first submission is making the wallet; the others are behind it. (Watched on a
    // connection of the test's own: the gateway's pool is what is at stake.)
    let mut watcher = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    while wallets(&app, "collection").await.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM withdrawals")
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        if stored == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let sent = app.udun().deposit(str_of(&btc, "address"), "0.5").await;
    assert_eq!(sent["response"], "success", "{sent}");
    assert!(
        waiting.iter().any(|w| !w.is_finished()),
        "the wallet was still being made when the callback was stored"
    );
    // The new wallet is empty: each is answered, refused for want of funds, none timed out.
    for request in waiting {
        assert_eq!(request.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(wallets(&app, "collection").await.len(), 1, "made once");
}

#[tokio::test]
async fn withdrawals_are_paid_from_the_collection_wallet_and_end_by_result() {
    let app = TestApp::spawn().await;
    fund_collection_wallet(&app, "cy", "50").await;
    let collection = wallets(&app, "collection").await;
    assert_eq!(collection.len(), 1, "made on first need, once");
    let from = str_of(&collection[0], "address").to_owned();
    assert_eq!(collection[0]["balances"][USDT_TRC20.to_string()], "50");

    let (status, done) = withdraw(&app, "uw-1", "20").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{done}");
    assert_eq!(done["state"], "submitted");
    let order_sn = str_of(&done, "provider_request_id").to_owned();
    let state = app.ubao().state().await;
    let order = state["withdrawals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["order_sn"] == order_sn.as_str())
        .cloned()
        .unwrap();
    assert_eq!(order["from"], from.as_str());
    assert_eq!(order["amount"], "20");
    assert_eq!(order["requests"], 1);
    let completed = app.ubao().withdrawal(&order_sn, "complete").await;
    let body = withdrawal(&app, str_of(&done, "id")).await;
    assert_eq!(body["state"], "completed");
    assert_eq!(body["tx_hash"], completed["withdrawal"]["hash"]);

    let (_, failed) = withdraw(&app, "uw-2", "20").await;
    app.ubao()
        .withdrawal(str_of(&failed, "provider_request_id"), "fail")
        .await;
    let body = withdrawal(&app, str_of(&failed, "id")).await;
    assert_eq!(body["state"], "failed");

    // 30 USDT are left; 31 are more than the collection wallet holds.
    let (status, refused) = withdraw(&app, "uw-3", "31").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "insufficient_funds");
    let rejected = &refused["error"]["details"]["withdrawal"];
    assert_eq!(rejected["state"], "rejected", "{refused}");
    assert_eq!(rejected["error"]["code"], "insufficient_funds");
}

#[tokio::test]
async fn a_sweep_runs_once_per_deposit_across_two_instances_and_a_restart() {
    // Only this test's own passes sweep: a background pass between the deposit and them would
    // take the sweep first.
    let app = TestApp::spawn_with(TestOptions {
        sweep_interval_ms: 3_600_000,
        ..TestOptions::default()
    })
    .await;
    let address = ubao_address(&app, "dot", "TRX", "USDT").await;
    // Below the threshold (10): no sweep.
    app.ubao().deposit(&address, "9.5", USDT_TRC20).await;
    assert_eq!(sweep_due(&app.gateway.state).await.unwrap(), 0);
    app.ubao().deposit(&address, "12", USDT_TRC20).await;
    // On a loaded machine the first delivery may be answered "retry" and the simulator's resend
    // stores it: the sweep is queued once the deposit is.
    eventually(&app, "SELECT count(*) FROM sweeps", 1).await;

    let second = app.instance_sharing_ubao().await;
    let (a, b) = tokio::join!(sweep_due(&app.gateway.state), sweep_due(&second.state));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one of the two asks");
    let restarted = app.instance_sharing_ubao().await;
    assert_eq!(sweep_due(&restarted.state).await.unwrap(), 0);
    assert_eq!(sweep_due(&app.gateway.state).await.unwrap(), 0);

    let state = app.ubao().state().await;
    let pooled: i64 = state["pooling_requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["address"] == address.as_str())
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(pooled, 1, "{state}");
    assert_eq!(
        app.count("SELECT count(*) FROM sweeps WHERE state = 'requested'")
            .await,
        1
    );
    // The sweep's transfer is the account's own movement: no withdrawal, no orphan.
    eventually(
        &app,
        "SELECT count(*) FROM provider_events WHERE order_kind = 'treasury' AND outcome = 'recorded'",
        1,
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'orphan'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM withdrawals").await, 0);

    // An operator sweeps by hand too, and sees every sweep.
    app.ubao().deposit(&address, "1", USDT_TRC20).await;
    let (status, swept) = app
        .post_as(
            OPS_TOKEN,
            &format!("/ops/accounts/{UBAO_ACCOUNT}/sweeps"),
            &json!({ "chain": "TRX", "asset": "USDT", "address": address }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{swept}");
    assert_eq!(swept["state"], "requested");
    let (_, listed) = app
        .ops_get(&format!("/ops/accounts/{UBAO_ACCOUNT}/sweeps"))
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn balances_are_listed_collection_wallet_first_and_measured() {
    let app = TestApp::spawn().await;
    let address = fund_collection_wallet(&app, "eda", "40").await;
    app.ubao().deposit(&address, "2.5", USDT_TRC20).await;
    let (status, balances) = app
        .ops_get(&format!("/ops/accounts/{UBAO_ACCOUNT}/balances"))
        .await;
    assert_eq!(status, StatusCode::OK, "{balances}");
    let rows = balances["data"].as_array().unwrap();
    assert_eq!(rows[0]["collection_wallet"], true, "{balances}");
    assert_eq!(rows[0]["amount"], "40");
    let receive = rows
        .iter()
        .find(|r| r["address"] == address.as_str())
        .unwrap();
    assert_eq!(receive["amount"], "2.5");
    assert_eq!(receive["collection_wallet"], false);

    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("custody_collection_wallet_balance")
                && l.contains(UBAO_ACCOUNT)
                && l.ends_with(" 40")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_watched_address_brings_watch_transfer_webhooks_and_no_deposit() {
    let app = TestApp::spawn().await;
    let (status, watched) = app
        .post(
            "/v1/watch-addresses",
            &json!({ "chain": "TRX", "address": TRON_TO }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{watched}");
    assert_eq!(watched["provider"], UBAO_ACCOUNT);
    let (status, _) = app
        .post(
            "/v1/watch-addresses",
            &json!({ "chain": "TRX", "address": TRON_TO }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "watched already");
    let sent = app.ubao().watch_transfer(TRON_TO, "3", USDT_TRC20).await;
    assert_eq!(sent["callbacks"][0]["reply"], "SUCCESS", "{sent}");

    let notice: Value = sqlx::query_scalar(
        "SELECT payload FROM webhook_outbox WHERE event_type = 'watch.transfer'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(notice["data"]["address"], TRON_TO);
    assert_eq!(notice["data"]["amount"], "3");
    assert_eq!(notice["data"]["asset"], "USDT");
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);

    let (status, refused) = app
        .post(
            "/v1/watch-addresses",
            &json!({ "chain": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "provider": UDUN_ACCOUNT }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "unsupported");
}

#[tokio::test]
async fn ownership_is_proven_or_not_and_unsupported_on_udun() {
    let app = TestApp::spawn().await;
    let owner = "0xdd0a4b1d4c3a2a7a3d0e9c5f6b7a8c9d0e1f2a3b";
    app.ubao()
        .ownership(owner, "example.com:user:1", "0xsigned")
        .await;
    let ask = |signature: &str| {
        json!({ "chain": "BSC", "address": owner, "message": "example.com:user:1",
                "signature": signature })
    };
    let (status, proven) = app
        .post("/v1/addresses/verify-ownership", &ask("0xsigned"))
        .await;
    assert_eq!(status, StatusCode::OK, "{proven}");
    assert_eq!(proven, json!({ "owned": true, "checked_by": UBAO_ACCOUNT }));
    let (_, not) = app
        .post("/v1/addresses/verify-ownership", &ask("0xforged"))
        .await;
    assert_eq!(not["owned"], false);

    let mut on_udun = ask("0xsigned");
    on_udun["chain"] = json!("BTC");
    on_udun["address"] = json!("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
    on_udun["provider"] = json!(UDUN_ACCOUNT);
    let (status, refused) = app.post("/v1/addresses/verify-ownership", &on_udun).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "unsupported");

    // Capabilities are listed with each asset, and addresses are checked by UBAO.
    let (_, assets) = app.get("/v1/assets").await;
    let ubao = assets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["provider"] == UBAO_ACCOUNT)
        .unwrap()
        .clone();
    for capability in [
        "watch_addresses",
        "ownership_proof",
        "address_validation",
        "balances",
        "sweeps",
    ] {
        assert!(
            ubao["capabilities"]
                .as_array()
                .unwrap()
                .contains(&json!(capability)),
            "{ubao}"
        );
    }
    let (_, checked) = app
        .post(
            "/v1/addresses/validate",
            &json!({ "chain": "TRX", "asset": "USDT", "address": TRON_TO, "provider": UBAO_ACCOUNT }),
        )
        .await;
    assert_eq!(
        checked,
        json!({ "valid": true, "checked_by": UBAO_ACCOUNT })
    );
    let (_, coins) = app
        .ops_get(&format!("/ops/accounts/{UBAO_ACCOUNT}/assets"))
        .await;
    let mapped = coins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider_ids"]["coinID"] == "1004")
        .unwrap()
        .clone();
    assert_eq!(
        mapped["mapped_to"],
        json!({ "chain": "TRX", "asset": "USDT" }),
        "{coins}"
    );
    let _ = TRX;
}

#[tokio::test]
async fn a_recharge_the_database_could_not_take_is_not_answered_success() {
    let proxy = DbProxy::start("127.0.0.1:5432").await;
    let app = TestApp::spawn_with(TestOptions {
        database_server: Some(proxy.server_url.clone()),
        ..TestOptions::default()
    })
    .await;
    let address = ubao_address(&app, "fin", "TRX", "USDT").await;
    proxy.cut();
    let sent = app.ubao().deposit(&address, "7", USDT_TRC20).await;
    let first = &sent["callbacks"][0];
    assert_ne!(first["reply"], "SUCCESS", "{sent}");
    proxy.restore();
    // UBAO's next send (here a second on) is credited.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(list) =
            tokio::time::timeout(std::time::Duration::from_secs(3), deposits_of(&app, "fin")).await
            && list.len() == 1
        {
            assert_eq!(list[0]["amount"], "7");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "credited on UBAO's next send"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
