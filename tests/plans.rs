//! The listings whose cost must not grow with the data read through an index: each query exactly
//! as the store runs it, explained with sequential scans priced out, must not scan a table whole.
//! The shape of the plan is checked, never its time.

mod common;

use common::TestApp;
use custody_gateway::store::callbacks;
use custody_gateway::store::deposits::{self, DepositFilter};
use custody_gateway::store::{backlog, polling, treasury, webhooks, withdrawals};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// The tables a plan reads whole.
fn sequential_scans(explained: &Value) -> Vec<String> {
    let mut all = Vec::new();
    nodes(&explained[0]["Plan"], &mut all);
    all.iter()
        .filter(|n| n["Node Type"] == "Seq Scan")
        .map(|n| n["Relation Name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts that `plan` reads no table whole and reads through `index`.
fn assert_reads_through(plan: &Value, index: &str) {
    assert!(sequential_scans(plan).is_empty(), "{plan:#}");
    assert!(plan.to_string().contains(index), "{index}\n{plan:#}");
}

/// A connection on which a sequential scan costs more than any index scan, so that the plan
/// shows whether an index serves the query at all, however small the test tables are.
async fn planner(app: &TestApp) -> sqlx::pool::PoolConnection<Postgres> {
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    conn
}

async fn explain(conn: &mut PgConnection, mut query: QueryBuilder<Postgres>) -> Value {
    query
        .build_query_scalar::<Value>()
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_users_deposits_and_a_state_of_withdrawals_are_listed_through_an_index() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    let filter = DepositFilter {
        user_id: Some("alice".into()),
        ..DepositFilter::default()
    };
    let plan = explain(
        &mut conn,
        deposits::listing(
            "EXPLAIN (FORMAT JSON) SELECT d.*",
            Some(app.merchant_id),
            &filter,
            50,
        ),
    )
    .await;
    // The index that fits: the user's own, not the merchant's newest-first walk.
    assert_reads_through(&plan, "deposits_merchant_user_created");

    let plan = explain(
        &mut conn,
        withdrawals::listing(
            "EXPLAIN (FORMAT JSON) SELECT w.*",
            app.merchant_id,
            Some("submitted"),
            None,
            50,
        ),
    )
    .await;
    assert_reads_through(&plan, "withdrawals_merchant_state_created");
}

#[tokio::test]
async fn the_event_log_and_the_ops_lookup_read_through_indexes() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    let cursor = uuid::Uuid::now_v7();
    let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {}",
        webhooks::EVENTS
    )))
    .bind(app.merchant_id)
    .bind(None::<String>)
    .bind(Some(cursor))
    .bind(100_i64)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!(sequential_scans(&plan).is_empty(), "{plan:#}");

    for search in [deposits::SEARCH, withdrawals::SEARCH] {
        let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (FORMAT JSON) {search}"
        )))
        .bind("0xabc")
        .bind(100_i64)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert!(sequential_scans(&plan).is_empty(), "{search}\n{plan:#}");
    }
}

#[tokio::test]
async fn an_orders_events_and_the_events_of_an_outcome_are_listed_through_their_indexes() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    let select = "EXPLAIN (FORMAT JSON) SELECT *";
    let cases = [
        // An operator's order lookup lists the order's events.
        (None, Some(uuid::Uuid::now_v7()), "provider_events_order"),
        // The outcomes an operator looks for are a few among millions of applied events.
        (Some("orphan"), None, "provider_events_unapplied"),
        (Some("needs_review"), None, "provider_events_unapplied"),
        // Nearly every event is applied: the newest rows of the table are the listing.
        (Some("applied"), None, "provider_events_pkey"),
    ];
    for (outcome, order_id, index) in cases {
        let plan = explain(
            &mut conn,
            callbacks::events_listing(select, outcome, order_id, 50),
        )
        .await;
        assert_reads_through(&plan, index);
    }
}

