//! The [`Processor`] trait a data engineer implements, and the [`Context`] it works through.

use composerp_events::{Codec, DecodeError, Event, EventId, Timestamp};
use composerp_topics::{TopicCatalog, TopicError, TopicSpec};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    states::StateId,
    timer::{Timer, TimerKind, Timers},
};

/// Why a record cannot be processed; it goes to the input's dead-letter topic and processing
/// continues. `reason` is a bounded code (metrics, the `composerp.reason` header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Reject {
    /// Bounded code, e.g. `non_positive_quantity`.
    pub reason: &'static str,
    /// Human-readable explanation.
    pub detail: String,
}

impl Reject {
    /// A reject with a code and an explanation.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

impl From<DecodeError> for Reject {
    fn from(e: DecodeError) -> Self {
        Reject::new(e.reason(), e.to_string())
    }
}

/// The typed records a processor consumes: one variant per input topic, all co-partitioned.
pub trait Input: Sized + Send + 'static {
    /// Topic ids (from the topic catalog) consumed, in variant order; the first one drives
    /// partition assignment.
    const TOPICS: &'static [&'static str];
    /// Avro full names of the records each topic carries, in the same order.
    const RECORDS: &'static [&'static str];
    /// Decodes a record of the `index`-th topic.
    fn decode(index: usize, codec: &Codec, bytes: &[u8]) -> Result<Self, DecodeError>;
    /// Event id, for deduplication.
    fn event_id(&self) -> EventId;
    /// Tenant of the event, for deduplication.
    fn tenant_id(&self) -> &str;
    /// Business time, for the event-time watermark.
    fn occurred_at(&self) -> Timestamp;
    /// Encodes the record for its topic: (topic index, framed bytes). Used by the test driver.
    fn encode(&self, codec: &Codec) -> Result<(usize, Vec<u8>), composerp_events::EncodeError>;
}

/// Declares a processor's input enum: `inputs! { pub enum X { "topic.id" => Variant(Type), … } }`.
#[macro_export]
macro_rules! inputs {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($topic:literal => $variant:ident($ty:ty)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        $vis enum $name {
            $(#[doc = concat!("A record of `", $topic, "`.")] $variant($ty),)+
        }

        impl $crate::processor::Input for $name {
            const TOPICS: &'static [&'static str] = &[$($topic),+];
            const RECORDS: &'static [&'static str] = &[$(<$ty as composerp_events::Event>::FULL_NAME),+];
            fn decode(index: usize, codec: &composerp_events::Codec, bytes: &[u8]) -> Result<Self, composerp_events::DecodeError> {
                let mut i = 0;
                $(
                    if index == i {
                        return codec.decode::<$ty>(bytes).map($name::$variant);
                    }
                    i += 1;
                )+
                let _ = i;
                Err(composerp_events::DecodeError::UnknownSchemaId(u32::MAX))
            }
            fn event_id(&self) -> composerp_events::EventId {
                match self { $($name::$variant(e) => composerp_events::Event::event_id(e),)+ }
            }
            fn tenant_id(&self) -> &str {
                match self { $($name::$variant(e) => composerp_events::Event::tenant_id(e),)+ }
            }
            fn occurred_at(&self) -> composerp_events::Timestamp {
                match self { $($name::$variant(e) => composerp_events::Event::occurred_at(e),)+ }
            }
            fn encode(&self, codec: &composerp_events::Codec) -> Result<(usize, Vec<u8>), composerp_events::EncodeError> {
                let topics: &[&str] = &[$($topic),+];
                let variants: &[&str] = &[$(stringify!($variant)),+];
                let (name, bytes) = match self { $($name::$variant(e) => (stringify!($variant), codec.encode(e)?),)+ };
                let _ = topics;
                Ok((variants.iter().position(|v| *v == name).unwrap_or(0), bytes))
            }
        }
    };
}

/// A processor whose declared topics do not fit the topic catalog. The engine refuses to start
/// on it, and [`TestDriver::new`](crate::driver::TestDriver::new) panics with it, so that a
/// typo fails the first unit test rather than the first `composerp run`.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// A topic id is not in the catalog.
    #[error("processor {processor}: {source}")]
    Unknown {
        /// The processor's name.
        processor: &'static str,
        /// The catalog's answer.
        source: TopicError,
    },
    /// An input topic carries another record type than its variant.
    #[error("processor {processor}: input {topic} carries {carries}, not {expected}")]
    WrongRecord {
        /// The processor's name.
        processor: &'static str,
        /// The topic id.
        topic: &'static str,
        /// What the catalog says the topic carries.
        carries: String,
        /// What the input variant holds.
        expected: &'static str,
    },
    /// Inputs with different partition counts cannot be processed partition by partition.
    #[error(
        "processor {processor}: {topic} has {partitions} partitions, {first} has {expected}: \
         inputs must be co-partitioned"
    )]
    NotCoPartitioned {
        /// The processor's name.
        processor: &'static str,
        /// The input topic that differs.
        topic: &'static str,
        /// Its partition count.
        partitions: i32,
        /// The first input topic.
        first: &'static str,
        /// Its partition count.
        expected: i32,
    },
}

