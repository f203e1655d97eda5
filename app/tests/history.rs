//! Deterministic replay on a real broker: crashes must not rewrite the ledger's history.
//!
//! Final positions surviving crashes is not enough: a stock ledger entry, once published, is a
//! fact consumers store (the sink keeps the first copy of each event id). After a SIGKILL the
//! ledger replays the records its changelog does not reflect yet; if those records of different
//! input topics are applied in another interleaving than the first time, the replay republishes
//! the same event ids with other sequences, running quantities and stock values. This file
//! streams generated data through three ledger processes and a sink while SIGKILLing them, then
//! checks that every published id has one content and that the history in Postgres is coherent.
//!
//! Helpers are copied from `ledger.rs` and `sink.rs` rather than shared, so this file stands on
//! its own while the runtime fix changes those files.

mod common;

use std::{
    collections::HashMap,
    fmt::Debug,
    hash::Hash,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use composerp_events::{
    Codec, Event, EventId, Timestamp,
    inventory::{InventoryLowStock, InventoryTransactionCreated, InventoryUpdated},
};
use composerp_generator::{Config, Generated, Generator};
use composerp_kafka::{KafkaSettings, LocalBroker};
use composerp_sinks::testing::TestDatabase;
use composerp_topics::TopicCatalog;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use sqlx::{Connection, PgConnection};

use common::{Key, Proc, append, composerp, truth};

/// Generator size: 2 tenants x 7 locations x 150 items x 45 days, about 94,000 events.
const TENANTS: u32 = 2;
const LOCATIONS: u32 = 7;
const ITEMS: u32 = 150;
const DAYS: u32 = 45;
const SEED: u64 = 19;

/// Events per second: the stream lasts about 38 s.
const RATE: &str = "2450";

/// Ledger SIGKILLs while the generator streams, at least. A kill hits a process that has held
/// partitions for [`HELD_FOR`] (it is processing), at least [`KILL_GAP`] after the previous
/// kill. After a SIGKILL, Tansu keeps the dead member's partitions for the session timeout
/// (10 s), and may give all of them to one member: when no process has held partitions for
/// [`IDLE_KILL_AFTER`] since the last kill, an idle process is killed instead (a restart and a
/// rejoin all the same, but nothing to replay).
const LEDGER_KILLS: usize = 6;
/// At most this many ledger SIGKILLs while the generator streams.
const MAX_LEDGER_KILLS: usize = 12;
const KILL_GAP: Duration = Duration::from_millis(2_000);
const HELD_FOR: Duration = Duration::from_millis(1_500);
const IDLE_KILL_AFTER: Duration = Duration::from_millis(5_000);
/// When the sink is SIGKILLed, in seconds after the generator started.
const SINK_KILLS: [f64; 2] = [7.0, 22.0];

/// Partition stores in a ledger's state directory (one per partition it held).
fn stores(state: &Path) -> usize {
    std::fs::read_dir(state.join("ledger"))
        .map(|d| d.filter(|e| e.is_ok()).count())
        .unwrap_or(0)
}

/// The text of a log without its terminal colours.
fn plain(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The three `composerp run ledger` processes of the test. Each incarnation logs to a file of
/// its own, so the partitions a process holds can be read from its log: a kill that hits a
/// process without partitions (Tansu may give all of them to one member) replays nothing.
struct Ledgers {
    brokers: String,
    dir: PathBuf,
    procs: Vec<Proc>,
    /// Every incarnation's log, per process; the last is the running one's.
    logs: Vec<Vec<PathBuf>>,
    kills: Vec<usize>,
    /// Since when each process has held partitions (see [`Ledgers::watch`]).
    holding: Vec<Option<Instant>>,
    /// What each kill hit, for the record.
    record: Vec<String>,
}

impl Ledgers {
    fn start(brokers: &str, dir: &Path, n: usize) -> anyhow::Result<Self> {
        let mut ledgers = Ledgers {
            brokers: brokers.to_owned(),
            dir: dir.to_owned(),
            procs: Vec::new(),
            logs: vec![Vec::new(); n],
            kills: vec![0; n],
            holding: vec![None; n],
            record: Vec::new(),
        };
        for i in 0..n {
            let p = ledgers.spawn(i)?;
            ledgers.procs.push(p);
        }
        Ok(ledgers)
    }

    fn state(&self, i: usize) -> PathBuf {
        self.dir.join(format!("state-{i}"))
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<Proc> {
        let log = self
            .dir
            .join(format!("ledger-{i}.{}.log", self.logs[i].len()));
        self.logs[i].push(log.clone());
        Ok(Proc(
            composerp(&self.brokers)
                .args(["run", "ledger", "--batch-records", "4000"])
                .args(["--group", "composerp-ledger"])
                .arg("--state-dir")
                .arg(self.state(i))
                .stdout(Stdio::null())
                .stderr(append(&log)?)
                .spawn()?,
        ))
    }

    /// Partitions process `i` holds now, by its log.
    fn held(&self, i: usize) -> Vec<i32> {
        let Some(log) = self.logs[i].last() else {
            return Vec::new();
        };
        let mut held = Vec::new();
        for line in plain(log).lines() {
            let assigned = line.contains("Partition assigned.");
            if !assigned && !line.contains("Partition released.") {
                continue;
            }
            let Some(p) = line.split("partition=").nth(1).and_then(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse::<i32>().ok())
            }) else {
                continue;
            };
            held.retain(|&h| h != p);
            if assigned {
                held.push(p);
            }
        }
        held.sort_unstable();
        held
    }

    /// Notes which processes hold partitions now; call it often.
    fn watch(&mut self) {
        for i in 0..self.procs.len() {
            if self.held(i).is_empty() {
                self.holding[i] = None;
            } else {
                self.holding[i].get_or_insert_with(Instant::now);
            }
        }
    }

    /// The process to kill: of those that have held partitions for `held_for` (so they are
    /// processing), the one killed least so far, then the one holding most.
    fn victim(&self, held_for: Duration) -> Option<usize> {
        (0..self.procs.len())
            .filter(|&i| self.holding[i].is_some_and(|t| t.elapsed() >= held_for))
            .min_by_key(|&i| (self.kills[i], std::cmp::Reverse(self.held(i).len())))
    }

    /// The process killed least so far.
    fn least_killed(&self) -> usize {
        (0..self.procs.len())
            .min_by_key(|&i| self.kills[i])
            .unwrap_or(0)
    }

    /// SIGKILLs process `i`, deletes its state directory when `wipe`, restarts it.
    fn kill(&mut self, i: usize, wipe: bool, at: f64) -> anyhow::Result<()> {
        let held = self.held(i);
        self.procs[i].sigkill()?;
        let state = self.state(i);
        let mut what = format!("{at:.1} s: ledger {i} holding {held:?}");
        if wipe {
            what.push_str(&format!(", {} partition stores deleted", stores(&state)));
            if state.exists() {
                std::fs::remove_dir_all(&state)?;
            }
        }
        self.procs[i] = self.spawn(i)?;
        self.holding[i] = None;
        self.kills[i] += 1;
        self.record.push(what);
        Ok(())
    }

    fn all_logs(&self) -> Vec<PathBuf> {
        self.logs.iter().flatten().cloned().collect()
    }
}

fn run_sink(brokers: &str, database_url: &str, log: &Path) -> anyhow::Result<Proc> {
    Ok(Proc(
        composerp(brokers)
            .env("DATABASE_URL", database_url)
            .args(["sink", "--batch-rows", "3000", "--tables"])
            .arg("inventory.positions,inventory.transactions,inventory.low_stock_events")
            .stdout(Stdio::null())
            .stderr(append(log)?)
            .spawn()?,
    ))
}

/// Reads topics from the beginning, continuing where the last call stopped.
struct Reader {
    consumer: BaseConsumer,
}

impl Reader {
    /// Every partition of the catalog's topics `ids`.
    fn new(brokers: &str, ids: &[&str]) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = KafkaSettings::new(brokers, None)?
            .consumer("composerp-test-reader")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for id in ids {
            let spec = TopicCatalog::embedded().get(id)?;
            for p in 0..spec.partitions {
                tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
            }
        }
        consumer.assign(&tpl)?;
        Ok(Reader { consumer })
    }

    /// Every record's payload until none arrives for `idle`.
    fn drain(&self, idle: Duration, mut f: impl FnMut(&[u8])) -> anyhow::Result<usize> {
        let mut n = 0;
        let mut last = Instant::now();
        while last.elapsed() < idle {
            if let Some(m) = self.consumer.poll(Duration::from_millis(100)) {
                if let Some(bytes) = m?.payload() {
                    f(bytes);
                }
                n += 1;
                last = Instant::now();
            }
        }
        Ok(n)
    }
}

