//! The sinks on a real broker and a real Postgres: exact rows, versions, dead letters, restarts
//! and tenant isolation as the API and BI roles see it.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{count, position, transaction};
use composerp_events::{
    Codec, Date, Event, EventId, Money, Timestamp, catalog::Location, inventory::InventoryLowStock,
    replenishment::PurchaseOrderLine, samples,
};
use composerp_kafka::{KafkaSettings, LocalBroker, Publisher};
use composerp_sinks::{
    batch::{Batch, Staged},
    inventory::{Positions, Transactions},
    redelivery::Outcome,
    sink::{self, SinkConfig, commit_rows},
    table::Table,
    testing::TestDatabase,
};
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Headers,
};
use sqlx::{Connection, PgConnection};

const TENANTS: [&str; 2] = ["acme", "globex"];

struct Env {
    _broker: LocalBroker,
    kafka: KafkaSettings,
    codec: Codec,
    publisher: Publisher,
    db: TestDatabase,
}

impl Env {
    async fn start() -> anyhow::Result<Self> {
        let broker = LocalBroker::start()?;
        let kafka = KafkaSettings::new(&broker.brokers(), None)?;
        Admin::new(&kafka.admin())?
            .apply(TopicCatalog::embedded().topics())
            .await?;
        Ok(Env {
            publisher: Publisher::new(&kafka)?,
            _broker: broker,
            kafka,
            codec: Codec::embedded(),
            db: TestDatabase::new().await?,
        })
    }

    fn send<E: Event>(&mut self, topic: &str, e: &E) -> anyhow::Result<()> {
        let spec = TopicCatalog::embedded().get(topic)?;
        let key = format!("{}|{}", e.tenant_id(), e.event_id());
        self.publisher
            .send(&spec.name, key.as_bytes(), &self.codec.encode(e)?, None)?;
        Ok(())
    }

    fn send_raw(&mut self, topic: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let spec = TopicCatalog::embedded().get(topic)?;
        self.publisher.send(&spec.name, b"bad", bytes, None)?;
        Ok(())
    }

