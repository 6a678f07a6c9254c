//! The merchant API (DESIGN §2), `/v1`, authenticated by API key; a merchant sees only its own data.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::openapi::{
    AddressList, AssetList, DepositPage, ErrorBody, Validation, WithdrawalPage,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::Merchant;
use crate::api::extract::{JsonBody, QueryParams};
use crate::domain::{ChainAsset, DepositState, WithdrawalState, address_rules};
use crate::error::ApiError;
use crate::orders::addresses::get_or_create_address;
use crate::orders::views::{AddressView, DepositView, WithdrawalView};
use crate::orders::withdrawals::{WithdrawalInput, request_withdrawal, view_with_history};
use crate::providers::ProviderError;
use crate::store::{addresses, deposits, withdrawals};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/addresses", post(create_address).get(list_addresses))
        .route("/v1/addresses/validate", post(validate_address))
        .route(
            "/v1/withdrawals",
            post(create_withdrawal).get(find_withdrawals),
        )
        .route("/v1/withdrawals/{id}", get(get_withdrawal))
        .route("/v1/deposits", get(list_deposits))
        .route("/v1/deposits/{id}", get(get_deposit))
        .route("/v1/assets", get(list_assets))
}

fn chain_asset(chain: &str, asset: &str) -> Result<ChainAsset, ApiError> {
    ChainAsset::parse(chain, asset).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_asset",
            "chain and asset must be symbols such as \"ETH\" and \"USDT\"",
        )
    })
}

/// A required free-text identifier: 1 to `max` printable characters.
fn identifier(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty()
        || value.len() > max
        || value.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be 1 to {max} characters without spaces"),
        )
        .with_details(json!({ "field": field })));
    }
    Ok(())
}

fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(what))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateAddress {
    user_id: String,
    chain: String,
    asset: String,
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/addresses", tag = "addresses", request_body = CreateAddress,
    responses((status = 201, description = "a new address", body = AddressView),
              (status = 200, description = "the user's existing address", body = AddressView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 422, description = "the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody)))]
pub(crate) async fn create_address(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    JsonBody(body): JsonBody<CreateAddress>,
) -> Result<Response, ApiError> {
    identifier("user_id", &body.user_id, 128)?;
    let pair = chain_asset(&body.chain, &body.asset)?;
    let (row, created) = get_or_create_address(
        &state,
        merchant.id,
        &body.user_id,
        &pair,
        body.provider.as_deref(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(AddressView::from(&row))).into_response())
}

#[derive(Deserialize)]
pub(crate) struct UserQuery {
    user_id: String,
}

#[utoipa::path(get, path = "/v1/addresses", tag = "addresses", params(("user_id" = String, Query)),
    responses((status = 200, body = AddressList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn list_addresses(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = addresses::list_for_user(&state.pool, merchant.id, &query.user_id).await?;
    let data: Vec<AddressView> = rows.iter().map(AddressView::from).collect();
    Ok(Json(json!({ "data": data })))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ValidateAddress {
    chain: String,
    asset: String,
    address: String,
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/addresses/validate", tag = "addresses", request_body = ValidateAddress,
    responses((status = 200, body = Validation), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
/// Asks the provider where it offers a check, else applies local format rules.
pub(crate) async fn validate_address(
    State(state): State<AppState>,
    Merchant(_): Merchant,
    JsonBody(body): JsonBody<ValidateAddress>,
) -> Result<Json<Value>, ApiError> {
    let pair = chain_asset(&body.chain, &body.asset)?;
    let provider = state
        .registry
        .route(&pair, body.provider.as_deref())?
        .remove(0);
    let local = address_rules::looks_valid(&pair.chain, &body.address);
    if !local {
        return Ok(Json(json!({ "valid": false, "checked_by": "local_rules" })));
    }
    match provider.validate_address(&pair, &body.address).await {
        Ok(valid) => Ok(Json(
            json!({ "valid": valid, "checked_by": provider.account_id() }),
        )),
        Err(ProviderError::Refused { .. }) | Err(ProviderError::Unsupported(_)) => {
            Ok(Json(json!({ "valid": local, "checked_by": "local_rules" })))
        }
        Err(err) => {
            tracing::warn!(account = provider.account_id(), error = %err, "address check unavailable; local rules used");
            Ok(Json(json!({ "valid": local, "checked_by": "local_rules" })))
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateWithdrawal {
    client_order_id: String,
    chain: String,
    asset: String,
    /// A decimal string, e.g. "25.5". Read as any JSON value so that a number gets a clear error
    /// rather than a lossy parse.
    #[schema(value_type = String, example = "25.5")]
    amount: Value,
    to_address: String,
    #[serde(default)]
    memo: Option<String>,
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/withdrawals", tag = "withdrawals", request_body = CreateWithdrawal,
    responses((status = 202, description = "created and submitted (or `unknown`, resolved later)", body = WithdrawalView),
              (status = 200, description = "the same request again: the same withdrawal", body = WithdrawalView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 409, description = "the client_order_id was used with another body", body = ErrorBody),
              (status = 422, description = "the provider refused it; the withdrawal is in `details`", body = ErrorBody)))]
pub(crate) async fn create_withdrawal(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    JsonBody(body): JsonBody<CreateWithdrawal>,
) -> Result<Response, ApiError> {
    identifier("client_order_id", &body.client_order_id, 64)?;
    identifier("to_address", &body.to_address, 128)?;
    if let Some(memo) = &body.memo {
        identifier("memo", memo, 64)?;
    }
    let Value::String(amount) = body.amount else {
        return Err(ApiError::bad_request(
            "amount_invalid",
            "amount must be a decimal string such as \"12.5\", not a JSON number",
        ));
    };
    let input = WithdrawalInput {
        client_order_id: body.client_order_id,
        chain_asset: chain_asset(&body.chain, &body.asset)?,
        amount,
        to_address: body.to_address,
        memo: body.memo.filter(|m| !m.is_empty()),
        provider: body.provider,
    };
    let (row, created) = request_withdrawal(&state, merchant.id, &input).await?;
    let view = view_with_history(&state, &row).await?;
    if created && row.state == "rejected" {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_refused",
            format!(
                "the provider refused the withdrawal: {}",
                row.error_message.as_deref().unwrap_or("no reason given")
            ),
        )
        .with_details(json!({ "withdrawal": view })));
    }
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct WithdrawalQuery {
    client_order_id: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/withdrawals", tag = "withdrawals",
    params(("client_order_id" = Option<String>, Query, description = "one withdrawal, with its history"),
           ("state" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "with client_order_id: a WithdrawalView; otherwise a page", body = WithdrawalPage), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 404, description = "no such withdrawal", body = ErrorBody)))]
/// `?client_order_id=`: that one withdrawal with its history. Otherwise the merchant's withdrawals,
/// newest first, optionally in one state; `next_cursor` continues the listing.
pub(crate) async fn find_withdrawals(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<WithdrawalQuery>,
) -> Result<Response, ApiError> {
    if let Some(client_order_id) = &query.client_order_id {
        let row = withdrawals::find_by_client_order_id(&state.pool, merchant.id, client_order_id)
            .await?
            .ok_or_else(|| ApiError::not_found("withdrawal"))?;
        return Ok(Json(view_with_history(&state, &row).await?).into_response());
    }
    if let Some(wanted) = &query.state
        && WithdrawalState::parse(wanted).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "state is not a withdrawal state",
        ));
    }
    let page = Page::parse(query.cursor.as_deref(), query.limit)?;
    let rows = withdrawals::list_for_merchant(
        &state.pool,
        merchant.id,
        query.state.as_deref(),
        page.after,
        page.limit,
    )
    .await?;
    let next_cursor = page.next_cursor(rows.last().map(|r| r.id), rows.len());
    let data: Vec<WithdrawalView> = rows.iter().map(WithdrawalView::from).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })).into_response())
}

