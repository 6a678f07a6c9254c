//! The published OpenAPI descriptions match the APIs that answer: every documented operation
//! exists and needs its credentials, every answer has the documented shape, and the limits the
//! handlers enforce are declared.

mod common;

use std::collections::BTreeSet;

use common::{
    CHAINUP_ACCOUNT, OPS_TOKEN, TRON_ADDRESS, TestApp, UDUN_ACCOUNT, WAAS_ACCOUNT, str_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn spec_at(app: &TestApp, path: &str) -> Value {
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

/// Calls every documented operation with `token` and returns each `(method path, status)`.
async fn call_every_operation(app: &TestApp, spec: &Value, token: &str) -> Vec<(String, u16)> {
    let mut calls = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "01a20866-7e63-7370-9c68-c41e56a5c314");
        for method in keys(item) {
            let url = format!("{}{concrete}", app.url);
            let request = match method.as_str() {
                "get" => app.http.get(url),
                "post" => app.http.post(url).json(&json!({})),
                "put" => app.http.put(url).json(&json!({})),
                other => panic!("undocumented method {other}"),
            };
            let status = request.bearer_auth(token).send().await.unwrap().status();
            calls.push((format!("{method} {path}"), status.as_u16()));
        }
    }
    calls
}

#[tokio::test]
async fn every_documented_operation_exists_and_needs_an_api_key() {
    let app = TestApp::spawn().await;
    let spec = spec_at(&app, "/openapi.json").await;
    assert!(spec["paths"].as_object().unwrap().len() >= 13);
    let calls = call_every_operation(&app, &spec, "not-a-key").await;
    for (operation, status) in &calls {
        assert_eq!(*status, 401, "{operation}");
    }
    assert_eq!(calls.len(), 18);
    let docs = app
        .http
        .get(format!("{}/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_documented_ops_operation_exists_and_needs_the_ops_token() {
    let app = TestApp::spawn().await;
    let spec = spec_at(&app, "/ops/openapi.json").await;
    assert!(spec["components"]["securitySchemes"]["ops_token"].is_object());
    let without = call_every_operation(&app, &spec, "not-the-token").await;
    for (operation, status) in &without {
        assert_eq!(*status, 401, "{operation}");
    }
    assert_eq!(without.len(), 18);
    // The merchant's key is no ops token either.
    let with_api_key = call_every_operation(&app, &spec, &app.api_key).await;
    assert!(with_api_key.iter().all(|(_, status)| *status == 401));
    // With the token, each operation answers (a made-up id is a 404 from the handler, not a
    // missing route: the body says which).
    for (operation, status) in call_every_operation(&app, &spec, OPS_TOKEN).await {
        assert!(matches!(status, 200 | 400 | 404), "{operation}: {status}");
    }
    let docs = app
        .http
        .get(format!("{}/ops/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &spec["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not documented");
    operation
}

fn query_param<'a>(spec: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    operation(spec, method, path)["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn strings(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_limits_the_handlers_enforce_are_declared() {
    let app = TestApp::spawn().await;
    let spec = spec_at(&app, "/openapi.json").await;

    let state = query_param(&spec, "get", "/v1/withdrawals", "state");
    assert_eq!(
        strings(&state["enum"]),
        [
            "accepted",
            "unknown",
            "submitted",
            "approved",
            "broadcast",
            "completed",
            "rejected",
            "failed"
        ]
    );
    let state = query_param(&spec, "get", "/v1/deposits", "state");
    assert_eq!(strings(&state["enum"]), ["detected", "confirmed", "failed"]);
    for (path, max) in [
        ("/v1/withdrawals", 200),
        ("/v1/deposits", 200),
        ("/v1/events", 500),
    ] {
        let limit = query_param(&spec, "get", path, "limit");
        assert_eq!(
            (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
            (Some(1), Some(max))
        );
        assert_eq!(query_param(&spec, "get", path, "cursor")["format"], "uuid");
    }
    let types = strings(&query_param(&spec, "get", "/v1/events", "type")["enum"]).len();
    assert_eq!(types, 13);
    assert_eq!(
        spec["components"]["schemas"]["Event"]["properties"]["type"]["$ref"],
        "#/components/schemas/EventType"
    );

    // One alternative per served pair (and per account naming it), each with that asset's
    // precision and the chain's address form.
    let withdrawal = &spec["components"]["schemas"]["CreateWithdrawal"]["anyOf"];
    let trx_usdt_via_udun = withdrawal
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            let p = &b["properties"];
            p["chain"]["const"] == "TRX"
                && p["asset"]["const"] == "USDT"
                && p["provider"]["const"] == UDUN_ACCOUNT
        })
        .expect("TRX/USDT via udun-main is described");
    let properties = &trx_usdt_via_udun["properties"];
    assert!(
        properties["amount"]["pattern"]
            .as_str()
            .unwrap()
            .contains(r"\.[0-9]{1,6}0*"),
        "{properties}"
    );
    assert_eq!(properties["to_address"]["pattern"], "^T[A-Za-z0-9]{33}$");
    assert_eq!(properties["client_order_id"]["maxLength"], 64);
    assert_eq!(properties["client_order_id"]["minLength"], 1);
    assert_eq!(trx_usdt_via_udun["additionalProperties"], false);
    let address = &spec["components"]["schemas"]["CreateAddress"]["anyOf"][0];
    assert_eq!(address["properties"]["user_id"]["maxLength"], 128);
    let served: BTreeSet<String> = spec["components"]["schemas"]["CreateAddress"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| str_of(b, "title").to_owned())
        .collect();
    assert!(served.contains("BTC BTC"), "{served:?}");
    assert!(served.contains("ETH USDT via chainup-main"), "{served:?}");
    assert!(!served.iter().any(|t| t.starts_with("LTC")), "{served:?}");

    let ops = spec_at(&app, "/ops/openapi.json").await;
    let poll = &operation(&ops, "post", "/ops/accounts/{id}/poll")["parameters"][0]["schema"];
    assert_eq!(
        strings(&poll["enum"]),
        [CHAINUP_ACCOUNT, common::PAY_ACCOUNT]
    );
    for (method, path) in [
        ("get", "/ops/accounts/{id}/assets"),
        ("post", "/ops/accounts/{id}/refresh"),
    ] {
        let assets = &operation(&ops, method, path)["parameters"][0]["schema"];
        assert_eq!(
            strings(&assets["enum"]),
            [
                UDUN_ACCOUNT,
                CHAINUP_ACCOUNT,
                common::WAAS_ACCOUNT,
                common::PAY_ACCOUNT,
                common::UBAO_ACCOUNT
            ]
        );
    }
    for (method, path) in [
        ("post", "/ops/accounts/{id}/sweeps"),
        ("get", "/ops/accounts/{id}/sweeps"),
        ("get", "/ops/accounts/{id}/balances"),
    ] {
        let accounts = &operation(&ops, method, path)["parameters"][0]["schema"];
        assert_eq!(strings(&accounts["enum"]), [common::UBAO_ACCOUNT]);
    }
    assert_eq!(
        query_param(&ops, "get", "/ops/callbacks", "limit")["maximum"],
        1000
    );
}

#[tokio::test]
async fn identifiers_count_characters_and_unknown_fields_are_refused() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "é".repeat(128), "chain": "BTC", "asset": "BTC" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "é".repeat(129), "chain": "BTC", "asset": "BTC" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");

    let (status, body) = app
        .withdraw(&json!({
            "client_order_id": "typo-1", "chain": "TRX", "asset": "TRX", "amount": "1",
            "to_address": TRON_ADDRESS, "momo": "123",
        }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_body");
    let (status, _) = app.get("/v1/events?type=deposit.nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Checks `value` against the schema, following references: objects have only documented fields
/// and every required one, enums hold, arrays' items and alternatives are checked in turn.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &spec["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: {reference} is not in the description"));
        }
        return conforms(spec, target, value, at);
    }
    for combinator in ["anyOf", "oneOf"] {
        if let Some(branches) = schema[combinator].as_array() {
            let matching = branches
                .iter()
                .filter(|b| conforms(spec, b, value, at).is_ok())
                .count();
            let ok = if combinator == "oneOf" {
                matching == 1
            } else {
                matching >= 1
            };
            return if ok {
                Ok(())
            } else {
                Err(format!("{at}: {value} matches {matching} of {combinator}"))
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if value.is_null() {
        return if types.is_empty() || types.contains(&"null") {
            Ok(())
        } else {
            Err(format!("{at}: null where {types:?}"))
        };
    }
    let kind = match value {
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        _ => "object",
    };
    let number_ok = kind == "integer" && types.contains(&"number");
    if !types.is_empty() && !types.contains(&kind) && !number_ok {
        return Err(format!("{at}: {kind} where {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    match value {
        Value::Object(object) => {
            if let Some(properties) = schema["properties"].as_object() {
                for key in object.keys() {
                    if !properties.contains_key(key) {
                        return Err(format!("{at}: undocumented field {key}"));
                    }
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    if !object.contains_key(required.as_str().unwrap()) {
                        return Err(format!("{at}: required field {required} missing"));
                    }
                }
                for (key, field) in object {
                    conforms(spec, &properties[key], field, &format!("{at}.{key}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(spec, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The documented 200 (or `status`) answer of `method path` against `value`.
fn assert_documented(spec: &Value, method: &str, path: &str, status: u16, value: &Value) {
    let schema = &operation(spec, method, path)["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no {status} body"
    );
    if let Err(error) = conforms(spec, schema, value, "$") {
        panic!("{method} {path} {status}: {error}\n{value}");
    }
}

#[tokio::test]
async fn documented_shapes_are_the_shapes_returned() {
    let app = TestApp::spawn().await;
    let spec = spec_at(&app, "/openapi.json").await;
    let schema = |name: &str| keys(&spec["components"]["schemas"][name]["properties"]);

    let address = app.create_address("ola", "BTC", "BTC").await;
    assert_eq!(keys(&address), schema("AddressView"));
    assert_documented(&spec, "post", "/v1/addresses", 201, &address);
    let (_, list) = app.get("/v1/addresses?user_id=ola").await;
    assert_documented(&spec, "get", "/v1/addresses", 200, &list);
    app.udun().deposit(str_of(&address, "address"), "0.5").await;
    let (_, deposits) = app.get("/v1/deposits?user_id=ola").await;
    assert_eq!(keys(&deposits), schema("DepositPage"));
    assert_eq!(keys(&deposits["data"][0]), schema("DepositView"));
    assert_documented(&spec, "get", "/v1/deposits", 200, &deposits);
    let deposit_id = str_of(&deposits["data"][0], "id").to_owned();
    let (_, deposit) = app.get(&format!("/v1/deposits/{deposit_id}")).await;
    assert_documented(&spec, "get", "/v1/deposits/{id}", 200, &deposit);

    // A deposit with the provider's risk scores, as WaaS gives them.
    let (_, scored) = app
        .post(
            "/v1/addresses",
            &json!({ "user_id": "ola", "chain": "TRX", "asset": "USDT", "provider": WAAS_ACCOUNT }),
        )
        .await;
    app.waas()
        .deposit(str_of(&scored, "address"), "1.5", "USDT", (12, 4))
        .await;
    let (_, deposits) = app.get("/v1/deposits?user_id=ola&asset=USDT").await;
    assert_eq!(
        deposits["data"][0]["risk"]["source_score"], 12,
        "{deposits}"
    );
    assert_eq!(keys(&deposits["data"][0]["risk"]), schema("RiskScores"));
    assert_documented(&spec, "get", "/v1/deposits", 200, &deposits);

    let (status, withdrawal) = app
        .withdraw(&json!({
            "client_order_id": "doc-1", "chain": "TRX", "asset": "TRX", "amount": "3",
            "to_address": common::TRON_ADDRESS,
        }))
        .await;
    assert_documented(
        &spec,
        "post",
        "/v1/withdrawals",
        status.as_u16(),
        &withdrawal,
    );
    let withdrawal_id = str_of(&withdrawal, "id").to_owned();
    let (_, one) = app.get(&format!("/v1/withdrawals/{withdrawal_id}")).await;
    assert_eq!(keys(&one), schema("WithdrawalView"));
    assert_eq!(keys(&one["history"][0]), schema("TransitionRow"));
    assert_documented(&spec, "get", "/v1/withdrawals/{id}", 200, &one);
    for query in ["?client_order_id=doc-1", "", "?state=submitted&limit=1"] {
        let (_, found) = app.get(&format!("/v1/withdrawals{query}")).await;
        assert_documented(&spec, "get", "/v1/withdrawals", 200, &found);
    }
    let (status, error) = app.get("/v1/withdrawals?state=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(keys(&error), schema("ErrorBody"));
    assert_eq!(
        keys(&error["error"]),
        schema("ErrorDetail")
            .into_iter()
            .filter(|k| k != "details")
            .collect()
    );
    assert_documented(&spec, "get", "/v1/withdrawals", 400, &error);

    let (_, validation) = app
        .post(
            "/v1/addresses/validate",
            &json!({ "chain": "TRX", "asset": "TRX", "address": TRON_ADDRESS }),
        )
        .await;
    assert_documented(&spec, "post", "/v1/addresses/validate", 200, &validation);
    let (_, assets) = app.get("/v1/assets").await;
    assert_eq!(keys(&assets["data"][0]), schema("AssetView"));
    assert_documented(&spec, "get", "/v1/assets", 200, &assets);

    // An event is listed once every older transaction in the cluster has ended, which under
    // parallel tests can take a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let events = loop {
        let (_, events) = app.get("/v1/events").await;
        if !events["data"].as_array().unwrap().is_empty() {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "{events}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(keys(&events["data"][0]), schema("EventView"));
    assert_eq!(keys(&events["data"][0]["event"]), schema("Event"));
    assert_documented(&spec, "get", "/v1/events", 200, &events);
    let event_id = str_of(&events["data"][0]["event"], "id").to_owned();
    let (_, event) = app.get(&format!("/v1/events/{event_id}")).await;
    assert_documented(&spec, "get", "/v1/events/{id}", 200, &event);
    let (status, redelivery) = app
        .post(&format!("/v1/events/{event_id}/redeliver"), &json!({}))
        .await;
    assert_documented(
        &spec,
        "post",
        "/v1/events/{id}/redeliver",
        status.as_u16(),
        &redelivery,
    );

    let (_, endpoint) = app.get("/v1/webhook").await;
    assert_documented(&spec, "get", "/v1/webhook", 200, &endpoint);
    // Nothing listens on port 9: the ping is not delivered, and says why.
    let (_, endpoint) = app
        .put("/v1/webhook", &json!({ "url": "http://127.0.0.1:9/hooks" }))
        .await;
    assert_documented(&spec, "put", "/v1/webhook", 200, &endpoint);
    let (_, test) = app.post("/v1/webhook/test", &json!({})).await;
    assert_eq!(test["delivered"], false, "{test}");
    assert_documented(&spec, "post", "/v1/webhook/test", 200, &test);
    let (_, rotation) = app.post("/v1/webhook/rotate-secret", &json!({})).await;
    assert_documented(&spec, "post", "/v1/webhook/rotate-secret", 200, &rotation);

    let ops = spec_at(&app, "/ops/openapi.json").await;
    let ops_post = |path: String| {
        let request = app.http.post(format!("{}{path}", app.url));
        async move {
            let response = request.bearer_auth(OPS_TOKEN).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    for (path, documented) in [
        (format!("/ops/orders/{withdrawal_id}"), "/ops/orders/{id}"),
        (format!("/ops/orders/{deposit_id}"), "/ops/orders/{id}"),
        ("/ops/orders?q=doc-1".to_owned(), "/ops/orders"),
        ("/ops/callbacks".to_owned(), "/ops/callbacks"),
        ("/ops/events".to_owned(), "/ops/events"),
        (
            "/ops/withdrawals/attention".to_owned(),
            "/ops/withdrawals/attention",
        ),
        ("/ops/accounts".to_owned(), "/ops/accounts"),
        (
            format!("/ops/accounts/{UDUN_ACCOUNT}/assets"),
            "/ops/accounts/{id}/assets",
        ),
        (
            format!("/ops/accounts/{CHAINUP_ACCOUNT}/assets"),
            "/ops/accounts/{id}/assets",
        ),
        ("/ops/webhooks".to_owned(), "/ops/webhooks"),
    ] {
        let (status, body) = app.ops_get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.get("data")
                .is_none_or(|d| !d.as_array().unwrap().is_empty())
                || path.contains("attention"),
            "{path} lists nothing to check: {body}"
        );
        assert_documented(&ops, "get", documented, 200, &body);
    }
    // Udun offers no status query (400 `unsupported`); ChainUp does.
    let (_, chainup_withdrawal) = app
        .withdraw(&json!({
            "client_order_id": "doc-2", "chain": "ETH", "asset": "ETH", "amount": "0.1",
            "to_address": "0x5edc9177997bf6b4db559a5c184051858b3b3704", "provider": CHAINUP_ACCOUNT,
        }))
        .await;
    let chainup_id = str_of(&chainup_withdrawal, "id").to_owned();
    for (path, documented) in [
        (
            format!("/ops/withdrawals/{chainup_id}/reconcile"),
            "/ops/withdrawals/{id}/reconcile",
        ),
        (
            format!("/ops/accounts/{CHAINUP_ACCOUNT}/poll"),
            "/ops/accounts/{id}/poll",
        ),
        ("/ops/webhooks/replay".to_owned(), "/ops/webhooks/replay"),
    ] {
        let (status, body) = ops_post(path.clone()).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_documented(&ops, "post", documented, 200, &body);
    }
    let (status, body) = ops_post(format!("/ops/accounts/{UDUN_ACCOUNT}/poll")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_polled"))
    );
    assert_documented(&ops, "post", "/ops/accounts/{id}/poll", 404, &body);
}
