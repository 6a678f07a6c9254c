//! The descriptions as served: the static description of each API, with what this gateway's
//! configuration decides filled in from the provider registry. A request body naming a chain and
//! asset is described as one alternative per pair that an account serves (and per account, for
//! requests naming one), each with that asset's amount precision and that chain's address form,
//! so that every request the description allows is one the API accepts.

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::AppState;
use crate::api::openapi::{MerchantDoc, OpsDoc};
use crate::domain::ChainAsset;

/// The merchant API's description for this gateway.
pub fn merchant(state: &AppState) -> Value {
    let mut spec = serde_json::to_value(MerchantDoc::openapi()).expect("a description is JSON");
    let routes = routes(state);
    if !routes.is_empty() {
        let schemas = &mut spec["components"]["schemas"];
        for (name, kind) in [
            ("CreateAddress", BodyKind::Plain),
            ("ValidateAddress", BodyKind::Plain),
            ("CreateWithdrawal", BodyKind::Withdrawal),
        ] {
            let general = schemas[name].take();
            schemas[name] = alternatives(&general, &routes, kind);
        }
    }
    spec
}

/// The ops API's description for this gateway: account ids are the configured accounts.
pub fn ops(state: &AppState) -> Value {
    let mut spec = serde_json::to_value(OpsDoc::openapi()).expect("a description is JSON");
    let all: Vec<Value> = state
        .registry
        .all()
        .map(|p| json!(p.account_id()))
        .collect();
    let polled: Vec<Value> = state
        .registry
        .all()
        .filter(|p| crate::workers::pollers::is_polled(p.as_ref()))
        .map(|p| json!(p.account_id()))
        .collect();
    restrict_path_id(&mut spec, "/ops/accounts/{id}/assets", "get", all.clone());
    restrict_path_id(&mut spec, "/ops/accounts/{id}/refresh", "post", all);
    let able = |capability: crate::providers::Capability| -> Vec<Value> {
        state
            .registry
            .all()
            .filter(|p| p.capabilities().contains(&capability))
            .map(|p| json!(p.account_id()))
            .collect()
    };
    let sweeping = able(crate::providers::Capability::Sweeps);
    restrict_path_id(
        &mut spec,
        "/ops/accounts/{id}/sweeps",
        "post",
        sweeping.clone(),
    );
    restrict_path_id(&mut spec, "/ops/accounts/{id}/sweeps", "get", sweeping);
    let balances = able(crate::providers::Capability::Balances);
    restrict_path_id(&mut spec, "/ops/accounts/{id}/balances", "get", balances);
    restrict_path_id(&mut spec, "/ops/accounts/{id}/poll", "post", polled);
    spec
}

/// One way to name a served pair: without an account (routed to the first enabled account that
/// serves it) or through a named account; with the decimals that then apply.
struct Route {
    pair: ChainAsset,
    account: Option<String>,
    decimals: u32,
}

fn routes(state: &AppState) -> Vec<Route> {
    let mut named = Vec::new();
    let mut pairs: Vec<ChainAsset> = Vec::new();
    for provider in state.registry.all() {
        for asset in provider.assets() {
            let pair = asset.chain_asset();
            if !pairs.contains(&pair) {
                pairs.push(pair.clone());
            }
            named.push(Route {
                pair,
                account: Some(provider.account_id().to_owned()),
                decimals: asset.decimals,
            });
        }
    }
    let mut routes: Vec<Route> = pairs
        .into_iter()
        .filter_map(|pair| {
            let first = state.registry.route(&pair, None).ok()?.remove(0);
            let decimals = first.asset(&pair)?.decimals;
            Some(Route {
                pair,
                account: None,
                decimals,
            })
        })
        .collect();
    routes.extend(named);
    routes
}

#[derive(Clone, Copy)]
enum BodyKind {
    Plain,
    /// Also the amount's precision and the destination's address form.
    Withdrawal,
}

/// `general` (an object schema with `chain`, `asset` and `provider`) as one alternative per route.
fn alternatives(general: &Value, routes: &[Route], kind: BodyKind) -> Value {
    let branches: Vec<Value> = routes
        .iter()
        .map(|route| {
            let mut branch = general.clone();
            let object = branch.as_object_mut().expect("a body schema is an object");
            object.remove("description");
            let title = match &route.account {
                Some(account) => format!("{} {} via {account}", route.pair.chain, route.pair.asset),
                None => format!("{} {}", route.pair.chain, route.pair.asset),
            };
            object.insert("title".into(), json!(title));
            let properties = object["properties"]
                .as_object_mut()
                .expect("a body schema has properties");
            set_const(properties, "chain", &route.pair.chain);
            set_const(properties, "asset", &route.pair.asset);
            match &route.account {
                Some(account) => {
                    set_const(properties, "provider", account);
                    require(object, "provider");
                }
                None => {
                    properties.insert(
                        "provider".into(),
                        json!({ "type": "null", "description": "absent or null: routed to the first account that serves the pair" }),
                    );
                }
            }
            if let BodyKind::Withdrawal = kind {
                let properties = object["properties"].as_object_mut().expect("properties");
                properties["amount"]["pattern"] = json!(amount_pattern(route.decimals));
                properties["amount"]["description"] = json!(format!(
                    "A positive decimal string with at most {} decimals.",
                    route.decimals
                ));
                properties["to_address"]["pattern"] = json!(address_pattern(&route.pair.chain));
            }
            branch
        })
        .collect();
    let mut described = Map::new();
    if let Some(description) = general.get("description") {
        described.insert("description".into(), description.clone());
    }
    described.insert("anyOf".into(), Value::Array(branches));
    Value::Object(described)
}

