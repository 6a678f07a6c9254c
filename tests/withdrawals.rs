mod common;

use common::sims::Action;
use common::{TRON_ADDRESS, TestApp, TestOptions, str_of};
use custody_gateway::workers::resubmit::resubmit_due;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn usdt_withdrawal(client_order_id: &str, amount: &str) -> Value {
    json!({
        "client_order_id": client_order_id, "chain": "TRX", "asset": "USDT",
        "amount": amount, "to_address": TRON_ADDRESS,
    })
}

async fn states_of(app: &TestApp, id: &str) -> Vec<String> {
    let (_, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to_state"].as_str().unwrap().to_owned())
        .collect()
}

async fn notices(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM webhook_outbox ORDER BY sequence")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_withdrawal_is_submitted_approved_and_completed() {
    let app = TestApp::spawn().await;
    let (status, created) = app.withdraw(&usdt_withdrawal("order-1", "25.5")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "submitted");
    assert_eq!(created["amount"], "25.5");
    let id = str_of(&created, "id").to_owned();
    let business_id = str_of(&created, "provider_request_id").to_owned();
    assert_eq!(
        business_id,
        id.replace('-', ""),
        "businessId is derived from our id"
    );

    // The simulator received exactly what we asked for, in whole units, with our businessId.
    let seen = app.udun().withdrawals().await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["business_id"], business_id.as_str());
    assert_eq!(seen[0]["amount"], "25.5");
    assert_eq!(seen[0]["address"], TRON_ADDRESS);
    assert_eq!(seen[0]["coin_type"], common::USDT_TRC20);
    assert_eq!(seen[0]["main_coin_type"], "195");
    assert_eq!(seen[0]["proxypay"], false);

    let approved = app.udun().withdrawal(&business_id, Action::Approve).await;
    assert_eq!(approved["response"], "success");
    let completed = app
        .udun()
        .withdrawal_with(
            &business_id,
            Action::Complete,
            json!({ "tx_id": "abc123", "fee_units": "1500000" }),
        )
        .await;
    assert_eq!(completed["response"], "success");
    // Udun reports the amount in smallest units: 25.5 USDT with 6 decimals.
    assert!(str_of(&completed, "body").contains(r#""amount":"25500000""#));

    let (status, done) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["state"], "completed");
    assert_eq!(done["tx_hash"], "abc123");
    assert_eq!(done["fee"], "1.5");
    assert_eq!(
        states_of(&app, &id).await,
        ["accepted", "submitted", "approved", "completed"]
    );
    // Read with the withdrawal in one query, the history is the ops view's, field for field.
    let (_, detail) = app.ops_get(&format!("/ops/orders/{id}")).await;
    assert_eq!(done["history"], detail["history"], "{detail}");
    // The provider's reports that moved it (Udun status 1, approved; 3, paid), newest first.
    let events: Vec<(&str, &str)> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|event| assert_eq!(event["order_id"], id.as_str(), "{event}"))
        .map(|event| (str_of(event, "provider_status"), str_of(event, "outcome")))
        .collect();
    assert_eq!(events, [("3", "applied"), ("1", "applied")], "{detail}");
    assert!(done["history"][0]["created_at"].is_string(), "{done}");
    assert_eq!(
        notices(&app).await,
        [
            "withdrawal.submitted",
            "withdrawal.approved",
            "withdrawal.completed"
        ]
    );

    let (status, by_client_id) = app.get("/v1/withdrawals?client_order_id=order-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_client_id["id"], id.as_str());
}

#[tokio::test]
async fn proxy_pay_accounts_use_the_proxypay_endpoint() {
    let app = TestApp::spawn_with(TestOptions {
        withdraw_mode: "proxypay",
        ..TestOptions::default()
    })
    .await;
    let (status, created) = app.withdraw(&usdt_withdrawal("proxy-1", "1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(app.udun().withdrawals().await[0]["proxypay"], true);
}

#[tokio::test]
async fn a_rejected_withdrawal_ends_rejected() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-2", "3")).await;
    let business_id = str_of(&created, "provider_request_id");
    app.udun().withdrawal(business_id, Action::Reject).await;
    let (_, body) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(body["state"], "rejected");
    assert_eq!(
        notices(&app).await,
        ["withdrawal.submitted", "withdrawal.rejected"]
    );
}

#[tokio::test]
async fn the_same_request_again_returns_the_same_withdrawal_without_a_second_provider_call() {
    let app = TestApp::spawn().await;
    let request = usdt_withdrawal("order-3", "10.000");
    let (status, first) = app.withdraw(&request).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, again) = app.withdraw(&usdt_withdrawal("order-3", "10")).await;
    assert_eq!(status, StatusCode::OK, "10 and 10.000 are the same amount");
    assert_eq!(again["id"], first["id"]);

    let answers = futures::future::join_all((0..10).map(|_| app.withdraw(&request))).await;
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["id"], first["id"]);
    }
    let seen = app.udun().withdrawals().await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["requests"], 1, "the provider was called once");
    assert_eq!(app.count("SELECT count(*) FROM withdrawals").await, 1);
}

