//! The group's assignments: a partition assigned is restored before its first record, one
//! revoked is committed and released.

use super::*;

/// Consumer context: partition assignment drives task restore and release.
pub(super) struct Rebalancer<P: Processor> {
    pub(super) engine: Arc<Mutex<Engine<P>>>,
}

impl<P: Processor> ClientContext for Rebalancer<P> {}

impl<P: Processor> ConsumerContext for Rebalancer<P> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        if engine.failed.is_some() || engine.halted {
            // Nothing is committed any more, but revoked partitions are still released: a
            // consumer closing waits for that.
            if err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                && let Err(e) = release(&mut engine, consumer, &partitions)
            {
                tracing::warn!(error = %e, "Releasing partitions after a failure failed.");
            }
            return;
        }
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                assign(&mut engine, consumer, &partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                revoke(&mut engine, consumer, &partitions)
            }
            other => {
                tracing::error!(error = ?other, "Rebalance failed.");
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "Rebalance handling failed; stopping.");
            engine.failed = Some(e);
        }
    }
}

pub(super) fn assign<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    if !engine.tasks.is_empty() {
        // The closed batches commit first, in order: the restores block this thread a while.
        engine.commit(false)?;
    }
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        let running = engine.restore(p)?;
        group.add_partition_offset(
            &engine.inputs[0].name,
            p,
            Offset::Offset((running.task.offsets[0] - FETCH_REWIND).max(0)),
        )?;
        let others = engine.partitions_of(p, Some(&running.task.offsets), 1..n)?;
        engine.tasks.insert(p, running);
        if others.count() > 0 {
            engine.data.incremental_assign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition assigned.");
    }
    let keys: usize = engine.tasks.values().map(|r| r.task.states.len()).sum();
    engine.meters.keys.set(keys as f64);
    engine.last_rebalance = Instant::now();
    // Always answer the group, even with nothing: after a cooperative revoke librdkafka waits
    // for this call (with an empty list) before it rejoins for the second round.
    if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
        consumer.assign(&group)?;
    } else {
        consumer.incremental_assign(&group)?;
    }
    Ok(())
}

pub(super) fn revoke<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    if !engine.tasks.is_empty() {
        engine.commit(true)?;
    }
    release(engine, consumer, partitions)
}

/// Drops the tasks of `partitions` and hands them back to the group.
pub(super) fn release<P: Processor>(
    engine: &mut Engine<P>,
    consumer: &BaseConsumer<Rebalancer<P>>,
    partitions: &[i32],
) -> Result<(), EngineError> {
    let n = engine.inputs.len();
    let mut group = TopicPartitionList::new();
    for &p in partitions {
        engine.tasks.remove(&p);
        engine
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&p);
        group.add_partition(&engine.inputs[0].name, p);
        let others = engine.partitions_of(p, None, 1..n)?;
        if others.count() > 0 {
            engine.data.incremental_unassign(&others)?;
        }
        tracing::info!(processor = P::NAME, partition = p, "Partition released.");
    }
    engine.last_rebalance = Instant::now();
    if matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager) {
        // Eager revokes everything at once.
        consumer.unassign()?;
    } else {
        consumer.incremental_unassign(&group)?;
    }
    Ok(())
}
