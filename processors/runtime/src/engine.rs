//! Runs a [`Processor`] against a Kafka cluster, effectively once, without Kafka transactions.
//!
//! - Assignment: the group (cooperative-sticky) assigns partitions of the first input topic; a
//!   process that gets partition `p` also reads partition `p` of every other input (they are
//!   co-partitioned), from the offsets its state recorded.
//! - State: all of a partition's state is in memory; a redb file per partition is the local
//!   checkpoint and a compacted changelog topic (one partition per task) the replicated one.
//! - A batch commits as: outputs, dead letters and changed states to the changelog → wait for
//!   every acknowledgement → a commit marker with the input offsets to the changelog → wait →
//!   states and offsets to the local store in one transaction. A crash anywhere replays from
//!   the last marker; replayed outputs carry the same ids, so consumers deduplicate.
//! - Restore: local checkpoint, then the changelog from the checkpoint's position to its end,
//!   applying entries only up to the last marker.
//! - Revocation: the pending batch is committed before the partitions are released.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use composerp_events::{Codec, Timestamp};
use composerp_topics::{TopicCatalog, TopicSpec, admin::Admin};
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol},
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext},
    types::RDKafkaRespErr,
};
use serde::{Deserialize, Serialize};

use crate::{
    KafkaSettings,
    processor::{Input, OutRecord, Processor, Reject, Tables},
    store::{Checkpoint, Store, StoreError},
    task::{Env, Outcome, Task},
};

/// Changelog key of commit markers; state keys never start with NUL.
const MARKER_KEY: &str = "\u{0}commit";

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Kafka refused or failed.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// Records were not acknowledged; the batch is not committed and will be replayed.
    #[error("{0} records of a batch were not delivered: {1}")]
    Undelivered(u64, String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A topic is missing or misdeclared.
    #[error("topic setup: {0}")]
    Topics(String),
    /// A state value does not (de)serialize.
    #[error("state of key {key}: {detail}")]
    State {
        /// Key.
        key: String,
        /// Serializer message.
        detail: String,
    },
    /// An output could not be built.
    #[error("output: {0}")]
    Emit(#[from] crate::processor::EmitError),
}

/// How the engine batches and where it keeps state.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the state directories (`<dir>/<processor>/partition-<p>.redb`).
    pub state_dir: PathBuf,
    /// Commit after this many input records.
    pub batch_records: usize,
    /// Commit at least this often.
    pub batch_interval: Duration,
    /// Force the local store to disk every this many commits.
    pub durable_every: u64,
}

impl EngineConfig {
    /// Defaults for a state directory.
    pub fn new(state_dir: PathBuf) -> Self {
        EngineConfig {
            state_dir,
            batch_records: 20_000,
            batch_interval: Duration::from_millis(500),
            durable_every: 20,
        }
    }
}

/// Counters a process exposes (see the metrics module).
#[derive(Debug, Default)]
pub struct Counters {
    /// Input records processed.
    pub records_in: AtomicU64,
    /// Output records emitted.
    pub records_out: AtomicU64,
    /// Records sent to dead-letter topics.
    pub dead_letters: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Changelog records replayed by restores.
    pub restored: AtomicU64,
    /// Keys held in memory.
    pub keys: AtomicU64,
    /// Duration of the last commit, microseconds.
    pub last_commit_micros: AtomicU64,
}

#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    markers: Mutex<HashMap<i32, i64>>,
}

