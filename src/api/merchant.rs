//! The merchant API (DESIGN §2), `/v1`, authenticated by API key; a merchant sees only its own data.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::Merchant;
use crate::api::extract::{JsonBody, QueryParams};
use crate::api::shapes::{
    AddressList, AssetList, AssetView, DepositPage, ErrorBody, Validation, WithdrawalPage,
};
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

/// A required free-text identifier: 1 to `max` characters (not bytes: as JSON Schema's `maxLength`
/// counts), none of them whitespace or control characters. The request schemas say the same with
/// `minLength`, `maxLength` and a pattern.
fn identifier(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty()
        || value.chars().count() > max
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
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAddress {
    /// Your id for the user: 1 to 128 characters, no whitespace or control characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$",
        example = "alice"
    )]
    user_id: String,
    /// A chain served by a provider account (`GET /v1/assets`).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "TRX")]
    chain: String,
    /// An asset of that chain served by a provider account (`GET /v1/assets`).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "USDT")]
    asset: String,
    /// The provider account to use; by default the first that serves the pair, then the next
    /// ones if it fails.
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/addresses", tag = "addresses", request_body = CreateAddress,
    responses((status = 201, description = "a new address", body = AddressView),
              (status = 200, description = "the user's existing address", body = AddressView),
              (status = 400, description = "invalid input, or a chain/asset no account serves (`unsupported_asset`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 409, description = "the provider already holds this request", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 422, description = "the provider refused (`provider_refused`)", body = ErrorBody),
              (status = 502, description = "the provider is unavailable (`provider_unavailable`)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time (`provider_timeout`)", body = ErrorBody)))]
/// The user's deposit address for the chain: one per user, chain and provider account.
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserQuery {
    /// The user whose addresses to list.
    #[param(pattern = r"^[^\u0000]*$")]
    user_id: String,
}

#[utoipa::path(get, path = "/v1/addresses", tag = "addresses", params(UserQuery),
    responses((status = 200, description = "the user's addresses", body = AddressList),
              (status = 400, description = "invalid query", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_addresses(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<Json<AddressList>, ApiError> {
    let rows = addresses::list_for_user(&state.pool, merchant.id, &query.user_id).await?;
    Ok(Json(AddressList {
        data: rows.iter().map(AddressView::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateAddress {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "TRX")]
    chain: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "USDT")]
    asset: String,
    /// The address to check; anything is checked, and is either valid or not.
    #[schema(
        pattern = r"^[^\u0000]*$",
        example = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF"
    )]
    address: String,
    /// The provider account whose check to use; by default the first that serves the pair.
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/addresses/validate", tag = "addresses", request_body = ValidateAddress,
    responses((status = 200, description = "whether the address is valid, and who checked it", body = Validation),
              (status = 400, description = "invalid input, or a chain/asset no account serves (`unsupported_asset`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// Asks the provider where it offers a check, else applies local format rules.
pub(crate) async fn validate_address(
    State(state): State<AppState>,
    Merchant(_): Merchant,
    JsonBody(body): JsonBody<ValidateAddress>,
) -> Result<Json<Validation>, ApiError> {
    let pair = chain_asset(&body.chain, &body.asset)?;
    let provider = state
        .registry
        .route(&pair, body.provider.as_deref())?
        .remove(0);
    let local_rules = |valid: bool| Validation {
        valid,
        checked_by: "local_rules".to_owned(),
    };
    let local = address_rules::looks_valid(&pair.chain, &body.address);
    if !local {
        return Ok(Json(local_rules(false)));
    }
    match provider.validate_address(&pair, &body.address).await {
        Ok(valid) => Ok(Json(Validation {
            valid,
            checked_by: provider.account_id().to_owned(),
        })),
        Err(ProviderError::Refused { .. })
        | Err(ProviderError::InsufficientFunds(_))
        | Err(ProviderError::Unsupported(_)) => Ok(Json(local_rules(local))),
        Err(err) => {
            tracing::warn!(account = provider.account_id(), error = %err, "address check unavailable; local rules used");
            Ok(Json(local_rules(local)))
        }
    }
}

/// Unknown fields are refused, as in every request body here: a misspelled `memo` must not send a
/// withdrawal without its destination tag.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWithdrawal {
    /// Your id for this withdrawal, which makes the request idempotent: 1 to 64 characters, no
    /// whitespace or control characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$",
        example = "payout-1"
    )]
    client_order_id: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "TRX")]
    chain: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "USDT")]
    asset: String,
    /// A positive decimal string with at most the asset's decimals, e.g. "25.5". Read as any JSON
    /// value so that a number gets a clear error rather than a lossy parse.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$", example = "25.5")]
    amount: Value,
    /// The destination, in the chain's address form: 1 to 128 characters, no whitespace or
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$",
        example = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF"
    )]
    to_address: String,
    /// A memo or destination tag, for chains that use one: 1 to 64 characters, no whitespace or
    /// control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$"
    )]
    memo: Option<String>,
    /// The provider account to send it through; by default the first that serves the pair. A
    /// withdrawal never fails over to another account.
    #[serde(default)]
    provider: Option<String>,
}

