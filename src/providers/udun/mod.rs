//! Udun adapter (seed 001; shared/providers/udun.md). Requests are signed JSON envelopes whose `body`
//! is a JSON string; callbacks are signed forms whose `body` carries amounts in the smallest unit.

pub mod settings;
pub mod sign;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ProviderAccountSettings, SettingsError, resolve_secret};
use crate::domain::money::{MAX_DECIMALS, ProviderUnits, provider_amount, to_wire};
use crate::domain::{ChainAsset, DepositState, WithdrawalState};
use crate::providers::crypto::random_alphanumeric;
use crate::providers::{
    AddressRequest, AssetInfo, AssetReport, CallbackError, DepositEvent, Endpoint, EventBody,
    EventKind, Inbound, InvalidEvent, NewAddress, Outcome, Provider, ProviderError, ProviderEvent,
    ProviderKind, ProviderReply, RawCallback, RemoteAsset, Submitted, WithdrawalEvent,
    WithdrawalRequest, http_client, send_for_text,
};

use settings::{UdunAsset, UdunSettings, UdunWithdrawMode};
use sign::{udun_sign, verify_udun_sign};
use wire::{Reply, Trade};

/// Udun in the registry: `kind = "udun"`, settings in `[providers.udun]`, simulated under `/sim/udun`.
pub const KIND: ProviderKind = ProviderKind {
    name: "udun",
    build: |account, base_url| Ok(Arc::new(UdunProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::udun::SIMULATOR),
};

/// The account's own table: `[providers.udun]`.
pub const SECTION: &str = "udun";

/// A configured chain/asset with Udun's numbers for it.
#[derive(Debug, Clone)]
struct UdunCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    main_coin_type: String,
    coin_type: String,
}

pub struct UdunProvider {
    account_id: String,
    base_url: String,
    merchant_id: String,
    api_key: SecretString,
    withdraw_mode: UdunWithdrawMode,
    assets: Vec<AssetInfo>,
    coins: Vec<UdunCoin>,
    http: reqwest::Client,
}