    /// Runs the sink until `until` holds (checked every 200 ms) or 90 s pass, then stops it.
    async fn sink_until(&self, until: impl AsyncFn(&sqlx::PgPool) -> bool) -> anyhow::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cfg = SinkConfig::new("test", &self.db.url());
        cfg.batch_rows = 700;
        let (kafka, codec, s) = (self.kafka.clone(), self.codec.clone(), stop.clone());
        let rt = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            sink::run(composerp_sinks::tables(), &kafka, codec, cfg, rt, s)
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut done = false;
        while Instant::now() < deadline && !task.is_finished() {
            if until(&self.db.pool).await {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop.store(true, Ordering::Relaxed);
        task.await??;
        anyhow::ensure!(done, "the sink did not reach the expected rows within 90 s");
        Ok(())
    }
}

/// The tables and views of purchase orders, triggers and forecasts, tenant-scoped like the rest.
const PLANNING_TABLES: [&str; 16] = [
    "replenishment.triggers",
    "replenishment.purchase_orders",
    "replenishment.purchase_order_lines",
    "replenishment.purchase_order_status",
    "replenishment.purchase_order_line_status",
    "replenishment.purchase_order_status_changes",
    "replenishment.purchase_order_lifecycle",
    "replenishment.purchase_order_command_rejections",
    "replenishment.default_rules",
    "replenishment.category_rules",
    "replenishment.auto_approval_rules",
    "forecasting.forecasts",
    "forecasting.forecast_points",
    "bi.open_purchase_orders",
    "bi.forecast_vs_actual",
    "bi.replenishment_triggers",
];
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_exact_newest_wins_and_poison_goes_to_the_dead_letters() -> anyhow::Result<()> {
    let mut env = Env::start().await?;
    // Five versions of 150 item-locations per tenant; every transaction twice.
    for tenant in TENANTS {
        for v in 1..=5 {
            for k in 0..150 {
                env.send("inventory.positions", &position(tenant, k, v))?;
            }
        }
        for n in 0..400 {
            env.send("inventory.transactions", &transaction(tenant, n))?;
            env.send("inventory.transactions", &transaction(tenant, n))?;
        }
        for n in 0..20 {
            let mut l: InventoryLowStock = samples::inventory_low_stock();
            l.event_id = EventId::from_name(&format!("low-{tenant}-{n}"));
            l.tenant_id = tenant.into();
            env.send("inventory.low-stock", &l)?;
        }
    }
    env.send_raw("inventory.positions", b"not avro")?;
    let mut bad: Location = samples::location();
    bad.attributes = Some("{not json".into());
    env.send("catalog.locations", &bad)?;
    let mut good: Location = samples::location();
    good.attributes = Some(r#"{"region": "north"}"#.into());
    env.send("catalog.locations", &good)?;
    env.publisher.flush()?;

    env.sink_until(async |pool| {
        count(
            pool,
            "SELECT count(*) FROM inventory.positions WHERE sequence = 5",
        )
        .await
            == 300
            && count(pool, "SELECT count(*) FROM inventory.transactions").await == 800
            && count(pool, "SELECT count(*) FROM inventory.low_stock_events").await == 40
            && count(pool, "SELECT count(*) FROM catalog.locations").await == 1
    })
    .await?;
    let pool = &env.db.pool.clone();
    assert_eq!(
        count(pool, "SELECT count(*) FROM inventory.positions").await,
        300
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM inventory.positions \
             WHERE on_hand <> 50 + right(item_id, 4)::int"
        )
        .await,
        0,
        "every position holds its newest version"
    );
    let region: String = sqlx::query_scalar("SELECT attributes->>'region' FROM catalog.locations")
        .fetch_one(pool)
        .await?;
    assert_eq!(region, "north");

    // The two poison records are dead letters with their reasons.
    let mut reasons = dead_letter_reasons(&env.kafka, "composerp.inventory.positions.v1.dlq")?;
    reasons.extend(dead_letter_reasons(
        &env.kafka,
        "composerp.catalog.locations.v1.dlq",
    )?);
    reasons.sort();
    assert_eq!(reasons, ["decode", "invalid_json"]);

    // An older version arriving late changes nothing; a newer one replaces; a restarted sink
    // resumes from the offsets in Postgres and writes each new row once.
    env.send("inventory.positions", &position("acme", 3, 2))?;
    env.send("inventory.positions", &position("acme", 4, 6))?;
    for n in 400..450 {
        env.send("inventory.transactions", &transaction("acme", n))?;
    }
    env.publisher.flush()?;
    env.sink_until(async |pool| {
        count(pool, "SELECT count(*) FROM inventory.transactions").await == 850
            && count(
                pool,
                "SELECT count(*) FROM inventory.positions WHERE sequence = 6",
            )
            .await
                == 1
    })
    .await?;
    let acme3: i64 = sqlx::query_scalar(
        "SELECT on_hand FROM inventory.positions WHERE tenant_id = 'acme' AND item_id = 'i0003'",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(acme3, 53, "the late older version did not overwrite");
    let stored: i64 = count(
        pool,
        "SELECT sum(next_offset)::bigint FROM sink.offsets WHERE sink = 'test'",
    )
    .await;
    assert_eq!(
        stored,
        300 * 5 + 1 + 2 + 1600 + 50 + 40 + 2,
        "every record consumed once"
    );
    // The group's offsets follow the ones in Postgres (Kafka's lag tools, the stall watch).
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT topic, partition, next_offset FROM sink.offsets WHERE sink = 'test'",
    )
    .fetch_all(pool)
    .await?;
    let group: BaseConsumer = env.kafka.consumer("composerp-sink-test").create()?;
    let mut tpl = TopicPartitionList::new();
    for (topic, p, _) in &rows {
        tpl.add_partition(topic, *p);
    }
    let committed = group.committed_offsets(tpl, Duration::from_secs(10))?;
    for (topic, p, next) in &rows {
        let got = committed
            .find_partition(topic, *p)
            .map(|e| e.offset())
            .unwrap_or(Offset::Invalid);
        assert_eq!(got, Offset::Offset(*next), "{topic} {p}");
    }
    Ok(())
}

/// A session on `db`, as the sink opens one per table (each commit prepares its own staging).
async fn session(db: &TestDatabase) -> anyhow::Result<PgConnection> {
    Ok(PgConnection::connect(&db.url()).await?)
}

/// Commits `events` as one batch of table `T`, as the sink does; what the write found.
async fn write<T: Table>(conn: &mut PgConnection, events: &[T::Event]) -> anyhow::Result<Outcome> {
    let codec = Codec::embedded();
    let mut batch = Batch::<T>::default();
    for e in events {
        batch.add(&codec, &codec.encode(e)?)?;
    }
    let topic = [T::TOPIC.to_owned()];
    Ok(commit_rows(conn, &batch, "test", (&topic, &[0], &[1])).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_entry_arriving_again_with_other_content_is_counted_and_the_first_kept()
-> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    let conn = &mut session(&db).await?;
    let stored = |n: usize| {
        let id = transaction("acme", n).event_id.0;
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT actual_qty FROM inventory.transactions WHERE event_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
        }
    };
    let first: Vec<_> = (0..3).map(|n| transaction("acme", n)).collect();
    let out = write::<Transactions>(conn, &first).await?;
    assert_eq!((out.rows, out.conflicting()), (3, 0));

    // The same entries again: nothing written, nothing conflicting.
    let out = write::<Transactions>(conn, &first).await?;
    assert_eq!((out.rows, out.conflicting()), (0, 0));

    // Entry 1 again with another quantity (beside a new one): counted, shown with both
    // versions, and the stored entry stays.
    let mut changed = transaction("acme", 1);
    changed.actual_qty = first[1].actual_qty + 7;
    let out = write::<Transactions>(conn, &[transaction("acme", 3), changed.clone()]).await?;
    assert_eq!((out.rows, out.conflicting()), (1, 1));
    let c = &out.conflicts[0];
    assert_eq!((c.table, c.shown.len()), ("inventory.transactions", 1));
    let (kept, again) = &c.shown[0];
    assert!(
        kept.contains(&format!("\"actual_qty\":{},", first[1].actual_qty)),
        "{kept}"
    );
    assert!(
        again.contains(&format!("\"actual_qty\":{},", changed.actual_qty)),
        "{again}"
    );
    assert_eq!(stored(1).await?, first[1].actual_qty);

    // Twice in one batch: the same content is no conflict; other content is, the first kept.
    let out =
        write::<Transactions>(conn, &[transaction("acme", 10), transaction("acme", 10)]).await?;
    assert_eq!((out.rows, out.conflicting()), (1, 0));
    let mut other = transaction("acme", 11);
    other.actual_qty += 1;
    let out = write::<Transactions>(conn, &[transaction("acme", 11), other]).await?;
    assert_eq!((out.rows, out.conflicting()), (1, 1));
    assert_eq!(stored(11).await?, transaction("acme", 11).actual_qty);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM inventory.transactions").await,
        6
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_version_arriving_again_with_other_content_is_counted_and_the_first_kept()
-> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    let conn = &mut session(&db).await?;
    let on_hand = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT on_hand FROM inventory.positions WHERE tenant_id = 'acme' AND item_id = 'i0001'",
        )
        .fetch_one(&db.pool)
        .await
    };
    let out = write::<Positions>(conn, &[position("acme", 1, 1)]).await?;
    assert_eq!((out.rows, out.conflicting()), (1, 0));
    let out = write::<Positions>(conn, &[position("acme", 1, 1)]).await?;
    assert_eq!(
        (out.rows, out.conflicting()),
        (0, 0),
        "the same version again"
    );

    // Sequence 1 again with another quantity: counted, the stored version stays.
    let mut other = position("acme", 1, 1);
    other.on_hand += 3;
    let out = write::<Positions>(conn, &[other]).await?;
    assert_eq!((out.rows, out.conflicting()), (0, 1));
    assert_eq!(on_hand().await?, position("acme", 1, 1).on_hand);

    // Sequence 2 twice in one batch with two contents: counted, the first stored.
    let mut other = position("acme", 1, 2);
    other.on_hand += 3;
    let out = write::<Positions>(conn, &[position("acme", 1, 2), other]).await?;
    assert_eq!((out.rows, out.conflicting()), (1, 1));
    assert_eq!(on_hand().await?, position("acme", 1, 2).on_hand);

    // Newer versions, several in one batch, are no conflict; the newest is stored.
    let batch = [
        position("acme", 1, 3),
        position("acme", 1, 4),
        position("acme", 2, 1),
    ];
    let out = write::<Positions>(conn, &batch).await?;
    assert_eq!((out.rows, out.conflicting()), (2, 0));
    assert_eq!(on_hand().await?, position("acme", 1, 4).on_hand);
    Ok(())
}

