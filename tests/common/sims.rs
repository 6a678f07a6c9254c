//! Typed handles on the simulators' control APIs: `app.udun().deposit(address, "0.5")`. Each call
//! makes the simulator act as its provider would (a signed callback, a record in its lists).
#![allow(dead_code)]

use serde_json::{Value, json};

use super::TestApp;

/// What a simulator is asked to do with a withdrawal it holds.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Approve,
    Reject,
    Complete,
    Fail,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Complete => "complete",
            Action::Fail => "fail",
        }
    }
}

/// Adds `extra`'s fields to `base`.
fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// The Udun simulator (a host of its own in the tests).
pub struct Udun<'a> {
    pub(super) app: &'a TestApp,
}

impl Udun<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/sim/udun{path}", self.app.sim_url);
        self.app.control(&url, &body).await
    }

    /// `amount` arrives at `address` and Udun calls the gateway back.
    pub async fn deposit(&self, address: &str, amount: &str) -> Value {
        self.deposit_with(address, amount, json!({})).await
    }

    /// A deposit with more of Udun's fields set (`status`, `trade_id`, `coin_type`, `hold`, …).
    pub async fn deposit_with(&self, address: &str, amount: &str, extra: Value) -> Value {
        let body = merged(json!({ "address": address, "amount": amount }), extra);
        self.post("/deposits", body).await
    }

    /// A deposit callback, signed but not sent: its form, to deliver by hand.
    pub async fn held_deposit(&self, address: &str, amount: &str) -> String {
        let sent = self
            .deposit_with(address, amount, json!({ "hold": true }))
            .await;
        sent["form"].as_str().expect("a held form").to_owned()
    }

    /// A raw deposit request, for fields no typed helper covers.
    pub async fn deposit_raw(&self, body: Value) -> Value {
        self.post("/deposits", body).await
    }

    pub async fn withdrawal(&self, business_id: &str, action: Action) -> Value {
        self.withdrawal_with(business_id, action, json!({})).await
    }

    pub async fn withdrawal_with(&self, business_id: &str, action: Action, body: Value) -> Value {
        let path = format!("/withdrawals/{business_id}/{}", action.path());
        self.post(&path, body).await
    }

    /// The next withdraw request meets `fault` (`error_500`, `accept_then_500`, …).
    pub async fn fault_next_withdraw(&self, fault: &str) {
        self.post("/faults", json!({ "withdraw": [fault] })).await;
    }

    /// The next withdraw request is recorded, then its reply held for `stall_ms`.
    pub async fn stall_next_withdraw(&self, stall_ms: u64) {
        let body = json!({ "withdraw": ["accept_then_stall"], "stall_ms": stall_ms });
        self.post("/faults", body).await;
    }

    /// Every withdrawal Udun holds, with how it was asked for.
    pub async fn withdrawals(&self) -> Vec<Value> {
        let url = format!("{}/sim/udun/withdrawals", self.app.sim_url);
        self.app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The ChainUp simulator (built into the gateway under test).
pub struct Chainup<'a> {
    pub(super) app: &'a TestApp,
}

impl Chainup<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/sim/chainup{path}", self.app.url);
        self.app.control(&url, &body).await
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}/sim/chainup{path}", self.app.url);
        self.app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// ChainUp records `amount` arriving at `address`; the gateway must pull it.
    pub async fn deposit(&self, address: &str, amount: &str) -> Value {
        self.deposit_with(address, amount, json!({})).await
    }

    /// A deposit with more of ChainUp's fields set (`status`, `tx_height`, `txid`, `count`, `notify`).
    pub async fn deposit_with(&self, address: &str, amount: &str, extra: Value) -> Value {
        let body = merged(json!({ "address": address, "amount": amount }), extra);
        self.post("/deposits", body).await
    }

    /// `count` more blocks on every chain.
    pub async fn blocks(&self, count: i64) -> Value {
        self.post("/blocks", json!({ "count": count })).await
    }

    pub async fn withdrawal(&self, request_id: &str, action: Action) -> Value {
        self.withdrawal_with(request_id, action, json!({})).await
    }

    pub async fn withdrawal_with(&self, request_id: &str, action: Action, body: Value) -> Value {
        let path = format!("/withdrawals/{request_id}/{}", action.path());
        self.post(&path, body).await
    }

    /// Co-Signer's call about a withdrawal (`{"stage": "sign_start" | "sign_success", …}`);
    /// `{status, body, sent}` of the gateway's answer.
    pub async fn cosign(&self, request_id: &str, body: Value) -> Value {
        self.post(&format!("/withdrawals/{request_id}/cosign"), body)
            .await
    }

    /// Co-Signer's start-up key check, with the right keys or a wrong one.
    pub async fn verify_keys(&self, wrong_key: bool) -> Value {
        self.post("/cosigner/verify", json!({ "wrong_key": wrong_key }))
            .await
    }

    /// Faults for what comes next (`{"withdraw": [...], "stall_ms": …, "system_address": true}`).
    pub async fn faults(&self, body: Value) {
        self.post("/faults", body).await;
    }

    pub async fn withdrawals(&self) -> Value {
        self.get("/withdrawals").await
    }

    pub async fn state(&self) -> Value {
        self.get("/state").await
    }
}

/// The WaaS simulator (built into the gateway under test).
pub struct Waas<'a> {
    pub(super) app: &'a TestApp,
}

