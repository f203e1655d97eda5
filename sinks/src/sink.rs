//! The sink loop: consume a set of topics in a consumer group, stage their rows, and commit the
//! rows together with the next offsets in one Postgres transaction.
//!
//! Exactness: Postgres holds the truth of what was consumed (`sink.offsets`). A partition is
//! resumed from there when assigned, whatever the broker's committed offsets say, so a crash
//! between the Postgres commit and anything else neither loses nor doubles a row. The upserts
//! are idempotent anyway (event ids, versions), which makes a replay after a rebalance race
//! harmless. A failed write keeps the batch and retries with backoff until Postgres is back.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use composerp_events::Codec;
use composerp_runtime::{
    KafkaSettings, PublishError, Publisher,
    dlq::DeadLetter,
    fetch::{FETCH_REWIND, GapCheck, Gaps},
    group::Rejoin,
};
use composerp_topics::TopicCatalog;
use futures_util::future::join_all;
use metrics::{Counter, Histogram};
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol},
    error::KafkaError,
    types::RDKafkaRespErr,
};
use sqlx::{Connection, PgConnection};
use tokio::runtime::Handle;

use crate::table::Staged;

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
}

/// The sink's Postgres sessions, one per table so tables commit in parallel (each with the
/// offsets of its own topic); reconnected after any failure, staging table created on each.
struct Db {
    url: String,
    ddl: Vec<String>,
    conns: Vec<Option<PgConnection>>,
}

/// The session of table `i`, connected (and its staging table created) if needed.
async fn session<'a>(
    url: &str,
    ddl: &str,
    slot: &'a mut Option<PgConnection>,
) -> Result<&'a mut PgConnection, sqlx::Error> {
    if slot.is_none() {
        let mut c = PgConnection::connect(url).await?;
        sqlx::raw_sql(ddl).execute(&mut c).await?;
        *slot = Some(c);
    }
    slot.as_mut().ok_or(sqlx::Error::PoolClosed)
}

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
    db: Db,
    publisher: Publisher,
    gaps: Gaps,
    rt: Handle,
    stop: Arc<AtomicBool>,
    meters: Meters,
    failed: Option<SinkError>,
}

impl Sink {
    fn index_of(&self, topic: &str) -> Option<usize> {
        self.names.iter().position(|n| n == topic)
    }

