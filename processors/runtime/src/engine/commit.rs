//! Committing a batch: its outputs, then its state entries, then its marker, each step once
//! the broker has acknowledged the one before; and the checks of what was acknowledged.
//!
//! A batch commits as: outputs and dead letters → every acknowledgement → changed states and
//! timers to the changelog → every acknowledgement → a commit marker with the input offsets →
//! its acknowledgement → the changed rows staged for the local store, which writes them with
//! the offsets in one transaction every few seconds and before partitions are released (it
//! only shortens restarts: a crash replays the changelog tail past its checkpoint).
//!
//! Batches overlap: a closed batch keeps the serialized values its states had when it closed,
//! and goes through those steps as acknowledgements arrive while the next batches are
//! processed ([`Closing`]). Steps run in batch order, so a batch's changelog entries follow
//! every acknowledged output of the batches before it; at most [`MAX_CLOSING`] batches wait
//! at a time. Revocation, assignment and a clean stop wait for all of them.
//!
//! Every changelog entry is valid on its own: it is written only after the outputs of the
//! records it reflects were acknowledged, and a processor whose effects must not repeat keeps
//! the input position a key reflects in the key's state ([`Context::source`](crate::processor::Context::source)). So recovery
//! applies every entry it reads, committed by a marker or not, and whatever compaction kept,
//! then resumes the inputs from the last marker: records the state already reflects are
//! recognised by the processor, the others are applied, and replayed outputs carry the same
//! ids, so consumers deduplicate.

use super::*;

impl<P: Processor> Engine<P> {
    /// An error if a record could not be delivered since the last check.
    pub(super) fn undelivered(&self) -> Result<(), EngineError> {
        self.check_fence()?;
        let failed = self.deliveries.failed.swap(0, Ordering::Relaxed);
        if failed > 0 {
            let first = self
                .deliveries
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_default();
            return Err(EngineError::Undelivered(failed, first));
        }
        Ok(())
    }

    /// Reads what landed before the order logs that did not land where expected: another
    /// process's restore sentinel there fences the engine ([`crate::fence`]); anything else
    /// lets their rounds' outputs leave.
    pub(super) fn check_fence(&self) -> Result<(), EngineError> {
        let fence = &self.deliveries.fence;
        for s in fence.take_suspects() {
            if fence.superseded().is_some() {
                break;
            }
            if !fence.explained(&s) {
                let (x, landed) = (fence.expected(&s), s.landed);
                let config = self.kafka.consumer(&format!("composerp-{}-fence", P::NAME));
                let writer = self.writer.to_be_bytes();
                // From the last own record verified: a foreign record anywhere after it shifts
                // every own record that follows, so it need not lie just before the order log.
                let range = (s.from.min(landed), x.max(landed));
                let found = fence::foreign_sentinel(
                    &config,
                    &self.changelog,
                    s.partition,
                    range,
                    SENTINEL_KEY.as_bytes(),
                    &writer,
                )?;
                match found {
                    Some(at) => fence.supersede(s.partition, at),
                    None => {
                        tracing::info!(
                            processor = P::NAME,
                            partition = s.partition,
                            expected = x,
                            landed,
                            "Other records in the changelog before an order log, none a newer \
                             owner's: going on."
                        );
                        fence.clear(&s);
                    }
                }
            }
            if fence.superseded().is_none() {
                self.deliveries.gate.acked(s.ticket);
            }
        }
        match fence.superseded() {
            Some((partition, sentinel)) => {
                self.deliveries.gate.fence();
                Err(EngineError::Superseded {
                    partition,
                    sentinel,
                })
            }
            None => Ok(()),
        }
    }

