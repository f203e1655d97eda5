//! Fencing a superseded owner: a round's outputs leave only while the partition is still this
//! process's.
//!
//! A broker can hand a partition to a second live process before the first lets go (Tansu
//! does after a SIGKILL elsewhere in the group). The newer owner writes a restore sentinel to
//! the partition's changelog and replays from there, following the order logs before its
//! sentinel (`crate::order`); if the older one went on publishing, it would publish outputs of
//! records in an order nobody replays. So every order log is checked where it lands: at the
//! offset this process's own writes alone would give it, nobody else wrote in between and the
//! round's outputs may leave. Anywhere else, the range in between is read: from just after the
//! last own record known to have landed with nobody else's before it (the restore sentinel, or
//! an earlier order log) up to the order log, since a foreign record anywhere in there shifts
//! every own record after it. Another writer's sentinel in that range means a newer owner, and
//! the engine publishes nothing more and starts over from the changelog; anything else (a
//! superseded owner's late writes, a record the producer sent twice) only shifts where this
//! process's records land.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
};

use composerp_kafka::fetch::FETCH_REWIND;

/// An order log that did not land where expected, held until the range before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspect {
    /// The ticket its round's outputs wait for.
    pub ticket: u64,
    /// Partition.
    pub partition: i32,
    /// Where the process's own writes alone would put it.
    pub base: i64,
    /// Where it landed.
    pub landed: i64,
    /// The first offset a foreign record could be at: after the last own record verified.
    pub from: i64,
}