/// The catalog entries of `P`'s inputs, in input order, after checking every input and table
/// topic of `P` against `catalog`: known ids, the record type each input expects, and inputs
/// co-partitioned.
pub fn input_topics<P: Processor>(catalog: &TopicCatalog) -> Result<Vec<TopicSpec>, WiringError> {
    let known = |id: &str| {
        catalog.get(id).map_err(|source| WiringError::Unknown {
            processor: P::NAME,
            source,
        })
    };
    for id in <P::Tables as Tables>::TOPICS {
        known(id)?;
    }
    let topics = <P::Input as Input>::TOPICS;
    let mut inputs: Vec<TopicSpec> = Vec::with_capacity(topics.len());
    for (&id, &record) in topics.iter().zip(<P::Input as Input>::RECORDS) {
        let spec = known(id)?;
        if spec.value.as_deref() != Some(record) {
            return Err(WiringError::WrongRecord {
                processor: P::NAME,
                topic: id,
                carries: spec.value.clone().unwrap_or_else(|| "raw bytes".into()),
                expected: record,
            });
        }
        if let Some(first) = inputs.first()
            && first.partitions != spec.partitions
        {
            return Err(WiringError::NotCoPartitioned {
                processor: P::NAME,
                topic: id,
                partitions: spec.partitions,
                first: topics[0],
                expected: first.partitions,
            });
        }
        inputs.push(spec.clone());
    }
    Ok(inputs)
}

/// Read-mostly reference data every partition needs (master data), filled from whole topics.
pub trait Tables: Default + Send + Sync + 'static {
    /// Topic ids read completely (all partitions) into the tables.
    const TOPICS: &'static [&'static str];
    /// Applies one record of the `index`-th topic.
    fn update(&mut self, index: usize, codec: &Codec, bytes: &[u8]) -> Result<(), DecodeError>;
    /// Applies a tombstone (a record without value) of the `index`-th topic: the master data of
    /// `key` is deleted. Tables that ignore deletions keep the default.
    fn delete(&mut self, _index: usize, _key: &str) {}
}

/// No reference data.
#[derive(Debug, Default)]
pub struct NoTables;

impl Tables for NoTables {
    const TOPICS: &'static [&'static str] = &[];
    fn update(&mut self, _: usize, _: &Codec, _: &[u8]) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// A stream processor: typed inputs, keyed state, typed outputs.
pub trait Processor: Send + Sync + 'static {
    /// Name used by `composerp run <name>`, the consumer group and the changelog topic.
    const NAME: &'static str;
    /// The inputs (see [`inputs!`]).
    type Input: Input;
    /// Keyed state, one value per key, kept in the partition's store.
    type State: Serialize + DeserializeOwned + Default + Clone + Send + 'static;
    /// Reference data shared by all partitions.
    type Tables: Tables;
    /// How far behind the newest event time the watermark trails.
    const ALLOWED_LATENESS_MICROS: i64 = 3_600_000_000;
    /// How long (by the records' topic timestamps) the runtime remembers input event ids and
    /// drops records that repeat one: a repeat written within this time of the newest record of
    /// its topic is caught. 0 (the default): every record is processed, and the processor
    /// deduplicates itself if it must (see [`crate::dedupe`]).
    const DEDUPE_WINDOW_MICROS: i64 = 0;

    /// How far ahead of its topic timestamp (the producer's clock when it was written) a
    /// record's event time may be. A record further ahead (a till with a wrong clock) would
    /// drag the watermark forward and close days early, so it goes to the dead-letter topic as
    /// `future_timestamp` without touching event time; a record without a topic timestamp is
    /// not checked. None (the default): not checked.
    fn max_future_skew_micros(&self) -> Option<i64> {
        None
    }

    /// Handles one input record.
    fn process(
        &self,
        input: &Self::Input,
        ctx: &mut Context<'_, Self::State, Self::Tables>,
    ) -> Result<(), Reject>;

    /// Called once per batch before outputs are flushed, to emit coalesced results.
    fn end_batch(&self, _ctx: &mut Context<'_, Self::State, Self::Tables>) {}

    /// Called when a timer set with [`Context::set_timer`] is due (once; it is then removed).
    fn on_timer(&self, _timer: &Timer, _ctx: &mut Context<'_, Self::State, Self::Tables>) {}
}

/// One output record, encoded, with its destination (borrowed from [`Outputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutRecord<'a> {
    /// Kafka topic name (the topic catalog's, which lives as long as the process).
    pub topic: &'static str,
    /// Record key.
    pub key: &'a str,
    /// Confluent-framed Avro value.
    pub payload: &'a [u8],
}

