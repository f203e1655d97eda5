//! The runtime's deduplication of input events: a processor that sets
//! [`Processor::DEDUPE_WINDOW_MICROS`](crate::processor::Processor::DEDUPE_WINDOW_MICROS) never
//! sees a second record with the same (input topic, tenant, event id) within that window.
//!
//! - The window follows when records were written to their topic (the Kafka record timestamp),
//!   per input topic: a repeat written within the window of the newest record of its topic is
//!   dropped. Event time is the wrong clock for this: a partition of a topic interleaves many
//!   producers (stores uploading late, or the ledger's own repartition topic fed by partitions
//!   that progress at different speeds), so its event times can lie days apart, while a repeat
//!   (a producer's retry, a re-sent file, a replay) is written soon after the original. Late
//!   events are therefore never refused for being late. A record stamped older than its topic's
//!   window (a producer clock far behind) cannot be checked, so it is dead-lettered, never
//!   applied twice.
//! - Ids live in one compact map beside the states (about 50 bytes an id, no per-id key string).
//!   Each commit stores the ids it added as one segment (a few per batch), under a key no state
//!   uses, in the local store and the changelog; a segment is deleted once all its ids have left
//!   the window, and the map is swept as the window moves on.
//! - A replayed record (same topic and offset as the recorded one, after a crash) is not a
//!   duplicate: it is handed to the processor again, which recognises what its states already
//!   reflect.
//! - A record re-driven on purpose from the dead-letter topic (`composerp dlq replay
//!   --beyond-window`, which sets the [`REDRIVE_HEADER`](composerp_kafka::dlq::REDRIVE_HEADER))
//!   is applied even if written before the window: the operator vouches that it never applied.
//!   Its id is then remembered as if written at the window's newest time, so any further copy
//!   within a whole window is a duplicate.

use std::collections::BTreeMap;

use composerp_events::EventId;
use serde::{Deserialize, Serialize};

use crate::states::{Change, StateError};

/// Prefix of the store and changelog keys that hold id segments; state keys never start with it.
pub(crate) const DEDUPE_PREFIX: &str = "\u{1}dedupe|";

/// At most this many ids per segment, so a segment stays far below Kafka's default record size
/// limit of 1 MB (an id takes about 30 bytes).
const SEGMENT_IDS: usize = 8_192;

/// What the window says of an input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not seen (or re-driven past the window): process it, then [`Dedupe::record`] it at
    /// `at` if it was applied.
    New {
        /// The id.
        key: IdKey,
        /// The record time to remember it at: its own, or for a re-driven record the window's
        /// newest, so that it stays remembered for a whole window.
        at: i64,
    },
    /// The same record as the one remembered (a replay after a crash): process it.
    Replay,
    /// Another record with the id was applied: skip it.
    Duplicate,
    /// Written before the window of its topic: whether it is a duplicate cannot be known.
    BeyondWindow {
        /// The oldest record time the window still covers.
        cutoff: i64,
    },
}

/// A remembered id: tenant (interned), input topic index, event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdKey {
    tenant: u32,
    input: u8,
    id: [u8; 16],
}

/// Where a remembered id was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    /// When its record was written to the topic (micros).
    at: i64,
    offset: i64,
}

/// One stored segment: the ids one commit added.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Segment {
    tenants: Vec<String>,
    /// (index into `tenants`, input, id, record time, offset).
    ids: Vec<(u32, u8, [u8; 16], i64, i64)>,
}

/// The remembered ids of one partition.
#[derive(Debug)]
pub struct Dedupe {
    window: i64,
    tenant_ids: foldhash::HashMap<String, u32>,
    tenant_names: Vec<String>,
    seen: foldhash::HashMap<IdKey, Applied>,
    /// Per input topic, the newest record time recorded.
    newest: Vec<i64>,
    /// Per input topic, the cutoff the map was last swept to.
    swept: Vec<i64>,
    /// Ids recorded since the last commit.
    fresh: Vec<(IdKey, Applied)>,
    /// Stored segments: number → per input topic, the newest record time in it.
    segments: BTreeMap<u64, Vec<i64>>,
    next_segment: u64,
}

fn segment_key(n: u64) -> String {
    format!("{DEDUPE_PREFIX}{n:016x}")
}

impl Dedupe {
    /// An empty set for `inputs` topics, remembering ids for `window` microseconds of record time
    /// (0: deduplication off).
    pub fn new(inputs: usize, window: i64) -> Self {
        Dedupe {
            window,
            tenant_ids: foldhash::HashMap::default(),
            tenant_names: Vec::new(),
            seen: foldhash::HashMap::default(),
            newest: vec![i64::MIN; inputs],
            swept: vec![i64::MIN; inputs],
            fresh: Vec::new(),
            segments: BTreeMap::new(),
            next_segment: 0,
        }
    }

    /// Deduplication is on.
    pub fn enabled(&self) -> bool {
        self.window > 0
    }

