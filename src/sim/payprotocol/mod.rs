//! Pay Protocol's side of its protocol (payprotocol.md part C; seed 002). It checks every request's
//! `X-PAY-KEY`, `X-PAY-TIMESTAMP` and `X-PAY-SIGN` (C2), keeps users with a sub-contract wallet on
//! every chain the merchant enabled, recharges and withdrawals (with every apply per `outTradeNo`),
//! and sends each record's signed JSON callback (C5) until the gateway answers `success`, on the
//! documented resend schedule, recording every attempt with the gateway's reply.
//!
//! It reads our requests by the document's field names on its own (`serde_json::Value`), never
//! through the adapter's wire types. Amounts come in as decimals (`withdrawAmount`) and go out as
//! integer strings in minor units (C6, C7 §1); times go out as `YYYY-MM-DD HH:MM:SS` in UTC.

mod api;
mod callbacks;
mod control;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};
use rand::Rng;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::providers::SimulatorKind;
use crate::providers::payprotocol::settings::{PayProtocolAsset, PayProtocolSettings};
use crate::providers::payprotocol::{KIND, SECTION};

pub use callbacks::SentCallback;

/// Pay Protocol's simulator in the registry, under `/sim/payprotocol`, for the first Pay Protocol
/// account.
pub const SIMULATOR: SimulatorKind = SimulatorKind {
    mount: "/sim/payprotocol",
    router: |settings, gateway_url| {
        PayProtocolSim::from_settings(settings, gateway_url).map(|sim| sim.map(router))
    },
};

/// The documented resend offsets (C5): six sends, at 0 s, 15 s, 30 s, 3, 5 and 10 min, each the
/// delay after the previous send.
const DEFAULT_SCHEDULE_MS: [u64; 6] = [0, 15_000, 30_000, 180_000, 300_000, 600_000];

/// How far a request's `X-PAY-TIMESTAMP` may be from the simulator's clock (C2).
const TIMESTAMP_WINDOW_SECS: i64 = 60;

const FIRST_USER_ID: i64 = 7001;
const FIRST_WALLET_ID: i64 = 55_001;
const FIRST_WITHDRAW_ID: i64 = 31;
const FIRST_RECHARGE_ID: i64 = 501;

/// `rechargeStatus` (C6): 0 success, 1 recharging, 2 failure.
pub const RECHARGE_SUCCESS: u8 = 0;
pub const RECHARGE_PENDING: u8 = 1;
pub const RECHARGE_FAILURE: u8 = 2;

/// `withdrawStatus` (C6): 0 success, 1 pending approval, 2 under review, 3 block confirmation,
/// 4 failure, 5 rejected.
pub const WITHDRAW_SUCCESS: u8 = 0;
pub const WITHDRAW_PENDING_APPROVAL: u8 = 1;
pub const WITHDRAW_UNDER_REVIEW: u8 = 2;
pub const WITHDRAW_CONFIRMING: u8 = 3;
pub const WITHDRAW_FAILURE: u8 = 4;
pub const WITHDRAW_REJECTED: u8 = 5;

/// One of the account's currencies, with Pay Protocol's ids.
#[derive(Debug, Clone)]
pub struct SimCurrency {
    /// Our chain symbol, e.g. `TRX`.
    pub chain: String,
    /// Our asset, reported as `currencyName`, e.g. `USDT`.
    pub asset: String,
    pub decimals: u32,
    pub chain_id: i64,
    pub currency_id: i64,
}

/// One enabled chain: Pay Protocol's id and our chain symbol.
#[derive(Debug, Clone)]
pub struct SimChain {
    pub chain_id: i64,
    pub chain: String,
}

