//! Pay Protocol's merchant API (payprotocol.md C2–C4): `/api/mer/...`, each request signed in its
//! headers; replies `{code, msg, data}`, refusals with a `description`.
//!
//! Refusal codes (C3: no table is published, so these are the simulator's own):
//! `10000` bad parameters, `10001` user already exists, `10002` user not found, `10003`
//! outTradeNo already exists, `10004` withdraw not found, `10005` recharge not found, `10006`
//! chain not enabled, `10007` currency not on that chain, `10008` bad withdrawAmount, `10009` bad
//! withdrawAddress. HTTP 401 `code 401` for a request that does not authenticate, HTTP 404
//! `code 404` for a path that is not an API.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::callbacks::{CallbackKind, deliver_later};
use super::{
    RequestFault, SimState, SimUser, SimWallet, SimWithdrawal, TIMESTAMP_WINDOW_SECS,
    WITHDRAW_PENDING_APPROVAL, new_address, to_minor_units,
};
use crate::providers::crypto::constant_time_eq;
use crate::providers::payprotocol::sign::{KEY_HEADER, SIGN_HEADER, TIMESTAMP_HEADER, pay_sign};

const API_PREFIX: &str = "/api/mer";

pub const CODE_BAD_PARAMS: i64 = 10000;
pub const CODE_USER_EXISTS: i64 = 10001;
pub const CODE_USER_NOT_FOUND: i64 = 10002;
pub const CODE_OUT_TRADE_NO_EXISTS: i64 = 10003;
pub const CODE_WITHDRAW_NOT_FOUND: i64 = 10004;
pub const CODE_RECHARGE_NOT_FOUND: i64 = 10005;
pub const CODE_CHAIN_NOT_ENABLED: i64 = 10006;
pub const CODE_CURRENCY_NOT_ON_CHAIN: i64 = 10007;
pub const CODE_BAD_AMOUNT: i64 = 10008;
pub const CODE_BAD_ADDRESS: i64 = 10009;

/// The most a `/recharge/list` page may hold (C4).
const MAX_PAGE_SIZE: u64 = 500;
const MAX_PAGE: u64 = 1_000_000;

fn success(data: Value) -> Answer {
    Ok(Json(json!({ "code": 200, "msg": "success", "data": data })).into_response())
}

/// A refusal: HTTP 200 with a non-200 `code` and a `description` (C3).
pub struct Refusal {
    code: i64,
    msg: &'static str,
    description: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Json(json!({
            "code": self.code,
            "msg": self.msg,
            "description": self.description,
            "data": null,
        }))
        .into_response()
    }
}

/// What a merchant API answers: a reply, or a refusal.
type Answer = Result<Response, Refusal>;

fn refuse(code: i64, msg: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        code,
        msg,
        description: description.into(),
    }
}

fn bad_params(description: impl Into<String>) -> Refusal {
    refuse(CODE_BAD_PARAMS, "invalid parameters", description)
}

fn internal_error() -> Answer {
    Ok((
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "code": 500, "msg": "internal error", "data": null })),
    )
        .into_response())
}

/// Every `/api/mer/*` request: authenticated (C2), then answered by its method and path.
pub async fn handle(
    State(sim): State<SimState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The path as the mounted router sees it, so `/api/mer/...` whatever the mount.
    let path = uri.path();
    let query = uri.query();
    let body_text = if method == Method::GET {
        ""
    } else {
        match std::str::from_utf8(&body) {
            Ok(text) => text,
            Err(_) => return unauthorized(&sim, "body is not UTF-8"),
        }
    };
    if let Err(why) = authenticate(&sim, &method, path, query, &headers, body_text) {
        return unauthorized(&sim, &why);
    }
    let params = Params::parse(query);
    let route = path.strip_prefix(API_PREFIX).unwrap_or(path);
    let answer = match (method.as_str(), route) {
        ("POST", "/user/create") => match json_object(&headers, body_text) {
            Ok(fields) => user_create(&sim, &fields).await,
            Err(refusal) => Err(refusal),
        },
        ("GET", "/user/detail") => user_detail(&sim, &params),
        ("GET", "/conf/list/chain") => chain_list(&sim),
        ("GET", "/conf/list/currency") => currency_list(&sim, &params),
        ("POST", "/withdraw/apply") => match json_object(&headers, body_text) {
            Ok(fields) => withdraw_apply(&sim, &fields).await,
            Err(refusal) => Err(refusal),
        },
        ("GET", "/withdraw/detail") => withdraw_detail(&sim, &params),
        ("GET", "/withdraw/notify") => withdraw_notify(&sim, &params),
        ("GET", "/recharge/detail") => recharge_detail(&sim, &params),
        ("GET", "/recharge/list") => recharge_list(&sim, &params),
        ("GET", "/recharge/notify") => recharge_notify(&sim, &params),
        _ => Ok((
            StatusCode::NOT_FOUND,
            Json(json!({ "code": 404, "msg": "no such API", "data": null })),
        )
            .into_response()),
    };
    answer.into_response()
}

