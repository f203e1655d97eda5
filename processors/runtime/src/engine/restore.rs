//! Restoring a partition: the local checkpoint, then the changelog up to a sentinel of its own,
//! taking only the writes of the partition's owner at each point of the log, and the order log
//! to replay.
//!
//! Ownership: brokers can hand a partition to a new process before the old one has let go
//! (Tansu does, after a SIGKILL). A restore first writes a sentinel to the changelog partition
//! and reads up to it; the sentinel's offset is the new owner's epoch. Every state entry
//! carries its writer's epoch in a header and every marker its epoch, and a restore applies a
//! write only if no higher epoch appeared before it in the log: the log order decides
//! ownership, and a stale owner's late writes are ignored. Epochs survive compaction (which
//! keeps only the latest sentinel and marker): the writes of the epochs whose sentinels were
//! compacted away still carry their epochs, so a restore from an empty state directory keeps
//! them.
//!
//! Restore: local checkpoint, then the changelog from the checkpoint's position to the
//! restore's own sentinel. The local checkpoint counts only if its process was the sole
//! writer of the changelog partition from its sentinel to that checkpoint (each commit checks
//! that its marker landed right after its own records): under a split ownership a superseded
//! owner goes on committing locally, and its states are behind the newer owner's markers, so
//! such a store is rebuilt from the changelog alone.

use super::*;

