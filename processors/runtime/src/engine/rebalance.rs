//! The engine as a consumer-group member: a partition assigned is restored before its first
//! record, one revoked is committed and released. The group side of it (answering librdkafka,
//! stalls, rejoins) is `composerp_kafka::member`, shared with the sinks.
//!
//! Assignment: the group (cooperative-sticky) assigns partitions of the first input topic; a
//! process that gets partition `p` also reads partition `p` of every other input (they are
//! co-partitioned), from the offsets its state recorded.
//!
//! Revocation: the pending batch is committed before the partitions are released.

use composerp_kafka::member::Member;

use super::*;

impl<P: Processor> Member for Engine<P> {
    type Error = EngineError;

    fn assign(&mut self, partitions: &[(usize, i32)]) -> Result<TopicPartitionList, EngineError> {
        if !self.tasks.is_empty() {
            // The closed batches commit first, in order: the restores block this thread a while.
            self.commit(false)?;
        }
        let n = self.inputs.len();
        let mut group = TopicPartitionList::new();
        for &(_, p) in partitions {
            let running = self.restore(p)?;
            group.add_partition_offset(
                &self.inputs[0].name,
                p,
                Offset::Offset((running.task.offsets[0] - FETCH_REWIND).max(0)),
            )?;
            let others = self.partitions_of(p, Some(&running.task.offsets), 1..n)?;
            self.tasks.insert(p, running);
            if others.count() > 0 {
                self.data.incremental_assign(&others)?;
            }
            tracing::info!(processor = P::NAME, partition = p, "Partition assigned.");
        }
        let keys: usize = self.tasks.values().map(|r| r.task.states.len()).sum();
        self.meters.keys.set(keys as f64);
        Ok(group)
    }

    fn revoke(&mut self, _: &[(usize, i32)]) -> Result<(), EngineError> {
        if !self.tasks.is_empty() {
            self.commit(true)?;
        }
        Ok(())
    }

    /// Drops the tasks of `partitions` and stops reading their other inputs.
    fn release(&mut self, partitions: &[(usize, i32)]) -> Result<(), EngineError> {
        let n = self.inputs.len();
        for &(_, p) in partitions {
            self.tasks.remove(&p);
            self.progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p);
            let others = self.partitions_of(p, None, 1..n)?;
            if others.count() > 0 {
                self.data.incremental_unassign(&others)?;
            }
            tracing::info!(processor = P::NAME, partition = p, "Partition released.");
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.failed.is_some() || self.halted
    }

    fn fail(&mut self, error: EngineError) {
        self.failed = Some(error);
    }

    fn holds_any(&self) -> bool {
        !self.tasks.is_empty()
    }

    fn committed(&self) -> Vec<(usize, i32, i64)> {
        let held = self.tasks.iter();
        held.flat_map(|(&p, running)| {
            running
                .committed
                .iter()
                .enumerate()
                .map(move |(i, &next)| (i, p, next))
        })
        .collect()
    }

    fn next_offset(&self, index: usize, partition: i32) -> Option<i64> {
        Some(self.tasks.get(&partition)?.task.offsets[index])
    }

    fn seek_own(&self, index: usize, partition: i32, from: Offset) -> Option<KafkaResult<()>> {
        // The group consumer reads the first input, the data consumer the others.
        (index > 0).then(|| {
            self.data.seek(
                &self.inputs[index].name,
                partition,
                from,
                Duration::from_secs(10),
            )
        })
    }
}
