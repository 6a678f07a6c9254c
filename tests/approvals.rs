//! Withdrawal approvals (ChainUp Co-Signer) are heard only from a caller holding the account's
//! token, from an allowed network; a "signed" notice moves nothing until ChainUp's own API confirms.

mod common;

use common::{APPROVAL_TOKEN, CHAINUP_ACCOUNT, TestApp, TestOptions, str_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ETH_TO: &str = "0x5edc9177997bf6b4db559a5c184051858b3b3704";
const ATTACKER_HASH: &str = "0xattacker_chosen_hash";

/// A ChainUp withdrawal of `amount` ETH, submitted: `(id, request id)`.
async fn submitted(app: &TestApp, client_order_id: &str, amount: &str) -> (String, String) {
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": client_order_id, "chain": "ETH", "asset": "ETH", "amount": amount,
            "to_address": ETH_TO, "provider": CHAINUP_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    (
        str_of(&created, "id").to_owned(),
        str_of(&created, "provider_request_id").to_owned(),
    )
}

fn notice(stage: &str, request_id: &str, amount: &str) -> Value {
    let mut body = json!({
        "type": stage, "transfer_id": 4, "request_id": request_id, "amount": amount,
        "to": ETH_TO, "symbol": "ETH",
    });
    if stage == "sign_success" {
        body["txid"] = json!(ATTACKER_HASH);
    }
    body
}

/// Posts plaintext JSON to the approval endpoint, with `query` appended and `headers` added.
async fn call(
    app: &TestApp,
    query: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (StatusCode, String) {
    let mut request = app
        .http
        .post(format!(
            "{}/callbacks/{CHAINUP_ACCOUNT}/cosigner{query}",
            app.url
        ))
        .header("content-type", "application/json;charset=UTF-8")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn withdrawal(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    body
}

async fn outbox_rows(app: &TestApp, id: &str) -> i64 {
    app.count_for(
        "SELECT count(*) FROM webhook_outbox WHERE order_id = $1",
        id,
    )
    .await
}

/// A query string, extra headers and a body.
type Attempt<'a> = (&'a str, Vec<(&'a str, &'a str)>, Value);

#[tokio::test]
async fn calls_without_the_token_get_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, request_id) = submitted(&app, "a-1", "0.2").await;
    let notices_before = outbox_rows(&app, &id).await;

    let wrong_query = format!("?token={}x", APPROVAL_TOKEN);
    let wrong_bearer = format!("Bearer {}x", APPROVAL_TOKEN);
    let attempts: [Attempt; 6] = [
        ("", vec![], notice("sign_success", &request_id, "0.2")),
        ("", vec![], notice("sign_start", &request_id, "0.2")),
        ("", vec![], notice("sign_start", &request_id, "100")),
        (
            &wrong_query,
            vec![],
            notice("sign_start", &request_id, "0.2"),
        ),
        (
            "",
            vec![("authorization", wrong_bearer.as_str())],
            notice("sign_success", &request_id, "0.2"),
        ),
        ("?token=", vec![], notice("sign_start", &request_id, "100")),
    ];
    for (query, headers, body) in &attempts {
        let (status, answer) = call(&app, query, headers, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{query} {body}: {answer}");
        assert!(!answer.contains("SUCCESS"), "{answer}");
    }

    let after = withdrawal(&app, &id).await;
    assert_eq!(after["state"], "submitted");
    assert_eq!(after["tx_hash"], Value::Null);
    assert_eq!(after["needs_review"], false);
    assert_eq!(outbox_rows(&app, &id).await, notices_before, "no webhook");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE event_key LIKE 'approval:%'")
            .await,
        0
    );
    // Each refused call is kept for ops, with why, and without the token.
    let (_, refused) = app.ops_get("/ops/callbacks?outcome=rejected").await;
    let refused = refused["data"].as_array().unwrap();
    assert_eq!(refused.len(), attempts.len());
    for row in refused {
        let reason = str_of(row, "reject_reason");
        assert!(reason.contains("not authenticated"), "{reason}");
        assert!(!row.to_string().contains(APPROVAL_TOKEN), "{row}");
    }
}

#[tokio::test]
async fn the_token_is_accepted_in_the_query_or_as_a_bearer_header() {
    let app = TestApp::spawn().await;
    let (_, request_id) = submitted(&app, "a-2", "0.2").await;
    let body = notice("sign_start", &request_id, "0.2");

    let query = format!("?token={APPROVAL_TOKEN}");
    assert_eq!(
        call(&app, &query, &[], &body).await,
        (StatusCode::OK, "SUCCESS".to_owned())
    );
    let bearer = format!("Bearer {APPROVAL_TOKEN}");
    assert_eq!(
        call(&app, "", &[("authorization", &bearer)], &body).await,
        (StatusCode::OK, "SUCCESS".to_owned())
    );
    // The simulated Co-Signer knows only its callback URL, token included.
    let answer = app
        .chainup()
        .cosign(&request_id, json!({ "stage": "sign_start" }))
        .await;
    assert_eq!(answer["body"], "SUCCESS", "{answer}");

    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT headers::text || body || coalesce(reject_reason, '') FROM provider_callbacks",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|row| !row.contains(APPROVAL_TOKEN)));
}