fn line(n: i32, item: &str, quantity: i64) -> PurchaseOrderLine {
    PurchaseOrderLine {
        line_number: n,
        item_id: item.into(),
        quantity,
        unit_cost: Money(2_5000),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_forecasts_and_triggers_materialize_whatever_the_arrival_order() -> anyhow::Result<()>
{
    let mut env = Env::start().await?;
    let t0 = samples::purchase_order_created().occurred_at.0;
    for tenant in TENANTS {
        // PO-1: a line cancellation first, then the approval, then the (older) creation.
        let mut created = samples::purchase_order_created();
        created.tenant_id = tenant.into();
        created.po_number = "PO-1".into();
        created.lines = vec![line(1, "i1", 10), line(2, "i2", 20), line(3, "i3", 30)];
        created.event_id = EventId::from_name(&format!("{tenant}-po1-created"));
        let mut approved = samples::purchase_order_approved();
        approved.tenant_id = tenant.into();
        approved.po_number = "PO-1".into();
        approved.lines = vec![line(1, "i1", 12), line(2, "i2", 20), line(3, "i3", 30)];
        approved.occurred_at = Timestamp(t0 + 60_000_000);
        approved.event_id = EventId::from_name(&format!("{tenant}-po1-approved"));
        let mut cancelled = samples::purchase_order_cancelled();
        cancelled.tenant_id = tenant.into();
        cancelled.po_number = "PO-1".into();
        cancelled.line_numbers = vec![2];
        cancelled.item_ids = vec!["i2".into()];
        cancelled.occurred_at = Timestamp(t0 + 120_000_000);
        cancelled.event_id = EventId::from_name(&format!("{tenant}-po1-cancelled"));
        env.send("replenishment.po-cancelled", &cancelled)?;
        env.send("replenishment.po-approved", &approved)?;
        env.send("replenishment.po-created", &created)?;
        // PO-2: created, then cancelled whole (no line numbers: every line, in order).
        created.po_number = "PO-2".into();
        created.lines = vec![line(1, "i1", 5), line(2, "i4", 6)];
        created.event_id = EventId::from_name(&format!("{tenant}-po2-created"));
        cancelled.po_number = "PO-2".into();
        cancelled.line_numbers = vec![];
        cancelled.item_ids = vec!["i1".into(), "i4".into()];
        cancelled.event_id = EventId::from_name(&format!("{tenant}-po2-cancelled"));
        env.send("replenishment.po-created", &created)?;
        env.send("replenishment.po-cancelled", &cancelled)?;

        // A forecast, its revision 2, then revision 1 arriving late.
        let mut generated = samples::forecast_generated();
        generated.tenant_id = tenant.into();
        generated.event_id = EventId::from_name(&format!("{tenant}-fg"));
        env.send("forecasting.forecasts", &generated)?;
        for revision in [2, 1] {
            let mut updated = samples::forecast_updated();
            updated.tenant_id = tenant.into();
            updated.revision = revision;
            updated.event_id = EventId::from_name(&format!("{tenant}-fu-{revision}"));
            for p in &mut updated.points {
                p.mean = f64::from(revision) * 100.0;
            }
            env.send("forecasting.forecast-updates", &updated)?;
        }

        // Two triggers, one of them delivered twice.
        for n in [1, 2, 2] {
            let mut t = samples::replenishment_triggered();
            t.tenant_id = tenant.into();
            t.event_id = EventId::from_name(&format!("{tenant}-trigger-{n}"));
            env.send("replenishment.triggers", &t)?;
        }

        // The processor's answers about PO-1, and the rules it reads.
        let mut status = samples::purchase_order_status_changed();
        status.tenant_id = tenant.into();
        status.event_id = EventId::from_name(&format!("{tenant}-po1-status"));
        env.send("replenishment.po-status", &status)?;
        let mut rejected = samples::purchase_order_command_rejected();
        rejected.tenant_id = tenant.into();
        rejected.event_id = EventId::from_name(&format!("{tenant}-po1-rejected"));
        env.send("replenishment.po-rejections", &rejected)?;
        let mut rules = samples::replenishment_default_rule();
        rules.tenant_id = tenant.into();
        env.send("replenishment.default-rules", &rules)?;
        let mut auto = samples::auto_approval_rule();
        auto.tenant_id = tenant.into();
        env.send("replenishment.auto-approval", &auto)?;
    }
    env.publisher.flush()?;
    let points = samples::forecast_generated().points.len() as i64;
    env.sink_until(async |pool| {
        count(pool, "SELECT count(*) FROM replenishment.purchase_orders WHERE created_at IS NOT NULL AND approved_at IS NOT NULL").await == 2
            && count(pool, "SELECT count(*) FROM replenishment.purchase_order_lines WHERE cancelled_at IS NOT NULL").await == 6
            && count(pool, "SELECT count(*) FROM replenishment.purchase_order_lines WHERE quantity IS NOT NULL").await == 10
            && count(pool, "SELECT count(*) FROM forecasting.forecasts WHERE revision = 2").await == 2
            && count(pool, "SELECT count(*) FROM replenishment.triggers").await == 4
            && count(pool, "SELECT count(*) FROM replenishment.purchase_orders").await == 4
            && count(pool, "SELECT count(*) FROM replenishment.purchase_order_lifecycle").await == 2
            && count(pool, "SELECT count(*) FROM replenishment.purchase_order_command_rejections").await == 2
            && count(pool, "SELECT count(*) FROM replenishment.default_rules").await == 2
            && count(pool, "SELECT count(*) FROM replenishment.auto_approval_rules").await == 2
    })
    .await?;
    let pool = &env.db.pool.clone();

    /// tenant, po_number, status, lines, cancelled lines, open quantity, approved by.
    type OrderRow = (String, String, String, i64, i64, i64, Option<String>);
    let orders: Vec<OrderRow> = sqlx::query_as(
        "SELECT tenant_id, po_number, status, lines, cancelled_lines, open_quantity, approved_by \
         FROM replenishment.purchase_order_status ORDER BY tenant_id, po_number",
    )
    .fetch_all(pool)
    .await?;
    for tenant in TENANTS {
        let mine: Vec<_> = orders.iter().filter(|o| o.0 == tenant).collect();
        assert_eq!(
            (mine[0].2.as_str(), mine[0].3, mine[0].4, mine[0].5),
            ("PARTIALLY_RECEIVED", 3, 1, 42),
            "PO-1 approved with the approved quantities, line 2 cancelled, then the \
             processor's status: goods arrived"
        );
        assert_eq!(mine[0].6.as_deref(), Some("user:ann"));
        assert_eq!((mine[1].2.as_str(), mine[1].5), ("CANCELLED", 0));
    }
    assert_eq!(
        count(pool, "SELECT count(*) FROM bi.open_purchase_orders").await,
        2,
        "only PO-1 is open, per tenant"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM replenishment.purchase_orders \
             WHERE created_status = 'DRAFT' AND total_value IS NOT NULL"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM forecasting.forecast_points WHERE revision = 2 AND mean = 200"
        )
        .await,
        2 * points,
        "the late revision 1 did not overwrite revision 2's points"
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM bi.forecast_vs_actual").await,
        2 * points
    );

    // The API role sees its own tenant's rows in every new table and view, and no other.
    let mut api = PgConnection::connect_with(&env.db.options_as("composerp_api")).await?;
    sqlx::query("SELECT set_config('app.tenant_id', 'acme', false)")
        .execute(&mut api)
        .await?;
    for t in PLANNING_TABLES {
        let (mine, others): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*) FILTER (WHERE tenant_id = 'acme'), \
                    count(*) FILTER (WHERE tenant_id <> 'acme') FROM {t}"
        ))
        .fetch_one(&mut api)
        .await?;
        assert!(
            mine > 0 && others == 0,
            "{t}: {mine} own rows, {others} of others"
        );
    }
    Ok(())
}

