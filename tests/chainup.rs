//! ChainUp MPC end to end: the gateway against its built-in ChainUp simulator, which speaks
//! ChainUp's RSA transport, over real HTTP and a real PostgreSQL.

mod common;

use common::sims::Action;
use common::{CHAINUP_ACCOUNT, CHAINUP_APP_ID, TestApp, TestOptions, str_of};
use custody_gateway::providers::chainup_mpc::transport::{
    Reply, decode_reply, encrypt_request, seal_notification,
};
use custody_gateway::providers::crypto::rsa::{PrivateKey, PublicKey};
use custody_gateway::workers::pollers::{PollReport, poll_account};
use custody_gateway::workers::resubmit::resubmit_due;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

const ETH_TO: &str = "0x5edc9177997bf6b4db559a5c184051858b3b3704";

async fn poll(app: &TestApp) -> PollReport {
    poll_gateway(&app.gateway).await
}

async fn poll_gateway(gateway: &custody_gateway::Gateway) -> PollReport {
    let provider = gateway.state.registry.get(CHAINUP_ACCOUNT).unwrap();
    poll_account(&gateway.state, provider.as_ref())
        .await
        .expect("poll round")
}

async fn chainup_address(app: &TestApp, user: &str, asset: &str) -> (StatusCode, Value) {
    app.post(
        "/v1/addresses",
        &json!({ "user_id": user, "chain": "ETH", "asset": asset, "provider": CHAINUP_ACCOUNT }),
    )
    .await
}

async fn new_address(app: &TestApp, user: &str) -> String {
    let (status, body) = chainup_address(app, user, "ETH").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_of(&body, "address").to_owned()
}

async fn deposit_state(app: &TestApp, user: &str) -> Vec<Value> {
    let (_, list) = app.get(&format!("/v1/deposits?user_id={user}")).await;
    list["data"].as_array().unwrap().clone()
}

async fn cursor(app: &TestApp, feed: &str) -> Option<String> {
    sqlx::query_scalar("SELECT cursor FROM poll_cursors WHERE account_id = $1 AND feed = $2")
        .bind(CHAINUP_ACCOUNT)
        .bind(feed)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_user_gets_one_sub_wallet_and_one_address_per_chain() {
    let app = TestApp::spawn().await;
    let (status, first) = chainup_address(&app, "alice", "ETH").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["provider"], CHAINUP_ACCOUNT);
    // A token on the same chain is served by the same address.
    let (status, token) = chainup_address(&app, "alice", "USDT").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(token["address"], first["address"]);
    new_address(&app, "bob").await;

    // Concurrent first requests for one user create one sub-wallet and one address.
    let racing: Vec<_> = (0..6)
        .map(|_| chainup_address(&app, "carol", "ETH"))
        .collect();
    let answers = futures::future::join_all(racing).await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(_, b)| b["address"] == answers[0].1["address"])
    );

    let state = app.chainup().state().await;
    let wallets = state["sub_wallets"].as_array().unwrap();
    assert_eq!(wallets.len(), 3, "{state}");
    assert!(
        wallets.iter().all(|w| w["sub_wallet_type"] == 1),
        "custody wallets"
    );
    assert_eq!(state["addresses"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_system_address_is_never_handed_out() {
    let app = TestApp::spawn().await;
    app.chainup()
        .faults(json!({ "system_address": true }))
        .await;
    let (status, body) = chainup_address(&app, "dave", "ETH").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "provider_refused");
    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 0);
    // The next try gets a user address.
    new_address(&app, "dave").await;
}

#[tokio::test]
async fn pulled_deposits_are_stored_once_across_pages_and_restarts() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "erin").await;
    let made = app
        .chainup()
        .deposit_with(&address, "0.123456789012345678", json!({ "count": 250 }))
        .await;
    let records = made["records"].as_array().unwrap();
    assert_eq!(records.len(), 250);
    let last_id = records[249]["id"].as_i64().unwrap();

    let report = poll(&app).await;
    assert_eq!(report.new_events, 250, "{report:?}");
    // Three pages of deposits (100, 100, 50) and one of withdrawals.
    assert_eq!(report.pages, 4, "{report:?}");
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 250);
    assert_eq!(
        app.count("SELECT count(*) FROM deposits WHERE amount = 0.123456789012345678 AND state = 'detected'")
            .await,
        250
    );
    let total: String = sqlx::query_scalar("SELECT sum(amount)::text FROM deposits")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(total, "30.864197253086419500");
    assert_eq!(cursor(&app, "deposits").await, Some(last_id.to_string()));

    // Polling again, and a fresh instance that starts from the stored cursor, add nothing.
    assert_eq!(poll(&app).await.new_events, 0);
    let restarted = app.second_instance().await;
    assert_eq!(poll_gateway(&restarted).await.new_events, 0);
    let more = app
        .chainup()
        .deposit_with(&address, "2", json!({ "count": 5 }))
        .await;
    let resumed = poll_gateway(&restarted).await;
    // One page of deposits and one of withdrawals.
    assert_eq!((resumed.new_events, resumed.pages), (5, 2), "{resumed:?}");
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 255);
    assert_eq!(
        cursor(&app, "deposits").await,
        Some(more["records"][4]["id"].as_i64().unwrap().to_string())
    );
    restarted.shutdown().await;
}