/// Where one record of [`Outputs`] ends in its buffers (it starts where the one before ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    topic: &'static str,
    key_end: usize,
    payload_end: usize,
}

/// Encoded output records, their keys in one string and their payloads in one buffer: once the
/// buffers have grown, emitting allocates nothing, and a spent `Outputs` is cleared and reused
/// (the broker engine hands it back from its output thread, so no record's memory is freed on
/// a thread other than the one that allocated it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    keys: String,
    payloads: Vec<u8>,
    spans: Vec<Span>,
}

impl Outputs {
    /// Empty, with room for `records` records of about 256 bytes before growing.
    pub fn with_capacity(records: usize) -> Self {
        Outputs {
            keys: String::with_capacity(records * 32),
            payloads: Vec::with_capacity(records * 224),
            spans: Vec::with_capacity(records),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes of keys and payloads held.
    pub fn bytes(&self) -> usize {
        self.keys.len() + self.payloads.len()
    }

    /// The `i`-th record.
    pub fn get(&self, i: usize) -> Option<OutRecord<'_>> {
        (i < self.spans.len()).then(|| self.record(i))
    }

    /// The records in emission order.
    pub fn iter(&self) -> impl Iterator<Item = OutRecord<'_>> {
        (0..self.spans.len()).map(|i| self.record(i))
    }

    /// Record `i` (< len): it starts where record `i - 1` ends.
    fn record(&self, i: usize) -> OutRecord<'_> {
        let span = self.spans[i];
        let (key_start, payload_start) = match i.checked_sub(1) {
            Some(j) => (self.spans[j].key_end, self.spans[j].payload_end),
            None => (0, 0),
        };
        OutRecord {
            topic: span.topic,
            key: &self.keys[key_start..span.key_end],
            payload: &self.payloads[payload_start..span.payload_end],
        }
    }

    /// Appends a record.
    pub fn push(&mut self, topic: &'static str, key: &str, payload: &[u8]) {
        self.keys.push_str(key);
        self.payloads.extend_from_slice(payload);
        self.close_record(topic);
    }

    /// Appends a record whose key and payload `write` appends to the two buffers; on an error
    /// nothing is appended.
    pub fn push_with<E>(
        &mut self,
        topic: &'static str,
        write: impl FnOnce(&mut String, &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (keys, payloads) = (self.keys.len(), self.payloads.len());
        match write(&mut self.keys, &mut self.payloads) {
            Ok(()) => {
                self.close_record(topic);
                Ok(())
            }
            Err(e) => {
                self.keys.truncate(keys);
                self.payloads.truncate(payloads);
                Err(e)
            }
        }
    }

    fn close_record(&mut self, topic: &'static str) {
        self.spans.push(Span {
            topic,
            key_end: self.keys.len(),
            payload_end: self.payloads.len(),
        });
    }

    /// Bytes the buffers can hold before they grow.
    pub fn capacity_bytes(&self) -> usize {
        self.keys.capacity()
            + self.payloads.capacity()
            + self.spans.capacity() * std::mem::size_of::<Span>()
    }

    /// Keeps the first `len` records.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.spans.len() {
            return;
        }
        self.spans.truncate(len);
        let (keys, payloads) = self
            .spans
            .last()
            .map_or((0, 0), |s| (s.key_end, s.payload_end));
        self.keys.truncate(keys);
        self.payloads.truncate(payloads);
    }

    /// Removes every record, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