fn dead_letter_reasons(kafka: &KafkaSettings, topic: &str) -> anyhow::Result<Vec<String>> {
    let consumer: BaseConsumer = kafka.consumer("composerp-test-dlq").create()?;
    let mut tpl = TopicPartitionList::new();
    let partitions = TopicCatalog::embedded().get(topic)?.partitions;
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
    }
    consumer.assign(&tpl)?;
    let mut reasons = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(3) {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            last = Instant::now();
            if let Some(h) = m.headers() {
                for header in h.iter() {
                    if header.key == "composerp.reason" {
                        reasons
                            .push(String::from_utf8_lossy(header.value.unwrap_or_default()).into());
                    }
                }
            }
        }
    }
    Ok(reasons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_bi_roles_see_one_tenant_and_cannot_write() -> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    for tenant in TENANTS {
        for k in 0..3 {
            let p = position(tenant, k, 1);
            sqlx::query(
                "INSERT INTO inventory.positions (tenant_id, location_id, item_id, sequence, \
                 on_hand, on_order, in_transit, reserved, damaged, backordered, available, \
                 available_raw, inventory_position, valuation_rate, stock_value, reorder_point, \
                 negative_on_hand, unknown_item, unknown_location, last_source_event_id, \
                 event_id, occurred_at) VALUES ($1, $2, $3, 1, $4, 0, 0, 0, 0, 0, $4, $4, $4, \
                 1, $4, 5, false, false, false, $5, $5, now())",
            )
            .bind(&p.tenant_id)
            .bind(&p.location_id)
            .bind(&p.item_id)
            .bind(p.on_hand)
            .bind(p.event_id.0)
            .execute(&db.pool)
            .await?;
        }
        sqlx::query("INSERT INTO catalog.tenants (tenant_id, name) VALUES ($1, $1)")
            .bind(tenant)
            .execute(&db.pool)
            .await?;
    }
    let tables = [
        "inventory.positions",
        "inventory.transactions",
        "inventory.low_stock_events",
        "catalog.tenants",
        "catalog.items",
        "catalog.locations",
        "catalog.suppliers",
        "catalog.supplier_items",
        "replenishment.rules",
        "bi.current_positions",
        "bi.stock_value_by_location",
        "bi.low_stock",
        "bi.stock_ledger",
    ]
    .into_iter()
    .chain(PLANNING_TABLES)
    .collect::<Vec<_>>();

    // The API role: the session's tenant only, nothing without one.
    let mut api = PgConnection::connect_with(&db.options_as("composerp_api")).await?;
    for &t in &tables {
        let unset: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(&mut api)
            .await?;
        assert_eq!(unset, 0, "{t} without a tenant");
    }
    sqlx::query("SELECT set_config('app.tenant_id', 'acme', false)")
        .execute(&mut api)
        .await?;
    let tenants: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT tenant_id FROM inventory.positions")
            .fetch_all(&mut api)
            .await?;
    assert_eq!(tenants, ["acme"]);
    let seen: Vec<String> = sqlx::query_scalar("SELECT tenant_id FROM catalog.tenants")
        .fetch_all(&mut api)
        .await?;
    assert_eq!(seen, ["acme"]);
    let write = sqlx::query("UPDATE inventory.positions SET on_hand = 0")
        .execute(&mut api)
        .await;
    assert!(write.is_err(), "the API role cannot write a sink table");

    // A BI reader: its one tenant through every view, whatever it sets, and read-only.
    let reader = format!("bi_{}", uuid::Uuid::new_v4().simple());
    sqlx::query("SELECT catalog.grant_bi_reader($1, 'globex')")
        .bind(&reader)
        .execute(&db.pool)
        .await?;
    let result = async {
        let mut bi = PgConnection::connect_with(&db.options_as(&reader)).await?;
        sqlx::query("SELECT set_config('app.tenant_id', 'acme', false)")
            .execute(&mut bi)
            .await?;
        for t in tables.iter().filter(|t| !t.starts_with("catalog.")) {
            let others: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {t} WHERE tenant_id <> 'globex'"
            ))
            .fetch_one(&mut bi)
            .await?;
            assert_eq!(others, 0, "{t} shows another tenant to a BI reader");
        }
        let mine: i64 = sqlx::query_scalar("SELECT count(*) FROM bi.current_positions")
            .fetch_one(&mut bi)
            .await?;
        assert_eq!(mine, 3);
        let write = sqlx::query("DELETE FROM inventory.positions")
            .execute(&mut bi)
            .await;
        assert!(write.is_err(), "a BI reader cannot write");
        let offsets = sqlx::query("SELECT * FROM sink.offsets")
            .execute(&mut bi)
            .await;
        assert!(
            offsets.is_err(),
            "a BI reader cannot read the sink's offsets"
        );
        anyhow::Ok(())
    }
    .await;
    sqlx::query(&format!("DROP OWNED BY {reader}"))
        .execute(&db.pool)
        .await?;
    drop(db);
    let mut admin = PgConnection::connect(&composerp_sinks::testing::server_url()).await?;
    sqlx::query(&format!("DROP ROLE IF EXISTS {reader}"))
        .execute(&mut admin)
        .await?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_features_and_accuracy_win_and_the_class_summary_weighs_by_sales()