#[tokio::test]
async fn a_deposit_is_credited_once_after_enough_confirmations() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "frank").await;
    let made = app
        .chainup()
        .deposit_with(&address, "1.25", json!({ "notify": true }))
        .await;
    let sent = &made["notified"][0];
    assert_eq!(
        (sent["status"].as_u64(), sent["body"].as_str()),
        (Some(200), Some("SUCCESS"))
    );
    let deposits = deposit_state(&app, "frank").await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["state"], "detected");
    assert_eq!(deposits[0]["amount"], "1.25");

    // The notification again, and the same record pulled from the sync list, change nothing.
    let again = app
        .http
        .post(format!("{}/callbacks/{CHAINUP_ACCOUNT}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(str_of(sent, "form").to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), "SUCCESS");
    assert_eq!(poll(&app).await.new_events, 0);
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 1);

    // 12 confirmations are required: the block it is in plus 11 more.
    app.chainup().blocks(10).await;
    assert_eq!(poll(&app).await.confirmed, 0);
    assert_eq!(deposit_state(&app, "frank").await[0]["state"], "detected");
    app.chainup().blocks(1).await;
    assert_eq!(poll(&app).await.confirmed, 1);
    assert_eq!(deposit_state(&app, "frank").await[0]["state"], "confirmed");
    assert_eq!(poll(&app).await.confirmed, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_outbox WHERE event_type = 'deposit.confirmed'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM order_transitions WHERE to_state = 'confirmed'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_credited_status_from_chainup_confirms_without_counting() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "gina").await;
    app.chainup()
        .deposit_with(&address, "3", json!({ "status": 2000 }))
        .await;
    let report = poll(&app).await;
    assert_eq!(report.new_events, 1);
    assert_eq!(report.confirmed, 0, "nothing was confirmed by counting");
    let deposits = deposit_state(&app, "gina").await;
    assert_eq!(deposits[0]["state"], "confirmed");
    // The confirmation is the 2000 record's own, not a counted one.
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE event_key LIKE '%:confirmations'")
            .await,
        0
    );
}

/// Advisory locks held by any session in the test's database.
async fn polling_locks(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// A round dropped midway (an operator's poll request cut off, a shutdown) leaves no lock behind
/// on a pooled connection, where it would keep every other session from polling the account.
#[tokio::test]
async fn a_round_cut_off_midway_leaves_the_account_unlocked() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "ivy").await;
    app.chainup().deposit(&address, "0.5").await;

    // The round takes the account's lock, then waits on the table of cursors.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE poll_cursors IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let gateway_state = app.gateway.state.clone();
    let round = tokio::spawn(async move {
        let provider = gateway_state.registry.get(CHAINUP_ACCOUNT).unwrap();
        let _ = poll_account(&gateway_state, provider.as_ref()).await;
    });
    while polling_locks(&app).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    round.abort();
    let _ = round.await;
    blocker.rollback().await.unwrap();

    for _ in 0..500 {
        if polling_locks(&app).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(polling_locks(&app).await, 0, "the lock outlived its round");
    let second = app.second_instance().await;
    let report = poll_gateway(&second).await;
    assert!(!report.skipped, "{report:?}");
    assert_eq!(report.new_events, 1);
}

