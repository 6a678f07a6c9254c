//! The simulator over real HTTP on 127.0.0.1: request authentication (seed 003 §0.1–0.3), address
//! creation (§1), withdrawals from collection wallets with their refusals and repeats (§2),
//! pooling (§6), the coin list (§5), and notifications sent again until `SUCCESS` (§8.5).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{SIMULATOR, parse_amount, to_units};
use crate::config::Settings;
use crate::providers::ubao::sign::{encode_body, ubao_sign, verify_ubao_sign};

const KEY: &str = "test-ubao-key";
const MERCHANT: i64 = 2000213;

fn settings() -> Settings {
    Settings::from_toml(&format!(
        r#"
[server]
bind = "127.0.0.1:0"
[database]
url = "postgres://unused"
[sim]
enabled = true
[[providers]]
id = "ubao-test"
kind = "ubao"
base_url = "sim"
[providers.ubao]
merchant_id = {MERCHANT}
api_key = "{KEY}"
sim_callback_schedule_ms = [0, 50, 100]
[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
coin_id = 1003
chain_type = 160
[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
coin_id = 1004
chain_type = 160
contract = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
[[providers.assets]]
chain = "BSC"
asset = "USDT"
decimals = 18
coin_id = 1002
chain_type = 170
contract = "0x55d398326f99059ff775485246999027b3197955"
"#
    ))
    .unwrap()
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// How a request is signed and sent, for the refusal cases.
struct Envelope<'a> {
    merchant_id: i64,
    key: &'a str,
    skew: i64,
}

const GOOD: Envelope<'static> = Envelope {
    merchant_id: MERCHANT,
    key: KEY,
    skew: 0,
};

struct Sim {
    base: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Sim {
        let router = (SIMULATOR.router)(&settings(), None)
            .expect("a UBAO account")
            .unwrap();
        let host = serve(Router::new().nest(SIMULATOR.mount, router)).await;
        Sim {
            base: format!("{host}{}", SIMULATOR.mount),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// A form request to `/mch/{path}` with `body` = Base64 of `params` (none: no `body` field).
    async fn api_with(&self, path: &str, params: Option<Value>, envelope: &Envelope<'_>) -> Value {
        let body = params.as_ref().map(encode_body).unwrap_or_default();
        let timestamp = (chrono::Utc::now().timestamp() + envelope.skew).to_string();
        let nonce = "716240";
        let sign = ubao_sign(&body, envelope.key, nonce, &timestamp);
        let merchant_id = envelope.merchant_id.to_string();
        let mut form = vec![
            ("merchantId", merchant_id.as_str()),
            ("timestamp", timestamp.as_str()),
            ("nonce", nonce),
            ("sign", sign.as_str()),
        ];
        if params.is_some() {
            form.push(("body", body.as_str()));
        }
        let response = self
            .http
            .post(format!("{}/mch/{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn api(&self, path: &str, params: Value) -> Value {
        self.api_with(path, Some(params), &GOOD).await
    }

    async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn state(&self) -> Value {
        self.http
            .get(format!("{}/state", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A new address of `wallet_type` (0, 2 or -2) on `chain_type`.
    async fn create(&self, chain_type: i64, wallet_type: i64, call_url: &str) -> String {
        let reply = self
            .api(
                "address/create",
                json!({ "chainType": chain_type, "callUrl": call_url, "type": wallet_type }),
            )
            .await;
        assert_eq!(reply["code"], 200, "{reply}");
        assert_eq!(reply["chainType"], chain_type);
        reply["address"].as_str().unwrap().to_owned()
    }

    /// Notifications recorded so far, once there are at least `count`.
    async fn wait_for_callbacks(&self, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let callbacks = self.state().await["callbacks"].as_array().unwrap().clone();
            if callbacks.len() >= count {
                return callbacks;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {count} callbacks were sent");
    }
}

/// What the gateway's side received: each notification's form fields.
type Received = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A notification receiver that answers the scripted replies in turn, then `SUCCESS`.
async fn receiver(replies: &[&'static str]) -> (String, Received) {
    #[derive(Clone)]
    struct Receiver {
        received: Received,
        replies: Arc<Mutex<VecDeque<&'static str>>>,
    }
    async fn receive(
        State(receiver): State<Receiver>,
        Form(fields): Form<Vec<(String, String)>>,
    ) -> &'static str {
        receiver.received.lock().unwrap().push(fields);
        receiver
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or("SUCCESS")
    }
    let state = Receiver {
        received: Received::default(),
        replies: Arc::new(Mutex::new(replies.iter().copied().collect())),
    };
    let app = Router::new()
        .route("/callbacks/ubao-test", post(receive))
        .with_state(state.clone());
    (
        format!("{}/callbacks/ubao-test", serve(app).await),
        state.received,
    )
}

/// A received notification checked as the gateway checks it (§0.5.1), its body decoded.
fn opened(fields: &[(String, String)]) -> Value {
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["body", "nonce", "timestamp", "sign"]);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.as_str();
    assert_eq!(field("nonce").len(), 6);
    assert!(verify_ubao_sign(
        field("body"),
        KEY,
        field("nonce"),
        field("timestamp"),
        field("sign")
    ));
    serde_json::from_slice(&STANDARD.decode(field("body")).unwrap()).unwrap()
}

#[test]
fn amounts_go_to_smallest_units_digit_for_digit() {
    let amount = parse_amount("1234567890.123456789012345678", 18).unwrap();
    assert_eq!(to_units(amount, 18), "1234567890123456789012345678");
    assert_eq!(parse_amount("123456789012.123456789012345678", 18), None);
    assert_eq!(
        to_units(parse_amount("0.000000000000000001", 18).unwrap(), 18),
        "1"
    );
    assert_eq!(to_units(parse_amount("007.50", 6).unwrap(), 6), "7500000");
    assert_eq!(to_units(parse_amount("0.09826", 6).unwrap(), 6), "98260");
    assert_eq!(to_units(parse_amount("5", 6).unwrap(), 6), "5000000");
    assert_eq!(to_units(rust_decimal::Decimal::ZERO, 18), "0");
    for bad in ["", "0", "-1", "1e2", "1.", ".5", "1.1234567", " 1"] {
        assert_eq!(parse_amount(bad, 6), None, "{bad:?}");
    }
}

#[tokio::test]
async fn a_signed_create_works_and_bad_signs_merchants_and_timestamps_are_refused() {
    let sim = Sim::start().await;
    let tron = sim.create(160, 0, "http://127.0.0.1:9/cb").await;
    assert!(tron.starts_with('T') && tron.len() == 34, "{tron}");
    let bsc = sim.create(170, 2, "http://127.0.0.1:9/cb").await;
    assert!(bsc.starts_with("0x") && bsc.len() == 42, "{bsc}");
    assert_eq!(bsc, bsc.to_lowercase());
    assert_ne!(sim.create(160, 0, "http://127.0.0.1:9/cb").await, tron);

    let params = json!({ "chainType": 160, "callUrl": "http://127.0.0.1:9/cb" });
    for envelope in [
        Envelope {
            key: "not-the-key",
            ..GOOD
        },
        Envelope {
            merchant_id: 2000214,
            ..GOOD
        },
        Envelope { skew: -301, ..GOOD },
    ] {
        let reply = sim
            .api_with("address/create", Some(params.clone()), &envelope)
            .await;
        assert_eq!(reply["code"], 4001, "{reply}");
    }
    // Within the window.
    let reply = sim
        .api_with(
            "address/create",
            Some(params),
            &Envelope { skew: 290, ..GOOD },
        )
        .await;
    assert_eq!(reply["code"], 200, "{reply}");
    let unknown = sim
        .api(
            "address/create",
            json!({ "chainType": 190, "callUrl": "http://x.io/cb" }),
        )
        .await;
    assert_eq!(unknown["code"], 4008);
    let bad_type = sim
        .api(
            "address/create",
            json!({ "chainType": 160, "callUrl": "http://x.io/cb", "type": 1 }),
        )
        .await;
    assert_eq!(bad_type["code"], 4002);

    // The same fields as a JSON object, numbers as numbers.
    let body = encode_body(&json!({ "chainType": 170, "callUrl": "http://x.io/cb", "type": -2 }));
    let timestamp = chrono::Utc::now().timestamp();
    let sign = ubao_sign(&body, KEY, "595365", &timestamp.to_string());
    let reply: Value = sim
        .http
        .post(format!("{}/mch/address/create", sim.base))
        .json(&json!({
            "merchantId": MERCHANT, "timestamp": timestamp, "nonce": 595365,
            "body": body, "sign": sign.to_uppercase(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["code"], 200, "{reply}");

    let state = sim.state().await;
    assert_eq!(state["refused_requests"], 3);
    let wallets = state["wallets"].as_array().unwrap();
    assert_eq!(wallets.len(), 5);
    assert_eq!(wallets[0]["address"], tron);
    assert_eq!(wallets[0]["type"], "receive");
    assert_eq!(wallets[0]["chainType"], 160);
    assert_eq!(wallets[0]["callUrl"], "http://127.0.0.1:9/cb");
    assert_eq!(wallets[0]["balances"], json!({ "1003": "0", "1004": "0" }));
    assert_eq!(wallets[1]["type"], "collection");
    assert_eq!(wallets[4]["type"], "watch");

    let check = sim
        .api(
            "address/check",
            json!({ "chainType": 160, "address": tron }),
        )
        .await;
    assert_eq!(check, json!({ "code": 200, "message": "SUCCESS" }));
    let check = sim
        .api(
            "address/check",
            json!({ "chainType": 170, "address": tron }),
        )
        .await;
    assert_eq!(check["code"], 4003);
}

#[tokio::test]
async fn withdrawals_are_refused_off_collection_wallets_beyond_balances_and_on_repeats() {
    let (gateway, received) = receiver(&[]).await;
    let sim = Sim::start().await;
    let receive = sim.create(160, 0, &gateway).await;
    let collection = sim.create(160, 2, &gateway).await;
    let (status, _) = sim
        .control(
            &format!("/collection/{collection}/fund"),
            json!({ "amount": "100", "coin_id": 1004 }),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = sim
        .control(
            &format!("/collection/{receive}/fund"),
            json!({ "amount": "1", "coin_id": 1004 }),
        )
        .await;
    assert_eq!(status, 404);

    let to = "TA1AtPt6bRfFgc4KuXJb9LrJrqxeXiaV2A";
    let withdraw = |from: &str, to: &str, amount: &str, order_sn: &str| {
        json!({
            "from": from, "to": to, "amount": amount, "coinID": 1004,
            "chainType": 160, "order_sn": order_sn,
        })
    };
    let reply = sim
        .api("withdraw", withdraw(&receive, to, "1", "W-0"))
        .await;
    assert_eq!(reply["code"], 4004, "{reply}");
    let reply = sim
        .api("withdraw", withdraw(&collection, "0xabc", "1", "W-0"))
        .await;
    assert_eq!(reply["code"], 4003, "{reply}");
    let reply = sim
        .api("withdraw", withdraw(&collection, to, "1.0000001", "W-0"))
        .await;
    assert_eq!(reply["code"], 4002, "{reply}");
    let reply = sim
        .api("withdraw", withdraw(&collection, to, "100.000001", "W-1"))
        .await;
    assert_eq!(
        reply,
        json!({ "code": 4005, "message": "insufficient balance" })
    );

    let reply = sim
        .api("withdraw", withdraw(&collection, to, "60.5", "W-1"))
        .await;
    assert_eq!(reply, json!({ "code": 200, "message": "SUCCESS" }));
    let reply = sim
        .api("withdraw", withdraw(&collection, to, "60.5", "W-1"))
        .await;
    assert_eq!(reply["code"], 4006, "{reply}");
    let reply = sim
        .api("withdraw", withdraw(&collection, to, "39.5", "W-2"))
        .await;
    assert_eq!(reply["code"], 200, "{reply}");
    let reply = sim
        .api("withdraw", withdraw(&collection, to, "0.000001", "W-3"))
        .await;
    assert_eq!(reply["code"], 4005, "{reply}");

    let state = sim.state().await;
    let withdrawals = state["withdrawals"].as_array().unwrap();
    assert_eq!(withdrawals.len(), 2);
    assert_eq!(withdrawals[0]["order_sn"], "W-1");
    assert_eq!(withdrawals[0]["amount"], "60.5");
    assert_eq!(withdrawals[0]["status"], "pending");
    assert_eq!(withdrawals[0]["requests"], 3);
    assert_eq!(withdrawals[0]["from"], collection);
    assert_eq!(state["wallets"][1]["balances"]["1004"], "0");
    assert_eq!(
        state["withdraw_requests"],
        json!([
            { "order_sn": "W-0", "count": 3 }, { "order_sn": "W-1", "count": 3 },
            { "order_sn": "W-2", "count": 1 }, { "order_sn": "W-3", "count": 1 },
        ])
    );

    // On chain: W-1 goes through, W-2 fails and its amount comes back.
    let (status, reply) = sim.control("/withdrawals/W-1/complete", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["withdrawal"]["status"], "completed");
    assert_eq!(reply["callbacks"][0]["accepted"], true);
    let transfer = &reply["callbacks"][0]["body"];
    assert_eq!(transfer["callbackType"], "transfer");
    assert_eq!(transfer["result"], 1);
    assert_eq!(transfer["amount"], "60500000");
    assert_eq!(transfer["decimals"], 6);
    assert_eq!(transfer["order_sn"], "W-1");
    assert_eq!(transfer["address"], collection);
    assert_eq!(transfer["toAddress"], to);
    assert_eq!(transfer["chain"], "tron");
    assert_eq!(transfer["chainType"], "160");
    assert_eq!(transfer["coinType"], "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
    assert_eq!(transfer["message"], "OK");
    assert_eq!(transfer["tradeId"], reply["withdrawal"]["tradeId"]);
    assert_eq!(transfer["hash"], reply["withdrawal"]["hash"]);
    let (status, _) = sim.control("/withdrawals/W-1/fail", json!({})).await;
    assert_eq!(status, 409);
    let (status, reply) = sim
        .control(
            "/withdrawals/W-2/fail",
            json!({ "message": "insufficient energy" }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["callbacks"][0]["body"]["result"], 0);
    assert_eq!(
        reply["callbacks"][0]["body"]["message"],
        "insufficient energy"
    );
    assert_eq!(sim.state().await["wallets"][1]["balances"]["1004"], "39.5");

    let received: Vec<Value> = received.lock().unwrap().iter().map(|f| opened(f)).collect();
    let kinds: Vec<&str> = received
        .iter()
        .map(|b| b["callbackType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["transfer", "balance", "transfer", "balance"]);
    assert_eq!(received[1]["address"], collection);
    assert_eq!(received[1]["amount"], "0");
    assert_eq!(received[3]["amount"], "39500000");
}

#[tokio::test]
async fn withdraw_faults_answer_500_and_an_accepted_one_is_then_a_repeat() {
    let sim = Sim::start().await;
    let collection = sim.create(170, 2, "http://127.0.0.1:9/cb").await;
    sim.control(
        &format!("/collection/{collection}/fund"),
        json!({ "amount": "2.000000000000000001", "coin_id": 1002 }),
    )
    .await;
    let (status, _) = sim
        .control(
            "/faults",
            json!({ "withdraw": ["error_500", "accept_then_500"] }),
        )
        .await;
    assert_eq!(status, 204);
    let body = encode_body(&json!({
        "from": collection, "to": "0x00000000000000000000000000000000000000aa",
        "amount": "1.000000000000000001", "coinID": "1002", "chainType": "170", "order_sn": "W-9",
    }));
    for _ in 0..2 {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let sign = ubao_sign(&body, KEY, "123456", &timestamp);
        let response = sim
            .http
            .post(format!("{}/mch/withdraw", sim.base))
            .form(&[
                ("merchantId", MERCHANT.to_string().as_str()),
                ("timestamp", &timestamp),
                ("nonce", "123456"),
                ("body", &body),
                ("sign", &sign),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    let repeat = sim
        .api(
            "withdraw",
            json!({
                "from": collection, "to": "0x00000000000000000000000000000000000000aa",
                "amount": "1.000000000000000001", "coinID": 1002, "chainType": 170,
                "order_sn": "W-9",
            }),
        )
        .await;
    assert_eq!(repeat["code"], 4006);
    let state = sim.state().await;
    assert_eq!(state["withdrawals"][0]["requests"], 3);
    assert_eq!(state["wallets"][0]["balances"]["1002"], "1");
    let (_, reply) = sim.control("/withdrawals/W-9/complete", json!({})).await;
    assert_eq!(
        reply["callbacks"][0]["body"]["amount"],
        "1000000000000000001"
    );
    assert_eq!(reply["callbacks"][0]["body"]["decimals"], 18);
    assert_eq!(reply["callbacks"][0]["body"]["chain"], "bsc");
    // An unreachable callUrl: no answer, status 0.
    assert_eq!(reply["callbacks"][0]["status"], 0);
    assert_eq!(reply["callbacks"][0]["accepted"], false);
}

#[tokio::test]
async fn pooling_moves_the_balance_with_a_transfer_without_order_sn_and_balance_callbacks() {
    let (gateway, received) = receiver(&[]).await;
    let sim = Sim::start().await;
    let receive = sim.create(160, 0, &gateway).await;
    let (status, reply) = sim
        .control(
            "/deposits",
            json!({ "address": receive, "amount": "12.5", "coin_id": 1004 }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let recharge = &reply["recharge"];
    assert_eq!(recharge["callbackType"], "recharge");
    assert_eq!(recharge["amount"], "12500000");
    assert_eq!(recharge["address"], receive);
    assert_eq!(recharge["coinName"], "USDT");
    assert_eq!(reply["callbacks"][0]["accepted"], true);

    let pool = json!({ "coinID": 1004, "address": receive });
    let reply = sim.api("address/pooling", pool.clone()).await;
    assert_eq!(reply["code"], 4004, "no collection wallet yet: {reply}");
    let collection = sim.create(160, 2, &gateway).await;
    let reply = sim.api("address/pooling", pool.clone()).await;
    assert_eq!(reply, json!({ "code": 200, "message": "SUCCESS" }));
    let reply = sim.api("address/pooling", pool.clone()).await;
    assert_eq!(reply["code"], 4007, "{reply}");

    // Deposit: recharge + balance; pooling: transfer + two balances.
    sim.wait_for_callbacks(5).await;
    let state = sim.state().await;
    assert_eq!(state["wallets"][0]["balances"]["1004"], "0");
    assert_eq!(state["wallets"][1]["balances"]["1004"], "12.5");
    assert_eq!(state["sweeps"][0]["amount"], "12.5");
    assert_eq!(state["sweeps"][0]["to"], collection);
    assert_eq!(
        state["pooling_requests"],
        json!([{ "address": receive, "coinID": 1004, "count": 3 }])
    );
    let received: Vec<Value> = received.lock().unwrap().iter().map(|f| opened(f)).collect();
    assert_eq!(received.len(), 5);
    assert_eq!(received[0], *recharge);
    assert_eq!(received[1]["callbackType"], "balance");
    assert_eq!(received[1]["amount"], "12500000");
    let transfer = &received[2];
    assert_eq!(transfer["callbackType"], "transfer");
    assert_eq!(transfer["result"], 1);
    assert_eq!(transfer["order_sn"], "");
    assert_eq!(transfer["address"], receive);
    assert_eq!(transfer["toAddress"], collection);
    assert_eq!(transfer["amount"], "12500000");
    assert_eq!(transfer["tradeId"], state["sweeps"][0]["tradeId"]);
    assert_eq!(transfer["message"], "OK");
    assert_eq!(
        (&received[3]["address"], &received[3]["amount"]),
        (&json!(receive), &json!("0"))
    );
    assert_eq!(
        (&received[4]["address"], &received[4]["amount"]),
        (&json!(collection), &json!("12500000"))
    );
}

#[tokio::test]
async fn a_callback_answered_fail_is_sent_again_until_success_then_stops() {
    let (gateway, received) = receiver(&["FAIL"]).await;
    let sim = Sim::start().await;
    let receive = sim.create(160, 0, &gateway).await;
    let (_, reply) = sim
        .control("/deposits", json!({ "address": receive, "amount": "1" }))
        .await;
    assert_eq!(reply["recharge"]["coinID"], 1003);
    assert_eq!(reply["recharge"]["coinType"], "TRON");
    assert_eq!(reply["callbacks"][0]["reply"], "FAIL");
    assert_eq!(reply["callbacks"][0]["accepted"], false);
    assert_eq!(reply["callbacks"][0]["attempt"], 1);

    sim.wait_for_callbacks(3).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let callbacks = sim.state().await["callbacks"].as_array().unwrap().clone();
    let recharges: Vec<&Value> = callbacks
        .iter()
        .filter(|c| c["callback_type"] == "recharge")
        .collect();
    assert_eq!(recharges.len(), 2);
    assert_eq!(recharges[1]["attempt"], 2);
    assert_eq!(recharges[1]["accepted"], true);
    assert_eq!(recharges[1]["body"], recharges[0]["body"]);
    assert_eq!(callbacks.len(), 3);
    assert_eq!(received.lock().unwrap().len(), 3);

    // `repeat` sends the same body again whatever the reply; `drop_callbacks` sends nothing.
    let (_, reply) = sim
        .control(
            "/deposits",
            json!({ "address": receive, "amount": "2", "repeat": 2 }),
        )
        .await;
    let attempts: Vec<&Value> = reply["callbacks"].as_array().unwrap().iter().collect();
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|a| a["accepted"] == true));
    assert_eq!(attempts[2]["attempt"], 3);
    sim.control("/faults", json!({ "drop_callbacks": true }))
        .await;
    let (_, reply) = sim
        .control("/deposits", json!({ "address": receive, "amount": "3" }))
        .await;
    assert_eq!(reply["callbacks"][0]["dropped"], true);
    assert_eq!(received.lock().unwrap().len(), 7);
    assert_eq!(sim.state().await["wallets"][0]["balances"]["1003"], "6");
}

#[tokio::test]
async fn coins_come_as_a_json_string_and_watch_addresses_and_proofs_work() {
    let (gateway, received) = receiver(&[]).await;
    let sim = Sim::start().await;
    let (status, _) = sim
        .control("/coins", json!({ "coin_id": 1002, "decimals": 6 }))
        .await;
    assert_eq!(status, 204);
    let reply = sim.api_with("coins", None, &GOOD).await;
    assert_eq!(reply["code"], 200, "{reply}");
    let coins: Value = serde_json::from_str(reply["coins"].as_str().unwrap()).unwrap();
    assert_eq!(
        coins,
        json!([
            { "coinID": 1003, "coinName": "TRX", "chainType": 160, "coinType": "TRON", "decimals": 6 },
            { "coinID": 1004, "coinName": "USDT", "chainType": 160,
              "coinType": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "decimals": 6 },
            { "coinID": 1002, "coinName": "USDT", "chainType": 170,
              "coinType": "0x55d398326f99059ff775485246999027b3197955", "decimals": 6 },
        ])
    );
    let with_body = sim.api("coins", json!({})).await;
    assert_eq!(with_body["coins"], reply["coins"]);

    let watched = "0xdAC17F958D2ee523a2206206994597C13D831ec7";
    let reply = sim
        .api(
            "address/add",
            json!({ "chainType": 170, "address": watched, "callUrl": gateway }),
        )
        .await;
    assert_eq!(reply["code"], 200, "{reply}");
    let reply = sim
        .api(
            "address/add",
            json!({ "chainType": 160, "address": watched, "callUrl": gateway }),
        )
        .await;
    assert_eq!(reply["code"], 4003, "{reply}");
    let (status, reply) = sim
        .control(
            &format!("/watch/{watched}/transfers"),
            json!({ "amount": "0.5" }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["recharge"]["amount"], "500000000000000000");
    assert_eq!(reply["recharge"]["address"], watched);
    assert_eq!(reply["callbacks"][0]["accepted"], true);
    assert_eq!(opened(&received.lock().unwrap()[0]), reply["recharge"]);
    let (status, _) = sim
        .control(
            "/watch/0x00000000000000000000000000000000000000aa/transfers",
            json!({ "amount": "1" }),
        )
        .await;
    assert_eq!(status, 404);

    let proof = json!({ "address": watched, "message": "x.com:user:1", "signature": "0xsig" });
    assert_eq!(sim.control("/ownership", proof).await.0, 204);
    let verify = |sign: &str| json!({ "address": watched, "message": "x.com:user:1", "sign": sign, "chainType": 170 });
    let reply = sim.api("address/verify", verify("0xsig")).await;
    assert_eq!(
        reply,
        json!({ "code": 200, "message": "SUCCESS", "result": "true" })
    );
    let reply = sim.api("address/verify", verify("0xother")).await;
    assert_eq!(reply["result"], "false");

    let state = sim.state().await;
    assert_eq!(
        state["watch"],
        json!([{ "address": watched, "chainType": 170, "callUrl": gateway }])
    );
    assert_eq!(state["proofs"].as_array().unwrap().len(), 1);
    let (status, _) = sim
        .control("/faults", json!({ "pooling": ["accept_then_500"] }))
        .await;
    assert_eq!(status, 400);
}