-> anyhow::Result<()> {
    let mut env = Env::start().await?;
    for tenant in TENANTS {
        // Day 19_844, then the older day 19_843 arriving late: the newer row stays.
        for (day, demand) in [(19_844, 4), (19_843, 9)] {
            let mut f = samples::demand_features_updated();
            f.tenant_id = tenant.into();
            f.as_of_date = Date(day);
            f.demand = demand;
            f.event_id = EventId::from_name(&format!("{tenant}-features-{day}"));
            env.send("forecasting.demand-features", &f)?;
        }
        // Two smooth items: WAPE 0.5 on 10 units and 0.2 on 40 units sold.
        for (item, wape, actual) in [("i1", 0.5, 10.0), ("i2", 0.2, 40.0)] {
            let mut a = samples::forecast_accuracy_updated();
            a.tenant_id = tenant.into();
            a.item_id = item.into();
            a.wape = Some(wape);
            a.baseline_wape = Some(0.5);
            a.actual = actual;
            a.event_id = EventId::from_name(&format!("{tenant}-accuracy-{item}"));
            env.send("forecasting.accuracy", &a)?;
        }
    }
    env.publisher.flush()?;
    env.sink_until(async |pool| {
        count(pool, "SELECT count(*) FROM forecasting.demand_features").await == 2
            && count(pool, "SELECT count(*) FROM forecasting.accuracy").await == 4
    })
    .await?;
    let pool = &env.db.pool.clone();
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM forecasting.demand_features \
             WHERE demand = 4 AND jsonb_array_length(dow_profile) = 7"
        )
        .await,
        2
    );
    let (wape, baseline): (f64, f64) = sqlx::query_as(
        "SELECT wape, baseline_wape FROM bi.forecast_accuracy_by_class WHERE tenant_id = $1",
    )
    .bind(TENANTS[0])
    .fetch_one(pool)
    .await?;
    // (0.5 × 10 + 0.2 × 40) / 50 = 0.26: Σ|e| / Σ y over both items.
    assert!((wape - 0.26).abs() < 1e-12, "{wape}");
    assert!((baseline - 0.5).abs() < 1e-12, "{baseline}");
    Ok(())
}
