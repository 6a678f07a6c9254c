mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::receiver::{Answer, Receiver, closed_endpoint};
use common::{TestApp, TestOptions, str_of};
use reqwest::StatusCode;
use serde_json::{Value, json};
use standardwebhooks::Webhook;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

async fn deposit(app: &TestApp, user: &str, amount: &str) {
    let address = str_of(&app.create_address(user, "BTC", "BTC").await, "address").to_owned();
    app.udun().deposit(&address, amount).await;
}

async fn outbox_states(app: &TestApp) -> Vec<(String, String, i32)> {
    sqlx::query_as("SELECT event_type, state, attempts FROM webhook_outbox ORDER BY sequence")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn wait_for_state(app: &TestApp, state: &'static str, count: i64) {
    let started = std::time::Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_outbox WHERE state = $1")
            .bind(state)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if n >= count {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "{n} of {count} deliveries reached {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deposits_reach_the_merchant_signed_as_standard_webhooks() {
    let app = TestApp::spawn_with(TestOptions::webhooks(2)).await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    deposit(&app, "alice", "0.12345678").await;

    let received = receiver.wait_for(2, WAIT).await;
    let verifier = Webhook::new(&app.webhook_secret).unwrap();
    let types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["deposit.detected", "deposit.confirmed"]);
    for webhook in &received {
        verifier
            .verify(&webhook.body, &webhook.headers)
            .expect("verifies with the standardwebhooks crate");
        let payload = webhook.json();
        assert_eq!(
            webhook.headers["webhook-id"],
            payload["id"].as_str().unwrap()
        );
        assert_eq!(payload["data"]["amount"], "0.12345678");
        assert_eq!(payload["data"]["user_id"], "alice");
        assert!(payload["created_at"].is_string());
    }
    let (first, second) = (received[0].json(), received[1].json());
    assert!(first["sequence"].as_i64() < second["sequence"].as_i64());
    assert_eq!(second["data"]["state"], "confirmed");

    // One byte changed in the body and the signature no longer holds.
    let mut tampered = received[1].body.to_vec();
    let at = tampered.iter().position(|b| *b == b'8').unwrap();
    tampered[at] = b'9';
    assert!(verifier.verify(&tampered, &received[1].headers).is_err());

    wait_for_state(&app, "delivered", 2).await;
    let attempts = app
        .count("SELECT count(*) FROM webhook_attempts WHERE status_code = 200")
        .await;
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn a_commit_wakes_the_deliverers_without_waiting_for_their_poll() {
    // Polling once a minute: only the commit's wake-up can bring these within seconds.
    let app = TestApp::spawn_with(TestOptions {
        webhook_poll_interval_ms: 60_000,
        ..TestOptions::webhooks(2)
    })
    .await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    // The workers' first poll comes at start; whatever commits after it waits for a wake-up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    deposit(&app, "wake", "0.5").await;
    // Ten seconds: far less than the minute until the next poll.
    receiver.wait_for(2, Duration::from_secs(10)).await;
    eprintln!("delivered {:?} after the deposit", started.elapsed());

    // A callback taken by another instance, which delivers nothing itself: its announcement
    // wakes this one's workers.
    let other = app
        .instance_with(TestOptions {
            webhook_workers: 0,
            ..app.options.clone()
        })
        .await;
    let address = str_of(&app.create_address("wake-2", "BTC", "BTC").await, "address").to_owned();
    let form = app.udun().held_deposit(&address, "0.25").await;
    let response = app
        .http
        .post(format!(
            "{}/callbacks/{}",
            other.url(),
            common::UDUN_ACCOUNT
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "success");
    receiver.wait_for(4, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn failures_are_retried_with_growing_delays_until_delivered() {
    let app = TestApp::spawn_with(TestOptions {
        retry_schedule_ms: vec![100, 300, 900, 2_700],
        ..TestOptions::webhooks(1)
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.script([
        Answer::Status(500),
        Answer::Status(500),
        Answer::Status(500),
    ]);
    app.set_webhook_url(&receiver.url).await;
    let address = str_of(&app.create_address("bob", "BTC", "BTC").await, "address").to_owned();
    app.udun()
        .deposit_with(&address, "1", json!({ "status": 0 }))
        .await;

    let received = receiver.wait_for(4, WAIT).await;
    wait_for_state(&app, "delivered", 1).await;
    let ids: Vec<String> = received
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "the same event id on every retry"
    );
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "delays grow: {gaps:?}"
    );
    assert!(gaps[0] >= Duration::from_millis(100));

    assert_eq!(
        outbox_states(&app).await,
        [("deposit.detected".to_owned(), "delivered".to_owned(), 4)]
    );
    let codes: Vec<Option<i32>> =
        sqlx::query_scalar("SELECT status_code FROM webhook_attempts ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(codes, [Some(500), Some(500), Some(500), Some(200)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 4, "nothing more after success");
}

#[tokio::test]
async fn an_endpoint_down_for_the_whole_schedule_fails_and_replay_delivers_once() {
    let app = TestApp::spawn_with(TestOptions {
        retry_schedule_ms: vec![30, 60],
        ..TestOptions::webhooks(2)
    })
    .await;
    let (url, bind) = closed_endpoint().await;
    app.set_webhook_url(&url).await;
    let address = str_of(&app.create_address("carol", "BTC", "BTC").await, "address").to_owned();
    app.udun()
        .deposit_with(&address, "1", json!({ "status": 0 }))
        .await;

    wait_for_state(&app, "failed", 1).await;
    assert_eq!(
        outbox_states(&app).await,
        [("deposit.detected".to_owned(), "failed".to_owned(), 3)]
    );
    let errors: Vec<Option<String>> =
        sqlx::query_scalar("SELECT error FROM webhook_attempts ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(errors.len(), 3);
    assert!(
        errors
            .iter()
            .all(|e| e.as_deref() == Some("connection failed"))
    );

    let receiver = Receiver::start_on(&bind).await;
    let (status, replayed) = app.ops_get("/ops/webhooks?state=failed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed["data"].as_array().unwrap().len(), 1);
    let response = app
        .http
        .post(format!(
            "{}/ops/webhooks/replay?state=failed&merchant={}",
            app.url, app.merchant_id
        ))
        .bearer_auth(common::OPS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["replayed"], 1);

    wait_for_state(&app, "delivered", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_thousand_events_with_four_workers_arrive_once_each_in_order_per_order() {
    let app = TestApp::spawn_with(TestOptions::webhooks(0)).await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    // Fixture: 100 orders with 10 notifications each, written as the core writes them.
    let mut sequence = 0i64;
    for _ in 0..100 {
        let order_id = Uuid::now_v7();
        for step in 0..10 {
            sequence += 1;
            let id = Uuid::now_v7();
            let payload = json!({ "id": id, "type": "deposit.detected", "sequence": sequence,
                                  "data": { "id": order_id, "step": step } });
            sqlx::query(
                "INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload)
                 VALUES ($1, $2, 'deposit.detected', $3, $4, $5)",
            )
            .bind(id)
            .bind(app.merchant_id)
            .bind(order_id)
            .bind(sequence)
            .bind(&payload)
            .execute(&app.pool)
            .await
            .unwrap();
        }
    }
    // Four delivery workers, as a gateway instance runs them.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for _ in 0..4 {
        tokio::spawn(custody_gateway::workers::outbox::run(
            app.gateway.state.clone(),
            stopped.clone(),
        ));
    }
    receiver.wait_for(1000, Duration::from_secs(60)).await;
    wait_for_state(&app, "delivered", 1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(true);

    let received = receiver.received();
    assert_eq!(received.len(), 1000, "no event twice");
    let mut last_step: HashMap<String, i64> = HashMap::new();
    for webhook in &received {
        let payload = webhook.json();
        let order = payload["data"]["id"].as_str().unwrap().to_owned();
        let step = payload["data"]["step"].as_i64().unwrap();
        let previous = last_step.insert(order, step).unwrap_or(-1);
        assert_eq!(step, previous + 1, "an order's events arrive in order");
    }
    assert_eq!(last_step.len(), 100);
    assert!(last_step.values().all(|s| *s == 9));
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_attempts").await,
        1000
    );
}

#[tokio::test]
async fn during_a_secret_rotation_both_signatures_are_sent_and_each_verifies() {
    let app = TestApp::spawn_with(TestOptions::webhooks(1)).await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    let old_secret = app.webhook_secret.clone();
    let (status, rotated) = app.post("/v1/webhook/rotate-secret", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = str_of(&rotated, "webhook_secret").to_owned();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, old_secret);
    assert!(rotated["previous_secret_valid_until"].is_string());

    let address = str_of(&app.create_address("dave", "BTC", "BTC").await, "address").to_owned();
    app.udun()
        .deposit_with(&address, "1", json!({ "status": 0 }))
        .await;
    let received = receiver.wait_for(1, WAIT).await;
    let signature = received[0].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    for secret in [&old_secret, &new_secret] {
        Webhook::new(secret)
            .unwrap()
            .verify(&received[0].body, &received[0].headers)
            .unwrap();
    }
    assert!(
        Webhook::new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .unwrap()
            .verify(&received[0].body, &received[0].headers)
            .is_err()
    );
}

#[tokio::test]
async fn a_slow_endpoint_fails_its_attempt_without_holding_up_other_merchants() {
    let app = TestApp::spawn_with(TestOptions {
        webhook_timeout_ms: 500,
        retry_schedule_ms: vec![60_000],
        ..TestOptions::webhooks(1)
    })
    .await;
    let slow = Receiver::start().await;
    slow.script([Answer::Sleep(Duration::from_secs(3))]);
    app.set_webhook_url(&slow.url).await;
    deposit_pending(&app, &app.api_key, "slow-user").await;
    slow.wait_for(1, WAIT).await;

    // While the slow endpoint still holds its request, another merchant's webhooks go out.
    let slow_done = Arc::new(AtomicBool::new(false));
    let flag = slow_done.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let other_key = app.other_merchant_key().await;
    let fast = Receiver::start().await;
    let (status, _) = app
        .http
        .put(format!("{}/v1/webhook", app.url))
        .bearer_auth(&other_key)
        .json(&json!({ "url": fast.url }))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    deposit_pending(&app, &other_key, "fast-user").await;
    fast.wait_for(1, WAIT).await;
    assert!(
        !slow_done.load(Ordering::SeqCst),
        "delivered while the slow endpoint was still busy"
    );

    let started = std::time::Instant::now();
    loop {
        let error: Option<String> =
            sqlx::query_scalar("SELECT error FROM webhook_attempts WHERE status_code IS NULL")
                .fetch_optional(&app.pool)
                .await
                .unwrap()
                .flatten();
        if let Some(error) = error {
            assert_eq!(error, "timed out");
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the slow attempt was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deposit_pending(app: &TestApp, key: &str, user: &str) {
    let (_, address) = app
        .post_as(
            key,
            "/v1/addresses",
            &json!({ "user_id": user, "chain": "BTC", "asset": "BTC" }),
        )
        .await;
    app.udun()
        .deposit_with(str_of(&address, "address"), "1", json!({ "status": 0 }))
        .await;
}

#[tokio::test]
async fn gone_turns_the_endpoint_off_until_the_merchant_sets_it_again() {
    let app = TestApp::spawn_with(TestOptions::webhooks(1)).await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(410)]);
    app.set_webhook_url(&receiver.url).await;
    deposit(&app, "erin", "1").await;
    receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing more is sent to a disabled endpoint"
    );
    let (_, endpoint) = app.get("/v1/webhook").await;
    assert!(endpoint["webhook"]["webhook_disabled_at"].is_string());
    let states: Vec<String> = outbox_states(&app)
        .await
        .into_iter()
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(states, ["pending", "pending"], "waiting, not failed");

    app.set_webhook_url(&receiver.url).await;
    let received = receiver.wait_for(3, WAIT).await;
    let types: Vec<String> = received[1..]
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["deposit.detected", "deposit.confirmed"]);
}

#[tokio::test]
async fn the_event_log_redelivery_and_test_ping() {
    let app = TestApp::spawn_with(TestOptions::webhooks(1)).await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    deposit(&app, "frank", "2.5").await;
    receiver.wait_for(2, WAIT).await;

    events_after(&app, None, 2).await;
    let (status, log) = app.get("/v1/events?type=deposit.confirmed").await;
    assert_eq!(status, StatusCode::OK);
    let events = log["data"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"]["data"]["amount"], "2.5");
    let id = str_of(&events[0]["event"], "id").to_owned();
    let (_, page) = app.get("/v1/events?limit=1").await;
    assert_eq!(page["data"][0]["event"]["type"], "deposit.detected");
    let (_, next) = app
        .get(&format!(
            "/v1/events?limit=1&cursor={}",
            str_of(&page, "next_cursor")
        ))
        .await;
    assert_eq!(next["data"][0]["event"]["type"], "deposit.confirmed");

    let (status, _) = app
        .post(&format!("/v1/events/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received[2].headers["webhook-id"].to_str().unwrap(), id);
    // The attempt is recorded once its answer is read, a moment after the receiver has it.
    let started = std::time::Instant::now();
    loop {
        let (_, one) = app.get(&format!("/v1/events/{id}")).await;
        let attempts = one["attempts"].as_array().unwrap().len();
        if attempts == 2 || started.elapsed() > WAIT {
            assert_eq!(attempts, 2, "{one}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let other = app.other_merchant_key().await;
    let (status, _) = app
        .post_as(&other, &format!("/v1/events/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, ping) = app.post("/v1/webhook/test", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ping["delivered"], true);
    assert_eq!(ping["status_code"], 200);
    let received = receiver.wait_for(4, WAIT).await;
    assert_eq!(received[3].json()["type"], "ping");
    Webhook::new(&app.webhook_secret)
        .unwrap()
        .verify(&received[3].body, &received[3].headers)
        .unwrap();
}

#[tokio::test]
async fn endpoint_urls_are_checked() {
    let app = TestApp::spawn_with(TestOptions {
        allow_private_addresses: false,
        ..TestOptions::default()
    })
    .await;
    for url in [
        "ftp://example.com/hooks",
        "https://user:secret@example.com/hooks",
        "http://127.0.0.1:8080/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::127.0.0.1]/hooks",
        "http://[64:ff9b::7f00:1]/hooks",
        "http://[fec0::1]/hooks",
        "http://[2001:db8::1]/hooks",
        "http://[2002:a00:1::1]/hooks",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks",
        "http://[fd00::1]/hooks",
        "http://localhost/hooks",
        "not a url",
    ] {
        let (status, body) = app.put("/v1/webhook", &json!({ "url": url })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(body["error"]["code"], "invalid_webhook_url", "{url}");
    }
    let (status, endpoint) = app.get("/v1/webhook").await;
    assert_eq!(status, StatusCode::OK);
    let webhook = endpoint["webhook"]
        .as_object()
        .expect("the endpoint settings");
    assert_eq!(
        webhook.get("webhook_url"),
        Some(&Value::Null),
        "nothing was stored"
    );
}

/// The event log after `cursor` once it lists at least `count` events. An event is listed once every
/// transaction older than it has ended, which under parallel tests can take a moment.
async fn events_after(app: &TestApp, cursor: Option<&str>, count: usize) -> Value {
    let path = match cursor {
        Some(cursor) => format!("/v1/events?cursor={cursor}"),
        None => "/v1/events".to_owned(),
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        if page["data"].as_array().unwrap().len() >= count || tokio::time::Instant::now() > deadline
        {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_event_log_never_skips_an_event_that_commits_late() {
    let app = TestApp::spawn().await;
    // A final deposit reports deposit.detected and deposit.confirmed.
    deposit(&app, "early", "1").await;
    let first = events_after(&app, None, 2).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2, "{first}");
    let cursor = str_of(&first, "next_cursor").to_owned();

    // A transaction writes an event and stays open while another change commits.
    let mut slow = app.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO webhook_outbox (id, merchant_id, event_type, sequence, payload)
         VALUES ($1, $2, 'deposit.detected', 1, '{\"late\": true}')",
    )
    .bind(Uuid::now_v7())
    .bind(app.merchant_id)
    .execute(&mut *slow)
    .await
    .unwrap();
    deposit(&app, "later", "2").await;

    // While it is open, the log stops before it rather than listing what committed after it.
    let (_, page) = app.get(&format!("/v1/events?cursor={cursor}")).await;
    assert!(page["data"].as_array().unwrap().is_empty(), "{page}");
    assert_eq!(page["next_cursor"], cursor.as_str());

    slow.commit().await.unwrap();
    let page = events_after(&app, Some(&cursor), 3).await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(
        data.len(),
        3,
        "the late event and the later deposit's two: {page}"
    );
    assert_eq!(
        data[0]["event"]["late"], true,
        "written first, listed first"
    );
    assert_eq!(data[1]["event"]["type"], "deposit.detected");
    assert_eq!(data[2]["event"]["type"], "deposit.confirmed");
}

#[tokio::test]
async fn a_test_delivery_returns_at_most_the_first_kibibyte_of_the_reply() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.set_webhook_url(&receiver.url).await;
    let mut reply = "é".repeat(40_000).into_bytes();
    reply.extend_from_slice(&[0xff; 4096]);
    receiver.script([
        Answer::Body(200, reply.clone()),
        Answer::Body(500, vec![0xfe; 9000]),
    ]);
    for _ in 0..2 {
        let (status, ping) = app.post("/v1/webhook/test", &json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let kept = str_of(&ping, "response_body");
        assert!(
            !kept.is_empty() && kept.len() <= 1024,
            "{} bytes",
            kept.len()
        );
    }
}

#[tokio::test]
async fn operators_list_deliveries_newest_first_across_merchants_and_by_state() {
    let app = TestApp::spawn_with(TestOptions::webhooks(0)).await;
    let other = Uuid::now_v7();
    sqlx::query("INSERT INTO merchants (id, name, webhook_secret) VALUES ($1, 'other', 'whsec')")
        .bind(other)
        .execute(&app.pool)
        .await
        .unwrap();
    let ours = app.merchant_id;
    // (merchant, state, seconds ago), one delivery each.
    let deliveries = [
        (ours, "delivered", 5),
        (other, "delivered", 4),
        (ours, "failed", 3),
        (other, "failed", 2),
        (ours, "pending", 1),
    ];
    let mut ids = Vec::new();
    for (sequence, (merchant, state, ago)) in deliveries.into_iter().enumerate() {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload,
                                         state, created_at)
             VALUES ($1, $2, 'deposit.confirmed', $3, $4, '{}', $5,
                     now() - make_interval(secs => $6))",
        )
        .bind(id)
        .bind(merchant)
        .bind(Uuid::now_v7())
        .bind(sequence as i64 + 1)
        .bind(state)
        .bind(f64::from(ago))
        .execute(&app.pool)
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    let listed = |query: String| {
        let app = &app;
        async move {
            let (status, body) = app.ops_get(&format!("/ops/webhooks{query}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| str_of(d, "id").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let picked = |which: &[usize]| which.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    assert_eq!(listed("?limit=4".into()).await, picked(&[4, 3, 2, 1]));
    assert_eq!(listed("?state=failed".into()).await, picked(&[3, 2]));
    assert_eq!(
        listed("?state=delivered&limit=1".into()).await,
        picked(&[1])
    );
    assert_eq!(listed(format!("?merchant={other}")).await, picked(&[3, 1]));
    assert_eq!(
        listed(format!("?merchant={ours}&state=pending")).await,
        picked(&[4])
    );
}