struct DeliveryContext(Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    /// 0 for ordinary records, partition + 1 for a commit marker.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, marker: usize) {
        match result {
            Ok(m) if marker > 0 => {
                self.0
                    .markers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((marker - 1) as i32, m.offset());
            }
            Ok(_) => {}
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                self.0
                    .first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// A changed key and its new serialized state (None: deleted).
type Change = (String, Option<Vec<u8>>);

#[derive(Serialize, Deserialize)]
struct Marker {
    offsets: Vec<i64>,
    max_event_time: i64,
}

struct Running<P: Processor> {
    task: Task<P>,
    store: Store,
    changelog_next: i64,
}

struct Engine<P: Processor> {
    processor: P,
    tables: Arc<RwLock<P::Tables>>,
    codec: Codec,
    kafka: KafkaSettings,
    cfg: EngineConfig,
    inputs: Vec<TopicSpec>,
    changelog: String,
    producer: BaseProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    /// Reads partition p of the inputs other than the first, for the partitions p the group
    /// gave this process. Kept out of the group consumer so the assignor sees only what it
    /// assigned.
    data: Arc<BaseConsumer>,
    tasks: BTreeMap<i32, Running<P>>,
    pending: usize,
    last_commit: Instant,
    counters: Arc<Counters>,
    failed: Option<EngineError>,
}

/// Queues a record; serves delivery reports on this thread when the queue is full.
fn send(
    producer: &BaseProducer<DeliveryContext>,
    record: BaseRecord<'_, [u8], [u8], usize>,
) -> Result<(), EngineError> {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

impl<P: Processor> Engine<P> {
    fn state_dir(&self) -> PathBuf {
        self.cfg.state_dir.join(P::NAME)
    }

    /// Serializes a key's state for the changelog and the store (None: the key was removed).
    fn encode_state(key: &str, state: Option<&P::State>) -> Result<Option<Vec<u8>>, EngineError> {
        state
            .map(postcard::to_allocvec)
            .transpose()
            .map_err(|e| EngineError::State {
                key: key.to_owned(),
                detail: e.to_string(),
            })
    }

    /// Queues a changelog record of partition `p` (no value deletes the key).
    fn send_changelog(&self, p: i32, key: &str, value: Option<&[u8]>) -> Result<(), EngineError> {
        let mut r = BaseRecord::with_opaque_to(self.changelog.as_str(), 0)
            .key(key.as_bytes())
            .partition(p);
        if let Some(v) = value {
            r = r.payload(v);
        }
        send(&self.producer, r)
    }

    /// Queues the commit marker of partition `p`; its offset arrives with its delivery report.
    fn send_marker(&self, p: i32, task: &Task<P>) -> Result<(), EngineError> {
        let marker = Marker {
            offsets: task.offsets.clone(),
            max_event_time: task.max_event_time,
        };
        let bytes = postcard::to_allocvec(&marker).map_err(|e| EngineError::State {
            key: MARKER_KEY.into(),
            detail: e.to_string(),
        })?;
        let r = BaseRecord::with_opaque_to(self.changelog.as_str(), (p + 1) as usize)
            .key(MARKER_KEY.as_bytes())
            .payload(bytes.as_slice())
            .partition(p);
        send(&self.producer, r)
    }

    fn index_of(&self, topic: &str) -> Option<usize> {
        self.inputs.iter().position(|t| t.name == topic)
    }

    /// Partition `p` of the inputs `range` (0 = the group's topic, 1.. = the others), at the
    /// offsets the task recorded.
    fn partitions_of(
        &self,
        p: i32,
        offsets: Option<&[i64]>,
        range: std::ops::Range<usize>,
    ) -> Result<TopicPartitionList, EngineError> {
        let mut tpl = TopicPartitionList::new();
        for i in range {
            // Explicit offsets, 0 included: some brokers (Tansu) answer "earliest" on compacted
            // topics with the last offset. A vanished offset resets to the earliest record.
            let offset = offsets.map(|o| o[i].max(0)).unwrap_or(0);
            tpl.add_partition_offset(&self.inputs[i].name, p, Offset::Offset(offset))?;
        }
        Ok(tpl)
    }

    fn handle(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        bytes: &[u8],
    ) -> Result<(), EngineError> {
        let Some(index) = self.index_of(topic) else {
            return Ok(());
        };
        let Some(running) = self.tasks.get_mut(&partition) else {
            return Ok(());
        };
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let env = Env::new(&self.processor, &tables, &self.codec, Timestamp::now());
        let mut out = Vec::new();
        let outcome = running.task.handle(&env, index, offset, bytes, &mut out)?;
        drop(tables);
        self.counters.records_in.fetch_add(1, Ordering::Relaxed);
        self.pending += 1;
        match outcome {
            Outcome::Applied | Outcome::AlreadyApplied => {}
            Outcome::Rejected(reject) => {
                self.dead_letter(index, partition, offset, key, bytes, &reject)?
            }
        }
        self.emit(&out)
    }

    fn emit(&self, out: &[OutRecord]) -> Result<(), EngineError> {
        for o in out {
            send(
                &self.producer,
                BaseRecord::with_opaque_to(&o.topic, 0)
                    .key(o.key.as_bytes())
                    .payload(o.payload.as_slice()),
            )?;
        }
        self.counters
            .records_out
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn dead_letter(
        &self,
        index: usize,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        bytes: &[u8],
        reject: &Reject,
    ) -> Result<(), EngineError> {
        let source = &self.inputs[index];
        let Some(dlq) = &source.dlq else {
            return Ok(());
        };
        tracing::warn!(reason = reject.reason, error = %reject.detail, topic = %source.name, partition, offset, "Record sent to DLQ.");
        let (p, o) = (partition.to_string(), offset.to_string());
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "composerp.reason",
                value: Some(reject.reason),
            })
            .insert(Header {
                key: "composerp.error",
                value: Some(reject.detail.as_str()),
            })
            .insert(Header {
                key: "composerp.source.topic",
                value: Some(source.name.as_str()),
            })
            .insert(Header {
                key: "composerp.source.partition",
                value: Some(p.as_str()),
            })
            .insert(Header {
                key: "composerp.source.offset",
                value: Some(o.as_str()),
            })
            .insert(Header {
                key: "composerp.processor",
                value: Some(P::NAME),
            });
        let mut record = BaseRecord::with_opaque_to(dlq, 0)
            .payload(bytes)
            .headers(headers)
            .partition(partition);
        if let Some(k) = key {
            record = record.key(k);
        }
        send(&self.producer, record)?;
        self.counters.dead_letters.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.producer.flush(Duration::from_secs(60))?;
        self.producer.poll(Duration::ZERO);
        let failed = self.deliveries.failed.swap(0, Ordering::Relaxed);
        if failed > 0 {
            let first = self
                .deliveries
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_default();
            return Err(EngineError::Undelivered(failed, first));
        }
        Ok(())
    }

    /// Commits every task's batch (see the module docs for the order of steps).
    fn commit(&mut self) -> Result<(), EngineError> {
        let started = Instant::now();
        let mut out = Vec::new();
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let env = Env::new(&self.processor, &tables, &self.codec, Timestamp::now());
        let mut changes: BTreeMap<i32, Vec<Change>> = BTreeMap::new();
        for (p, running) in self.tasks.iter_mut() {
            running.task.end_batch(&env, &mut out)?;
            let mut keys: Vec<String> = running.task.dirty.drain().collect();
            keys.sort();
            let mut rows = Vec::with_capacity(keys.len());
            for key in keys {
                let value = Self::encode_state(&key, running.task.states.get(&key))?;
                rows.push((key, value));
            }
            changes.insert(*p, rows);
        }
        drop(tables);
        self.emit(&out)?;
        for (p, rows) in &changes {
            for (key, value) in rows {
                self.send_changelog(*p, key, value.as_deref())?;
            }
        }
        self.flush()?;
        for (p, running) in &self.tasks {
            self.send_marker(*p, &running.task)?;
        }
        self.flush()?;
        let markers = std::mem::take(
            &mut *self
                .deliveries
                .markers
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut keys = 0;
        for (p, running) in self.tasks.iter_mut() {
            if let Some(o) = markers.get(p) {
                running.changelog_next = o + 1;
            }
            let checkpoint = Checkpoint {
                offsets: running.task.offsets.clone(),
                changelog_next: running.changelog_next,
                max_event_time: running.task.max_event_time,
            };
            let rows = changes.remove(p).unwrap_or_default();
            running.store.commit(
                rows.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                &checkpoint,
                self.cfg.durable_every,
            )?;
            keys += running.task.states.len();
        }
        self.counters.keys.store(keys as u64, Ordering::Relaxed);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .last_commit_micros
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        tracing::debug!(
            processor = P::NAME,
            records = self.pending,
            micros = started.elapsed().as_micros() as u64,
            "Batch committed."
        );
        self.pending = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Restores partition `p`: local checkpoint, then the changelog tail up to the last marker.
    fn restore(&mut self, p: i32) -> Result<Running<P>, EngineError> {
        let started = Instant::now();
        let store = Store::open(&self.state_dir(), p)?;
        let mut checkpoint = store.checkpoint()?;
        let mut task = Task::<P>::new(p);
        let decode = |key: &str, v: &[u8]| {
            postcard::from_bytes::<P::State>(v).map_err(|e| EngineError::State {
                key: key.to_owned(),
                detail: e.to_string(),
            })
        };
        store.for_each(|k, v| {
            let s = decode(k, v).map_err(|e| StoreError::Corrupt {
                path: PathBuf::from(k),
                detail: e.to_string(),
            })?;
            task.states.insert(k.to_owned(), s);
            Ok(())
        })?;
        if checkpoint.offsets.len() == task.offsets.len() {
            task.offsets.clone_from(&checkpoint.offsets);
        }
        task.max_event_time = checkpoint.max_event_time;
        let local = task.states.len();

        let consumer: BaseConsumer = self
            .kafka
            .consumer(&format!("composerp-{}-restore", P::NAME))
            .create()?;
        // Start at the checkpoint (offset 0 for a new store), never at the broker's "earliest":
        // Tansu reports the last offset as earliest on compacted topics. An offset below the log
        // start resets to the earliest record (auto.offset.reset=earliest).
        let (_, high) = consumer.fetch_watermarks(&self.changelog, p, Duration::from_secs(30))?;
        let start = checkpoint.changelog_next;
        let mut replayed = 0u64;
        let mut buffer: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut applied: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        if start < high {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&self.changelog, p, Offset::Offset(start))?;
            consumer.assign(&tpl)?;
            let mut idle = Instant::now();
            let mut next = start;
            while next < high {
                let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
                    if idle.elapsed() > Duration::from_secs(60) {
                        return Err(EngineError::Topics(format!(
                            "changelog {} partition {p} stalled at offset {next}",
                            self.changelog
                        )));
                    }
                    continue;
                };
                let msg = msg?;
                idle = Instant::now();
                next = msg.offset() + 1;
                replayed += 1;
                let key = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
                if key == MARKER_KEY {
                    let marker: Marker = postcard::from_bytes(msg.payload().unwrap_or_default())
                        .map_err(|e| EngineError::State {
                            key: MARKER_KEY.into(),
                            detail: e.to_string(),
                        })?;
                    for (k, v) in buffer.drain() {
                        match &v {
                            Some(bytes) => {
                                task.states.insert(k.clone(), decode(&k, bytes)?);
                            }
                            None => {
                                task.states.remove(&k);
                            }
                        }
                        applied.insert(k, v);
                    }
                    if marker.offsets.len() == task.offsets.len() {
                        task.offsets = marker.offsets;
                    }
                    task.max_event_time = marker.max_event_time;
                    checkpoint.changelog_next = msg.offset() + 1;
                } else {
                    buffer.insert(key, msg.payload().map(<[u8]>::to_vec));
                }
                if replayed.is_multiple_of(100_000) {
                    tracing::info!(
                        processor = P::NAME,
                        partition = p,
                        replayed,
                        remaining = high - next,
                        "Restoring from the changelog."
                    );
                }
            }
        }
        self.counters
            .restored
            .fetch_add(replayed, Ordering::Relaxed);
        if !buffer.is_empty() {
            // Entries after the last marker belong to a batch that never committed (its process
            // died). Write the committed value of each of those keys again, then a marker, so
            // that no later restore or compaction can take the uncommitted value for the truth.
            let mut keys: Vec<String> = buffer.into_keys().collect();
            keys.sort();
            for key in &keys {
                let value = Self::encode_state(key, task.states.get(key))?;
                self.send_changelog(p, key, value.as_deref())?;
            }
            self.send_marker(p, &task)?;
            self.flush()?;
            if let Some(o) = self
                .deliveries
                .markers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p)
            {
                checkpoint.changelog_next = o + 1;
            }
            tracing::info!(
                processor = P::NAME,
                partition = p,
                keys = keys.len(),
                "Uncommitted changelog entries of a dead owner voided."
            );
        }
        let mut store = store;
        if !applied.is_empty() || checkpoint.changelog_next != store.checkpoint()?.changelog_next {
            checkpoint.offsets.clone_from(&task.offsets);
            checkpoint.max_event_time = task.max_event_time;
            store.commit(
                applied.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                &checkpoint,
                1,
            )?;
        }
        tracing::info!(
            processor = P::NAME,
            partition = p,
            local_keys = local,
            changelog_records = replayed,
            keys = task.states.len(),
            seconds = started.elapsed().as_secs_f64(),
            "Partition restored."
        );
        Ok(Running {
            task,
            store,
            changelog_next: checkpoint.changelog_next,
        })
    }
}

/// Consumer context: partition assignment drives task restore and release.
struct Rebalancer<P: Processor> {
    engine: Arc<Mutex<Engine<P>>>,
}

impl<P: Processor> ClientContext for Rebalancer<P> {}

impl<P: Processor> ConsumerContext for Rebalancer<P> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if engine.failed.is_some() {
            return;
        }
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                assign(&mut engine, consumer, &partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                revoke(&mut engine, consumer, &partitions)
            }
            other => {
                tracing::error!(error = ?other, "Rebalance failed.");
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "Rebalance handling failed; stopping.");
            engine.failed = Some(e);
        }
    }
}

