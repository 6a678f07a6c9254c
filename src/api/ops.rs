//! `/ops`: what an operator needs to look up any order, callback or event (separate bearer token).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::account;
use crate::api::auth::Operator;
use crate::api::extract::{JsonBody, QueryParams};
use crate::api::ops_shapes::{
    Account, AccountList, AttentionItem, AttentionList, BalanceList, CallbackList, ConfiguredAsset,
    DeliveryList, OpsOrder, OrderDetail, OrderKindName, OrderMatch, OrderSearch, PollResult,
    ProviderErrorText, ProviderEventList, Reconciliation, RemoteAssetList, Renotified, ReplayState,
    Replayed, SweepList,
};
use crate::api::shapes::{DeliveryState, ErrorBody};
use crate::domain::ChainAsset;
use crate::error::ApiError;
use crate::orders::deposits::{HoldDecision, HoldError, decide_hold};
use crate::orders::ingest::record_asked_event;
use crate::orders::treasury::ask_for_sweep;
use crate::orders::views::{DepositView, WithdrawalView};
use crate::providers::{Capability, OrderRef, Provider, ProviderError, WithdrawalRef};
use crate::store::treasury::{self, SweepRow};
use crate::store::{callbacks, deposits, transitions, webhooks, withdrawals};
use crate::workers::pollers::{PollError, is_polled, poll_account};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/orders", get(search_orders))
        .route("/ops/orders/{id}", get(order))
        .route(
            "/ops/withdrawals/{id}/reconcile",
            post(reconcile_withdrawal),
        )
        .route("/ops/accounts/{id}/poll", post(poll_now))
        .route("/ops/deposits/{id}/release", post(release_deposit))
        .route("/ops/deposits/{id}/reject", post(reject_deposit))
        .route("/ops/callbacks", get(list_callbacks))
        .route("/ops/events", get(list_events))
        .route(
            "/ops/withdrawals/attention",
            get(withdrawals_needing_attention),
        )
        .route("/ops/accounts", get(accounts))
        .route("/ops/accounts/{id}/assets", get(account_assets))
        .route("/ops/accounts/{id}/refresh", post(refresh_account))
        .route("/ops/orders/{id}/renotify", post(renotify_order))
        .route(
            "/ops/accounts/{id}/sweeps",
            post(sweep_now).get(list_sweeps),
        )
        .route("/ops/accounts/{id}/balances", get(list_balances))
        .route("/ops/webhooks", get(list_deliveries))
        .route("/ops/webhooks/replay", post(replay_webhooks))
}