impl<P: Processor> Engine<P> {
    /// Restores partition `p`: local checkpoint, then the changelog tail up to the last marker.
    pub(super) fn restore(&mut self, p: i32) -> Result<Running<P>, EngineError> {
        let started = Instant::now();
        let mut store = Store::open(&self.state_dir(), p)?;
        let mut checkpoint = store.checkpoint()?;
        if !checkpoint.sole {
            // The file may hold a superseded owner's states, behind the offsets a newer owner's
            // markers carry: only the changelog as a whole is the partition's state.
            if checkpoint != Checkpoint::default() {
                tracing::warn!(
                    processor = P::NAME,
                    partition = p,
                    "Local store not trusted (another writer in the changelog since its \
                     checkpoint): rebuilding it from the changelog."
                );
            }
            store.clear()?;
            checkpoint = Checkpoint::default();
        }
        let mut task = Task::<P>::new(p);
        store.for_each(|k, v| {
            task.restore_entry(k, Some(v))
                .map_err(|e| StoreError::Corrupt {
                    path: PathBuf::from(k),
                    detail: e.to_string(),
                })
        })?;
        if checkpoint.offsets.len() == task.offsets.len() {
            task.offsets.clone_from(&checkpoint.offsets);
        }
        task.max_event_time = checkpoint.max_event_time;
        let local = task.states.len();

        let consumer: BaseConsumer = self
            .kafka
            .consumer(&format!("composerp-{}-restore", P::NAME))
            .create()?;
        // The end to read to: the offset of a sentinel written now. Everything an earlier owner
        // had acknowledged lies before it, whatever the broker's watermarks say (Tansu answers
        // "latest" with less than the end).
        let writer = self.writer.to_be_bytes();
        let r = BaseRecord::with_opaque_to(self.changelog.as_str(), Tag::Sentinel { p }.encode())
            .key(SENTINEL_KEY.as_bytes())
            .payload(&writer[..])
            .partition(p);
        outbox::send(&self.producer, r)?;
        let sent_at = Instant::now();
        // Its report may be served by this thread or by the outbox's.
        let end = loop {
            let end = self
                .deliveries
                .sentinels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            if let Some(end) = end {
                break end;
            }
            if sent_at.elapsed() > ACK_TIMEOUT {
                return Err(EngineError::Undelivered(1, "restore sentinel".into()));
            }
            outbox::wait_reports(&self.producer);
            self.undelivered()?;
        };
        // Read from a little before the checkpoint (a fetch from the middle of a stored batch
        // may skip the batch's rest on some brokers, Tansu among them); records before the
        // checkpoint are passed over.
        let start = checkpoint.changelog_next;
        let old = checkpoint.clone();
        let (_, estimate) =
            consumer.fetch_watermarks(&self.changelog, p, Duration::from_secs(30))?;
        let remaining = metrics::gauge!(
            "composerp_processor_restore_remaining_records",
            "processor" => P::NAME,
            "partition" => p.to_string()
        );
        remaining.set((estimate - start).max(0) as f64);
        let mut replayed = 0u64;
        let mut owner = Ownership {
            epoch: checkpoint.epoch,
        };
        // The newest order log counts: the checkpoint's, then the changelog's.
        let mut order = OrderLog::from_runs(checkpoint.order.clone());
        // Every entry is applied, committed or not (see the module docs), and written to the
        // local store as it goes.
        let mut applied: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &self.changelog,
            p,
            Offset::Offset((start - FETCH_REWIND).max(0)),
        )?;
        consumer.assign(&tpl)?;
        let mut idle = Instant::now();
        loop {
            let msg = match consumer.poll(Duration::from_millis(500)) {
                None => {
                    if idle.elapsed() > Duration::from_secs(60) {
                        return Err(EngineError::Topics(format!(
                            "changelog {} partition {p}: no record for 60 s before offset {end}",
                            self.changelog
                        )));
                    }
                    continue;
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(msg)) => msg,
            };
            idle = Instant::now();
            let next = msg.offset() + 1;
            if msg.offset() >= end {
                break;
            }
            if msg.offset() < start {
                continue;
            }
            replayed += 1;
            let key = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
            if key == SENTINEL_KEY {
                // A process took the partition over here: from now on only its writes, and
                // those of later owners, count.
                owner.sentinel(msg.offset());
            } else if key == MARKER_KEY {
                let marker: Marker = postcard::from_bytes(msg.payload().unwrap_or_default())
                    .map_err(|e| StateError {
                        key: MARKER_KEY.into(),
                        detail: e.to_string(),
                    })?;
                if owner.admits(marker.epoch) {
                    if marker.offsets.len() == task.offsets.len() {
                        task.offsets = marker.offsets;
                    }
                    task.max_event_time = marker.max_event_time;
                    checkpoint.changelog_next = next;
                }
            } else if key == ORDER_KEY {
                let epoch = written_epoch(&msg);
                if owner.admits(epoch) {
                    order = OrderLog::decode(msg.payload().unwrap_or_default()).map_err(|e| {
                        StateError {
                            key: ORDER_KEY.into(),
                            detail: e.to_string(),
                        }
                    })?;
                }
            } else if !key.starts_with('\u{0}') {
                let epoch = written_epoch(&msg);
                if owner.admits(epoch) {
                    task.restore_entry(&key, msg.payload())?;
                    applied.insert(key, msg.payload().map(<[u8]>::to_vec));
                }
            }
            if replayed.is_multiple_of(50_000) {
                // Into the local store as it goes, so a large restore never holds a second
                // copy of every value (the checkpoint keeps the old position until the end).
                store.commit(
                    applied.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
                    &old,
                    false,
                )?;
                applied.clear();
                remaining.set((estimate - next).max(0) as f64);
                self.meters.restored.increment(50_000);
                tracing::info!(
                    processor = P::NAME,
                    partition = p,
                    replayed,
                    remaining = (estimate - next).max(0),
                    "Restoring from the changelog."
                );
            }
        }
        remaining.set(0.0);
        // The sentinel at `end` is this process's: the partition is its own from there, and the
        // restored states are the changelog's up to it.
        checkpoint.epoch = end;
        checkpoint.sole = true;
        self.meters.restored.increment(replayed % 50_000);
        // Records applied past the restored offsets are replayed in the logged order.
        task.resume(&order);
        // Always written: the new epoch (and trust) must be on disk before the first commit.
        checkpoint.offsets.clone_from(&task.offsets);
        checkpoint.max_event_time = task.max_event_time;
        checkpoint.order = task.order_runs();
        store.commit(
            applied.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
            &checkpoint,
            true,
        )?;
        tracing::info!(
            processor = P::NAME,
            partition = p,
            local_keys = local,
            changelog_records = replayed,
            keys = task.states.len(),
            seconds = started.elapsed().as_secs_f64(),
            "Partition restored."
        );
        // Order logs of this ownership are checked from its sentinel on ([`crate::fence`]).
        self.deliveries.fence.owned_from(p, end);
        Ok(Running {
            committed: task.offsets.clone(),
            committed_event_time: task.max_event_time,
            task,
            store,
            changelog_next: checkpoint.changelog_next,
            epoch: end,
            next_own: end + 1,
            unmarked: 0,
            own_next: end + 1,
            sole: true,
        })
    }
}