fn assign<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        let running = engine.restore(p)?;
        group.add_partition_offset(
            &engine.inputs[0].name,
            p,
            Offset::Offset(running.task.offsets[0].max(0)),
        )?;
        let others = engine.partitions_of(p, Some(&running.task.offsets), 1..n)?;
        engine.tasks.insert(p, running);
        if others.count() > 0 {
            engine.data.incremental_assign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition assigned.");
    }
    // Always answer the group, even with nothing: after a cooperative revoke librdkafka waits
    // for this call (with an empty list) before it rejoins for the second round.
    if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
        consumer.assign(&group)?;
    } else {
        consumer.incremental_assign(&group)?;
    }
    Ok(())
}

fn revoke<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    if !engine.tasks.is_empty() {
        engine.commit()?;
    }
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        engine.tasks.remove(&p);
        group.add_partition(&engine.inputs[0].name, p);
        let others = engine.partitions_of(p, None, 1..n)?;
        if others.count() > 0 {
            engine.data.incremental_unassign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition released.");
    }
    if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
        // Eager revokes everything at once.
        consumer.unassign()?;
    } else {
        consumer.incremental_unassign(&group)?;
    }
    Ok(())
}

/// Reads every reference-data topic completely, then keeps following it.
fn follow_tables<P: Processor>(
    kafka: &KafkaSettings,
    codec: Codec,
    tables: Arc<RwLock<P::Tables>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<(), EngineError> {
    let catalog = TopicCatalog::embedded();
    let consumer: BaseConsumer = kafka
        .consumer(&format!("composerp-{}-tables", P::NAME))
        .create()?;
    let mut tpl = TopicPartitionList::new();
    let mut remaining: HashMap<(String, i32), i64> = HashMap::new();
    let mut names = Vec::new();
    for id in <P::Tables as Tables>::TOPICS {
        let spec = catalog
            .get(id)
            .map_err(|e| EngineError::Topics(e.to_string()))?;
        names.push(spec.name.clone());
        for p in 0..spec.partitions {
            tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
            let (_, high) = consumer.fetch_watermarks(&spec.name, p, Duration::from_secs(30))?;
            if high > 0 {
                remaining.insert((spec.name.clone(), p), high);
            }
        }
    }
    if names.is_empty() {
        ready.store(true, Ordering::Release);
        return Ok(());
    }
    consumer.assign(&tpl)?;
    ready.store(remaining.is_empty(), Ordering::Release);
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        let Some(index) = names.iter().position(|n| n == msg.topic()) else {
            continue;
        };
        if let Some(bytes) = msg.payload() {
            let mut t = tables.write().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = t.update(index, &codec, bytes) {
                tracing::warn!(error = %e, topic = msg.topic(), offset = msg.offset(), "Reference record skipped.");
            }
        }
        let k = (msg.topic().to_owned(), msg.partition());
        if remaining
            .get(&k)
            .is_some_and(|high| msg.offset() + 1 >= *high)
        {
            remaining.remove(&k);
            if remaining.is_empty() {
                ready.store(true, Ordering::Release);
            }
        }
    }
    Ok(())
}

