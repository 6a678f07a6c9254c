//! Pay Protocol's recharge and withdraw records (C6) as the core's events, and the recharge list
//! read page by page (C4 `recharge/list`).

use serde::{Deserialize, Serialize};

use crate::domain::money::{ProviderUnits, provider_amount};
use crate::providers::{
    AssetReport, DepositEvent, EventBody, EventKind, InvalidEvent, Polled, ProviderError,
    ProviderEvent, WithdrawalEvent,
};

use super::wire::{self, Recharge, RechargePage, Withdraw};
use super::{PayCoin, PayProtocolProvider};

/// Recharges asked for per page (the list allows up to 500).
const PAGE: usize = 100;

/// Where the recharge list is read from: a window of creation times, paged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct RechargeCursor {
    /// `startTime` of the current pass (Unix seconds).
    since: i64,
    /// The page of the current pass to read next.
    page: u32,
    /// When the current pass started.
    pass_started: i64,
    /// Whether the current pass has met a recharge still pending, which keeps `since` where it
    /// is so that it is read again until it ends.
    pending: bool,
}

impl PayProtocolProvider {
    /// An amount in minor units of `coin` (C6 `rechargeAmount`, `withdrawAmount`).
    fn amount(coin: &PayCoin, field: &str, text: &str) -> Result<rust_decimal::Decimal, String> {
        provider_amount(
            text,
            ProviderUnits::Smallest {
                decimals: coin.decimals,
            },
            coin.decimals,
        )
        .map_err(|e| format!("{field} {text:?}: {e}"))
    }

    pub(super) fn recharge_event(&self, record: &Recharge) -> ProviderEvent {
        let coin = self.coin_by_ids(&record.chain_id, &record.currency_id);
        let amount = coin
            .ok_or_else(|| {
                format!(
                    "currency {} on chain {} is not mapped",
                    record.currency_id, record.chain_id
                )
            })
            .and_then(|c| Self::amount(c, "rechargeAmount", &record.recharge_amount));
        let body = match amount {
            Ok(amount) => EventBody::Deposit(DepositEvent {
                chain_asset: coin.map(|c| c.chain_asset.clone()),
                address: record.wallet_address.clone().unwrap_or_default(),
                memo: None,
                amount,
                fee: None,
                tx_hash: record.transfer_hash.clone(),
                block_height: None,
                state: wire::recharge_state(&record.recharge_status),
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
            event_key: format!("recharge:{}:{}", record.recharge_id, record.recharge_status),
            provider_ref: record.recharge_id.clone(),
            provider_status: record.recharge_status.clone(),
            body,
        }
    }

    pub(super) fn withdraw_event(&self, record: &Withdraw) -> ProviderEvent {
        let coin = self.coin_by_ids(&record.chain_id, &record.currency_id);
        let request_id = record.out_trade_no.clone().unwrap_or_default();
        let amount = coin
            .map(|c| Self::amount(c, "withdrawAmount", &record.withdraw_amount))
            .transpose();
        let state = wire::withdraw_state(&record.withdraw_status);
        let body = match amount {
            Ok(amount) => EventBody::Withdrawal(WithdrawalEvent {
                request_id,
                asset: AssetReport::named(coin.map(|c| c.chain_asset.clone())),
                address: record.withdraw_address.clone(),
                amount,
                fee: None,
                tx_hash: record.transfer_hash.clone(),
                state,
                delayed: None,
                failure: match record.withdraw_status.as_str() {
                    "4" => Some("Pay Protocol reports the withdrawal failed".into()),
                    "5" => Some("rejected in Pay Protocol's review or console".into()),
                    _ => None,
                },
            }),
            Err(reason) => EventBody::Invalid(InvalidEvent {
                about: EventKind::Withdrawal,
                request_id: Some(request_id),
                reason,
            }),
        };
        ProviderEvent {
            event_key: format!("withdraw:{}:{}", record.withdraw_id, record.withdraw_status),
            provider_ref: record.withdraw_id.clone(),
            provider_status: record.withdraw_status.clone(),
            body,
        }
    }

    /// One page of the recharge list. Each pass reads every recharge created since the previous
    /// pass started, less an overlap; a pass that met a pending recharge is read again from the
    /// same start (no older than the lookback), so that its end is seen too.
    pub(super) async fn poll_recharges(
        &self,
        cursor: Option<&str>,
    ) -> Result<Polled, ProviderError> {
        let now = chrono::Utc::now().timestamp();
        let overlap = self.recharge_overlap_secs as i64;
        let cursor = cursor
            .and_then(|c| serde_json::from_str::<RechargeCursor>(c).ok())
            .unwrap_or(RechargeCursor {
                since: now - overlap,
                page: 1,
                pass_started: now,
                pending: false,
            });
        let pass_started = if cursor.page == 1 {
            now
        } else {
            cursor.pass_started
        };
        let since = cursor.since.max(now - self.recharge_lookback_secs as i64);
        let (since_text, page_text, size_text) =
            (since.to_string(), cursor.page.to_string(), PAGE.to_string());
        let page: RechargePage = self
            .get_for(
                wire::PATH_RECHARGE_LIST,
                &[
                    ("startTime", since_text.as_str()),
                    ("page", page_text.as_str()),
                    ("size", size_text.as_str()),
                ],
            )
            .await?;
        let pending = cursor.pending
            || page.list.iter().any(|r| {
                wire::recharge_state(&r.recharge_status)
                    == Some(crate::domain::DepositState::Detected)
            });
        let full = page.list.len() >= PAGE;
        let next = if full {
            RechargeCursor {
                since,
                page: cursor.page + 1,
                pass_started,
                pending,
            }
        } else {
            RechargeCursor {
                since: if pending {
                    since
                } else {
                    pass_started - overlap
                },
                page: 1,
                pass_started,
                pending: false,
            }
        };
        let events: Vec<ProviderEvent> = page.list.iter().map(|r| self.recharge_event(r)).collect();
        // Read with decimals in doubt, nothing is stored: the page is read again once they agree.
        if let Some(problem) = events.iter().find_map(|e| self.problem_of(e)) {
            return Err(ProviderError::Unreachable(problem));
        }
        Ok(Polled {
            events,
            next_cursor: Some(serde_json::to_string(&next).expect("a cursor serializes")),
            more: full,
        })
    }
}
