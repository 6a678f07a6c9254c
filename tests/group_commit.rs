//! Group commit: callbacks that arrive while a group is being stored are stored together in the
//! next one (those of new deposits only as one statement, the others beside it as one
//! transaction), each exactly once, each answered after its commit; and a group that cannot be
//! stored is stored again one callback at a time, so that one bad callback fails no other.
//!
//! The tests hold the one group slot (`callback_groups = 1`) with a deposit whose insert a test
//! trigger slows down, so that the callbacks sent meanwhile queue and form one group.

mod common;

use std::time::Duration;

use common::{TestApp, TestOptions, str_of};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

/// A trigger of this test's own on the deposits table: the transfer `slow` takes half a second to
/// insert, and the transfer `poison` cannot be inserted at all.
async fn install_faults(app: &TestApp) {
    sqlx::query(
        "CREATE FUNCTION test_deposit_faults() RETURNS trigger AS $$
         BEGIN
             IF NEW.provider_ref = 'slow' THEN PERFORM pg_sleep(0.5); END IF;
             IF NEW.provider_ref = 'poison' THEN RAISE EXCEPTION 'this transfer cannot be stored'; END IF;
             RETURN NEW;
         END $$ LANGUAGE plpgsql",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_deposit_faults BEFORE INSERT ON deposits
         FOR EACH ROW EXECUTE FUNCTION test_deposit_faults()",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn held_form(app: &TestApp, address: &str, amount: &str, trade_id: &str) -> String {
    let sent = app
        .udun()
        .deposit_with(
            address,
            amount,
            json!({ "hold": true, "trade_id": trade_id }),
        )
        .await;
    str_of(&sent, "form").to_owned()
}

/// Udun's report of the transfer `trade_id` in `status` (0 pending, 3 confirmed), held.
async fn report_form(
    app: &TestApp,
    address: &str,
    amount: &str,
    trade_id: &str,
    status: u8,
) -> String {
    let sent = app
        .udun()
        .deposit_with(
            address,
            amount,
            json!({ "hold": true, "trade_id": trade_id, "status": status }),
        )
        .await;
    str_of(&sent, "form").to_owned()
}

/// Delivers `forms` all at once while the slow deposit holds the only slot; returns the replies.
async fn deliver_behind_slow(
    app: &TestApp,
    slow: &str,
    forms: &[String],
) -> Vec<(StatusCode, String)> {
    let first = app.deliver_form(slow);
    let rest = async {
        // Long enough for the slow one to be in its transaction, well short of its half second.
        tokio::time::sleep(Duration::from_millis(150)).await;
        futures::future::join_all(forms.iter().map(|form| app.deliver_form(form))).await
    };
    let (first, rest) = tokio::join!(first, rest);
    assert_eq!((first.0, first.1.as_str()), (StatusCode::OK, "success"));
    rest
}

/// `/metrics` is one per test process: the tests here run one at a time, so that what a test reads
/// of it is its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// [`deliver_behind_slow`], each callback answered `success`.
async fn deliver_behind_slow_all_stored(app: &TestApp, slow: &str, forms: &[String]) {
    for (status, text) in deliver_behind_slow(app, slow, forms).await {
        assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    }
}

/// The value of the `/metrics` line that starts with `series`, or 0 when there is none yet.
async fn metric(app: &TestApp, series: &str) -> f64 {
    app.metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Parts of groups stored so far: as one statement, as one transaction, and gone again as a
/// transaction after a statement found a transfer stored already.
async fn parts_stored(app: &TestApp) -> [f64; 3] {
    [
        metric(
            app,
            r#"custody_callback_group_seconds_count{result="statement"}"#,
        )
        .await,
        metric(
            app,
            r#"custody_callback_group_seconds_count{result="transaction"}"#,
        )
        .await,
        metric(app, "custody_callback_groups_retried_total").await,
    ]
}

fn since(before: [f64; 3], after: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|n| after[n] - before[n])
}

async fn app_with_one_slot() -> (TestApp, String) {
    let app = TestApp::spawn_with(TestOptions {
        callback_groups: 1,
        ..TestOptions::default()
    })
    .await;
    install_faults(&app).await;
    let address = app.create_address("grace", "BTC", "BTC").await;
    let address = str_of(&address, "address").to_owned();
    (app, address)
}

#[tokio::test]
async fn callbacks_arriving_together_are_stored_together_each_exactly_once() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    let slow = held_form(&app, &address, "0.5", "slow").await;
    let mut forms = Vec::new();
    for n in 0..10 {
        forms.push(held_form(&app, &address, &format!("1.{n:02}"), &format!("t-{n}")).await);
    }
    // Copies of two callbacks in the same group, and a transfer reported twice in it (pending,
    // then confirmed, in whichever order they queue): each credits once.
    forms.push(forms[3].clone());
    forms.push(forms[7].clone());
    for status in [0, 3] {
        forms.push(report_form(&app, &address, "4", "t-twice", status).await);
    }

    deliver_behind_slow_all_stored(&app, &slow, &forms).await;

    // The new deposits and their copies are one statement; the transfer reported twice is
    // applied beside it, in one transaction.
    let transactions: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT count(*), bool_or(body LIKE '%t-twice%') FROM provider_callbacks
          WHERE body NOT LIKE '%slow%' GROUP BY xmin::text ORDER BY count(*)",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        transactions,
        [(2, true), (12, false)],
        "the fourteen callbacks shared two transactions"
    );
    let groups = metric(&app, "custody_callback_group_size_count").await;
    let up_to_eight = metric(&app, r#"custody_callback_group_size_bucket{le="8"}"#).await;
    assert!(
        groups - up_to_eight >= 1.0,
        "/metrics counts the group of fourteen"
    );
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 12);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'duplicate'")
            .await,
        2
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_events
              WHERE outcome = 'applied' AND order_id IS NOT NULL AND provider_ref <> 't-twice'"
        )
        .await,
        11
    );

    // Each deposit: detected, then confirmed, in its transitions and in its notifications, the
    // notification's sequence being its transition's id.
    let rows = sqlx::query(
        "SELECT d.amount::text AS amount, d.state,
                array_agg(t.to_state ORDER BY t.id) AS states,
                array_agg(t.id ORDER BY t.id) AS transition_ids,
                (SELECT array_agg(o.sequence ORDER BY o.sequence) FROM webhook_outbox o
                  WHERE o.order_id = d.id) AS sequences,
                (SELECT array_agg(o.event_type ORDER BY o.sequence) FROM webhook_outbox o
                  WHERE o.order_id = d.id) AS notices,
                (SELECT array_agg((o.payload->>'sequence')::int8 ORDER BY o.sequence)
                   FROM webhook_outbox o WHERE o.order_id = d.id) AS payload_sequences,
                (SELECT array_agg(o.payload->'data'->>'state' ORDER BY o.sequence)
                   FROM webhook_outbox o WHERE o.order_id = d.id) AS payload_states
         FROM deposits d JOIN order_transitions t ON t.order_id = d.id
         GROUP BY d.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 12);
    for row in rows {
        let amount: String = row.get("amount");
        assert_eq!(row.get::<String, _>("state"), "confirmed", "{amount}");
        assert_eq!(
            row.get::<Vec<String>, _>("states"),
            ["detected", "confirmed"],
            "{amount}"
        );
        let ids: Vec<i64> = row.get("transition_ids");
        assert_eq!(row.get::<Vec<i64>, _>("sequences"), ids, "{amount}");
        assert_eq!(row.get::<Vec<i64>, _>("payload_sequences"), ids, "{amount}");
        assert_eq!(
            row.get::<Vec<String>, _>("notices"),
            ["deposit.detected", "deposit.confirmed"],
            "{amount}"
        );
        assert_eq!(
            row.get::<Vec<String>, _>("payload_states"),
            ["detected", "confirmed"],
            "{amount}"
        );
    }

    // What the merchant reads is what one callback at a time would have stored.
    let (status, listed) = app.get("/v1/deposits?user_id=grace&limit=50").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let amounts: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts.len(), 12);
    assert!(
        amounts.contains(&"1.07") && amounts.contains(&"0.5"),
        "{amounts:?}"
    );
}