/// A deposit or withdrawal by id, with its transitions and the provider events behind them.
#[utoipa::path(get, path = "/ops/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "a deposit or withdrawal id")),
    responses((status = 200, description = "the order, its history and its provider events", body = OrderDetail),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such order", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn order(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<OrderDetail>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("order"))?;
    let order = if let Some(row) = deposits::find(&state.pool, id).await? {
        OpsOrder {
            kind: OrderKindName::Deposit,
            merchant_id: row.merchant_id,
            order: json!(DepositView::from(&row)),
            review_reason: row.review_reason.clone(),
            provider_error: None,
        }
    } else if let Some(row) = withdrawals::find(&state.pool, id).await? {
        OpsOrder {
            kind: OrderKindName::Withdrawal,
            merchant_id: row.merchant_id,
            order: json!(WithdrawalView::from(&row)),
            review_reason: row.review_reason.clone(),
            provider_error: row.provider_error.clone().map(|text| ProviderErrorText {
                code: row.provider_error_code.clone(),
                text,
            }),
        }
    } else {
        return Err(ApiError::not_found("order"));
    };
    let history = transitions::list_for_order(&state.pool, id).await?;
    let events = callbacks::list_events(&state.pool, None, Some(id), 200).await?;
    Ok(Json(OrderDetail {
        order,
        history,
        events,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// A transaction hash, address, client order id or provider request id (surrounding
    /// whitespace ignored).
    #[param(
        pattern = r"^[^\u0000]*[^\u0000\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    q: String,
}

/// Every deposit and withdrawal the term names, newest first.
#[utoipa::path(get, path = "/ops/orders", tag = "orders", params(SearchQuery),
    responses((status = 200, description = "the matching deposits and withdrawals", body = OrderSearch),
              (status = 400, description = "q is missing or blank", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn search_orders(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Json<OrderSearch>, ApiError> {
    let term = query.q.trim();
    if term.is_empty() {
        return Err(ApiError::bad_request("invalid_query", "q is required"));
    }
    let mut data: Vec<OrderMatch> = deposits::search(&state.pool, term, 100)
        .await?
        .iter()
        .map(|row| OrderMatch {
            kind: OrderKindName::Deposit,
            merchant_id: row.merchant_id,
            order: json!(DepositView::from(row)),
        })
        .collect();
    data.extend(
        withdrawals::search(&state.pool, term, 100)
            .await?
            .iter()
            .map(|row| OrderMatch {
                kind: OrderKindName::Withdrawal,
                merchant_id: row.merchant_id,
                order: json!(WithdrawalView::from(row)),
            }),
    );
    Ok(Json(OrderSearch { data }))
}

/// Asks the provider where a withdrawal stands and applies the answer as a polled event.
#[utoipa::path(post, path = "/ops/withdrawals/{id}/reconcile", tag = "withdrawals",
    params(("id" = Uuid, Path, description = "the withdrawal id")),
    responses((status = 200, description = "the provider's answer and the withdrawal after it", body = Reconciliation),
              (status = 400, description = "the provider cannot answer this (`unsupported`)", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such withdrawal", body = ErrorBody),
              (status = 409, description = "the provider reports a duplicate", body = ErrorBody),
              (status = 422, description = "the provider refused the query", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn reconcile_withdrawal(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Reconciliation>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("withdrawal"))?;
    let row = withdrawals::find(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    let provider = account(&state, &row.account_id)?;
    let withdrawal = WithdrawalRef {
        request_id: &row.provider_request_id,
        provider_ref: row.provider_ref.as_deref(),
    };
    let event = provider.withdrawal_status(&withdrawal).await?;
    let applied = match &event {
        Some(event) => {
            let new = record_asked_event(&state.pool, &row.account_id, "ops", event).await?;
            state.outbox_wake.committed();
            new
        }
        None => false,
    };
    let row = withdrawals::find(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    Ok(Json(Reconciliation {
        provider_status: event.as_ref().map(|e| e.provider_status.clone()),
        new_event: applied,
        withdrawal: WithdrawalView::from(&row),
    }))
}

/// Why an operator releases or rejects a held deposit; kept with the transition.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldDecisionBody {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000]*\S[^\u0000]*$"
    )]
    reason: String,
}

/// Credits a deposit held for review (e.g. at risk): `detected → confirmed`.
#[utoipa::path(post, path = "/ops/deposits/{id}/release", tag = "deposits",
    params(("id" = Uuid, Path, description = "the deposit id")), request_body = HoldDecisionBody,
    responses((status = 200, description = "the deposit, credited", body = DepositView),
              (status = 400, description = "no reason given", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such deposit", body = ErrorBody),
              (status = 409, description = "the deposit is not held (`not_held`)", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn release_deposit(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<HoldDecisionBody>,
) -> Result<Json<DepositView>, ApiError> {
    decide(&state, &id, HoldDecision::Release, &body.reason).await
}

/// Refuses a deposit held for review: `detected → failed`; it is never credited.
#[utoipa::path(post, path = "/ops/deposits/{id}/reject", tag = "deposits",
    params(("id" = Uuid, Path, description = "the deposit id")), request_body = HoldDecisionBody,
    responses((status = 200, description = "the deposit, failed", body = DepositView),
              (status = 400, description = "no reason given", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such deposit", body = ErrorBody),
              (status = 409, description = "the deposit is not held (`not_held`)", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn reject_deposit(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<HoldDecisionBody>,
) -> Result<Json<DepositView>, ApiError> {
    decide(&state, &id, HoldDecision::Reject, &body.reason).await
}

async fn decide(
    state: &AppState,
    id: &str,
    decision: HoldDecision,
    reason: &str,
) -> Result<Json<DepositView>, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found("deposit"))?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(
            ApiError::bad_request("invalid_field", "reason must be 1 to 500 characters")
                .with_details(json!({ "field": "reason" })),
        );
    }
    let decided = decide_hold(&state.pool, id, decision, reason).await;
    state.outbox_wake.committed();
    match decided {
        Ok(row) => Ok(Json(DepositView::from(&row))),
        Err(HoldError::NotFound) => Err(ApiError::not_found("deposit")),
        Err(HoldError::NotHeld) => Err(ApiError::conflict(
            "not_held",
            "the deposit is not held for review",
        )),
        Err(HoldError::Database(err)) => Err(err.into()),
    }
}

/// Runs one poll round for the account now (feeds, confirmations, open withdrawals).
#[utoipa::path(post, path = "/ops/accounts/{id}/poll", tag = "accounts",
    params(("id" = String, Path, description = "a provider account that is polled (one with feeds or a withdrawal status query)")),
    responses((status = 200, description = "what the round did", body = PollResult),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account, or one that pushes everything and is not polled (`not_polled`)", body = ErrorBody),
              (status = 409, description = "the provider reports a duplicate", body = ErrorBody),
              (status = 422, description = "the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn poll_now(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<PollResult>, ApiError> {
    let provider = account(&state, &id)?;
    if !is_polled(provider.as_ref()) {
        // There is no poll of this account, as a path it does not have: 404 rather than 400.
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_polled",
            "this provider pushes everything; there is nothing to poll",
        ));
    }
    match poll_account(&state, provider.as_ref()).await {
        Ok(report) => Ok(Json(PollResult {
            report: json!(report),
        })),
        Err(PollError::Database(err)) => Err(err.into()),
        Err(PollError::Provider(err)) => Err(err.into()),
    }
}

/// An ops listing's size: 100 by default, at most 1000.
fn ops_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 1000",
        ));
    }
    Ok(limit)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackQuery {
    /// Only callbacks to this provider account; by default, those to every account configured.
    #[param(pattern = r"^[^\u0000]*$")]
    account: Option<String>,
    /// Only callbacks with this outcome: `processed`, `duplicate`, `rejected`, or `limited` (an
    /// unverified prompt over its account's limit).
    #[param(pattern = r"^[^\u0000]*$")]
    outcome: Option<String>,
    /// Only callbacks whose signature did (`true`) or did not (`false`) verify.
    verified: Option<bool>,
    /// How many, newest first; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Provider callbacks as received, newest first.
#[utoipa::path(get, path = "/ops/callbacks", tag = "callbacks", params(CallbackQuery),
    responses((status = 200, description = "the callbacks", body = CallbackList),
              (status = 400, description = "invalid query", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_callbacks(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<CallbackQuery>,
) -> Result<Json<CallbackList>, ApiError> {
    let limit = ops_limit(query.limit)?;
    // Every account configured, unless one is named.
    let accounts: Vec<&str> = match query.account.as_deref() {
        Some(account) => vec![account],
        None => state.registry.all().map(|p| p.account_id()).collect(),
    };
    let rows = callbacks::list_callbacks(
        &state.pool,
        &accounts,
        query.outcome.as_deref(),
        query.verified,
        limit,
    )
    .await?;
    Ok(Json(CallbackList { data: rows }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventQuery {
    /// Only events with this outcome: `applied`, `stale`, `unknown_status`, `orphan`,
    /// `needs_review`, `invalid`, or for approval calls `approved`, `refused`, `noted`.
    #[param(pattern = r"^[^\u0000]*$")]
    outcome: Option<String>,
    /// How many, newest first; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Normalized provider events, newest first.
#[utoipa::path(get, path = "/ops/events", tag = "callbacks", params(EventQuery),
    responses((status = 200, description = "the events", body = ProviderEventList),
              (status = 400, description = "invalid query", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<EventQuery>,
) -> Result<Json<ProviderEventList>, ApiError> {
    let limit = ops_limit(query.limit)?;
    let rows = callbacks::list_events(&state.pool, query.outcome.as_deref(), None, limit).await?;
    Ok(Json(ProviderEventList { data: rows }))
}

/// Flagged withdrawals, and those not terminal for over 30 minutes.
#[utoipa::path(get, path = "/ops/withdrawals/attention", tag = "withdrawals",
    responses((status = 200, description = "the withdrawals needing attention", body = AttentionList),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn withdrawals_needing_attention(
    State(state): State<AppState>,
    _: Operator,
) -> Result<Json<AttentionList>, ApiError> {
    let rows = withdrawals::list_needing_attention(
        &state.pool,
        state.settings.workers.attention_after_secs as i64,
    )
    .await?;
    let data = rows
        .iter()
        .map(|row| AttentionItem {
            merchant_id: row.merchant_id,
            withdrawal: WithdrawalView::from(row),
            review_reason: row.review_reason.clone(),
        })
        .collect();
    Ok(Json(AttentionList { data }))
}

/// The configured provider accounts, their assets and callback URLs.
#[utoipa::path(get, path = "/ops/accounts", tag = "accounts",
    responses((status = 200, description = "the accounts", body = AccountList),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody)))]
pub(crate) async fn accounts(State(state): State<AppState>, _: Operator) -> Json<AccountList> {
    let data = state
        .registry
        .all()
        .map(|p| Account {
            id: p.account_id().to_owned(),
            kind: p.kind().to_owned(),
            assets: json!(p.assets()),
            callback_url: state.callback_url(p.account_id()),
        })
        .collect();
    Json(AccountList { data })
}

/// The coins the provider reports right now, each with the chain/asset it maps to here.
#[utoipa::path(get, path = "/ops/accounts/{id}/assets", tag = "accounts",
    params(("id" = String, Path, description = "a provider account")),
    responses((status = 200, description = "the provider's coins", body = RemoteAssetList),
              (status = 400, description = "the provider offers no coin list (`unsupported`)", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account", body = ErrorBody),
              (status = 409, description = "the provider reports a duplicate", body = ErrorBody),
              (status = 422, description = "the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn account_assets(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<RemoteAssetList>, ApiError> {
    let provider = account(&state, &id)?;
    remote_assets(provider.as_ref()).await.map(Json)
}

/// Checks the account's configured assets against the provider's lists now (ids, decimals), and
/// answers as `/ops/accounts/{id}/assets` does.
#[utoipa::path(post, path = "/ops/accounts/{id}/refresh", tag = "accounts",
    params(("id" = String, Path, description = "a provider account")),
    responses((status = 200, description = "the provider's coins, and the configured assets as checked", body = RemoteAssetList),
              (status = 400, description = "the provider offers no coin list (`unsupported`)", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account", body = ErrorBody),
              (status = 409, description = "the provider reports a duplicate", body = ErrorBody),
              (status = 422, description = "the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn refresh_account(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<RemoteAssetList>, ApiError> {
    let provider = account(&state, &id)?;
    provider.refresh().await?;
    remote_assets(provider.as_ref()).await.map(Json)
}

async fn remote_assets(provider: &dyn Provider) -> Result<RemoteAssetList, ApiError> {
    let assets = provider.supported_assets().await?;
    let configured = provider
        .assets()
        .iter()
        .map(|a| ConfiguredAsset {
            chain: a.chain.clone(),
            asset: a.asset.clone(),
            decimals: a.decimals,
            problem: provider.asset_problem(&a.chain_asset()),
        })
        .collect();
    Ok(RemoteAssetList {
        data: json!(assets),
        configured,
    })
}

/// Asks the order's provider to send its callback about it again (Pay Protocol's
/// `/recharge/notify`, `/withdraw/notify`); what it sends is received as any callback.
#[utoipa::path(post, path = "/ops/orders/{id}/renotify", tag = "orders",
    params(("id" = Uuid, Path, description = "a deposit or withdrawal id")),
    responses((status = 202, description = "the provider was asked", body = Renotified),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such order", body = ErrorBody),
              (status = 422, description = "the provider offers no renotification (`unsupported`), or refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn renotify_order(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Renotified>), ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("order"))?;
    let deposit = deposits::find(&state.pool, id).await?;
    let withdrawal = match deposit {
        Some(_) => None,
        None => Some(
            withdrawals::find(&state.pool, id)
                .await?
                .ok_or_else(|| ApiError::not_found("order"))?,
        ),
    };
    let (account_id, kind, order) = match (&deposit, &withdrawal) {
        (Some(row), _) => (
            row.account_id.clone(),
            OrderKindName::Deposit,
            OrderRef::Deposit {
                provider_ref: &row.provider_ref,
            },
        ),
        (None, Some(row)) => (
            row.account_id.clone(),
            OrderKindName::Withdrawal,
            OrderRef::Withdrawal(WithdrawalRef {
                request_id: &row.provider_request_id,
                provider_ref: row.provider_ref.as_deref(),
            }),
        ),
        (None, None) => return Err(ApiError::not_found("order")),
    };
    let provider = account(&state, &account_id)?;
    match provider.renotify(&order).await {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(Renotified {
                account: account_id,
                kind,
            }),
        )),
        Err(ProviderError::Unsupported(message)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported",
            message,
        )),
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// Only this merchant's deliveries.
    merchant: Option<Uuid>,
    /// Only deliveries in this state.
    #[param(value_type = Option<DeliveryState>, inline)]
    state: Option<String>,
    /// How many, newest first; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Webhook deliveries, newest first.
#[utoipa::path(get, path = "/ops/webhooks", tag = "webhooks", params(DeliveryQuery),
    responses((status = 200, description = "the deliveries", body = DeliveryList),
              (status = 400, description = "invalid query", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = ops_limit(query.limit)?;
    let which = match query.state.as_deref() {
        None => None,
        Some(text) => Some(DeliveryState::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "state must be pending, delivered or failed",
            )
        })?),
    };
    let data = webhooks::list_deliveries(
        &state.pool,
        query.merchant,
        which.as_ref().map(DeliveryState::as_str),
        limit,
    )
    .await?;
    Ok(Json(DeliveryList { data }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReplayQuery {
    /// Only this merchant's deliveries.
    merchant: Option<Uuid>,
    /// Only deliveries created at or after this time.
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Which deliveries to send again; `failed` by default.
    #[param(value_type = Option<ReplayState>, inline)]
    state: Option<String>,
}

/// Sends failed deliveries again, on a fresh retry schedule.
#[utoipa::path(post, path = "/ops/webhooks/replay", tag = "webhooks", params(ReplayQuery),
    responses((status = 200, description = "how many deliveries were queued again", body = Replayed),
              (status = 400, description = "invalid query", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn replay_webhooks(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<ReplayQuery>,
) -> Result<Json<Replayed>, ApiError> {
    let which = match query.state.as_deref() {
        None => ReplayState::Failed,
        Some(text) => ReplayState::parse(text).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "state must be failed or delivered")
        })?,
    }
    .as_str();
    let replayed = webhooks::replay(&state.pool, query.merchant, query.since, which).await?;
    state.outbox_wake.committed();
    tracing::info!(
        replayed,
        state = which,
        "webhook deliveries queued again by an operator"
    );
    Ok(Json(Replayed { replayed }))
}

/// An address to sweep into the account's collection wallet now.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "TRX")]
    chain: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "USDT")]
    asset: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    address: String,
}

/// Sweeps an address's asset into the account's collection wallet now, and records it with the
/// account's other sweeps.
#[utoipa::path(post, path = "/ops/accounts/{id}/sweeps", tag = "accounts",
    params(("id" = String, Path, description = "a provider account")), request_body = SweepRequest,
    responses((status = 202, description = "the sweep, as the provider took it (`requested`), refused it (`failed`), or to be asked again (`pending`)", body = SweepRow),
              (status = 400, description = "invalid input, or an asset the account does not serve", body = ErrorBody),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account", body = ErrorBody),
              (status = 422, description = "the account does not sweep (`unsupported`)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn sweep_now(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SweepRequest>,
) -> Result<(StatusCode, Json<SweepRow>), ApiError> {
    let provider = account(&state, &id)?;
    if !provider.capabilities().contains(&Capability::Sweeps) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported",
            format!("account {id:?} does not sweep"),
        ));
    }
    let pair = ChainAsset::parse(&body.chain, &body.asset)
        .filter(|pair| provider.asset(pair).is_some())
        .ok_or_else(|| {
            ApiError::bad_request(
                "unsupported_asset",
                format!(
                    "account {id:?} does not serve {}/{}",
                    body.chain, body.asset
                ),
            )
        })?;
    let sweep =
        treasury::insert_ops_sweep(&state.pool, &id, &pair.chain, &pair.asset, &body.address)
            .await?;
    let (sweep, _) = ask_for_sweep(&state, &sweep).await?;
    Ok((StatusCode::ACCEPTED, Json(sweep)))
}

/// The account's sweeps, newest first.
#[utoipa::path(get, path = "/ops/accounts/{id}/sweeps", tag = "accounts",
    params(("id" = String, Path, description = "a provider account")),
    responses((status = 200, description = "the sweeps", body = SweepList),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_sweeps(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<SweepList>, ApiError> {
    account(&state, &id)?;
    let data = treasury::list_sweeps(&state.pool, &id, 500).await?;
    Ok(Json(SweepList { data }))
}

/// The balances the provider last reported for the account's addresses, collection wallets
/// first.
#[utoipa::path(get, path = "/ops/accounts/{id}/balances", tag = "accounts",
    params(("id" = String, Path, description = "a provider account")),
    responses((status = 200, description = "the balances", body = BalanceList),
              (status = 401, description = "missing or wrong ops token", body = ErrorBody),
              (status = 404, description = "no such provider account", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_balances(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<BalanceList>, ApiError> {
    account(&state, &id)?;
    let data = treasury::list_balances(&state.pool, &id).await?;
    Ok(Json(BalanceList { data }))
}