#[utoipa::path(post, path = "/v1/withdrawals", tag = "withdrawals", request_body = CreateWithdrawal,
    responses((status = 202, description = "created and submitted (or `unknown`, resolved later)", body = WithdrawalView),
              (status = 200, description = "the same request again: the same withdrawal", body = WithdrawalView),
              (status = 400, description = "invalid input (`invalid_field`, `amount_*`), or a chain/asset no account serves (`unsupported_asset`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 409, description = "the client_order_id was used with another body", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 422, description = "the provider refused it (`provider_refused`, or `insufficient_funds` when the paying wallet holds too little); the withdrawal is in `details`", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
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
        memo: body.memo,
        provider: body.provider,
    };
    let (row, created) = request_withdrawal(&state.core, merchant.id, &input).await?;
    let view = view_with_history(&state, &row).await?;
    if created && row.state == WithdrawalState::Rejected {
        let code = match row.error_code.as_deref() {
            Some("insufficient_funds") => "insufficient_funds",
            _ => "provider_refused",
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WithdrawalQuery {
    /// That one withdrawal, with its history, instead of a page.
    #[param(pattern = r"^[^\u0000]*$")]
    client_order_id: Option<String>,
    /// Only withdrawals in this state.
    #[param(value_type = Option<WithdrawalState>, inline)]
    state: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    cursor: Option<String>,
    /// Withdrawals per page, 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// `GET /v1/withdrawals` answers one withdrawal (`?client_order_id=`) or a page.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum WithdrawalLookup {
    One(Box<WithdrawalView>),
    Page(WithdrawalPage),
}

#[utoipa::path(get, path = "/v1/withdrawals", tag = "withdrawals", params(WithdrawalQuery),
    responses((status = 200, description = "with client_order_id: that withdrawal with its history; otherwise a page", body = WithdrawalLookup),
              (status = 400, description = "invalid query (`invalid_query`, `invalid_cursor`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 404, description = "no withdrawal has this client_order_id", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// `?client_order_id=`: that one withdrawal with its history. Otherwise the merchant's withdrawals,
/// newest first, optionally in one state; `next_cursor` continues the listing.
pub(crate) async fn find_withdrawals(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<WithdrawalQuery>,
) -> Result<Json<WithdrawalLookup>, ApiError> {
    // Every parameter is checked, also those a lookup by client_order_id does not use.
    if let Some(wanted) = &query.state
        && WithdrawalState::parse(wanted).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "state is not a withdrawal state",
        ));
    }
    let page = Page::parse(query.cursor.as_deref(), query.limit)?;
    if let Some(client_order_id) = &query.client_order_id {
        let row = withdrawals::find_by_client_order_id(&state.pool, merchant.id, client_order_id)
            .await?
            .ok_or_else(|| ApiError::not_found("withdrawal"))?;
        let view = view_with_history(&state, &row).await?;
        return Ok(Json(WithdrawalLookup::One(Box::new(view))));
    }
    let rows = withdrawals::list_for_merchant(
        &state.pool,
        merchant.id,
        query.state.as_deref(),
        page.after,
        page.limit,
    )
    .await?;
    let next_cursor = page.next_cursor(rows.last().map(|r| r.id), rows.len());
    Ok(Json(WithdrawalLookup::Page(WithdrawalPage {
        data: rows.iter().map(WithdrawalView::from).collect(),
        next_cursor,
    })))
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

#[utoipa::path(get, path = "/v1/withdrawals/{id}", tag = "withdrawals",
    params(("id" = Uuid, Path, description = "the withdrawal id")),
    responses((status = 200, description = "the withdrawal with its history", body = WithdrawalView),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 404, description = "no such withdrawal (or another merchant's)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn get_withdrawal(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<WithdrawalView>, ApiError> {
    let id = parse_id(&id, "withdrawal")?;
    let (row, history) = withdrawals::find_for_merchant_with_history(&state.pool, merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    Ok(Json(WithdrawalView::from(&row).with_history(history)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DepositQuery {
    /// Only deposits to this user's addresses.
    #[param(pattern = r"^[^\u0000]*$")]
    user_id: Option<String>,
    /// Only deposits to this address.
    #[param(pattern = r"^[^\u0000]*$")]
    address: Option<String>,
    /// Only deposits in this state.
    #[param(value_type = Option<DepositState>, inline)]
    state: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    cursor: Option<String>,
    /// Deposits per page, 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/deposits", tag = "deposits", params(DepositQuery),
    responses((status = 200, description = "a page of deposits", body = DepositPage),
              (status = 400, description = "invalid query (`invalid_query`, `invalid_cursor`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// Newest first; `next_cursor` continues the listing.
pub(crate) async fn list_deposits(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<DepositQuery>,
) -> Result<Json<DepositPage>, ApiError> {
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
    Ok(Json(DepositPage {
        data: rows.iter().map(DepositView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/deposits/{id}", tag = "deposits",
    params(("id" = Uuid, Path, description = "the deposit id")),
    responses((status = 200, description = "the deposit", body = DepositView),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 404, description = "no such deposit (or another merchant's)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/v1/assets", tag = "assets",
    responses((status = 200, description = "every chain/asset of every provider account", body = AssetList),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn list_assets(
    State(state): State<AppState>,
    Merchant(_): Merchant,
) -> Json<AssetList> {
    let data = state
        .registry
        .all()
        .flat_map(|provider| {
            provider.assets().iter().map(|asset| AssetView {
                provider: provider.account_id().to_owned(),
                chain: asset.chain.clone(),
                asset: asset.asset.clone(),
                decimals: asset.decimals,
                capabilities: provider.capabilities().to_vec(),
            })
        })
        .collect();
    Json(AssetList { data })
}