fn topic_name(id: &str) -> anyhow::Result<String> {
    Ok(TopicCatalog::embedded().get(id)?.name.clone())
}

/// A reader of the ledger's reference-data topics, and how many records the generator sends
/// to them (before any movement).
fn reference_data(brokers: &str) -> anyhow::Result<(Reader, usize)> {
    let mut generator = Generator::new(Config {
        tenants: TENANTS,
        locations: LOCATIONS,
        items: ITEMS,
        days: DAYS,
        seed: SEED,
        tenant_prefix: "t".into(),
        start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).context("start date")?,
    });
    let records = generator
        .master_data()
        .iter()
        .filter(|g| {
            matches!(
                g,
                Generated::Location(_) | Generated::Item(_) | Generated::Rule(_)
            )
        })
        .count();
    let reader = Reader::new(
        brokers,
        &["catalog.locations", "catalog.items", "replenishment.rules"],
    )?;
    Ok((reader, records))
}

/// The distinct contents published under each key of one topic.
struct Contents<K> {
    topic: String,
    records: usize,
    undecodable: usize,
    seen: HashMap<K, Vec<Vec<u8>>>,
}

impl<K: Eq + Hash + Debug> Contents<K> {
    fn new(topic: &str) -> Self {
        Contents {
            topic: topic.to_owned(),
            records: 0,
            undecodable: 0,
            seen: HashMap::new(),
        }
    }

