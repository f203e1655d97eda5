//! `composerp sink` as a process: a SIGKILL mid-stream and a Postgres restart mid-stream lose
//! and double nothing.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use composerp_events::{
    Codec, EventId, Money,
    inventory::{InventoryTransactionCreated, InventoryUpdated},
    samples,
};
use composerp_kafka::{KafkaSettings, LocalBroker, Publisher};
use composerp_sinks::testing::TestDatabase;
use sqlx::{Connection, PgConnection};

/// Item-locations per run; each gets `VERSIONS` position updates and as many ledger entries.
const KEYS: usize = 4_000;
const VERSIONS: i64 = 4;

/// A `composerp sink` process, killed when dropped so a failing test leaves none behind.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(brokers: &str, database_url: &str, log: &Path) -> anyhow::Result<Sink> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Ok(Sink(
        Command::new(env!("CARGO_BIN_EXE_composerp"))
            .env("KAFKA_BROKERS", brokers)
            .env("DATABASE_URL", database_url)
            .env("COMPOSERP_LOG", "info")
            .env_remove("SCHEMA_REGISTRY_URL")
            .args([
                "sink",
                "--batch-rows",
                "3000",
                "--tables",
                "inventory.positions,inventory.transactions",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    ))
}

fn apply_topics(brokers: &str) -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_composerp"))
        .env("KAFKA_BROKERS", brokers)
        .args(["topics", "apply"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Publishes versions `versions` of every item-location and one ledger entry per version.
fn publish(brokers: &str, versions: std::ops::RangeInclusive<i64>) -> anyhow::Result<()> {
    let codec = Codec::embedded();
    let mut publisher = Publisher::new(&KafkaSettings::new(brokers, None)?)?;
    for v in versions {
        for k in 0..KEYS {
            let mut u: InventoryUpdated = samples::inventory_updated();
            u.event_id = EventId::from_name(&format!("pos-{k}-{v}"));
            u.tenant_id = format!("t{}", k % 3);
            u.location_id = format!("s{:02}", k % 11);
            u.item_id = format!("i{k:05}");
            u.sequence = v;
            u.on_hand = 100 * v + (k % 100) as i64;
            u.stock_value = Money(u.on_hand * 10_000);
            let key = format!("{}|{}", u.tenant_id, u.location_id);
            publisher.send(
                "composerp.inventory.positions.v1",
                key.as_bytes(),
                &codec.encode(&u)?,
                None,
            )?;
            let mut t: InventoryTransactionCreated = samples::inventory_transaction_created();
            t.event_id = EventId::from_name(&format!("tx-{k}-{v}"));
            t.tenant_id = u.tenant_id.clone();
            t.location_id = u.location_id.clone();
            t.item_id = u.item_id.clone();
            t.sequence = v;
            publisher.send(
                "composerp.inventory.transactions.v1",
                key.as_bytes(),
                &codec.encode(&t)?,
                None,
            )?;
        }
    }
    publisher.flush()?;
    Ok(())
}

async fn counts(url: &str) -> (i64, i64, i64) {
    let Ok(mut c) = PgConnection::connect(url).await else {
        return (-1, -1, -1);
    };
    sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT (SELECT count(*) FROM inventory.positions WHERE sequence = $1), \
                (SELECT count(*) FROM inventory.transactions), \
                (SELECT coalesce(sum(next_offset), 0)::bigint FROM sink.offsets)",
    )
    .bind(VERSIONS)
    .fetch_one(&mut c)
    .await
    .unwrap_or((-1, -1, -1))
}

/// Waits until the counts equal `want` (at most `within`); returns the last counts seen.
async fn converge(url: &str, want: (i64, i64, i64), within: Duration) -> (i64, i64, i64) {
    let deadline = Instant::now() + within;
    loop {
        let got = counts(url).await;
        if got == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The newest version everywhere, each ledger entry once, each record consumed once.
fn final_counts() -> (i64, i64, i64) {
    let n = KEYS as i64;
    (n, n * VERSIONS, 2 * n * VERSIONS)
}

async fn check_rows(url: &str) -> anyhow::Result<()> {
    let mut c = PgConnection::connect(url).await?;
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inventory.positions \
         WHERE on_hand <> 100 * sequence + right(item_id, 5)::int % 100",
    )
    .fetch_one(&mut c)
    .await?;
    assert_eq!(wrong, 0, "every row is the version it claims");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_sink_resumes_from_the_offsets_in_postgres() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    apply_topics(&brokers)?;
    let db = TestDatabase::new().await?;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("sink.log");
    publish(&brokers, 1..=2)?;

    let mut first = start_sink(&brokers, &db.url(), &log)?;
    // Kill it once part of the rows are in.
    let deadline = Instant::now() + Duration::from_secs(120);
    while counts(&db.url()).await.1 < 3_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.0.kill()?;
    first.0.wait()?;
    let at_kill = counts(&db.url()).await;
    assert!(at_kill.1 > 0, "the sink wrote before it was killed");

    publish(&brokers, 3..=VERSIONS)?;
    let _second = start_sink(&brokers, &db.url(), &log)?;
    let got = converge(&db.url(), final_counts(), Duration::from_secs(240)).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        got,
        final_counts(),
        "killed at {at_kill:?}; log tail: {}",
        &text[text.len().saturating_sub(3000)..]
    );
    check_rows(&db.url()).await
}

/// A Postgres cluster of this test's own, so it can be stopped without disturbing other tests.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    fn bin(name: &str) -> PathBuf {
        let from_env = std::env::var_os("PG_BINDIR").map(PathBuf::from);
        from_env
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
            .join(name)
    }

    /// Runs a Postgres tool, as the postgres user when this is root (Postgres refuses root).
    fn tool(name: &str, args: &[&str]) -> anyhow::Result<()> {
        let bin = Self::bin(name);
        let root = std::env::var("USER").is_ok_and(|u| u == "root")
            || Command::new("id").arg("-u").output()?.stdout == b"0\n";
        let out = if root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(args)
                .output()?
        } else {
            Command::new(&bin).args(args).output()?
        };
        anyhow::ensure!(
            out.status.success(),
            "{} {args:?}: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let root = Command::new("id").arg("-u").output()?.stdout == b"0\n";
        if root {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()?;
        }
        let data = dir.path().join("data");
        let data = data.to_str().unwrap_or_default().to_owned();
        Self::tool(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        )?;
        let pg = PrivatePostgres { dir, port };
        pg.up()?;
        Ok(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn up(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        Self::tool(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap_or_default(),
                "-w",
                "start",
            ],
        )
    }

    /// Stops at once, as a crash would (no shutdown checkpoint).
    fn crash(&self) -> anyhow::Result<()> {
        Self::tool("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"])
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Self::tool("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_stream_loses_and_doubles_nothing() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    apply_topics(&brokers)?;
    let pg = PrivatePostgres::start()?;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("sink.log");
    publish(&brokers, 1..=VERSIONS)?;

    let mut sink = start_sink(&brokers, &pg.url(), &log)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while counts(&pg.url()).await.1 < 3_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg.crash()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        sink.0.try_wait()?.is_none(),
        "the sink waits for Postgres instead of exiting"
    );
    pg.up()?;
    let got = converge(&pg.url(), final_counts(), Duration::from_secs(240)).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        got,
        final_counts(),
        "log tail: {}",
        &text[text.len().saturating_sub(3000)..]
    );
    assert!(
        text.contains("retrying"),
        "the outage was noticed and retried"
    );
    check_rows(&pg.url()).await?;
    // A clean stop after the outage.
    Command::new("kill")
        .args(["-TERM", &sink.0.id().to_string()])
        .status()?;
    assert!(sink.0.wait()?.success());
    Ok(())
}
