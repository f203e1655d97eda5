//! One partition's work: decode, process, keep state and progress. Shared by the broker engine
//! and the [`TestDriver`](crate::driver::TestDriver), so processor logic runs the same in both.

use composerp_events::{Codec, Timestamp};
use composerp_topics::TopicCatalog;

use crate::{
    dedupe::{Dedupe, Verdict},
    order::{Held, OrderLog, Replay, Run},
    processor::{Context, EmitError, Input, Outputs, Processor, Reject},
    states::{Change, StateError, States},
    timer::{TimerKind, Timers},
};

/// What became of one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed.
    Applied,
    /// Bad record: to the dead-letter topic.
    Rejected(Reject),
    /// Below the partition's stored offset: already reflected in the state.
    AlreadyApplied,
    /// Repeats the event id of a record already applied (see [`crate::dedupe`]): skipped.
    Duplicate,
}

/// One consumed record, as the runtime hands it to a task.
#[derive(Debug, Clone, Copy)]
pub struct Record<'m> {
    /// Input topic index.
    pub index: usize,
    /// Partition.
    pub partition: i32,
    /// Offset in its partition.
    pub offset: i64,
    /// When it was written to its topic (micros: the record's timestamp, which the
    /// deduplication window follows).
    pub written: i64,
    /// Re-driven on purpose past the deduplication window (see [`crate::dedupe`]).
    pub redrive: bool,
    /// Value.
    pub bytes: &'m [u8],
}

/// State and progress of one partition of a processor.
pub struct Task<P: Processor> {
    /// Partition number (the same for every input topic).
    pub partition: i32,
    /// Every key's state, and the keys changed since the last commit.
    pub states: States<P::State>,
    /// Next offset to read, per input topic index (0 = from the start).
    pub offsets: Vec<i64>,
    /// Newest event time seen.
    pub max_event_time: i64,
    /// Timers set by the processor.
    pub timers: Timers,
    /// Input event ids remembered for deduplication.
    pub dedupe: Dedupe,
    /// The order in which records were applied since the last commit ([`crate::order`]).
    pub order: OrderLog,
    /// The logged order a restored task follows until it has replayed it.
    replay: Option<Replay>,
}

/// What a task needs from its surroundings while processing.
pub struct Env<'a, P: Processor> {
    /// The processor.
    pub processor: &'a P,
    /// Reference data.
    pub tables: &'a P::Tables,
    /// Codec for inputs and outputs.
    pub codec: &'a Codec,
    /// Topic catalog.
    pub topics: &'static TopicCatalog,
    /// Wall-clock time of the batch.
    pub now: Timestamp,
}

impl<'a, P: Processor> Env<'a, P> {
    /// The surroundings of one batch, over the embedded topic catalog.
    pub fn new(processor: &'a P, tables: &'a P::Tables, codec: &'a Codec, now: Timestamp) -> Self {
        Env {
            processor,
            tables,
            codec,
            topics: TopicCatalog::embedded(),
            now,
        }
    }
}

impl<P: Processor> Task<P> {
    /// An empty task for `partition`.
    pub fn new(partition: i32) -> Self {
        Task {
            partition,
            states: States::default(),
            offsets: vec![0; <P::Input as Input>::TOPICS.len()],
            max_event_time: i64::MIN,
            timers: Timers::default(),
            dedupe: Dedupe::new(<P::Input as Input>::TOPICS.len(), P::DEDUPE_WINDOW_MICROS),
            order: OrderLog::default(),
            replay: None,
        }
    }

    /// Makes a restored task (at its restored offsets) replay the runs of `log` it has not
    /// committed, in their order.
    pub fn resume(&mut self, log: &OrderLog) {
        self.order = OrderLog::default();
        self.replay = Replay::new(log.after(&self.offsets), &self.offsets);
    }

    /// Whether consumed records must go through [`Task::admit`] (a logged order is being
    /// replayed).
    pub fn replaying(&self) -> bool {
        self.replay.is_some()
    }

