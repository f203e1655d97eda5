//! The sink loop: consume a set of topics in a consumer group, stage their rows, and commit the
//! rows together with the next offsets in one Postgres transaction.
//!
//! Exactness: Postgres holds the truth of what was consumed (`sink.offsets`). A partition is
//! resumed from there when assigned, whatever the broker's committed offsets say, so a crash
//! between the Postgres commit and anything else neither loses nor doubles a row. The upserts
//! are idempotent anyway (event ids, versions), which makes a replay after a rebalance race
//! harmless; a row arriving again with other content keeps the stored one and is counted in
//! `composerp_sink_conflicting_redeliveries_total` and logged with both versions (it must stay
//! 0). A failed write keeps the batch and retries with backoff until Postgres is back.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use composerp_events::Codec;
use composerp_kafka::{
    KafkaSettings, PublishError, Publisher,
    dlq::DeadLetter,
    fetch::{FETCH_REWIND, GapCheck, Gaps},
    lag::Lag,
    member::{Join, Member, Membership},
};
use composerp_topics::TopicCatalog;
use futures_util::future::join_all;
use metrics::{Counter, Histogram};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer},
    error::KafkaError,
};
use sqlx::{Connection, PgConnection};
use tokio::runtime::Handle;

use crate::{batch::Staged, redelivery::Outcome};

/// Rows that arrived again with other content than the stored ones; labels sink and table.
const CONFLICTS: &str = "composerp_sink_conflicting_redeliveries_total";

/// How a sink runs.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Sink name: the consumer group is `composerp-sink-<name>` and offsets are stored under it.
    pub name: String,
    /// Postgres URL; the sink connects as the tables' owner.
    pub database_url: String,
    /// Commit after this many staged rows.
    pub batch_rows: usize,
    /// Commit at least this often while rows are staged.
    pub batch_interval: Duration,
}

impl SinkConfig {
    /// Defaults for `name`: 20,000 rows or 500 ms per commit.
    pub fn new(name: &str, database_url: &str) -> Self {
        SinkConfig {
            name: name.to_owned(),
            database_url: database_url.to_owned(),
            batch_rows: 20_000,
            batch_interval: Duration::from_millis(500),
        }
    }
}

/// Why a sink stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Kafka refused or failed.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A topic is not in the catalog.
    #[error("topic setup: {0}")]
    Topics(String),
    /// Dead letters could not be delivered; the batch is not committed and will be replayed.
    #[error("dead letters: {0}")]
    DeadLetters(#[from] PublishError),
    /// Postgres failed while stopping; the uncommitted batch will be replayed.
    #[error("Postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A background write panicked.
    #[error("the Postgres writer failed: {0}")]
    Panicked(String),
}

/// The sink's Postgres sessions, one per table so tables commit in parallel (each with the
/// offsets of its own topic); reconnected after any failure.
///
/// Nothing outlives a transaction on a session: each commit prepares its staging table first,
/// and every statement is prepared unnamed, so the sink works through PgBouncer in transaction
/// mode (before 1.21 too), which hands each transaction any server connection.
struct Db {
    url: String,
    conns: Vec<Option<PgConnection>>,
}

/// The session of one table, connected if needed.
async fn session<'a>(
    url: &str,
    slot: &'a mut Option<PgConnection>,
) -> Result<&'a mut PgConnection, sqlx::Error> {
    if slot.is_none() {
        *slot = Some(PgConnection::connect(url).await?);
    }
    slot.as_mut().ok_or(sqlx::Error::PoolClosed)
}

/// A batch being written in the background.
struct Flight {
    handle: tokio::task::JoinHandle<(Db, Result<(), sqlx::Error>)>,
    rows: usize,
    started: Instant,
}

/// The rows of one table and the next offsets of its topic's partitions.
type TableBatch = (Box<dyn Staged>, Vec<String>, Vec<i32>, Vec<i64>);

#[derive(Clone)]
struct Meters {
    rows: Counter,
    dead_letters: Counter,
    flush_seconds: Histogram,
    retries: Counter,
}

