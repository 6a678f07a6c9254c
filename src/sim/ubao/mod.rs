//! UBAO's side of its protocol (seed 003). Every request is a form (or a JSON object) of
//! `merchantId`, `timestamp`, `nonce`, `body` and `sign` (§0.1–0.3), checked against the account's
//! merchant id and key; the business parameters are the Base64 `body`. It keeps the addresses it
//! made (receive, collection and watch wallets, §1) with their balances per `coinID`, withdrawals
//! from collection wallets (§2, with every request per `order_sn`), watch addresses (§4), sweeps
//! into a collection wallet (§6) and ownership proofs (§7), and sends the three signed form
//! notifications (§0.5, §8–§10) to the address's `callUrl` until the gateway answers `SUCCESS`,
//! on the resend schedule, recording every attempt with the gateway's reply.
//!
//! It reads our requests by the seed's field names on its own (`serde_json::Value`), never through
//! the adapter's types. Amounts come in as decimal strings (`withdraw.amount`) and go out in
//! notifications as integer strings in the coin's smallest unit with `decimals` alongside (§8.3).

mod api;
mod callbacks;
mod control;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rand::Rng;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::providers::SimulatorKind;
use crate::providers::ubao::settings::{UbaoAsset, UbaoSettings};
use crate::providers::ubao::{KIND, SECTION};

pub use callbacks::{CallbackType, SentCallback};

/// UBAO's simulator in the registry, under `/sim/ubao`, for the first UBAO account.
pub const SIMULATOR: SimulatorKind = SimulatorKind {
    mount: "/sim/ubao",
    router: |settings, gateway_url| {
        UbaoSim::from_settings(settings, gateway_url).map(|sim| sim.map(router))
    },
};

/// The documented resends (§8.5): at once, then 5, 15 and 30 minutes after the first send. Each
/// entry is an offset from the moment the notification is first due.
const DEFAULT_SCHEDULE_MS: [u64; 4] = [0, 300_000, 900_000, 1_800_000];

/// How far a request's `timestamp` (Unix seconds) may be from the simulator's clock.
const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// UBAO's trade ids, in the range of the seed's example (`192201`, §9.3).
const FIRST_TRADE_ID: i64 = 192_201;

/// `chainType` of TRON (seed 003 "幣種編號"), whose addresses are base58 `T…`; the others are EVM.
pub const CHAIN_TYPE_TRON: i64 = 160;

/// One coin of the account (seed 003 "幣種編號").
#[derive(Debug, Clone)]
pub struct SimCoin {
    /// `coinID`, e.g. 1004.
    pub coin_id: i64,
    /// `coinName`: our asset, e.g. `USDT`.
    pub coin_name: String,
    /// Our chain symbol, e.g. `TRX`.
    pub chain: String,
    /// `chainType`, e.g. 160.
    pub chain_type: i64,
    pub decimals: u32,
    pub contract: Option<String>,
}

impl SimCoin {
    /// `coinType`: the token's contract, or the chain's name in the coin table for its own coin.
    pub fn coin_type(&self) -> String {
        self.contract
            .clone()
            .unwrap_or_else(|| chain_name(self.chain_type, &self.chain).to_owned())
    }

    /// `chain` of a transfer notification (§9.3, e.g. `bsc`).
    pub fn notify_chain(&self) -> String {
        chain_name(self.chain_type, &self.chain).to_ascii_lowercase()
    }
}

/// A chain's name in the coin table, by `chainType`; our chain symbol for one the table lacks.
fn chain_name(chain_type: i64, chain: &str) -> &str {
    match chain_type {
        160 => "TRON",
        170 => "BSC",
        180 => "ETH",
        190 => "Polygon",
        _ => chain,
    }
}

/// `type` of `/mch/address/create` (§1.3): 0 receive, 2 collection wallet, -2 watch wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletType {
    Receive,
    Collection,
    Watch,
}

impl WalletType {
    fn from_wire(value: i64) -> Option<WalletType> {
        match value {
            0 => Some(WalletType::Receive),
            2 => Some(WalletType::Collection),
            -2 => Some(WalletType::Watch),
            _ => None,
        }
    }
}

