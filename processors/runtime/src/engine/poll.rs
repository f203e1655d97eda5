//! Polling: the records both consumers have at hand, checked for gaps, handled as one round.
//!
//! Rounds: the records both consumers have at hand (up to a few thousand) are checked for
//! gaps, then handled together, the partitions split between this thread and a pool of
//! helpers ([`crate::parallel`]); a partition's records stay on one thread, in order. A
//! rebalance served while polling drops the round's records of partitions it released or
//! restored (their state's offsets say where to fetch them again).
//!
//! Outputs go to librdkafka through the outbox thread (`crate::outbox`), while this thread
//! processes the next records; a batch counts what it handed over and the delivery reports
//! what the broker acknowledged, so its steps wait for its outputs whichever thread queued
//! them. Dead letters, changelog entries, markers and sentinels are queued here, in order.

use super::*;

/// A consumed record kept for the round, with its input's index and the epoch of the task it
/// was checked against.
pub(super) struct Polled<'c> {
    message: BorrowedMessage<'c>,
    index: usize,
    epoch: i64,
}

/// Takes up to `max` records `consumer` has at hand, without waiting, checking each for gaps
/// against its partition's offsets as the records kept before it will leave them (`ahead`:
/// the task's epoch and next offset, per input and partition). Returns how many it polled.
pub(super) fn collect<'c, P: Processor, C: ConsumerContext>(
    engine: &Mutex<Engine<P>>,
    consumer: &'c BaseConsumer<C>,
    max: usize,
    ahead: &mut foldhash::HashMap<(usize, i32), (i64, i64)>,
    kept: &mut Vec<Polled<'c>>,
) -> usize {
    let mut polled = 0;
    while polled < max {
        // Polling serves rebalances, which take the engine: it is not held here.
        let Some(msg) = consumer.poll(Duration::ZERO) else {
            break;
        };
        polled += 1;
        let m = match msg {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(error = %err, "Consumer error.");
                continue;
            }
        };
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if e.failed.is_some() {
            break;
        }
        let Some(index) = e.index_of(m.topic()) else {
            continue;
        };
        let eng: &mut Engine<P> = &mut e;
        let Some(running) = eng.tasks.get(&m.partition()) else {
            continue;
        };
        let epoch = running.epoch;
        // Records a replaying task holds count as received: the fetch goes on after them.
        let stored = running.task.received(index);
        let key = (index, m.partition());
        // What the records kept before this one will move the offset to, if they are of the
        // same task (a rebalance may have restored the partition since).
        let expected = match ahead.get(&key) {
            Some(&(of, next)) if of == epoch => next.max(stored),
            _ => stored,
        };
        match eng
            .gaps
            .check(Some(expected), index, m.partition(), m.offset())
        {
            GapCheck::Continue => {}
            GapCheck::Drop => continue,
            GapCheck::Refetch(from) => {
                tracing::info!(
                    topic = m.topic(),
                    partition = m.partition(),
                    offset = m.offset(),
                    expected = from,
                    "Gap in the input; fetching it again."
                );
                if let Err(err) = consumer.seek(
                    m.topic(),
                    m.partition(),
                    Offset::Offset((from - FETCH_REWIND).max(0)),
                    Duration::from_secs(10),
                ) {
                    tracing::warn!(error = %err, "Seek failed; the gap is accepted.");
                    eng.gaps.clear(index, m.partition());
                } else {
                    continue;
                }
            }
        }
        // As the task will: a record at or past the next offset moves it on.
        if m.offset() >= expected {
            ahead.insert(key, (epoch, m.offset() + 1));
        }
        drop(e);
        kept.push(Polled {
            message: m,
            index,
            epoch,
        });
    }
    polled
}

/// Handles up to `max` records each consumer has at hand, without waiting; returns how many it
/// polled. A failure is left in the engine for the loop to report.
pub(super) fn pump<P: Processor, C: ConsumerContext>(
    engine: &Mutex<Engine<P>>,
    consumer: &BaseConsumer<C>,
    data: &BaseConsumer,
    max: usize,
) -> usize {
    // One clock reading for the round: a round is a few thousand records, milliseconds.
    let now = Timestamp::now();
    let mut ahead = foldhash::HashMap::default();
    let mut kept = Vec::new();
    let polled = collect(engine, consumer, max, &mut ahead, &mut kept)
        + collect(engine, data, max, &mut ahead, &mut kept);
    if kept.is_empty() {
        return polled;
    }
    let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
    if e.failed.is_some() {
        return polled;
    }
    // A rebalance while polling may have released or restored a partition: its records from
    // before are not this task's to handle (they are fetched again from its state's offsets).
    kept.retain(|k| {
        e.tasks
            .get(&k.message.partition())
            .is_some_and(|r| r.epoch == k.epoch)
    });
    let written = |m: &BorrowedMessage<'_>| {
        m.timestamp()
            .to_millis()
            .map_or(now.0, |ms| ms.saturating_mul(1_000))
    };
    // A task replaying a logged order takes its records in that order: those that come early
    // are held (copied) until their run is due.
    // Every record of such a partition in this round goes that way, also after its replay ends
    // mid-round, so that the partition's records stay in order.
    let eng: &mut Engine<P> = &mut e;
    let replaying: Vec<i32> = eng
        .tasks
        .iter()
        .filter(|(_, r)| r.task.replaying())
        .map(|(p, _)| *p)
        .collect();
    let (mut direct, mut due, mut due_partitions) =
        (Vec::with_capacity(kept.len()), vec![], vec![]);
    for k in &kept {
        let m = &k.message;
        // Looked up only for a replaying partition: this runs for every record.
        let replay = replaying
            .contains(&m.partition())
            .then(|| eng.tasks.get_mut(&m.partition()))
            .flatten();
        match replay {
            Some(r) => {
                let held = Held {
                    index: k.index,
                    offset: m.offset(),
                    written: written(m),
                    redrive: redriven(m.headers()),
                    key: m.key().map(<[u8]>::to_vec),
                    bytes: m.payload().unwrap_or_default().to_vec(),
                };
                r.task.admit(held, &mut due);
                due_partitions.resize(due.len(), m.partition());
            }
            _ => direct.push(k),
        }
    }
    let records: Vec<Record<'_>> = direct
        .iter()
        .map(|k| Record {
            index: k.index,
            partition: k.message.partition(),
            offset: k.message.offset(),
            written: written(&k.message),
            redrive: redriven(k.message.headers()),
            bytes: k.message.payload().unwrap_or_default(),
        })
        .chain(
            due.iter()
                .zip(&due_partitions)
                .map(|(h, &partition)| Record {
                    index: h.index,
                    partition,
                    offset: h.offset,
                    written: h.written,
                    redrive: h.redrive,
                    bytes: &h.bytes,
                }),
        )
        .collect();
    let keys: Vec<Option<&[u8]>> = direct
        .iter()
        .map(|k| k.message.key())
        .chain(due.iter().map(|h| h.key.as_deref()))
        .collect();
    if let Err(err) = e.handle_round(now, &records, &keys) {
        e.failed = Some(err);
    }
    polled
}
