//! `composerp doctor` against a real broker and Postgres: healthy, then each fault this machine
//! can produce (broker down, a topic missing, Postgres down, a migration missing), each named in
//! its report with the exit code of its severity.

use std::process::Output;

use composerp_kafka::{KafkaSettings, LocalBroker};
use composerp_sinks::testing::TestDatabase;
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
};

/// The `composerp` binary against `brokers`, with the embedded schemas and info logs.
fn composerp_at(brokers: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_composerp"));
    c.env("KAFKA_BROKERS", brokers)
        .env_remove("SCHEMA_REGISTRY_URL")
        .env("COMPOSERP_LOG", "info");
    c
}

/// A port nothing listens on: bound, read, released.
fn closed_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `composerp doctor` with these brokers, database and state directory.
fn doctor(
    brokers: &str,
    database_url: &str,
    state: &std::path::Path,
    extra: &[&str],
) -> anyhow::Result<Output> {
    Ok(composerp_at(brokers)
        .env("DATABASE_URL", database_url)
        .env("COMPOSERP_STATE_DIR", state)
        .args(["doctor", "--timeout-secs", "3"])
        .args(extra)
        .output()?)
}

/// The report's lines of `severity` in `area`, e.g. ("BROKEN", "postgres").
fn lines<'a>(report: &'a str, severity: &str, area: &str) -> Vec<&'a str> {
    report
        .lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some(severity) && w.next() == Some(area)
        })
        .collect()
}

fn report(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_then_lagging_then_postgres_down_then_a_migration_missing() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    let apply = composerp_at(&brokers).args(["topics", "apply"]).output()?;
    anyhow::ensure!(apply.status.success(), "{}", report(&apply));
    let db = TestDatabase::new().await?;
    let state = tempfile::tempdir()?;

    let out = doctor(&brokers, &db.url(), state.path(), &[])?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(0), "healthy: {text}");
    assert!(text.contains("healthy: 0 broken, 0 degraded"), "{text}");
    assert_eq!(lines(&text, "ok", "broker").len(), 1, "{text}");
    assert!(
        text.contains("protocol: Fetch v"),
        "the broker's version: {text}"
    );
    let migrations = migration_versions()?;
    assert!(
        text.contains(&format!("all {} migrations applied", migrations.len())),
        "{text}"
    );
    assert_eq!(lines(&text, "ok", "topics").len(), 1, "{text}");

    // The ledger's group committed offset 0 of a topic holding a record: one record behind.
    let produce = composerp_at(&brokers)
        .args(["produce", "--topic", "pos.sales"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let sale = serde_json::to_string(&composerp_events::samples::sale_completed(1))?;
            c.stdin
                .take()
                .map(|mut i| writeln!(i, "{sale}"))
                .transpose()?;
            c.wait_with_output()
        })?;
    anyhow::ensure!(produce.status.success(), "{}", report(&produce));
    let sales = TopicCatalog::embedded().get("pos.sales")?;
    let group: BaseConsumer = KafkaSettings::new(&brokers, None)?
        .consumer("composerp-ledger")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..sales.partitions {
        tpl.add_partition_offset(&sales.name, p, Offset::Offset(0))?;
    }
    group.commit(&tpl, CommitMode::Sync)?;
    let out = doctor(&brokers, &db.url(), state.path(), &["--lag-warn", "0"])?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(5), "degraded: {text}");
    let lagging = lines(&text, "DEGRADED", "lag");
    assert!(
        lagging.len() == 1 && lagging[0].contains("ledger: 1 records behind"),
        "{text}"
    );

    let down = format!("postgres://postgres@127.0.0.1:{}/x", closed_port()?);
    let out = doctor(&brokers, &down, state.path(), &[])?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(6), "Postgres down: {text}");
    assert!(
        lines(&text, "BROKEN", "postgres")[0].contains("cannot connect"),
        "{text}"
    );
    assert!(lines(&text, "BROKEN", "broker").is_empty(), "{text}");

    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&db.pool)
    .await?;
    let out = doctor(&brokers, &db.url(), state.path(), &[])?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(6), "a migration missing: {text}");
    let broken = lines(&text, "BROKEN", "postgres");
    assert!(
        broken.len() == 1
            && broken[0].contains(&format!(
                "migrations not applied: {}",
                migrations[migrations.len() - 1]
            )),
        "{text}"
    );
    assert!(
        text.contains("run `composerp migrate`"),
        "the fix is named: {text}"
    );
    Ok(())
}

/// The four-digit versions of the migrations the sink ships, in order, so the test follows new ones.
fn migration_versions() -> anyhow::Result<Vec<String>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../sinks/migrations");
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".sql") {
            versions.push(stem.chars().take_while(char::is_ascii_digit).collect());
        }
    }
    versions.sort();
    Ok(versions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_named_with_its_fix() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let catalog = TopicCatalog::embedded();
    let gone = "composerp.inventory.low-stock.v1";
    let admin = Admin::new(&KafkaSettings::new(&broker.brokers(), None)?.admin())?;
    admin
        .apply(catalog.topics().iter().filter(|t| t.name != gone))
        .await?;
    let db = TestDatabase::new().await?;
    let state = tempfile::tempdir()?;
    let out = doctor(&broker.brokers(), &db.url(), state.path(), &[])?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(6), "{text}");
    let broken = lines(&text, "BROKEN", "topics");
    assert!(
        broken.len() == 1 && broken[0].contains(&format!("missing: {gone}")),
        "{text}"
    );
    assert!(text.contains("run `composerp topics apply`"), "{text}");
    assert!(lines(&text, "ok", "postgres").len() >= 2, "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_is_broken_and_its_checks_are_skipped() -> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    let state = tempfile::tempdir()?;
    let brokers = format!("127.0.0.1:{}", closed_port()?);
    let out = composerp_at(&brokers)
        .env("DATABASE_URL", db.url())
        .env("COMPOSERP_STATE_DIR", state.path())
        .env("COMPOSERP_LOG_FORMAT", "json")
        .args(["doctor", "--timeout-secs", "3"])
        .output()?;
    let text = report(&out);
    assert_eq!(out.status.code(), Some(6), "{text}");
    assert!(
        lines(&text, "BROKEN", "broker")[0].contains("no broker answers"),
        "{text}"
    );
    assert!(
        text.contains("skipped: the broker is unreachable"),
        "{text}"
    );
    assert!(
        lines(&text, "BROKEN", "postgres").is_empty(),
        "only the broker: {text}"
    );

    // Logs: one JSON object per line, with the fields of the span they were logged in, and no
    // terminal escape codes (standard error is a pipe here).
    let stderr = String::from_utf8(out.stderr)?;
    assert!(!stderr.contains('\u{1b}'), "no ANSI codes: {stderr}");
    let findings: Vec<serde_json::Value> = stderr
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let postgres = findings
        .iter()
        .find(|l| l["span"]["area"] == "postgres" && l["message"] == "Finding.")
        .ok_or_else(|| anyhow::anyhow!("no postgres finding logged: {stderr}"))?;
    assert_eq!(postgres["severity"], "ok");
    assert!(
        findings
            .iter()
            .any(|l| l["spans"][0]["area"] == "broker" && l["severity"] == "BROKEN"),
        "events inside a check carry its span's fields: {stderr}"
    );
    Ok(())
}
