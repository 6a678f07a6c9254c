//! The Udun simulator holds requests to Udun's rules, so tests that pass against it mean something.

mod common;

use common::{TestApp, UDUN_API_KEY, UDUN_MERCHANT_ID};
use custody_gateway::providers::udun::sign::udun_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn call(app: &TestApp, path: &str, envelope: Value) -> Value {
    let response = app
        .http
        .post(format!("{}/sim/udun{path}", app.sim_url))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn signed(body: &str, key: &str) -> Value {
    json!({
        "timestamp": "1535005047000", "nonce": "abc123",
        "sign": udun_sign(body, key, "abc123", "1535005047000"), "body": body,
    })
}

fn withdraw_body(business_id: &str, amount: &str, address: &str) -> String {
    json!([{
        "address": address, "amount": amount, "merchantId": UDUN_MERCHANT_ID, "mainCoinType": "195",
        "coinType": "195", "callUrl": "http://127.0.0.1:9/cb", "businessId": business_id,
    }])
    .to_string()
}

#[tokio::test]
async fn signatures_parameters_and_duplicates_get_udun_error_codes() {
    let app = TestApp::spawn().await;
    let body = withdraw_body("b-1", "1.5", common::TRON_ADDRESS);

    let wrong = call(&app, "/mch/withdraw", signed(&body, "not-the-key")).await;
    assert_eq!(wrong["code"], "4163");
    let mut abnormal = signed(&body, UDUN_API_KEY);
    abnormal["sign"] = json!("xyz");
    assert_eq!(call(&app, "/mch/withdraw", abnormal).await["code"], "4162");
    let not_json = call(&app, "/mch/withdraw", signed("[{", UDUN_API_KEY)).await;
    assert_eq!(not_json["code"], "4005");

    let first = call(&app, "/mch/withdraw", signed(&body, UDUN_API_KEY)).await;
    assert_eq!(first["code"], "200");
    let repeat = call(&app, "/mch/withdraw", signed(&body, UDUN_API_KEY)).await;
    assert_eq!(repeat["code"], "4288", "a repeated businessId");

    let too_precise = withdraw_body("b-2", "1.1234567", common::TRON_ADDRESS);
    assert_eq!(
        call(&app, "/mch/withdraw", signed(&too_precise, UDUN_API_KEY)).await["code"],
        "581"
    );
    let bad_address = withdraw_body("b-3", "1", "0x5edc9177997bf6b4db559a5c184051858b3b3704");
    assert_eq!(
        call(&app, "/mch/withdraw", signed(&bad_address, UDUN_API_KEY)).await["code"],
        "4183"
    );
}

#[tokio::test]
async fn address_creation_accepts_the_reference_body_shape() {
    let app = TestApp::spawn().await;
    let body = json!([{ "merchantId": UDUN_MERCHANT_ID, "coinType": 60, "callUrl": "http://localhost:8080/callBack" }])
        .to_string();
    let created = call(&app, "/mch/address/create", signed(&body, UDUN_API_KEY)).await;
    assert_eq!(created["code"], "200");
    assert_eq!(created["data"]["coinType"], 60);
    assert!(
        created["data"]["address"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );
    let unknown_coin =
        json!([{ "merchantId": UDUN_MERCHANT_ID, "coinType": 99999, "callUrl": "x" }]).to_string();
    assert_eq!(
        call(
            &app,
            "/mch/address/create",
            signed(&unknown_coin, UDUN_API_KEY)
        )
        .await["code"],
        "4045"
    );
}

#[tokio::test]
async fn ops_compares_the_provider_coin_list_with_the_asset_mapping() {
    let app = TestApp::spawn().await;
    let (status, coins) = app.ops_get("/ops/accounts/udun-main/assets").await;
    assert_eq!(status, StatusCode::OK, "{coins}");
    let coins = coins["data"].as_array().unwrap();
    let usdt_trc20 = coins
        .iter()
        .find(|c| c["provider_ids"]["coinType"] == common::USDT_TRC20)
        .expect("USDT on Tron is listed");
    assert_eq!(usdt_trc20["decimals"], 6);
    assert_eq!(
        usdt_trc20["mapped_to"],
        json!({ "chain": "TRX", "asset": "USDT" })
    );
    let unmapped = coins.iter().find(|c| c["symbol"] == "EOS").unwrap();
    assert!(unmapped["mapped_to"].is_null());
}
