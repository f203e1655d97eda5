//! Runs a [`Processor`] against a Kafka cluster, effectively once, without Kafka transactions.
//!
//! A partition's state lives in memory, with a fjall store per partition as the local
//! checkpoint and a compacted changelog topic (one partition per task) as the replicated one.
//! The engine's parts, each module's header telling its share of the protocol:
//!
//! - `rebalance`: the engine as a consumer-group member: which partitions it reads, restored
//!   when assigned, committed when revoked.
//! - `poll`: rounds of records from both consumers, checked for gaps and handled together.
//! - `commit`: a batch's outputs, state entries and marker, each once the broker acknowledged
//!   the one before; batches overlap.
//! - `restore`: local checkpoint, then the changelog, taking only the owner's writes.
//! - `run`: the main loop and its threads; `tables`: reference data followed from whole topics.
//! - [`crate::fence`] and [`crate::order`]: a round's outputs leave only while the partition is
//!   still this process's, in the order its inputs were logged.

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
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext},
    error::{KafkaError, KafkaResult},
    message::{BorrowedMessage, Header, Headers, OwnedHeaders},
    producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext},
};
use serde::{Deserialize, Serialize};

use composerp_kafka::{
    KafkaSettings,
    dlq::{DeadLetter, redriven},
    fetch::{FETCH_REWIND, GapCheck, Gaps},
    lag::Lag,
    member::{Join, Membership},
};

use crate::{
    fence::{self, Fence},
    order::{Held, ORDER_KEY, OrderLog},
    outbox::{self, Outbox, OutboxClosed},
    parallel::Workers,
    processor::{Outputs, Processor, Reject, Tables, input_topics},
    states::{Change, StateError},
    store::{Checkpoint, Store, StoreError},
    task::{Env, Record, Task},
    timer::TimerKind,
};

mod commit;
mod meters;
mod poll;
mod rebalance;
mod restore;
mod run;
mod tables;

use meters::Meters;
use poll::pump;
use tables::follow_tables;

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
    failed: Option<EngineError>,
    /// The engine made its last commit (it is stopping, or failed): nothing more is committed.
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
        self.meters.dead_letter(index, reject.reason);
        Ok(())
    }
}

pub use run::run;

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
