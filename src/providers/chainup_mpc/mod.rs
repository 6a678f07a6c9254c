//! ChainUp Custody MPC adapter (shared/providers/chainup_mpc.md, part A; seed 000). Every request and
//! reply is RSA-encrypted (`transport`); deposits are pulled from sync lists as well as notified;
//! confirmations are counted against chain height; withdrawals may be signed (`sign`) and are
//! approved by Co-Signer through the gateway's approval endpoint.

pub mod settings;
pub mod sign;
pub mod transport;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::money::{MAX_DECIMALS, ProviderUnits, provider_amount};
use crate::domain::{ChainAsset, OrderKind};
use crate::providers::crypto::rsa::{PrivateKey, PublicKey};
use crate::providers::crypto::{constant_time_eq, md5_hex, random_alphanumeric};
use crate::providers::{
    AckResult, AddressRequest, ApprovalCall, ApprovalRequest, ApprovalStage, AssetInfo,
    CallbackError, DepositEvent, EventBody, InvalidEvent, NewAddress, Polled, Provider,
    ProviderError, ProviderEvent, ProviderKind, RawCallback, RemoteAsset, WithdrawalEvent,
    WithdrawalRequest, http_client,
};

use settings::{ChainupAsset, ChainupSettings};
use sign::{WithdrawalSignFields, chainup_sign, normalized_amount, public_key_hash};
use transport::{decode_reply, encrypt_request, open_notification};
use wire::Record;

/// ChainUp MPC in the registry: `kind = "chainup_mpc"`, settings in `[providers.chainup]`,
/// simulated under `/sim/chainup`.
pub const KIND: ProviderKind = ProviderKind {
    name: "chainup_mpc",
    build: |account, base_url| Ok(Arc::new(ChainupProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::chainup::SIMULATOR),
};

/// The account's own table: `[providers.chainup]`.
pub const SECTION: &str = "chainup";

/// Sync lists return at most this many records a page (A6).
const PAGE: usize = 100;
pub const FEED_DEPOSITS: &str = "deposits";
pub const FEED_WITHDRAWALS: &str = "withdrawals";

#[derive(Debug, Clone)]
struct ChainupCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    symbol: String,
    base_symbol: String,
    confirmations: Option<u32>,
}

pub struct ChainupProvider {
    account_id: String,
    base_url: String,
    app_id: String,
    private_key: PrivateKey,
    chainup_key: PublicKey,
    sign_key: Option<PrivateKey>,
    withdraw_sub_wallet_id: i64,
    assets: Vec<AssetInfo>,
    coins: Vec<ChainupCoin>,
    http: reqwest::Client,
}

enum Method {
    Get,
    Post,
}