    /// One record's content, already normalised (`None`: it did not decode).
    fn see(&mut self, record: Option<(K, Vec<u8>)>) {
        self.records += 1;
        let Some((key, content)) = record else {
            self.undecodable += 1;
            return;
        };
        let contents = self.seen.entry(key).or_default();
        if !contents.contains(&content) {
            contents.push(content);
        }
    }

    fn conflicts(&self) -> Vec<(&K, &Vec<Vec<u8>>)> {
        self.seen.iter().filter(|(_, c)| c.len() > 1).collect()
    }

    /// Counts, for the record.
    fn summary(&self) -> String {
        format!(
            "{}: {} records, {} keys, {} undecodable, {} keys with more than one content",
            self.topic,
            self.records,
            self.seen.len(),
            self.undecodable,
            self.conflicts().len()
        )
    }

    /// A few conflicting keys with each of their contents decoded as `T`.
    fn samples<T: Event + Debug>(&self, codec: &Codec) -> String {
        let mut s = self.summary();
        for (key, contents) in self.conflicts().iter().take(3) {
            s.push_str(&format!("\n  {key:?}:"));
            for c in contents.iter() {
                match codec.decode::<T>(c) {
                    Ok(v) => s.push_str(&format!("\n    {v:?}")),
                    Err(e) => s.push_str(&format!("\n    (undecodable: {e})")),
                }
            }
        }
        s
    }
}

/// Decodes a record, zeroes the fields a republication may change (produced_at) and encodes it
/// again: equal bytes, equal content.
fn normalised<T: Event>(
    codec: &Codec,
    bytes: &[u8],
    zero: impl FnOnce(&mut T),
) -> Option<(T, Vec<u8>)> {
    let mut v: T = codec.decode(bytes).ok()?;
    zero(&mut v);
    let content = codec.encode(&v).ok()?;
    Some((v, content))
}

/// Follows the positions topic until the latest update of every item-location equals `want`
/// (or the time is up); every record read is also recorded in `contents`.
fn converge(
    reader: &Reader,
    codec: &Codec,
    contents: &mut Contents<(String, String, String, i64)>,
    ids: &mut Contents<EventId>,
    latest: &mut HashMap<Key, InventoryUpdated>,
    want: &HashMap<Key, Vec<i64>>,
    within: Duration,
) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + within;
    loop {
        reader.drain(Duration::from_millis(700), |bytes| {
            let record = normalised(codec, bytes, |u: &mut InventoryUpdated| {
                u.produced_at = Timestamp(0)
            });
            ids.see(record.as_ref().map(|(u, c)| (u.event_id, c.clone())));
            contents.see(record.map(|(u, c)| {
                let k = (
                    u.tenant_id.clone(),
                    u.location_id.clone(),
                    u.item_id.clone(),
                );
                if latest.get(&k).is_none_or(|old| old.sequence < u.sequence) {
                    latest.insert(k.clone(), u.clone());
                }
                ((k.0, k.1, k.2, u.sequence), c)
            }));
        })?;
        let diffs = diffs(want, |k| latest.get(k).map(|u| u.buckets().to_vec()));
        if diffs.is_empty() || Instant::now() > deadline {
            return Ok(diffs);
        }
    }
}