/// Handles up to `max` records of `consumer` (waiting at most `wait` for the first); returns how
/// many it handled. A failure is left in the engine for the loop to report.
fn pump<P: Processor, C: ConsumerContext>(
    engine: &Mutex<Engine<P>>,
    consumer: &BaseConsumer<C>,
    wait: Duration,
    max: usize,
) -> usize {
    let mut handled = 0;
    let mut timeout = wait;
    while handled < max {
        let Some(msg) = consumer.poll(timeout) else {
            break;
        };
        timeout = Duration::ZERO;
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if e.failed.is_some() {
            break;
        }
        match msg {
            Ok(m) => {
                if let Err(err) = e.handle(
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    m.key(),
                    m.payload().unwrap_or_default(),
                ) {
                    e.failed = Some(err);
                    break;
                }
                handled += 1;
            }
            Err(err) => tracing::warn!(error = %err, "Consumer error."),
        }
    }
    handled
}

/// Runs `processor` until `stop` is set or an error occurs.
pub fn run<P: Processor>(
    processor: P,
    kafka: KafkaSettings,
    codec: Codec,
    cfg: EngineConfig,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<(), EngineError> {
    let catalog = TopicCatalog::embedded();
    let mut inputs = Vec::new();
    for id in <P::Input as Input>::TOPICS {
        inputs.push(
            catalog
                .get(id)
                .map_err(|e| EngineError::Topics(e.to_string()))?
                .clone(),
        );
    }
    let partitions = inputs[0].partitions;
    if let Some(t) = inputs.iter().find(|t| t.partitions != partitions) {
        return Err(EngineError::Topics(format!(
            "{} has {} partitions, {} has {partitions}: inputs must be co-partitioned",
            t.name, t.partitions, inputs[0].name
        )));
    }
    let changelog = catalog.changelog(P::NAME, partitions);
    let admin = Admin::new(&kafka.admin()).map_err(|e| EngineError::Topics(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Topics(e.to_string()))?;
    let report = rt
        .block_on(admin.apply(inputs.iter().chain([&changelog])))
        .map_err(|e| EngineError::Topics(e.to_string()))?;
    for d in &report.drift {
        tracing::warn!(drift = %d, "Topic drift.");
    }

    let tables = Arc::new(RwLock::new(P::Tables::default()));
    let ready = Arc::new(AtomicBool::new(false));
    let follower = {
        let (kafka, codec, tables, ready, stop) = (
            kafka.clone(),
            codec.clone(),
            tables.clone(),
            ready.clone(),
            stop.clone(),
        );
        std::thread::Builder::new()
            .name(format!("{}-tables", P::NAME))
            .spawn(move || {
                if let Err(e) = follow_tables::<P>(&kafka, codec, tables, ready, stop) {
                    tracing::error!(error = %e, "Reference tables stopped.");
                }
            })
            .map_err(|e| EngineError::Topics(e.to_string()))?
    };
    while !ready.load(Ordering::Acquire) && !stop.load(Ordering::Relaxed) && !follower.is_finished()
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let deliveries = Arc::new(Deliveries::default());
    // A BaseProducer serves delivery reports on the thread that flushes, so when a flush returns
    // every report of the batch has been counted.
    let producer: BaseProducer<DeliveryContext> = kafka
        .producer()
        .create_with_context(DeliveryContext(deliveries.clone()))?;
    let data: Arc<BaseConsumer> = Arc::new(
        kafka
            .consumer(&format!("composerp-{}-inputs", P::NAME))
            .create()?,
    );
    let engine = Arc::new(Mutex::new(Engine {
        processor,
        tables,
        codec,
        kafka: kafka.clone(),
        cfg: cfg.clone(),
        inputs: inputs.clone(),
        changelog: changelog.name.clone(),
        producer,
        deliveries,
        data: data.clone(),
        tasks: BTreeMap::new(),
        pending: 0,
        last_commit: Instant::now(),
        counters,
        failed: None,
    }));
    let consumer: BaseConsumer<Rebalancer<P>> = kafka
        .consumer(&format!("composerp-{}", P::NAME))
        .create_with_context(Rebalancer {
        engine: engine.clone(),
    })?;
    consumer.subscribe(&[inputs[0].name.as_str()])?;

    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // The group consumer serves rebalances and the first input, the data consumer the other
        // inputs. Drain both without waiting; block briefly only when both are empty.
        let mut handled = pump(&engine, &consumer, Duration::ZERO, 2_000)
            + pump(&engine, &data, Duration::ZERO, 2_000);
        if handled == 0 {
            handled = pump(&engine, &consumer, Duration::from_millis(10), 1)
                + pump(&engine, &data, Duration::from_millis(10), 1);
        }
        let _ = handled;
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(err) = e.failed.take() {
            break Err(err);
        }
        if e.pending > 0
            && (e.pending >= cfg.batch_records || e.last_commit.elapsed() >= cfg.batch_interval)
            && let Err(err) = e.commit()
        {
            break Err(err);
        }
    };
    // A clean stop commits what was processed and leaves the group so partitions move at once.
    let stopping = {
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if result.is_ok() && e.pending > 0 {
            e.commit()
        } else {
            Ok(())
        }
    };
    consumer.unsubscribe();
    stop.store(true, Ordering::Relaxed);
    let _ = follower.join();
    result.and(stopping)
}