    /// Takes a consumed record; appends to `due` the records to handle now, in the order the
    /// logged runs say (the record itself when no order is being replayed).
    pub fn admit(&mut self, record: Held, due: &mut Vec<Held>) {
        match &mut self.replay {
            Some(replay) => {
                replay.admit(record, due);
                if replay.done() {
                    self.replay = None;
                }
            }
            None => due.push(record),
        }
    }

    /// The next offset of input `index` the task has neither applied nor holds: where its
    /// fetch goes on.
    pub fn received(&self, index: usize) -> i64 {
        let held = self.replay.as_ref().map_or(0, |r| r.received(index));
        self.offsets[index].max(held)
    }

    /// The runs a replay after a crash follows: those applied since the last commit, then
    /// those of a replay not yet applied.
    pub fn order_runs(&self) -> Vec<Run> {
        let mut runs = self.order.runs().to_vec();
        if let Some(r) = &self.replay {
            runs.extend(r.remaining());
        }
        runs
    }

    /// The order log serialized for the changelog, if records were applied since the last
    /// call.
    pub fn take_order(&mut self) -> Option<Vec<u8>> {
        if !self.order.take_changed() {
            return None;
        }
        postcard::to_allocvec(&self.order_runs()).ok()
    }

    /// Event-time watermark: newest event time seen minus the allowed lateness.
    pub fn watermark(&self) -> Timestamp {
        Timestamp(
            self.max_event_time
                .saturating_sub(P::ALLOWED_LATENESS_MICROS),
        )
    }

    /// Handles one record `r` of this task's partition; outputs are appended to `out`.
    pub fn handle(
        &mut self,
        env: &Env<'_, P>,
        r: &Record<'_>,
        out: &mut Outputs,
    ) -> Result<Outcome, EmitError> {
        let (index, offset, written) = (r.index, r.offset, r.written);
        if offset < self.offsets[index] {
            return Ok(Outcome::AlreadyApplied);
        }
        self.offsets[index] = offset + 1;
        self.order.note(index, offset);
        let input = match <P::Input as Input>::decode(index, env.codec, r.bytes) {
            Ok(i) => i,
            Err(e) => return Ok(Outcome::Rejected(e.into())),
        };
        let at = input.occurred_at().0;
        let mut fresh = None;
        if self.dedupe.enabled() {
            match self.dedupe.check(
                index,
                input.tenant_id(),
                input.event_id(),
                (written, offset),
                r.redrive,
            ) {
                Verdict::New { key, at } => fresh = Some((key, at)),
                Verdict::Replay => {}
                Verdict::Duplicate => return Ok(Outcome::Duplicate),
                Verdict::BeyondWindow { cutoff } => {
                    return Ok(Outcome::Rejected(Reject::new(
                        "beyond_dedupe_window",
                        format!(
                            "event {} was written to its topic at {}, before {}, the start of \
                             the window in which the topic's event ids are remembered, so a \
                             repeat cannot be told apart (a producer clock far behind?); if it \
                             never applied, re-drive it with `composerp dlq replay \
                             --beyond-window`",
                            input.event_id(),
                            Timestamp(written),
                            Timestamp(cutoff)
                        ),
                    )));
                }
            }
        }
        if let Some(skew) = env.processor.max_future_skew_micros()
            && written > 0
            && at > written.saturating_add(skew)
        {
            return Ok(Outcome::Rejected(Reject::new(
                "future_timestamp",
                format!(
                    "event {} happened at {}, more than {} s after it was written to its topic \
                     at {} (a till clock ahead?); it would move event time forward, so it is \
                     set aside to be re-driven once its clock is fixed or its time has come",
                    input.event_id(),
                    Timestamp(at),
                    skew / 1_000_000,
                    Timestamp(written)
                ),
            )));
        }
        self.max_event_time = self.max_event_time.max(at);
        let mut error = None;
        let mark = out.len();
        let result = {
            let mut ctx = self.context(env, out, &mut error);
            ctx.source = (index, offset);
            env.processor.process(&input, &mut ctx)
        };
        if let Some(e) = error {
            return Err(e);
        }
        match result {
            Ok(()) => {
                if let Some((key, at)) = fresh {
                    self.dedupe.record(key, at, offset);
                }
                self.fire(env, TimerKind::EventTime, self.watermark(), out)?;
                Ok(Outcome::Applied)
            }
            Err(reject) => {
                out.truncate(mark);
                Ok(Outcome::Rejected(reject))
            }
        }
    }