#[tokio::test]
async fn a_group_of_new_deposits_is_one_statement_whose_notifications_announce_the_rows_stored() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    let earlier = held_form(&app, &address, "2.9", "p-earlier").await;
    let (status, text) = app.deliver_form(&earlier).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    let slow = held_form(&app, &address, "0.5", "slow").await;
    let mut forms = Vec::new();
    for n in 0..6 {
        forms.push(held_form(&app, &address, &format!("3.{n}"), &format!("s-{n}")).await);
    }
    // Copies: two of callbacks in the group, and one of a callback stored before, as providers
    // deliver again.
    forms.push(forms[1].clone());
    forms.push(forms[4].clone());
    forms.push(earlier);
    let before = parts_stored(&app).await;

    deliver_behind_slow_all_stored(&app, &slow, &forms).await;

    let grouped: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM provider_callbacks
          WHERE body NOT LIKE '%slow%' AND NOT (body LIKE '%p-earlier%' AND outcome = 'processed')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(grouped, 1, "the nine callbacks shared one transaction");
    assert_eq!(
        since(before, parts_stored(&app).await),
        [2.0, 0.0, 0.0],
        "the slow deposit and the group each stored as one statement"
    );
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 8);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE outcome = 'duplicate'")
            .await,
        3
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_events e JOIN deposits d ON d.id = e.order_id
              WHERE e.outcome = 'applied' AND e.provider_ref = d.provider_ref
                AND e.provider_ref LIKE 's-%'"
        )
        .await,
        6
    );

    // Each deposit was detected, then confirmed, by its event; each notification's sequence is
    // its transition's id, and its data is the deposit as the merchant API reads it.
    let steps: Vec<AnnouncedStep> = sqlx::query_as(
        "SELECT d.id AS deposit_id, t.id AS transition_id, o.sequence, t.from_state, t.to_state,
                t.event_id, o.payload
           FROM deposits d
           JOIN order_transitions t ON t.order_id = d.id
           JOIN webhook_outbox o ON o.order_id = d.id AND o.event_type = 'deposit.' || t.to_state
          WHERE d.provider_ref LIKE 's-%'
          ORDER BY d.provider_ref, t.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(steps.len(), 12);
    for pair in steps.chunks(2) {
        let (id, event_id) = (pair[0].deposit_id, pair[0].event_id);
        let (status, stored) = app.get(&format!("/v1/deposits/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        let event: (uuid::Uuid, String) =
            sqlx::query_as("SELECT order_id, outcome FROM provider_events WHERE id = $1")
                .bind(event_id)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(event, (id, "applied".to_owned()));
        let mut detected = stored.clone();
        detected["state"] = json!("detected");
        let expected = [
            (None, "detected", detected),
            (Some("detected"), "confirmed", stored),
        ];
        for (step, (from, to, data)) in pair.iter().zip(expected) {
            assert_eq!(
                (step.from_state.as_deref(), step.to_state.as_str()),
                (from, to)
            );
            assert_eq!(step.event_id, event_id);
            assert_eq!(step.sequence, step.transition_id);
            assert_eq!(step.payload["sequence"], json!(step.transition_id));
            assert_eq!(step.payload["type"], json!(format!("deposit.{to}")));
            assert_eq!(
                step.payload["data"], data,
                "what was announced is what was stored"
            );
        }
        assert!(
            pair[0].transition_id < pair[1].transition_id,
            "detected comes before confirmed"
        );
    }
}

/// A deposit's transition beside the notification that announces it.
#[derive(sqlx::FromRow)]
struct AnnouncedStep {
    deposit_id: uuid::Uuid,
    transition_id: i64,
    sequence: i64,
    from_state: Option<String>,
    to_state: String,
    event_id: i64,
    payload: serde_json::Value,
}

#[tokio::test]
async fn a_group_moves_a_deposit_stored_earlier_on_and_records_the_outcome_it_had() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    let pending = report_form(&app, &address, "2", "t-earlier", 0).await;
    let (status, text) = app.deliver_form(&pending).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    let stored: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM deposits WHERE provider_ref = 't-earlier'")
            .fetch_one(&app.pool)
            .await
            .unwrap();

    // Its confirmation comes in a group beside a new deposit: the group plans to create it, finds
    // it stored, and moves it on as alone.
    let slow = held_form(&app, &address, "0.5", "slow").await;
    let forms = [
        report_form(&app, &address, "2", "t-earlier", 3).await,
        held_form(&app, &address, "3", "t-new").await,
    ];
    let before = parts_stored(&app).await;
    deliver_behind_slow_all_stored(&app, &slow, &forms).await;
    assert_eq!(
        since(before, parts_stored(&app).await),
        [2.0, 1.0, 0.0],
        "the slow deposit and the new one each one statement, the confirmation of the deposit \
         stored here before one transaction beside it, none gone again"
    );

    let (state, deposits): (String, i64) = sqlx::query_as(
        "SELECT state, (SELECT count(*) FROM deposits WHERE provider_ref = 't-earlier')
         FROM deposits WHERE id = $1",
    )
    .bind(stored)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), deposits), ("confirmed", 1));
    let outcomes: Vec<(String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT outcome, order_id FROM provider_events WHERE provider_ref = 't-earlier' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        [
            ("applied".to_owned(), Some(stored)),
            ("applied".to_owned(), Some(stored))
        ]
    );
    let new: (String, uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "SELECT e.outcome, e.order_id, d.id FROM provider_events e
           JOIN deposits d ON d.provider_ref = e.provider_ref
          WHERE e.provider_ref = 't-new'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((new.0.as_str(), new.1), ("applied", new.2));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM order_transitions t JOIN deposits d ON d.id = t.order_id
              WHERE d.provider_ref = 't-earlier'"
        )
        .await,
        2,
        "detected, then confirmed"
    );
}