/// A listing's cursor (the last id of the previous page) and page size.
struct Page {
    after: Option<Uuid>,
    limit: i64,
}

impl Page {
    fn parse(cursor: Option<&str>, limit: Option<i64>) -> Result<Page, ApiError> {
        let after = cursor
            .map(|c| {
                Uuid::parse_str(c)
                    .map_err(|_| ApiError::bad_request("invalid_cursor", "cursor is not valid"))
            })
            .transpose()?;
        let limit = limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be between 1 and 200",
            ));
        }
        Ok(Page { after, limit })
    }

    /// The cursor of the next page, when this one was full.
    fn next_cursor(&self, last: Option<Uuid>, count: usize) -> Option<Uuid> {
        (count as i64 == self.limit).then_some(last).flatten()
    }
}

#[utoipa::path(get, path = "/v1/withdrawals/{id}", tag = "withdrawals", params(("id" = String, Path)),
    responses((status = 200, body = WithdrawalView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_withdrawal(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<WithdrawalView>, ApiError> {
    let id = parse_id(&id, "withdrawal")?;
    let row = withdrawals::find_for_merchant(&state.pool, merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    Ok(Json(view_with_history(&state, &row).await?))
}

#[derive(Deserialize)]
pub(crate) struct DepositQuery {
    user_id: Option<String>,
    address: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/deposits", tag = "deposits",
    params(("user_id" = Option<String>, Query), ("address" = Option<String>, Query), ("state" = Option<String>, Query),
           ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = DepositPage), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
/// Newest first; `next_cursor` continues the listing.
pub(crate) async fn list_deposits(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<DepositQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(wanted) = &query.state
        && DepositState::parse(wanted).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "state must be detected, confirmed or failed",
        ));
    }
    let page = Page::parse(query.cursor.as_deref(), query.limit)?;
    let filter = deposits::DepositFilter {
        user_id: query.user_id,
        address: query.address,
        state: query.state,
        tx_hash: None,
        after: page.after,
    };
    let rows =
        deposits::list_for_merchant(&state.pool, Some(merchant.id), &filter, page.limit).await?;
    let next_cursor = page.next_cursor(rows.last().map(|r| r.id), rows.len());
    let data: Vec<DepositView> = rows.iter().map(DepositView::from).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}

#[utoipa::path(get, path = "/v1/deposits/{id}", tag = "deposits", params(("id" = String, Path)),
    responses((status = 200, body = DepositView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_deposit(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<DepositView>, ApiError> {
    let id = parse_id(&id, "deposit")?;
    let row = deposits::find_for_merchant(&state.pool, merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("deposit"))?;
    Ok(Json(DepositView::from(&row)))
}

#[utoipa::path(get, path = "/v1/assets", tag = "assets", responses((status = 200, body = AssetList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn list_assets(
    State(state): State<AppState>,
    Merchant(_): Merchant,
) -> Json<Value> {
    let data: Vec<Value> = state
        .registry
        .all()
        .flat_map(|provider| {
            provider.assets().iter().map(|asset| {
                json!({
                    "provider": provider.account_id(),
                    "chain": asset.chain,
                    "asset": asset.asset,
                    "decimals": asset.decimals,
                })
            })
        })
        .collect();
    Json(json!({ "data": data }))
}