fn set_const(properties: &mut Map<String, Value>, name: &str, value: &str) {
    let property = properties
        .entry(name)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("a property schema is an object");
    property.remove("pattern");
    property.remove("example");
    property.insert("type".into(), json!("string"));
    property.insert("const".into(), json!(value));
}

fn require(object: &mut Map<String, Value>, name: &str) {
    let required = object
        .entry("required")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("required is a list");
    if !required.iter().any(|r| r == name) {
        required.push(json!(name));
    }
}

/// What `Amount::parse` accepts for an asset with `decimals`: digits, an optional fraction with at
/// most `decimals` significant places (trailing zeros do not count), not zero, and at most 28
/// significant digits in all, which `Decimal` holds exactly.
fn amount_pattern(decimals: u32) -> String {
    let whole_rest = 27u32.saturating_sub(decimals);
    if decimals == 0 {
        return format!(r"^0*[1-9][0-9]{{0,{whole_rest}}}(\.0+)?$");
    }
    let before_last = decimals - 1;
    format!(
        r"^(0*[1-9][0-9]{{0,{whole_rest}}}(\.[0-9]{{1,{decimals}}}0*)?|0+\.[0-9]{{0,{before_last}}}[1-9]0*)$"
    )
}

/// The address form providers expect on `chain` (`domain::address_rules`), within the 1 to 128
/// characters without whitespace or control characters that the API takes.
fn address_pattern(chain: &str) -> &'static str {
    match chain {
        "ETH" | "ETC" | "BSC" | "POLYGON" | "ARBITRUM" | "OPTIMISM" | "AVAX" => {
            r"^0x[0-9a-fA-F]{40}$"
        }
        "BTC" => r"^([13][A-Za-z0-9]{25,35}|bc1[A-Za-z0-9]{11,71})$",
        "BCH" => r"^1[A-Za-z0-9]{25,35}$",
        "LTC" => r"^([LM][A-Za-z0-9]{25,35}|ltc1[A-Za-z0-9]{10,70})$",
        "TRX" | "TRON" => r"^T[A-Za-z0-9]{33}$",
        "XRP" => r"^r[A-Za-z0-9]{24,34}$",
        "DASH" => r"^X[A-Za-z0-9]{25,35}$",
        "DOGE" => r"^D[A-Za-z0-9]{25,35}$",
        _ => r"^[A-Za-z0-9]{1,128}$",
    }
}

/// Narrows an operation's `{id}` path parameter to `ids`, when there is at least one.
fn restrict_path_id(spec: &mut Value, path: &str, method: &str, ids: Vec<Value>) {
    if ids.is_empty() {
        return;
    }
    let Some(parameters) = spec["paths"][path][method]["parameters"].as_array_mut() else {
        return;
    };
    for parameter in parameters {
        if parameter["name"] == "id" && parameter["in"] == "path" {
            parameter["schema"] = json!({ "type": "string", "enum": ids });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Amount;

    /// The pattern's verdict, spelled out for the shapes it allows (no regex engine here).
    fn allowed(text: &str, decimals: u32) -> bool {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (text.contains('.') && !digits(fraction)) {
            return false;
        }
        let fraction = fraction.trim_end_matches('0');
        let whole = whole.trim_start_matches('0');
        (whole.len() + fraction.len()) > 0
            && fraction.len() <= decimals as usize
            && whole.len() <= 28 - decimals as usize
    }

    #[test]
    fn amounts_the_pattern_allows_are_accepted() {
        for decimals in [0, 2, 6, 8, 18] {
            for text in [
                "1",
                "10",
                "0.5",
                "1.50",
                "0.000001",
                "000012.5",
                "1.0",
                "0.0",
                "0",
                "1.",
                ".5",
                "1.123456789",
                "12345678901",
                "0.000000000000000001",
            ] {
                if allowed(text, decimals) {
                    assert!(Amount::parse(text, decimals).is_ok(), "{text} ({decimals})");
                }
            }
        }
        assert_eq!(
            amount_pattern(6),
            r"^(0*[1-9][0-9]{0,21}(\.[0-9]{1,6}0*)?|0+\.[0-9]{0,5}[1-9]0*)$"
        );
        assert_eq!(amount_pattern(0), r"^0*[1-9][0-9]{0,27}(\.0+)?$");
    }

    #[test]
    fn the_largest_amount_the_pattern_allows_fits() {
        let whole = "9".repeat(22);
        assert!(Amount::parse(&format!("{whole}.999999"), 6).is_ok());
        assert!(Amount::parse(&"9".repeat(28), 0).is_ok());
    }
}