    /// Closes the open batch: runs the tasks' end of batch, queues its outputs and keeps its
    /// changed states, serialized as they are now, for its commit ([`Engine::advance`]).
    pub(super) fn close(&mut self) -> Result<(), EngineError> {
        let _span =
            tracing::info_span!("batch", processor = P::NAME, records = self.pending).entered();
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let env = Env::new(&self.processor, &tables, &self.codec, Timestamp::now());
        let mut partitions = BTreeMap::new();
        for (p, running) in self.tasks.iter_mut() {
            running.task.end_batch(&env, &mut self.outgoing)?;
            let closed = Closed {
                rows: running.task.take_changes()?,
                before_marker: 0,
                offsets: running.task.offsets.clone(),
                max_event_time: running.task.max_event_time,
            };
            partitions.insert(*p, closed);
        }
        drop(tables);
        // Every output of the batch goes to the outbox before it waits for their reports.
        self.hand_over()?;
        self.meters.batch_records.record(self.pending as f64);
        self.closing.push_back(Closing {
            seq: self.seq,
            step: Step::Outputs,
            sent: self.sent,
            records: self.pending,
            closed_at: Instant::now(),
            partitions,
        });
        self.seq += 1;
        self.sent = 0;
        self.deliveries.acked[slot(self.seq)].store(0, Ordering::Relaxed);
        self.pending = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Takes the closed batches as far through their commits as the acknowledgements received
    /// allow, oldest first, and waits for more while over `keep` batches are still closing.
    /// Returns how many batches it committed.
    pub(super) fn advance(&mut self, keep: usize) -> Result<usize, EngineError> {
        let started = Instant::now();
        let mut committed = 0;
        self.producer.poll(Duration::ZERO);
        loop {
            self.undelivered()?;
            let Some(front) = self.closing.front() else {
                return Ok(committed);
            };
            let slot = front.slot();
            if self.deliveries.acked[slot].load(Ordering::Relaxed) < front.sent {
                if self.closing.len() <= keep {
                    return Ok(committed);
                }
                if started.elapsed() > ACK_TIMEOUT {
                    return Err(EngineError::Undelivered(
                        front.sent - self.deliveries.acked[slot].load(Ordering::Relaxed),
                        format!("no acknowledgement within {} s", ACK_TIMEOUT.as_secs()),
                    ));
                }
                outbox::wait_reports(&self.producer);
                continue;
            }
            match front.step {
                // Outputs first: a changelog entry says its key reflects some input records,
                // and a replay skips those records, so their outputs must be acknowledged first.
                Step::Outputs => {
                    let mut sent = 0;
                    for (p, closed) in &front.partitions {
                        let epoch = self.tasks.get(p).map_or(0, |r| r.epoch);
                        if let Some(r) = self.tasks.get_mut(p) {
                            r.unmarked += closed.rows.len();
                            r.own_next += closed.rows.len() as i64;
                        }
                        for (key, value) in &closed.rows {
                            self.send_changelog(
                                Tag::Record { slot },
                                *p,
                                epoch,
                                key,
                                value.as_deref(),
                            )?;
                            sent += 1;
                        }
                    }
                    let front = self.closing.front_mut().expect("front");
                    front.sent += sent;
                    front.step = Step::Changelog;
                }
                Step::Changelog => {
                    // What the process wrote to each partition since its last marker: the marker
                    // lands right after it unless another writer came in between.
                    let front = self.closing.front_mut().expect("front");
                    for (p, closed) in front.partitions.iter_mut() {
                        closed.before_marker = self.tasks.get_mut(p).map_or(0, |r| {
                            r.own_next += 1;
                            std::mem::take(&mut r.unmarked)
                        });
                    }
                    let front = self.closing.front().expect("front");
                    let mut sent = 0;
                    for (p, closed) in &front.partitions {
                        let epoch = self.tasks.get(p).map_or(0, |r| r.epoch);
                        self.send_marker(slot, *p, epoch, closed)?;
                        sent += 1;
                    }
                    let front = self.closing.front_mut().expect("front");
                    front.sent += sent;
                    front.step = Step::Markers;
                }
                Step::Markers => {
                    let done = self.closing.pop_front().expect("front");
                    self.committed(done)?;
                    committed += 1;
                }
            }
            self.producer.poll(Duration::ZERO);
        }
    }

    /// Records a batch whose markers were acknowledged: its position, its rows staged for the
    /// local store (written when due), and the metrics.
    pub(super) fn committed(&mut self, batch: Closing) -> Result<(), EngineError> {
        let slot = batch.slot();
        let markers: HashMap<i32, i64> = {
            let mut all = self
                .deliveries
                .markers
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            batch
                .partitions
                .keys()
                .filter_map(|p| all.remove(&(slot, *p)).map(|o| (*p, o)))
                .collect()
        };
        for (p, closed) in batch.partitions {
            let Some(running) = self.tasks.get_mut(&p) else {
                continue;
            };
            match markers.get(&p) {
                Some(&o) => {
                    let sole = still_sole(running.next_own, closed.before_marker, o);
                    if running.sole && !sole {
                        tracing::warn!(
                            processor = P::NAME,
                            partition = p,
                            expected = running.next_own + closed.before_marker as i64,
                            marker = o,
                            "Another process wrote to this partition's changelog: its local \
                             store will be rebuilt from the changelog at the next restore."
                        );
                    }
                    running.sole &= sole;
                    running.next_own = o + 1;
                    running.changelog_next = o + 1;
                }
                None => running.sole = false,
            }
            running.task.order.trim(&closed.offsets);
            running.committed = closed.offsets;
            running.committed_event_time = closed.max_event_time;
            running.store.stage(closed.rows);
            if running
                .store
                .due(self.cfg.store_interval, self.cfg.store_keys)
            {
                running.store.write(&running.checkpoint())?;
            }
        }
        let (mut keys, mut timers, mut bytes, mut ids) = (0, 0, 0, 0);
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        for (p, running) in &self.tasks {
            keys += running.task.states.len();
            timers += running.task.timers.len();
            ids += running.task.dedupe.len();
            bytes += running.store.file_size();
            progress.insert(*p, running.committed.clone());
        }
        drop(progress);
        self.meters.keys.set(keys as f64);
        self.meters.timers.set(timers as f64);
        self.meters.dedupe_ids.set(ids as f64);
        self.meters.store_bytes.set(bytes as f64);
        self.meters.batches.increment(1);
        let seconds = batch.closed_at.elapsed().as_secs_f64();
        self.meters.commit_seconds.record(seconds);
        tracing::debug!(
            processor = P::NAME,
            records = batch.records,
            micros = (seconds * 1e6) as u64,
            "Batch committed."
        );
        Ok(())
    }

    /// One turn of the main loop: closes the open batch if `close` (after the oldest closing
    /// batch commits, when [`MAX_CLOSING`] are), then advances the closed ones without waiting.
    /// Returns how many batches committed.
    pub(super) fn step(&mut self, close: bool) -> Result<usize, EngineError> {
        let mut committed = 0;
        if close {
            committed += self.advance(MAX_CLOSING - 1)?;
            self.close()?;
        }
        Ok(committed + self.advance(usize::MAX)?)
    }

    /// Closes the open batch and waits until every closed batch is committed; then writes the
    /// local stores with `write_stores` (before partitions are released), or those due.
    pub(super) fn commit(&mut self, write_stores: bool) -> Result<(), EngineError> {
        self.close()?;
        self.advance(0)?;
        if write_stores {
            self.write_stores()?;
        }
        Ok(())
    }

    /// Writes what every local store has staged, with its checkpoint.
    pub(super) fn write_stores(&mut self) -> Result<(), EngineError> {
        for running in self.tasks.values_mut() {
            if running.store.staged() > 0 {
                running.store.write(&running.checkpoint())?;
            }
        }
        Ok(())
    }

    /// Some partition has a wall-clock timer due.
    pub(super) fn wall_timer_due(&self) -> bool {
        let now = Timestamp::now();
        self.tasks.values().any(|r| {
            r.task
                .timers
                .next_due(TimerKind::WallClock)
                .is_some_and(|at| at <= now)
        })
    }
}
