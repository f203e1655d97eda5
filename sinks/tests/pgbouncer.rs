//! The sink through PgBouncer in transaction mode, Debian's 1.18, which tracks no prepared
//! statements and hands each transaction any server connection: its twenty table sessions share
//! two, and the rows, versions and offsets must come out exact, across a restart.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{count, position, transaction};
use composerp_events::{Codec, Event};
use composerp_kafka::{KafkaSettings, LocalBroker, Publisher};
use composerp_sinks::{
    sink::{self, SinkConfig},
    testing::{PgBouncer, TestDatabase},
};
use composerp_topics::{TopicCatalog, admin::Admin};
use sqlx::postgres::PgPoolOptions;

/// Publishes `e` to `topic` keyed by tenant and event id.
fn send<E: Event>(p: &mut Publisher, codec: &Codec, topic: &str, e: &E) -> anyhow::Result<()> {
    let spec = TopicCatalog::embedded().get(topic)?;
    let key = format!("{}|{}", e.tenant_id(), e.event_id());
    p.send(&spec.name, key.as_bytes(), &codec.encode(e)?, None)?;
    Ok(())
}

/// Runs the sink against `url` until `want` holds (checked directly) or 90 s pass.
async fn sink_until(
    kafka: &KafkaSettings,
    url: &str,
    db: &TestDatabase,
    want: &[(&str, i64)],
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut cfg = SinkConfig::new("bounced", url);
    cfg.batch_rows = 300;
    let (kafka, s) = (kafka.clone(), stop.clone());
    let rt = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        sink::run(
            composerp_sinks::tables(),
            &kafka,
            Codec::embedded(),
            cfg,
            rt,
            s,
        )
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut reached = false;
    while !reached && Instant::now() < deadline && !task.is_finished() {
        reached = true;
        for (sql, n) in want {
            reached &= count(&db.pool, sql).await == *n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    task.await??;
    anyhow::ensure!(reached, "the sink did not write {want:?} within 90 s");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_writes_exact_rows_through_pgbouncer_and_resumes_there() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let kafka = KafkaSettings::new(&broker.brokers(), None)?;
    Admin::new(&kafka.admin())?
        .apply(TopicCatalog::embedded().topics())
        .await?;
    let db = TestDatabase::new().await?;
    // The sink connects as the tables' owner, the user of DATABASE_URL.
    let mut url = url::Url::parse(&db.url())?;
    let owner = url.username().to_owned();
    let bouncer = PgBouncer::start(&[&owner], 2)?;
    url.set_host(Some("127.0.0.1"))?;
    url.set_port(Some(bouncer.port()))
        .map_err(|()| anyhow::anyhow!("{url} takes no port"))?;
    let url = url.to_string();

    // The sink migrates at start: through PgBouncer it finds the schema applied and passes.
    let through = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(bouncer.options(&db, &owner))
        .await?;
    composerp_sinks::migrate(&through).await?;
    through.close().await;

    let (mut publisher, codec) = (Publisher::new(&kafka)?, Codec::embedded());
    for tenant in ["acme", "globex"] {
        for v in 1..=5 {
            for k in 0..150 {
                send(
                    &mut publisher,
                    &codec,
                    "inventory.positions",
                    &position(tenant, k, v),
                )?;
            }
        }
        for n in 0..400 {
            // Each ledger entry twice: the second is a redelivery, stored once.
            for _ in 0..2 {
                send(
                    &mut publisher,
                    &codec,
                    "inventory.transactions",
                    &transaction(tenant, n),
                )?;
            }
        }
    }
    publisher.flush()?;
    let newest =
        "SELECT count(*) FROM inventory.positions WHERE on_hand = 50 + right(item_id, 4)::int";
    let entries = "SELECT count(*) FROM inventory.transactions";
    sink_until(&kafka, &url, &db, &[(newest, 300), (entries, 800)]).await?;

    // A restarted sink resumes from the offsets it committed through PgBouncer.
    send(
        &mut publisher,
        &codec,
        "inventory.positions",
        &position("acme", 3, 2),
    )?;
    send(
        &mut publisher,
        &codec,
        "inventory.positions",
        &position("acme", 4, 6),
    )?;
    for n in 400..450 {
        send(
            &mut publisher,
            &codec,
            "inventory.transactions",
            &transaction("acme", n),
        )?;
    }
    publisher.flush()?;
    let sixth = "SELECT count(*) FROM inventory.positions WHERE sequence = 6";
    sink_until(&kafka, &url, &db, &[(entries, 850), (sixth, 1)]).await?;

    let pool = &db.pool;
    assert_eq!(
        count(pool, "SELECT count(*) FROM inventory.positions").await,
        300
    );
    assert_eq!(
        count(pool, newest).await,
        299,
        "all but the one with a sixth version"
    );
    let consumed = count(
        pool,
        "SELECT sum(next_offset)::bigint FROM sink.offsets WHERE sink = 'bounced'",
    )
    .await;
    assert_eq!(
        consumed,
        300 * 5 + 2 + 1600 + 50,
        "every record consumed once"
    );
    let log = bouncer.log();
    assert!(!log.contains("prepared statement"), "{log}");
    Ok(())
}
