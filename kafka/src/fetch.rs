//! Exact fetching on every Kafka-protocol broker: start a little early, skip what was applied,
//! and fetch a gap in the consumed offsets once more.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// How far before a stored offset a fetch starts. Some brokers (Tansu) answer a fetch from the
/// middle of a stored batch with the batches after it, losing the batch's rest; starting this
/// many records earlier (at least one producer batch) and passing over the records before the
/// offset is exact on every broker.
pub const FETCH_REWIND: i64 = 10_000;

/// What to do with a consumed record, given the offsets its partition has applied.
#[derive(Debug, PartialEq, Eq)]
pub enum GapCheck {
    /// Handle it.
    Continue,
    /// Skip it: queued before a re-fetch.
    Drop,
    /// Records before it are missing: fetch again from this offset.
    Refetch(i64),
}

/// Finds gaps in the consumed offsets of each input partition. A consumer that restarts its
/// fetch from the middle of a stored batch (librdkafka does after some assignment changes) gets
/// the batches after it from some brokers (Tansu), silently skipping the batch's rest. A gap
/// is fetched again once; if it is still there, it is real (compaction, transaction markers).
#[derive(Debug, Default)]
pub struct Gaps {
    /// (input index, partition) → (offset expected, when the re-fetch began, a record before
    /// the expected offset has arrived since).
    refetching: HashMap<(usize, i32), (i64, Instant, bool)>,
}

impl Gaps {
    /// Checks a consumed record of input `index` against `expected`, the next offset its
    /// partition has not applied (None: the partition is not handled here).
    pub fn check(
        &mut self,
        expected: Option<i64>,
        index: usize,
        partition: i32,
        offset: i64,
    ) -> GapCheck {
        let Some(expected) = expected else {
            return GapCheck::Continue;
        };
        let key = (index, partition);
        if self.refetching.is_empty() && offset <= expected {
            return GapCheck::Continue;
        }
        if let Some((x, since, refetched)) = self.refetching.get_mut(&key) {
            if offset < *x {
                *refetched = true;
                return GapCheck::Continue;
            }
            if offset == *x || *refetched || since.elapsed() > Duration::from_secs(10) {
                self.refetching.remove(&key);
                return GapCheck::Continue;
            }
            return GapCheck::Drop;
        }
        // The first record of a partition may start anywhere (retention); offset 0 means the
        // partition was never read.
        if offset > expected && expected > 0 {
            self.refetching
                .insert(key, (expected, Instant::now(), false));
            return GapCheck::Refetch(expected);
        }
        GapCheck::Continue
    }

    /// Forgets a re-fetch of input `index`, partition `partition` (its seek failed).
    pub fn clear(&mut self, index: usize, partition: i32) {
        self.refetching.remove(&(index, partition));
    }
}