#[tokio::test]
async fn deliveries_are_listed_through_indexes_with_or_without_a_merchant() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    // Shaped as a merchant's outbox is: nearly all delivered, a few failed, none pending; the
    // plans follow the statistics.
    sqlx::query(
        "INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload,
                                     state, attempts, created_at)
         SELECT gen_random_uuid(), $1, 'deposit.confirmed', gen_random_uuid(), n, '{}',
                CASE WHEN n % 1000 = 0 THEN 'failed' ELSE 'delivered' END, 1,
                now() - make_interval(secs => n)
           FROM generate_series(1, 20000) n",
    )
    .bind(app.merchant_id)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("ANALYZE webhook_outbox")
        .execute(&mut *conn)
        .await
        .unwrap();
    let merchant = Some(app.merchant_id);
    let cases = [
        (None, None, "webhook_outbox_merchant"),
        (merchant, None, "webhook_outbox_merchant"),
        (None, Some("delivered"), "webhook_outbox_merchant"),
        (merchant, Some("failed"), "webhook_outbox_failed"),
        (None, Some("failed"), "webhook_outbox_failed"),
        (
            merchant,
            Some("pending"),
            "webhook_outbox_pending_by_merchant",
        ),
    ];
    for (merchant_id, state, index) in cases {
        let plan = explain(
            &mut conn,
            webhooks::deliveries_listing(
                "EXPLAIN (FORMAT JSON) SELECT d.*",
                merchant_id,
                state,
                100,
            ),
        )
        .await;
        assert_reads_through(&plan, index);
    }
}

#[tokio::test]
async fn callbacks_are_listed_through_indexes_for_one_account_or_all() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    // Shaped as callbacks are: nearly all verified, over a few accounts.
    sqlx::query(
        "INSERT INTO provider_callbacks (id, account_id, headers, body, verified, outcome,
                                         event_count, received_at)
         SELECT gen_random_uuid(), (ARRAY['udun-main', 'chainup-main'])[n % 2 + 1], '{}', '',
                n % 1000 <> 0, 'processed', 1, now() - make_interval(secs => n)
           FROM generate_series(1, 20000) n",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("ANALYZE provider_callbacks")
        .execute(&mut *conn)
        .await
        .unwrap();
    let all = ["udun-main", "chainup-main"];
    let cases: [(&[&str], _, _, _); 6] = [
        (&all, None, None, "provider_callbacks_account_received"),
        (&all[..1], None, None, "provider_callbacks_account_received"),
        (&all, None, Some(false), "provider_callbacks_unverified"),
        (
            &all[..1],
            None,
            Some(false),
            "provider_callbacks_unverified",
        ),
        (&all, Some("rejected"), None, "provider_callbacks_refused"),
        (
            &all[..1],
            Some("limited"),
            None,
            "provider_callbacks_refused",
        ),
    ];
    for (accounts, outcome, verified, index) in cases {
        let plan = explain(
            &mut conn,
            callbacks::callbacks_listing(
                "EXPLAIN (FORMAT JSON) SELECT c.*",
                accounts,
                outcome,
                verified,
                100,
            ),
        )
        .await;
        assert_reads_through(&plan, index);
    }
}