#[tokio::test]
async fn two_instances_never_poll_one_account_at_once() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "hank").await;
    app.chainup()
        .deposit_with(&address, "0.5", json!({ "count": 120 }))
        .await;

    // While another session holds the account's lock, a round does nothing.
    let mut holder = app.pool.acquire().await.unwrap();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('poll:' || $1))")
        .bind(CHAINUP_ACCOUNT)
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    assert!(locked);
    let report = poll(&app).await;
    assert!(report.skipped, "{report:?}");
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    sqlx::query("SELECT pg_advisory_unlock(hashtext('poll:' || $1))")
        .bind(CHAINUP_ACCOUNT)
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);

    // Two instances on one database, started at once: every deposit once.
    let second = app.second_instance().await;
    let (a, b) = tokio::join!(poll(&app), poll_gateway(&second));
    assert_eq!(a.new_events + b.new_events, 120, "{a:?} {b:?}");
    assert!(a.skipped || b.skipped || a.new_events == 0 || b.new_events == 0);
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 120);
    assert_eq!(
        app.count("SELECT count(*) FROM order_transitions WHERE to_state = 'detected'")
            .await,
        120
    );
    second.shutdown().await;
}

fn eth_withdrawal(client_order_id: &str, amount: &str) -> Value {
    json!({
        "client_order_id": client_order_id, "chain": "ETH", "asset": "ETH", "amount": amount,
        "to_address": ETH_TO, "provider": CHAINUP_ACCOUNT,
    })
}

async fn cosign(app: &TestApp, request_id: &str, body: Value) -> String {
    let answer = app.chainup().cosign(request_id, body).await;
    assert_eq!(answer["status"], 200, "{answer}");
    str_of(&answer, "body").to_owned()
}

async fn withdrawal(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test]
async fn a_withdrawal_is_submitted_cosigned_only_as_submitted_and_completed() {
    let app = TestApp::spawn().await;
    let (status, created) = app.withdraw(&eth_withdrawal("w-1", "1.50")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "submitted");
    let id = str_of(&created, "id").to_owned();
    let request_id = str_of(&created, "provider_request_id").to_owned();

    // ChainUp saw one request with our request id, the amount without trailing zeros, and a
    // `sign` that verifies with the registered key.
    let seen = app.chainup().withdrawals().await;
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["record"]["request_id"], request_id.as_str());
    assert_eq!(seen[0]["record"]["amount"], "1.5");
    assert_eq!(seen[0]["record"]["address_to"], ETH_TO);
    assert_eq!(seen[0]["record"]["sub_wallet_id"], 1000);
    assert_eq!(seen[0]["requests"], 1);
    assert_eq!(seen[0]["sign_verified"], true);
    // What ChainUp answered, its own withdraw id, is kept with the withdrawal.
    let kept: Option<String> =
        sqlx::query_scalar("SELECT provider_ref FROM withdrawals WHERE provider_request_id = $1")
            .bind(&request_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept, Some(seen[0]["record"]["id"].to_string()));

    // Co-Signer asks: the withdrawal as submitted is approved, in either of its two forms.
    let start = json!({ "stage": "sign_start" });
    assert_eq!(cosign(&app, &request_id, start.clone()).await, "SUCCESS");
    assert_eq!(
        cosign(
            &app,
            &request_id,
            json!({ "stage": "sign_start", "use_withdraw_id_field": true })
        )
        .await,
        "SUCCESS"
    );
    // Anything else is refused, and the refusal recorded.
    assert_eq!(
        cosign(
            &app,
            &request_id,
            json!({ "stage": "sign_start", "amount": "15" })
        )
        .await,
        "FAILURE"
    );
    assert_eq!(
        cosign(
            &app,
            &request_id,
            json!({ "stage": "sign_start", "address": "0x000000000000000000000000000000000000dead" })
        )
        .await,
        "FAILURE"
    );
    assert_eq!(cosign(&app, "not-ours-123", start.clone()).await, "FAILURE");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'refused'")
            .await,
        3
    );
    assert_eq!(withdrawal(&app, &id).await["needs_review"], true);

    app.chainup().withdrawal(&request_id, Action::Approve).await;
    assert_eq!(withdrawal(&app, &id).await["state"], "approved");
    let done = app
        .chainup()
        .withdrawal_with(&request_id, Action::Complete, json!({ "txid": "0xabc" }))
        .await;
    assert_eq!(done["notified"]["body"], "SUCCESS");
    let completed = withdrawal(&app, &id).await;
    assert_eq!(completed["state"], "completed");
    assert_eq!(completed["tx_hash"], "0xabc");
    assert_eq!(completed["fee"], "0.00042");

    // The sync list holds the same records: nothing new. A late sign_start is refused.
    assert_eq!(poll(&app).await.new_events, 0);
    assert_eq!(cosign(&app, &request_id, start).await, "FAILURE");
    assert_eq!(withdrawal(&app, &id).await["state"], "completed");
}

