//! ChainUp's deposit and withdraw records (A8), from lists, sync lists and transaction
//! notifications (A9a), as the core's events.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::domain::money::{MAX_DECIMALS, ProviderUnits, provider_amount};
use crate::providers::{
    AssetReport, CallbackError, DepositEvent, EventBody, EventKind, InvalidEvent, NoticeEvent,
    ProviderEvent, RawCallback, WithdrawalEvent,
};

use super::transport::open_notification;
use super::wire::{self, Record, SIDE_DEPOSIT, SIDE_WEB3, SIDE_WITHDRAW};
use super::{ChainupCoin, ChainupProvider};

impl ChainupProvider {
    /// An amount of `coin` in whole units (A5), within the coin's decimals (any decimals up to
    /// the most we hold when the coin is not mapped).
    pub(super) fn amount(
        coin: Option<&ChainupCoin>,
        field: &str,
        text: &str,
    ) -> Result<Decimal, String> {
        let max = coin.map_or(MAX_DECIMALS, |c| c.decimals);
        provider_amount(text, ProviderUnits::Whole, max)
            .map_err(|e| format!("{field} {text:?}: {e}"))
    }

    pub(super) fn deposit_event(&self, record: &Record) -> ProviderEvent {
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
                risk: None,
                hold: None,
            }),
            Err(reason) => EventBody::Invalid(InvalidEvent {
                about: EventKind::Deposit,
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

    pub(super) fn withdrawal_event(&self, record: &Record) -> ProviderEvent {
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
                asset: AssetReport::named(coin.map(|c| c.chain_asset.clone())),
                address: Some(record.address_to.clone().unwrap_or_default()),
                amount: Some(amount),
                fee,
                tx_hash: record.txid.clone(),
                state: wire::withdrawal_state(&record.status),
                delayed: None,
                failure: None,
            }),
            Err(reason) => EventBody::Invalid(InvalidEvent {
                about: EventKind::Withdrawal,
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

    /// A transaction notification (A9a): form `app_id` + `data`, opened with ChainUp's key.
    pub(super) fn read_notification(
        &self,
        raw: &RawCallback,
    ) -> Result<Vec<ProviderEvent>, CallbackError> {
        let mut app_id = None;
        let mut data = None;
        for (key, value) in form_urlencoded::parse(&raw.body) {
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
        if side == SIDE_WEB3 {
            return Ok(vec![web3_notice(fields)]);
        }
        let record: Record = serde_json::from_value(Value::Object(fields))
            .map_err(|e| CallbackError::Invalid(format!("notification record: {e}")))?;
        match side.as_str() {
            SIDE_DEPOSIT => Ok(vec![self.deposit_event(&record)]),
            SIDE_WITHDRAW => Ok(vec![self.withdrawal_event(&record)]),
            other => Err(CallbackError::Invalid(format!("unknown side {other:?}"))),
        }
    }
}

/// A Web3 transaction notification: nothing of a merchant's, kept as a notice.
fn web3_notice(fields: Map<String, Value>) -> ProviderEvent {
    let text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let id = [text("id"), text("trans_id")]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let status = text("status");
    ProviderEvent {
        event_key: format!("{SIDE_WEB3}:{id}:{status}"),
        provider_ref: id,
        provider_status: status,
        body: EventBody::Notice(NoticeEvent {
            topic: SIDE_WEB3.to_owned(),
            content: Value::Object(fields),
        }),
    }
}