/// Item-locations whose buckets differ from the truth (absent ones count as all zero).
fn diffs(want: &HashMap<Key, Vec<i64>>, got: impl Fn(&Key) -> Option<Vec<i64>>) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, w) in want {
        let got = got(k).unwrap_or_else(|| vec![0; 8]);
        if got != *w {
            diffs.push(format!("{k:?}: got {got:?}, want {w:?}"));
        }
    }
    diffs.sort();
    diffs
}

/// Every row of `inventory.positions` as buckets in truth order.
async fn pg_positions(url: &str) -> anyhow::Result<HashMap<Key, Vec<i64>>> {
    let mut c = PgConnection::connect(url).await?;
    let rows: Vec<(String, String, String, Vec<i64>)> = sqlx::query_as(
        "SELECT tenant_id, location_id, item_id, \
                ARRAY[on_hand, on_order, in_transit, reserved, damaged, backordered, available, \
                      inventory_position] \
         FROM inventory.positions",
    )
    .fetch_all(&mut c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, location, item, buckets)| ((tenant, location, item), buckets))
        .collect())
}

/// The history checks on `inventory.transactions`, each a count that must be 0.
#[derive(Debug, PartialEq, Eq)]
struct PgHistory {
    /// All rows, superseded included.
    rows: i64,
    /// Item-locations whose sequences (superseded rows included) are not exactly 1..=n.
    not_contiguous: i64,
    /// Non-superseded rows sharing their sequence with another row of their item-location.
    same_sequence: i64,
    /// Non-superseded rows whose qty_after_transaction is not the running sum of actual_qty.
    wrong_running_qty: i64,
}

async fn pg_history(url: &str) -> anyhow::Result<PgHistory> {
    let mut c = PgConnection::connect(url).await?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory.transactions")
        .fetch_one(&mut c)
        .await?;
    let not_contiguous: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ( \
           SELECT 1 FROM inventory.transactions \
           GROUP BY tenant_id, location_id, item_id \
           HAVING min(sequence) <> 1 OR max(sequence) <> count(*) \
               OR count(DISTINCT sequence) <> count(*)) g",
    )
    .fetch_one(&mut c)
    .await?;
    let (same_sequence, wrong_running_qty): (i64, i64) = sqlx::query_as(
        "WITH t AS ( \
           SELECT qty_after_transaction, \
                  sum(actual_qty) OVER (PARTITION BY tenant_id, location_id, item_id \
                                        ORDER BY sequence) AS running, \
                  count(*) OVER (PARTITION BY tenant_id, location_id, item_id, sequence) \
                    AS same_seq \
           FROM inventory.transactions WHERE NOT superseded) \
         SELECT count(*) FILTER (WHERE same_seq > 1), \
                count(*) FILTER (WHERE qty_after_transaction <> running) FROM t",
    )
    .fetch_one(&mut c)
    .await?;
    Ok(PgHistory {
        rows,
        not_contiguous,
        same_sequence,
        wrong_running_qty,
    })
}

/// A few sequences of `inventory.transactions` held by more than one entry, with those entries.
async fn pg_samples(url: &str) -> anyhow::Result<String> {
    let mut c = PgConnection::connect(url).await?;
    let rows: Vec<(String, String, String, i64, Vec<String>)> = sqlx::query_as(
        "SELECT tenant_id, location_id, item_id, sequence, \
                array_agg(format('%s %s qty %s after %s%s', event_id, transaction_type, \
                                 actual_qty, qty_after_transaction, \
                                 CASE WHEN superseded THEN ' superseded' ELSE '' END) \
                          ORDER BY event_id) \
         FROM inventory.transactions \
         GROUP BY tenant_id, location_id, item_id, sequence HAVING count(*) > 1 \
         ORDER BY tenant_id, location_id, item_id, sequence LIMIT 5",
    )
    .fetch_all(&mut c)
    .await?;
    let mut s = String::from("inventory.transactions: sequences held by more than one entry:");
    for (tenant, location, item, sequence, entries) in rows {
        s.push_str(&format!(
            "\n  {tenant}|{location}|{item} sequence {sequence}: {}",
            entries.join("; ")
        ));
    }
    Ok(s)
}

