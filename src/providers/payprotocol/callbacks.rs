//! Pay Protocol's callbacks (C5): JSON with the `X-PAY-*` headers, signed by a rule it does not
//! publish. Whether or not the signature verifies, what a callback says is never applied as sent:
//! the record is fetched with a signed `recharge/detail` or `withdraw/detail`, and that answer is
//! what is stored. A callback that verifies with no candidate is only a prompt, and prompts are
//! limited per account.

use secrecy::ExposeSecret;

use crate::providers::{CallbackError, Inbound, ProviderError, ProviderEvent, RawCallback};

use super::sign::{KEY_HEADER, SIGN_HEADER, TIMESTAMP_HEADER, verify_pay_sign};
use super::wire::{self, CallbackIds, Recharge, Withdraw};
use super::{PayProtocolProvider, skew};

impl PayProtocolProvider {
    pub(super) async fn read_pay_callback(
        &self,
        raw: &RawCallback,
    ) -> Result<Inbound, CallbackError> {
        let body = std::str::from_utf8(&raw.body)
            .map_err(|_| CallbackError::Malformed("body is not UTF-8".into()))?;
        let verified = self.signature_verifies(raw, body);
        let ids: CallbackIds = serde_json::from_str(body).map_err(|e| {
            let reason = format!("callback body: {e}");
            if verified {
                CallbackError::Invalid(reason)
            } else {
                CallbackError::Malformed(reason)
            }
        })?;
        if !verified && !self.unverified_prompts.take() {
            return Err(CallbackError::Limited(format!(
                "account {} takes no more unverified callbacks this minute",
                self.account_id
            )));
        }
        let event = self.ask_about(&ids, verified).await?;
        if let Some(problem) = self.problem_of(&event) {
            return Err(CallbackError::Unavailable(problem));
        }
        Ok(if verified {
            Inbound::Events(vec![event])
        } else {
            Inbound::Prompted(vec![event])
        })
    }

    /// Our key, a timestamp within the window, and `X-PAY-SIGN` over `timestamp + POST + path +
    /// body` for our callback URL's path with its query, or the path alone (C5 candidates).
    fn signature_verifies(&self, raw: &RawCallback, body: &str) -> bool {
        let (Some(key), Some(timestamp), Some(given)) = (
            raw.header(KEY_HEADER),
            raw.header(TIMESTAMP_HEADER),
            raw.header(SIGN_HEADER),
        ) else {
            return false;
        };
        let fresh = timestamp
            .parse::<i64>()
            .is_ok_and(|t| skew(t).as_secs() <= self.callback_window_secs);
        let path = url::Url::parse(&raw.public_url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let with_query = match &raw.query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let matched = verify_pay_sign(
            self.api_secret.expose_secret(),
            timestamp,
            "POST",
            &[&with_query, &path],
            body,
            given,
        );
        crate::providers::crypto::constant_time_eq(key, self.api_key.expose_secret())
            && fresh
            && matched.is_some()
    }

    /// The record as Pay Protocol's own API gives it now.
    async fn ask_about(
        &self,
        ids: &CallbackIds,
        verified: bool,
    ) -> Result<ProviderEvent, CallbackError> {
        let asked = match (&ids.recharge_id, &ids.withdraw_id) {
            (Some(id), _) => self
                .get_for::<Recharge>(wire::PATH_RECHARGE_DETAIL, &[("rechargeId", id)])
                .await
                .map(|r| self.recharge_event(&r)),
            (None, Some(id)) => self
                .get_for::<Withdraw>(wire::PATH_WITHDRAW_DETAIL, &[("withdrawId", id)])
                .await
                .map(|w| self.withdraw_event(&w)),
            (None, None) => {
                let reason = "names neither a rechargeId nor a withdrawId".to_owned();
                return Err(if verified {
                    CallbackError::Invalid(reason)
                } else {
                    CallbackError::Malformed(reason)
                });
            }
        };
        asked.map_err(|err| match err {
            // Pay Protocol does not know what the call names: nothing to apply.
            ProviderError::Refused { code, message } => {
                let reason = format!("Pay Protocol has no such record ({code}: {message})");
                if verified {
                    CallbackError::Invalid(reason)
                } else {
                    CallbackError::BadSignature
                }
            }
            other => CallbackError::Unavailable(format!("detail query: {other}")),
        })
    }

    /// Why the event's asset must not be applied now (its decimals are in doubt), if so.
    pub(super) fn problem_of(&self, event: &ProviderEvent) -> Option<String> {
        use crate::providers::EventBody;
        let asset = match &event.body {
            EventBody::Deposit(d) => d.chain_asset.clone(),
            EventBody::Withdrawal(w) => match &w.asset {
                crate::providers::AssetReport::Mapped(a) => Some(a.clone()),
                _ => None,
            },
            _ => None,
        }?;
        self.unusable(&asset)
    }
}
