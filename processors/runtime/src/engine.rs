//! Runs a [`Processor`] against a Kafka cluster, effectively once, without Kafka transactions.
//!
//! - Assignment: the group (cooperative-sticky) assigns partitions of the first input topic; a
//!   process that gets partition `p` also reads partition `p` of every other input (they are
//!   co-partitioned), from the offsets its state recorded.
//! - State: all of a partition's state is in memory; a fjall store per partition is the local
//!   checkpoint and a compacted changelog topic (one partition per task) the replicated one.
//! - A batch commits as: outputs and dead letters → every acknowledgement → changed states and
//!   timers to the changelog → every acknowledgement → a commit marker with the input offsets →
//!   its acknowledgement → the changed rows staged for the local store, which writes them with
//!   the offsets in one transaction every few seconds and before partitions are released (it
//!   only shortens restarts: a crash replays the changelog tail past its checkpoint).
//! - Batches overlap: a closed batch keeps the serialized values its states had when it closed,
//!   and goes through those steps as acknowledgements arrive while the next batches are
//!   processed ([`Closing`]). Steps run in batch order, so a batch's changelog entries follow
//!   every acknowledged output of the batches before it; at most [`MAX_CLOSING`] batches wait
//!   at a time. Revocation, assignment and a clean stop wait for all of them.
//! - Rounds: the records both consumers have at hand (up to a few thousand) are checked for
//!   gaps, then handled together, the partitions split between this thread and a pool of
//!   helpers ([`crate::parallel`]); a partition's records stay on one thread, in order. A
//!   rebalance served while polling drops the round's records of partitions it released or
//!   restored (their state's offsets say where to fetch them again).
//! - Outputs go to librdkafka through the outbox thread (`crate::outbox`), while this thread
//!   processes the next records; a batch counts what it handed over and the delivery reports
//!   what the broker acknowledged, so its steps wait for its outputs whichever thread queued
//!   them. Dead letters, changelog entries, markers and sentinels are queued here, in order.
//! - Every changelog entry is valid on its own: it is written only after the outputs of the
//!   records it reflects were acknowledged, and a processor whose effects must not repeat keeps
//!   the input position a key reflects in the key's state ([`Context::source`](crate::processor::Context::source)). So recovery
//!   applies every entry it reads, committed by a marker or not, and whatever compaction kept,
//!   then resumes the inputs from the last marker: records the state already reflects are
//!   recognised by the processor, the others are applied, and replayed outputs carry the same
//!   ids, so consumers deduplicate.
//! - Ownership: brokers can hand a partition to a new process before the old one has let go
//!   (Tansu does, after a SIGKILL). A restore first writes a sentinel to the changelog partition
//!   and reads up to it; the sentinel's offset is the new owner's epoch. Every state entry
//!   carries its writer's epoch in a header and every marker its epoch, and a restore applies a
//!   write only if no higher epoch appeared before it in the log: the log order decides
//!   ownership, and a stale owner's late writes are ignored. Epochs survive compaction (which
//!   keeps only the latest sentinel and marker): the writes of the epochs whose sentinels were
//!   compacted away still carry their epochs, so a restore from an empty state directory keeps
//!   them.
//! - Restore: local checkpoint, then the changelog from the checkpoint's position to the
//!   restore's own sentinel. The local checkpoint counts only if its process was the sole
//!   writer of the changelog partition from its sentinel to that checkpoint (each commit checks
//!   that its marker landed right after its own records): under a split ownership a superseded
//!   owner goes on committing locally, and its states are behind the newer owner's markers, so
//!   such a store is rebuilt from the changelog alone.
//! - Revocation: the pending batch is committed before the partitions are released.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use composerp_events::{Codec, EventId, Timestamp};
use composerp_topics::{TopicCatalog, TopicSpec, admin::Admin};
use metrics::{Counter, Gauge, Histogram};
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol},
    error::KafkaError,
    message::{BorrowedMessage, Header, Headers, OwnedHeaders},
    producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext},
    types::RDKafkaRespErr,
};
use serde::{Deserialize, Serialize};

use crate::{
    KafkaSettings,
    dlq::DeadLetter,
    fence::{self, Fence},
    fetch::{FETCH_REWIND, GapCheck, Gaps},
    group::{Rejoin, Stalls, commit_offsets},
    lag::Lag,
    order::{Held, ORDER_KEY, OrderLog},
    outbox::{self, Outbox, OutboxClosed},
    parallel::{Record, Workers},
    processor::{Input, Outputs, Processor, Reject, Tables},
    store::{Checkpoint, Store, StoreError},
    task::{Change, Env, StateError, Task},
    timer::TimerKind,
};

/// Changelog key of commit markers; state keys never start with NUL.
const MARKER_KEY: &str = "\u{0}commit";

/// Changelog record header carrying the ownership epoch of the process that wrote a state entry.
const EPOCH_HEADER: &str = "composerp.epoch";

/// Batches closed but not yet committed, at most; a batch closing beyond this waits for the
/// oldest one to commit.
const MAX_CLOSING: usize = 4;

/// Acknowledgement counters, one per batch in a ring: more than [`MAX_CLOSING`] + 1 so the open
/// batch never shares one with a closing batch.
const SLOTS: usize = 8;

/// The acknowledgement counter of batch `seq`.
fn slot(seq: u64) -> usize {
    (seq % SLOTS as u64) as usize
}

// A slot travels in three bits of a delivery tag.
const _: () = assert!(SLOTS.is_power_of_two() && SLOTS <= 8);

/// Outputs handed to the outbox at a time: one handover per input record cost a thread wake-up
/// each, more than queueing the records.
pub const PARCEL: usize = 1_024;

/// How long a commit waits for acknowledgements before the process gives up (librdkafka's
/// `message.timeout.ms` fails a record before this).
const ACK_TIMEOUT: Duration = Duration::from_secs(90);

/// What a produced record is to the engine; it travels as the record's delivery opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// An output, dead letter or changelog entry of the batch counted in `slot`.
    Record { slot: usize },
    /// The commit marker of partition `p` of the batch counted in `slot`.
    Marker { slot: usize, p: i32 },
    /// A restore sentinel of partition `p`.
    Sentinel { p: i32 },
    /// An order log that the outputs gated on `ticket` wait for ([`outbox::Gate`]).
    Order { ticket: u64 },
}

impl Tag {
    fn encode(self) -> usize {
        match self {
            Tag::Record { slot } => slot << 2,
            Tag::Marker { slot, p } => ((p as usize) << 5) | (slot << 2) | 1,
            Tag::Sentinel { p } => ((p as usize) << 5) | 2,
            Tag::Order { ticket } => ((ticket as usize) << 2) | 3,
        }
    }

    fn decode(v: usize) -> Self {
        let (slot, p) = ((v >> 2) & (SLOTS - 1), (v >> 5) as i32);
        match v & 3 {
            1 => Tag::Marker { slot, p },
            2 => Tag::Sentinel { p },
            3 => Tag::Order {
                ticket: (v >> 2) as u64,
            },
            _ => Tag::Record { slot },
        }
    }
}

/// The epoch in an epoch header (0, the lowest, when absent).
fn epoch_of(bytes: Option<&[u8]>) -> i64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, i64::from_be_bytes)
}