/// Lines of the processes' logs worth showing on failure: warnings and errors, the last `n`
/// of each log that has any.
fn warnings(logs: &[PathBuf], n: usize) -> String {
    let mut out = Vec::new();
    for log in logs {
        let text = plain(log);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                (l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("failed"))
                    && !l.contains("Record sent to DLQ")
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push(format!(
            "--- {} ({} warnings and errors)",
            log.display(),
            lines.len()
        ));
        out.extend(
            lines[lines.len().saturating_sub(n)..]
                .iter()
                .map(|l| l.to_string()),
        );
    }
    if out.is_empty() {
        out.push(format!("no warnings in {} process logs", logs.len()));
    }
    out.join("\n")
}

/// 94k events streamed for about 38 s through three ledger processes and a sink. While the
/// stream runs: at least six SIGKILLs of ledger processes, each restarted at once (most hit a
/// process that is processing, one is restarted on an empty state directory), and two of the
/// sink; one more ledger SIGKILL after the stream. Then:
///
/// 1. the latest positions on the topic and in `inventory.positions` equal the generator's
///    truth;
/// 2. on the transactions, positions and low-stock topics every event id was published with
///    one content only (produced_at aside, it is the wall clock), and on the positions topic
///    every (tenant, location, item, sequence) too;
/// 3. in `inventory.transactions`, per item-location: the sequences, superseded entries
///    included (a superseded movement still takes the next sequence, with actual_qty 0 and the
///    unchanged on-hand as qty_after_transaction), are exactly 1..=n; no two non-superseded
///    entries share a sequence; and each non-superseded entry's qty_after_transaction is the
///    running sum of actual_qty in sequence order. One row per applied movement line.
///
/// It fails if a replay applies records of different input topics in another interleaving than
/// the first attempt did.
#[test]
fn ledger_history_survives_sigkills_of_ledgers_and_sink_during_a_stream() -> anyhow::Result<()> {
    let started = Instant::now();
    // Worker threads drive the database pool's connections, also while this thread waits.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    let dir = tempfile::tempdir()?;
    let apply = composerp(&brokers).args(["topics", "apply"]).output()?;
    anyhow::ensure!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let db = rt.block_on(TestDatabase::new())?;
    let url = db.url();

    let sink_log = dir.path().join("sink.log");
    let mut sink = run_sink(&brokers, &url, &sink_log)?;

    let truth_path = dir.path().join("truth.csv");
    let generator_log = dir.path().join("generate.log");
    let mut generator = Proc(
        composerp(&brokers)
            .arg("generate")
            .args(["--tenants", &TENANTS.to_string()])
            .args(["--locations", &LOCATIONS.to_string()])
            .args(["--items", &ITEMS.to_string()])
            .args(["--days", &DAYS.to_string()])
            .args(["--seed", &SEED.to_string()])
            .args(["--rate", RATE, "--truth"])
            .arg(&truth_path)
            .stdout(Stdio::null())
            .stderr(append(&generator_log)?)
            .spawn()?,
    );
    let stream_started = Instant::now();
    // The ledgers start once the reference data (sent first) is in: a process reads it whole
    // before it processes, so entries do not depend on when it arrived (unknown_item, ...).
    let (tables, reference_records) = reference_data(&brokers)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    while read < reference_records && Instant::now() < deadline {
        read += tables.drain(Duration::from_millis(200), |_| {})?;
    }
    anyhow::ensure!(
        read == reference_records,
        "{read} of {reference_records} reference records published"
    );
    let mut ledgers = Ledgers::start(&brokers, dir.path(), 3)?;

    // Kills while the generator streams.
    let (mut sink_kills, mut processing_kills, mut wiped) = (0, 0, false);
    let mut last_kill = Instant::now();
    while generator.0.try_wait()?.is_none() {
        let at = stream_started.elapsed().as_secs_f64();
        if SINK_KILLS.get(sink_kills).is_some_and(|&t| at >= t) {
            sink.sigkill()?;
            sink = run_sink(&brokers, &url, &sink_log)?;
            sink_kills += 1;
        }
        ledgers.watch();
        if ledgers.record.len() < MAX_LEDGER_KILLS && last_kill.elapsed() >= KILL_GAP {
            if let Some(i) = ledgers.victim(HELD_FOR) {
                // The first holder with a store to lose after the first kill restarts empty.
                let wipe = !wiped && !ledgers.record.is_empty() && stores(&ledgers.state(i)) > 0;
                wiped |= wipe;
                ledgers.kill(i, wipe, at)?;
                processing_kills += 1;
                last_kill = Instant::now();
            } else if last_kill.elapsed() >= IDLE_KILL_AFTER {
                ledgers.kill(ledgers.least_killed(), false, at)?;
                last_kill = Instant::now();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stream_secs = stream_started.elapsed().as_secs_f64();
    let kills_in_stream = ledgers.record.len();
    anyhow::ensure!(
        generator.0.wait()?.success(),
        "generate: {}",
        std::fs::read_to_string(&generator_log).unwrap_or_default()
    );
    // One more once the stream has ended, while the backlog is still being processed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        ledgers.watch();
        if let Some(i) = ledgers.victim(HELD_FOR) {
            ledgers.kill(i, false, stream_started.elapsed().as_secs_f64())?;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut logs = ledgers.all_logs();
    logs.push(sink_log.clone());
    assert!(
        kills_in_stream >= LEDGER_KILLS
            && processing_kills > 0
            && wiped
            && sink_kills == SINK_KILLS.len(),
        "{kills_in_stream} ledger SIGKILLs ({processing_kills} of processing ones, a store \
         wiped: {wiped}) and {sink_kills} sink SIGKILLs during the {stream_secs:.1} s stream, \
         want {LEDGER_KILLS} (some processing, one wiped) and {}: {}\n{}",
        SINK_KILLS.len(),
        ledgers.record.join("; "),
        warnings(&logs, 20)
    );

    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        dir.path().join("truth.csv.summary.json"),
    )?)?;
    let events = summary["events"].as_u64().unwrap_or(0);
    let ledger_lines = summary["ledger_lines"].as_i64().unwrap_or(0);
    let want = truth(&truth_path)?;

    // 1. Final positions: on the topic, then in Postgres.
    let codec = Codec::embedded();
    let positions_topic = topic_name("inventory.positions")?;
    let positions = Reader::new(&brokers, &["inventory.positions"])?;
    let mut position_versions = Contents::new(&format!(
        "{positions_topic} by (tenant, location, item, sequence)"
    ));
    let mut position_ids = Contents::new(&format!("{positions_topic} by event id"));
    let mut latest = HashMap::new();
    let topic_diffs = converge(
        &positions,
        &codec,
        &mut position_versions,
        &mut position_ids,
        &mut latest,
        &want,
        Duration::from_secs(240),
    )?;
    let converged_secs = started.elapsed().as_secs_f64();
    assert!(
        topic_diffs.is_empty(),
        "positions topic: {} of {} item-locations differ, e.g. {:?}\n{}",
        topic_diffs.len(),
        want.len(),
        &topic_diffs[..topic_diffs.len().min(5)],
        warnings(&logs, 40)
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let pg_diffs = loop {
        let got = rt.block_on(pg_positions(&url))?;
        let d = diffs(&want, |k| got.get(k).cloned());
        if d.is_empty() || Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        pg_diffs.is_empty(),
        "inventory.positions: {} of {} item-locations differ, e.g. {:?}\n{}",
        pg_diffs.len(),
        want.len(),
        &pg_diffs[..pg_diffs.len().min(5)],
        warnings(&logs, 40)
    );

    // 2. One content per id on every ledger output topic.
    let transactions_topic = topic_name("inventory.transactions")?;
    let transactions = Reader::new(&brokers, &["inventory.transactions"])?;
    let mut transaction_ids = Contents::new(&transactions_topic);
    // Every entry is on the topic by now (the positions reflect them): read until all are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (transaction_ids.seen.len() as i64) < ledger_lines && Instant::now() < deadline {
        transactions.drain(Duration::from_secs(3), |bytes| {
            let record = normalised(&codec, bytes, |t: &mut InventoryTransactionCreated| {
                t.produced_at = Timestamp(0)
            });
            transaction_ids.see(record.map(|(t, c)| (t.event_id, c)));
        })?;
    }
    let low_stock_topic = topic_name("inventory.low-stock")?;
    let low_stock = Reader::new(&brokers, &["inventory.low-stock"])?;
    let mut low_stock_ids = Contents::new(&low_stock_topic);
    low_stock.drain(Duration::from_secs(3), |bytes| {
        let record = normalised(&codec, bytes, |a: &mut InventoryLowStock| {
            a.produced_at = Timestamp(0)
        });
        low_stock_ids.see(record.map(|(a, c)| (a.event_id, c)));
    })?;
    // Positions that arrived after convergence (a replay may republish older versions).
    positions.drain(Duration::from_secs(2), |bytes| {
        let record = normalised(&codec, bytes, |u: &mut InventoryUpdated| {
            u.produced_at = Timestamp(0)
        });
        position_ids.see(record.as_ref().map(|(u, c)| (u.event_id, c.clone())));
        position_versions
            .see(record.map(|(u, c)| ((u.tenant_id, u.location_id, u.item_id, u.sequence), c)));
    })?;

    // 3. The history in Postgres, once the sink has every entry.
    let deadline = Instant::now() + Duration::from_secs(60);
    let history = loop {
        let h = rt.block_on(pg_history(&url))?;
        if h.rows >= ledger_lines || Instant::now() > deadline {
            break h;
        }
        std::thread::sleep(Duration::from_millis(500));
    };

    let conflicts = [
        transaction_ids.conflicts().len(),
        position_ids.conflicts().len(),
        position_versions.conflicts().len(),
        low_stock_ids.conflicts().len(),
    ];
    let summaries = [
        transaction_ids.summary(),
        position_ids.summary(),
        position_versions.summary(),
        low_stock_ids.summary(),
    ]
    .join("\n");
    // How often an engine found another writer in a changelog partition it held and started
    // over rather than publish (the engine's fencing), for the record.
    let texts: Vec<String> = ledgers.all_logs().iter().map(|l| plain(l)).collect();
    let count = |what: &str| texts.iter().map(|t| t.matches(what).count()).sum::<usize>();
    let superseded = count("Superseded: starting over");
    let other_writers = count("Another process wrote");
    eprintln!(
        "history: {events} events ({ledger_lines} ledger lines) streamed in {stream_secs:.1} s; \
         {} ledger SIGKILLs ({kills_in_stream} during the stream, {processing_kills} of them of \
         processes holding partitions), {sink_kills} sink SIGKILLs; {other_writers} markers after \
         another writer's records, {superseded} superseded engines started over; \
         positions converged at {converged_secs:.1} s; conflicting keys (transaction \
         ids, position ids, position versions, low-stock ids): {conflicts:?}; Postgres: \
         {history:?}; test took {:.1} s\nledger kills: {}\n{summaries}",
        ledgers.record.len(),
        started.elapsed().as_secs_f64(),
        ledgers.record.join("; ")
    );
    let sound = conflicts == [0, 0, 0, 0]
        && transaction_ids.undecodable + position_ids.undecodable + low_stock_ids.undecodable == 0
        && transaction_ids.seen.len() as i64 == ledger_lines
        && history
            == PgHistory {
                rows: ledger_lines,
                not_contiguous: 0,
                same_sequence: 0,
                wrong_running_qty: 0,
            };
    if !sound {
        let samples = [
            transaction_ids.samples::<InventoryTransactionCreated>(&codec),
            position_ids.samples::<InventoryUpdated>(&codec),
            position_versions.samples::<InventoryUpdated>(&codec),
            low_stock_ids.samples::<InventoryLowStock>(&codec),
            rt.block_on(pg_samples(&url))?,
            warnings(&logs, 20),
        ]
        .join("\n");
        panic!(
            "history rewritten by crashes: conflicting keys {conflicts:?}, Postgres {history:?} \
             (want {ledger_lines} rows and zeros)\n{samples}"
        );
    }
    drop(ledgers);
    drop(sink);
    Ok(())
}