/// An address the simulator made, with its balances per `coinID`.
#[derive(Debug, Clone)]
pub struct SimWallet {
    pub address: String,
    pub wallet_type: WalletType,
    pub chain_type: i64,
    pub call_url: String,
    pub balances: BTreeMap<i64, Decimal>,
}

impl SimWallet {
    fn balance(&self, coin_id: i64) -> Decimal {
        self.balances.get(&coin_id).copied().unwrap_or_default()
    }
}

/// An outside address registered with `/mch/address/add` (§4).
#[derive(Debug, Clone, Serialize)]
pub struct WatchAddress {
    pub address: String,
    #[serde(rename = "chainType")]
    pub chain_type: i64,
    #[serde(rename = "callUrl")]
    pub call_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStatus {
    Pending,
    Completed,
    Failed,
}

/// A `/mch/withdraw` (§2) from a collection wallet; its amount is reserved from the wallet.
#[derive(Debug, Clone)]
pub struct SimWithdrawal {
    pub order_sn: String,
    pub from: String,
    pub to: String,
    /// `amount` exactly as requested.
    pub amount: String,
    pub value: Decimal,
    pub coin_id: i64,
    pub chain_type: i64,
    pub status: WithdrawalStatus,
    pub hash: Option<String>,
    pub trade_id: Option<i64>,
    /// The notification's `message`, once completed or failed.
    pub message: Option<String>,
}

impl SimWithdrawal {
    fn to_json(&self, requests: u32) -> Value {
        json!({
            "order_sn": self.order_sn,
            "from": self.from,
            "to": self.to,
            "amount": self.amount,
            "coinID": self.coin_id,
            "chainType": self.chain_type,
            "status": self.status,
            "hash": self.hash,
            "tradeId": self.trade_id,
            "message": self.message,
            "requests": requests,
        })
    }
}

/// A `/mch/address/pooling` (§6): a receive address's whole balance moved to a collection wallet.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub coin_id: i64,
    pub address: String,
    pub to: String,
    pub amount: Decimal,
    pub hash: String,
    pub trade_id: i64,
}

impl Sweep {
    fn to_json(&self) -> Value {
        json!({
            "coinID": self.coin_id,
            "address": self.address,
            "to": self.to,
            "amount": self.amount.normalize().to_string(),
            "hash": self.hash,
            "tradeId": self.trade_id,
        })
    }
}

/// An ownership proof `/mch/address/verify` (§7) accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub address: String,
    pub message: String,
    pub signature: String,
}

/// A fault to inject into the next `/mch/withdraw`.
pub use super::faults::RequestFault as WithdrawFault;

/// A fault to inject into the next `/mch/address/pooling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PoolingFault {
    /// Answer HTTP 500 without moving anything (the request is still counted).
    #[serde(rename = "error_500")]
    Error500,
}

struct SimData {
    /// In creation order: a chain's first collection wallet receives its sweeps.
    wallets: Vec<SimWallet>,
    watch: Vec<WatchAddress>,
    withdrawals: Vec<SimWithdrawal>,
    /// `/mch/withdraw` requests per `order_sn`, refused and failed ones included.
    withdraw_requests: BTreeMap<String, u32>,
    sweeps: Vec<Sweep>,
    /// `/mch/address/pooling` requests per (address, coinID).
    pooling_requests: BTreeMap<(String, i64), u32>,
    proofs: Vec<Proof>,
    callbacks: Vec<SentCallback>,
    /// `decimals` reported by `/mch/coins`, by coinID, when overridden.
    reported_decimals: HashMap<i64, u32>,
    refused_requests: u64,
    next_trade_id: i64,
    withdraw_faults: VecDeque<WithdrawFault>,
    address_faults: VecDeque<WithdrawFault>,
    pooling_faults: VecDeque<PoolingFault>,
    stall_ms: u64,
    drop_callbacks: bool,
}