struct Sink {
    cfg: SinkConfig,
    codec: Codec,
    tables: Vec<Box<dyn Staged>>,
    /// Topic names, in table order.
    names: Vec<String>,
    dlqs: Vec<Option<String>>,
    /// Next offset to consume per (table index, partition) of the assigned partitions.
    next: HashMap<(usize, i32), i64>,
    /// Partitions whose offset moved since the last commit.
    dirty: HashSet<(usize, i32)>,
    staged: usize,
    dead_letters: usize,
    last_commit: Instant,
    /// The sessions; None while a batch is in flight (the write owns them).
    db: Option<Db>,
    /// The batch being written while the next one is staged.
    flight: Option<Flight>,
    publisher: Publisher,
    gaps: Gaps,
    rt: Handle,
    stop: Arc<AtomicBool>,
    meters: Meters,
    failed: Option<SinkError>,
    /// The sink made its last commit (it is stopping, or failed): nothing more is committed.
    halted: bool,
}

impl Sink {
    fn index_of(&self, topic: &str) -> Option<usize> {
        self.names.iter().position(|n| n == topic)
    }

    /// Whether to apply a consumed record, pass over it, or fetch its partition again.
    fn check(&mut self, index: usize, m: &rdkafka::message::BorrowedMessage<'_>) -> GapCheck {
        let (p, offset) = (m.partition(), m.offset());
        let expected = self.next.get(&(index, p)).copied();
        if expected.is_none_or(|e| offset < e) {
            return GapCheck::Drop;
        }
        let check = self.gaps.check(expected, index, p, offset);
        if let GapCheck::Refetch(from) = check {
            tracing::info!(
                topic = m.topic(),
                partition = p,
                offset,
                expected = from,
                "Gap in the input; fetching it again."
            );
        }
        check
    }

    /// Stages a record's row (or dead-letters it) and moves its partition's offset past it.
    fn apply(&mut self, index: usize, m: &rdkafka::message::BorrowedMessage<'_>) {
        if let Some(bytes) = m.payload() {
            match self.tables[index].add(&self.codec, bytes) {
                Ok(()) => self.staged += 1,
                Err(reject) => {
                    if let Err(e) = self.dead_letter(index, m, &reject.to_string(), reject.reason())
                    {
                        self.failed = Some(e);
                        return;
                    }
                }
            }
        }
        self.next.insert((index, m.partition()), m.offset() + 1);
        self.dirty.insert((index, m.partition()));
    }

    fn dead_letter(
        &mut self,
        index: usize,
        m: &rdkafka::message::BorrowedMessage<'_>,
        error: &str,
        reason: &str,
    ) -> Result<(), SinkError> {
        let by = format!("sink-{}", self.cfg.name);
        tracing::warn!(
            reason,
            error,
            topic = m.topic(),
            partition = m.partition(),
            offset = m.offset(),
            "Record sent to DLQ."
        );
        let Some(dlq) = &self.dlqs[index] else {
            return Ok(());
        };
        let headers = DeadLetter {
            reason,
            error,
            topic: m.topic(),
            partition: m.partition(),
            offset: m.offset(),
            by: &by,
        }
        .headers();
        self.publisher.send(
            dlq,
            m.key().unwrap_or_default(),
            m.payload().unwrap_or_default(),
            Some(headers),
        )?;
        self.dead_letters += 1;
        self.meters.dead_letters.increment(1);
        // Made per dead letter, which are rare; the reason is a bounded code. The total above
        // exists at 0 from the start, so an alert on its increase fires at the first one.
        metrics::counter!(
            "composerp_sink_dead_letters_by_reason_total",
            "sink" => self.cfg.name.clone(),
            "topic" => m.topic().to_owned(),
            "reason" => reason.to_owned()
        )
        .increment(1);
        Ok(())
    }

    fn due(&self) -> bool {
        self.staged >= self.cfg.batch_rows
            || (!self.dirty.is_empty() && self.last_commit.elapsed() >= self.cfg.batch_interval)
    }