impl Waas<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/sim/waas{path}", self.app.url);
        self.app.control(&url, &body).await
    }

    /// A deposit of `amount` `symbol` to `address`, with the source and target risk scores.
    pub async fn deposit(
        &self,
        address: &str,
        amount: &str,
        symbol: &str,
        risk: (i64, i64),
    ) -> Value {
        self.deposit_with(address, amount, symbol, risk, json!({}))
            .await
    }

    /// A deposit with more fields (`repeat`: deliveries of the same event).
    pub async fn deposit_with(
        &self,
        address: &str,
        amount: &str,
        symbol: &str,
        risk: (i64, i64),
        extra: Value,
    ) -> Value {
        let body = json!({ "address": address, "amount": amount, "symbol": symbol,
                           "risk_from": risk.0, "risk_to": risk.1 });
        self.post("/deposits", merged(body, extra)).await
    }

    /// `complete`, `terminate`, `short_hot`, `short_gas`, or `confirm` (with overrides).
    pub async fn withdrawal(&self, call_back_id: &str, action: &str, body: Value) -> Value {
        self.post(&format!("/withdrawals/{call_back_id}/{action}"), body)
            .await
    }

    /// WaaS gives the user holding `address` on `chain` a new address.
    pub async fn change_address(&self, address: &str, chain: &str) -> Value {
        self.post(
            "/addresses/change",
            json!({ "address": address, "chain": chain }),
        )
        .await
    }

    /// A callback with exactly these fields, once.
    pub async fn raw_callback(&self, fields: Value) -> Value {
        self.post("/callbacks", fields).await
    }

    pub async fn faults(&self, body: Value) {
        self.post("/faults", body).await;
    }

    pub async fn state(&self) -> Value {
        self.app
            .control_get(&format!("{}/sim/waas/state", self.app.url))
            .await
    }
}

/// The Pay Protocol simulator (`/sim/payprotocol`).
pub struct Pay<'a> {
    pub(super) app: &'a TestApp,
}

impl Pay<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/sim/payprotocol{path}", self.app.url);
        self.app.control(&url, &body).await
    }

    /// A recharge of `amount` (whole units) of `currency` to `address`, successful.
    pub async fn recharge(&self, address: &str, amount: &str, currency: &str) -> Value {
        self.recharge_with(address, amount, json!({ "currency": currency }))
            .await
    }

    /// A recharge with more fields set (`status`, `currency`, `tx_hash`, `from_address`).
    pub async fn recharge_with(&self, address: &str, amount: &str, extra: Value) -> Value {
        let body = merged(json!({ "address": address, "amount": amount }), extra);
        self.post("/recharges", body).await
    }

    /// A pending recharge ends: `succeed` or `fail`.
    pub async fn recharge_action(&self, recharge_id: &str, action: &str) -> Value {
        self.post(&format!("/recharges/{recharge_id}/{action}"), json!({}))
            .await
    }

    /// `approve`, `broadcast`, `complete`, `fail` or `reject` a withdrawal in the console.
    pub async fn withdrawal(&self, withdraw_id: &str, action: &str) -> Value {
        self.post(&format!("/withdrawals/{withdraw_id}/{action}"), json!({}))
            .await
    }

    pub async fn set_decimals(&self, chain_id: i64, currency_id: i64, decimals: u32) {
        self.post(
            "/currencies",
            json!({ "chain_id": chain_id, "currency_id": currency_id, "decimals": decimals }),
        )
        .await;
    }

    pub async fn faults(&self, body: Value) {
        self.post("/faults", body).await;
    }

    pub async fn state(&self) -> Value {
        self.app
            .control_get(&format!("{}/sim/payprotocol/state", self.app.url))
            .await
    }
}

/// The UBAO simulator (`/sim/ubao`).
pub struct Ubao<'a> {
    pub(super) app: &'a TestApp,
}

impl Ubao<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/sim/ubao{path}", self.app.url);
        self.app.control(&url, &body).await
    }

    /// A deposit of `amount` (whole units) of coin `coin_id` to a receive address.
    pub async fn deposit(&self, address: &str, amount: &str, coin_id: i64) -> Value {
        self.deposit_with(address, amount, json!({ "coin_id": coin_id }))
            .await
    }

    /// A deposit with more fields set (`coin_id`, `repeat`).
    pub async fn deposit_with(&self, address: &str, amount: &str, extra: Value) -> Value {
        let body = merged(json!({ "address": address, "amount": amount }), extra);
        self.post("/deposits", body).await
    }

    /// A transfer seen on a watched address.
    pub async fn watch_transfer(&self, address: &str, amount: &str, coin_id: i64) -> Value {
        self.post(
            &format!("/watch/{address}/transfers"),
            json!({ "amount": amount, "coin_id": coin_id }),
        )
        .await
    }

    /// `complete` or `fail` a withdrawal.
    pub async fn withdrawal(&self, order_sn: &str, action: &str) -> Value {
        self.post(&format!("/withdrawals/{order_sn}/{action}"), json!({}))
            .await
    }

    /// Registers a proof the simulator will accept.
    pub async fn ownership(&self, address: &str, message: &str, signature: &str) {
        self.post(
            "/ownership",
            json!({ "address": address, "message": message, "signature": signature }),
        )
        .await;
    }

    /// Adds to a collection wallet's balance.
    pub async fn fund(&self, address: &str, amount: &str, coin_id: i64) {
        self.post(
            &format!("/collection/{address}/fund"),
            json!({ "amount": amount, "coin_id": coin_id }),
        )
        .await;
    }

    pub async fn faults(&self, body: Value) {
        self.post("/faults", body).await;
    }

    pub async fn state(&self) -> Value {
        self.app
            .control_get(&format!("{}/sim/ubao/state", self.app.url))
            .await
    }
}
