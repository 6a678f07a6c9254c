mod common;

use common::{TestApp, UDUN_API_KEY, form_field, replace_form_field, str_of};
use custody_gateway::providers::udun::sign::udun_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A valid deposit callback form, built and signed by the simulator but not sent.
async fn held_deposit(app: &TestApp) -> String {
    let address = str_of(&app.create_address("alice", "BTC", "BTC").await, "address").to_owned();
    let sent = app
        .udun()
        .deposit_with(&address, "0.75", json!({ "hold": true }))
        .await;
    str_of(&sent, "form").to_owned()
}

async fn assert_refused_and_kept(
    app: &TestApp,
    form: &str,
    reason_part: &str,
    signature_good: bool,
) {
    let (status, text) = app.deliver_form(form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, "error", "Udun's failure answer");
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM provider_events").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM webhook_outbox").await, 0);
    let (reason, body, verified): (String, String, bool) = sqlx::query_as(
        "SELECT reject_reason, body, verified FROM provider_callbacks WHERE outcome = 'rejected'
         ORDER BY received_at DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        reason.contains(reason_part),
        "reason {reason:?} should mention {reason_part:?}"
    );
    assert_eq!(body, form, "the raw callback is kept as received");
    assert_eq!(verified, signature_good);
}

#[tokio::test]
async fn a_wrong_signature_is_refused_and_kept() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    let bad = replace_form_field(&form, "sign", Some("0123456789abcdef0123456789abcdef"));
    assert_refused_and_kept(&app, &bad, "signature", false).await;

    // Signed with another key: a forger who knows the format but not the key.
    let body = form_field(&form, "body");
    let (nonce, timestamp) = (form_field(&form, "nonce"), form_field(&form, "timestamp"));
    let forged = replace_form_field(
        &form,
        "sign",
        Some(&udun_sign(&body, "guessed-key", &nonce, &timestamp)),
    );
    assert_refused_and_kept(&app, &forged, "signature", false).await;

    // The untouched callback still goes through afterwards.
    let (status, text) = app.deliver_form(&form).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 1);
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    let body =
        form_field(&form, "body").replace(r#""amount":"75000000""#, r#""amount":"750000000""#);
    assert!(body.contains("750000000"));
    let tampered = replace_form_field(&form, "body", Some(&body));
    assert_refused_and_kept(&app, &tampered, "signature", false).await;

    // Re-serializing the same JSON differently also breaks the signature: we verify raw text.
    let reordered: Value = serde_json::from_str(&form_field(&form, "body")).unwrap();
    let pretty = serde_json::to_string_pretty(&reordered).unwrap();
    assert_refused_and_kept(
        &app,
        &replace_form_field(&form, "body", Some(&pretty)),
        "signature",
        false,
    )
    .await;
}

#[tokio::test]
async fn a_missing_field_is_refused() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    for field in ["nonce", "timestamp", "sign", "body"] {
        let missing = replace_form_field(&form, field, None);
        assert_refused_and_kept(&app, &missing, field, false).await;
    }
}

#[tokio::test]
async fn malformed_json_inside_a_correctly_signed_body_is_refused() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    let (nonce, timestamp) = (form_field(&form, "nonce"), form_field(&form, "timestamp"));
    for body in [
        r#"{"address":"1abc","amount":"#,
        "not json",
        r#"{"tradeId":"1"}"#,
    ] {
        let signed = replace_form_field(
            &replace_form_field(&form, "body", Some(body)),
            "sign",
            Some(&udun_sign(body, UDUN_API_KEY, &nonce, &timestamp)),
        );
        assert_refused_and_kept(&app, &signed, "body", true).await;
    }
}

#[tokio::test]
async fn a_json_callback_with_numeric_seconds_and_nonce_is_accepted() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    let body = form_field(&form, "body");
    let sign = udun_sign(&body, UDUN_API_KEY, "100000", "1535005047");
    let json_callback = format!(
        r#"{{"timestamp":1535005047,"nonce":100000,"sign":"{sign}","body":{}}}"#,
        serde_json::to_string(&body).unwrap()
    );
    let (status, text) = app.deliver("application/json", json_callback).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    let (_, list) = app.get("/v1/deposits?user_id=alice").await;
    assert_eq!(list["data"][0]["amount"], "0.75");
}

#[tokio::test]
async fn callbacks_for_an_unknown_account_are_404() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(format!("{}/callbacks/nobody", app.url))
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ops_sees_callbacks_with_their_verification_result() {
    let app = TestApp::spawn().await;
    let form = held_deposit(&app).await;
    app.deliver_form(&replace_form_field(&form, "sign", Some("00")))
        .await;
    app.deliver_form(&form).await;
    let (status, callbacks) = app.ops_get("/ops/callbacks?account=udun-main").await;
    assert_eq!(status, StatusCode::OK);
    let outcomes: Vec<&str> = callbacks["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["processed", "rejected"]);
}

#[tokio::test]
async fn ops_lists_every_accounts_callbacks_newest_first() {
    let app = TestApp::spawn().await;
    // (account, seconds ago), one callback each, as the ingress stores them.
    let received = [
        (common::UDUN_ACCOUNT, 4),
        (common::CHAINUP_ACCOUNT, 3),
        (common::UDUN_ACCOUNT, 2),
        (common::CHAINUP_ACCOUNT, 1),
    ];
    let mut ids = Vec::new();
    for (account, ago) in received {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO provider_callbacks (id, account_id, headers, body, verified, outcome,
                                             event_count, received_at)
             VALUES ($1, $2, '{}', '', true, 'processed', 1, now() - make_interval(secs => $3))",
        )
        .bind(id)
        .bind(account)
        .bind(f64::from(ago))
        .execute(&app.pool)
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    let listed = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.ops_get("/ops/callbacks?limit=3").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(listed(&all), [&ids[3], &ids[2], &ids[1]].map(String::clone));
    let (_, udun) = app.ops_get("/ops/callbacks?account=udun-main").await;
    assert_eq!(listed(&udun), [&ids[2], &ids[0]].map(String::clone));
}
