//! Hands a processor's outputs to librdkafka on a thread of its own: queueing a record
//! (partitioner, copy, the partition queue's lock) and serving delivery reports cost about a
//! fifth of a thread's time, which the engine thread spends processing the next records instead.
//!
//! The engine counts what it pushes and the delivery reports count what the broker
//! acknowledged, so a batch's commit waits for its outputs whichever thread queued them. The
//! engine also polls the producer while it waits; librdkafka serves reports on either thread.
//!
//! A parcel can wait at a [`Gate`]: the outputs of a round leave only once the changelog has
//! the order in which the round applied its inputs (`crate::order`), so that every published
//! output is covered by a logged order.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender},
    },
    thread::JoinHandle,
    time::Duration,
};

use metrics::Counter;
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    producer::{BaseProducer, BaseRecord, ProducerContext},
};

use crate::processor::Outputs;

/// Parcels (one input record's outputs, or a batch's end-of-batch outputs) waiting for the
/// thread, at most; a full outbox makes the engine wait.
const CAPACITY: usize = 4_096;

/// How long the idle thread waits for a parcel before it serves delivery reports again.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// While busy, the thread serves delivery reports after this many parcels (each report holds
/// its record's memory until served).
const REPORTS_EVERY: u32 = 64;

/// Spent parcels kept for reuse, at most; more (after a burst) are freed.
const SPARE: usize = 16;

/// A spent parcel larger than this (a large batch's end-of-batch outputs) is freed rather than
/// kept, so the spare parcels hold at most `SPARE` × this.
const SPARE_BYTES: usize = 1 << 20;