fn unauthorized(sim: &SimState, why: &str) -> Response {
    sim.data.lock().unwrap().refused_requests += 1;
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "code": 401, "msg": why, "data": null })),
    )
        .into_response()
}

/// C2: the key, a timestamp within 60 s of the simulator's clock, and the signature over
/// `timestamp + METHOD + /api/mer/path[?query] + body`.
fn authenticate(
    sim: &SimState,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header(KEY_HEADER).ok_or("missing X-PAY-KEY")?;
    if !constant_time_eq(key, &sim.api_key) {
        return Err("invalid X-PAY-KEY".into());
    }
    let timestamp = header(TIMESTAMP_HEADER).ok_or("missing X-PAY-TIMESTAMP")?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| "X-PAY-TIMESTAMP is not Unix seconds")?;
    if (seconds - sim.now()).abs() > TIMESTAMP_WINDOW_SECS {
        return Err("X-PAY-TIMESTAMP is expired".into());
    }
    let given = header(SIGN_HEADER).ok_or("missing X-PAY-SIGN")?;
    let signed_path = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let expected = pay_sign(
        &sim.api_secret,
        timestamp,
        method.as_str(),
        &signed_path,
        body,
    );
    if !constant_time_eq(&expected, given) {
        return Err("invalid X-PAY-SIGN".into());
    }
    Ok(())
}

/// A POST's JSON object body (C1: `Content-Type: application/json` and valid JSON).
fn json_object(headers: &HeaderMap, body: &str) -> Result<Map<String, Value>, Refusal> {
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    if !json_type {
        return Err(bad_params("Content-Type must be application/json"));
    }
    match serde_json::from_str(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(bad_params("the body must be a JSON object")),
    }
}

/// Query-string parameters, empty values taken as absent.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, Refusal> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| bad_params(format!("{name} must be an integer"))),
        }
    }
}

