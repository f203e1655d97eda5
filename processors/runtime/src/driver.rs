//! [`TestDriver`]: runs a processor in memory, like Kafka Streams' TopologyTestDriver.
//!
//! Records go through the same encode → decode → process path as on the broker; outputs,
//! dead letters and state can be inspected. No broker, no disk.

use composerp_events::{Codec, Event, Timestamp};
use composerp_topics::TopicCatalog;

use crate::{
    processor::{Input, Outputs, Processor, Reject, Tables},
    task::{Env, Outcome, Task},
    timer::Timers,
};

/// A record the processor rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Source topic id.
    pub topic: &'static str,
    /// Offset on the source topic.
    pub offset: i64,
    /// Why.
    pub reject: Reject,
    /// The original bytes.
    pub bytes: Vec<u8>,
}

/// Feeds records to a processor and captures what it does.
pub struct TestDriver<P: Processor> {
    processor: P,
    codec: Codec,
    tables: P::Tables,
    task: Task<P>,
    outputs: Outputs,
    dead_letters: Vec<DeadLetter>,
    next_offset: Vec<i64>,
    now: Timestamp,
}

impl<P: Processor> TestDriver<P> {
    /// A driver for one partition of `processor`, with empty state and tables.
    pub fn new(processor: P) -> Self {
        let n = <P::Input as Input>::TOPICS.len();
        TestDriver {
            processor,
            codec: Codec::embedded(),
            tables: P::Tables::default(),
            task: Task::new(0),
            outputs: Outputs::default(),
            dead_letters: Vec::new(),
            next_offset: vec![0; n],
            now: Timestamp(0),
        }
    }

    /// Feeds a reference-data record (e.g. a Location) through the processor's tables.
    pub fn table<E: Event>(&mut self, e: &E) {
        let topic = TopicCatalog::embedded()
            .for_value(E::FULL_NAME)
            .map(|t| t.id.as_str());
        let index = <P::Tables as Tables>::TOPICS
            .iter()
            .position(|t| Some(*t) == topic);
        let index =
            index.unwrap_or_else(|| panic!("{} is not a table of {}", E::FULL_NAME, P::NAME));
        let bytes = self.codec.encode(e).expect("table record encodes");
        self.tables
            .update(index, &self.codec, &bytes)
            .expect("table record decodes");
    }

    /// Processes records as one batch (coalesced outputs are emitted at its end).
    pub fn pipe(&mut self, inputs: impl IntoIterator<Item = P::Input>) {
        for input in inputs {
            let (index, bytes) = input.encode(&self.codec).expect("input encodes");
            self.feed(index, bytes);
        }
        self.end_batch();
    }

    /// Processes raw bytes as if read from input topic `topic_id` (for poison records).
    pub fn pipe_raw(&mut self, topic_id: &str, bytes: Vec<u8>) {
        let index = <P::Input as Input>::TOPICS
            .iter()
            .position(|t| *t == topic_id)
            .unwrap_or_else(|| panic!("{topic_id} is not an input of {}", P::NAME));
        self.feed(index, bytes);
        self.end_batch();
    }

    fn feed(&mut self, index: usize, bytes: Vec<u8>) {
        let offset = self.next_offset[index];
        self.next_offset[index] += 1;
        let env = Env::new(&self.processor, &self.tables, &self.codec, self.now);
        match self
            .task
            .handle(&env, index, offset, self.now.0, &bytes, &mut self.outputs)
            .expect("outputs encode")
        {
            Outcome::Applied | Outcome::AlreadyApplied | Outcome::Duplicate => {}
            Outcome::Rejected(reject) => self.dead_letters.push(DeadLetter {
                topic: <P::Input as Input>::TOPICS[index],
                offset,
                reject,
                bytes,
            }),
        }
    }

    fn end_batch(&mut self) {
        let env = Env::new(&self.processor, &self.tables, &self.codec, self.now);
        self.task
            .end_batch(&env, &mut self.outputs)
            .expect("outputs encode");
        // No store here, but the rows are made as the engine makes them: a state that does not
        // serialize fails its processor's tests.
        self.task.take_changes().expect("states serialize");
    }

    /// Moves the wall clock and runs the wall-clock timers now due (as a batch).
    pub fn advance_wall_clock(&mut self, micros: i64) {
        self.now = Timestamp(self.now.0 + micros);
        self.end_batch();
    }

    /// The partition's timers.
    pub fn timers(&self) -> &Timers {
        &self.task.timers
    }

    /// The partition's event-time watermark.
    pub fn watermark(&self) -> Timestamp {
        self.task.watermark()
    }

    /// The state of `key`.
    pub fn state(&self, key: &str) -> Option<&P::State> {
        self.task.states.get(key)
    }

    /// Every key with state.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.task.states.iter().map(|(key, _)| key)
    }

    /// The reference data.
    pub fn tables(&self) -> &P::Tables {
        &self.tables
    }

    /// Every output record so far, encoded.
    pub fn raw_outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// The outputs of type `E`, decoded.
    pub fn outputs<E: Event>(&self) -> Vec<E> {
        let Some(topic) = TopicCatalog::embedded().for_value(E::FULL_NAME) else {
            return Vec::new();
        };
        self.outputs
            .iter()
            .filter(|o| o.topic == topic.name)
            .map(|o| self.codec.decode::<E>(o.payload).expect("output decodes"))
            .collect()
    }

    /// Records the processor rejected.
    pub fn dead_letters(&self) -> &[DeadLetter] {
        &self.dead_letters
    }
}