#[tokio::test]
async fn a_signed_notice_moves_nothing_until_chainup_confirms_it() {
    let app = TestApp::spawn().await;

    // Co-Signer reports a hash other than the one ChainUp records: ChainUp's record wins, and the
    // withdrawal is put under review.
    let (id, request_id) = submitted(&app, "a-3", "0.2").await;
    let answer = app
        .chainup()
        .cosign(
            &request_id,
            json!({ "stage": "sign_success", "txid": ATTACKER_HASH }),
        )
        .await;
    assert_eq!(answer["body"], "SUCCESS", "{answer}");
    let listed = app.chainup().withdrawals().await;
    let chainup_hash = str_of(&listed[0]["record"], "txid").to_owned();
    assert_ne!(chainup_hash, ATTACKER_HASH);
    let after = withdrawal(&app, &id).await;
    assert_eq!(after["state"], "broadcast");
    assert_eq!(after["tx_hash"], chainup_hash.as_str());
    assert_eq!(after["needs_review"], true);

    // The notice as ChainUp records it: broadcast with that hash, nothing to review.
    let (id, request_id) = submitted(&app, "a-4", "0.3").await;
    app.chainup()
        .cosign(&request_id, json!({ "stage": "sign_success" }))
        .await;
    let after = withdrawal(&app, &id).await;
    assert_eq!(after["state"], "broadcast");
    assert_eq!(after["needs_review"], false);
    assert!(after["tx_hash"].as_str().unwrap().starts_with("0x"));
    let history: Vec<&str> = after["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to_state"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["accepted", "submitted", "broadcast"]);
}

#[tokio::test]
async fn a_signed_notice_for_a_withdrawal_chainup_does_not_list_is_flagged() {
    let app = TestApp::spawn().await;
    // ChainUp fails before recording it, so it never heard of this request id.
    app.chainup()
        .faults(json!({ "withdraw": ["error_500"] }))
        .await;
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": "a-5", "chain": "ETH", "asset": "ETH", "amount": "0.2",
            "to_address": ETH_TO, "provider": CHAINUP_ACCOUNT,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = str_of(&created, "id");
    let request_id = str_of(&created, "provider_request_id");
    let before = withdrawal(&app, id).await["state"].clone();

    let query = format!("?token={APPROVAL_TOKEN}");
    let (status, _) = call(
        &app,
        &query,
        &[],
        &notice("sign_success", request_id, "0.2"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let after = withdrawal(&app, id).await;
    assert_eq!(after["state"], before);
    assert_eq!(after["tx_hash"], Value::Null);
    assert_eq!(after["needs_review"], true);
}

#[tokio::test]
async fn approval_calls_are_heard_only_from_allowed_networks() {
    let app = TestApp::spawn_with(TestOptions {
        approval_allow_from: vec!["10.0.0.0/8"],
        ..TestOptions::default()
    })
    .await;
    let (_, request_id) = submitted(&app, "a-6", "0.2").await;
    // The right token from 127.0.0.1, outside the allowed network.
    let answer = app
        .chainup()
        .cosign(&request_id, json!({ "stage": "sign_start" }))
        .await;
    assert_eq!(answer["status"], 401, "{answer}");
    // A forwarded-for header from a peer that is not a trusted proxy counts for nothing.
    let query = format!("?token={APPROVAL_TOKEN}");
    let body = notice("sign_start", &request_id, "0.2");
    let (status, _) = call(&app, &query, &[("x-forwarded-for", "10.1.2.3")], &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let behind_proxy = TestApp::spawn_with(TestOptions {
        approval_allow_from: vec!["10.0.0.0/8"],
        trusted_proxies: vec!["127.0.0.1/32"],
        ..TestOptions::default()
    })
    .await;
    let (_, request_id) = submitted(&behind_proxy, "a-7", "0.2").await;
    let body = notice("sign_start", &request_id, "0.2");
    let (status, answer) = call(
        &behind_proxy,
        &query,
        &[("x-forwarded-for", "10.1.2.3")],
        &body,
    )
    .await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, "SUCCESS"));
    let (status, _) = call(
        &behind_proxy,
        &query,
        &[("x-forwarded-for", "192.168.7.7")],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&behind_proxy, "", &[("x-forwarded-for", "10.1.2.3")], &body).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the network alone is not enough"
    );
}

#[tokio::test]
async fn an_account_taking_approvals_without_a_token_does_not_start() {
    let options = TestOptions {
        approval_token: None,
        ..TestOptions::default()
    };
    let settings = common::settings("cg_never_created", "http://127.0.0.1:9", &options);
    let err = custody_gateway::start(settings)
        .await
        .err()
        .expect("refuses to start")
        .to_string();
    assert!(err.contains("token_env"), "{err}");
    assert!(err.contains(CHAINUP_ACCOUNT), "{err}");
}

#[tokio::test]
async fn in_simulator_mode_an_account_without_a_token_refuses_every_approval_call() {
    let app = TestApp::spawn_with(TestOptions {
        approval_token: None,
        ..TestOptions::default()
    })
    .await;
    let (id, request_id) = submitted(&app, "a-8", "0.2").await;
    let answer = app
        .chainup()
        .cosign(&request_id, json!({ "stage": "sign_success" }))
        .await;
    assert_eq!(answer["status"], 401, "{answer}");
    assert_eq!(withdrawal(&app, &id).await["state"], "submitted");
}

#[tokio::test]
async fn co_signer_is_heard_at_approvals_and_at_the_older_cosigner_path() {
    let app = TestApp::spawn().await;
    let (_, request_id) = submitted(&app, "a-9", "0.2").await;
    let body = notice("sign_start", &request_id, "0.2");
    for path in ["approvals", "cosigner"] {
        let response = app
            .http
            .post(format!(
                "{}/callbacks/{CHAINUP_ACCOUNT}/{path}?token={APPROVAL_TOKEN}",
                app.url
            ))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.text().await.unwrap(), "SUCCESS", "{path}");
    }
    // A Co-Signer call is plaintext: on the notification address, where no token is asked, it is
    // never taken for an approval.
    let response = app
        .http
        .post(format!("{}/callbacks/{CHAINUP_ACCOUNT}", app.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.text().await.unwrap(), "FAILURE");
}