    /// Number of remembered ids.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// No id is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn cutoff(&self, input: usize) -> i64 {
        self.newest[input].saturating_sub(self.window)
    }

    fn tenant(&mut self, tenant: &str) -> u32 {
        if let Some(&t) = self.tenant_ids.get(tenant) {
            return t;
        }
        let t = self.tenant_names.len() as u32;
        self.tenant_names.push(tenant.to_owned());
        self.tenant_ids.insert(tenant.to_owned(), t);
        t
    }

    /// Classifies the record at `offset` of input `input`, written at `at`, with event `id` of
    /// `tenant`; `redrive`: re-driven on purpose, so applied even if beyond the window.
    pub fn check(
        &mut self,
        input: usize,
        tenant: &str,
        id: EventId,
        (at, offset): (i64, i64),
        redrive: bool,
    ) -> Verdict {
        let key = IdKey {
            tenant: self.tenant(tenant),
            input: input as u8,
            id: *id.0.as_bytes(),
        };
        match self.seen.get(&key) {
            Some(a) if a.offset == offset => Verdict::Replay,
            Some(_) => Verdict::Duplicate,
            None if at < self.cutoff(input) && !redrive => Verdict::BeyondWindow {
                cutoff: self.cutoff(input),
            },
            None if at < self.cutoff(input) => Verdict::New {
                key,
                at: self.newest[input],
            },
            None => Verdict::New { key, at },
        }
    }

    /// Remembers an applied record that [`Dedupe::check`] called new.
    pub fn record(&mut self, key: IdKey, at: i64, offset: i64) {
        let applied = Applied { at, offset };
        self.seen.insert(key, applied);
        self.fresh.push((key, applied));
        let newest = &mut self.newest[key.input as usize];
        *newest = (*newest).max(at);
    }

    /// Appends the store and changelog rows of this commit: the new segments and the deletion of
    /// the segments whose ids all left the window; sweeps the map when the window moved.
    pub fn take_changes(&mut self, rows: &mut Vec<Change>) -> Result<(), StateError> {
        // Taken, then put back emptied: it keeps its capacity for the next batch (a new vector
        // grew from empty every batch, into memory the OS had to fault in and zero).
        let fresh = std::mem::take(&mut self.fresh);
        for chunk in fresh.chunks(SEGMENT_IDS) {
            let n = self.next_segment;
            self.next_segment += 1;
            let mut segment = Segment {
                tenants: Vec::new(),
                ids: Vec::with_capacity(chunk.len()),
            };
            let mut local = foldhash::HashMap::<u32, u32>::default();
            let mut newest = vec![i64::MIN; self.newest.len()];
            for (k, a) in chunk {
                let next = local.len() as u32;
                let t = *local.entry(k.tenant).or_insert_with(|| {
                    segment
                        .tenants
                        .push(self.tenant_names[k.tenant as usize].clone());
                    next
                });
                segment.ids.push((t, k.input, k.id, a.at, a.offset));
                let n = &mut newest[k.input as usize];
                *n = (*n).max(a.at);
            }
            let key = segment_key(n);
            let bytes = postcard::to_allocvec(&segment).map_err(|e| StateError {
                key: key.clone(),
                detail: e.to_string(),
            })?;
            rows.push((key, Some(bytes)));
            self.segments.insert(n, newest);
        }
        self.fresh = fresh;
        self.fresh.clear();
        let cutoffs: Vec<i64> = (0..self.newest.len()).map(|i| self.cutoff(i)).collect();
        let expired: Vec<u64> = self
            .segments
            .iter()
            .filter(|(_, newest)| newest.iter().zip(&cutoffs).all(|(n, c)| n < c))
            .map(|(n, _)| *n)
            .collect();
        for n in expired {
            self.segments.remove(&n);
            rows.push((segment_key(n), None));
        }
        // Sweep once the window has moved on by a sixteenth of itself on some input, so the map
        // holds at most about 1/16 more than the window and the sweeps cost little per record.
        let step = (self.window / 16).max(1);
        if cutoffs
            .iter()
            .zip(&self.swept)
            .any(|(c, s)| c.saturating_sub(*s) >= step)
        {
            self.seen.retain(|k, a| a.at >= cutoffs[k.input as usize]);
            self.swept = cutoffs;
        }
        Ok(())
    }

    /// Applies a stored row if it is a segment's (true), else leaves it to the states (false).
    pub fn restore(&mut self, key: &str, value: Option<&[u8]>) -> Result<bool, StateError> {
        let Some(n) = key.strip_prefix(DEDUPE_PREFIX) else {
            return Ok(false);
        };
        let bad = |detail: String| StateError {
            key: key.to_owned(),
            detail,
        };
        let n = u64::from_str_radix(n, 16).map_err(|e| bad(e.to_string()))?;
        self.next_segment = self.next_segment.max(n + 1);
        let Some(bytes) = value else {
            self.segments.remove(&n);
            return Ok(true);
        };
        let segment: Segment = postcard::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let tenants: Vec<u32> = segment.tenants.iter().map(|t| self.tenant(t)).collect();
        let mut newest = vec![i64::MIN; self.newest.len()];
        for (t, input, id, at, offset) in segment.ids {
            let i = input as usize;
            let Some(&tenant) = tenants.get(t as usize) else {
                return Err(bad(format!("tenant index {t} out of range")));
            };
            if i >= newest.len() {
                return Err(bad(format!("input {i} out of range")));
            }
            let key = IdKey { tenant, input, id };
            self.seen.entry(key).or_insert(Applied { at, offset });
            newest[i] = newest[i].max(at);
            self.newest[i] = self.newest[i].max(at);
        }
        self.segments.insert(n, newest);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn id(n: &str) -> EventId {
        EventId::from_name(n)
    }

    fn apply(d: &mut Dedupe, input: usize, name: &str, at: i64, offset: i64) -> Verdict {
        let v = d.check(input, "t1", id(name), (at, offset), false);
        if let Verdict::New { key, at } = v {
            d.record(key, at, offset);
        }
        v
    }

    #[test]
    fn a_second_record_with_an_id_is_a_duplicate_and_the_same_record_a_replay() {
        let mut d = Dedupe::new(2, 7 * DAY);
        assert!(matches!(apply(&mut d, 0, "a", DAY, 0), Verdict::New { .. }));
        assert_eq!(apply(&mut d, 0, "a", DAY, 5), Verdict::Duplicate);
        assert_eq!(apply(&mut d, 0, "a", DAY, 0), Verdict::Replay);
        assert!(
            matches!(apply(&mut d, 1, "a", DAY, 0), Verdict::New { .. }),
            "per input topic"
        );
        assert!(
            matches!(
                d.check(0, "t2", id("a"), (DAY, 9), false),
                Verdict::New { .. }
            ),
            "per tenant"
        );
    }

    #[test]
    fn the_window_trails_each_topics_newest_record_time() {
        let mut d = Dedupe::new(2, 7 * DAY);
        apply(&mut d, 0, "new", 30 * DAY, 0);
        assert!(matches!(
            apply(&mut d, 0, "old", 22 * DAY, 1),
            Verdict::BeyondWindow { cutoff } if cutoff == 23 * DAY
        ));
        assert!(
            matches!(apply(&mut d, 1, "old", 22 * DAY, 0), Verdict::New { .. }),
            "another topic's time does not move this one's window"
        );
    }

    #[test]
    fn a_redriven_record_is_remembered_for_a_whole_window() {
        let mut d = Dedupe::new(1, 7 * DAY);
        apply(&mut d, 0, "new", 30 * DAY, 0);
        let Verdict::New { key, at } = d.check(0, "t1", id("old"), (2 * DAY, 1), true) else {
            panic!("re-driven, so new although beyond the window");
        };
        d.record(key, at, 1);
        assert_eq!(apply(&mut d, 0, "old", 2 * DAY, 1), Verdict::Replay);
        assert_eq!(
            apply(&mut d, 0, "old", 30 * DAY, 2),
            Verdict::Duplicate,
            "a copy written later"
        );
        apply(&mut d, 0, "newer", 36 * DAY, 3);
        let mut rows = Vec::new();
        d.take_changes(&mut rows).expect("segments");
        assert_eq!(
            apply(&mut d, 0, "old", 36 * DAY, 4),
            Verdict::Duplicate,
            "still remembered six days on, however old it was"
        );
    }

    #[test]
    fn segments_restore_the_ids_and_expire_with_the_window() {
        let mut d = Dedupe::new(1, 7 * DAY);
        apply(&mut d, 0, "a", DAY, 0);
        apply(&mut d, 0, "b", 2 * DAY, 1);
        let mut rows = Vec::new();
        d.take_changes(&mut rows).expect("segment");
        assert_eq!(rows.len(), 1);
        let mut back = Dedupe::new(1, 7 * DAY);
        for (k, v) in &rows {
            assert!(back.restore(k, v.as_deref()).expect("restore"));
        }
        assert!(!back.restore("p|t1|s|i", None).expect("a state key"));
        assert_eq!(back.len(), 2);
        assert_eq!(apply(&mut back, 0, "a", DAY, 7), Verdict::Duplicate);
        assert_eq!(apply(&mut back, 0, "b", 2 * DAY, 1), Verdict::Replay);

        apply(&mut back, 0, "late", 20 * DAY, 2);
        let mut rows = Vec::new();
        back.take_changes(&mut rows).expect("expiry");
        let (deleted, written): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, v)| v.is_none());
        assert_eq!(deleted.len(), 1, "the first segment left the window");
        assert_eq!(written.len(), 1);
        assert_eq!(back.len(), 1, "swept from memory too");
        assert_ne!(
            deleted[0].0, written[0].0,
            "segment numbers continue after a restore"
        );
    }

    #[test]
    fn a_large_commit_is_split_into_bounded_segments() {
        let mut d = Dedupe::new(1, 7 * DAY);
        for n in 0..(SEGMENT_IDS + 10) {
            apply(&mut d, 0, &n.to_string(), DAY, n as i64);
        }
        let mut rows = Vec::new();
        d.take_changes(&mut rows).expect("segments");
        assert_eq!(rows.len(), 2);
        assert!(
            rows.iter()
                .all(|(_, v)| v.as_ref().is_some_and(|b| b.len() < 512 * 1024))
        );
    }
}