#[tokio::test]
async fn a_rejected_withdrawal_is_rejected() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&eth_withdrawal("w-2", "0.1")).await;
    let request_id = str_of(&created, "provider_request_id");
    app.chainup().withdrawal(request_id, Action::Reject).await;
    let body = withdrawal(&app, str_of(&created, "id")).await;
    assert_eq!(body["state"], "rejected");
}

#[tokio::test]
async fn a_timed_out_submission_is_resolved_by_a_status_query_not_a_second_withdrawal() {
    let app = TestApp::spawn_with(TestOptions {
        provider_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;
    app.chainup()
        .faults(json!({ "withdraw": ["accept_then_stall"], "stall_ms": 2500 }))
        .await;
    let (status, created) = app.withdraw(&eth_withdrawal("w-3", "2")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "unknown");

    assert_eq!(resubmit_due(&app.gateway.state, 0).await.unwrap(), 1);
    assert_eq!(
        withdrawal(&app, str_of(&created, "id")).await["state"],
        "submitted"
    );
    let seen = app.chainup().withdrawals().await;
    assert_eq!(seen.as_array().unwrap().len(), 1);
    assert_eq!(seen[0]["requests"], 1, "no second billing/withdraw");
}

#[tokio::test]
async fn cosigner_key_self_check_passes_only_with_our_keys() {
    let app = TestApp::spawn().await;
    let good = app.chainup().verify_keys(false).await;
    let answer: Value = serde_json::from_str(str_of(&good, "body")).unwrap();
    assert_eq!(answer["client_system_pubkey_hash_valid"], "SUCCESS");
    assert_eq!(answer["verify_sign_pub_hash_valid"], "SUCCESS");
    let bad = app.chainup().verify_keys(true).await;
    let answer: Value = serde_json::from_str(str_of(&bad, "body")).unwrap();
    assert_eq!(answer["client_system_pubkey_hash_valid"], "FAILURE");
}

#[tokio::test]
async fn a_notification_not_sealed_by_chainup_is_refused() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "ivan").await;
    let mut fields = Map::new();
    for (key, value) in [
        ("side", json!("deposit")),
        ("id", json!(77)),
        ("symbol", json!("ETH")),
        ("amount", json!("100")),
        ("address_to", json!(address)),
        ("status", json!(2000)),
    ] {
        fields.insert(key.into(), value);
    }
    // Sealed with our own key instead of ChainUp's.
    let forger =
        PrivateKey::parse(include_str!("../config/sim/chainup_gateway_private.pem")).unwrap();
    let data = seal_notification(&fields, &forger).unwrap();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("app_id", CHAINUP_APP_ID)
        .append_pair("data", &data)
        .finish();
    let (status, body) = {
        let response = app
            .http
            .post(format!("{}/callbacks/{CHAINUP_ACCOUNT}", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::BAD_REQUEST, "FAILURE")
    );
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'rejected'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_coin_list_maps_chainup_symbols_to_our_assets() {
    let app = TestApp::spawn().await;
    let (status, coins) = app
        .ops_get(&format!("/ops/accounts/{CHAINUP_ACCOUNT}/assets"))
        .await;
    assert_eq!(status, StatusCode::OK, "{coins}");
    let coins = coins["data"].as_array().unwrap();
    let usdt = coins
        .iter()
        .find(|c| c["symbol"] == "USDTERC20")
        .expect("USDTERC20 listed");
    assert_eq!(usdt["decimals"], 6);
    assert_eq!(usdt["provider_ids"]["base_symbol"], "ETH");
    assert_eq!(usdt["provider_ids"]["deposit_confirmation"], "12");
    assert_eq!(
        usdt["mapped_to"],
        json!({ "chain": "ETH", "asset": "USDT" })
    );
    let trx_usdt = coins.iter().find(|c| c["symbol"] == "USDTTRC20").unwrap();
    assert!(
        trx_usdt["mapped_to"].is_null(),
        "not mapped in this account"
    );
}

#[tokio::test]
async fn a_failed_round_stores_nothing_and_the_next_one_catches_up() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "judy").await;
    app.chainup()
        .deposit_with(&address, "0.3", json!({ "count": 3 }))
        .await;
    // An instance that cannot reach ChainUp: the round fails and leaves no trace.
    let unreachable = app.instance_with_chainup_at("http://127.0.0.1:9").await;
    let provider = unreachable.state.registry.get(CHAINUP_ACCOUNT).unwrap();
    assert!(
        poll_account(&unreachable.state, provider.as_ref())
            .await
            .is_err()
    );
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(cursor(&app, "deposits").await, None);
    // The lock was released: the next round, from any instance, reads everything.
    assert_eq!(poll(&app).await.new_events, 3);
    unreachable.shutdown().await;
}