impl ChainupProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<ChainupProvider, SettingsError> {
        let invalid =
            |what: String| SettingsError::Invalid(format!("account {:?}: {what}", account.id));
        let settings: ChainupSettings = account.section(SECTION)?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<ChainupAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            coins.push(ChainupCoin {
                base_symbol: asset.base_symbol.unwrap_or_else(|| info.chain.clone()),
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                symbol: asset.symbol,
                confirmations: asset.confirmations,
            });
            assets.push(info);
        }
        Ok(ChainupProvider {
            account_id: account.id.clone(),
            base_url,
            app_id: settings.app_id.clone(),
            private_key: settings.private_key().map_err(invalid)?,
            chainup_key: settings.chainup_public_key().map_err(invalid)?,
            sign_key: settings.sign_key().map_err(invalid)?,
            withdraw_sub_wallet_id: settings.withdraw_sub_wallet_id,
            assets,
            coins,
            http: http_client(account)?,
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&ChainupCoin, ProviderError> {
        self.coins
            .iter()
            .find(|c| &c.chain_asset == chain_asset)
            .ok_or_else(|| {
                ProviderError::Unsupported(format!(
                    "{chain_asset} is not mapped for {}",
                    self.account_id
                ))
            })
    }

    fn coin_by_symbol(&self, symbol: &str) -> Option<&ChainupCoin> {
        self.coins
            .iter()
            .find(|c| c.symbol.eq_ignore_ascii_case(symbol))
    }

    /// Encrypts `fields`, sends them (A1, A3) and returns the decrypted `data` of a `code` 0 reply (A4).
    async fn call(
        &self,
        method: Method,
        path: &str,
        fields: Map<String, Value>,
    ) -> Result<Value, ProviderError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let data = encrypt_request(fields, now_ms, &self.private_key).map_err(|e| {
            ProviderError::Refused {
                code: "encrypt".into(),
                message: e.to_string(),
            }
        })?;
        let url = format!("{}{}", self.base_url, path);
        let request = match method {
            Method::Get => {
                let mut url = url::Url::parse(&url)
                    .map_err(|_| ProviderError::Unsupported("bad base URL".into()))?;
                url.query_pairs_mut()
                    .append_pair("app_id", &self.app_id)
                    .append_pair("data", &data);
                self.http.get(url)
            }
            Method::Post => self
                .http
                .post(url)
                .form(&[("app_id", self.app_id.as_str()), ("data", data.as_str())]),
        };
        let response = request
            .send()
            .await
            .map_err(ProviderError::from_transport)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ProviderError::Unknown {
                detail: format!("HTTP {status} from {path}"),
                timed_out: false,
            });
        }
        let body = response
            .text()
            .await
            .map_err(ProviderError::from_transport)?;
        let reply = decode_reply(&body, &self.chainup_key).map_err(|e| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        })?;
        if reply.is_ok() {
            Ok(reply.data)
        } else {
            Err(ProviderError::Refused {
                code: reply.code,
                message: reply.msg,
            })
        }
    }

    /// An amount of `coin` in whole units (A5), within the coin's decimals (any decimals up to
    /// the most we hold when the coin is not mapped).
    fn amount(coin: Option<&ChainupCoin>, field: &str, text: &str) -> Result<Decimal, String> {
        let max = coin.map_or(MAX_DECIMALS, |c| c.decimals);
        provider_amount(text, ProviderUnits::Whole, max)
            .map_err(|e| format!("{field} {text:?}: {e}"))
    }

    fn deposit_event(&self, record: &Record) -> ProviderEvent {
        let coin = self.coin_by_symbol(&record.symbol);
        let body = match Self::amount(coin, "amount", &record.amount) {
            Ok(amount) => EventBody::Deposit(DepositEvent {
                chain_asset: coin.map(|c| c.chain_asset.clone()),
                address: record.address_to.clone().unwrap_or_default(),
                memo: record.memo.clone(),
                amount,
                fee: None,
                tx_hash: record.txid.clone(),
                block_height: record
                    .tx_height
                    .as_deref()
                    .and_then(|h| h.parse().ok())
                    .filter(|h: &i64| *h > 0),
                state: wire::deposit_state(&record.status),
            }),
            Err(reason) => EventBody::Invalid(InvalidEvent {
                order_kind: OrderKind::Deposit,
                request_id: None,
                reason,
            }),
        };
        ProviderEvent {
            event_key: format!("deposit:{}:{}", record.id, record.status),
            provider_ref: record.id.clone(),
            provider_status: record.status.clone(),
            body,
        }
    }

    fn withdrawal_event(&self, record: &Record) -> ProviderEvent {
        let coin = self.coin_by_symbol(&record.symbol);
        let request_id = record.request_id.clone().unwrap_or_default();
        let fee = record.real_fee.as_deref().or(record.fee.as_deref());
        // The fee may be in another coin (`fee_symbol`), so only its form is checked here.
        let amounts = Self::amount(coin, "amount", &record.amount).and_then(|amount| {
            let fee = fee.map(|f| Self::amount(None, "fee", f)).transpose()?;
            Ok((amount, fee))
        });
        let body = match amounts {
            Ok((amount, fee)) => EventBody::Withdrawal(WithdrawalEvent {
                request_id,
                chain_asset: coin.map(|c| c.chain_asset.clone()),
                address: record.address_to.clone().unwrap_or_default(),
                amount,
                fee,
                tx_hash: record.txid.clone(),
                state: wire::withdrawal_state(&record.status),
            }),
            Err(reason) => EventBody::Invalid(InvalidEvent {
                order_kind: OrderKind::Withdrawal,
                request_id: Some(request_id).filter(|r| !r.is_empty()),
                reason,
            }),
        };
        ProviderEvent {
            event_key: format!("withdraw:{}:{}", record.id, record.status),
            provider_ref: record.id.clone(),
            provider_status: record.status.clone(),
            body,
        }
    }

    /// Co-Signer's start-up self-check (A9b): does it hold our public key, and the key that
    /// verifies our withdrawal `sign` (the sign key, or our main key when there is none)?
    fn key_self_check(&self, body: &Value) -> Response {
        let own_app = body["app_id"].as_str() == Some(self.app_id.as_str());
        let matches = |claimed: &Value, key: &PrivateKey| {
            let expected = public_key_hash(&self.app_id, &key.public_key()).ok();
            own_app
                && expected.is_some_and(|e| {
                    claimed
                        .as_str()
                        .is_some_and(|c| constant_time_eq(&c.to_ascii_lowercase(), &e))
                })
        };
        let client = matches(&body["client_system_pubkey_hash"], &self.private_key);
        let sign = matches(
            &body["verify_sign_pub_hash"],
            self.sign_key.as_ref().unwrap_or(&self.private_key),
        );
        let verdict = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
        if client && sign {
            tracing::info!(account = %self.account_id, "Co-Signer key self-check passed");
        } else {
            tracing::warn!(account = %self.account_id, client, sign, "Co-Signer key self-check failed");
        }
        axum::Json(json!({
            "client_system_pubkey_hash_valid": verdict(client),
            "verify_sign_pub_hash_valid": verdict(sign),
        }))
        .into_response()
    }

    fn records(data: Value) -> Result<Vec<Record>, ProviderError> {
        serde_json::from_value(if data.is_null() { json!([]) } else { data }).map_err(|e| {
            ProviderError::Unknown {
                detail: format!("records: {e}"),
                timed_out: false,
            }
        })
    }
}