/// What the fence knows: where order logs should land and what landed elsewhere.
#[derive(Debug, Default)]
pub struct Fence {
    /// Where each order log should land, by ticket and partition, before any shift.
    expected: Mutex<HashMap<(u64, i32), i64>>,
    /// Per partition: records of others found between this process's own, explained (no
    /// sentinel among them), by which every later own record lands further.
    shift: Mutex<HashMap<i32, i64>>,
    /// Per partition: the offset of the last own record known to have nobody else's record
    /// between it and this process's restore sentinel.
    verified: Mutex<HashMap<i32, i64>>,
    suspects: Mutex<Vec<Suspect>>,
    /// The partition, and where the foreign sentinel was found, once one was.
    superseded: Mutex<Option<(i32, i64)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Fence {
    /// Starts a new ownership of `partition`, whose restore sentinel landed at `sentinel`:
    /// the shifts and verified offsets of an earlier ownership no longer count.
    pub fn owned_from(&self, partition: i32, sentinel: i64) {
        lock(&self.shift).remove(&partition);
        lock(&self.verified).insert(partition, sentinel);
    }

    /// Notes that the order log of `ticket` for `partition` should land at `offset`.
    pub fn expect(&self, ticket: u64, partition: i32, offset: i64) {
        lock(&self.expected).insert((ticket, partition), offset);
    }

    /// An order log landed at `offset`: true if it is where expected; otherwise it is held
    /// as a suspect, and its ticket must wait.
    pub fn landed(&self, ticket: u64, partition: i32, offset: i64) -> bool {
        let Some(base) = lock(&self.expected).remove(&(ticket, partition)) else {
            return true;
        };
        let from = lock(&self.verified)
            .get(&partition)
            .map_or(0, |v| v + 1)
            .min(base);
        let suspect = Suspect {
            ticket,
            partition,
            base,
            landed: offset,
            from,
        };
        if self.explained(&suspect) {
            lock(&self.verified).insert(partition, offset);
            return true;
        }
        lock(&self.suspects).push(suspect);
        false
    }

    /// The suspects waiting to be read.
    pub fn take_suspects(&self) -> Vec<Suspect> {
        std::mem::take(&mut *lock(&self.suspects))
    }

    /// Where `s` is expected with the shifts explained so far.
    pub fn expected(&self, s: &Suspect) -> i64 {
        s.base + lock(&self.shift).get(&s.partition).copied().unwrap_or(0)
    }

    /// Whether `s` landed where expected, the shifts explained so far included.
    pub fn explained(&self, s: &Suspect) -> bool {
        s.landed == self.expected(s)
    }

    /// The range before `s` held no other owner's sentinel: the own records after it land
    /// where it did, shifted alike.
    pub fn clear(&self, s: &Suspect) {
        lock(&self.shift).insert(s.partition, s.landed - s.base);
        let mut verified = lock(&self.verified);
        let v = verified.entry(s.partition).or_insert(s.landed);
        *v = (*v).max(s.landed);
    }

    /// A newer owner's sentinel was found at `offset` of `partition`.
    pub fn supersede(&self, partition: i32, offset: i64) {
        lock(&self.superseded).get_or_insert((partition, offset));
    }

    /// The partition a newer owner took over, and where its sentinel is, once found.
    pub fn superseded(&self) -> Option<(i32, i64)> {
        *lock(&self.superseded)
    }
}

/// Reads `topic`'s `partition` from `from` up to `to` (exclusive) and returns the offset of the
/// first record keyed `sentinel_key` whose value is not `writer` (another process's restore
/// sentinel), if any. A range that cannot be read in full within 30 s counts as holding one.
pub fn foreign_sentinel(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    (from, to): (i64, i64),
    sentinel_key: &[u8],
    writer: &[u8],
) -> Result<Option<i64>, KafkaError> {
    if from >= to {
        return Ok(None);
    }
    let consumer: BaseConsumer = config.create()?;
    let mut tpl = TopicPartitionList::new();
    // From a little before: some brokers serve a fetch from the middle of a stored batch with
    // the batches after it (see `composerp_kafka::fetch`).
    tpl.add_partition_offset(
        topic,
        partition,
        Offset::Offset((from - FETCH_REWIND).max(0)),
    )?;
    consumer.assign(&tpl)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        if msg.offset() < from {
            continue;
        }
        if msg.offset() >= to {
            return Ok(None);
        }
        if msg.key() == Some(sentinel_key) && msg.payload() != Some(writer) {
            return Ok(Some(msg.offset()));
        }
        if msg.offset() == to - 1 {
            return Ok(None);
        }
    }
    Ok(Some(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_log_elsewhere_waits_until_its_range_is_explained() {
        let fence = Fence::default();
        fence.expect(1, 3, 10);
        assert!(fence.landed(1, 3, 10), "where expected");
        fence.expect(2, 3, 11);
        fence.expect(3, 3, 12);
        assert!(!fence.landed(2, 3, 13), "two records of others before it");
        assert!(!fence.landed(3, 3, 14));
        let suspects = fence.take_suspects();
        assert_eq!(suspects.len(), 2);
        fence.clear(&suspects[0]);
        assert!(
            fence.explained(&suspects[1]),
            "the same shift explains the next one"
        );
        fence.expect(4, 3, 13);
        assert!(fence.landed(4, 3, 15), "later records land shifted");
        assert_eq!(fence.superseded(), None);
        fence.supersede(3, 12);
        assert_eq!(fence.superseded(), Some((3, 12)));
    }

    #[test]
    fn the_range_read_starts_after_the_last_own_record_verified() {
        let fence = Fence::default();
        fence.owned_from(0, 100);
        fence.expect(1, 0, 101);
        assert!(fence.landed(1, 0, 101));
        // State entries at 102..=110 and the next order log expected at 111; a newer owner's
        // sentinel landed among the entries, so every own record after it moved on by one.
        fence.expect(2, 0, 111);
        assert!(!fence.landed(2, 0, 112));
        let s = fence.take_suspects();
        assert_eq!(
            (s[0].from, s[0].landed),
            (102, 112),
            "the whole stretch since the verified order log, not just [111, 112)"
        );
        fence.clear(&s[0]);
        fence.expect(3, 0, 113);
        assert!(fence.landed(3, 0, 114), "explained by the cleared shift");
        fence.expect(4, 0, 120);
        assert!(!fence.landed(4, 0, 122));
        assert_eq!(fence.take_suspects()[0].from, 115);

        // A new ownership of the partition forgets the old one's shift.
        fence.owned_from(0, 200);
        fence.expect(5, 0, 201);
        assert!(
            !fence.landed(5, 0, 202),
            "a shift of an earlier ownership explains nothing"
        );
        assert_eq!(fence.take_suspects()[0].from, 201);
    }
}