/// The epoch a changelog record was written with (its epoch header).
fn written_epoch(msg: &BorrowedMessage<'_>) -> i64 {
    epoch_of(
        msg.headers()
            .and_then(|h| h.iter().find(|h| h.key == EPOCH_HEADER))
            .and_then(|h| h.value),
    )
}

/// Who owns a changelog partition at the point a restore has read to: the highest epoch seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ownership {
    epoch: i64,
}

impl Ownership {
    /// A restore sentinel at `offset`: its writer owns the partition from there.
    fn sentinel(&mut self, offset: i64) {
        self.epoch = self.epoch.max(offset);
    }

    /// Whether a write tagged with `epoch` counts; it does unless a later owner appeared
    /// before it in the log.
    fn admits(&mut self, epoch: i64) -> bool {
        if epoch < self.epoch {
            return false;
        }
        self.epoch = epoch;
        true
    }
}

/// Changelog key of the sentinels a restore writes to find the partition's end.
const SENTINEL_KEY: &str = "\u{0}restore";

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
    #[error(transparent)]
    State(#[from] StateError),
    /// An output could not be built.
    #[error("output: {0}")]
    Emit(#[from] crate::processor::EmitError),
    /// Outputs can no longer be queued.
    #[error(transparent)]
    Outbox(#[from] OutboxClosed),
    /// The processing threads could not be started.
    #[error("processing threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    /// Another process took a partition over (its restore sentinel is in the changelog after
    /// this one's): this process publishes nothing more and starts over from the changelog.
    #[error(
        "partition {partition}: another process's restore sentinel at changelog offset \
         {sentinel}: the partition was taken over"
    )]
    Superseded {
        /// Partition.
        partition: i32,
        /// Offset of the other process's sentinel.
        sentinel: i64,
    },
}

/// How the engine batches and where it keeps state.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the state directories (`<dir>/<processor>/partition-<p>.fjall`).
    pub state_dir: PathBuf,
    /// Commit after this many input records.
    pub batch_records: usize,
    /// Commit at least this often.
    pub batch_interval: Duration,
    /// Write the local store (a restart accelerator; the changelog is the state) this often...
    pub store_interval: Duration,
    /// ...or once a partition has this many changed keys staged for it.
    pub store_keys: usize,
    /// Threads that handle a round of records, partitions split between them.
    pub threads: usize,
    /// Consumer group; None means `composerp-<processor>`. Another group is another deployment
    /// of the processor: it takes partitions over from the changelog, not from the group.
    pub group: Option<String>,
}

impl EngineConfig {
    /// Defaults for a state directory.
    pub fn new(state_dir: PathBuf) -> Self {
        EngineConfig {
            state_dir,
            // Larger batches coalesce more: fewer state entries and position updates per input
            // record (BENCHMARKS.md: 50,000 ran 13 to 18% faster than 20,000 end to end).
            batch_records: 50_000,
            batch_interval: Duration::from_millis(500),
            store_interval: Duration::from_secs(5),
            store_keys: 50_000,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            group: None,
        }
    }
}

/// The engine's Prometheus metrics (names in the README), with handles made once per label set.
struct Meters {
    records_in: Vec<Counter>,
    dead_letters: Vec<Counter>,
    duplicates: Vec<Counter>,
    batches: Counter,
    commit_seconds: Histogram,
    batch_records: Histogram,
    round_records: Histogram,
    shared_rounds: Counter,
    order_logs: Counter,
    restored: Counter,
    keys: Gauge,
    dedupe_ids: Gauge,
    timers: Gauge,
    store_bytes: Gauge,
}

impl Meters {
    fn new(processor: &'static str, inputs: &[TopicSpec]) -> Self {
        let per_input = |name: &'static str| {
            inputs
                .iter()
                .map(|t| metrics::counter!(name, "processor" => processor, "topic" => t.name.clone()))
                .collect()
        };
        Meters {
            records_in: per_input("composerp_processor_records_in_total"),
            dead_letters: per_input("composerp_processor_dead_letters_total"),
            duplicates: per_input("composerp_processor_duplicates_total"),
            batches: metrics::counter!("composerp_processor_batches_total", "processor" => processor),
            commit_seconds: metrics::histogram!("composerp_processor_commit_seconds", "processor" => processor),
            batch_records: metrics::histogram!("composerp_processor_batch_records", "processor" => processor),
            round_records: metrics::histogram!("composerp_processor_round_records", "processor" => processor),
            shared_rounds: metrics::counter!("composerp_processor_shared_rounds_total", "processor" => processor),
            order_logs: metrics::counter!("composerp_processor_order_logs_total", "processor" => processor),
            restored: metrics::counter!("composerp_processor_restored_records_total", "processor" => processor),
            keys: metrics::gauge!("composerp_processor_state_keys", "processor" => processor),
            dedupe_ids: metrics::gauge!("composerp_processor_dedupe_ids", "processor" => processor),
            timers: metrics::gauge!("composerp_processor_timers", "processor" => processor),
            store_bytes: metrics::gauge!("composerp_processor_store_bytes", "processor" => processor),
        }
    }
}

#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Records acknowledged per batch slot (a batch's sequence number modulo [`SLOTS`]).
    acked: [AtomicU64; SLOTS],
    /// Offsets of acknowledged commit markers, by slot and partition.
    markers: Mutex<HashMap<(usize, i32), i64>>,
    /// Offsets of acknowledged restore sentinels, by partition.
    sentinels: Mutex<HashMap<i32, i64>>,
    /// Tickets of the order logs that outputs wait for.
    gate: Arc<outbox::Gate>,
    /// Where the order logs land, and whether a newer owner took a partition over.
    fence: Fence,
}

impl Deliveries {
    /// Counts a record that was not delivered; the first error is kept for the report.
    fn fail(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
    }
}

struct DeliveryContext(Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    /// A [`Tag`], encoded.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        match (result, Tag::decode(tag)) {
            (Ok(_), Tag::Record { slot }) => {
                self.0.acked[slot].fetch_add(1, Ordering::Relaxed);
            }
            (Ok(m), Tag::Marker { slot, p }) => {
                self.0
                    .markers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((slot, p), m.offset());
                self.0.acked[slot].fetch_add(1, Ordering::Relaxed);
            }
            (Ok(m), Tag::Order { ticket }) => {
                // Elsewhere than expected, the ticket waits until the engine has read what
                // landed in between ([`crate::fence`]).
                if self.0.fence.landed(ticket, m.partition(), m.offset()) {
                    self.0.gate.acked(ticket);
                }
            }
            (Err((e, _)), Tag::Order { .. }) => {
                self.0.gate.fail();
                self.0.fail(e.to_string());
            }
            (Ok(m), Tag::Sentinel { p }) => {
                self.0
                    .sentinels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(p, m.offset());
            }
            (Err((e, _)), _) => self.0.fail(e.to_string()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Marker {
    offsets: Vec<i64>,
    max_event_time: i64,
    epoch: i64,
}

struct Running<P: Processor> {
    task: Task<P>,
    store: Store,
    changelog_next: i64,
    /// Offset of this process's restore sentinel: tags its changelog writes.
    epoch: i64,
    /// The offset this process's next changelog record gets if nobody else writes there.
    next_own: i64,
    /// Changelog records (state entries, order logs) sent since the last commit marker.
    unmarked: usize,
    /// The offset this process's next changelog record of the partition gets if it is still
    /// the only writer since its restore sentinel (checked on every order log).
    own_next: i64,
    /// No other writer appeared in the changelog partition since this process's sentinel.
    sole: bool,
    /// Next input offsets of the last committed batch (the task's run ahead of them).
    committed: Vec<i64>,
    /// Newest event time of the last committed batch.
    committed_event_time: i64,
}

impl<P: Processor> Running<P> {
    /// The progress the last committed batch reached, as the local store records it.
    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            offsets: self.committed.clone(),
            changelog_next: self.changelog_next,
            max_event_time: self.committed_event_time,
            epoch: self.epoch,
            sole: self.sole,
            order: self.task.order_runs(),
        }
    }
}