#[tokio::test]
async fn concurrent_first_requests_create_one_withdrawal() {
    let app = TestApp::spawn().await;
    let request = usdt_withdrawal("race-1", "7");
    let answers = futures::future::join_all((0..12).map(|_| app.withdraw(&request))).await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(created, 1);
    let ids: std::collections::HashSet<String> =
        answers.iter().map(|(_, b)| b["id"].to_string()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.udun().withdrawals().await[0]["requests"], 1);
}

#[tokio::test]
async fn the_same_client_order_id_with_a_different_body_is_409() {
    let app = TestApp::spawn().await;
    app.withdraw(&usdt_withdrawal("order-4", "10")).await;
    let (status, body) = app.withdraw(&usdt_withdrawal("order-4", "11")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "idempotency_conflict");
    assert_eq!(body["error"]["details"]["differs"], json!(["amount"]));
    let mut other_address = usdt_withdrawal("order-4", "10");
    other_address["to_address"] = json!("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
    let (status, _) = app.withdraw(&other_address).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.udun().withdrawals().await.len(), 1);
}

#[tokio::test]
async fn bad_amounts_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let cases: [(Value, &str); 7] = [
        (json!("1.1234567"), "amount_precision"),
        (json!("0"), "amount_not_positive"),
        (json!("0.000000"), "amount_not_positive"),
        (json!("-5"), "amount_invalid"),
        (json!("ten"), "amount_invalid"),
        (json!("1e3"), "amount_invalid"),
        (json!(12.5), "amount_invalid"),
    ];
    for (amount, code) in cases {
        let mut request = usdt_withdrawal("bad", "1");
        request["amount"] = amount.clone();
        let (status, body) = app.withdraw(&request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}: {body}");
        assert_eq!(body["error"]["code"], code, "{amount}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, body) = app
        .withdraw(&json!({ "client_order_id": "bad", "chain": "TRX", "asset": "USDT", "to_address": TRON_ADDRESS }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_body");
    let mut spaced = usdt_withdrawal("has space", "1");
    spaced["client_order_id"] = json!("has space");
    assert_eq!(app.withdraw(&spaced).await.0, StatusCode::BAD_REQUEST);

    assert_eq!(app.count("SELECT count(*) FROM withdrawals").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM order_transitions").await, 0);
    assert!(app.udun().withdrawals().await.is_empty());
}

#[tokio::test]
async fn a_provider_refusal_rejects_the_withdrawal_with_its_reason() {
    let app = TestApp::spawn().await;
    let mut request = usdt_withdrawal("order-5", "1");
    request["to_address"] = json!("0x5edc9177997bf6b4db559a5c184051858b3b3704");
    let (status, body) = app.withdraw(&request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "provider_refused");
    let withdrawal = &body["error"]["details"]["withdrawal"];
    assert_eq!(withdrawal["state"], "rejected");
    // A stable code and message for the merchant; Udun's own code beside it, its text for ops.
    assert_eq!(withdrawal["error"]["code"], "provider_refused");
    assert_eq!(withdrawal["error"]["provider_code"], "4183");
    assert_eq!(
        withdrawal["error"]["message"],
        "the provider refused the withdrawal"
    );
    // Asking again answers with the stored, rejected withdrawal.
    let (status, again) = app.withdraw(&request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["state"], "rejected");
    assert_eq!(notices(&app).await, ["withdrawal.rejected"]);
}

#[tokio::test]
async fn a_late_approval_after_completion_is_recorded_not_applied() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-6", "2")).await;
    let business_id = str_of(&created, "provider_request_id").to_owned();
    app.udun()
        .withdrawal_with(&business_id, Action::Complete, json!({ "tx_id": "tx-6" }))
        .await;
    let late = app.udun().withdrawal(&business_id, Action::Approve).await;
    assert_eq!(late["response"], "success");

    let (_, body) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(body["state"], "completed");
    assert_eq!(body["tx_hash"], "tx-6");
    assert_eq!(
        states_of(&app, str_of(&created, "id")).await,
        ["accepted", "submitted", "completed"]
    );
    let (outcome, status): (String, String) = sqlx::query_as(
        "SELECT outcome, provider_status FROM provider_events ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((outcome.as_str(), status.as_str()), ("stale", "1"));
}

#[tokio::test]
async fn a_callback_that_differs_from_our_withdrawal_is_flagged_not_applied() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-7", "2")).await;
    let business_id = str_of(&created, "provider_request_id").to_owned();
    let id = str_of(&created, "id").to_owned();

    app.udun()
        .withdrawal_with(
            &business_id,
            Action::Complete,
            json!({ "amount_units": "20000000" }),
        )
        .await;
    let (_, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(body["state"], "submitted");
    assert_eq!(body["needs_review"], true);

    app.udun()
        .withdrawal_with(
            &business_id,
            Action::Complete,
            json!({ "address": "TXYZ1aWkjDue6j8reeeMqG7hdJ5tRytyAF" }),
        )
        .await;
    let (_, body) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(body["state"], "submitted");

    let (status, attention) = app.ops_get("/ops/withdrawals/attention").await;
    assert_eq!(status, StatusCode::OK);
    let flagged = &attention["data"][0];
    assert_eq!(flagged["withdrawal"]["id"], id.as_str());
    assert!(
        flagged["review_reason"]
            .as_str()
            .unwrap()
            .contains("amount")
    );
    assert_eq!(notices(&app).await, ["withdrawal.submitted"]);
}

#[tokio::test]
async fn a_callback_for_a_withdrawal_we_did_not_make_is_an_orphan() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-8", "2")).await;
    // Rewrite the businessId of a genuine callback and sign it again with the account's key.
    let held = app
        .udun()
        .withdrawal_with(
            str_of(&created, "provider_request_id"),
            Action::Approve,
            json!({ "hold": true }),
        )
        .await;
    let body =
        str_of(&held, "body").replace(str_of(&created, "provider_request_id"), "someone-else");
    let form = custody_gateway::sim::udun::signed_callback_form(&body, common::UDUN_API_KEY);
    let (status, text) = app.deliver_form(&form).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE outcome = 'orphan'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_unknown_submission_outcome_is_resolved_without_a_second_withdrawal() {
    let app = TestApp::spawn().await;
    app.udun().fault_next_withdraw("accept_then_500").await;
    let (status, created) = app.withdraw(&usdt_withdrawal("order-9", "4")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "unknown");
    assert_eq!(notices(&app).await, ["withdrawal.unknown"]);

    // Sending again uses the same businessId; Udun answers 4288 and the withdrawal is submitted.
    let sent_again = resubmit_due(&app.gateway.state, 0).await.unwrap();
    assert_eq!(sent_again, 1);
    let (_, body) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(body["state"], "submitted");
    let seen = app.udun().withdrawals().await;
    assert_eq!(seen.len(), 1, "one withdrawal at the provider");
    assert_eq!(seen[0]["requests"], 2);
}

#[tokio::test]
async fn a_provider_timeout_leaves_the_withdrawal_unknown() {
    let app = TestApp::spawn_with(TestOptions {
        provider_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;
    app.udun().stall_next_withdraw(3000).await;
    let (status, created) = app.withdraw(&usdt_withdrawal("order-10", "4")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(created["state"], "unknown");
    assert_eq!(created["error"]["code"], "provider_timeout");
    // A callback from the provider resolves it.
    app.udun()
        .withdrawal(str_of(&created, "provider_request_id"), Action::Approve)
        .await;
    let (_, body) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(body["state"], "approved");
}

#[tokio::test]
async fn a_provider_error_before_acting_is_retried_to_submission() {
    let app = TestApp::spawn().await;
    app.udun().fault_next_withdraw("error_500").await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-11", "4")).await;
    assert_eq!(created["state"], "unknown");
    assert!(app.udun().withdrawals().await.is_empty());
    resubmit_due(&app.gateway.state, 0).await.unwrap();
    let (_, body) = app
        .get(&format!("/v1/withdrawals/{}", str_of(&created, "id")))
        .await;
    assert_eq!(body["state"], "submitted");
    assert_eq!(app.udun().withdrawals().await[0]["requests"], 1);
}

#[tokio::test]
async fn another_merchant_cannot_read_a_withdrawal() {
    let app = TestApp::spawn().await;
    let (_, created) = app.withdraw(&usdt_withdrawal("order-12", "1")).await;
    let other = app.other_merchant_key().await;
    let (status, _) = app
        .get_as(
            &other,
            &format!("/v1/withdrawals/{}", str_of(&created, "id")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get_as(&other, "/v1/withdrawals?client_order_id=order-12")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/v1/withdrawals/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same client order id is free for another merchant.
    let (status, _) = app
        .post_as(&other, "/v1/withdrawals", &usdt_withdrawal("order-12", "1"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn withdrawals_are_listed_newest_first_by_state_and_cursor() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let (_, created) = app
            .withdraw(&usdt_withdrawal(&format!("list-{n}"), "1"))
            .await;
        ids.push(str_of(&created, "id").to_owned());
    }
    let (_, rejected) = app.withdraw(&usdt_withdrawal("list-r", "1")).await;
    app.udun()
        .withdrawal(str_of(&rejected, "provider_request_id"), Action::Reject)
        .await;

    let (status, first) = app.get("/v1/withdrawals?state=submitted&limit=3").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let listed: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [&ids[4], &ids[3], &ids[2]]);
    let (_, rest) = app
        .get(&format!(
            "/v1/withdrawals?state=submitted&limit=3&cursor={}",
            str_of(&first, "next_cursor")
        ))
        .await;
    let listed: Vec<&str> = rest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [&ids[1], &ids[0]]);
    assert!(rest["next_cursor"].is_null());

    let (_, only_rejected) = app.get("/v1/withdrawals?state=rejected").await;
    assert_eq!(only_rejected["data"].as_array().unwrap().len(), 1);
    assert_eq!(only_rejected["data"][0]["client_order_id"], "list-r");
    let (status, bad) = app.get("/v1/withdrawals?state=paid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["code"], "invalid_query");
    let (status, _) = app.get("/v1/withdrawals?cursor=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let other = app.other_merchant_key().await;
    let (_, theirs) = app.get_as(&other, "/v1/withdrawals").await;
    assert!(theirs["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_slow_provider_sees_one_request_at_a_time_and_the_merchant_an_answer_in_seconds() {
    let app = TestApp::spawn_with(TestOptions {
        provider_timeout_secs: 40,
        submit_wait_ms: 2_000,
        ..TestOptions::default()
    })
    .await;
    app.udun().stall_next_withdraw(25_000).await;
    let started = std::time::Instant::now();
    let (status, created) = app.withdraw(&usdt_withdrawal("order-slow", "3")).await;
    let answered_after = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "accepted");
    assert!(
        answered_after < std::time::Duration::from_secs(20),
        "answered after {answered_after:?}, not after the provider's 25 s"
    );
    let id = str_of(&created, "id").to_owned();
    let request_id = str_of(&created, "provider_request_id").to_owned();

    // While the provider holds its reply, the resubmission worker (of this or any instance) keeps
    // finding the withdrawal leased, and never sends it a second time.
    let deadline = started + std::time::Duration::from_secs(45);
    loop {
        assert_eq!(resubmit_due(&app.gateway.state, 0).await.unwrap(), 0);
        let seen = app.udun().withdrawals().await;
        assert!(seen.len() <= 1);
        if let Some(at_udun) = seen.first() {
            assert_eq!(at_udun["requests"], 1, "one request in all");
            assert_eq!(at_udun["max_in_flight"], 1, "never two at once");
            assert_eq!(at_udun["business_id"], request_id.as_str());
        }
        let (_, now) = app.get(&format!("/v1/withdrawals/{id}")).await;
        if now["state"] == "submitted" {
            assert_eq!(now["provider_request_id"], request_id.as_str());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            now["state"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(24));
    // The lease ended with the outcome: the withdrawal is no longer held.
    let leased: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT send_lease_until FROM withdrawals WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(leased, None);
}