impl UdunProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<UdunProvider, SettingsError> {
        let udun: UdunSettings = account.section(SECTION)?;
        let api_key = resolve_secret(
            udun.api_key.as_ref(),
            udun.api_key_env.as_deref(),
            None,
            &format!("account {:?} api_key", account.id),
        )?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<UdunAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            coins.push(UdunCoin {
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                coin_type: asset
                    .coin_type
                    .unwrap_or_else(|| asset.main_coin_type.clone()),
                main_coin_type: asset.main_coin_type,
            });
            assets.push(info);
        }
        Ok(UdunProvider {
            account_id: account.id.clone(),
            base_url,
            merchant_id: udun.merchant_id.clone(),
            api_key,
            withdraw_mode: udun.withdraw_mode,
            assets,
            coins,
            http: http_client(account)?,
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&UdunCoin, ProviderError> {
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

    /// Contract addresses may differ in letter case between our config and Udun's reports.
    fn coin_by_ids(&self, main_coin_type: &str, coin_type: &str) -> Option<&UdunCoin> {
        self.coins.iter().find(|c| {
            c.main_coin_type == main_coin_type && c.coin_type.eq_ignore_ascii_case(coin_type)
        })
    }

    /// Signs and posts `body` (the business JSON text) to `path`; `Ok` only for code 200.
    async fn call(&self, path: &str, body: String) -> Result<Reply, ProviderError> {
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        let nonce = random_alphanumeric(6).to_ascii_lowercase();
        let sign = udun_sign(&body, self.api_key.expose_secret(), &nonce, &timestamp);
        let envelope = wire::Envelope {
            timestamp,
            nonce,
            sign,
            body,
        };
        let request = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .json(&envelope);
        let (status, text) = send_for_text(request, path).await?;
        let reply: Reply = match serde_json::from_str(&text) {
            Ok(reply) => reply,
            Err(_) if status.is_client_error() => {
                return Err(ProviderError::Refused {
                    code: format!("http_{}", status.as_u16()),
                    message: format!("HTTP {status} from {path}"),
                });
            }
            Err(err) => {
                return Err(ProviderError::Unknown {
                    detail: format!("undecodable reply from {path}: {err}"),
                    timed_out: false,
                });
            }
        };
        if reply.code == wire::CODE_OK {
            Ok(reply)
        } else {
            Err(ProviderError::Refused {
                message: reply.message.clone().unwrap_or_default(),
                code: reply.code,
            })
        }
    }

    /// The trade's amount and fee in whole units: smallest units ÷ 10^`decimals` (udun.md A5),
    /// within the configured asset's decimals.
    fn trade_amounts(
        trade: &Trade,
        coin: Option<&UdunCoin>,
    ) -> Result<(rust_decimal::Decimal, Option<rust_decimal::Decimal>), String> {
        let decimals: u32 = trade
            .decimals
            .parse()
            .map_err(|_| format!("decimals {:?} is not a whole number", trade.decimals))?;
        let units = ProviderUnits::Smallest { decimals };
        let max = coin.map_or(MAX_DECIMALS, |c| c.decimals);
        let read = |field: &str, text: &str| {
            provider_amount(text, units, max).map_err(|e| format!("{field} {text:?}: {e}"))
        };
        let amount = read("amount", &trade.amount)?;
        let fee = trade.fee.as_deref().map(|f| read("fee", f)).transpose()?;
        Ok((amount, fee))
    }

    fn trade_to_event(&self, trade: &Trade) -> Result<ProviderEvent, CallbackError> {
        let coin = self.coin_by_ids(&trade.main_coin_type, &trade.coin_type);
        let chain_asset = coin.map(|c| c.chain_asset.clone());
        let block_height = trade
            .block_high
            .as_deref()
            .and_then(|h| h.parse::<i64>().ok())
            .filter(|h| *h >= 0);
        let event_key = format!("{}:{}:{}", trade.trade_id, trade.trade_type, trade.status);
        let order_kind = match trade.trade_type.as_str() {
            "1" => EventKind::Deposit,
            "2" => EventKind::Withdrawal,
            other => {
                return Err(CallbackError::Invalid(format!(
                    "unknown tradeType {other:?}"
                )));
            }
        };
        let request_id = trade.business_id.clone().unwrap_or_default();
        let body = match Self::trade_amounts(trade, coin) {
            Err(reason) => EventBody::Invalid(InvalidEvent {
                about: order_kind,
                request_id: Some(request_id).filter(|r| !r.is_empty()),
                reason,
            }),
            Ok((amount, fee)) if order_kind == EventKind::Deposit => {
                EventBody::Deposit(DepositEvent {
                    chain_asset,
                    address: trade.address.clone(),
                    memo: trade.memo.clone(),
                    amount,
                    fee,
                    tx_hash: trade.tx_id.clone(),
                    block_height,
                    state: deposit_state(&trade.status),
                    risk: None,
                    hold: None,
                })
            }
            Ok((amount, fee)) => EventBody::Withdrawal(WithdrawalEvent {
                request_id,
                asset: AssetReport::named(chain_asset),
                address: Some(trade.address.clone()),
                amount: Some(amount),
                fee,
                tx_hash: trade.tx_id.clone(),
                state: withdrawal_state(&trade.status),
                delayed: None,
                failure: None,
            }),
        };
        Ok(ProviderEvent {
            event_key,
            provider_ref: trade.trade_id.clone(),
            provider_status: trade.status.clone(),
            body,
        })
    }
}

/// Deposit statuses (seed 001 "Callback interface status description"): credited only on 3.
fn deposit_state(status: &str) -> Option<DepositState> {
    match status {
        "0" | "1" => Some(DepositState::Detected),
        "3" => Some(DepositState::Confirmed),
        "2" | "4" => Some(DepositState::Failed),
        _ => None,
    }
}

/// Withdrawal statuses: 0 review, 1 approved (broadcasting), 2 rejected, 3 succeeded, 4 failed.
fn withdrawal_state(status: &str) -> Option<WithdrawalState> {
    match status {
        "0" => Some(WithdrawalState::Submitted),
        "1" => Some(WithdrawalState::Approved),
        "2" => Some(WithdrawalState::Rejected),
        "3" => Some(WithdrawalState::Completed),
        "4" => Some(WithdrawalState::Failed),
        _ => None,
    }
}

/// The four signed fields of a callback, each as the exact text received.
struct CallbackFields {
    timestamp: String,
    nonce: String,
    sign: String,
    body: String,
}

impl CallbackFields {
    /// Udun posts a form (udun.md A5); JSON with the same fields is accepted too.
    fn read(callback: &RawCallback) -> Result<CallbackFields, CallbackError> {
        let is_json = callback.content_type().is_some_and(|t| t.contains("json"))
            || callback.body.first() == Some(&b'{');
        if is_json {
            let envelope: wire::Envelope = serde_json::from_slice(&callback.body)
                .map_err(|e| CallbackError::Malformed(format!("JSON envelope: {e}")))?;
            return Ok(CallbackFields {
                timestamp: envelope.timestamp,
                nonce: envelope.nonce,
                sign: envelope.sign,
                body: envelope.body,
            });
        }
        let mut fields = std::collections::HashMap::new();
        for (key, value) in form_urlencoded::parse(&callback.body) {
            fields.insert(key.into_owned(), value.into_owned());
        }
        let mut take = |name: &str| {
            fields
                .remove(name)
                .ok_or_else(|| CallbackError::Malformed(format!("missing field {name:?}")))
        };
        Ok(CallbackFields {
            timestamp: take("timestamp")?,
            nonce: take("nonce")?,
            sign: take("sign")?,
            body: take("body")?,
        })
    }
}

#[async_trait]
impl Provider for UdunProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// `/mch/address/create` (seed 001 §1). The address serves the whole main chain.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let coin_type = match coin.main_coin_type.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(coin.main_coin_type.clone()),
        };
        let body = serde_json::json!([{
            "merchantId": self.merchant_id,
            "coinType": coin_type,
            "callUrl": request.callback_url,
        }]);
        let reply = self.call("/mch/address/create", body.to_string()).await?;
        let created: wire::AddressCreated = reply
            .data
            .and_then(|data| serde_json::from_value(data).ok())
            .ok_or_else(|| ProviderError::Unknown {
                detail: "address reply without data.address".into(),
                timed_out: false,
            })?;
        Ok(NewAddress {
            address: created.address,
            memo: None,
            wallet_ref: None,
        })
    }

    /// `/mch/withdraw` or `/mch/withdraw/proxypay` (seed 001 §2, §3), `businessId` = our request id.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let body = vec![wire::Withdraw {
            address: request.to_address.to_owned(),
            amount: to_wire(request.amount),
            merchant_id: self.merchant_id.clone(),
            main_coin_type: coin.main_coin_type.clone(),
            coin_type: coin.coin_type.clone(),
            call_url: request.callback_url.to_owned(),
            business_id: request.request_id.to_owned(),
            memo: request.memo.map(str::to_owned),
        }];
        let path = match self.withdraw_mode {
            UdunWithdrawMode::Withdraw => "/mch/withdraw",
            UdunWithdrawMode::Proxypay => "/mch/withdraw/proxypay",
        };
        let body = serde_json::to_string(&body).expect("withdraw body serializes");
        match self.call(path, body).await {
            // Udun's own id (`tradeId`) arrives with its callbacks.
            Ok(_) => Ok(Submitted::default()),
            Err(ProviderError::Refused { code, .. })
                if code == wire::CODE_DUPLICATE_BUSINESS_ID =>
            {
                Err(ProviderError::Duplicate)
            }
            Err(err) => Err(err),
        }
    }

    /// `/mch/check/address` (seed 001 §5): 200 valid, 4165 not legal.
    async fn validate_address(
        &self,
        chain_asset: &ChainAsset,
        address: &str,
    ) -> Result<bool, ProviderError> {
        let coin = self.coin(chain_asset)?;
        let body = serde_json::to_string(&[wire::CheckAddress {
            merchant_id: self.merchant_id.clone(),
            main_coin_type: coin.main_coin_type.clone(),
            address: address.to_owned(),
        }])
        .expect("check body serializes");
        match self.call("/mch/check/address", body).await {
            Ok(_) => Ok(true),
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_ADDRESS_ILLEGAL => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// `/mch/support-coins` (seed 001 §6); its body is an object, not an array.
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        let body = serde_json::to_string(&wire::SupportCoinsQuery {
            merchant_id: self.merchant_id.clone(),
            show_balance: false,
        })
        .expect("query serializes");
        let reply = self.call("/mch/support-coins", body).await?;
        let coins: Vec<wire::SupportCoin> = serde_json::from_value(reply.data.unwrap_or_default())
            .map_err(|e| ProviderError::Unknown {
                detail: format!("support-coins data: {e}"),
                timed_out: false,
            })?;
        Ok(coins
            .into_iter()
            .map(|coin| RemoteAsset {
                mapped_to: self
                    .coin_by_ids(&coin.main_coin_type, &coin.coin_type)
                    .map(|c| c.chain_asset.clone()),
                decimals: coin.decimals.parse().unwrap_or(0),
                provider_ids: serde_json::json!({
                    "mainCoinType": coin.main_coin_type,
                    "coinType": coin.coin_type,
                }),
                name: coin.coin_name,
                symbol: coin.symbol,
            })
            .collect())
    }

    /// Trade callback (seed 001 §4; udun.md A5): verify over the body text as received, then parse.
    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        if raw.endpoint == Endpoint::Approvals {
            return Err(CallbackError::Malformed(
                "Udun sends no approval requests".into(),
            ));
        }
        let fields = CallbackFields::read(raw)?;
        if !verify_udun_sign(
            &fields.body,
            self.api_key.expose_secret(),
            &fields.nonce,
            &fields.timestamp,
            &fields.sign,
        ) {
            return Err(CallbackError::BadSignature);
        }
        let trade: Trade = serde_json::from_str(&fields.body)
            .map_err(|e| CallbackError::Invalid(format!("body is not a valid trade: {e}")))?;
        Ok(Inbound::Events(vec![self.trade_to_event(&trade)?]))
    }

    /// Udun expects the plain text `success`; the demos answer `error` otherwise.
    fn reply(&self, _raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        match outcome {
            Outcome::Stored | Outcome::Duplicate | Outcome::Approved => {
                ProviderReply::text(StatusCode::OK, "success")
            }
            Outcome::Refused | Outcome::Declined => {
                ProviderReply::text(StatusCode::BAD_REQUEST, "error")
            }
            Outcome::RetryLater => ProviderReply::text(StatusCode::SERVICE_UNAVAILABLE, "error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn adapter() -> UdunProvider {
        let settings = Settings::from_toml(
            r#"
[server]
bind = "127.0.0.1:0"
[database]
url = "postgres://unused"
[[providers]]
id = "u"
kind = "udun"
base_url = "http://127.0.0.1:9"
[providers.udun]
merchant_id = "1"
api_key = "k"
[[providers.assets]]
chain = "BTC"
asset = "BTC"
decimals = 8
main_coin_type = "0"
"#,
        )
        .unwrap();
        UdunProvider::new(&settings.providers[0], "http://127.0.0.1:9".into()).unwrap()
    }

    #[test]
    fn replies_are_udun_plain_text_for_each_outcome() {
        let raw = RawCallback {
            endpoint: Endpoint::Callbacks,
            public_url: "http://127.0.0.1:9/callbacks/udun".into(),
            query: None,
            headers: Default::default(),
            body: Default::default(),
        };
        let udun = adapter();
        let reply = |outcome| {
            let r = udun.reply(&raw, outcome);
            (r.status.as_u16(), r.body)
        };
        assert_eq!(reply(Outcome::Stored), (200, "success".into()));
        assert_eq!(reply(Outcome::Duplicate), (200, "success".into()));
        assert_eq!(reply(Outcome::Refused), (400, "error".into()));
        assert_eq!(reply(Outcome::RetryLater), (503, "error".into()));
    }
}