impl Default for SimData {
    fn default() -> Self {
        SimData {
            wallets: Vec::new(),
            watch: Vec::new(),
            withdrawals: Vec::new(),
            withdraw_requests: BTreeMap::new(),
            sweeps: Vec::new(),
            pooling_requests: BTreeMap::new(),
            proofs: Vec::new(),
            callbacks: Vec::new(),
            reported_decimals: HashMap::new(),
            refused_requests: 0,
            next_trade_id: FIRST_TRADE_ID,
            withdraw_faults: VecDeque::new(),
            address_faults: VecDeque::new(),
            pooling_faults: VecDeque::new(),
            stall_ms: 30_000,
            drop_callbacks: false,
        }
    }
}

impl SimData {
    fn wallet(&self, address: &str) -> Option<&SimWallet> {
        self.wallets
            .iter()
            .find(|w| same_address(&w.address, address))
    }

    fn wallet_mut(&mut self, address: &str) -> Option<&mut SimWallet> {
        self.wallets
            .iter_mut()
            .find(|w| same_address(&w.address, address))
    }

    fn withdrawal_mut(&mut self, order_sn: &str) -> Option<&mut SimWithdrawal> {
        self.withdrawals.iter_mut().find(|w| w.order_sn == order_sn)
    }

    fn next_trade_id(&mut self) -> i64 {
        let id = self.next_trade_id;
        self.next_trade_id += 1;
        id
    }
}

pub struct UbaoSim {
    merchant_id: i64,
    api_key: String,
    coins: Vec<SimCoin>,
    schedule: Vec<Duration>,
    data: Mutex<SimData>,
    http: reqwest::Client,
}

type SimState = Arc<UbaoSim>;

impl UbaoSim {
    /// The simulator for the first UBAO account in `settings`. Its configured collection wallets
    /// exist from the start; when it runs inside the gateway (`gateway_url`), their notifications
    /// go to the account's callback URL.
    pub fn from_settings(
        settings: &Settings,
        gateway_url: Option<&str>,
    ) -> Option<Result<Arc<UbaoSim>, String>> {
        let account = settings.providers.iter().find(|a| a.kind == KIND.name)?;
        let build = || -> Result<Arc<UbaoSim>, String> {
            let ubao: UbaoSettings = account.section(SECTION).map_err(|e| e.to_string())?;
            let coins: Vec<SimCoin> = account
                .assets::<UbaoAsset>()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|a| SimCoin {
                    coin_id: a.coin_id,
                    coin_name: a.asset,
                    chain: a.chain,
                    chain_type: a.chain_type,
                    decimals: a.decimals,
                    contract: a.contract.filter(|c| !c.trim().is_empty()),
                })
                .collect();
            let call_url = gateway_url
                .map(|url| format!("{}/callbacks/{}", url.trim_end_matches('/'), account.id))
                .unwrap_or_default();
            let mut data = SimData::default();
            for (chain, address) in &ubao.collection_wallets {
                let chain_type = coins
                    .iter()
                    .find(|c| c.chain == *chain)
                    .map(|c| c.chain_type)
                    .ok_or_else(|| format!("collection wallet on {chain}, which has no asset"))?;
                if !valid_address(chain_type, address) {
                    return Err(format!(
                        "collection wallet {address:?} is no {chain} address"
                    ));
                }
                data.wallets.push(SimWallet {
                    address: address.clone(),
                    wallet_type: WalletType::Collection,
                    chain_type,
                    call_url: call_url.clone(),
                    balances: BTreeMap::new(),
                });
            }
            let schedule = ubao
                .sim_callback_schedule_ms
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SCHEDULE_MS.to_vec())
                .into_iter()
                .map(Duration::from_millis)
                .collect();
            Ok(Arc::new(UbaoSim {
                merchant_id: ubao.merchant_id,
                api_key: ubao.api_key(&account.id)?.expose_secret().to_owned(),
                coins,
                schedule,
                data: Mutex::new(data),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .map_err(|e| e.to_string())?,
            }))
        };
        Some(build())
    }

    fn coin(&self, coin_id: i64) -> Option<&SimCoin> {
        self.coins.iter().find(|c| c.coin_id == coin_id)
    }

    fn knows_chain(&self, chain_type: i64) -> bool {
        self.coins.iter().any(|c| c.chain_type == chain_type)
    }

    /// The coin `coin_id` on `chain_type`; without one, the chain's own coin (no contract), else
    /// its first coin.
    fn coin_on_chain(&self, chain_type: i64, coin_id: Option<i64>) -> Option<&SimCoin> {
        let mut on_chain = self.coins.iter().filter(|c| c.chain_type == chain_type);
        match coin_id {
            Some(id) => on_chain.find(|c| c.coin_id == id),
            None => {
                let first = self.coins.iter().find(|c| c.chain_type == chain_type);
                on_chain.find(|c| c.contract.is_none()).or(first)
            }
        }
    }
}