impl SimChain {
    /// `chainName` in `/conf/list/chain`.
    pub fn chain_name(&self) -> &str {
        match self.chain.as_str() {
            "TRX" => "TRON",
            "ETH" => "Ethereum",
            other => other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimWallet {
    pub chain_id: i64,
    pub wallet_id: i64,
    pub wallet_address: String,
}

impl SimWallet {
    fn to_json(&self) -> Value {
        json!({
            "chainId": self.chain_id,
            "walletId": self.wallet_id,
            "walletAddress": self.wallet_address,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SimUser {
    pub user_id: i64,
    pub uuid: String,
    /// Unix seconds.
    pub created: i64,
    pub wallets: Vec<SimWallet>,
}

impl SimUser {
    /// The `/user/detail` object (C4), its wallets limited to `chain_id` when given.
    fn to_json(&self, chain_id: Option<i64>) -> Value {
        let wallets: Vec<Value> = self
            .wallets
            .iter()
            .filter(|w| chain_id.is_none_or(|id| w.chain_id == id))
            .map(SimWallet::to_json)
            .collect();
        json!({
            "userId": self.user_id,
            "uuid": self.uuid,
            "createTime": format_time(self.created),
            "userWallet": wallets,
            // 0: a recharge user, created through the API.
            "userType": 0,
        })
    }
}

/// A recharge (C6), amounts in minor units.
#[derive(Debug, Clone)]
pub struct SimRecharge {
    pub recharge_id: i64,
    pub chain_id: i64,
    pub currency_id: i64,
    pub user_id: i64,
    pub uuid: String,
    pub amount_units: String,
    pub status: u8,
    pub transfer_hash: String,
    pub wallet_id: i64,
    pub wallet_address: String,
    pub from_address: String,
    /// Unix seconds.
    pub created: i64,
    pub block_time: i64,
}

impl SimRecharge {
    /// The recharge object of `/recharge/detail`, `/recharge/list` and the callback (C6).
    pub fn to_json(&self) -> Value {
        json!({
            "chainId": self.chain_id,
            "rechargeId": self.recharge_id,
            "userId": self.user_id,
            "uuid": self.uuid,
            "currencyId": self.currency_id,
            "rechargeAmount": self.amount_units,
            "rechargeStatus": self.status,
            "transferHash": self.transfer_hash,
            "walletId": self.wallet_id,
            "walletAddress": self.wallet_address,
            "fromAddress": self.from_address,
            "createTime": format_time(self.created),
            "blockTime": format_time(self.block_time),
        })
    }
}

/// A withdrawal (C6), amounts in minor units.
#[derive(Debug, Clone)]
pub struct SimWithdrawal {
    pub withdraw_id: i64,
    pub chain_id: i64,
    pub currency_id: i64,
    pub out_trade_no: String,
    pub amount_units: String,
    pub address: String,
    pub status: u8,
    /// Unix seconds.
    pub created: i64,
    pub transfer_hash: Option<String>,
    pub notify_url: String,
}

impl SimWithdrawal {
    /// The withdraw object of `/withdraw/detail` and the callback (C6).
    pub fn to_json(&self) -> Value {
        json!({
            "chainId": self.chain_id,
            "currencyId": self.currency_id,
            "withdrawId": self.withdraw_id,
            "outTradeNo": self.out_trade_no,
            "withdrawAmount": self.amount_units,
            "withdrawAddress": self.address,
            "withdrawStatus": self.status,
            "withdrawTime": format_time(self.created),
            "transferHash": self.transfer_hash,
        })
    }
}

/// A fault to inject into the next `/withdraw/apply` (or `/user/create`).
pub use super::faults::RequestFault;

/// How callbacks are signed (C5 leaves the signed text unpublished).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackSigning {
    /// Over `POST` + the target URL's path and query + the body, as a request is signed.
    #[default]
    Normal,
    /// Over the target URL's path without its query.
    PathOnly,
    /// Keyed with a secret that is not the account's.
    WrongSecret,
}

struct SimData {
    users: BTreeMap<i64, SimUser>,
    /// `/user/create` requests per uuid, refused repeats included.
    creates: HashMap<String, u32>,
    recharges: BTreeMap<i64, SimRecharge>,
    withdrawals: BTreeMap<i64, SimWithdrawal>,
    /// `/withdraw/apply` requests per `outTradeNo` that passed validation, refused repeats and
    /// HTTP 500s included.
    applies: HashMap<String, u32>,
    callbacks: Vec<SentCallback>,
    /// `decimals` reported by `/conf/list/currency`, by (chainId, currencyId), when overridden.
    reported_decimals: HashMap<(i64, i64), u32>,
    refused_requests: u64,
    next_user_id: i64,
    next_wallet_id: i64,
    next_withdraw_id: i64,
    next_recharge_id: i64,
    withdraw_faults: VecDeque<RequestFault>,
    user_create_faults: VecDeque<RequestFault>,
    stall_ms: u64,
    drop_callbacks: bool,
    callback_signing: CallbackSigning,
    clock_skew_secs: i64,
    detail_500: bool,
}

impl Default for SimData {
    fn default() -> Self {
        SimData {
            users: BTreeMap::new(),
            creates: HashMap::new(),
            recharges: BTreeMap::new(),
            withdrawals: BTreeMap::new(),
            applies: HashMap::new(),
            callbacks: Vec::new(),
            reported_decimals: HashMap::new(),
            refused_requests: 0,
            next_user_id: FIRST_USER_ID,
            next_wallet_id: FIRST_WALLET_ID,
            next_withdraw_id: FIRST_WITHDRAW_ID,
            next_recharge_id: FIRST_RECHARGE_ID,
            withdraw_faults: VecDeque::new(),
            user_create_faults: VecDeque::new(),
            stall_ms: 30_000,
            drop_callbacks: false,
            callback_signing: CallbackSigning::Normal,
            clock_skew_secs: 0,
            detail_500: false,
        }
    }
}

impl SimData {
    fn user_by_uuid(&self, uuid: &str) -> Option<&SimUser> {
        self.users.values().find(|u| u.uuid == uuid)
    }

    fn withdrawal_by_out_trade_no(&self, out_trade_no: &str) -> Option<&SimWithdrawal> {
        self.withdrawals
            .values()
            .find(|w| w.out_trade_no == out_trade_no)
    }

    /// The user and wallet an address belongs to.
    fn wallet_owner(&self, address: &str) -> Option<(&SimUser, &SimWallet)> {
        self.users.values().find_map(|user| {
            user.wallets
                .iter()
                .find(|w| w.wallet_address == address)
                .map(|w| (user, w))
        })
    }
}

pub struct PayProtocolSim {
    api_key: String,
    api_secret: String,
    currencies: Vec<SimCurrency>,
    chains: Vec<SimChain>,
    /// The recharge callback URL set in the console (C5), when the simulator runs inside the
    /// gateway.
    recharge_callback_url: Option<String>,
    schedule: Vec<Duration>,
    data: Mutex<SimData>,
    http: reqwest::Client,
}

type SimState = Arc<PayProtocolSim>;

impl PayProtocolSim {
    /// The simulator for the first Pay Protocol account in `settings`. `gateway_url` is set when it
    /// runs inside the gateway, whose recharge callback URL it then calls.
    pub fn from_settings(
        settings: &Settings,
        gateway_url: Option<&str>,
    ) -> Option<Result<Arc<PayProtocolSim>, String>> {
        let account = settings.providers.iter().find(|a| a.kind == KIND.name)?;
        let build = || -> Result<Arc<PayProtocolSim>, String> {
            let pay: PayProtocolSettings = account.section(SECTION).map_err(|e| e.to_string())?;
            let currencies: Vec<SimCurrency> = account
                .assets::<PayProtocolAsset>()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|a| SimCurrency {
                    chain: a.chain,
                    asset: a.asset,
                    decimals: a.decimals,
                    chain_id: a.chain_id,
                    currency_id: a.currency_id,
                })
                .collect();
            let mut chains: Vec<SimChain> = Vec::new();
            for currency in &currencies {
                if !chains.iter().any(|c| c.chain_id == currency.chain_id) {
                    chains.push(SimChain {
                        chain_id: currency.chain_id,
                        chain: currency.chain.clone(),
                    });
                }
            }
            let schedule = pay
                .sim_callback_schedule_ms
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SCHEDULE_MS.to_vec())
                .into_iter()
                .map(Duration::from_millis)
                .collect();
            Ok(Arc::new(PayProtocolSim {
                api_key: pay.api_key(&account.id)?.expose_secret().to_owned(),
                api_secret: pay.api_secret(&account.id)?.expose_secret().to_owned(),
                currencies,
                chains,
                recharge_callback_url: gateway_url
                    .map(|url| format!("{}/callbacks/{}", url.trim_end_matches('/'), account.id)),
                schedule,
                data: Mutex::new(SimData::default()),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .map_err(|e| e.to_string())?,
            }))
        };
        Some(build())
    }

    /// The simulator's clock in Unix seconds: real time moved by the `clock_skew_secs` fault.
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.data.lock().unwrap().clock_skew_secs
    }

    fn chain(&self, chain_id: i64) -> Option<&SimChain> {
        self.chains.iter().find(|c| c.chain_id == chain_id)
    }

    fn currency(&self, chain_id: i64, currency_id: i64) -> Option<&SimCurrency> {
        self.currencies
            .iter()
            .find(|c| c.chain_id == chain_id && c.currency_id == currency_id)
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as Pay Protocol writes times (C7 §3).
pub fn format_time(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A positive decimal amount written with digits and at most one point, no more than `decimals`
/// places, as an integer string in minor units (amount × 10^decimals). `None` for anything else.
pub fn to_minor_units(amount: &str, decimals: u32) -> Option<String> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits_only(whole)
        || !digits_only(fraction)
        || (amount.contains('.') && fraction.is_empty())
        || fraction.len() > decimals as usize
    {
        return None;
    }
    let value: Decimal = amount.parse().ok()?;
    if value <= Decimal::ZERO {
        return None;
    }
    let scale = value.scale();
    let factor = 10i128.checked_pow(decimals.checked_sub(scale)?)?;
    value.mantissa().checked_mul(factor).map(|u| u.to_string())
}

fn random_hash() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A new address on one of our chains: TRON's `T…` base58 form for `TRX`, `0x` and 40 lowercase
/// hex digits otherwise.
fn new_address(chain: &str) -> String {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    match chain {
        "TRX" => {
            let tail: String = (0..33)
                .map(|_| BASE58[rng.random_range(0..BASE58.len())] as char)
                .collect();
            format!("T{tail}")
        }
        _ => format!("0x{}", hex::encode(rand::random::<[u8; 20]>())),
    }
}

pub fn router(sim: Arc<PayProtocolSim>) -> Router {
    Router::new()
        .route("/api/mer/{*path}", any(api::handle))
        .route("/recharges", post(control::create_recharge))
        .route(
            "/recharges/{recharge_id}/{action}",
            post(control::recharge_action),
        )
        .route(
            "/withdrawals/{withdraw_id}/{action}",
            post(control::withdrawal_action),
        )
        .route("/currencies", post(control::set_currency_decimals))
        .route("/faults", post(control::set_faults))
        .route("/state", get(control::state))
        .with_state(sim)
}
