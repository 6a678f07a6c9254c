//! Hostile bytes and odd requests: text PostgreSQL cannot store is refused at the edge (400
//! `invalid_input`, naming the field) or kept escaped, never answered "retry later"; stored callback
//! headers keep only what is known to be harmless; every error has the one JSON shape.

mod common;

use base64::Engine;
use common::{
    APPROVAL_TOKEN, CHAINUP_ACCOUNT, OPS_TOKEN, TestApp, UDUN_ACCOUNT, UDUN_API_KEY, form_field,
    str_of,
};
use custody_gateway::providers::udun::sign::udun_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn get_raw(app: &TestApp, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .get(format!("{}{path_and_query}", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_bytes(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(&app.api_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

fn assert_invalid_input(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(body["error"]["details"]["field"], field, "{body}");
}

#[tokio::test]
async fn nul_and_invalid_utf8_in_parameters_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let merchant = app.api_key.clone();
    for (path, field) in [
        ("/v1/addresses?user_id=a%00b", "user_id"),
        ("/v1/addresses?user_id=%FF", "user_id"),
        ("/v1/deposits?user_id=a%00", "user_id"),
        ("/v1/deposits?address=%00", "address"),
        ("/v1/deposits?state=%C3", "state"),
        ("/v1/withdrawals?client_order_id=x%00", "client_order_id"),
        ("/v1/events?type=%00", "type"),
    ] {
        let (status, body) = get_raw(&app, &merchant, path).await;
        assert_invalid_input(status, &body, field);
    }
    for (path, field) in [
        ("/ops/orders?q=%00", "q"),
        ("/ops/callbacks?account=%00", "account"),
        ("/ops/callbacks?outcome=%FE", "outcome"),
        ("/ops/events?outcome=%00", "outcome"),
        ("/ops/webhooks?state=%00", "state"),
    ] {
        let (status, body) = get_raw(&app, OPS_TOKEN, path).await;
        assert_invalid_input(status, &body, field);
    }
}

#[tokio::test]
async fn nul_and_invalid_utf8_in_json_bodies_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "/v1/addresses",
            r#"{"user_id":"a\u0000b","chain":"TRX","asset":"USDT"}"#,
            "user_id",
        ),
        (
            "/v1/withdrawals",
            r#"{"client_order_id":"o-1","chain":"TRX","asset":"USDT","amount":"1",
                "to_address":"TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF","memo":"\u0000"}"#,
            "memo",
        ),
    ];
    for (path, body, field) in cases {
        let (status, text, _) =
            post_bytes(&app, path, "application/json", body.as_bytes().to_vec()).await;
        assert_invalid_input(status, &serde_json::from_str(&text).unwrap(), field);
    }
    let mut not_utf8 = br#"{"user_id":"caf"#.to_vec();
    not_utf8.extend_from_slice(b"\xe9\",\"chain\":\"TRX\",\"asset\":\"USDT\"}");
    let (status, text, _) = post_bytes(&app, "/v1/addresses", "application/json", not_utf8).await;
    assert_invalid_input(status, &serde_json::from_str(&text).unwrap(), "body");
    let (status, body) = app
        .put("/v1/webhook", &json!({ "url": "http://127.0.0.1/\u{0}" }))
        .await;
    assert_invalid_input(status, &body, "url");

    assert_eq!(app.count("SELECT count(*) FROM addresses").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM withdrawals").await, 0);
    assert!(app.udun().withdrawals().await.is_empty());
}

/// A held Udun deposit callback for a new ETH address: `(form, trade JSON)`.
async fn held_trade(app: &TestApp, user: &str) -> (String, Value) {
    let address = str_of(&app.create_address(user, "ETH", "ETH").await, "address").to_owned();
    let sent = app
        .udun()
        .deposit_with(&address, "0.75", json!({ "hold": true }))
        .await;
    let form = str_of(&sent, "form").to_owned();
    let trade = serde_json::from_str(&form_field(&form, "body")).unwrap();
    (form, trade)
}

fn signed_form(form: &str, trade: &Value) -> String {
    let (nonce, timestamp) = (form_field(form, "nonce"), form_field(form, "timestamp"));
    let body = trade.to_string();
    form_urlencoded::Serializer::new(String::new())
        .append_pair("timestamp", &timestamp)
        .append_pair("nonce", &nonce)
        .append_pair("sign", &udun_sign(&body, UDUN_API_KEY, &nonce, &timestamp))
        .append_pair("body", &body)
        .finish()
}

async fn last_callback(app: &TestApp) -> Value {
    let (_, callbacks) = app
        .ops_get(&format!("/ops/callbacks?account={UDUN_ACCOUNT}&limit=1"))
        .await;
    callbacks["data"][0].clone()
}

#[tokio::test]
async fn callbacks_that_can_never_be_stored_are_refused_for_good_and_kept_as_bytes() {
    let app = TestApp::spawn().await;

    // Raw NUL and invalid UTF-8 bytes in the body: refused (not "retry later"), kept exactly.
    let raw = b"timestamp=1&nonce=2&sign=3&body=\x00\xff".to_vec();
    let response = app
        .http
        .post(format!("{}/callbacks/{UDUN_ACCOUNT}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.text().await.unwrap(), "error");
    let kept = last_callback(&app).await;
    assert_eq!(kept["outcome"], "rejected");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(str_of(&kept, "raw_body"))
            .unwrap(),
        raw
    );
    assert!(str_of(&kept, "body").contains("\\x00\\xff"));

    // Correctly signed trades whose fields hold U+0000.
    let (form, trade) = held_trade(&app, "nul").await;
    for field in ["tradeId", "address"] {
        let mut bad = trade.clone();
        bad[field] = json!(format!("{}\u{0}", trade[field].as_str().unwrap()));
        let (status, text) = app.deliver_form(&signed_form(&form, &bad)).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::BAD_REQUEST, "error"),
            "{field}"
        );
        let kept = last_callback(&app).await;
        assert_eq!(kept["outcome"], "rejected");
        assert_eq!(kept["verified"], true);
        assert!(str_of(&kept, "reject_reason").contains("NUL"), "{kept}");
    }
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM provider_events").await, 0);
    // The genuine callback still goes through.
    let (status, text) = app.deliver_form(&form).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
}