/// The outbox thread stopped (it failed or panicked); the engine cannot emit.
#[derive(Debug, thiserror::Error)]
#[error("the output thread of processor {0} stopped")]
pub struct OutboxClosed(pub &'static str);

/// Records to queue with one delivery opaque, once ticket `gate` has passed.
struct Parcel {
    tag: usize,
    gate: u64,
    records: Outputs,
}

/// Tickets that parcels wait for: each covers some records (a round's order logs) and passes
/// once all of them, and every earlier ticket, are acknowledged. Ticket 0 has always passed.
#[derive(Debug, Default)]
pub struct Gate {
    /// Every ticket up to this one has passed.
    passed: AtomicU64,
    /// A gated record was not delivered: nothing waits any more (the engine stops).
    failed: AtomicBool,
    /// The process may no longer own a partition: nothing gated leaves any more.
    fenced: AtomicBool,
    /// Tickets not passed yet: records still unacknowledged per ticket, and the last ticket
    /// issued.
    open: Mutex<(BTreeMap<u64, u32>, u64)>,
}

impl Gate {
    /// Issues a ticket for `records` records about to be sent (at least one).
    pub fn issue(&self, records: u32) -> u64 {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.1 += 1;
        let ticket = open.1;
        open.0.insert(ticket, records.max(1));
        ticket
    }

    /// The last ticket issued (0 if none): a parcel gated on it waits for every record issued.
    pub fn last(&self) -> u64 {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Counts an acknowledged record of `ticket`.
    pub fn acked(&self, ticket: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = open.0.get_mut(&ticket) {
            *left = left.saturating_sub(1);
        }
        let last = open.1;
        while let Some(entry) = open.0.first_entry() {
            if *entry.get() > 0 {
                break;
            }
            entry.remove();
        }
        let passed = open.0.first_key_value().map_or(last, |(t, _)| t - 1);
        self.passed.store(passed, Ordering::Release);
    }

    /// A record of a ticket was not delivered.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Stops every parcel not yet sent: they are dropped, and the engine starts over.
    pub fn fence(&self) {
        self.fenced.store(true, Ordering::Release);
    }

    /// Whether the gate was fenced.
    pub fn fenced(&self) -> bool {
        self.fenced.load(Ordering::Acquire)
    }

    /// Whether `ticket` has passed; true as well once a gated record failed or the gate was
    /// fenced, so nothing waits for ever (the engine stops before it commits anything).
    pub fn passed(&self, ticket: u64) -> bool {
        self.passed.load(Ordering::Acquire) >= ticket
            || self.failed.load(Ordering::Acquire)
            || self.fenced()
    }

    /// Waits until `ticket` has passed, serving `producer`'s delivery reports meanwhile.
    pub fn wait<C: ProducerContext<DeliveryOpaque = usize>>(
        &self,
        ticket: u64,
        producer: &BaseProducer<C>,
    ) {
        while !self.passed(ticket) {
            wait_reports(producer);
        }
    }
}

/// The sending side; dropping it lets the thread queue what is left and stop.
pub struct Outbox {
    processor: &'static str,
    tx: Option<SyncSender<Parcel>>,
    /// Parcels the thread has queued, cleared, back for reuse.
    spare: Receiver<Outputs>,
    thread: Option<JoinHandle<()>>,
}

/// Queues a record, serving delivery reports while librdkafka's queue is full; any other
/// refusal is returned.
pub fn send<C: ProducerContext<DeliveryOpaque = usize>>(
    producer: &BaseProducer<C>,
    record: BaseRecord<'_, [u8], [u8], usize>,
) -> Result<(), KafkaError> {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                wait_reports(producer);
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Serves the delivery reports that arrived, then waits a millisecond for more to arrive.
///
/// Not `poll` with a timeout: rdkafka 0.39 rounds the time left down to whole milliseconds,
/// so such a poll spins through its last millisecond (a fifth of a 5 ms wait).
pub fn wait_reports<C: ProducerContext<DeliveryOpaque = usize>>(producer: &BaseProducer<C>) {
    producer.poll(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(1));
}

impl Outbox {
    /// Starts the thread of `processor`'s outputs on `producer`; a record librdkafka refuses is
    /// reported to `refused` (the engine counts it as undelivered).
    pub fn start<C, F>(
        processor: &'static str,
        producer: Arc<BaseProducer<C>>,
        gate: Arc<Gate>,
        refused: F,
    ) -> std::io::Result<Self>
    where
        C: ProducerContext<DeliveryOpaque = usize> + 'static,
        F: Fn(&KafkaError) + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel::<Parcel>(CAPACITY);
        let (give_back, spare) = mpsc::sync_channel::<Outputs>(SPARE);
        let thread = std::thread::Builder::new()
            .name(format!("{processor}-outbox"))
            .spawn(move || {
                let mut out: HashMap<&'static str, Counter> = HashMap::new();
                let mut parcels = 0u32;
                loop {
                    let mut parcel = match rx.recv_timeout(IDLE_WAIT) {
                        Ok(p) => p,
                        Err(RecvTimeoutError::Timeout) => {
                            producer.poll(Duration::ZERO);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    gate.wait(parcel.gate, &producer);
                    // Fenced: the records are dropped unsent (their batch is never committed).
                    let records = if gate.fenced() {
                        0
                    } else {
                        parcel.records.len()
                    };
                    for r in parcel.records.iter().take(records) {
                        let record = BaseRecord::with_opaque_to(r.topic, parcel.tag)
                            .key(r.key.as_bytes())
                            .payload(r.payload);
                        match send(&producer, record) {
                            Ok(()) => out
                                .entry(r.topic)
                                .or_insert_with(|| {
                                    metrics::counter!("composerp_processor_records_out_total", "processor" => processor, "topic" => r.topic)
                                })
                                .increment(1),
                            Err(e) => refused(&e),
                        }
                    }
                    // librdkafka copied the records: the buffers go back to the engine thread,
                    // which allocated them (or are freed here when too large or enough are
                    // spare).
                    if parcel.records.capacity_bytes() <= SPARE_BYTES {
                        parcel.records.clear();
                        let _ = give_back.try_send(parcel.records);
                    }
                    parcels = parcels.wrapping_add(1);
                    if parcels.is_multiple_of(REPORTS_EVERY) {
                        producer.poll(Duration::ZERO);
                    }
                }
                producer.poll(Duration::ZERO);
            })?;
        Ok(Outbox {
            processor,
            tx: Some(tx),
            spare,
            thread: Some(thread),
        })
    }

    /// Queues `records` with delivery opaque `tag` once ticket `gate` has passed (see
    /// [`Gate`]), waiting while the outbox is full.
    pub fn push(&self, tag: usize, gate: u64, records: Outputs) -> Result<(), OutboxClosed> {
        if records.is_empty() {
            return Ok(());
        }
        self.tx
            .as_ref()
            .ok_or(OutboxClosed(self.processor))?
            .send(Parcel { tag, gate, records })
            .map_err(|_| OutboxClosed(self.processor))
    }
}

impl Outbox {
    /// An empty parcel to fill: a spent one back from the thread, or a new one with room for
    /// `records` records.
    pub fn spare(&self, records: usize) -> Outputs {
        self.spare
            .try_recv()
            .unwrap_or_else(|_| Outputs::with_capacity(records))
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::AtomicUsize, time::Instant};

    use rdkafka::{
        ClientConfig, ClientContext,
        producer::{DeliveryResult, Producer},
    };

    use super::*;

    /// Counts delivery reports by tag.
    #[derive(Default)]
    struct Reports([AtomicUsize; 3]);

    impl ClientContext for Reports {}

    impl ProducerContext for Reports {
        type DeliveryOpaque = usize;

        fn delivery(&self, _: &DeliveryResult<'_>, tag: usize) {
            self.0[tag].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn records(sizes: &[usize]) -> Outputs {
        let mut out = Outputs::default();
        for &bytes in sizes {
            out.push("composerp.outbox-test", "k", &vec![7; bytes]);
        }
        out
    }

    #[test]
    fn records_are_queued_with_their_tag_and_a_refused_one_is_reported() {
        // No broker listens there: every queued record fails after the message timeout, and
        // its report, served by the outbox thread, carries the tag it was handed over with.
        let producer: BaseProducer<Reports> = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("message.max.bytes", "2000")
            .set("message.timeout.ms", "300")
            .create_with_context(Reports::default())
            .expect("producer");
        let producer = Arc::new(producer);
        let refused = Arc::new(Mutex::new(Vec::new()));
        let outbox = {
            let refused = refused.clone();
            Outbox::start(
                "test",
                producer.clone(),
                Arc::new(Gate::default()),
                move |e: &KafkaError| refused.lock().expect("lock").push(e.to_string()),
            )
            .expect("outbox")
        };
        outbox.push(1, 0, records(&[10, 10])).expect("push");
        outbox
            .push(1, 0, Outputs::default())
            .expect("nothing to push");
        outbox.push(2, 0, records(&[5_000, 10])).expect("push");
        let reports = &producer.context().0;
        let started = Instant::now();
        while reports[1].load(Ordering::Relaxed) + reports[2].load(Ordering::Relaxed) < 3 {
            assert!(started.elapsed() < Duration::from_secs(20), "no reports");
            std::thread::sleep(Duration::from_millis(10));
        }
        let spent = outbox.spare(0);
        assert!(
            spent.is_empty() && spent.capacity_bytes() > 0,
            "a queued parcel comes back empty, with its buffers, for reuse"
        );
        drop(outbox);
        assert_eq!(reports[1].load(Ordering::Relaxed), 2);
        assert_eq!(reports[2].load(Ordering::Relaxed), 1);
        let refused = refused.lock().expect("lock");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("too large"), "{refused:?}");
    }

    #[test]
    fn a_ticket_passes_once_it_and_every_earlier_one_are_acknowledged() {
        let gate = Gate::default();
        assert!(gate.passed(0));
        let (a, b) = (gate.issue(2), gate.issue(1));
        assert_eq!(gate.last(), b);
        gate.acked(b);
        assert!(!gate.passed(b), "an earlier ticket is still open");
        gate.acked(a);
        assert!(!gate.passed(a), "one of its two records is still open");
        gate.acked(a);
        assert!(gate.passed(a) && gate.passed(b));
        let c = gate.issue(1);
        assert!(!gate.passed(c));
        gate.fail();
        assert!(gate.passed(c), "after a failure nothing waits");
        let fenced = Gate::default();
        let d = fenced.issue(1);
        fenced.fence();
        assert!(
            fenced.passed(d) && fenced.fenced(),
            "fenced: nothing waits, nothing leaves"
        );
    }
}