/// What a closed batch of one partition commits: its changed states as they were when it
/// closed, and the input position they reflect.
struct Closed {
    rows: Vec<Change>,
    /// Changelog records the process sent to the partition before the batch's marker.
    before_marker: usize,
    offsets: Vec<i64>,
    max_event_time: i64,
}

/// Where a closed batch is in its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Outputs and dead letters sent; waiting for their acknowledgements.
    Outputs,
    /// Changelog entries sent; waiting for theirs.
    Changelog,
    /// Commit markers sent; waiting for theirs and their offsets.
    Markers,
}

/// A closed batch on its way to being committed (see the module docs).
struct Closing {
    seq: u64,
    step: Step,
    /// Records of the batch sent so far; the batch's slot counts their acknowledgements.
    sent: u64,
    records: usize,
    closed_at: Instant,
    partitions: BTreeMap<i32, Closed>,
}

impl Closing {
    fn slot(&self) -> usize {
        slot(self.seq)
    }
}

/// Whether a commit's marker landed where the process's own records alone would put it: it
/// sent `sent` state records, then the marker, starting at `next_own`. Another writer's records
/// in between (a newer owner's sentinel, a superseded owner's writes) move the marker further.
fn still_sole(next_own: i64, sent: usize, marker: i64) -> bool {
    marker == next_own + sent as i64
}

struct Engine<P: Processor> {
    processor: P,
    tables: Arc<RwLock<P::Tables>>,
    codec: Codec,
    kafka: KafkaSettings,
    cfg: EngineConfig,
    inputs: Vec<TopicSpec>,
    changelog: String,
    producer: Arc<BaseProducer<DeliveryContext>>,
    /// Queues the outputs on a thread of its own.
    outbox: Outbox,
    deliveries: Arc<Deliveries>,
    /// Reads partition p of the inputs other than the first, for the partitions p the group
    /// gave this process. Kept out of the group consumer so the assignor sees only what it
    /// assigned.
    data: Arc<BaseConsumer>,
    tasks: BTreeMap<i32, Running<P>>,
    /// Input records of the open batch.
    pending: usize,
    /// Sequence number of the open batch.
    seq: u64,
    /// Records the open batch has sent or handed to the outbox.
    sent: u64,
    /// Outputs of the open batch not yet handed to the outbox.
    outgoing: Outputs,
    /// Threads that handle a round of records.
    workers: Workers,
    /// Closed batches being committed, oldest first.
    closing: VecDeque<Closing>,
    last_commit: Instant,
    meters: Meters,
    /// This process's id, written into its restore sentinels for diagnosis.
    writer: u64,
    /// Gaps in consumed input offsets being fetched again.
    gaps: Gaps,
    /// Next input offsets of each committed partition, for the lag reporter.
    progress: Arc<Mutex<BTreeMap<i32, Vec<i64>>>>,
    /// When the group last assigned or revoked partitions here.
    last_rebalance: Instant,
    failed: Option<EngineError>,
    /// The engine stopped on an error: nothing more is committed.
    halted: bool,
}

impl<P: Processor> Engine<P> {
    fn state_dir(&self) -> PathBuf {
        self.cfg.state_dir.join(P::NAME)
    }

    /// Queues a changelog record of partition `p` (no value deletes the key).
    fn send_changelog(
        &self,
        tag: Tag,
        p: i32,
        epoch: i64,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), EngineError> {
        let epoch = epoch.to_be_bytes();
        let mut r = BaseRecord::with_opaque_to(self.changelog.as_str(), tag.encode())
            .key(key.as_bytes())
            .headers(OwnedHeaders::new().insert(Header {
                key: EPOCH_HEADER,
                value: Some(&epoch[..]),
            }))
            .partition(p);
        if let Some(v) = value {
            r = r.payload(v);
        }
        Ok(outbox::send(&self.producer, r)?)
    }

