//! End to end through a real Kafka-protocol broker: `produce` JSON lines, `tail` them back.

use std::{collections::HashMap, io::Write, process::Command};

use composerp_events::{EventId, pos::SaleCompleted, samples};
use composerp_kafka::LocalBroker;

fn composerp(broker: &LocalBroker) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_composerp"));
    c.env("KAFKA_BROKERS", broker.brokers())
        .env_remove("SCHEMA_REGISTRY_URL");
    c
}

fn sale(n: usize) -> SaleCompleted {
    let mut s = samples::sale_completed(1 + n % 5);
    s.event_id = EventId::from_name(&format!("e2e-{n}"));
    s.store_id = format!("s{:03}", n % 17);
    s.receipt_id = format!("R-{n}");
    s.occurred_at.0 += n as i64 * 1_000_000;
    s.lines[0].quantity = 1 + (n % 9) as i64;
    s.loyalty_id = n.is_multiple_of(3).then(|| format!("L{n}"));
    s
}

#[test]
fn ten_thousand_sales_round_trip_and_bad_lines_are_rejected_alone() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let apply = composerp(&broker).args(["topics", "apply"]).output()?;
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );

    let dir = tempfile::tempdir()?;
    let input = dir.path().join("sales.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input)?);
    let mut sent = HashMap::new();
    let mut line = 0;
    for n in 0..10_000 {
        if n == 5_000 {
            writeln!(f, "{{\"event_id\": \"broken")?;
            line += 1;
        }
        if n == 7_000 {
            let mut bad = serde_json::to_value(sale(n))?;
            bad["lines"][0]["line_type"] = "GIFT".into();
            writeln!(f, "{bad}")?;
            line += 1;
        }
        let s = sale(n);
        writeln!(f, "{}", serde_json::to_string(&s)?)?;
        line += 1;
        sent.insert(s.event_id, s);
    }
    f.flush()?;
    drop(f);
    assert_eq!(line, 10_002);

    let produce = composerp(&broker)
        .args(["produce", "--topic", "pos.sales", "--file"])
        .arg(&input)
        .output()?;
    let err = String::from_utf8_lossy(&produce.stderr);
    assert_eq!(produce.status.code(), Some(4), "some lines rejected: {err}");
    assert!(err.contains("line 5001: rejected"), "{err}");
    assert!(
        err.contains("line 7002: rejected") && err.contains("GIFT"),
        "{err}"
    );
    assert!(err.contains("produced 10000 records"), "{err}");
    assert_eq!(err.matches("rejected:").count(), 2, "{err}");

    let tail = composerp(&broker)
        .args([
            "tail",
            "--topic",
            "composerp.pos.sales.v1",
            "--from-beginning",
            "--max",
            "10000",
            "--idle-timeout",
            "30",
        ])
        .output()?;
    assert!(
        tail.status.success(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let mut got = 0;
    for l in String::from_utf8(tail.stdout)?.lines() {
        let back: SaleCompleted = serde_json::from_str(l)?;
        let original = sent
            .remove(&back.event_id)
            .expect("each record once, and only records sent");
        assert_eq!(back, original, "field by field");
        got += 1;
    }
    assert_eq!(got, 10_000);
    assert!(sent.is_empty());
    Ok(())
}