#[tokio::test]
async fn a_group_that_finds_a_transfer_stored_by_another_instance_goes_again_as_a_transaction() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    // The transfer's first report reaches another instance, so this one's writer does not know it.
    let other = app.second_instance().await;
    let pending = report_form(&app, &address, "5", "t-elsewhere", 0).await;
    let (status, text) = app
        .deliver_to(&other.url(), "application/x-www-form-urlencoded", pending)
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));

    let slow = held_form(&app, &address, "0.5", "slow").await;
    let forms = [
        report_form(&app, &address, "5", "t-elsewhere", 3).await,
        held_form(&app, &address, "6", "t-here").await,
    ];
    let before = parts_stored(&app).await;
    deliver_behind_slow_all_stored(&app, &slow, &forms).await;
    assert_eq!(
        since(before, parts_stored(&app).await),
        [1.0, 1.0, 1.0],
        "the slow deposit one statement; the group's found the transfer stored and went again"
    );

    let states: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT d.provider_ref, d.state,
                (SELECT count(*) FROM order_transitions t WHERE t.order_id = d.id)
           FROM deposits d WHERE d.provider_ref LIKE 't-%' ORDER BY d.provider_ref",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        [
            ("t-elsewhere".to_owned(), "confirmed".to_owned(), 2),
            ("t-here".to_owned(), "confirmed".to_owned(), 2)
        ]
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM provider_events e JOIN deposits d ON d.id = e.order_id
              WHERE e.outcome = 'applied' AND d.provider_ref LIKE 't-%'"
        )
        .await,
        3,
        "both reports of the transfer stored elsewhere, and the new one, applied once each"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM provider_callbacks WHERE body LIKE '%t-%'")
            .await,
        3,
        "nothing of the statement that went again was kept"
    );
    other.shutdown().await;
}