fn fields(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[async_trait]
impl Provider for ChainupProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// One sub-wallet per merchant user (`sub_wallet/create`, type 1 custody), remembered through
    /// `wallet_ref`, then `sub_wallet/create/address`. A system address (`addr_type` 2) is never
    /// handed out.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let sub_wallet_id = match request.wallet_ref {
            Some(id) => id.to_owned(),
            None => {
                // Names are unique at ChainUp: the user's hash for ops, plus a random tail so that
                // a wallet created just before a crash never blocks the next attempt.
                let user_hash = md5_hex(&[&request.merchant_id.to_string(), ":", request.user_id]);
                let name = format!("cg-{}-{}", &user_hash[..24], random_alphanumeric(8));
                let created = self
                    .call(
                        Method::Post,
                        "/api/mpc/sub_wallet/create",
                        fields(&[
                            ("sub_wallet_name", json!(name)),
                            ("sub_wallet_type", json!(1)),
                        ]),
                    )
                    .await?;
                id_text(&created["sub_wallet_id"])
                    .ok_or_else(|| unknown("sub_wallet/create without sub_wallet_id"))?
            }
        };
        let numeric_id: i64 = sub_wallet_id
            .parse()
            .map_err(|_| unknown("sub_wallet_id is not a number"))?;
        let created = self
            .call(
                Method::Post,
                "/api/mpc/sub_wallet/create/address",
                fields(&[
                    ("sub_wallet_id", json!(numeric_id)),
                    ("symbol", json!(coin.symbol)),
                ]),
            )
            .await?;
        if id_text(&created["addr_type"]).as_deref() == Some("2") {
            return Err(ProviderError::Refused {
                code: "system_address".into(),
                message: "ChainUp returned a system address, which is never assigned to users"
                    .into(),
            });
        }
        let address = created["address"]
            .as_str()
            .ok_or_else(|| unknown("address reply without address"))?;
        Ok(NewAddress {
            address: address.to_owned(),
            memo: created["memo"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            wallet_ref: Some(sub_wallet_id),
        })
    }

    /// `billing/withdraw` (A7) with `request_id` = our request id, the amount without trailing
    /// zeros, and `sign` (A5) when the account has a sign key.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<(), ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let amount = normalized_amount(request.amount);
        let mut body = fields(&[
            ("request_id", json!(request.request_id)),
            ("sub_wallet_id", json!(self.withdraw_sub_wallet_id)),
            ("symbol", json!(coin.symbol)),
            ("address_to", json!(request.to_address)),
            ("amount", json!(amount)),
        ]);
        if let Some(memo) = request.memo {
            body.insert("memo".into(), json!(memo));
        }
        if let Some(key) = &self.sign_key {
            let text = WithdrawalSignFields {
                request_id: request.request_id,
                sub_wallet_id: self.withdraw_sub_wallet_id,
                symbol: &coin.symbol,
                address_to: request.to_address,
                amount: request.amount,
                memo: request.memo,
                outputs: None,
            }
            .signed_text();
            let sign = chainup_sign(&text, key).map_err(|e| ProviderError::Refused {
                code: "sign".into(),
                message: e.to_string(),
            })?;
            body.insert("sign".into(), json!(sign));
        }
        match self
            .call(Method::Post, "/api/mpc/billing/withdraw", body)
            .await
        {
            Ok(_) => Ok(()),
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_DUPLICATE_REQUEST => {
                Err(ProviderError::Duplicate)
            }
            Err(err) => Err(err),
        }
    }

    async fn validate_address(
        &self,
        _chain_asset: &ChainAsset,
        _address: &str,
    ) -> Result<bool, ProviderError> {
        Err(ProviderError::Unsupported(
            "ChainUp MPC offers no address check".into(),
        ))
    }

    /// `coin_list`, fetched unfiltered (the SDK's filter names differ from the docs').
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        let data = self
            .call(Method::Get, "/api/mpc/coin_list", Map::new())
            .await?;
        let coins = data.as_array().cloned().unwrap_or_default();
        Ok(coins
            .iter()
            .map(|coin| {
                let symbol = coin["symbol"].as_str().unwrap_or_default().to_owned();
                RemoteAsset {
                    mapped_to: self.coin_by_symbol(&symbol).map(|c| c.chain_asset.clone()),
                    decimals: id_text(&coin["decimals"])
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(0),
                    provider_ids: json!({ "symbol": symbol, "base_symbol": coin["base_symbol"],
                                          "contract_address": coin["contract_address"],
                                          "deposit_confirmation": coin["deposit_confirmation"] }),
                    name: coin["real_symbol"].as_str().unwrap_or_default().to_owned(),
                    symbol,
                }
            })
            .collect())
    }

    /// Transaction notification (A9a): form `app_id` + `data`, decrypted with ChainUp's key.
    fn parse_callback(&self, callback: &RawCallback) -> Result<Vec<ProviderEvent>, CallbackError> {
        let mut app_id = None;
        let mut data = None;
        for (key, value) in form_urlencoded::parse(&callback.body) {
            match key.as_ref() {
                "app_id" => app_id = Some(value.into_owned()),
                "data" => data = Some(value.into_owned()),
                _ => {}
            }
        }
        let data = data.ok_or_else(|| CallbackError::Malformed("missing field \"data\"".into()))?;
        if app_id.as_deref() != Some(self.app_id.as_str()) {
            return Err(CallbackError::Malformed(
                "app_id is not this account's".into(),
            ));
        }
        // A form decoder turns '+' into ' '; URL-safe Base64 has no '+', standard Base64 does.
        let data = data.replace(' ', "+");
        let fields =
            open_notification(&data, &self.chainup_key).map_err(|_| CallbackError::BadSignature)?;
        let side = fields
            .get("side")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let record: Record = serde_json::from_value(Value::Object(fields))
            .map_err(|e| CallbackError::Invalid(format!("notification record: {e}")))?;
        match side.as_str() {
            "deposit" => Ok(vec![self.deposit_event(&record)]),
            "withdraw" => Ok(vec![self.withdrawal_event(&record)]),
            "web3-trans" => Ok(Vec::new()),
            other => Err(CallbackError::Invalid(format!("unknown side {other:?}"))),
        }
    }

    fn ack(&self, result: AckResult) -> Response {
        match result {
            AckResult::Processed => (StatusCode::OK, "SUCCESS").into_response(),
            AckResult::Rejected => (StatusCode::BAD_REQUEST, "FAILURE").into_response(),
            AckResult::RetryLater => (StatusCode::SERVICE_UNAVAILABLE, "FAILURE").into_response(),
        }
    }

    fn feeds(&self) -> &'static [&'static str] {
        &[FEED_DEPOSITS, FEED_WITHDRAWALS]
    }

    /// `sync_deposit_list` / `sync_withdraw_list` by `max_id` (A6): up to 100 records after it.
    async fn poll(&self, feed: &str, cursor: Option<&str>) -> Result<Polled, ProviderError> {
        let path = match feed {
            FEED_DEPOSITS => "/api/mpc/billing/sync_deposit_list",
            FEED_WITHDRAWALS => "/api/mpc/billing/sync_withdraw_list",
            other => return Err(ProviderError::Unsupported(format!("no feed {other}"))),
        };
        let max_id: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let data = self
            .call(Method::Get, path, fields(&[("max_id", json!(max_id))]))
            .await?;
        let records = Self::records(data)?;
        let last = records
            .iter()
            .filter_map(|r| r.id.parse::<i64>().ok())
            .max();
        let events = records
            .iter()
            .map(|r| {
                if feed == FEED_DEPOSITS {
                    self.deposit_event(r)
                } else {
                    self.withdrawal_event(r)
                }
            })
            .collect();
        Ok(Polled {
            events,
            next_cursor: last.filter(|l| *l > max_id).map(|l| l.to_string()),
            more: records.len() >= PAGE,
        })
    }

    fn required_confirmations(&self, chain_asset: &ChainAsset) -> Option<u32> {
        self.coins
            .iter()
            .find(|c| &c.chain_asset == chain_asset)?
            .confirmations
    }

    /// `chain_height` for the chain's base symbol; `height` or `block_height`.
    async fn chain_height(&self, chain: &str) -> Result<i64, ProviderError> {
        let base = self
            .coins
            .iter()
            .find(|c| c.chain_asset.chain == chain)
            .map(|c| c.base_symbol.clone())
            .unwrap_or_else(|| chain.to_owned());
        let data = self
            .call(
                Method::Get,
                "/api/mpc/chain_height",
                fields(&[("base_symbol", json!(base))]),
            )
            .await?;
        id_text(&data["height"])
            .or_else(|| id_text(&data["block_height"]))
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| unknown("chain_height without a height"))
    }

    /// `withdraw_list?ids=<request_id>`.
    async fn withdrawal_status(
        &self,
        request_id: &str,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        let data = self
            .call(
                Method::Get,
                "/api/mpc/billing/withdraw_list",
                fields(&[("ids", json!(request_id))]),
            )
            .await?;
        let records = Self::records(data)?;
        Ok(records
            .iter()
            .find(|r| r.request_id.as_deref() == Some(request_id))
            .map(|r| self.withdrawal_event(r)))
    }

    /// Co-Signer asks before it signs (A9b).
    fn takes_approvals(&self) -> bool {
        true
    }

    /// Co-Signer's calls (A9b): plaintext JSON `sign_start` / `sign_success`, with the withdrawal
    /// id as `transfer_id` or `withdraw_id` and the amount as a number or a string.
    fn parse_approval(&self, call: &RawCallback) -> Result<ApprovalCall, CallbackError> {
        let body: Value = serde_json::from_slice(&call.body)
            .map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
        let kind = body["type"].as_str().unwrap_or_default();
        if kind == "verify_public_hash" {
            return Ok(ApprovalCall::Answered(self.key_self_check(&body)));
        }
        let stage = match kind {
            "sign_start" => ApprovalStage::SignStart,
            "sign_success" => ApprovalStage::SignSuccess {
                tx_hash: body["txid"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            },
            other => {
                return Err(CallbackError::Invalid(format!(
                    "unsupported Co-Signer call {other:?}"
                )));
            }
        };
        let transfer_id = id_text(&body["transfer_id"])
            .or_else(|| id_text(&body["withdraw_id"]))
            .ok_or_else(|| CallbackError::Invalid("no transfer_id or withdraw_id".into()))?;
        let coin = body["symbol"].as_str().and_then(|s| self.coin_by_symbol(s));
        // A JSON number is read from its digits (serde_json's arbitrary precision), not a float.
        let amount = id_text(&body["amount"])
            .ok_or_else(|| CallbackError::Invalid("no amount".into()))
            .and_then(|a| Self::amount(coin, "amount", &a).map_err(CallbackError::Invalid))?;
        let request_id = body["request_id"].as_str().unwrap_or_default().to_owned();
        let pending_round = body["pending_round"].as_bool().unwrap_or(false);
        let to = body["to"].as_str().unwrap_or_default();
        Ok(ApprovalCall::Withdrawal(ApprovalRequest {
            // The whole question: a changed amount or destination is a new question.
            key: format!("{kind}:{transfer_id}:{request_id}:{to}:{amount}:{pending_round}"),
            stage,
            request_id,
            provider_ref: transfer_id,
            chain_asset: coin.map(|c| c.chain_asset.clone()),
            to_address: to.to_owned(),
            amount,
        }))
    }

    /// Co-Signer approves on the plain text `SUCCESS`; anything else refuses.
    fn approval_reply(&self, _request: &ApprovalRequest, approve: bool) -> Response {
        (StatusCode::OK, if approve { "SUCCESS" } else { "FAILURE" }).into_response()
    }
}

/// A JSON number or string, as text (ids, heights and types arrive either way).
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unknown(detail: &str) -> ProviderError {
    ProviderError::Unknown {
        detail: detail.to_owned(),
        timed_out: false,
    }
}

#[cfg(test)]
mod tests {
    use super::wire::{deposit_state, withdrawal_state};
    use crate::domain::{DepositState, WithdrawalState};

    #[test]
    fn statuses_map_to_states_and_unknown_ones_to_none() {
        assert_eq!(deposit_state("1000"), Some(DepositState::Detected));
        assert_eq!(deposit_state("1100"), Some(DepositState::Detected));
        assert_eq!(deposit_state("2000"), Some(DepositState::Confirmed));
        assert_eq!(deposit_state("3000"), Some(DepositState::Failed));
        assert_eq!(deposit_state("9999"), None);
        assert_eq!(withdrawal_state("1200"), Some(WithdrawalState::Broadcast));
        assert_eq!(withdrawal_state("2300"), Some(WithdrawalState::Rejected));
        assert_eq!(withdrawal_state("2400"), Some(WithdrawalState::Failed));
        assert_eq!(withdrawal_state("5"), None);
    }
}
