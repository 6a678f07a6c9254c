//! The simulator over real HTTP on 127.0.0.1: request authentication (C2), users and wallets,
//! withdraw applies with their amounts and repeats, and callbacks sent again until `success` (C5).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::SIMULATOR;
use crate::config::Settings;
use crate::providers::payprotocol::sign::{KEY_HEADER, SIGN_HEADER, TIMESTAMP_HEADER, pay_sign};

const KEY: &str = "test-pay-key";
const SECRET: &str = "test-pay-secret";

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
id = "pp-test"
kind = "payprotocol"
base_url = "sim"
[providers.payprotocol]
api_key = "{KEY}"
api_secret = "{SECRET}"
sim_callback_schedule_ms = [0, 50, 100]
[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
chain_id = 1
currency_id = 1
[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
chain_id = 1
currency_id = 2
[[providers.assets]]
chain = "ETH"
asset = "USDT"
decimals = 6
chain_id = 2
currency_id = 4
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

/// The simulator mounted as in the gateway, calling `gateway_url` back.
struct Sim {
    base: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start(gateway_url: Option<&str>) -> Sim {
        let router = (SIMULATOR.router)(&settings(), gateway_url)
            .expect("a Pay Protocol account")
            .unwrap();
        let host = serve(Router::new().nest(SIMULATOR.mount, router)).await;
        Sim {
            base: format!("{host}{}", SIMULATOR.mount),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// A request to `/api/mer{path_and_query}`, signed with `secret` at now + `skew` seconds.
    async fn api_signed(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&str>,
        secret: &str,
        skew: i64,
    ) -> (u16, Value) {
        let timestamp = (chrono::Utc::now().timestamp() + skew).to_string();
        let signed_path = format!("/api/mer{path_and_query}");
        let sign = pay_sign(secret, &timestamp, method, &signed_path, body.unwrap_or(""));
        let url = format!("{}{signed_path}", self.base);
        let request = match body {
            Some(body) => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_owned()),
            None => self.http.get(url),
        };
        let response = request
            .header(KEY_HEADER, KEY)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGN_HEADER, sign)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path_and_query: &str) -> Value {
        let (status, reply) = self
            .api_signed("GET", path_and_query, None, SECRET, 0)
            .await;
        assert_eq!(status, 200, "{reply}");
        reply
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, reply) = self
            .api_signed("POST", path, Some(&body.to_string()), SECRET, 0)
            .await;
        assert_eq!(status, 200, "{reply}");
        reply
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

    async fn create_user(&self, uuid: &str) -> i64 {
        let reply = self.post("/user/create", json!({ "uuid": uuid })).await;
        assert_eq!(reply["code"], 200, "{reply}");
        reply["data"].as_i64().unwrap()
    }

    /// The user's wallet address on a chain.
    async fn address(&self, uuid: &str, chain_id: i64) -> String {
        let reply = self
            .get(&format!("/user/detail?UUID={uuid}&chainId={chain_id}"))
            .await;
        reply["data"]["userWallet"][0]["walletAddress"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_signed_create_makes_a_wallet_on_every_chain_and_a_repeat_is_refused() {
    let sim = Sim::start(None).await;
    assert_eq!(sim.create_user("USER10001").await, 7001);

    let detail = sim.get("/user/detail?UUID=USER10001").await;
    let data = &detail["data"];
    assert_eq!(data["userId"], 7001);
    assert_eq!(data["uuid"], "USER10001");
    assert_eq!(data["userType"], 0);
    assert_eq!(data["createTime"].as_str().unwrap().len(), 19);
    let wallets = data["userWallet"].as_array().unwrap();
    assert_eq!(wallets.len(), 2);
    let tron = wallets[0]["walletAddress"].as_str().unwrap();
    assert_eq!(wallets[0]["chainId"], 1);
    assert!(tron.starts_with('T') && tron.len() == 34, "{tron}");
    let eth = wallets[1]["walletAddress"].as_str().unwrap();
    assert_eq!(wallets[1]["chainId"], 2);
    assert!(eth.starts_with("0x") && eth.len() == 42, "{eth}");
    assert_eq!(eth, eth.to_lowercase());

    let by_id = sim.get("/user/detail?userId=7001&chainId=2").await;
    assert_eq!(by_id["data"]["userWallet"].as_array().unwrap().len(), 1);
    assert_eq!(by_id["data"]["userWallet"][0]["walletAddress"], eth);

    let repeat = sim
        .post("/user/create", json!({ "uuid": "USER10001" }))
        .await;
    assert_eq!(repeat["code"], 10001);
    assert_eq!(repeat["msg"], "user already exists");
    let unknown = sim.get("/user/detail?uuid=nobody").await;
    assert_eq!(unknown["code"], 10002);

    let state = sim.state().await;
    assert_eq!(state["users"][0]["creates"], 2);
    assert_eq!(state["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_signature_or_a_stale_timestamp_is_401_and_counted() {
    let sim = Sim::start(None).await;
    let body = r#"{"uuid":"u"}"#;
    let (status, reply) = sim
        .api_signed("POST", "/user/create", Some(body), "not-the-secret", 0)
        .await;
    assert_eq!(status, 401);
    assert_eq!(reply["code"], 401);
    let (status, _) = sim
        .api_signed("POST", "/user/create", Some(body), SECRET, -61)
        .await;
    assert_eq!(status, 401);
    let (status, _) = sim
        .api_signed("GET", "/conf/list/currency?chainId=1", None, SECRET, 61)
        .await;
    assert_eq!(status, 401);
    // Within the window, and a query signed as sent.
    let (status, reply) = sim
        .api_signed("GET", "/conf/list/currency?chainId=1", None, SECRET, 50)
        .await;
    assert_eq!(status, 200);
    assert_eq!(reply["data"].as_array().unwrap().len(), 2);
    assert_eq!(reply["data"][1]["currencyName"], "USDT");
    assert_eq!(reply["data"][1]["decimals"], 6);

    let state = sim.state().await;
    assert_eq!(state["refused_requests"], 3);
    assert!(state["users"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_withdraw_apply_is_held_in_minor_units_and_a_repeated_out_trade_no_is_refused() {
    let sim = Sim::start(None).await;
    let apply = |amount: Value| {
        json!({
            "chainId": 1, "currencyId": "2", "withdrawAddress": "TA1AtPt6bRfFgc4KuXJb9LrJrqxeXiaV2A",
            "withdrawAmount": amount, "outTradeNo": "W-1",
            "notifyUrl": "http://127.0.0.1:9/callbacks/pp-test",
        })
    };
    for bad in [
        json!(1.5),
        json!("1.1234567"),
        json!("1e2"),
        json!("-1"),
        json!("0"),
        json!(""),
    ] {
        let reply = sim.post("/withdraw/apply", apply(bad.clone())).await;
        assert_eq!(reply["code"], 10008, "{bad}: {reply}");
    }
    assert!(
        sim.state().await["withdrawals"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let first = sim.post("/withdraw/apply", apply(json!("1.5"))).await;
    assert_eq!(first["data"]["withdrawId"], 31);
    let repeat = sim.post("/withdraw/apply", apply(json!("1.5"))).await;
    assert_eq!(repeat["code"], 10003);
    assert_eq!(repeat["msg"], "outTradeNo already exists");

    let detail = sim.get("/withdraw/detail?outTradeNo=W-1").await;
    assert_eq!(detail["data"]["withdrawAmount"], "1500000");
    assert_eq!(detail["data"]["withdrawStatus"], 1);
    assert_eq!(detail["data"]["transferHash"], Value::Null);
    let state = sim.state().await;
    let withdrawals = state["withdrawals"].as_array().unwrap();
    assert_eq!(withdrawals.len(), 1);
    assert_eq!(withdrawals[0]["applies"], 2);
    assert_eq!(withdrawals[0]["withdrawId"], 31);
}

#[tokio::test]
async fn faults_answer_500_and_a_changed_decimals_is_reported() {
    let sim = Sim::start(None).await;
    let (status, _) = sim
        .control(
            "/faults",
            json!({ "withdraw": ["error_500", "accept_then_500"], "detail_500": true }),
        )
        .await;
    assert_eq!(status, 204);
    let apply = json!({
        "chainId": 2, "currencyId": 4, "withdrawAddress": "0x00000000000000000000000000000000000000aa",
        "withdrawAmount": "0.000001", "outTradeNo": "W-2", "notifyUrl": "http://127.0.0.1:9/n",
    });
    let body = apply.to_string();
    for _ in 0..2 {
        let (status, _) = sim
            .api_signed("POST", "/withdraw/apply", Some(&body), SECRET, 0)
            .await;
        assert_eq!(status, 500);
    }
    let (status, _) = sim
        .api_signed("GET", "/withdraw/detail?withdrawId=31", None, SECRET, 0)
        .await;
    assert_eq!(status, 500);
    sim.control("/faults", json!({ "detail_500": false })).await;
    let detail = sim.get("/withdraw/detail?withdrawId=31").await;
    assert_eq!(detail["data"]["withdrawAmount"], "1");
    assert_eq!(sim.state().await["withdrawals"][0]["applies"], 2);

    let (status, _) = sim
        .control(
            "/currencies",
            json!({ "chain_id": 2, "currency_id": 4, "decimals": 18 }),
        )
        .await;
    assert_eq!(status, 204);
    let list = sim.get("/conf/list/currency?chainId=2").await;
    assert_eq!(
        list["data"],
        json!([{ "currencyId": 4, "chainId": 2, "currencyName": "USDT", "decimals": 18 }])
    );
    let chains = sim.get("/conf/list/chain").await;
    assert_eq!(
        chains["data"],
        json!([{ "chainId": 1, "chainName": "TRON" }, { "chainId": 2, "chainName": "Ethereum" }])
    );
}

/// What the gateway's side received: path and query, headers, body.
type Received = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

/// A callback receiver that answers `not yet` to the first callback and `success` afterwards.
async fn receiver() -> (String, Received) {
    async fn receive(
        State(received): State<Received>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let mut received = received.lock().unwrap();
        received.push((
            uri.path_and_query().unwrap().to_string(),
            headers,
            String::from_utf8(body.to_vec()).unwrap(),
        ));
        if received.len() == 1 {
            "not yet"
        } else {
            "success"
        }
    }
    let received = Received::default();
    let app = Router::new()
        .route("/{*path}", post(receive))
        .with_state(received.clone());
    (serve(app).await, received)
}

async fn wait_for_callbacks(sim: &Sim, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let callbacks = sim.state().await["callbacks"].as_array().unwrap().clone();
        if callbacks.len() >= count {
            return callbacks;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} callbacks were sent");
}

fn assert_signed(path: &str, headers: &HeaderMap, body: &str) {
    assert_eq!(headers[KEY_HEADER], KEY);
    assert_eq!(headers["content-type"], "application/json");
    let timestamp = headers[TIMESTAMP_HEADER].to_str().unwrap();
    assert_eq!(
        headers[SIGN_HEADER].to_str().unwrap(),
        pay_sign(SECRET, timestamp, "POST", path, body)
    );
}

#[tokio::test]
async fn a_recharge_callback_is_sent_again_until_the_gateway_answers_success() {
    let (gateway, received) = receiver().await;
    let sim = Sim::start(Some(&gateway)).await;
    sim.create_user("USER1").await;
    let address = sim.address("USER1", 1).await;

    let (status, reply) = sim
        .control(
            "/recharges",
            json!({ "address": address, "amount": "12.345678", "currency": "USDT" }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let recharge = &reply["recharge"];
    assert_eq!(recharge["rechargeId"], 501);
    assert_eq!(recharge["rechargeAmount"], "12345678");
    assert_eq!(recharge["currencyId"], 2);
    assert_eq!(recharge["rechargeStatus"], 0);
    assert_eq!(recharge["userId"], 7001);
    assert_eq!(reply["callbacks"][0]["accepted"], false);
    assert_eq!(reply["callbacks"][0]["reply"], "not yet");

    let callbacks = wait_for_callbacks(&sim, 2).await;
    assert_eq!(callbacks[1]["attempt"], 2);
    assert_eq!(callbacks[1]["accepted"], true);
    assert_eq!(callbacks[1]["kind"], "recharge");
    assert_eq!(callbacks[1]["id"], 501);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(sim.state().await["callbacks"].as_array().unwrap().len(), 2);

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let (path, headers, body) = &received[1];
    assert_eq!(path, "/callbacks/pp-test");
    assert_signed(path, headers, body);
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(&body, recharge);

    let (status, _) = sim
        .control(
            "/recharges",
            json!({ "address": address, "amount": "1.0000001", "currency": "USDT" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = sim.control("/recharges/501/succeed", json!({})).await;
    assert_eq!(status, 409);
    let list = sim.get("/recharge/list?UUID=USER1&orderStatus=0").await;
    assert_eq!(list["data"]["count"], 1);
    assert_eq!(list["data"]["list"][0]["rechargeId"], 501);
}

#[tokio::test]
async fn a_withdrawal_callback_goes_to_its_notify_url_signed_over_its_path_and_query() {
    let (gateway, received) = receiver().await;
    let sim = Sim::start(Some(&gateway)).await;
    let notify_url = format!("{gateway}/callbacks/pp-test?kind=withdraw");
    let apply = sim
        .post(
            "/withdraw/apply",
            json!({
                "chainId": "1", "currencyId": 1, "withdrawAddress": "TA1AtPt6bRfFgc4KuXJb9LrJrqxeXiaV2A",
                "withdrawAmount": "2", "outTradeNo": "W-9", "notifyUrl": notify_url,
            }),
        )
        .await;
    assert_eq!(apply["data"]["withdrawId"], 31);
    let (status, _) = sim.control("/withdrawals/31/complete", json!({})).await;
    assert_eq!(status, 409);
    let (status, reply) = sim.control("/withdrawals/31/approve", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["withdrawal"]["withdrawStatus"], 2);
    let (status, reply) = sim.control("/withdrawals/31/complete", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["withdrawal"]["withdrawStatus"], 0);
    assert_eq!(reply["withdrawal"]["withdrawAmount"], "2000000");
    assert_eq!(
        reply["withdrawal"]["transferHash"].as_str().unwrap().len(),
        64
    );
    assert_eq!(reply["callbacks"][0]["accepted"], true);

    // The approval's callback, answered `not yet`, is sent again; the completion's is taken.
    let callbacks = wait_for_callbacks(&sim, 3).await;
    assert!(
        callbacks
            .iter()
            .all(|c| c["kind"] == "withdraw" && c["id"] == 31)
    );
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for (path, headers, body) in &received {
        assert_eq!(path, "/callbacks/pp-test?kind=withdraw");
        assert_signed(path, headers, body);
    }
}

#[tokio::test]
async fn callback_faults_pages_and_a_callback_asked_for_again() {
    let (gateway, received) = receiver().await;
    let sim = Sim::start(Some(&gateway)).await;
    sim.control("/faults", json!({ "user_create": ["accept_then_500"] }))
        .await;
    let (status, _) = sim
        .api_signed("POST", "/user/create", Some(r#"{"uuid":"U"}"#), SECRET, 0)
        .await;
    assert_eq!(status, 500);
    let address = sim.address("U", 2).await;

    sim.control("/faults", json!({ "drop_callbacks": true }))
        .await;
    let (_, reply) = sim
        .control("/recharges", json!({ "address": address, "amount": "1" }))
        .await;
    assert_eq!(reply["callbacks"][0]["dropped"], true);
    assert_eq!(reply["recharge"]["currencyId"], 4);
    let (_, reply) = sim
        .control(
            "/recharges",
            json!({ "address": address, "amount": "2", "status": 1, "tx_hash": "ab" }),
        )
        .await;
    assert_eq!(reply["callbacks"], json!([]));
    assert!(received.lock().unwrap().is_empty());

    sim.control(
        "/faults",
        json!({ "drop_callbacks": false, "callback_signing": "path_only" }),
    )
    .await;
    let (status, reply) = sim.control("/recharges/502/succeed", json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["recharge"]["rechargeStatus"], 0);
    let notify = sim.get("/recharge/notify?rechargeId=501").await;
    assert_eq!(notify["data"], Value::Null);
    wait_for_callbacks(&sim, 4).await;
    let (path, headers, body) = received.lock().unwrap()[0].clone();
    assert_signed(&path, &headers, &body);

    let page = sim.get("/recharge/list?page=2&size=1&chainId=2").await;
    assert_eq!(page["data"]["count"], 2);
    assert_eq!(page["data"]["list"][0]["rechargeId"], 502);
    assert_eq!(page["data"]["list"][0]["transferHash"], "ab");
    let none = sim.get("/recharge/list?transactionHash=cd").await;
    assert_eq!(none["data"]["count"], 0);
    let refused = sim.get("/recharge/list?size=501").await;
    assert_eq!(refused["code"], 10000);
    let unknown = sim.get("/recharge/detail?rechargeId=9").await;
    assert_eq!(unknown["code"], 10005);
}
