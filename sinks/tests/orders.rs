//! The replenishment processor's answers and the fuller replenishment records on a real
//! Postgres, committed as the sink commits them: an order's lifecycle whatever the arrival
//! order, command outcomes, the trigger's explanation, and category and auto-approval rules.

use composerp_events::{
    Codec, Event, EventId, Money, Timestamp,
    replenishment::{PurchaseOrderLine, PurchaseOrderStatus, PurchaseOrderStatusChanged},
    samples,
};
use composerp_sinks::{
    batch::{Batch, Family, Staged},
    catalog::SupplierItems,
    redelivery::Outcome,
    replenishment::{
        AutoApprovalRules, CommandRejections, DefaultRules, OrderLifecycle, OrderLinesCreated,
        OrderStatusChanges, OrdersCreated, Triggers,
    },
    sink::commit_rows,
    testing::TestDatabase,
};
use sqlx::{Connection, PgConnection};

type Lifecycle = Family<OrderLifecycle, OrderStatusChanges>;

/// Commits `events` as one batch of `staged` on a session of its own, as the sink does.
async fn commit<E: Event>(
    db: &TestDatabase,
    mut staged: Box<dyn Staged>,
    events: &[E],
) -> anyhow::Result<Outcome> {
    let mut conn = PgConnection::connect(&db.url()).await?;
    let codec = Codec::embedded();
    for e in events {
        staged.add(&codec, &codec.encode(e)?)?;
    }
    let topic = [staged.topic().to_owned()];
    Ok(commit_rows(&mut conn, staged.as_ref(), "test", (&topic, &[0], &[1])).await?)
}