    /// Queues the commit marker of partition `p` for a closed batch; its offset arrives with
    /// its delivery report.
    fn send_marker(
        &self,
        slot: usize,
        p: i32,
        epoch: i64,
        closed: &Closed,
    ) -> Result<(), EngineError> {
        let marker = Marker {
            offsets: closed.offsets.clone(),
            max_event_time: closed.max_event_time,
            epoch,
        };
        let bytes = postcard::to_allocvec(&marker).map_err(|e| StateError {
            key: MARKER_KEY.into(),
            detail: e.to_string(),
        })?;
        let r =
            BaseRecord::with_opaque_to(self.changelog.as_str(), Tag::Marker { slot, p }.encode())
                .key(MARKER_KEY.as_bytes())
                .payload(bytes.as_slice())
                .partition(p);
        Ok(outbox::send(&self.producer, r)?)
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
            // Explicit offsets, 0 included: some brokers (Tansu) answer "earliest" with a later
            // offset under concurrent producers. A vanished offset resets to the earliest record.
            let offset = offsets.map(|o| (o[i] - FETCH_REWIND).max(0)).unwrap_or(0);
            tpl.add_partition_offset(&self.inputs[i].name, p, Offset::Offset(offset))?;
        }
        Ok(tpl)
    }

    /// Handles a round of consumed records (`keys[i]` is `records[i]`'s key) on up to
    /// [`EngineConfig::threads`] threads, partitions split between them
    /// ([`crate::parallel`]), with `now` as the wall clock (read once per round rather
    /// than per record).
    fn handle_round(
        &mut self,
        now: Timestamp,
        records: &[Record<'_>],
        keys: &[Option<&[u8]>],
    ) -> Result<(), EngineError> {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let env = Env::new(&self.processor, &tables, &self.codec, now);
        let outbox = &self.outbox;
        let shares = self.workers.handle_round(
            &env,
            self.tasks.iter_mut().map(|(p, r)| (*p, &mut r.task)),
            records,
            PARCEL,
            || outbox.spare(PARCEL),
        );
        drop(tables);
        self.meters.round_records.record(records.len() as f64);
        if shares.len() > 1 {
            self.meters.shared_rounds.increment(1);
        }
        let gate = self.send_orders()?;
        let tag = self.open_tag().encode();
        let mut rejected = Vec::new();
        for share in shares {
            for parcel in share.parcels {
                self.sent += parcel.len() as u64;
                self.outbox.push(tag, gate, parcel)?;
            }
            for (index, (&n, &d)) in share.handled.iter().zip(&share.duplicates).enumerate() {
                self.meters.records_in[index].increment(n);
                self.meters.duplicates[index].increment(d);
                self.pending += n as usize;
            }
            if let Some(e) = share.error {
                return Err(e.into());
            }
            rejected.extend(share.rejected);
        }
        rejected.sort_unstable_by_key(|r| r.0);
        if !rejected.is_empty() {
            // Dead letters leave from this thread, so they wait here for the order logs (rare).
            while !self.deliveries.gate.passed(gate) {
                self.undelivered()?;
                outbox::wait_reports(&self.producer);
            }
            self.undelivered()?;
        }
        for (at, reject) in rejected {
            let r = &records[at];
            self.dead_letter(r.index, r.partition, r.offset, keys[at], r.bytes, &reject)?;
        }
        Ok(())
    }

    /// Sends the order log of every task that applied records since the last call to its
    /// changelog partition; returns the ticket that outputs of those records wait for.
    fn send_orders(&mut self) -> Result<u64, EngineError> {
        let logs: Vec<(i32, i64, Vec<u8>)> = self
            .tasks
            .iter_mut()
            .filter_map(|(p, r)| r.task.take_order().map(|log| (*p, r.epoch, log)))
            .collect();
        if logs.is_empty() {
            return Ok(self.deliveries.gate.last());
        }
        let ticket = self.deliveries.gate.issue(logs.len() as u32);
        for (p, epoch, log) in &logs {
            if let Some(r) = self.tasks.get_mut(p) {
                self.deliveries.fence.expect(ticket, *p, r.own_next);
                r.unmarked += 1;
                r.own_next += 1;
            }
            self.send_changelog(Tag::Order { ticket }, *p, *epoch, ORDER_KEY, Some(log))?;
        }
        self.meters.order_logs.increment(logs.len() as u64);
        Ok(ticket)
    }

    /// The tag of the open batch's records.
    fn open_tag(&self) -> Tag {
        Tag::Record {
            slot: slot(self.seq),
        }
    }

    /// Hands the open batch's outputs gathered so far to the outbox, counting them as sent.
    fn hand_over(&mut self) -> Result<(), EngineError> {
        let tag = self.open_tag().encode();
        let parcel = std::mem::replace(&mut self.outgoing, self.outbox.spare(PARCEL));
        self.sent += parcel.len() as u64;
        let gate = self.deliveries.gate.last();
        Ok(self.outbox.push(tag, gate, parcel)?)
    }

    fn dead_letter(
        &mut self,
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
        let headers = DeadLetter {
            reason: reject.reason,
            error: &reject.detail,
            topic: &source.name,
            partition,
            offset,
            by: P::NAME,
        }
        .headers();
        let mut record = BaseRecord::with_opaque_to(dlq, self.open_tag().encode())
            .payload(bytes)
            .headers(headers)
            .partition(partition);
        if let Some(k) = key {
            record = record.key(k);
        }
        outbox::send(&self.producer, record)?;
        self.sent += 1;
        self.meters.dead_letters[index].increment(1);
        Ok(())
    }

    /// An error if a record could not be delivered since the last check.
    fn undelivered(&self) -> Result<(), EngineError> {
        self.check_fence()?;
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

    /// Reads what landed before the order logs that did not land where expected: another
    /// process's restore sentinel there fences the engine ([`crate::fence`]); anything else
    /// lets their rounds' outputs leave.
    fn check_fence(&self) -> Result<(), EngineError> {
        let fence = &self.deliveries.fence;
        for s in fence.take_suspects() {
            if fence.superseded().is_some() {
                break;
            }
            if !fence.explained(&s) {
                let (x, landed) = (fence.expected(&s), s.landed);
                let config = self.kafka.consumer(&format!("composerp-{}-fence", P::NAME));
                let writer = self.writer.to_be_bytes();
                let range = (x.min(landed), x.max(landed));
                let found = fence::foreign_sentinel(
                    &config,
                    &self.changelog,
                    s.partition,
                    range,
                    SENTINEL_KEY.as_bytes(),
                    &writer,
                )?;
                match found {
                    Some(at) => fence.supersede(s.partition, at),
                    None => {
                        tracing::info!(
                            processor = P::NAME,
                            partition = s.partition,
                            expected = x,
                            landed,
                            "Other records in the changelog before an order log, none a newer \
                             owner's: going on."
                        );
                        fence.clear(&s);
                    }
                }
            }
            if fence.superseded().is_none() {
                self.deliveries.gate.acked(s.ticket);
            }
        }
        match fence.superseded() {
            Some((partition, sentinel)) => {
                self.deliveries.gate.fence();
                Err(EngineError::Superseded {
                    partition,
                    sentinel,
                })
            }
            None => Ok(()),
        }
    }

    /// Commits the inputs' next offsets of every task to the group ([`commit_offsets`]).
    fn commit_group<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, mode: CommitMode) {
        let offsets = self.tasks.iter().flat_map(|(p, running)| {
            self.inputs
                .iter()
                .zip(&running.committed)
                .map(move |(t, &next)| (t.name.as_str(), *p, next))
        });
        commit_offsets(consumer, offsets, mode);
    }

    /// Closes the open batch: runs the tasks' end of batch, queues its outputs and keeps its
    /// changed states, serialized as they are now, for its commit ([`Engine::advance`]).
    fn close(&mut self) -> Result<(), EngineError> {
        let _span =
            tracing::info_span!("batch", processor = P::NAME, records = self.pending).entered();
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let env = Env::new(&self.processor, &tables, &self.codec, Timestamp::now());
        let mut partitions = BTreeMap::new();
        for (p, running) in self.tasks.iter_mut() {
            running.task.end_batch(&env, &mut self.outgoing)?;
            let closed = Closed {
                rows: running.task.take_changes()?,
                before_marker: 0,
                offsets: running.task.offsets.clone(),
                max_event_time: running.task.max_event_time,
            };
            partitions.insert(*p, closed);
        }
        drop(tables);
        // Every output of the batch goes to the outbox before it waits for their reports.
        self.hand_over()?;
        self.meters.batch_records.record(self.pending as f64);
        self.closing.push_back(Closing {
            seq: self.seq,
            step: Step::Outputs,
            sent: self.sent,
            records: self.pending,
            closed_at: Instant::now(),
            partitions,
        });
        self.seq += 1;
        self.sent = 0;
        self.deliveries.acked[slot(self.seq)].store(0, Ordering::Relaxed);
        self.pending = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Takes the closed batches as far through their commits as the acknowledgements received
    /// allow, oldest first, and waits for more while over `keep` batches are still closing.
    /// Returns how many batches it committed.
    fn advance(&mut self, keep: usize) -> Result<usize, EngineError> {
        let started = Instant::now();
        let mut committed = 0;
        self.producer.poll(Duration::ZERO);
        loop {
            self.undelivered()?;
            let Some(front) = self.closing.front() else {
                return Ok(committed);
            };
            let slot = front.slot();
            if self.deliveries.acked[slot].load(Ordering::Relaxed) < front.sent {
                if self.closing.len() <= keep {
                    return Ok(committed);
                }
                if started.elapsed() > ACK_TIMEOUT {
                    return Err(EngineError::Undelivered(
                        front.sent - self.deliveries.acked[slot].load(Ordering::Relaxed),
                        format!("no acknowledgement within {} s", ACK_TIMEOUT.as_secs()),
                    ));
                }
                outbox::wait_reports(&self.producer);
                continue;
            }
            match front.step {
                // Outputs first: a changelog entry says its key reflects some input records,
                // and a replay skips those records, so their outputs must be acknowledged first.
                Step::Outputs => {
                    let mut sent = 0;
                    for (p, closed) in &front.partitions {
                        let epoch = self.tasks.get(p).map_or(0, |r| r.epoch);
                        if let Some(r) = self.tasks.get_mut(p) {
                            r.unmarked += closed.rows.len();
                            r.own_next += closed.rows.len() as i64;
                        }
                        for (key, value) in &closed.rows {
                            self.send_changelog(
                                Tag::Record { slot },
                                *p,
                                epoch,
                                key,
                                value.as_deref(),
                            )?;
                            sent += 1;
                        }
                    }
                    let front = self.closing.front_mut().expect("front");
                    front.sent += sent;
                    front.step = Step::Changelog;
                }
                Step::Changelog => {
                    // What the process wrote to each partition since its last marker: the marker
                    // lands right after it unless another writer came in between.
                    let front = self.closing.front_mut().expect("front");
                    for (p, closed) in front.partitions.iter_mut() {
                        closed.before_marker = self.tasks.get_mut(p).map_or(0, |r| {
                            r.own_next += 1;
                            std::mem::take(&mut r.unmarked)
                        });
                    }
                    let front = self.closing.front().expect("front");
                    let mut sent = 0;
                    for (p, closed) in &front.partitions {
                        let epoch = self.tasks.get(p).map_or(0, |r| r.epoch);
                        self.send_marker(slot, *p, epoch, closed)?;
                        sent += 1;
                    }
                    let front = self.closing.front_mut().expect("front");
                    front.sent += sent;
                    front.step = Step::Markers;
                }
                Step::Markers => {
                    let done = self.closing.pop_front().expect("front");
                    self.committed(done)?;
                    committed += 1;
                }
            }
            self.producer.poll(Duration::ZERO);
        }
    }

    /// Records a batch whose markers were acknowledged: its position, its rows staged for the
    /// local store (written when due), and the metrics.
    fn committed(&mut self, batch: Closing) -> Result<(), EngineError> {
        let slot = batch.slot();
        let markers: HashMap<i32, i64> = {
            let mut all = self
                .deliveries
                .markers
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            batch
                .partitions
                .keys()
                .filter_map(|p| all.remove(&(slot, *p)).map(|o| (*p, o)))
                .collect()
        };
        for (p, closed) in batch.partitions {
            let Some(running) = self.tasks.get_mut(&p) else {
                continue;
            };
            match markers.get(&p) {
                Some(&o) => {
                    let sole = still_sole(running.next_own, closed.before_marker, o);
                    if running.sole && !sole {
                        tracing::warn!(
                            processor = P::NAME,
                            partition = p,
                            expected = running.next_own + closed.before_marker as i64,
                            marker = o,
                            "Another process wrote to this partition's changelog: its local \
                             store will be rebuilt from the changelog at the next restore."
                        );
                    }
                    running.sole &= sole;
                    running.next_own = o + 1;
                    running.changelog_next = o + 1;
                }
                None => running.sole = false,
            }
            running.task.order.trim(&closed.offsets);
            running.committed = closed.offsets;
            running.committed_event_time = closed.max_event_time;
            running.store.stage(closed.rows);
            if running
                .store
                .due(self.cfg.store_interval, self.cfg.store_keys)
            {
                running.store.write(&running.checkpoint())?;
            }
        }
        let (mut keys, mut timers, mut bytes, mut ids) = (0, 0, 0, 0);
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        for (p, running) in &self.tasks {
            keys += running.task.states.len();
            timers += running.task.timers.len();
            ids += running.task.dedupe.len();
            bytes += running.store.file_size();
            progress.insert(*p, running.committed.clone());
        }
        drop(progress);
        self.meters.keys.set(keys as f64);
        self.meters.timers.set(timers as f64);
        self.meters.dedupe_ids.set(ids as f64);
        self.meters.store_bytes.set(bytes as f64);
        self.meters.batches.increment(1);
        let seconds = batch.closed_at.elapsed().as_secs_f64();
        self.meters.commit_seconds.record(seconds);
        tracing::debug!(
            processor = P::NAME,
            records = batch.records,
            micros = (seconds * 1e6) as u64,
            "Batch committed."
        );
        Ok(())
    }

    /// One turn of the main loop: closes the open batch if `close` (after the oldest closing
    /// batch commits, when [`MAX_CLOSING`] are), then advances the closed ones without waiting.
    /// Returns how many batches committed.
    fn step(&mut self, close: bool) -> Result<usize, EngineError> {
        let mut committed = 0;
        if close {
            committed += self.advance(MAX_CLOSING - 1)?;
            self.close()?;
        }
        Ok(committed + self.advance(usize::MAX)?)
    }

    /// Closes the open batch and waits until every closed batch is committed; then writes the
    /// local stores with `write_stores` (before partitions are released), or those due.
    fn commit(&mut self, write_stores: bool) -> Result<(), EngineError> {
        self.close()?;
        self.advance(0)?;
        if write_stores {
            self.write_stores()?;
        }
        Ok(())
    }

    /// Writes what every local store has staged, with its checkpoint.
    fn write_stores(&mut self) -> Result<(), EngineError> {
        for running in self.tasks.values_mut() {
            if running.store.staged() > 0 {
                running.store.write(&running.checkpoint())?;
            }
        }
        Ok(())
    }

    /// Some partition has a wall-clock timer due.
    fn wall_timer_due(&self) -> bool {
        let now = Timestamp::now();
        self.tasks.values().any(|r| {
            r.task
                .timers
                .next_due(TimerKind::WallClock)
                .is_some_and(|at| at <= now)
        })
    }

    /// Restores partition `p`: local checkpoint, then the changelog tail up to the last marker.
    fn restore(&mut self, p: i32) -> Result<Running<P>, EngineError> {
        let started = Instant::now();
        let mut store = Store::open(&self.state_dir(), p)?;
        let mut checkpoint = store.checkpoint()?;
        if !checkpoint.sole {
            // The file may hold a superseded owner's states, behind the offsets a newer owner's
            // markers carry: only the changelog as a whole is the partition's state.
            if checkpoint != Checkpoint::default() {
                tracing::warn!(
                    processor = P::NAME,
                    partition = p,
                    "Local store not trusted (another writer in the changelog since its \
                     checkpoint): rebuilding it from the changelog."
                );
            }
            store.clear()?;
            checkpoint = Checkpoint::default();
        }
        let mut task = Task::<P>::new(p);
        store.for_each(|k, v| {
            task.restore_entry(k, Some(v))
                .map_err(|e| StoreError::Corrupt {
                    path: PathBuf::from(k),
                    detail: e.to_string(),
                })
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
        // The end to read to: the offset of a sentinel written now. Everything an earlier owner
        // had acknowledged lies before it, whatever the broker's watermarks say (Tansu answers
        // "latest" with less than the end).
        let writer = self.writer.to_be_bytes();
        let r = BaseRecord::with_opaque_to(self.changelog.as_str(), Tag::Sentinel { p }.encode())
            .key(SENTINEL_KEY.as_bytes())
            .payload(&writer[..])
            .partition(p);
        outbox::send(&self.producer, r)?;
        let sent_at = Instant::now();
        // Its report may be served by this thread or by the outbox's.
        let end = loop {
            let end = self
                .deliveries
                .sentinels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            if let Some(end) = end {
                break end;
            }
            if sent_at.elapsed() > ACK_TIMEOUT {
                return Err(EngineError::Undelivered(1, "restore sentinel".into()));
            }
            outbox::wait_reports(&self.producer);
            self.undelivered()?;
        };
        // Read from a little before the checkpoint (a fetch from the middle of a stored batch
        // may skip the batch's rest on some brokers, Tansu among them); records before the
        // checkpoint are passed over.
        let start = checkpoint.changelog_next;
        let old = checkpoint.clone();
        let (_, estimate) =
            consumer.fetch_watermarks(&self.changelog, p, Duration::from_secs(30))?;
        let remaining = metrics::gauge!(
            "composerp_processor_restore_remaining_records",
            "processor" => P::NAME,
            "partition" => p.to_string()
        );
        remaining.set((estimate - start).max(0) as f64);
        let mut replayed = 0u64;
        let mut owner = Ownership {
            epoch: checkpoint.epoch,
        };
        // The newest order log counts: the checkpoint's, then the changelog's.
        let mut order = OrderLog::from_runs(checkpoint.order.clone());
        // Every entry is applied, committed or not (see the module docs), and written to the
        // local store as it goes.
        let mut applied: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &self.changelog,
            p,
            Offset::Offset((start - FETCH_REWIND).max(0)),
        )?;
        consumer.assign(&tpl)?;
        let mut idle = Instant::now();
        loop {
            let msg = match consumer.poll(Duration::from_millis(500)) {
                None => {
                    if idle.elapsed() > Duration::from_secs(60) {
                        return Err(EngineError::Topics(format!(
                            "changelog {} partition {p}: no record for 60 s before offset {end}",
                            self.changelog
                        )));
                    }
                    continue;
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(msg)) => msg,
            };
            idle = Instant::now();
            let next = msg.offset() + 1;
            if msg.offset() >= end {
                break;
            }
            if msg.offset() < start {
                continue;
            }
            replayed += 1;
            let key = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
            if key == SENTINEL_KEY {
                // A process took the partition over here: from now on only its writes, and
                // those of later owners, count.
                owner.sentinel(msg.offset());
            } else if key == MARKER_KEY {
                let marker: Marker = postcard::from_bytes(msg.payload().unwrap_or_default())
                    .map_err(|e| StateError {
                        key: MARKER_KEY.into(),
                        detail: e.to_string(),
                    })?;
                if owner.admits(marker.epoch) {
                    if marker.offsets.len() == task.offsets.len() {
                        task.offsets = marker.offsets;
                    }
                    task.max_event_time = marker.max_event_time;
                    checkpoint.changelog_next = next;
                }
            } else if key == ORDER_KEY {
                let epoch = written_epoch(&msg);
                if owner.admits(epoch) {
                    order = OrderLog::decode(msg.payload().unwrap_or_default()).map_err(|e| {
                        StateError {
                            key: ORDER_KEY.into(),
                            detail: e.to_string(),
                        }
                    })?;
                }
            } else if !key.starts_with('\u{0}') {
                let epoch = written_epoch(&msg);
                if owner.admits(epoch) {
                    task.restore_entry(&key, msg.payload())?;
                    applied.insert(key, msg.payload().map(<[u8]>::to_vec));
                }
            }
            if replayed.is_multiple_of(50_000) {
                // Into the local store as it goes, so a large restore never holds a second
                // copy of every value (the checkpoint keeps the old position until the end).
                store.commit(
                    applied.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                    &old,
                    false,
                )?;
                applied.clear();
                remaining.set((estimate - next).max(0) as f64);
                self.meters.restored.increment(50_000);
                tracing::info!(
                    processor = P::NAME,
                    partition = p,
                    replayed,
                    remaining = (estimate - next).max(0),
                    "Restoring from the changelog."
                );
            }
        }
        remaining.set(0.0);
        // The sentinel at `end` is this process's: the partition is its own from there, and the
        // restored states are the changelog's up to it.
        checkpoint.epoch = end;
        checkpoint.sole = true;
        self.meters.restored.increment(replayed % 50_000);
        // Records applied past the restored offsets are replayed in the logged order.
        task.resume(&order);
        // Always written: the new epoch (and trust) must be on disk before the first commit.
        checkpoint.offsets.clone_from(&task.offsets);
        checkpoint.max_event_time = task.max_event_time;
        checkpoint.order = task.order_runs();
        store.commit(
            applied.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
            &checkpoint,
            true,
        )?;
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
            committed: task.offsets.clone(),
            committed_event_time: task.max_event_time,
            task,
            store,
            changelog_next: checkpoint.changelog_next,
            epoch: end,
            next_own: end + 1,
            unmarked: 0,
            own_next: end + 1,
            sole: true,
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
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        if engine.failed.is_some() || engine.halted {
            // Nothing is committed any more, but revoked partitions are still released: a
            // consumer closing waits for that.
            if err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                && let Err(e) = release(&mut engine, consumer, &partitions)
            {
                tracing::warn!(error = %e, "Releasing partitions after a failure failed.");
            }
            return;
        }
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
    if !engine.tasks.is_empty() {
        // The closed batches commit first, in order: the restores block this thread a while.
        engine.commit(false)?;
    }
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        let running = engine.restore(p)?;
        group.add_partition_offset(
            &engine.inputs[0].name,
            p,
            Offset::Offset((running.task.offsets[0] - FETCH_REWIND).max(0)),
        )?;
        let others = engine.partitions_of(p, Some(&running.task.offsets), 1..n)?;
        engine.tasks.insert(p, running);
        if others.count() > 0 {
            engine.data.incremental_assign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition assigned.");
    }
    let keys: usize = engine.tasks.values().map(|r| r.task.states.len()).sum();
    engine.meters.keys.set(keys as f64);
    engine.last_rebalance = Instant::now();
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
        engine.commit(true)?;
    }
    release(engine, consumer, partitions)
}

/// Drops the tasks of `partitions` and hands them back to the group.
fn release<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        engine.tasks.remove(&p);
        engine
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&p);
        group.add_partition(&engine.inputs[0].name, p);
        let others = engine.partitions_of(p, None, 1..n)?;
        if others.count() > 0 {
            engine.data.incremental_unassign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition released.");
    }
    engine.last_rebalance = Instant::now();
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
    // A partition is read once a record at or past "latest" arrives. On Tansu "latest" is the
    // first offset of the newest stored batch plus one, and a batch arrives whole, so the rest
    // of it is in hand by then.
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

/// A consumed record kept for the round, with its input's index and the epoch of the task it
/// was checked against.
struct Polled<'c> {
    message: BorrowedMessage<'c>,
    index: usize,
    epoch: i64,
}