    /// Waits for the batch in flight, if any; an error means it was given up (stopping).
    fn land(&mut self) -> Result<(), SinkError> {
        let Some(f) = self.flight.take() else {
            return Ok(());
        };
        let (db, result) = self
            .rt
            .block_on(f.handle)
            .map_err(|e| SinkError::Panicked(e.to_string()))?;
        self.db = Some(db);
        result?;
        self.meters.rows.increment(f.rows as u64);
        self.meters
            .flush_seconds
            .record(f.started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Hands the staged rows and their offsets to a background write (each table in one
    /// transaction with its topic's offsets) after the previous batch has landed, so the next
    /// batch is consumed and staged while this one is written.
    fn commit(&mut self) -> Result<(), SinkError> {
        self.land()?;
        if self.dirty.is_empty() {
            return Ok(());
        }
        if self.dead_letters > 0 {
            // Dead letters are durable before the offsets that pass over their records.
            self.publisher.flush()?;
            self.dead_letters = 0;
        }
        let mut batches: Vec<Option<TableBatch>> = (0..self.tables.len()).map(|_| None).collect();
        for &(index, p) in &self.dirty {
            let b = batches[index].get_or_insert_with(|| {
                (
                    self.tables[index].take(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                )
            });
            b.1.push(self.names[index].clone());
            b.2.push(p);
            b.3.push(self.next[&(index, p)]);
        }
        let db = self
            .db
            .take()
            .ok_or(SinkError::Panicked("no Postgres session".into()))?;
        let (name, stop, retries) = (
            self.cfg.name.clone(),
            self.stop.clone(),
            self.meters.retries.clone(),
        );
        self.flight = Some(Flight {
            handle: self
                .rt
                .spawn(write_until_done(db, batches, name, stop, retries)),
            rows: self.staged,
            started: Instant::now(),
        });
        self.staged = 0;
        self.dirty.clear();
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Commits everything staged and waits until it is in Postgres.
    fn commit_and_wait(&mut self) -> Result<(), SinkError> {
        self.commit()?;
        self.land()
    }

    /// The stored next offsets of `partitions` (0 for a partition never written).
    fn stored_offsets(&mut self, partitions: &[(usize, i32)]) -> Result<Vec<i64>, SinkError> {
        self.land()?;
        let topics: Vec<String> = self.names.clone();
        let mut delay = Duration::from_millis(100);
        let stored: HashMap<(String, i32), i64> = loop {
            let Some(Db { url, conns }) = self.db.as_mut() else {
                return Err(SinkError::Panicked("no Postgres session".into()));
            };
            let result = self.rt.block_on(async {
                let conn = session(url, &mut conns[0]).await?;
                // In a transaction: an unnamed statement must keep its server connection.
                let mut tx = conn.begin().await?;
                sqlx::query_as::<_, (String, i32, i64)>(
                    "SELECT topic, partition, next_offset FROM sink.offsets \
                     WHERE sink = $1 AND topic = ANY($2)",
                )
                .bind(&self.cfg.name)
                .bind(&topics)
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
            });
            match result {
                Ok(rows) => break rows.into_iter().map(|(t, p, o)| ((t, p), o)).collect(),
                Err(e) => {
                    conns[0] = None;
                    if self.stop.load(Ordering::Relaxed) {
                        return Err(e.into());
                    }
                    tracing::warn!(error = %e, "Reading the stored offsets failed; retrying.");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        };
        Ok(partitions
            .iter()
            .map(|&(i, p)| {
                stored
                    .get(&(self.names[i].clone(), p))
                    .copied()
                    .unwrap_or(0)
            })
            .collect())
    }
}

/// The sink as a consumer-group member: assignment reads the offsets from Postgres, revocation
/// commits first.
impl Member for Sink {
    type Error = SinkError;

    fn assign(&mut self, partitions: &[(usize, i32)]) -> Result<TopicPartitionList, SinkError> {
        let stored = self.stored_offsets(partitions)?;
        let mut tpl = TopicPartitionList::new();
        for (&(i, p), next) in partitions.iter().zip(stored) {
            self.next.insert((i, p), next);
            self.gaps.clear(i, p);
            tpl.add_partition_offset(
                &self.names[i],
                p,
                Offset::Offset((next - FETCH_REWIND).max(0)),
            )?;
            tracing::info!(sink = %self.cfg.name, topic = %self.names[i], partition = p, next, "Partition assigned.");
        }
        Ok(tpl)
    }

    fn revoke(&mut self, _: &[(usize, i32)]) -> Result<(), SinkError> {
        self.commit_and_wait()
    }

    fn release(&mut self, partitions: &[(usize, i32)]) -> Result<(), SinkError> {
        for &(i, p) in partitions {
            self.next.remove(&(i, p));
            tracing::info!(sink = %self.cfg.name, topic = %self.names[i], partition = p, "Partition released.");
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.failed.is_some() || self.halted
    }

    fn fail(&mut self, error: SinkError) {
        self.failed = Some(error);
    }

    fn holds_any(&self) -> bool {
        !self.next.is_empty()
    }

    /// `sink.offsets` in Postgres stays the truth; the group gets a copy.
    fn committed(&self) -> Vec<(usize, i32, i64)> {
        self.next
            .iter()
            .map(|(&(i, p), &next)| (i, p, next))
            .collect()
    }

    fn next_offset(&self, index: usize, partition: i32) -> Option<i64> {
        self.next.get(&(index, partition)).copied()
    }
}

/// Writes each table's batch on its own session until all are in, retrying failed tables with
/// backoff; gives up (returning the last error) only when asked to stop.
async fn write_until_done(
    mut db: Db,
    mut batches: Vec<Option<TableBatch>>,
    name: String,
    stop: Arc<AtomicBool>,
    retries: Counter,
) -> (Db, Result<(), sqlx::Error>) {
    let mut delay = Duration::from_millis(100);
    loop {
        let Db { url, conns } = &mut db;
        let mut jobs = Vec::new();
        for (slot, batch) in conns.iter_mut().zip(batches.iter_mut()) {
            if batch.is_some() {
                jobs.push(write_one(url, slot, batch, &name));
            }
        }
        let failure = join_all(jobs).await.into_iter().find_map(Result::err);
        let Some(e) = failure else {
            return (db, Ok(()));
        };
        if stop.load(Ordering::Relaxed) {
            return (db, Err(e));
        }
        retries.increment(1);
        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Postgres write failed; retrying.");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Writes one table's batch on its session; forgets the batch when it is in, the session when
/// it failed.
async fn write_one(
    url: &str,
    slot: &mut Option<PgConnection>,
    batch: &mut Option<TableBatch>,
    name: &str,
) -> Result<(), sqlx::Error> {
    let Some((table, t, p, o)) = batch.as_ref() else {
        return Ok(());
    };
    let result = match session(url, slot).await {
        Ok(conn) => commit_rows(conn, table.as_ref(), name, (t, p, o)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(outcome) => {
            report(name, &outcome);
            *batch = None;
            Ok(())
        }
        Err(e) => {
            *slot = None;
            Err(e)
        }
    }
}

/// Counts and logs the conflicting redeliveries of a committed write.
fn report(sink: &str, outcome: &Outcome) {
    for c in &outcome.conflicts {
        metrics::counter!(CONFLICTS, "sink" => sink.to_owned(), "table" => c.table)
            .increment(c.count);
        tracing::warn!(
            sink,
            table = c.table,
            count = c.count,
            shown = c.shown.len(),
            "Rows arrived again with other content than stored; the stored versions are kept."
        );
        for (stored, again) in &c.shown {
            tracing::warn!(sink, table = c.table, %stored, %again, "Conflicting redelivery.");
        }
    }
}

/// Commits the staged rows of `table` and the next offsets (topic, partition, offset) of `sink`
/// in one transaction on `conn`, begun with [`Staged::stage_ddl`]; returns what was written.
pub async fn commit_rows(
    conn: &mut PgConnection,
    table: &dyn Staged,
    sink: &str,
    (topics, partitions, offsets): (&[String], &[i32], &[i64]),
) -> Result<Outcome, sqlx::Error> {
    let mut tx = conn
        .begin_with(format!("BEGIN; {}", table.stage_ddl()))
        .await?;
    let outcome = table.write(&mut tx).await?;
    sqlx::query(
        "INSERT INTO sink.offsets (sink, topic, partition, next_offset) \
         SELECT $1, * FROM UNNEST($2::text[], $3::int4[], $4::int8[]) \
         ON CONFLICT (sink, topic, partition) DO UPDATE \
         SET next_offset = GREATEST(sink.offsets.next_offset, EXCLUDED.next_offset), \
             updated_at = now()",
    )
    .bind(sink)
    .bind(topics)
    .bind(partitions)
    .bind(offsets)
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Runs the sink of `tables` until `stop` is set or an error occurs. Blocks: call it from a
/// blocking thread of a Tokio runtime (`rt` runs the Postgres calls).
pub fn run(
    tables: Vec<Box<dyn Staged>>,
    kafka: &KafkaSettings,
    codec: Codec,
    cfg: SinkConfig,
    rt: Handle,
    stop: Arc<AtomicBool>,
) -> Result<(), SinkError> {
    let catalog = TopicCatalog::embedded();
    let (mut names, mut dlqs, mut topics) = (Vec::new(), Vec::new(), Vec::new());
    for t in &tables {
        let spec = catalog
            .get(t.topic())
            .map_err(|e| SinkError::Topics(e.to_string()))?;
        names.push(spec.name.clone());
        dlqs.push(spec.dlq.clone());
        topics.push((spec.name.clone(), spec.partitions));
    }
    let labels = [("sink", cfg.name.clone())];
    // At 0 from the start, so an alert on any increase fires at the first conflict.
    for table in tables.iter().flat_map(|t| t.checked()) {
        metrics::counter!(CONFLICTS, "sink" => cfg.name.clone(), "table" => table).increment(0);
    }
    let sink = Arc::new(Mutex::new(Sink {
        meters: Meters {
            rows: metrics::counter!("composerp_sink_rows_total", &labels),
            dead_letters: metrics::counter!("composerp_sink_dead_letters_total", &labels),
            flush_seconds: metrics::histogram!("composerp_sink_flush_seconds", &labels),
            retries: metrics::counter!("composerp_sink_retries_total", &labels),
        },
        db: Some(Db {
            url: cfg.database_url.clone(),
            conns: (0..tables.len()).map(|_| None).collect(),
        }),
        flight: None,
        cfg: cfg.clone(),
        codec,
        tables,
        names: names.clone(),
        dlqs,
        next: HashMap::new(),
        dirty: HashSet::new(),
        staged: 0,
        dead_letters: 0,
        last_commit: Instant::now(),
        publisher: Publisher::new(kafka)?,
        gaps: Gaps::default(),
        rt,
        stop: stop.clone(),
        failed: None,
        halted: false,
    }));
    let join = Join {
        group: format!("composerp-sink-{}", cfg.name),
        subscribed: topics.len(),
        topics,
        lag: Lag {
            metric: "composerp_sink_consumer_lag_records",
            label: ("sink", cfg.name.clone()),
        },
        name: format!("sink-{}", cfg.name),
    };
    let positions = {
        let sink = sink.clone();
        move || {
            let s = sink.lock().unwrap_or_else(|p| p.into_inner());
            s.next
                .iter()
                .map(|(&(i, p), &next)| (s.names[i].clone(), p, next))
                .collect()
        }
    };
    let mut group = Membership::join(kafka, join, sink.clone(), positions, stop.clone())?;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        if let Err(e) = group.tend() {
            break Err(e.into());
        }
        let mut timeout = Duration::from_millis(100);
        for _ in 0..5_000 {
            let Some(msg) = group.consumer().poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
            match msg {
                // The topic is resolved once per record; a topic not subscribed is passed over.
                Ok(m) => match s.index_of(m.topic()).map(|i| (i, s.check(i, &m))) {
                    None | Some((_, GapCheck::Drop)) => {}
                    Some((i, GapCheck::Continue)) => s.apply(i, &m),
                    Some((i, GapCheck::Refetch(from))) => {
                        let seek = group.consumer().seek(
                            m.topic(),
                            m.partition(),
                            Offset::Offset((from - FETCH_REWIND).max(0)),
                            Duration::from_secs(10),
                        );
                        if let Err(e) = seek {
                            tracing::warn!(error = %e, "Seek failed; the gap is accepted.");
                            s.gaps.clear(i, m.partition());
                            s.apply(i, &m);
                        }
                    }
                },
                Err(e) => tracing::warn!(error = %e, "Consumer error."),
            }
            if s.failed.is_some() || s.due() {
                break;
            }
        }
        let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = s.failed.take() {
            break Err(e);
        }
        if s.due() {
            if let Err(e) = s.commit() {
                break Err(e);
            }
            group.commit(&s, CommitMode::Async);
        }
    };
    // A clean stop commits what was consumed and leaves the group so partitions move at once.
    let stopping = {
        let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
        s.halted = result.is_err();
        if result.is_ok() {
            // Stopping: a failed write is given up and replayed after the restart.
            let done = s.commit_and_wait();
            if done.is_ok() {
                group.commit(&s, CommitMode::Async);
            }
            // That was the last commit: leaving the group only releases the partitions.
            s.halted = true;
            done
        } else {
            Ok(())
        }
    };
    group.leave();
    result.and(stopping)
}