    /// Whether to apply a consumed record, pass over it, or fetch its partition again.
    fn check(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) -> GapCheck {
        let Some(index) = self.index_of(m.topic()) else {
            return GapCheck::Drop;
        };
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
    fn apply(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) {
        let Some(index) = self.index_of(m.topic()) else {
            return;
        };
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
        Ok(())
    }

    fn due(&self) -> bool {
        self.staged >= self.cfg.batch_rows
            || (!self.dirty.is_empty() && self.last_commit.elapsed() >= self.cfg.batch_interval)
    }

    /// Writes the staged rows and the moved offsets in one transaction, retrying with backoff
    /// while Postgres is unavailable; gives up only when asked to stop.
    fn commit(&mut self) -> Result<(), SinkError> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        if self.dead_letters > 0 {
            // Dead letters are durable before the offsets that pass over their records.
            self.publisher.flush()?;
            self.dead_letters = 0;
        }
        let mut delay = Duration::from_millis(100);
        while !self.dirty.is_empty() {
            // Per table: its topic's moved offsets.
            let mut offsets: Vec<(Vec<String>, Vec<i32>, Vec<i64>)> =
                vec![Default::default(); self.tables.len()];
            for &(index, p) in &self.dirty {
                let o = &mut offsets[index];
                o.0.push(self.names[index].clone());
                o.1.push(p);
                o.2.push(self.next[&(index, p)]);
            }
            let name = self.cfg.name.as_str();
            let Db { url, ddl, conns } = &mut self.db;
            let jobs = conns
                .iter_mut()
                .zip(&self.tables)
                .zip(ddl.iter())
                .zip(&offsets)
                .enumerate()
                .filter(|(_, (_, (o, _, _)))| !o.is_empty())
                .map(|(i, (((slot, table), ddl), (t, p, o)))| {
                    let url = url.as_str();
                    async move {
                        let result = async {
                            let conn = session(url, ddl, slot).await?;
                            commit_rows(conn, table.as_ref(), name, (t, p, o)).await
                        }
                        .await;
                        if result.is_err() {
                            *slot = None;
                        }
                        (i, result)
                    }
                });
            let results = self.rt.block_on(join_all(jobs));
            let mut failure = None;
            for (i, result) in results {
                match result {
                    Ok(()) => {
                        self.meters.rows.increment(self.tables[i].len() as u64);
                        self.staged -= self.tables[i].len();
                        self.tables[i].clear();
                        self.dirty.retain(|&(index, _)| index != i);
                    }
                    Err(e) => failure = Some(e),
                }
            }
            if let Some(e) = failure {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(e.into());
                }
                self.meters.retries.increment(1);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Postgres write failed; retrying.");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
        self.meters
            .flush_seconds
            .record(started.elapsed().as_secs_f64());
        self.last_commit = Instant::now();
        Ok(())
    }

    /// The stored next offsets of `partitions` (0 for a partition never written).
    fn stored_offsets(&mut self, partitions: &[(usize, i32)]) -> Result<Vec<i64>, SinkError> {
        let topics: Vec<String> = self.names.clone();
        let mut delay = Duration::from_millis(100);
        let stored: HashMap<(String, i32), i64> = loop {
            let Db { url, ddl, conns } = &mut self.db;
            let result = self.rt.block_on(async {
                let conn = session(url, &ddl[0], &mut conns[0]).await?;
                sqlx::query_as::<_, (String, i32, i64)>(
                    "SELECT topic, partition, next_offset FROM sink.offsets \
                     WHERE sink = $1 AND topic = ANY($2)",
                )
                .bind(&self.cfg.name)
                .bind(&topics)
                .fetch_all(conn)
                .await
            });
            match result {
                Ok(rows) => break rows.into_iter().map(|(t, p, o)| ((t, p), o)).collect(),
                Err(e) => {
                    self.db.conns[0] = None;
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

    fn assign(
        &mut self,
        consumer: &BaseConsumer<Rebalancer>,
        partitions: &[(usize, i32)],
    ) -> Result<(), SinkError> {
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
        if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
            consumer.assign(&tpl)?;
        } else {
            consumer.incremental_assign(&tpl)?;
        }
        Ok(())
    }

    fn revoke(
        &mut self,
        consumer: &BaseConsumer<Rebalancer>,
        partitions: &[(usize, i32)],
    ) -> Result<(), SinkError> {
        self.commit()?;
        let mut tpl = TopicPartitionList::new();
        for &(i, p) in partitions {
            self.next.remove(&(i, p));
            tpl.add_partition(&self.names[i], p);
            tracing::info!(sink = %self.cfg.name, topic = %self.names[i], partition = p, "Partition released.");
        }
        if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
            consumer.unassign()?;
        } else {
            consumer.incremental_unassign(&tpl)?;
        }
        Ok(())
    }
}

/// Commits the staged rows of `table` and the next offsets (topic, partition, offset) of `sink`
/// in one transaction on `conn`, whose staging table exists ([`Staged::stage_ddl`]).
pub async fn commit_rows(
    conn: &mut PgConnection,
    table: &dyn Staged,
    sink: &str,
    (topics, partitions, offsets): (&[String], &[i32], &[i64]),
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    table.write(&mut tx).await?;
    sqlx::query(
        "INSERT INTO sink.offsets (sink, topic, partition, next_offset) \
         SELECT $1, * FROM UNNEST($2::text[], $3::int4[], $4::int8[]) \
         ON CONFLICT (sink, topic, partition) DO UPDATE \
         SET next_offset = GREATEST(sink.offsets.next_offset, EXCLUDED.next_offset), updated_at = now()",
    )
    .bind(sink)
    .bind(topics)
    .bind(partitions)
    .bind(offsets)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Consumer context: assignment reads the offsets from Postgres, revocation commits first.
struct Rebalancer {
    sink: Arc<Mutex<Sink>>,
}

impl ClientContext for Rebalancer {}

impl ConsumerContext for Rebalancer {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if sink.failed.is_some() {
            return;
        }
        let partitions: Vec<(usize, i32)> = tpl
            .elements()
            .iter()
            .filter_map(|e| sink.index_of(e.topic()).map(|i| (i, e.partition())))
            .collect();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                sink.assign(consumer, &partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                sink.revoke(consumer, &partitions)
            }
            other => {
                tracing::error!(error = ?other, "Rebalance failed.");
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "Rebalance handling failed; stopping.");
            sink.failed = Some(e);
        }
    }
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
    let (mut names, mut dlqs) = (Vec::new(), Vec::new());
    for t in &tables {
        let spec = catalog
            .get(t.topic())
            .map_err(|e| SinkError::Topics(e.to_string()))?;
        names.push(spec.name.clone());
        dlqs.push(spec.dlq.clone());
    }
    let ddl = tables.iter().map(|t| t.stage_ddl()).collect();
    let labels = [("sink", cfg.name.clone())];
    let sink = Arc::new(Mutex::new(Sink {
        meters: Meters {
            rows: metrics::counter!("composerp_sink_rows_total", &labels),
            dead_letters: metrics::counter!("composerp_sink_dead_letters_total", &labels),
            flush_seconds: metrics::histogram!("composerp_sink_flush_seconds", &labels),
            retries: metrics::counter!("composerp_sink_retries_total", &labels),
        },
        db: Db {
            url: cfg.database_url.clone(),
            conns: (0..tables.len()).map(|_| None).collect(),
            ddl,
        },
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
    }));
    let consumer: BaseConsumer<Rebalancer> = kafka
        .consumer(&format!("composerp-sink-{}", cfg.name))
        .create_with_context(Rebalancer { sink: sink.clone() })?;
    let topics: Vec<&str> = names.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let mut rejoin = Rejoin::default();
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let has_partitions = !sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next
            .is_empty();
        if rejoin.due(has_partitions) {
            consumer.unsubscribe();
            consumer.subscribe(&topics)?;
        }
        let mut timeout = Duration::from_millis(100);
        for _ in 0..5_000 {
            let Some(msg) = consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
            match msg {
                Ok(m) => match s.check(&m) {
                    GapCheck::Continue => s.apply(&m),
                    GapCheck::Drop => {}
                    GapCheck::Refetch(from) => {
                        let seek = consumer.seek(
                            m.topic(),
                            m.partition(),
                            Offset::Offset((from - FETCH_REWIND).max(0)),
                            Duration::from_secs(10),
                        );
                        if let Err(e) = seek {
                            tracing::warn!(error = %e, "Seek failed; the gap is accepted.");
                            if let Some(i) = s.index_of(m.topic()) {
                                s.gaps.clear(i, m.partition());
                            }
                            s.apply(&m);
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
        if s.due()
            && let Err(e) = s.commit()
        {
            break Err(e);
        }
    };
    // A clean stop commits what was consumed and leaves the group so partitions move at once.
    let stopping = {
        let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
        if result.is_ok() {
            // One attempt: with Postgres down the batch is replayed after the restart.
            s.commit()
        } else {
            Ok(())
        }
    };
    consumer.unsubscribe();
    result.and(stopping)
}