    /// Runs every timer of `kind` due at `now` (in due order); returns how many fired.
    pub fn fire(
        &mut self,
        env: &Env<'_, P>,
        kind: TimerKind,
        now: Timestamp,
        out: &mut Outputs,
    ) -> Result<usize, EmitError> {
        let mut fired = 0;
        while let Some(timer) = self.timers.pop_due(kind, now) {
            let mut error = None;
            {
                let mut ctx = self.context(env, out, &mut error);
                env.processor.on_timer(&timer, &mut ctx);
            }
            if let Some(e) = error {
                return Err(e);
            }
            fired += 1;
        }
        Ok(fired)
    }

    /// Drains the states, timers and deduplication ids changed since the last call, serialized
    /// (states in the order of their first change).
    pub fn take_changes(&mut self) -> Result<Vec<Change>, StateError> {
        let mut rows = Vec::with_capacity(self.states.changed().len() + self.timers.dirty.len());
        // Serialized into one scratch buffer, then copied out at its exact size: growing a
        // fresh vector per state cost more than the serialization itself.
        let mut scratch = vec![0u8; 16 * 1024];
        self.states.take_changed(|key, state| {
            let value = match state {
                Some(s) => Some(match postcard::to_slice(s, &mut scratch) {
                    Ok(bytes) => bytes.to_vec(),
                    Err(_) => postcard::to_allocvec(s).map_err(|e| StateError {
                        key: key.to_owned(),
                        detail: e.to_string(),
                    })?,
                }),
                None => None,
            };
            rows.push((key.to_owned(), value));
            Ok(())
        })?;
        let timers: Vec<_> = self.timers.dirty.drain().collect();
        for (kind, name) in timers {
            rows.push((Timers::key(kind, &name), self.timers.value(kind, &name)));
        }
        self.dedupe.take_changes(&mut rows)?;
        Ok(rows)
    }

    /// Applies a stored entry (the store's or the changelog's; None: removed) to the task.
    pub fn restore_entry(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StateError> {
        if self.timers.restore(key, value) || self.dedupe.restore(key, value)? {
            return Ok(());
        }
        match value {
            Some(bytes) => {
                let state = postcard::from_bytes(bytes).map_err(|e| StateError {
                    key: key.to_owned(),
                    detail: e.to_string(),
                })?;
                self.states.restore(key, state);
            }
            None => self.states.restore_removal(key),
        }
        Ok(())
    }

    /// Runs the wall-clock timers due at the batch's time, then lets the processor emit its
    /// coalesced results for the batch.
    pub fn end_batch(&mut self, env: &Env<'_, P>, out: &mut Outputs) -> Result<(), EmitError> {
        self.fire(env, TimerKind::WallClock, env.now, out)?;
        let mut error = None;
        {
            let mut ctx = self.context(env, out, &mut error);
            env.processor.end_batch(&mut ctx);
        }
        error.map_or(Ok(()), Err)
    }

    fn context<'a>(
        &'a mut self,
        env: &'a Env<'_, P>,
        out: &'a mut Outputs,
        error: &'a mut Option<EmitError>,
    ) -> Context<'a, P::State, P::Tables> {
        let watermark = self.watermark();
        Context {
            states: &mut self.states,
            outputs: out,
            tables: env.tables,
            codec: env.codec,
            topics: env.topics,
            watermark,
            now: env.now,
            source: (usize::MAX, -1),
            timers: &mut self.timers,
            error,
        }
    }
}