/// Whether two addresses are the same: EVM hex compared without case, TRON's base58 exactly.
fn same_address(a: &str, b: &str) -> bool {
    if a.starts_with("0x") && b.starts_with("0x") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// An address of the chain's form: `T` and 33 base58 characters on TRON, `0x` and 40 hex digits
/// elsewhere.
pub fn valid_address(chain_type: i64, address: &str) -> bool {
    if chain_type == CHAIN_TYPE_TRON {
        address.len() == 34
            && address.starts_with('T')
            && address.bytes().all(|b| BASE58.contains(&b))
    } else {
        address.len() == 42
            && address.starts_with("0x")
            && address[2..].bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// A new address of the chain's form, EVM ones in lower case.
fn new_address(chain_type: i64) -> String {
    if chain_type == CHAIN_TYPE_TRON {
        let mut rng = rand::rng();
        let tail: String = (0..33)
            .map(|_| BASE58[rng.random_range(0..BASE58.len())] as char)
            .collect();
        format!("T{tail}")
    } else {
        format!("0x{}", hex::encode(rand::random::<[u8; 20]>()))
    }
}

/// A new transaction hash: 64 hex digits on TRON, `0x`-prefixed elsewhere.
fn new_hash(chain_type: i64) -> String {
    let digits = hex::encode(rand::random::<[u8; 32]>());
    if chain_type == CHAIN_TYPE_TRON {
        digits
    } else {
        format!("0x{digits}")
    }
}

/// A positive decimal amount written with digits and at most one point, with no more than
/// `decimals` places. `None` for anything else (exponents, signs, blanks, too many places, more
/// digits than an exact decimal holds).
pub fn parse_amount(amount: &str, decimals: u32) -> Option<Decimal> {
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
    // `Decimal` holds 28 significant digits and rounds beyond them: such an amount is refused,
    // never changed.
    let digits = format!("{whole}{fraction}");
    let significant = match digits.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let exact =
        value.scale() as usize == fraction.len() && value.mantissa().to_string() == significant;
    (exact && value > Decimal::ZERO).then_some(value)
}

/// An amount as an integer string in the coin's smallest unit (amount × 10^decimals), written out
/// digit by digit so that 18 decimals never overflow.
pub fn to_units(amount: Decimal, decimals: u32) -> String {
    let text = amount.round_dp(decimals).normalize().abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut digits = String::with_capacity(whole.len() + decimals as usize);
    digits.push_str(whole);
    digits.push_str(fraction);
    digits.extend(std::iter::repeat_n('0', decimals as usize - fraction.len()));
    match digits.trim_start_matches('0') {
        "" => "0".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// A balance or amount as a decimal string, without trailing zeros.
fn decimal_text(amount: Decimal) -> String {
    amount.normalize().to_string()
}

pub fn router(sim: Arc<UbaoSim>) -> Router {
    Router::new()
        .route("/mch/{*path}", post(api::handle))
        .route("/deposits", post(control::deposit))
        .route("/watch/{address}/transfers", post(control::watch_transfer))
        .route(
            "/withdrawals/{order_sn}/{action}",
            post(control::withdrawal_action),
        )
        .route("/ownership", post(control::add_proof))
        .route("/coins", post(control::set_coin_decimals))
        .route("/collection/{address}/fund", post(control::fund_collection))
        .route("/faults", post(control::set_faults))
        .route("/state", get(control::state))
        .with_state(sim)
}