/// Why an output cannot be emitted: a bug, not bad input, so the batch fails.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// No topic carries this record.
    #[error("no topic for {0}")]
    NoTopic(&'static str),
    /// The key could not be built.
    #[error(transparent)]
    Key(#[from] composerp_topics::TopicError),
    /// The record does not fit its schema.
    #[error(transparent)]
    Encode(#[from] composerp_events::EncodeError),
}

/// What a processor sees while handling a record: its partition's state, reference data, the
/// clock and the outputs.
pub struct Context<'a, S, T> {
    pub(crate) states: &'a mut crate::states::States<S>,
    pub(crate) outputs: &'a mut Outputs,
    pub(crate) tables: &'a T,
    pub(crate) codec: &'a Codec,
    pub(crate) topics: &'static TopicCatalog,
    pub(crate) watermark: Timestamp,
    pub(crate) now: Timestamp,
    pub(crate) source: (usize, i64),
    pub(crate) timers: &'a mut Timers,
    pub(crate) error: &'a mut Option<EmitError>,
}

impl<'a, S: Default, T> Context<'a, S, T> {
    /// The state of `key`, created empty on first use; marked changed.
    pub fn state(&mut self, key: &str) -> &mut S {
        self.states.changing(key, S::default)
    }

    /// The state of `key` without creating or marking it.
    pub fn peek(&self, key: &str) -> Option<&S> {
        self.states.get(key)
    }

    /// Removes the state of `key`.
    pub fn remove(&mut self, key: &str) {
        self.states.remove(key);
    }

    /// Keys whose state changed since the last commit (in `end_batch`: the batch's), in the
    /// order of their first change; [`Context::changed_state`] reads each.
    pub fn changed_keys(&self) -> Vec<StateId> {
        self.states.changed().to_vec()
    }

    /// The key and state (None: removed) of a key listed by [`Context::changed_keys`].
    pub fn changed_state(&self, id: StateId) -> (&str, Option<&S>) {
        self.states.at(id)
    }

    /// Reference data.
    pub fn tables(&self) -> &'a T {
        self.tables
    }

    /// Event-time watermark of the partition (max event time seen minus allowed lateness).
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The record being processed: (input topic index, offset). State that stores it can tell
    /// a replay of the same record (after a crash) from a new one.
    pub fn source(&self) -> (usize, i64) {
        self.source
    }

    /// Wall-clock time of the batch (the test driver's clock under test).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Sets (or moves) the partition's timer `name` on `kind`'s clock to `at`; the processor's
    /// `on_timer` runs once when it is due. Timers are stored with the state.
    pub fn set_timer(&mut self, kind: TimerKind, name: &str, at: Timestamp) {
        self.timers.set(kind, name, at);
    }

    /// Removes the timer `name` of `kind`, if set.
    pub fn cancel_timer(&mut self, kind: TimerKind, name: &str) {
        self.timers.cancel(kind, name);
    }

    /// When the timer `name` of `kind` is due, if it is set.
    pub fn timer(&self, kind: TimerKind, name: &str) -> Option<Timestamp> {
        self.timers.get(kind, name)
    }

    /// Emits an event on the topic that carries its record type, keyed by the topic's format.
    pub fn emit<E: Event>(&mut self, event: &E) {
        let Some(topic) = self.topics.for_value(E::FULL_NAME) else {
            self.fail(EmitError::NoTopic(E::FULL_NAME));
            return;
        };
        let codec = self.codec;
        let r = self.outputs.push_with(
            topic.name.as_str(),
            |key, payload| -> Result<(), EmitError> {
                topic.key.key_into(event.key_parts(), key)?;
                Ok(codec.encode_into(event, payload)?)
            },
        );
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Emits an event on the topic `topic_id` with an explicit key (repartitioning).
    pub fn emit_to<E: Event>(&mut self, topic_id: &str, key: &str, event: &E) {
        let topic = match self.topics.get(topic_id) {
            Ok(t) => t,
            Err(e) => return self.fail(e.into()),
        };
        let codec = self.codec;
        let r = self.outputs.push_with(
            topic.name.as_str(),
            |keys, payload| -> Result<(), EmitError> {
                codec.encode_into(event, payload)?;
                keys.push_str(key);
                Ok(())
            },
        );
        if let Err(e) = r {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: EmitError) {
        self.error.get_or_insert(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(out: &Outputs) -> Vec<(&str, &str, Vec<u8>)> {
        out.iter()
            .map(|r| (r.topic, r.key, r.payload.to_vec()))
            .collect()
    }

    #[test]
    fn outputs_keep_each_record_apart_in_shared_buffers() {
        let mut out = Outputs::default();
        out.push("a", "k1", b"one");
        out.push("b", "", b"");
        out.push("a", "k3", b"three");
        assert_eq!(
            listed(&out),
            [
                ("a", "k1", b"one".to_vec()),
                ("b", "", Vec::new()),
                ("a", "k3", b"three".to_vec())
            ]
        );
        assert_eq!(out.get(2).map(|r| r.key), Some("k3"));
        assert_eq!(out.get(3), None);
        assert_eq!(out.bytes(), 4 + 8);

        out.truncate(1);
        assert_eq!(listed(&out), [("a", "k1", b"one".to_vec())]);
        out.push("c", "k2", b"two");
        assert_eq!(
            out.get(1).map(|r| (r.key, r.payload)),
            Some(("k2", &b"two"[..]))
        );
        out.clear();
        assert!(out.is_empty());
        assert_eq!(out.bytes(), 0);
    }

    #[test]
    fn a_failed_write_leaves_no_trace() {
        let mut out = Outputs::default();
        out.push("a", "k1", b"one");
        let r = out.push_with("a", |key, payload| {
            key.push_str("half");
            payload.extend_from_slice(b"written");
            Err("refused")
        });
        assert_eq!(r, Err("refused"));
        assert_eq!(listed(&out), [("a", "k1", b"one".to_vec())]);
        assert_eq!(out.bytes(), 5);
    }
}
