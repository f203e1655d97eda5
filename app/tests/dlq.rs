//! `composerp dlq` against a real broker and Postgres: dead letters listed by reason, shown
//! decoded, replayed to their source topic under their key, each once, recorded in the audit log.

mod common;

use std::process::Output;

use composerp_events::{Codec, EventId, samples};
use composerp_kafka::{KafkaSettings, LocalBroker, Publisher, dlq::DeadLetter};
use composerp_sinks::testing::TestDatabase;
use serde_json::Value;

use common::{Proc, append, composerp as composerp_at, receipt_at_s1};

const SOURCE: &str = "composerp.pos.sales.v1";
const DLQ: &str = "composerp.pos.sales.v1.dlq";

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every record of `topic` with its metadata, as `tail --with-metadata` prints them.
fn tail(brokers: &str, topic: &str, max: usize) -> anyhow::Result<Vec<Value>> {
    let out = composerp_at(brokers)
        .args([
            "tail",
            "--topic",
            topic,
            "--from-beginning",
            "--with-metadata",
        ])
        .args(["--max", &max.to_string(), "--idle-timeout", "10"])
        .output()?;
    anyhow::ensure!(out.status.success(), "{}", text(&out));
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_and_replayed_once_with_their_key() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    let apply = composerp_at(&brokers).args(["topics", "apply"]).output()?;
    anyhow::ensure!(apply.status.success(), "{}", text(&apply));
    let db = TestDatabase::new().await?;

    // Two sales the ledger dropped as beyond its dedupe window, and bytes that never decoded.
    let codec = Codec::embedded();
    let mut publisher = Publisher::new(&KafkaSettings::new(&brokers, None)?)?;
    let mut keys = Vec::new();
    for n in 0..2 {
        let mut sale = samples::sale_completed(2);
        sale.event_id = EventId::from_name(&format!("late-{n}"));
        sale.store_id = format!("s{n}");
        let key = format!("{}|{}", sale.tenant_id, sale.store_id);
        let letter = DeadLetter {
            reason: "beyond_dedupe_window",
            error: "older than the dedupe window",
            topic: SOURCE,
            partition: 0,
            offset: n,
            by: "inventory_ledger",
        };
        publisher.send(
            DLQ,
            key.as_bytes(),
            &codec.encode(&sale)?,
            Some(letter.headers()),
        )?;
        keys.push((key, sale.event_id.to_string()));
    }
    let garbage = DeadLetter {
        reason: "undecodable",
        error: "not Confluent framing",
        topic: SOURCE,
        partition: 1,
        offset: 9,
        by: "inventory_ledger",
    };
    publisher.send(DLQ, b"t|s9", b"\x01junk", Some(garbage.headers()))?;
    publisher.flush()?;

    let composerp = || {
        let mut c = composerp_at(&brokers);
        c.env("DATABASE_URL", db.url());
        c
    };
    let list = composerp()
        .args(["dlq", "list", "--topic", "pos.sales"])
        .output()?;
    let listed = text(&list);
    assert!(list.status.success(), "{listed}");
    assert!(
        listed.contains(&format!("{DLQ}: 3 dead letters")),
        "{listed}"
    );
    let count = |reason: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(reason))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned)
    };
    assert_eq!(
        count("beyond_dedupe_window").as_deref(),
        Some("2"),
        "{listed}"
    );
    assert_eq!(count("undecodable").as_deref(), Some("1"), "{listed}");

    let letters = tail(&brokers, DLQ, 3)?;
    let first = letters
        .iter()
        .find(|l| l["key"] == keys[0].0.as_str())
        .ok_or_else(|| anyhow::anyhow!("first dead letter not in {letters:?}"))?;
    let (p, o) = (first["partition"].to_string(), first["offset"].to_string());
    let show = composerp()
        .args([
            "dlq",
            "show",
            "--topic",
            DLQ,
            "--partition",
            &p,
            "--offset",
            &o,
        ])
        .output()?;
    assert!(show.status.success(), "{}", text(&show));
    let shown: Value = serde_json::from_slice(&show.stdout)?;
    assert_eq!(shown["reason"], "beyond_dedupe_window");
    assert_eq!(
        shown["value"]["event_id"],
        keys[0].1.as_str(),
        "decoded: {shown}"
    );
    assert_eq!(shown["source"]["topic"], SOURCE);

    let refused = composerp()
        .args(["dlq", "replay", "--topic", "pos.sales"])
        .output()?;
    assert!(
        !refused.status.success(),
        "an unnarrowed replay needs --all"
    );

    let replay = || {
        composerp()
            .args([
                "dlq",
                "replay",
                "--topic",
                "pos.sales",
                "--reason",
                "beyond_dedupe_window",
            ])
            .env("COMPOSERP_ACTOR", "ops-test")
            .output()
    };
    let first_replay = replay()?;
    let replayed = text(&first_replay);
    assert!(first_replay.status.success(), "{replayed}");
    assert!(
        replayed.contains("2 replayed, 0 replayed before"),
        "{replayed}"
    );

    let back = tail(&brokers, SOURCE, 2)?;
    assert_eq!(back.len(), 2, "{back:?}");
    for r in &back {
        let key = r["key"].as_str().unwrap_or_default();
        let id = keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.as_str())
            .ok_or_else(|| anyhow::anyhow!("replayed under its own key: {r}"))?;
        assert_eq!(r["value"]["event_id"], id, "same record: {r}");
        assert!(
            r["headers"]["composerp.replay.of"]
                .as_str()
                .is_some_and(|h| h.starts_with(&format!("{DLQ}/"))),
            "{r}"
        );
    }

    let again = replay()?;
    let again_text = text(&again);
    assert!(again.status.success(), "{again_text}");
    assert!(
        again_text.contains("0 replayed, 2 replayed before"),
        "{again_text}"
    );
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT tenant_id, actor, resource FROM audit.audit_log WHERE action = 'dlq.replay' ORDER BY resource",
    )
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(audited.len(), 2, "{audited:?}");
    let tenant = keys[0].0.split('|').next().unwrap_or_default();
    for (t, actor, resource) in &audited {
        assert_eq!((t.as_str(), actor.as_str()), (tenant, "ops-test"));
        assert!(resource.starts_with(&format!("{DLQ}/")), "{resource}");
    }
    Ok(())
}