/// Calls the simulator's API directly, as the adapter does, and returns the decoded reply.
async fn chainup_api(app: &TestApp, path: &str, fields: Value) -> Reply {
    let key = PrivateKey::parse(include_str!("../config/sim/chainup_gateway_private.pem")).unwrap();
    let Value::Object(fields) = fields else {
        panic!("fields are an object")
    };
    let data = encrypt_request(fields, chrono::Utc::now().timestamp_millis(), &key).unwrap();
    let body = app
        .http
        .post(format!("{}/sim/chainup/api/mpc/{path}", app.url))
        .form(&[("app_id", CHAINUP_APP_ID), ("data", data.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let chainup_key =
        PublicKey::parse(include_str!("../config/sim/chainup_sim_public.pem")).unwrap();
    decode_reply(&body, &chainup_key).unwrap()
}

#[tokio::test]
async fn the_simulator_answers_with_chainup_error_codes() {
    let app = TestApp::spawn().await;
    let withdraw = |request_id: &str, address: &str| {
        json!({ "request_id": request_id, "sub_wallet_id": 1000, "symbol": "ETH",
                "address_to": address, "amount": "0.5" })
    };
    // No sign, though this account's withdrawals must carry one.
    let unsigned = chainup_api(&app, "billing/withdraw", withdraw("r-1", ETH_TO)).await;
    assert_eq!(unsigned.code, "100005");
    let bad_address = chainup_api(&app, "billing/withdraw", withdraw("r-2", "0x1234")).await;
    assert_eq!(bad_address.code, "110055");
    let coin = chainup_api(
        &app,
        "billing/withdraw",
        json!({ "request_id": "r-3", "sub_wallet_id": 1000, "symbol": "DOGE",
                "address_to": ETH_TO, "amount": "1" }),
    )
    .await;
    assert_eq!(coin.code, "120202");

    // A duplicate request id, through the adapter's own submission path.
    let (_, created) = app.withdraw(&eth_withdrawal("w-9", "0.5")).await;
    let request_id = str_of(&created, "provider_request_id").to_owned();
    let provider = app.gateway.state.registry.get(CHAINUP_ACCOUNT).unwrap();
    let chain_asset = custody_gateway::domain::ChainAsset::parse("ETH", "ETH").unwrap();
    let again = provider
        .submit_withdrawal(&custody_gateway::providers::WithdrawalRequest {
            merchant_id: app.merchant_id,
            request_id: &request_id,
            chain_asset: &chain_asset,
            amount: "0.5".parse().unwrap(),
            to_address: ETH_TO,
            memo: None,
            callback_url: "",
            from_wallet: None,
        })
        .await;
    assert!(
        matches!(
            again,
            Err(custody_gateway::providers::ProviderError::Duplicate)
        ),
        "{again:?}"
    );
    assert_eq!(app.chainup().withdrawals().await[0]["requests"], 2);

    // Data that does not open with the registered key, and a foreign app_id: plaintext errors.
    let plain = |app_id: &str| {
        app.http
            .post(format!("{}/sim/chainup/api/mpc/coin_list", app.url))
            .form(&[("app_id", app_id), ("data", "bm90IGVuY3J5cHRlZA")])
            .send()
    };
    let body: Value = plain(CHAINUP_APP_ID).await.unwrap().json().await.unwrap();
    assert_eq!(body["code"], "100005");
    let body: Value = plain("someone-else").await.unwrap().json().await.unwrap();
    assert_eq!(body["code"], "100015");
}

#[tokio::test]
async fn a_withdrawal_whose_notifications_are_lost_is_reconciled_by_the_pollers() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&eth_withdrawal("w-5", "0.25")).await;
    let id = str_of(&created, "id").to_owned();
    let request_id = str_of(&created, "provider_request_id").to_owned();
    // The sync list shows the record once, while it awaits approval (status 1000).
    let first = poll(&app).await;
    assert_eq!((first.new_events, first.reconciled), (1, 0), "{first:?}");

    // ChainUp completes it, and its notification never arrives.
    app.chainup()
        .withdrawal_with(
            &request_id,
            Action::Complete,
            json!({ "txid": "0xfeed", "notify": false }),
        )
        .await;
    assert_eq!(withdrawal(&app, &id).await["state"], "submitted");
    let round = poll(&app).await;
    assert_eq!((round.new_events, round.reconciled), (0, 1), "{round:?}");
    let done = withdrawal(&app, &id).await;
    assert_eq!(done["state"], "completed");
    assert_eq!(done["tx_hash"], "0xfeed");
    // Finished withdrawals are not asked about again.
    assert_eq!(poll(&app).await.reconciled, 0);
}

/// The value of one sample line of the metrics text, 0 when absent.
fn sample(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_callbacks_polls_and_approvals_for_operators_only() {
    // Counters are process-wide and tests run side by side: this test's account is its own.
    let account = format!(
        "chainup-metrics-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let app = TestApp::spawn_with(TestOptions {
        chainup_account: account.clone(),
        ..TestOptions::default()
    })
    .await;
    let scrape = || async {
        let response = app
            .http
            .get(format!("{}/metrics", app.url))
            .bearer_auth(common::OPS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let callbacks = format!(r#"custody_callbacks_total{{account="{account}",result="processed"}}"#);
    let refusals =
        format!(r#"custody_approval_decisions_total{{account="{account}",decision="refused"}}"#);
    let before = scrape().await;
    assert_eq!(sample(&before, &callbacks), 0.0);

    let (status, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "kim", "chain": "ETH", "asset": "ETH", "provider": account }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.chainup()
        .deposit_with(str_of(&body, "address"), "1", json!({ "notify": true }))
        .await;
    cosign(&app, "nobody-asked", json!({ "stage": "sign_start" })).await;
    let after = scrape().await;
    assert_eq!(sample(&after, &callbacks), 1.0, "{after}");
    assert_eq!(sample(&after, &refusals), 1.0, "{after}");
    // Backlog gauges are read from this gateway's database at the scrape: the one deposit waits
    // for its confirmations, nothing else is pending.
    assert_eq!(
        sample(&after, "custody_deposits_awaiting_confirmation "),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "custody_withdrawals_unknown "),
        0.0,
        "{after}"
    );

    let (status, _) = app.get("/metrics").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a merchant key is not the ops token"
    );
}

#[tokio::test]
async fn operators_find_orders_by_any_identifier_and_force_a_reconcile() {
    let app = TestApp::spawn().await;
    let address = new_address(&app, "lena").await;
    let made = app
        .chainup()
        .deposit_with(&address, "0.4", json!({ "txid": "0xdeadbeef" }))
        .await;
    assert_eq!(made["records"][0]["txid"], "0xdeadbeef");
    let (status, polled) = app
        .post_as(
            common::OPS_TOKEN,
            &format!("/ops/accounts/{CHAINUP_ACCOUNT}/poll"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{polled}");
    assert_eq!(polled["report"]["new_events"], 1);

    let (_, found) = app.ops_get("/ops/orders?q=0xdeadbeef").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["data"][0]["kind"], "deposit");
    assert_eq!(found["data"][0]["order"]["amount"], "0.4");

    let (_, created) = app.withdraw(&eth_withdrawal("w-ops", "0.2")).await;
    let id = str_of(&created, "id").to_owned();
    let request_id = str_of(&created, "provider_request_id").to_owned();
    for term in ["w-ops", request_id.as_str()] {
        let (_, found) = app.ops_get(&format!("/ops/orders?q={term}")).await;
        assert_eq!(
            found["data"][0]["order"]["id"],
            id.as_str(),
            "{term}: {found}"
        );
    }
    let (status, _) = app.ops_get("/ops/orders?q=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // ChainUp rejects it and the notification is lost; an operator asks now.
    app.chainup()
        .withdrawal_with(&request_id, Action::Reject, json!({ "notify": false }))
        .await;
    let (status, answer) = app
        .post_as(
            common::OPS_TOKEN,
            &format!("/ops/withdrawals/{id}/reconcile"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["provider_status"], "2200");
    assert_eq!(answer["new_event"], true);
    assert_eq!(answer["withdrawal"]["state"], "rejected");
    let (_, again) = app
        .post_as(
            common::OPS_TOKEN,
            &format!("/ops/withdrawals/{id}/reconcile"),
            &json!({}),
        )
        .await;
    assert_eq!(again["new_event"], false);

    let (status, _) = app
        .post(&format!("/ops/withdrawals/{id}/reconcile"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