/// Order PO-1's change to `status` at `at` (µs), with `received` units on line 1 of 24.
fn change(
    name: &str,
    status: PurchaseOrderStatus,
    previous: Option<PurchaseOrderStatus>,
    received: i64,
    at: i64,
) -> PurchaseOrderStatusChanged {
    let mut e = samples::purchase_order_status_changed();
    e.event_id = EventId::from_name(name);
    e.status = status;
    e.previous_status = previous;
    e.lines[0].received = received;
    e.lines[0].over_received = received > e.lines[0].ordered;
    e.over_received = e.lines[0].over_received;
    e.occurred_at = Timestamp(at);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_status_only_moves_forward_whatever_the_arrival_order() -> anyhow::Result<()> {
    use PurchaseOrderStatus as S;
    let db = TestDatabase::new().await?;
    let mut created = samples::purchase_order_created();
    (created.po_number, created.lines) = ("PO-1".into(), Vec::new());
    for (n, item, quantity) in [(1, "i1", 24), (2, "i2", 12)] {
        created.lines.push(PurchaseOrderLine {
            line_number: n,
            item_id: item.into(),
            quantity,
            unit_cost: Money(2_5000),
        });
    }
    let mut untouched = created.clone();
    (untouched.po_number, untouched.event_id) = ("PO-2".into(), EventId::from_name("po2"));
    let orders = || Box::new(Family::<OrdersCreated, OrderLinesCreated>::default());
    commit(&db, orders(), &[created, untouched]).await?;

    let t0 = samples::purchase_order_status_changed().occurred_at.0;
    let command = EventId::from_name("approve-command");
    let draft = change("draft", S::DRAFT, None, 0, t0);
    // Auto-approved in the same instant as the creation.
    let mut approved = change("approved", S::APPROVED, Some(S::DRAFT), 0, t0);
    approved.command_id = Some(command);
    let sent = change("sent", S::SENT, Some(S::APPROVED), 0, t0 + 1_000);
    // The goods' own time is older than the order's sending: progress, not time, decides.
    let received = change(
        "received",
        S::PARTIALLY_RECEIVED,
        Some(S::SENT),
        30,
        t0 - 1_000,
    );

    let out = commit(
        &db,
        Box::new(Lifecycle::default()),
        &[received.clone(), draft.clone()],
    )
    .await?;
    assert_eq!(out.conflicting(), 0);
    commit(
        &db,
        Box::new(Lifecycle::default()),
        &[sent.clone(), approved.clone()],
    )
    .await?;
    // Everything again: the history keeps one row per change, the state stays.
    let all = [draft, approved, sent, received];
    let out = commit(&db, Box::new(Lifecycle::default()), &all).await?;
    assert_eq!(out.conflicting(), 0);

    let pool = &db.pool;
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM replenishment.purchase_order_status_changes")
            .fetch_one(pool)
            .await?;
    assert_eq!(history, 4);
    type Status = (String, String, i64, bool, Option<String>);
    let rows: Vec<Status> = sqlx::query_as(
        "SELECT po_number, status, received_quantity, over_received, previous_status \
         FROM replenishment.purchase_order_status ORDER BY po_number",
    )
    .fetch_all(pool)
    .await?;
    let expected: [Status; 2] = [
        (
            "PO-1".into(),
            "PARTIALLY_RECEIVED".into(),
            30,
            true,
            Some("SENT".into()),
        ),
        ("PO-2".into(), "DRAFT".into(), 0, false, None),
    ];
    assert_eq!(
        rows, expected,
        "PO-1 as far as it came; PO-2, with no change yet, as its events say"
    );
    let lines: Vec<(i32, i64, bool)> = sqlx::query_as(
        "SELECT line_number, received, over_received FROM replenishment.purchase_order_line_status \
         WHERE po_number = 'PO-1' ORDER BY line_number",
    )
    .fetch_all(pool)
    .await?;
    assert_eq!(lines, [(1, 30, true), (2, 0, false)]);
    let caused: Vec<String> = sqlx::query_scalar(
        "SELECT status FROM replenishment.purchase_order_status_changes WHERE command_id = $1",
    )
    .bind(command.0)
    .fetch_all(pool)
    .await?;
    assert_eq!(caused, ["APPROVED"], "the change the command caused");
    let open: (String, i64) = sqlx::query_as(
        "SELECT status, received_quantity FROM bi.open_purchase_orders WHERE po_number = 'PO-1'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(open, ("PARTIALLY_RECEIVED".into(), 30));

    // Received in full, in a batch with a replay of the (later stamped) sending.
    let mut done = change(
        "done",
        S::RECEIVED,
        Some(S::PARTIALLY_RECEIVED),
        30,
        t0 - 500,
    );
    done.lines[1].received = 12;
    commit(&db, Box::new(Lifecycle::default()), &[done, all[2].clone()]).await?;
    let status: String = sqlx::query_scalar(
        "SELECT status FROM replenishment.purchase_order_status WHERE po_number = 'PO-1'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(status, "RECEIVED");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_explanations_and_rules_are_stored_as_published() -> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    let pool = &db.pool;
    let rejected = samples::purchase_order_command_rejected();
    let out = commit(
        &db,
        Box::new(Batch::<CommandRejections>::default()),
        &[rejected.clone(), rejected.clone()],
    )
    .await?;
    assert_eq!((out.rows, out.conflicting()), (1, 0));
    let row: (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT action, code, detail, status FROM replenishment.purchase_order_command_rejections \
         WHERE command_id = $1",
    )
    .bind(rejected.command_id.0)
    .fetch_one(pool)
    .await?;
    assert_eq!(
        row,
        (
            "APPROVE".into(),
            "ALREADY_CANCELLED".into(),
            rejected.detail.clone(),
            Some("CANCELLED".into())
        )
    );

    // A v2 trigger with its explanation; a v1 one (defaults) leaves the words NULL.
    let v2 = samples::replenishment_triggered();
    let mut v1 = v2.clone();
    v1.event_id = EventId::from_name("v1");
    (v1.evaluated_on, v1.rule_source, v1.po_number) = (String::new(), String::new(), None);
    commit(
        &db,
        Box::new(Batch::<Triggers>::default()),
        &[v2.clone(), v1],
    )
    .await?;
    type Why = (
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<f64>,
        Option<String>,
    );
    let why: Vec<Why> = sqlx::query_as(
        "SELECT evaluated_on, rule_source, on_hand, z, order_value::text \
         FROM replenishment.triggers ORDER BY po_number NULLS LAST",
    )
    .fetch_all(pool)
    .await?;
    assert_eq!(
        why[0],
        (
            Some("INVENTORY_UPDATED".into()),
            Some("item-location".into()),
            Some(10),
            Some(1.5),
            Some("26.4000".into())
        )
    );
    assert_eq!((why[1].0.as_deref(), why[1].1.as_deref()), (None, None));
    let po: Option<String> = sqlx::query_scalar(
        "SELECT po_number FROM bi.replenishment_triggers WHERE po_number IS NOT NULL",
    )
    .fetch_optional(pool)
    .await?;
    assert_eq!(po, v2.po_number);

    // Category rules: the newest set replaces the whole list, an older one arriving late does not.
    let rules = samples::replenishment_default_rule();
    let mut newer = rules.clone();
    newer.event_id = EventId::from_name("newer-rules");
    newer.occurred_at = Timestamp(rules.occurred_at.0 + 1);
    newer.rules.truncate(1);
    let batch = || Box::new(Batch::<DefaultRules>::default());
    commit(&db, batch(), std::slice::from_ref(&rules)).await?;
    type Kind = (String, Option<String>, String, Vec<String>);
    let kinds = || async {
        sqlx::query_as::<_, Kind>(
            "SELECT location_type, supplier_id, policy, order_days \
             FROM replenishment.category_rules WHERE category = 'dairy' ORDER BY location_type",
        )
        .fetch_all(pool)
        .await
    };
    let expected: [Kind; 2] = [
        (
            "STORE".into(),
            Some("sup1".into()),
            "S_S".into(),
            vec!["FRI".into()],
        ),
        ("WAREHOUSE".into(), None, "R_S".into(), vec!["MON".into()]),
    ];
    assert_eq!(kinds().await?, expected);
    commit(&db, batch(), &[newer]).await?;
    commit(&db, batch(), &[rules]).await?;
    assert_eq!(kinds().await?.len(), 1);

    let auto = samples::auto_approval_rule();
    commit(
        &db,
        Box::new(Batch::<AutoApprovalRules>::default()),
        &[auto],
    )
    .await?;
    let limits: (String, i64, bool) = sqlx::query_as(
        "SELECT max_value::text, max_qty, active FROM replenishment.auto_approval_rules",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(limits, ("5000.0000".into(), 500, true));

    let terms = samples::supplier_item();
    commit(&db, Box::new(Batch::<SupplierItems>::default()), &[terms]).await?;
    let days: Vec<String> = sqlx::query_scalar("SELECT order_days FROM catalog.supplier_items")
        .fetch_one(pool)
        .await?;
    assert_eq!(days, ["TUE", "FRI"]);
    Ok(())
}