/// Takes up to `max` records `consumer` has at hand, without waiting, checking each for gaps
/// against its partition's offsets as the records kept before it will leave them (`ahead`:
/// the task's epoch and next offset, per input and partition). Returns how many it polled.
fn collect<'c, P: Processor, C: ConsumerContext>(
    engine: &Mutex<Engine<P>>,
    consumer: &'c BaseConsumer<C>,
    max: usize,
    ahead: &mut foldhash::HashMap<(usize, i32), (i64, i64)>,
    kept: &mut Vec<Polled<'c>>,
) -> usize {
    let mut polled = 0;
    while polled < max {
        // Polling serves rebalances, which take the engine: it is not held here.
        let Some(msg) = consumer.poll(Duration::ZERO) else {
            break;
        };
        polled += 1;
        let m = match msg {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(error = %err, "Consumer error.");
                continue;
            }
        };
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if e.failed.is_some() {
            break;
        }
        let Some(index) = e.index_of(m.topic()) else {
            continue;
        };
        let eng: &mut Engine<P> = &mut e;
        let Some(running) = eng.tasks.get(&m.partition()) else {
            continue;
        };
        let epoch = running.epoch;
        // Records a replaying task holds count as received: the fetch goes on after them.
        let stored = running.task.received(index);
        let key = (index, m.partition());
        // What the records kept before this one will move the offset to, if they are of the
        // same task (a rebalance may have restored the partition since).
        let expected = match ahead.get(&key) {
            Some(&(of, next)) if of == epoch => next.max(stored),
            _ => stored,
        };
        match eng
            .gaps
            .check(Some(expected), index, m.partition(), m.offset())
        {
            GapCheck::Continue => {}
            GapCheck::Drop => continue,
            GapCheck::Refetch(from) => {
                tracing::info!(
                    topic = m.topic(),
                    partition = m.partition(),
                    offset = m.offset(),
                    expected = from,
                    "Gap in the input; fetching it again."
                );
                if let Err(err) = consumer.seek(
                    m.topic(),
                    m.partition(),
                    Offset::Offset((from - FETCH_REWIND).max(0)),
                    Duration::from_secs(10),
                ) {
                    tracing::warn!(error = %err, "Seek failed; the gap is accepted.");
                    eng.gaps.clear(index, m.partition());
                } else {
                    continue;
                }
            }
        }
        // As the task will: a record at or past the next offset moves it on.
        if m.offset() >= expected {
            ahead.insert(key, (epoch, m.offset() + 1));
        }
        drop(e);
        kept.push(Polled {
            message: m,
            index,
            epoch,
        });
    }
    polled
}

