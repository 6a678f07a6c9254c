//! WaaS's callbacks (waas.md C3; seed 004): one address, a `type` per message, the body raw Base64
//! that opens with WaaS's public key, the header `X-API-KEY` equal to the account's key. Each is
//! answered `{apiKey, data, errCode, message}`, `data` sealed with WaaS's public key and echoing the
//! request; a second confirmation's `data` carries our order as we made it.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::domain::money::{ProviderUnits, provider_amount};
use crate::domain::{DepositState, WithdrawalState};
use crate::providers::crypto::constant_time_eq;
use crate::providers::{
    AddressChangedEvent, ApprovalRequest, ApprovalStage, AssetReport, CallbackError, DepositEvent,
    EventBody, EventKind, Inbound, InvalidEvent, Outcome, ProviderEvent, ProviderReply,
    RawCallback, RiskScores, WithdrawalEvent,
};

use super::WaasProvider;
use super::transport::{callback_ciphertext, open_from_waas, seal_for_waas};
use super::wire::{self, Callback};

/// Why a withdrawal waits at WaaS (types 6 and 7).
const HOT_WALLET_SHORT: &str = "hot_wallet_short";
const GAS_SHORT: &str = "gas_short";

impl WaasProvider {
    /// The header must carry the account's key; the body must open with WaaS's key.
    fn open_callback(&self, raw: &RawCallback) -> Result<Map<String, Value>, CallbackError> {
        let key_ok = raw.header("x-api-key").is_some_and(|given| {
            constant_time_eq(given, secrecy::ExposeSecret::expose_secret(&self.api_key))
        });
        if !key_ok {
            return Err(CallbackError::BadSignature);
        }
        let cipher = callback_ciphertext(&raw.body)
            .ok_or_else(|| CallbackError::Malformed("body is not text".into()))?;
        open_from_waas(&cipher, &self.public_key).map_err(|_| CallbackError::BadSignature)
    }