/// The latest on-hand of the one position on the positions topic, if any.
fn latest_on_hand(brokers: &str) -> anyhow::Result<Option<i64>> {
    let out = composerp_at(brokers)
        .args(["tail", "--topic", "composerp.inventory.positions.v1"])
        .args(["--from-beginning", "--max", "1000", "--idle-timeout", "3"])
        .output()?;
    anyhow::ensure!(out.status.success(), "{}", text(&out));
    let last = String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .next_back();
    Ok(last.and_then(|v| v["on_hand"].as_i64().or(v["value"]["on_hand"].as_i64())))
}

/// Waits until the position's on-hand is `want` (or a minute has passed); returns the last seen.
fn await_on_hand(brokers: &str, want: i64) -> anyhow::Result<Option<i64>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = latest_on_hand(brokers)?;
        if got == Some(want) || std::time::Instant::now() > deadline {
            return Ok(got);
        }
    }
}

/// The reasons of the dead letters of `dlq`, in order.
fn dead_letter_reasons(brokers: &str, dlq: &str, want: usize) -> anyhow::Result<Vec<String>> {
    Ok(tail(brokers, dlq, want)?
        .iter()
        .map(|l| {
            l["headers"]["composerp.reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_beyond_the_window_applies_once_when_redriven_on_purpose()
-> anyhow::Result<()> {
    use composerp_kafka::dlq::{REDRIVE_BEYOND_WINDOW, REDRIVE_HEADER};
    use rdkafka::{
        message::{Header, OwnedHeaders},
        producer::{BaseProducer, BaseRecord, Producer},
    };
    const RECEIPTS: &str = "composerp.procurement.receipts.v1";
    const RECEIPTS_DLQ: &str = "composerp.procurement.receipts.v1.dlq";
    const DAY_MS: i64 = 86_400_000;
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    let apply = composerp_at(&brokers).args(["topics", "apply"]).output()?;
    anyhow::ensure!(apply.status.success(), "{}", text(&apply));
    let db = TestDatabase::new().await?;
    let dir = tempfile::tempdir()?;

    // A producer whose clock ran 10 days fast moved the receipts topic's dedupe window (7 days)
    // past today: a receipt written today cannot be checked, and neither can its plain replay.
    let codec = Codec::embedded();
    let receipt = |n: &str, qty: i64| codec.encode(&receipt_at_s1(n, qty));
    let fast_ms = chrono::Utc::now().timestamp_millis() + 10 * DAY_MS;
    let producer: BaseProducer = KafkaSettings::new(&brokers, None)?.producer().create()?;
    let send = |name: &str, qty: i64, at: Option<i64>, headers: Option<OwnedHeaders>| {
        let bytes = receipt(name, qty)?;
        let mut record = BaseRecord::to(RECEIPTS)
            .key(b"t1|s1".as_slice())
            .payload(bytes.as_slice());
        record.timestamp = at;
        record.headers = headers;
        producer.send(record).map_err(|(e, _)| e)?;
        producer.flush(std::time::Duration::from_secs(30))?;
        anyhow::Ok(())
    };
    send("fast", 5, Some(fast_ms), None)?;
    send("today", 3, None, None)?;

    let log = append(&dir.path().join("ledger.log"))?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    // Killed when dropped, also when an assertion below panics.
    let _ledger = Proc(
        composerp_at(&brokers)
            .args(["run", "ledger", "--group", "composerp-ledger-redrive"])
            .args(["--metrics-addr", &metrics])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    assert_eq!(await_on_hand(&brokers, 5)?, Some(5));
    assert_eq!(
        dead_letter_reasons(&brokers, RECEIPTS_DLQ, 1)?,
        ["beyond_dedupe_window"]
    );
    let replay = |extra: &[&str]| {
        composerp_at(&brokers)
            .env("DATABASE_URL", db.url())
            .args(["dlq", "replay", "--topic", "procurement.receipts"])
            .args(["--reason", "beyond_dedupe_window"])
            .args(extra)
            .output()
    };

    // A plain replay is judged by the same rule and comes back.
    let plain = replay(&[])?;
    assert!(plain.status.success(), "{}", text(&plain));
    assert_eq!(
        dead_letter_reasons(&brokers, RECEIPTS_DLQ, 2)?,
        ["beyond_dedupe_window", "beyond_dedupe_window"]
    );
    assert_eq!(latest_on_hand(&brokers)?, Some(5));

    // On purpose: both dead letters (the same receipt twice) go back, one applies.
    let redriven = replay(&["--beyond-window"])?;
    let said = text(&redriven);
    assert!(redriven.status.success(), "{said}");
    assert!(said.contains("past the dedupe window"), "{said}");
    assert!(said.contains("1 replayed, 1 replayed before"), "{said}");
    assert_eq!(await_on_hand(&brokers, 8)?, Some(8));

    // A crash between the broker's acknowledgement and the audit record publishes it once
    // more on the next replay: a duplicate. A later receipt shows the ledger got past it.
    let again = OwnedHeaders::new().insert(Header {
        key: REDRIVE_HEADER,
        value: Some(REDRIVE_BEYOND_WINDOW),
    });
    send("today", 3, None, Some(again))?;
    send("later", 1, Some(fast_ms), None)?;
    assert_eq!(await_on_hand(&brokers, 9)?, Some(9), "applied once");
    assert_eq!(dead_letter_reasons(&brokers, RECEIPTS_DLQ, 3)?.len(), 2);

    // The dashboard's "dead letters by reason" counts both.
    let scraped = reqwest::get(format!("http://{metrics}/metrics"))
        .await?
        .text()
        .await?;
    let by_reason = scraped
        .lines()
        .find(|l| {
            l.starts_with("composerp_processor_dead_letters_by_reason_total{")
                && l.contains("reason=\"beyond_dedupe_window\"")
                && l.contains(RECEIPTS)
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_owned);
    assert_eq!(by_reason.as_deref(), Some("2"), "{scraped}");
    Ok(())
}