/// Handles up to `max` records each consumer has at hand, without waiting; returns how many it
/// polled. A failure is left in the engine for the loop to report.
fn pump<P: Processor, C: ConsumerContext>(
    engine: &Mutex<Engine<P>>,
    consumer: &BaseConsumer<C>,
    data: &BaseConsumer,
    max: usize,
) -> usize {
    // One clock reading for the round: a round is a few thousand records, milliseconds.
    let now = Timestamp::now();
    let mut ahead = foldhash::HashMap::default();
    let mut kept = Vec::new();
    let polled = collect(engine, consumer, max, &mut ahead, &mut kept)
        + collect(engine, data, max, &mut ahead, &mut kept);
    if kept.is_empty() {
        return polled;
    }
    let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
    if e.failed.is_some() {
        return polled;
    }
    // A rebalance while polling may have released or restored a partition: its records from
    // before are not this task's to handle (they are fetched again from its state's offsets).
    kept.retain(|k| {
        e.tasks
            .get(&k.message.partition())
            .is_some_and(|r| r.epoch == k.epoch)
    });
    let written = |m: &BorrowedMessage<'_>| {
        m.timestamp()
            .to_millis()
            .map_or(now.0, |ms| ms.saturating_mul(1_000))
    };
    // A task replaying a logged order takes its records in that order: those that come early
    // are held (copied) until their run is due.
    // Every record of such a partition in this round goes that way, also after its replay ends
    // mid-round, so that the partition's records stay in order.
    let eng: &mut Engine<P> = &mut e;
    let replaying: Vec<i32> = eng
        .tasks
        .iter()
        .filter(|(_, r)| r.task.replaying())
        .map(|(p, _)| *p)
        .collect();
    let (mut direct, mut due, mut due_partitions) =
        (Vec::with_capacity(kept.len()), vec![], vec![]);
    for k in &kept {
        let m = &k.message;
        match eng.tasks.get_mut(&m.partition()) {
            Some(r) if replaying.contains(&m.partition()) => {
                let held = Held {
                    index: k.index,
                    offset: m.offset(),
                    written: written(m),
                    key: m.key().map(<[u8]>::to_vec),
                    bytes: m.payload().unwrap_or_default().to_vec(),
                };
                r.task.admit(held, &mut due);
                due_partitions.resize(due.len(), m.partition());
            }
            _ => direct.push(k),
        }
    }
    let records: Vec<Record<'_>> = direct
        .iter()
        .map(|k| Record {
            index: k.index,
            partition: k.message.partition(),
            offset: k.message.offset(),
            written: written(&k.message),
            bytes: k.message.payload().unwrap_or_default(),
        })
        .chain(
            due.iter()
                .zip(&due_partitions)
                .map(|(h, &partition)| Record {
                    index: h.index,
                    partition,
                    offset: h.offset,
                    written: h.written,
                    bytes: &h.bytes,
                }),
        )
        .collect();
    let keys: Vec<Option<&[u8]>> = direct
        .iter()
        .map(|k| k.message.key())
        .chain(due.iter().map(|h| h.key.as_deref()))
        .collect();
    if let Err(err) = e.handle_round(now, &records, &keys) {
        e.failed = Some(err);
    }
    polled
}

