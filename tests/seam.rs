//! What the provider seam offers the providers still to come, driven by a provider written here
//! against the trait (as a new adapter would be), with the real core and a real PostgreSQL:
//! a call that cannot be confirmed with the provider is answered "retry later", never refused; an
//! approval arriving at the callback address is decided like one at the approval address; an account
//! with a status query but no feed is reconciled.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, UDUN_ACCOUNT, str_of};
use custody_gateway::domain::{ChainAsset, WithdrawalState};
use custody_gateway::orders::inbound::receive;
use custody_gateway::providers::{
    AddressRequest, ApprovalRequest, ApprovalStage, AssetInfo, AssetReport, CallbackError,
    Endpoint, EventBody, Inbound, NewAddress, Outcome, Provider, ProviderError, ProviderEvent,
    ProviderReply, RawCallback, RemoteAsset, Submitted, WithdrawalEvent, WithdrawalRef,
    WithdrawalRequest,
};
use custody_gateway::workers::pollers::{is_polled, poll_account};
use rust_decimal::Decimal;
use serde_json::json;

/// A provider that reads a one-word body: `unconfirmable` (it cannot reach its API to confirm),
/// `approve:<request id>:<amount>` (an approval on the callback address, authenticated by its
/// protocol), and reports every withdrawal it is asked about as completed.
struct Scripted {
    account_id: String,
    assets: Vec<AssetInfo>,
}

impl Scripted {
    fn udun_account() -> Scripted {
        Scripted {
            account_id: UDUN_ACCOUNT.to_owned(),
            assets: vec![AssetInfo {
                chain: "TRX".into(),
                asset: "USDT".into(),
                decimals: 6,
            }],
        }
    }
}

#[async_trait]
impl Provider for Scripted {
    fn account_id(&self) -> &str {
        &self.account_id
    }
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }
    async fn create_address(&self, _: &AddressRequest<'_>) -> Result<NewAddress, ProviderError> {
        Err(ProviderError::Unsupported("no addresses".into()))
    }
    async fn submit_withdrawal(
        &self,
        _: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        Err(ProviderError::Unsupported("no withdrawals".into()))
    }
    async fn validate_address(&self, _: &ChainAsset, _: &str) -> Result<bool, ProviderError> {
        Err(ProviderError::Unsupported("no check".into()))
    }
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        Ok(Vec::new())
    }

    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        let text = std::str::from_utf8(&raw.body).unwrap();
        if text == "unconfirmable" {
            return Err(CallbackError::Unavailable("its API did not answer".into()));
        }
        let mut parts = text.split(':');
        let (Some("approve"), Some(request_id), Some(amount)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(CallbackError::Malformed("unknown call".into()));
        };
        Ok(Inbound::Approval(ApprovalRequest {
            key: text.to_owned(),
            stage: ApprovalStage::BeforeSigning,
            provider_status: "second_confirmation".into(),
            request_id: request_id.to_owned(),
            provider_ref: format!("ref-{request_id}"),
            chain_asset: Some(ChainAsset {
                chain: "TRX".into(),
                asset: "USDT".into(),
            }),
            to_address: TRON_ADDRESS.into(),
            amount: amount.parse().unwrap(),
        }))
    }

    fn reply(&self, _: &RawCallback, outcome: Outcome) -> ProviderReply {
        let word = match outcome {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::Refused => "refused",
            Outcome::RetryLater => "retry",
            Outcome::Approved => "approved",
            Outcome::Declined => "declined",
        };
        ProviderReply::text(StatusCode::OK, word)
    }

    fn has_status_query(&self) -> bool {
        true
    }

    async fn withdrawal_status(
        &self,
        withdrawal: &WithdrawalRef<'_>,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        Ok(Some(ProviderEvent {
            event_key: format!("done:{}", withdrawal.request_id),
            provider_ref: format!("ref-{}", withdrawal.request_id),
            provider_status: "done".into(),
            body: EventBody::Withdrawal(WithdrawalEvent {
                request_id: withdrawal.request_id.to_owned(),
                asset: AssetReport::Mapped(ChainAsset {
                    chain: "TRX".into(),
                    asset: "USDT".into(),
                }),
                address: Some(TRON_ADDRESS.into()),
                amount: Some(Decimal::new(4, 0)),
                fee: None,
                tx_hash: Some("0xdone".into()),
                state: Some(WithdrawalState::Completed),
                delayed: None,
                failure: None,
            }),
        }))
    }
}

fn call(endpoint: Endpoint, body: &str) -> RawCallback {
    RawCallback {
        endpoint,
        public_url: "http://127.0.0.1:9/callbacks/seam".into(),
        query: None,
        headers: Default::default(),
        body: body.to_owned().into(),
    }
}

async fn submitted_withdrawal(app: &TestApp, client_order_id: &str) -> (String, String) {
    let (status, created) = app
        .withdraw(&json!({
            "client_order_id": client_order_id, "chain": "TRX", "asset": "USDT", "amount": "4",
            "to_address": TRON_ADDRESS,
        }))
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["state"], "submitted");
    (
        str_of(&created, "id").to_owned(),
        str_of(&created, "provider_request_id").to_owned(),
    )
}

#[tokio::test]
async fn a_call_that_cannot_be_confirmed_is_answered_retry_later_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let provider = Scripted::udun_account();
    let reply = receive(
        &app.gateway.state,
        &provider,
        &call(Endpoint::Callbacks, "unconfirmable"),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(reply.body, "retry");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks").await,
        0
    );
    let reply = receive(
        &app.gateway.state,
        &provider,
        &call(Endpoint::Callbacks, "gibberish"),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(reply.body, "refused", "an unreadable call is refused");
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'rejected'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_approval_at_the_callback_address_is_decided_as_one() {
    let app = TestApp::spawn().await;
    let (id, request_id) = submitted_withdrawal(&app, "seam-1").await;
    let provider = Scripted::udun_account();
    let ask = |amount: &str| format!("approve:{request_id}:{amount}");
    let reply = receive(
        &app.gateway.state,
        &provider,
        &call(Endpoint::Callbacks, &ask("4")),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(reply.body, "approved");
    let reply = receive(
        &app.gateway.state,
        &provider,
        &call(Endpoint::Callbacks, &ask("40")),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(reply.body, "declined");
    let (_, after) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(after["needs_review"], true, "a changed amount is flagged");
    let (_, events) = app.ops_get("/ops/events").await;
    let outcomes: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["refused", "approved"]);
}

#[tokio::test]
async fn an_account_with_a_status_query_and_no_feed_is_reconciled() {
    let app = TestApp::spawn().await;
    let (id, _) = submitted_withdrawal(&app, "seam-2").await;
    let provider = Scripted::udun_account();
    assert!(provider.feeds().is_empty());
    assert!(is_polled(&provider), "the pollers visit it");
    let report = poll_account(&app.gateway.state, &provider).await.unwrap();
    assert_eq!(report.pages, 0);
    assert_eq!(report.reconciled, 1);
    let (_, after) = app.get(&format!("/v1/withdrawals/{id}")).await;
    assert_eq!(after["state"], "completed");
    assert_eq!(after["tx_hash"], "0xdone");
}
