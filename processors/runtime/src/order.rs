//! The order in which a task applied its input records, kept so that a replay after a crash
//! applies them in the same order and publishes the same content under the same ids.
//!
//! A task reads several co-partitioned topics (sales, receipts, adjustments…). Within one topic
//! partition the offsets fix the order, but how the topics interleave depends on fetch timing,
//! and an item-location's ledger entries (sequence, running balance) depend on that
//! interleaving. So:
//!
//! - The task notes every record it applies as runs: "input `i` up to offset `end`" ([`OrderLog`]),
//!   kept from the last committed input position on.
//! - After each round the broker engine writes the partition's log to its changelog (key
//!   [`ORDER_KEY`], so compaction keeps the newest) and the round's outputs leave only once that
//!   record is acknowledged. Every output ever published is thus covered by a logged order.
//! - A restore reads the newest log (the local checkpoint's, then the changelog's), keeps the
//!   runs past the restored offsets, and the task follows them ([`Replay`]): a record that comes
//!   early (another topic's run is due) is held until its run is due. Once the runs are done the
//!   task takes records as they come again.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Changelog key of a partition's order log; state keys never start with NUL.
pub const ORDER_KEY: &str = "\u{0}order";

/// Consecutive records of one input: those before `end` that the run begins at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Input topic index.
    pub input: u32,
    /// One past the run's last applied offset.
    pub end: i64,
}

/// The runs a task applied since its last committed position, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderLog {
    runs: Vec<Run>,
    /// Changed since it was last taken for the changelog.
    dirty: bool,
}

impl OrderLog {
    /// A log of `runs`.
    pub fn from_runs(runs: Vec<Run>) -> Self {
        OrderLog { runs, dirty: false }
    }

    /// The runs, oldest first.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Notes that the record of `input` at `offset` was applied.
    pub fn note(&mut self, input: usize, offset: i64) {
        self.dirty = true;
        match self.runs.last_mut() {
            Some(r) if r.input as usize == input => r.end = r.end.max(offset + 1),
            _ => self.runs.push(Run {
                input: input as u32,
                end: offset + 1,
            }),
        }
    }

    /// Forgets the runs a commit at `offsets` (next offset per input) covers: they are never
    /// replayed.
    pub fn trim(&mut self, offsets: &[i64]) {
        let covered = self
            .runs
            .iter()
            .take_while(|r| offsets.get(r.input as usize).is_some_and(|&o| r.end <= o))
            .count();
        if covered > 0 {
            self.runs.drain(..covered);
        }
    }

    /// The runs not covered by `offsets` (next offset per input), in order: what a task
    /// restored at `offsets` replays.
    pub fn after(&self, offsets: &[i64]) -> Vec<Run> {
        self.runs
            .iter()
            .filter(|r| offsets.get(r.input as usize).is_none_or(|&o| r.end > o))
            .copied()
            .collect()
    }

    /// Whether a record was noted since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// A log read back from the changelog (a serialized list of runs).
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        Ok(OrderLog::from_runs(postcard::from_bytes(bytes)?))
    }
}

/// A consumed record held by its task, owned, until its turn comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Input topic index.
    pub index: usize,
    /// Offset in its partition.
    pub offset: i64,
    /// When it was written to its topic (micros).
    pub written: i64,
    /// Re-driven on purpose past the deduplication window (see [`crate::dedupe`]).
    pub redrive: bool,
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub bytes: Vec<u8>,
}

/// A task replaying logged runs: hands records over in the logged order, holding those that
/// came early.
#[derive(Debug)]
pub struct Replay {
    runs: VecDeque<Run>,
    /// Per input: the next offset not yet handed over or held.
    next: Vec<i64>,
    /// Per input: records that came before their run, by offset.
    held: Vec<BTreeMap<i64, Held>>,
}

impl Replay {
    /// Replays `runs` for a task whose next offsets are `offsets`; None when there is nothing
    /// to replay.
    pub fn new(runs: Vec<Run>, offsets: &[i64]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        Some(Replay {
            runs: runs.into(),
            next: offsets.to_vec(),
            held: offsets.iter().map(|_| BTreeMap::new()).collect(),
        })
    }

    /// The next offset of `input` neither handed over nor held: where its fetch goes on.
    pub fn received(&self, input: usize) -> i64 {
        let held = self.held[input].last_key_value().map_or(0, |(o, _)| o + 1);
        self.next[input].max(held)
    }

    /// Whether every run was handed over (the held records too).
    pub fn done(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs not yet handed over in full, in order.
    pub fn remaining(&self) -> impl Iterator<Item = Run> + '_ {
        self.runs.iter().copied()
    }