/// Fetches the stalled partitions this process holds once more, from their recorded offsets;
/// true if a stalled partition is held elsewhere and the membership has been settled long
/// enough to blame the group rather than a restore in progress.
fn fetch_again<P: Processor>(
    engine: &Mutex<Engine<P>>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    stalled: &[(usize, i32)],
) -> bool {
    let e = engine.lock().unwrap_or_else(|p| p.into_inner());
    let mut elsewhere = false;
    for &(index, p) in stalled {
        let Some(running) = e.tasks.get(&p) else {
            elsewhere |= e.last_rebalance.elapsed() > Stalls::AFTER;
            continue;
        };
        let topic = &e.inputs[index].name;
        let from = Offset::Offset((running.task.offsets[index] - FETCH_REWIND).max(0));
        let timeout = Duration::from_secs(10);
        let sought = if index == 0 {
            consumer.seek(topic, p, from, timeout)
        } else {
            e.data.seek(topic, p, from, timeout)
        };
        match sought {
            Ok(()) => tracing::warn!(
                topic = %topic,
                partition = p,
                offset = running.task.offsets[index],
                "Stalled partition held here: fetching it again."
            ),
            Err(err) => {
                tracing::warn!(error = %err, topic = %topic, partition = p, "Seek of a stalled partition failed.")
            }
        }
    }
    elsewhere
}