    pub(super) fn read_waas_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        let fields = self.open_callback(raw)?;
        let call: Callback = serde_json::from_value(Value::Object(fields))
            .map_err(|e| CallbackError::Invalid(format!("callback fields: {e}")))?;
        let tracking = call.tracking_id.clone().unwrap_or_default();
        let event = |key: String, provider_ref: String, body: EventBody| ProviderEvent {
            event_key: key,
            provider_ref,
            provider_status: call.kind.to_string(),
            body,
        };
        let withdrawal = |state, delayed: Option<&str>, failure: Option<&str>| {
            let callback_id = call.call_back_id.clone().unwrap_or_default();
            event(
                format!("{}:{tracking}", call.kind),
                callback_id.clone(),
                EventBody::Withdrawal(WithdrawalEvent {
                    request_id: callback_id,
                    asset: self.asset_report(&call),
                    address: call.to_address.clone(),
                    amount: None,
                    fee: None,
                    tx_hash: call.tx_id.clone(),
                    state,
                    delayed: delayed.map(str::to_owned),
                    failure: failure.map(str::to_owned),
                }),
            )
        };
        let events = match call.kind {
            // Nothing to record, nothing to answer.
            wire::TYPE_UNKNOWN => {
                return Ok(Inbound::Answered(ProviderReply::text(StatusCode::OK, "")));
            }
            wire::TYPE_DEPOSITED => vec![self.deposit_event(&call)],
            wire::TYPE_REQUEST_WITHDRAW => {
                return self.second_confirmation(&call).map(Inbound::Approval);
            }
            wire::TYPE_WITHDRAW => {
                let mut done = withdrawal(Some(WithdrawalState::Completed), None, None);
                if let EventBody::Withdrawal(w) = &mut done.body {
                    w.amount = self.amount_of(&call).ok().flatten();
                }
                vec![done]
            }
            wire::TYPE_INVALID_ADDRESS => vec![withdrawal(
                Some(WithdrawalState::Failed),
                None,
                Some("WaaS terminated the withdrawal (NOTIFY_INVALID_ADDRESS)"),
            )],
            wire::TYPE_NOT_ENOUGH_MONEY => vec![withdrawal(None, Some(HOT_WALLET_SHORT), None)],
            wire::TYPE_NOT_ENOUGH_HOT_MONEY => vec![withdrawal(None, Some(GAS_SHORT), None)],
            wire::TYPE_ADDRESS => vec![self.address_changed(&call)?],
            other => {
                return Err(CallbackError::Invalid(format!(
                    "unknown callback type {other}"
                )));
            }
        };
        Ok(Inbound::Events(events))
    }

    fn asset_report(&self, call: &Callback) -> AssetReport {
        match (&call.chain_name, &call.symbol) {
            (Some(chain), Some(symbol)) => AssetReport::named(
                self.coin_by_names(chain, symbol)
                    .map(|c| c.chain_asset.clone()),
            ),
            _ => AssetReport::NotReported,
        }
    }

    /// The amount in whole units (a decimal string), within the asset's decimals.
    fn amount_of(&self, call: &Callback) -> Result<Option<rust_decimal::Decimal>, String> {
        let Some(text) = &call.amount else {
            return Ok(None);
        };
        let coin = call
            .chain_name
            .as_deref()
            .zip(call.symbol.as_deref())
            .and_then(|(c, s)| self.coin_by_names(c, s));
        let max = coin.map_or(crate::domain::money::MAX_DECIMALS, |c| c.decimals);
        provider_amount(text, ProviderUnits::Whole, max)
            .map(Some)
            .map_err(|e| format!("amount {text:?}: {e}"))
    }

    /// Type 1: credited at once, unless its source scores at or above the account's threshold.
    fn deposit_event(&self, call: &Callback) -> ProviderEvent {
        let tx = call.tx_id.clone().unwrap_or_default();
        let index = call.tx_index.clone().unwrap_or_else(|| "-1".into());
        // One transfer is one deposit, however WaaS tracks its notices of it.
        let provider_ref = format!("{tx}:{index}");
        let score = |s: &Option<String>| s.as_deref().and_then(|s| s.parse::<i16>().ok());
        let risk = score(&call.risk_level_from)
            .zip(score(&call.risk_level_to))
            .map(|(source_score, target_score)| RiskScores {
                source_score,
                target_score,
            });
        let hold = match (risk, self.hold_at_risk) {
            (Some(risk), Some(threshold)) if risk.source_score >= threshold => Some(format!(
                "source address risk score {} is at or above {threshold}",
                risk.source_score
            )),
            _ => None,
        };
        let chain_asset = call
            .chain_name
            .as_deref()
            .zip(call.symbol.as_deref())
            .and_then(|(c, s)| self.coin_by_names(c, s))
            .map(|c| c.chain_asset.clone());
        let body = match self.amount_of(call) {
            Ok(Some(amount)) => EventBody::Deposit(DepositEvent {
                chain_asset,
                address: call.to_address.clone().unwrap_or_default(),
                memo: None,
                amount,
                fee: None,
                tx_hash: call.tx_id.clone(),
                block_height: None,
                state: Some(DepositState::Confirmed),
                risk,
                hold,
            }),
            Ok(None) => invalid(EventKind::Deposit, "no amount".into()),
            Err(reason) => invalid(EventKind::Deposit, reason),
        };
        ProviderEvent {
            event_key: format!(
                "{}:{}",
                call.kind,
                call.tracking_id
                    .clone()
                    .unwrap_or_else(|| provider_ref.clone())
            ),
            provider_ref,
            provider_status: call.kind.to_string(),
            body,
        }
    }

    /// Type 4: the user's address on a chain is now `newAddress`.
    fn address_changed(&self, call: &Callback) -> Result<ProviderEvent, CallbackError> {
        let chain_name = call.chain_name.as_deref().unwrap_or_default();
        let chain = self
            .chain_of(chain_name)
            .ok_or_else(|| CallbackError::Invalid(format!("chain {chain_name:?} is not mapped")))?;
        let new_address = call
            .new_address
            .clone()
            .ok_or_else(|| CallbackError::Invalid("address change without newAddress".into()))?;
        let old = call.to_address.clone().unwrap_or_default();
        Ok(ProviderEvent {
            // trackingId is null for this type: the change itself is the key.
            event_key: format!("{}:{chain}:{old}:{new_address}", call.kind),
            provider_ref: call.tenant_user_id.clone().unwrap_or_default(),
            provider_status: call.kind.to_string(),
            body: EventBody::AddressChanged(AddressChangedEvent {
                chain: chain.to_owned(),
                old_address: Some(old).filter(|o| !o.is_empty()),
                new_address,
                wallet_ref: call.tenant_user_id.clone(),
            }),
        })
    }

    /// Type 2: WaaS asks whether to pay our withdrawal out.
    fn second_confirmation(&self, call: &Callback) -> Result<ApprovalRequest, CallbackError> {
        let request_id = call.call_back_id.clone().ok_or_else(|| {
            CallbackError::Invalid("second confirmation without callBackId".into())
        })?;
        let amount = self
            .amount_of(call)
            .map_err(CallbackError::Invalid)?
            .ok_or_else(|| CallbackError::Invalid("second confirmation without amount".into()))?;
        let to = call.to_address.clone().unwrap_or_default();
        let chain_asset = match self.asset_report(call) {
            AssetReport::Mapped(ca) => Some(ca),
            _ => None,
        };
        Ok(ApprovalRequest {
            key: format!(
                "{}:{}:{request_id}:{to}:{amount}",
                call.kind,
                call.tracking_id.clone().unwrap_or_default()
            ),
            stage: ApprovalStage::BeforeSigning,
            provider_status: "NOTIFY_REQUEST_WITHDRAW".into(),
            request_id: request_id.clone(),
            provider_ref: request_id,
            chain_asset,
            to_address: to,
            amount,
        })
    }

    /// `{apiKey, data, errCode, message}`. `data` echoes the request; for a second confirmation it
    /// is the order as we made it (equal to the request's, or it is not approved). A call without
    /// the account's key is answered 401.
    pub(super) fn waas_reply(&self, raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        let call = self.open_callback(raw);
        if matches!(call, Err(CallbackError::BadSignature))
            && !raw.header("x-api-key").is_some_and(|given| {
                constant_time_eq(given, secrecy::ExposeSecret::expose_secret(&self.api_key))
            })
        {
            return ProviderReply::text(StatusCode::UNAUTHORIZED, "");
        }
        let fields = call.unwrap_or_default();
        let pick = |names: &[&str]| -> Map<String, Value> {
            names
                .iter()
                .map(|n| {
                    (
                        (*n).to_owned(),
                        fields.get(*n).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect()
        };
        let is_order =
            fields.get("type").and_then(Value::as_i64) == Some(wire::TYPE_REQUEST_WITHDRAW);
        let mut echo = if is_order {
            let mut order = pick(&[
                "tenantUserId",
                "callBackId",
                "chainName",
                "symbol",
                "amount",
                "type",
                "requestUUID",
            ]);
            order.insert(
                "address".into(),
                fields.get("toAddress").cloned().unwrap_or(Value::Null),
            );
            order
        } else {
            pick(&[
                "requestUUID",
                "tenantUserId",
                "type",
                "trackingId",
                "callBackId",
            ])
        };
        if !is_order {
            echo.retain(|k, v| k != "callBackId" || !v.is_null());
        }
        let (err_code, message) = match outcome {
            Outcome::Stored | Outcome::Duplicate | Outcome::Approved => (0, ""),
            Outcome::Declined => (1, "refused: this is not a withdrawal we made"),
            Outcome::Refused => (1, "not understood"),
            Outcome::RetryLater => (1, "not stored yet: send it again"),
        };
        let data = seal_for_waas(&Value::Object(echo), &self.public_key).unwrap_or_default();
        ProviderReply::json(
            StatusCode::OK,
            &json!({
                "apiKey": secrecy::ExposeSecret::expose_secret(&self.api_key),
                "data": data,
                "errCode": err_code,
                "message": message,
            }),
        )
    }
}

fn invalid(about: EventKind, reason: String) -> EventBody {
    EventBody::Invalid(InvalidEvent {
        about,
        request_id: None,
        reason,
    })
}