#[tokio::test]
async fn the_few_rows_waiting_or_flagged_are_read_through_indexes_of_their_own() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    // Shaped as the tables are: nearly every deposit confirmed and every withdrawal done, a few
    // waiting for confirmations or flagged for review.
    let seeding = [
        "INSERT INTO addresses (id, merchant_id, user_id, account_id, chain, asset, address)
         VALUES (gen_random_uuid(), $1, 'seed', 'udun-main', 'BTC', 'BTC', 'seedaddr')",
        "INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id, chain,
                               asset, address, amount, state, block_height, needs_review)
         SELECT gen_random_uuid(), $1, a.id, 'udun-main', 'seed-' || n, 'seed', 'BTC', 'BTC',
                a.address, 1, CASE WHEN n % 1000 = 0 THEN 'detected' ELSE 'confirmed' END, n,
                n % 2000 = 1
           FROM generate_series(1, 20000) n JOIN addresses a ON a.address = 'seedaddr'",
        "INSERT INTO withdrawals (id, merchant_id, client_order_id, account_id, provider_request_id,
                                  chain, asset, amount, to_address, state, needs_review)
         SELECT gen_random_uuid(), $1, 'seed-' || n, 'udun-main', 'seedreq' || n, 'TRX', 'USDT', 1,
                'TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF', 'completed', n % 1000 = 1
           FROM generate_series(1, 5000) n",
    ];
    for statement in seeding {
        sqlx::query(statement)
            .bind(app.merchant_id)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query("ANALYZE deposits, withdrawals")
        .execute(&mut *conn)
        .await
        .unwrap();
    let explained = |sql: &str| format!("EXPLAIN (FORMAT JSON) {sql}");
    let plans: [Value; 3] = [
        sqlx::query_scalar(sqlx::AssertSqlSafe(explained(backlog::BACKLOG)))
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        sqlx::query_scalar(sqlx::AssertSqlSafe(explained(
            polling::AWAITING_CONFIRMATIONS,
        )))
        .bind("udun-main")
        .fetch_one(&mut *conn)
        .await
        .unwrap(),
        sqlx::query_scalar(sqlx::AssertSqlSafe(explained(
            withdrawals::NEEDING_ATTENTION,
        )))
        .bind(1800.0_f64)
        .fetch_one(&mut *conn)
        .await
        .unwrap(),
    ];
    let indexes: [&[&str]; 3] = [
        &[
            "deposits_needing_review",
            "deposits_awaiting_confirmation",
            "withdrawals_needing_review",
        ],
        &["deposits_awaiting_confirmation"],
        &["withdrawals_needing_review"],
    ];
    for (plan, indexes) in plans.iter().zip(indexes) {
        for index in indexes {
            assert_reads_through(plan, index);
        }
    }
}

#[tokio::test]
async fn an_accounts_sweeps_are_listed_through_an_index() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {}",
        treasury::SWEEPS
    )))
    .bind("ubao-main")
    .bind(500_i64)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_reads_through(&plan, "sweeps_account_created");
}

#[tokio::test]
async fn a_webhook_claim_reads_only_the_rows_it_takes() {
    let app = TestApp::spawn().await;
    let mut conn = planner(&app).await;
    let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {}",
        webhooks::CLAIM_DUE
    )))
    .bind(16_i64)
    .bind(35_000_f64)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    // The claim starts from the merchants (a table of accounts, not of orders) by design.
    assert_eq!(sequential_scans(&plan), ["merchants"], "{plan:#}");
    let mut all = Vec::new();
    nodes(&plan[0]["Plan"], &mut all);
    // Each merchant's due rows come from the index already in claim order: nothing sorts them
    // (which would read every due row), and the scan is stopped by the claim's limit.
    let pending = all
        .iter()
        .find(|n| n["Index Name"] == "webhook_outbox_pending_by_merchant")
        .unwrap_or_else(|| panic!("the pending index is used\n{plan:#}"));
    assert_eq!(pending["Node Type"], "Index Scan", "{plan:#}");
    assert!(
        !all.iter().any(|n| n["Node Type"] == "Incremental Sort"),
        "{plan:#}"
    );
    let sorts_under_limit = all
        .iter()
        .filter(|n| n["Node Type"] == "Limit")
        .any(|limit| {
            let mut below = Vec::new();
            nodes(limit, &mut below);
            below.iter().any(|n| n["Node Type"] == "Sort")
                && below
                    .iter()
                    .any(|n| n["Index Name"] == "webhook_outbox_pending_by_merchant")
                && below.iter().filter(|n| n["Node Type"] == "Limit").count() == 1
        });
    assert!(
        !sorts_under_limit,
        "a merchant's due rows are sorted before the limit\n{plan:#}"
    );
}
