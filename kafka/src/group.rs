//! Consumer-group membership that recovers from brokers that keep a dead member's partitions.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext},
};

use crate::settings::KafkaSettings;

/// Tells a member with no partitions for a while to leave and join its group again; the wait
/// doubles from 30 s up to 5 min. Tansu can keep a SIGKILLed member's partitions assigned to it
/// until a join notices the member is gone. On Kafka this costs a surplus member an occasional
/// rebalance.
#[derive(Debug)]
pub struct Rejoin {
    idle_since: Instant,
    after: Duration,
    /// The last rejoin for a partition stalled elsewhere, and the wait before another.
    stalled_at: Option<Instant>,
    stalled_after: Duration,
}

impl Default for Rejoin {
    fn default() -> Self {
        Rejoin {
            idle_since: Instant::now(),
            after: Self::FIRST,
            stalled_at: None,
            stalled_after: Stalls::AFTER,
        }
    }
}

impl Rejoin {
    const FIRST: Duration = Duration::from_secs(30);
    const LONGEST: Duration = Duration::from_secs(300);

    /// Called once per loop turn with whether the member holds partitions and whether a
    /// partition it does not hold is stalled ([`Stalls`]); true means unsubscribe and subscribe
    /// again now.
    pub fn due(&mut self, has_partitions: bool, stalled_elsewhere: bool) -> bool {
        if stalled_elsewhere
            && self
                .stalled_at
                .is_none_or(|t| t.elapsed() > self.stalled_after)
        {
            tracing::warn!(
                "A partition this process does not hold is not consumed; joining the group \
                 again so the broker drops members that are gone."
            );
            self.stalled_at = Some(Instant::now());
            self.stalled_after = (self.stalled_after * 2).min(Self::LONGEST);
            return true;
        }
        if has_partitions {
            self.idle_since = Instant::now();
            self.after = Self::FIRST;
            return false;
        }
        if self.idle_since.elapsed() <= self.after {
            return false;
        }
        tracing::warn!(
            seconds = self.after.as_secs(),
            "No partitions assigned; joining the group again."
        );
        self.idle_since = Instant::now();
        self.after = (self.after * 2).min(Self::LONGEST);
        true
    }
}

/// Commits (topic, partition, next offset) triples to `consumer`'s group. Composerp keeps the
/// offsets that count with its state; the group's show lag in Kafka's tools and let
/// [`Stalls::watch`] see partitions that nobody consumes. A failure is only logged.
pub fn commit_offsets<'a, C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: impl IntoIterator<Item = (&'a str, i32, i64)>,
    mode: CommitMode,
) {
    let mut tpl = TopicPartitionList::new();
    for (topic, p, next) in offsets {
        if tpl
            .add_partition_offset(topic, p, Offset::Offset(next))
            .is_err()
        {
            return;
        }
    }
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, mode)
    {
        tracing::debug!(error = %e, "Group offset commit not queued.");
    }
}

/// Finds input partitions that nobody consumes: the group's committed offset stands below the
/// partition's end for [`Stalls::AFTER`]. Tansu 0.6 can leave a SIGKILLed member's partitions
/// assigned to it while every live member holds others, and a fetch can stall after an
/// assignment change; a live owner then fetches again, any other member rejoins the group
/// (a join makes Tansu drop members that stopped heartbeating).
#[derive(Debug, Default)]
pub struct Stalls {
    /// (input index, partition) → (committed offset last seen, since when).
    seen: HashMap<(usize, i32), (i64, Instant)>,
}

impl Stalls {
    /// How long a partition's committed offset may stand still below its end.
    pub const AFTER: Duration = Duration::from_secs(60);

    /// Every 5 s until `stop`, compares `group`'s committed offset of every partition of `topics`
    /// (name, partition count) with the partition's end and queues the (topic index, partition)
    /// pairs that stand still. Its consumer shares the group's id to read its offsets but never
    /// joins. Blocks: run it on a thread of its own.
    pub fn watch(
        kafka: &KafkaSettings,
        group: &str,
        topics: &[(String, i32)],
        stalls: &Mutex<Vec<(usize, i32)>>,
        stop: &AtomicBool,
    ) {
        let consumer: BaseConsumer = match kafka.consumer(group).create() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "No stall watch: its consumer failed.");
                return;
            }
        };
        let mut seen = Stalls::default();
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() < Duration::from_secs(5) {
                continue;
            }
            last = Instant::now();
            let mut tpl = TopicPartitionList::new();
            for (name, partitions) in topics {
                for p in 0..*partitions {
                    tpl.add_partition(name, p);
                }
            }
            let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else {
                continue;
            };
            for e in committed.elements() {
                let Some(index) = topics.iter().position(|(name, _)| name == e.topic()) else {
                    continue;
                };
                let offset = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => 0,
                };
                let Ok((_, end)) =
                    consumer.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2))
                else {
                    continue;
                };
                if seen.observe(index, e.partition(), offset, end, Instant::now()) {
                    tracing::warn!(
                        topic = e.topic(),
                        partition = e.partition(),
                        committed = offset,
                        end,
                        "Partition stalled: its committed offset has not moved for {} s.",
                        Self::AFTER.as_secs()
                    );
                    stalls
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((index, e.partition()));
                }
            }
        }
    }

    /// Records one reading of input `index`, partition `partition`; true means it is stalled
    /// (reported once per [`Stalls::AFTER`] while it stays so).
    pub fn observe(
        &mut self,
        index: usize,
        partition: i32,
        committed: i64,
        end: i64,
        now: Instant,
    ) -> bool {
        let seen = self
            .seen
            .entry((index, partition))
            .or_insert((committed, now));
        if seen.0 != committed || committed >= end {
            *seen = (committed, now);
            return false;
        }
        if now.duration_since(seen.1) > Self::AFTER {
            seen.1 = now;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_stalled_only_when_its_offset_stands_below_the_end_for_a_minute() {
        let mut s = Stalls::default();
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        assert!(!s.observe(0, 3, 100, 500, at(0)));
        assert!(!s.observe(0, 3, 100, 500, at(30)));
        // Progress restarts the clock.
        assert!(!s.observe(0, 3, 200, 500, at(50)));
        assert!(!s.observe(0, 3, 200, 500, at(100)));
        assert!(s.observe(0, 3, 200, 500, at(111)));
        // Reported once per minute while it lasts.
        assert!(!s.observe(0, 3, 200, 500, at(150)));
        assert!(s.observe(0, 3, 200, 500, at(172)));
        // Caught up (or past a broker's understated end): never stalled.
        assert!(!s.observe(1, 3, 500, 500, at(0)));
        assert!(!s.observe(1, 3, 500, 500, at(500)));
        assert!(!s.observe(1, 4, 900, 500, at(0)));
        assert!(!s.observe(1, 4, 900, 500, at(500)));
    }

    #[test]
    fn a_stall_elsewhere_rejoins_at_once_then_backs_off() {
        let mut r = Rejoin::default();
        assert!(!r.due(true, false));
        assert!(r.due(true, true));
        assert!(!r.due(true, true), "a second rejoin waits");
    }
}
