//! ChainUp's Co-Signer (chainup_mpc.md A9b): the operator's own signer, which asks before it signs a
//! withdrawal (`sign_start`), reports it signed (`sign_success`) and checks our keys at start-up
//! (`verify_public_hash`). Its calls are plaintext JSON that proves nothing about its sender: they
//! arrive only on the approval endpoint, whose caller the API layer has authenticated.

use axum::http::StatusCode;
use serde_json::json;

use crate::providers::crypto::constant_time_eq;
use crate::providers::crypto::rsa::PrivateKey;
use crate::providers::{
    ApprovalRequest, ApprovalStage, CallbackError, Inbound, Outcome, ProviderReply,
};

use super::ChainupProvider;
use super::sign::public_key_hash;
use super::wire::{COSIGNER_KEY_CHECK, COSIGNER_SIGN_START, COSIGNER_SIGN_SUCCESS, CosignerCall};

impl ChainupProvider {
    /// Reads one Co-Signer call.
    pub(super) fn read_cosigner_call(&self, body: &[u8]) -> Result<Inbound, CallbackError> {
        let call: CosignerCall = serde_json::from_slice(body)
            .map_err(|e| CallbackError::Malformed(format!("not a Co-Signer call: {e}")))?;
        let stage = match call.kind.as_str() {
            COSIGNER_KEY_CHECK => return Ok(Inbound::Answered(self.key_self_check(&call))),
            COSIGNER_SIGN_START => ApprovalStage::BeforeSigning,
            COSIGNER_SIGN_SUCCESS => ApprovalStage::Signed {
                tx_hash: call.txid.clone(),
            },
            other => {
                return Err(CallbackError::Invalid(format!(
                    "unsupported Co-Signer call {other:?}"
                )));
            }
        };
        let transfer_id = call
            .transfer_id
            .clone()
            .or_else(|| call.withdraw_id.clone())
            .ok_or_else(|| CallbackError::Invalid("no transfer_id or withdraw_id".into()))?;
        let coin = call.symbol.as_deref().and_then(|s| self.coin_by_symbol(s));
        let amount = call
            .amount
            .as_deref()
            .ok_or_else(|| CallbackError::Invalid("no amount".into()))
            .and_then(|a| Self::amount(coin, "amount", a).map_err(CallbackError::Invalid))?;
        let request_id = call.request_id.clone().unwrap_or_default();
        let to = call.to.clone().unwrap_or_default();
        Ok(Inbound::Approval(ApprovalRequest {
            // The whole question: a changed amount or destination is a new question.
            key: format!(
                "{}:{transfer_id}:{request_id}:{to}:{amount}:{}",
                call.kind, call.pending_round
            ),
            stage,
            provider_status: call.kind,
            request_id,
            provider_ref: transfer_id,
            chain_asset: coin.map(|c| c.chain_asset.clone()),
            to_address: to,
            amount,
        }))
    }

    /// Co-Signer approves on the plain text `SUCCESS`; anything else refuses.
    pub(super) fn cosigner_reply(outcome: Outcome) -> ProviderReply {
        match outcome {
            Outcome::Approved | Outcome::Stored | Outcome::Duplicate => {
                ProviderReply::text(StatusCode::OK, "SUCCESS")
            }
            Outcome::Refused => ProviderReply::text(StatusCode::BAD_REQUEST, "FAILURE"),
            Outcome::Declined | Outcome::RetryLater => {
                ProviderReply::text(StatusCode::OK, "FAILURE")
            }
        }
    }

    /// The start-up self-check: does Co-Signer hold our public key, and the key that verifies our
    /// withdrawal `sign` (the sign key, or our main key when there is none)?
    fn key_self_check(&self, call: &CosignerCall) -> ProviderReply {
        let own_app = call.app_id.as_deref() == Some(self.app_id.as_str());
        let matches = |claimed: &Option<String>, key: &PrivateKey| {
            let expected = public_key_hash(&self.app_id, &key.public_key()).ok();
            own_app
                && expected.is_some_and(|e| {
                    claimed
                        .as_deref()
                        .is_some_and(|c| constant_time_eq(&c.to_ascii_lowercase(), &e))
                })
        };
        let client = matches(&call.client_system_pubkey_hash, &self.private_key);
        let sign = matches(
            &call.verify_sign_pub_hash,
            self.sign_key.as_ref().unwrap_or(&self.private_key),
        );
        let verdict = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
        if client && sign {
            tracing::info!(account = %self.account_id, "Co-Signer key self-check passed");
        } else {
            tracing::warn!(account = %self.account_id, client, sign, "Co-Signer key self-check failed");
        }
        ProviderReply::json(
            StatusCode::OK,
            &json!({
                "client_system_pubkey_hash_valid": verdict(client),
                "verify_sign_pub_hash_valid": verdict(sign),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_signer_approves_only_on_success_and_refuses_everything_else() {
        let reply = |outcome| {
            let r = ChainupProvider::cosigner_reply(outcome);
            (r.status.as_u16(), r.body)
        };
        assert_eq!(reply(Outcome::Approved), (200, "SUCCESS".into()));
        assert_eq!(reply(Outcome::Declined), (200, "FAILURE".into()));
        assert_eq!(reply(Outcome::RetryLater), (200, "FAILURE".into()));
        assert_eq!(reply(Outcome::Refused), (400, "FAILURE".into()));
    }
}