/// Runs `processor` until `stop` is set or an error occurs; `stop` is set when it ends, except
/// after [`EngineError::Superseded`], after which the caller may start it again.
pub fn run<P: Processor>(
    processor: P,
    kafka: KafkaSettings,
    codec: Codec,
    cfg: EngineConfig,
    outer: Arc<AtomicBool>,
) -> Result<(), EngineError> {
    // The engine's own threads stop on this one, so that a superseded engine can end without
    // stopping the process.
    let stop = Arc::new(AtomicBool::new(false));
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
    while !ready.load(Ordering::Acquire)
        && !outer.load(Ordering::Relaxed)
        && !follower.is_finished()
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let deliveries = Arc::new(Deliveries::default());
    let progress = Arc::new(Mutex::new(BTreeMap::new()));
    // A BaseProducer serves delivery reports on the threads that poll it: the outbox's and,
    // while a commit waits, the engine's.
    let producer: Arc<BaseProducer<DeliveryContext>> = Arc::new(
        kafka
            .producer()
            .create_with_context(DeliveryContext(deliveries.clone()))?,
    );
    let outbox = {
        let deliveries = deliveries.clone();
        let gate = deliveries.gate.clone();
        Outbox::start(P::NAME, producer.clone(), gate, move |e: &KafkaError| {
            deliveries.fail(e.to_string())
        })
        .map_err(|e| EngineError::Topics(e.to_string()))?
    };
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
        outbox,
        deliveries,
        data: data.clone(),
        tasks: BTreeMap::new(),
        pending: 0,
        seq: 0,
        sent: 0,
        outgoing: Outputs::with_capacity(PARCEL),
        workers: Workers::new(P::NAME, cfg.threads)?,
        closing: VecDeque::new(),
        last_commit: Instant::now(),
        meters: Meters::new(P::NAME, &inputs),
        writer: EventId::random().0.as_u64_pair().0 | 1,
        gaps: Gaps::default(),
        progress: progress.clone(),
        last_rebalance: Instant::now(),
        failed: None,
        halted: false,
    }));
    let lag = {
        let (kafka, inputs, stop) = (kafka.clone(), inputs.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("{}-lag", P::NAME))
            .spawn(move || {
                let positions = || {
                    let now = progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    now.into_iter()
                        .flat_map(|(p, offsets)| {
                            inputs
                                .iter()
                                .zip(offsets)
                                .map(move |(t, next)| (t.name.clone(), p, next))
                        })
                        .collect()
                };
                let lag = Lag {
                    metric: "composerp_processor_consumer_lag_records",
                    label: ("processor", P::NAME.to_owned()),
                };
                lag.report(&kafka, positions, &stop)
            })
            .map_err(|e| EngineError::Topics(e.to_string()))?
    };
    let group = cfg
        .group
        .clone()
        .unwrap_or_else(|| format!("composerp-{}", P::NAME));
    let stalls: Arc<Mutex<Vec<(usize, i32)>>> = Arc::default();
    let watch = {
        let (kafka, inputs, group, stalls, stop) = (
            kafka.clone(),
            inputs.clone(),
            group.clone(),
            stalls.clone(),
            stop.clone(),
        );
        std::thread::Builder::new()
            .name(format!("{}-stalls", P::NAME))
            .spawn(move || {
                let topics: Vec<(String, i32)> = inputs
                    .iter()
                    .map(|t| (t.name.clone(), t.partitions))
                    .collect();
                Stalls::watch(&kafka, &group, &topics, &stalls, &stop)
            })
            .map_err(|e| EngineError::Topics(e.to_string()))?
    };
    let consumer: BaseConsumer<Rebalancer<P>> =
        kafka.consumer(&group).create_with_context(Rebalancer {
            engine: engine.clone(),
        })?;
    consumer.subscribe(&[inputs[0].name.as_str()])?;
    let mut rejoin = Rejoin::default();

    let result = loop {
        if outer.load(Ordering::Relaxed) {
            break Ok(());
        }
        let has_partitions = !engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tasks
            .is_empty();
        let stalled = std::mem::take(&mut *stalls.lock().unwrap_or_else(|p| p.into_inner()));
        let elsewhere = !stalled.is_empty() && fetch_again(&engine, &consumer, &stalled);
        if rejoin.due(has_partitions, elsewhere) {
            consumer.unsubscribe();
            consumer.subscribe(&[inputs[0].name.as_str()])?;
        }
        // The group consumer serves rebalances and the first input, the data consumer the other
        // inputs. Drain both without waiting; when both are empty, sleep a millisecond rather
        // than wait in one consumer's poll, so that records arriving at the other are not kept
        // waiting (and rdkafka's poll spins through the last millisecond of its timeout).
        let handled = pump(&engine, &consumer, &data, 2_000);
        if handled == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(err) = e.failed.take() {
            break Err(err);
        }
        let due = e.last_commit.elapsed() >= cfg.batch_interval;
        let close = (e.pending > 0 && (e.pending >= cfg.batch_records || due))
            || (due && e.wall_timer_due());
        match e.step(close) {
            Ok(0) => {}
            Ok(_) => e.commit_group(&consumer, CommitMode::Async),
            Err(err) => break Err(err),
        }
    };
    // A clean stop commits what was processed and leaves the group so partitions move at once.
    let stopping = {
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        e.halted = result.is_err();
        let done = if result.is_err() {
            Ok(())
        } else if e.pending > 0 || !e.closing.is_empty() {
            e.commit(true)
        } else {
            e.write_stores()
        };
        if result.is_ok() && done.is_ok() {
            e.commit_group(&consumer, CommitMode::Sync);
        }
        done
    };
    consumer.unsubscribe();
    stop.store(true, Ordering::Relaxed);
    if !matches!(result, Err(EngineError::Superseded { .. })) {
        outer.store(true, Ordering::Relaxed);
    }
    let _ = follower.join();
    let _ = lag.join();
    let _ = watch.join();
    result.and(stopping)
}

#[cfg(test)]
mod tests {
    use super::{Ownership, SLOTS, Tag, still_sole};

    #[test]
    fn delivery_tags_round_trip_for_every_slot_and_partition() {
        for slot in 0..SLOTS {
            for p in [0, 1, 7, 63, 100_000] {
                for tag in [
                    Tag::Record { slot },
                    Tag::Marker { slot, p },
                    Tag::Sentinel { p },
                ] {
                    assert_eq!(Tag::decode(tag.encode()), tag);
                }
            }
        }
    }

    #[test]
    fn a_marker_right_after_the_own_records_keeps_the_store_trusted() {
        // Sentinel at 40: the first commit writes 3 states at 41..=43 and its marker at 44.
        assert!(still_sole(41, 3, 44));
        // A commit with no state change: the marker alone.
        assert!(still_sole(45, 0, 45));
        // A newer owner's sentinel (or a superseded owner's entry) landed in between.
        assert!(!still_sole(41, 3, 45));
    }

    /// Replays a changelog given as (offset, kind, epoch) and returns the offsets admitted.
    fn admitted(start_epoch: i64, log: &[(i64, &str, i64)]) -> Vec<i64> {
        let mut owner = Ownership { epoch: start_epoch };
        let mut out = Vec::new();
        for &(offset, kind, epoch) in log {
            if kind == "sentinel" {
                owner.sentinel(offset);
            } else if owner.admits(epoch) {
                out.push(offset);
            }
        }
        out
    }

    #[test]
    fn a_stale_owners_late_writes_are_ignored() {
        // Owner 0..: epoch 0; B restores at 10; A (epoch 0) still writes at 12.
        let log = [
            (3, "entry", 0),
            (10, "sentinel", 0),
            (11, "entry", 10),
            (12, "entry", 0),
            (13, "marker", 10),
        ];
        assert_eq!(admitted(0, &log), vec![3, 11, 13]);
    }

    #[test]
    fn compacted_sentinels_do_not_hide_the_writes_of_their_epochs() {
        // Compaction kept only the latest sentinel (40): the writes of epochs 10 and 25 before
        // it still count for a restore from an empty state directory, a late write of epoch 10
        // after epoch 25 began does not.
        let log = [
            (12, "entry", 10),
            (27, "entry", 25),
            (30, "entry", 10),
            (40, "sentinel", 0),
            (41, "entry", 40),
        ];
        assert_eq!(admitted(0, &log), vec![12, 27, 41]);
    }

    #[test]
    fn a_restart_on_local_files_keeps_its_own_epoch() {
        let log = [(50, "entry", 40), (51, "marker", 40), (52, "entry", 33)];
        assert_eq!(admitted(40, &log), vec![50, 51]);
    }
}