#[tokio::test]
async fn a_polled_record_with_unstorable_text_does_not_stop_its_feed() {
    let app = TestApp::spawn().await;
    let (_, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "pat", "chain": "ETH", "asset": "ETH", "provider": CHAINUP_ACCOUNT }),
        )
        .await;
    let address = str_of(&body, "address").to_owned();
    app.chainup()
        .deposit_with(&address, "0.1", json!({ "txid": "0xab\u{0}cd" }))
        .await;
    app.chainup().deposit(&address, "0.2").await;
    let provider = app.gateway.state.registry.get(CHAINUP_ACCOUNT).unwrap();
    let report =
        custody_gateway::workers::pollers::poll_account(&app.gateway.state, provider.as_ref())
            .await
            .expect("the round completes");
    assert_eq!(report.new_events, 2);
    let (_, invalid) = app.ops_get("/ops/events?outcome=invalid").await;
    assert_eq!(invalid["data"].as_array().unwrap().len(), 1, "{invalid}");
    let (_, list) = app.get("/v1/deposits?user_id=pat").await;
    let amounts: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["0.2"]);
}

#[tokio::test]
async fn an_approval_call_with_unstorable_text_is_refused_and_recorded() {
    let app = TestApp::spawn().await;
    let body = r#"{"type":"sign_start","transfer_id":4,"request_id":"r\u0000","amount":"1",
                   "to":"0x5edc9177997bf6b4db559a5c184051858b3b3704","symbol":"ETH"}"#;
    let response = app
        .http
        .post(format!(
            "{}/callbacks/{CHAINUP_ACCOUNT}/cosigner?token={APPROVAL_TOKEN}",
            app.url
        ))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::OK);
    assert_ne!(response.text().await.unwrap(), "SUCCESS");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'rejected'")
            .await,
        1
    );
}

#[tokio::test]
async fn stored_callback_headers_keep_only_harmless_values() {
    let app = TestApp::spawn().await;
    let (form, _) = held_trade(&app, "hdr").await;
    let response = app
        .http
        .post(format!("{}/callbacks/{UDUN_ACCOUNT}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", "udun-notifier/1.0")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-auth-token", "tok-secret-1")
        .header("x-custom-thing", "custom-secret-2")
        .header("cookie", "session=secret-3")
        .header("authorization", "Basic c2VjcmV0LTQ=")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = last_callback(&app).await["headers"].clone();
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(headers["user-agent"], "udun-notifier/1.0");
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9");
    assert!(headers["content-length"].is_string());
    for name in [
        "x-auth-token",
        "x-custom-thing",
        "cookie",
        "authorization",
        "host",
    ] {
        assert_eq!(headers[name], "[redacted]", "{name}: {headers}");
    }
    assert!(!headers.to_string().contains("secret"), "{headers}");
}

#[tokio::test]
async fn errors_made_outside_handlers_have_the_json_shape() {
    let app = TestApp::spawn().await;
    let big = vec![b'a'; 300 * 1024];
    let (status, text, _) =
        post_bytes(&app, "/v1/addresses", "application/json", big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{text}");
    let (status, text, _) = post_bytes(
        &app,
        &format!("/callbacks/{UDUN_ACCOUNT}"),
        "application/x-www-form-urlencoded",
        big,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["code"],
        "payload_too_large"
    );

    let response = app
        .http
        .delete(format!("{}/v1/addresses", app.url))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert!(body["error"]["message"].is_string());

    let (status, body) = app.get("/v1/no-such-route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn merchants_see_stable_provider_errors_and_ops_see_the_provider_text() {
    let app = TestApp::spawn().await;
    app.udun().fault_next_withdraw("error_500").await;
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": "e-1", "chain": "TRX", "asset": "USDT", "amount": "1",
            "to_address": common::TRON_ADDRESS,
        }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "unknown");
    assert_eq!(created["error"]["code"], "provider_unavailable");
    // Not the provider's words (`HTTP 500 … from /mch/…`); ids and times may hold any digits.
    let text = created.to_string();
    assert!(
        !created["error"].to_string().contains("500")
            && !text.contains("HTTP")
            && !text.contains("/mch/"),
        "{text}"
    );

    let (_, ops) = app
        .ops_get(&format!("/ops/orders/{}", str_of(&created, "id")))
        .await;
    let provider_error = str_of(&ops["order"]["provider_error"], "text");
    assert!(provider_error.contains("HTTP 500"), "{ops}");
}