/// An id given as a JSON number or a numeric string.
fn id_field(fields: &Map<String, Value>, name: &str) -> Option<i64> {
    match fields.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Holds a reply per a request's fault: `accept_then_500` answers 500, `accept_then_stall` waits.
async fn after_accept(sim: &SimState, fault: Option<RequestFault>, reply: Answer) -> Answer {
    match fault {
        Some(RequestFault::AcceptThen500) => internal_error(),
        Some(RequestFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            reply
        }
        _ => reply,
    }
}

/// `POST /user/create {uuid}` (C4): the user and a wallet on every enabled chain; `data` is the
/// `userId`.
async fn user_create(sim: &SimState, fields: &Map<String, Value>) -> Answer {
    let Some(uuid) = text_field(fields, "uuid") else {
        return Err(bad_params("uuid must be a non-blank string"));
    };
    let fault = {
        let mut data = sim.data.lock().unwrap();
        *data.creates.entry(uuid.to_owned()).or_default() += 1;
        data.user_create_faults.pop_front()
    };
    if fault == Some(RequestFault::Error500) {
        return internal_error();
    }
    let created = sim.now();
    let user_id = {
        let mut data = sim.data.lock().unwrap();
        if data.user_by_uuid(uuid).is_some() {
            return Err(refuse(
                CODE_USER_EXISTS,
                "user already exists",
                format!("a user with uuid {uuid:?} exists"),
            ));
        }
        let user_id = data.next_user_id;
        data.next_user_id += 1;
        let mut wallets = Vec::new();
        for chain in &sim.chains {
            wallets.push(SimWallet {
                chain_id: chain.chain_id,
                wallet_id: data.next_wallet_id,
                wallet_address: new_address(&chain.chain),
            });
            data.next_wallet_id += 1;
        }
        data.users.insert(
            user_id,
            SimUser {
                user_id,
                uuid: uuid.to_owned(),
                created,
                wallets,
            },
        );
        user_id
    };
    after_accept(sim, fault, success(json!(user_id))).await
}

/// `GET /user/detail?UUID=|uuid=|userId=[&chainId=]` (C4).
fn user_detail(sim: &SimState, params: &Params) -> Answer {
    let uuid = params.text("UUID").or_else(|| params.text("uuid"));
    let user_id = params.int("userId")?;
    let chain_id = params.int("chainId")?;
    if uuid.is_none() && user_id.is_none() {
        return Err(bad_params("give UUID or userId"));
    }
    let data = sim.data.lock().unwrap();
    let found = data.users.values().find(|u| {
        uuid.is_none_or(|uuid| u.uuid == uuid) && user_id.is_none_or(|id| u.user_id == id)
    });
    match found {
        Some(user) => success(user.to_json(chain_id)),
        None => Err(refuse(
            CODE_USER_NOT_FOUND,
            "user not found",
            "no such user",
        )),
    }
}

/// `GET /conf/list/chain`: the enabled chains.
fn chain_list(sim: &SimState) -> Answer {
    let chains: Vec<Value> = sim
        .chains
        .iter()
        .map(|c| json!({ "chainId": c.chain_id, "chainName": c.chain_name() }))
        .collect();
    success(json!(chains))
}

/// `GET /conf/list/currency[?chainId=]`: the currencies, with any decimals set through the
/// control API.
fn currency_list(sim: &SimState, params: &Params) -> Answer {
    let chain_id = params.int("chainId")?;
    let data = sim.data.lock().unwrap();
    let currencies: Vec<Value> = sim
        .currencies
        .iter()
        .filter(|c| chain_id.is_none_or(|id| c.chain_id == id))
        .map(|c| {
            let decimals = data
                .reported_decimals
                .get(&(c.chain_id, c.currency_id))
                .copied()
                .unwrap_or(c.decimals);
            json!({
                "currencyId": c.currency_id,
                "chainId": c.chain_id,
                "currencyName": c.asset,
                "decimals": decimals,
            })
        })
        .collect();
    success(json!(currencies))
}

/// `POST /withdraw/apply` (C4): recorded as pending approval in the console; `data` is
/// `{withdrawId}`. The amount is the decimal amount; the record holds minor units.
async fn withdraw_apply(sim: &SimState, fields: &Map<String, Value>) -> Answer {
    let (Some(chain_id), Some(currency_id)) =
        (id_field(fields, "chainId"), id_field(fields, "currencyId"))
    else {
        return Err(bad_params("chainId and currencyId must be integers"));
    };
    if sim.chain(chain_id).is_none() {
        return Err(refuse(
            CODE_CHAIN_NOT_ENABLED,
            "chain not supported",
            format!("chainId {chain_id} is not enabled"),
        ));
    }
    let Some(currency) = sim.currency(chain_id, currency_id) else {
        return Err(refuse(
            CODE_CURRENCY_NOT_ON_CHAIN,
            "currency not supported",
            format!("currencyId {currency_id} is not on chainId {chain_id}"),
        ));
    };
    let Some(address) = text_field(fields, "withdrawAddress") else {
        return Err(refuse(
            CODE_BAD_ADDRESS,
            "invalid withdrawAddress",
            "withdrawAddress must be a non-blank string",
        ));
    };
    let units = match fields.get("withdrawAmount") {
        Some(Value::String(amount)) => to_minor_units(amount, currency.decimals),
        _ => None,
    };
    let Some(units) = units else {
        return Err(refuse(
            CODE_BAD_AMOUNT,
            "invalid withdrawAmount",
            format!(
                "withdrawAmount must be a positive decimal string with at most {} places",
                currency.decimals
            ),
        ));
    };
    let Some(out_trade_no) = text_field(fields, "outTradeNo") else {
        return Err(bad_params("outTradeNo must be a non-blank string"));
    };
    let Some(notify_url) = text_field(fields, "notifyUrl")
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    else {
        return Err(bad_params("notifyUrl must be an http(s) URL"));
    };
    let created = sim.now();
    let (fault, withdraw_id) = {
        let mut data = sim.data.lock().unwrap();
        *data.applies.entry(out_trade_no.to_owned()).or_default() += 1;
        let fault = data.withdraw_faults.pop_front();
        if fault == Some(RequestFault::Error500) {
            return internal_error();
        }
        if data.withdrawal_by_out_trade_no(out_trade_no).is_some() {
            return Err(refuse(
                CODE_OUT_TRADE_NO_EXISTS,
                "outTradeNo already exists",
                format!("outTradeNo {out_trade_no:?} was applied before"),
            ));
        }
        let withdraw_id = data.next_withdraw_id;
        data.next_withdraw_id += 1;
        data.withdrawals.insert(
            withdraw_id,
            SimWithdrawal {
                withdraw_id,
                chain_id,
                currency_id,
                out_trade_no: out_trade_no.to_owned(),
                amount_units: units,
                address: address.to_owned(),
                status: WITHDRAW_PENDING_APPROVAL,
                created,
                transfer_hash: None,
                notify_url: notify_url.to_owned(),
            },
        );
        (fault, withdraw_id)
    };
    after_accept(sim, fault, success(json!({ "withdrawId": withdraw_id }))).await
}

/// `GET /withdraw/detail?withdrawId=|outTradeNo=` (C4).
fn withdraw_detail(sim: &SimState, params: &Params) -> Answer {
    if sim.data.lock().unwrap().detail_500 {
        return internal_error();
    }
    success(find_withdrawal(sim, params)?.to_json())
}

fn find_withdrawal(sim: &SimState, params: &Params) -> Result<SimWithdrawal, Refusal> {
    let withdraw_id = params.int("withdrawId")?;
    let out_trade_no = params.text("outTradeNo");
    if withdraw_id.is_none() && out_trade_no.is_none() {
        return Err(bad_params("give withdrawId or outTradeNo"));
    }
    let data = sim.data.lock().unwrap();
    data.withdrawals
        .values()
        .find(|w| {
            withdraw_id.is_none_or(|id| w.withdraw_id == id)
                && out_trade_no.is_none_or(|no| w.out_trade_no == no)
        })
        .cloned()
        .ok_or_else(|| {
            refuse(
                CODE_WITHDRAW_NOT_FOUND,
                "withdraw not found",
                "no such withdrawal",
            )
        })
}

/// `GET /withdraw/notify?withdrawId=`: the withdrawal's callback, sent again as a new delivery.
fn withdraw_notify(sim: &SimState, params: &Params) -> Answer {
    let withdrawal = find_withdrawal(sim, params)?;
    deliver_later(
        sim,
        CallbackKind::Withdraw,
        withdrawal.withdraw_id,
        Some(withdrawal.notify_url.clone()),
        withdrawal.to_json(),
    );
    success(Value::Null)
}

fn find_recharge(sim: &SimState, params: &Params) -> Result<Value, Refusal> {
    let recharge_id = params
        .int("rechargeId")?
        .ok_or_else(|| bad_params("rechargeId is required"))?;
    let data = sim.data.lock().unwrap();
    data.recharges
        .get(&recharge_id)
        .map(|r| r.to_json())
        .ok_or_else(|| {
            refuse(
                CODE_RECHARGE_NOT_FOUND,
                "recharge not found",
                format!("no recharge {recharge_id}"),
            )
        })
}

/// `GET /recharge/detail?rechargeId=` (C4).
fn recharge_detail(sim: &SimState, params: &Params) -> Answer {
    if sim.data.lock().unwrap().detail_500 {
        return internal_error();
    }
    success(find_recharge(sim, params)?)
}

/// `GET /recharge/notify?rechargeId=`: the recharge's callback, sent again as a new delivery.
fn recharge_notify(sim: &SimState, params: &Params) -> Answer {
    let recharge = find_recharge(sim, params)?;
    let id = recharge["rechargeId"].as_i64().unwrap_or_default();
    deliver_later(
        sim,
        CallbackKind::Recharge,
        id,
        sim.recharge_callback_url.clone(),
        recharge,
    );
    success(Value::Null)
}

/// `GET /recharge/list` (C4): filtered by `chainId`, `UUID`, `transactionHash`, `orderStatus` and
/// creation time (`startTime`..=`endTime`, Unix seconds), by `rechargeId` ascending, one page.
fn recharge_list(sim: &SimState, params: &Params) -> Answer {
    let chain_id = params.int("chainId")?;
    let order_status = params.int("orderStatus")?;
    let start = params.int("startTime")?;
    let end = params.int("endTime")?;
    let page = params.int("page")?.unwrap_or(1);
    let size = params.int("size")?.unwrap_or(10);
    if !(1..=MAX_PAGE as i64).contains(&page) {
        return Err(bad_params(format!("page must be 1 to {MAX_PAGE}")));
    }
    if !(1..=MAX_PAGE_SIZE as i64).contains(&size) {
        return Err(bad_params(format!("size must be 1 to {MAX_PAGE_SIZE}")));
    }
    if order_status.is_some_and(|s| !(0..=2).contains(&s)) {
        return Err(bad_params("orderStatus must be 0, 1 or 2"));
    }
    let uuid = params.text("UUID").or_else(|| params.text("uuid"));
    let hash = params.text("transactionHash");
    let data = sim.data.lock().unwrap();
    let matching: Vec<Value> = data
        .recharges
        .values()
        .filter(|r| {
            chain_id.is_none_or(|id| r.chain_id == id)
                && uuid.is_none_or(|uuid| r.uuid == uuid)
                && hash.is_none_or(|hash| r.transfer_hash == hash)
                && order_status.is_none_or(|s| i64::from(r.status) == s)
                && start.is_none_or(|start| r.created >= start)
                && end.is_none_or(|end| r.created <= end)
        })
        .map(|r| r.to_json())
        .collect();
    let count = matching.len();
    let skip = ((page - 1) as usize).saturating_mul(size as usize);
    let list: Vec<Value> = matching
        .into_iter()
        .skip(skip)
        .take(size as usize)
        .collect();
    success(json!({ "count": count, "page": page, "size": size, "list": list }))
}
