//! UBAO's callbacks (seed 003 §0.5, §8–§10): a form (or JSON) of `body, nonce, timestamp, sign`,
//! verified over the Base64 text as received, then decoded; `callbackType` says which of the
//! three it is. A transfer without our `order_sn` is a sweep: the account's own movement.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;

use crate::domain::DepositState;
use crate::domain::WithdrawalState;
use crate::domain::money::{ProviderUnits, provider_amount};
use crate::providers::{
    AssetReport, BalanceEvent, CallbackError, DepositEvent, EventBody, ProviderEvent, RawCallback,
    TreasuryTransferEvent, WithdrawalEvent,
};

use super::sign::verify_ubao_sign;
use super::wire::{Envelope, Notification};
use super::{UbaoCoin, UbaoProvider};

impl UbaoProvider {
    pub(super) fn read_ubao_callback(
        &self,
        raw: &RawCallback,
    ) -> Result<Vec<ProviderEvent>, CallbackError> {
        let envelope = envelope(raw)?;
        let key = self.api_key.expose_secret();
        // A sender that did not percent-encode `+` has it arrive as a space.
        let signed_body = if verify_ubao_sign(
            &envelope.body,
            key,
            &envelope.nonce,
            &envelope.timestamp,
            &envelope.sign,
        ) {
            envelope.body.clone()
        } else {
            let restored = envelope.body.replace(' ', "+");
            if restored == envelope.body
                || !verify_ubao_sign(
                    &restored,
                    key,
                    &envelope.nonce,
                    &envelope.timestamp,
                    &envelope.sign,
                )
            {
                return Err(CallbackError::BadSignature);
            }
            restored
        };
        let json = STANDARD
            .decode(signed_body.as_bytes())
            .map_err(|e| CallbackError::Invalid(format!("body is not Base64: {e}")))?;
        let note: Notification = serde_json::from_slice(&json)
            .map_err(|e| CallbackError::Invalid(format!("body fields: {e}")))?;
        let coin = self.coin_by_id(&note.coin_id);
        let amount = amount_of(coin, &note)?;
        let event = match note.callback_type.as_str() {
            "recharge" => self.recharge(&note, coin, amount)?,
            "transfer" => self.transfer(&note, coin, amount)?,
            "balance" => ProviderEvent {
                event_key: format!(
                    "balance:{}:{}:{}:{}",
                    note.address, note.coin_id, note.amount, envelope.timestamp
                ),
                provider_ref: note.address.clone(),
                provider_status: "balance".into(),
                body: EventBody::Balance(BalanceEvent {
                    address: note.address.clone(),
                    chain_asset: coin.map(|c| c.chain_asset.clone()),
                    amount,
                }),
            },
            other => {
                return Err(CallbackError::Invalid(format!(
                    "unknown callbackType {other:?}"
                )));
            }
        };
        Ok(vec![event])
    }

    /// §8: a deposit to a receive address (or a transfer seen on a watched one), final as told.
    fn recharge(
        &self,
        note: &Notification,
        coin: Option<&UbaoCoin>,
        amount: rust_decimal::Decimal,
    ) -> Result<ProviderEvent, CallbackError> {
        let hash = required(&note.hash, "hash")?;
        let id = format!("{hash}:{}:{}", note.address, note.coin_id);
        Ok(ProviderEvent {
            event_key: format!("recharge:{id}"),
            provider_ref: id,
            provider_status: "recharge".into(),
            body: EventBody::Deposit(DepositEvent {
                chain_asset: coin.map(|c| c.chain_asset.clone()),
                address: note.address.clone(),
                memo: None,
                amount,
                fee: None,
                tx_hash: Some(hash.to_owned()),
                block_height: None,
                state: Some(DepositState::Confirmed),
                risk: None,
                hold: None,
            }),
        })
    }

    /// §9: our withdrawal when it carries our `order_sn`, else a sweep into the collection wallet.
    fn transfer(
        &self,
        note: &Notification,
        coin: Option<&UbaoCoin>,
        amount: rust_decimal::Decimal,
    ) -> Result<ProviderEvent, CallbackError> {
        let result = note.result.as_deref().unwrap_or_default();
        let id = note
            .trade_id
            .clone()
            .or_else(|| note.hash.clone())
            .ok_or_else(|| CallbackError::Invalid("transfer without tradeId or hash".into()))?;
        let chain_asset = coin.map(|c| c.chain_asset.clone());
        let body = match note.order_sn.as_deref().filter(|s| !s.is_empty()) {
            Some(order_sn) => EventBody::Withdrawal(WithdrawalEvent {
                request_id: order_sn.to_owned(),
                asset: AssetReport::named(chain_asset),
                address: note.to_address.clone(),
                amount: Some(amount),
                fee: None,
                tx_hash: note.hash.clone().filter(|h| !h.is_empty()),
                state: match result {
                    "1" => Some(WithdrawalState::Completed),
                    "0" => Some(WithdrawalState::Failed),
                    _ => None,
                },
                delayed: None,
                failure: (result == "0").then(|| note.message.clone().unwrap_or_default()),
            }),
            None => EventBody::TreasuryTransfer(TreasuryTransferEvent {
                chain_asset,
                from_address: Some(note.address.clone()),
                to_address: note.to_address.clone().unwrap_or_default(),
                amount,
                tx_hash: note.hash.clone(),
                purpose: if result == "1" {
                    "sweep"
                } else {
                    "sweep_failed"
                }
                .into(),
            }),
        };
        Ok(ProviderEvent {
            event_key: format!("transfer:{id}:{result}"),
            provider_ref: id,
            provider_status: format!("transfer:{result}"),
            body,
        })
    }
}

/// The callback's four fields, from a form or a JSON object.
fn envelope(raw: &RawCallback) -> Result<Envelope, CallbackError> {
    let malformed = |e: String| CallbackError::Malformed(format!("callback fields: {e}"));
    let is_json = raw.content_type().is_some_and(|t| t.contains("json"));
    if is_json {
        serde_json::from_slice(&raw.body).map_err(|e| malformed(e.to_string()))
    } else {
        let fields: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(&raw.body)
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| malformed(e.to_string()))
    }
}

fn required<'a>(field: &'a Option<String>, name: &str) -> Result<&'a str, CallbackError> {
    field
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CallbackError::Invalid(format!("{name} is missing")))
}

/// The amount in smallest units with the callback's `decimals`, which must be the configured ones.
fn amount_of(
    coin: Option<&UbaoCoin>,
    note: &Notification,
) -> Result<rust_decimal::Decimal, CallbackError> {
    let decimals: u32 = note
        .decimals
        .parse()
        .map_err(|_| CallbackError::Invalid(format!("decimals {:?}", note.decimals)))?;
    if let Some(coin) = coin
        && coin.decimals != decimals
    {
        return Err(CallbackError::Invalid(format!(
            "coin {} has {decimals} decimals here, {} in the configuration",
            note.coin_id, coin.decimals
        )));
    }
    provider_amount(
        &note.amount,
        ProviderUnits::Smallest { decimals },
        coin.map_or(decimals, |c| c.decimals),
    )
    .map_err(|e| CallbackError::Invalid(format!("amount {:?}: {e}", note.amount)))
}
