//! [`TestDriver`]: runs a processor in memory, like Kafka Streams' TopologyTestDriver.
//!
//! Records go through the same encode → decode → process path as on the broker; outputs,
//! dead letters and state can be inspected. No broker, no disk.
//!
//! Crashes can be simulated: [`TestDriver::commit`] makes the states and input offsets durable
//! as a committed batch does, and [`TestDriver::crash`] loses everything since, as a process
//! killed after its outputs were published but before its states were; the records piped next
//! are read again from the committed offsets, in whatever interleaving the test chooses, and
//! the task replays them in the order it first applied them ([`crate::order`]).

use std::collections::BTreeMap;

use composerp_events::{Codec, Event, Timestamp};
use composerp_topics::TopicCatalog;

use crate::{
    order::{Held, OrderLog},
    processor::{Input, Outputs, Processor, Reject, Tables, input_topics},
    states::Change,
    task::{Env, Outcome, Record, Task},
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
    /// What the changelog would hold: every key's last committed entry.
    durable: BTreeMap<String, Option<Vec<u8>>>,
    /// Entries of the batches since the last commit.
    pending: Vec<Change>,
    /// The last commit's input offsets and newest event time.
    marker: (Vec<i64>, i64),
}

impl<P: Processor> TestDriver<P> {
    /// A driver for one partition of `processor`, with empty state and tables. Panics when the
    /// processor's topics do not fit the catalog ([`WiringError`](crate::processor::WiringError)), as `composerp run` would
    /// refuse to start.
    pub fn new(processor: P) -> Self {
        if let Err(e) = input_topics::<P>(TopicCatalog::embedded()) {
            panic!("{e}");
        }
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
            durable: BTreeMap::new(),
            pending: Vec::new(),
            marker: (vec![0; n], i64::MIN),
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

    /// Applies a tombstone of table topic `topic_id` (a catalog id) for `key`.
    pub fn table_delete(&mut self, topic_id: &str, key: &str) {
        let index = <P::Tables as Tables>::TOPICS
            .iter()
            .position(|t| *t == topic_id)
            .unwrap_or_else(|| panic!("{topic_id} is not a table of {}", P::NAME));
        self.tables.delete(index, key);
    }

    /// Feeds, as one batch, every record of `outputs` that is on one of this processor's input
    /// topics, in order: another processor's outputs as the broker would deliver them. Returns
    /// how many were fed.
    pub fn pipe_outputs(&mut self, outputs: &Outputs) -> usize {
        let catalog = TopicCatalog::embedded();
        let names: Vec<Option<&str>> = <P::Input as Input>::TOPICS
            .iter()
            .map(|id| catalog.get(id).ok().map(|t| t.name.as_str()))
            .collect();
        let mut fed = 0;
        for o in outputs.iter() {
            if let Some(index) = names.iter().position(|n| *n == Some(o.topic)) {
                self.feed(index, o.payload.to_vec(), self.now, false);
                fed += 1;
            }
        }
        if fed > 0 {
            self.end_batch();
        }
        fed
    }

    /// Takes the outputs so far, leaving none: for chaining drivers without re-reading.
    pub fn take_outputs(&mut self) -> Outputs {
        std::mem::take(&mut self.outputs)
    }

    /// Processes records as one batch (coalesced outputs are emitted at its end).
    pub fn pipe(&mut self, inputs: impl IntoIterator<Item = P::Input>) {
        for input in inputs {
            let (index, bytes) = input.encode(&self.codec).expect("input encodes");
            self.feed(index, bytes, self.now, false);
        }
        self.end_batch();
    }

    /// Processes one record as a batch, stamped as written to its topic at `written` (the
    /// others are stamped with the wall clock), and re-driven past the deduplication window if
    /// `redrive` (as `composerp dlq replay --beyond-window` marks it; see [`crate::dedupe`]).
    pub fn pipe_written(&mut self, input: P::Input, written: Timestamp, redrive: bool) {
        let (index, bytes) = input.encode(&self.codec).expect("input encodes");
        self.feed(index, bytes, written, redrive);
        self.end_batch();
    }

    /// Processes raw bytes as if read from input topic `topic_id` (for poison records).
    pub fn pipe_raw(&mut self, topic_id: &str, bytes: Vec<u8>) {
        let index = <P::Input as Input>::TOPICS
            .iter()
            .position(|t| *t == topic_id)
            .unwrap_or_else(|| panic!("{topic_id} is not an input of {}", P::NAME));
        self.feed(index, bytes, self.now, false);
        self.end_batch();
    }

    fn feed(&mut self, index: usize, bytes: Vec<u8>, written: Timestamp, redrive: bool) {
        let offset = self.next_offset[index];
        self.next_offset[index] += 1;
        let record = Held {
            index,
            offset,
            written: written.0,
            redrive,
            key: None,
            bytes,
        };
        let mut due = Vec::new();
        self.task.admit(record, &mut due);
        for r in due {
            self.handle(r);
        }
    }

    fn handle(&mut self, r: Held) {
        let env = Env::new(&self.processor, &self.tables, &self.codec, self.now);
        let record = Record {
            index: r.index,
            partition: self.task.partition,
            offset: r.offset,
            written: r.written,
            redrive: r.redrive,
            bytes: &r.bytes,
        };
        match self
            .task
            .handle(&env, &record, &mut self.outputs)
            .expect("outputs encode")
        {
            Outcome::Applied | Outcome::AlreadyApplied | Outcome::Duplicate => {}
            Outcome::Rejected(reject) => self.dead_letters.push(DeadLetter {
                topic: <P::Input as Input>::TOPICS[r.index],
                offset: r.offset,
                reject,
                bytes: r.bytes,
            }),
        }
    }

    fn end_batch(&mut self) {
        let env = Env::new(&self.processor, &self.tables, &self.codec, self.now);
        self.task
            .end_batch(&env, &mut self.outputs)
            .expect("outputs encode");
        // The rows are made as the engine makes them (a state that does not serialize fails its
        // processor's tests) and kept for the next commit.
        let rows = self.task.take_changes().expect("states serialize");
        self.pending.extend(rows);
    }

    /// Commits what was piped so far, as the engine's commit does: the states and the input
    /// offsets become durable, and a [`TestDriver::crash`] goes back to here.
    pub fn commit(&mut self) {
        self.durable.extend(self.pending.drain(..));
        self.marker = (self.task.offsets.clone(), self.task.max_event_time);
        self.task.order.trim(&self.task.offsets);
    }

    /// Crashes after the outputs since the last commit were published but before any of their
    /// states were stored: the task is restored from the last commit and will replay the
    /// records it applied since in the order it applied them. Records piped next are read from
    /// the committed offsets again. Outputs and dead letters so far are kept for inspection.
    pub fn crash(&mut self) {
        self.pending.clear();
        self.restore();
    }

    /// Like [`TestDriver::crash`], but after the states of the batches since the last commit
    /// were stored and before the commit itself (on the broker: changelog entries written, the
    /// commit marker not): the processor must recognise what its states already reflect.
    pub fn crash_after_states(&mut self) {
        self.durable.extend(self.pending.drain(..));
        self.restore();
    }

    fn restore(&mut self) {
        let log = OrderLog::from_runs(self.task.order_runs());
        let mut task = Task::new(self.task.partition);
        for (key, value) in &self.durable {
            task.restore_entry(key, value.as_deref())
                .expect("stored states deserialize");
        }
        task.offsets.clone_from(&self.marker.0);
        task.max_event_time = self.marker.1;
        task.resume(&log);
        self.next_offset.clone_from(&self.marker.0);
        self.task = task;
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

#[cfg(test)]
mod tests {
    use composerp_events::pos::SaleCompleted;

    use super::*;
    use crate::processor::{Context, NoTables, WiringError};

    /// A processor that only declares inputs; `I` picks which.
    struct Declares<I>(std::marker::PhantomData<fn() -> I>);

    impl<I: Input + Sync> Processor for Declares<I> {
        const NAME: &'static str = "declares";
        type Input = I;
        type State = ();
        type Tables = NoTables;

        fn process(&self, _: &I, _: &mut Context<'_, (), NoTables>) -> Result<(), Reject> {
            Ok(())
        }
    }

    crate::inputs! {
        /// The sales topic, spelled wrong.
        enum Misspelt { "pos.sale" => Sale(SaleCompleted) }
    }

    crate::inputs! {
        /// Sales read from the receipts topic.
        enum Mistyped { "procurement.receipts" => Sale(SaleCompleted) }
    }

    crate::inputs! {
        /// Sales, declared right.
        enum Sales { "pos.sales" => Sale(SaleCompleted) }
    }

    fn wiring<I: Input + Sync>() -> Result<Vec<String>, WiringError> {
        let specs = input_topics::<Declares<I>>(TopicCatalog::embedded())?;
        Ok(specs.into_iter().map(|s| s.id).collect())
    }

    #[test]
    fn an_input_topic_id_missing_from_the_catalog_is_refused() {
        let e = wiring::<Misspelt>().expect_err("pos.sale is not a topic");
        assert!(matches!(e, WiringError::Unknown { .. }), "{e}");
        assert!(e.to_string().contains("pos.sale"), "{e}");
    }

    #[test]
    fn an_input_topic_of_another_record_type_is_refused() {
        let e = wiring::<Mistyped>().expect_err("receipts are not sales");
        assert!(
            matches!(
                e,
                WiringError::WrongRecord {
                    topic: "procurement.receipts",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn inputs_that_fit_the_catalog_are_returned_in_order() {
        assert_eq!(wiring::<Sales>().expect("fits"), ["pos.sales"]);
    }

    #[test]
    #[should_panic(expected = "pos.sale")]
    fn the_driver_refuses_a_processor_whose_topics_do_not_fit() {
        TestDriver::new(Declares::<Misspelt>(std::marker::PhantomData));
    }
}