    /// Takes a consumed record; appends to `due` the records to apply now, in order (none if it
    /// came early; several if it was the one the held records waited for). A record below the
    /// task's offsets, already handed over or already held (a fetch starts early and may repeat)
    /// is passed over, as the task would.
    pub fn admit(&mut self, record: Held, due: &mut Vec<Held>) {
        let i = record.index;
        if record.offset < self.next[i] || self.held[i].contains_key(&record.offset) {
            return;
        }
        self.held[i].insert(record.offset, record);
        self.release(due);
    }

    /// Hands over the held records whose runs are due, in run order; when the runs are done,
    /// every held record (each input's in offset order).
    fn release(&mut self, due: &mut Vec<Held>) {
        while let Some(run) = self.runs.front().copied() {
            let i = run.input as usize;
            if i >= self.held.len() || self.next[i] >= run.end {
                self.runs.pop_front();
                continue;
            }
            let Some(entry) = self.held[i].first_entry() else {
                return;
            };
            if *entry.key() >= run.end {
                // The run's remaining records are gone from the topic (compaction, retention):
                // nothing of it can be replayed.
                self.runs.pop_front();
                continue;
            }
            let record = entry.remove();
            self.next[i] = record.offset + 1;
            due.push(record);
        }
        for (i, held) in self.held.iter_mut().enumerate() {
            while let Some((offset, record)) = held.pop_first() {
                self.next[i] = offset + 1;
                due.push(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(index: usize, offset: i64) -> Held {
        Held {
            index,
            offset,
            written: 0,
            redrive: false,
            key: None,
            bytes: vec![index as u8, offset as u8],
        }
    }

    fn order(records: &[Held]) -> Vec<(usize, i64)> {
        records.iter().map(|r| (r.index, r.offset)).collect()
    }

    #[test]
    fn runs_grow_while_the_input_stays_and_start_when_it_changes() {
        let mut log = OrderLog::default();
        for (i, o) in [(0, 5), (0, 6), (1, 2), (0, 7), (0, 9)] {
            log.note(i, o);
        }
        let runs: Vec<(u32, i64)> = log.runs().iter().map(|r| (r.input, r.end)).collect();
        assert_eq!(runs, vec![(0, 7), (1, 3), (0, 10)]);
        assert!(log.take_changed());
        assert!(!log.take_changed(), "taken once per change");
    }

    #[test]
    fn a_commit_trims_the_runs_it_covers_and_a_restore_replays_the_rest() {
        let mut log = OrderLog::default();
        for (i, o) in [(0, 0), (1, 0), (0, 1), (1, 1), (1, 2)] {
            log.note(i, o);
        }
        log.trim(&[1, 1]);
        assert_eq!(log.runs().len(), 2);
        assert_eq!(
            log.after(&[2, 1]),
            vec![Run { input: 1, end: 3 }],
            "input 0's run is covered by the restored offsets"
        );
        let bytes = postcard::to_allocvec(log.runs()).expect("encodes");
        assert_eq!(
            OrderLog::decode(&bytes).expect("decodes").runs(),
            log.runs()
        );
    }

    #[test]
    fn records_that_come_early_wait_for_their_run() {
        // Logged: input 0 offsets 10..12, then input 1 offset 4, then input 0 offset 12.
        let runs = vec![
            Run { input: 0, end: 12 },
            Run { input: 1, end: 5 },
            Run { input: 0, end: 13 },
        ];
        let mut replay = Replay::new(runs, &[10, 4]).expect("runs");
        let mut due = Vec::new();
        // Delivered: input 1 first, then input 0 with a rewound repeat.
        replay.admit(held(1, 4), &mut due);
        replay.admit(held(1, 5), &mut due);
        assert!(due.is_empty(), "input 0's run comes first");
        assert_eq!(replay.received(1), 6);
        replay.admit(held(0, 9), &mut due);
        assert!(due.is_empty(), "below the offsets: already applied");
        replay.admit(held(0, 10), &mut due);
        replay.admit(held(0, 11), &mut due);
        replay.admit(held(0, 11), &mut due);
        assert_eq!(order(&due), vec![(0, 10), (0, 11), (1, 4)]);
        assert!(!replay.done());
        replay.admit(held(0, 12), &mut due);
        assert_eq!(
            order(&due),
            vec![(0, 10), (0, 11), (1, 4), (0, 12), (1, 5)],
            "after the runs, held records go through"
        );
        assert!(replay.done());
    }

    #[test]
    fn a_run_whose_records_are_gone_is_passed() {
        let runs = vec![Run { input: 0, end: 3 }, Run { input: 1, end: 1 }];
        let mut replay = Replay::new(runs, &[0, 0]).expect("runs");
        let mut due = Vec::new();
        replay.admit(held(1, 0), &mut due);
        assert!(due.is_empty());
        replay.admit(held(0, 7), &mut due);
        assert_eq!(order(&due), vec![(1, 0), (0, 7)]);
        assert!(replay.done());
    }
}