#[tokio::test]
async fn an_address_paid_before_is_not_read_again() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    let first = held_form(&app, &address, "1", "t-first").await;
    let (status, text) = app.deliver_form(&first).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    // What a deposit takes from its address never changes; were the row read again, the next
    // deposit would carry this user.
    sqlx::query("UPDATE addresses SET user_id = 'not-read' WHERE address = $1")
        .bind(&address)
        .execute(&app.pool)
        .await
        .unwrap();
    let second = held_form(&app, &address, "2", "t-second").await;
    let (status, text) = app.deliver_form(&second).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    let users: Vec<String> = sqlx::query_scalar("SELECT user_id FROM deposits ORDER BY amount")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, ["grace", "grace"]);
}

#[tokio::test]
async fn a_callback_that_cannot_be_stored_fails_no_other_in_its_group() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (app, address) = app_with_one_slot().await;
    let slow = held_form(&app, &address, "0.5", "slow").await;
    let mut forms = Vec::new();
    for n in 0..5 {
        forms.push(held_form(&app, &address, &format!("2.{n}"), &format!("g-{n}")).await);
    }
    let poison = held_form(&app, &address, "3", "poison").await;
    forms.insert(2, poison.clone());

    let replies = deliver_behind_slow(&app, &slow, &forms).await;
    for (form, (status, text)) in forms.iter().zip(&replies) {
        if *form == poison {
            assert_ne!(
                status,
                &StatusCode::OK,
                "the poisoned callback is to be sent again"
            );
            assert_eq!(text, "error");
        } else {
            assert_eq!((*status, text.as_str()), (StatusCode::OK, "success"));
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 6);
    assert_eq!(
        app.count("SELECT count(*) FROM deposits WHERE provider_ref = 'poison'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM provider_events WHERE provider_ref = 'poison'")
            .await,
        0,
        "nothing of the poisoned callback was kept, so that its next delivery is new"
    );
    // Each of the others went alone, after the group failed.
    let transactions: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM provider_callbacks WHERE body NOT LIKE '%slow%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(transactions, 5);
    let split = r#"custody_callback_group_seconds_count{result="split"}"#;
    assert!(
        metric(&app, split).await >= 1.0,
        "/metrics counts the split group"
    );

    // Once the fault is gone the provider's next delivery is credited, once.
    sqlx::query("DROP TRIGGER test_deposit_faults ON deposits")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, text) = app.deliver_form(&poison).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    assert_eq!(app.count("SELECT count(*) FROM deposits").await, 7);
}
