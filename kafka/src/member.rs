//! One member of a consumer group, the loop both the processor engine and the sinks run on: the
//! group hands partitions to a [`Member`], takes them back after the member has committed them,
//! and [`Membership::tend`] keeps the membership healthy between polls (stalled partitions
//! fetched again, the group joined again when it forgot this member).
//!
//! What a member does with its partitions is its own: the engine restores state stores, the sink
//! reads its offsets from Postgres. What the group sees is the same for both: an assignment is
//! answered once the member is ready to read, a revocation only after it has committed, and a
//! member that failed still hands its partitions back, so that closing its consumer does not hang.

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rdkafka::{
    ClientContext, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol},
    error::{KafkaError, KafkaResult},
    types::RDKafkaRespErr,
};

use crate::{
    fetch::FETCH_REWIND,
    group::{Rejoin, Stalls, commit_offsets},
    lag::Lag,
    settings::KafkaSettings,
};

/// What a consumer-group member does when the group moves its partitions. Partitions are named
/// (topic index, partition), the index into the topics the membership was joined with.
pub trait Member: Send + 'static {
    /// Why the member stopped.
    type Error: std::fmt::Display + From<KafkaError> + Send;

    /// Takes `partitions` on; returns where the group consumer starts reading each of the topics
    /// it subscribes to.
    fn assign(&mut self, partitions: &[(usize, i32)]) -> Result<TopicPartitionList, Self::Error>;

    /// Finishes and commits what `partitions` hold before the group takes them away.
    fn revoke(&mut self, partitions: &[(usize, i32)]) -> Result<(), Self::Error>;

    /// Forgets `partitions`: after [`Member::revoke`], or without committing after a failure.
    fn release(&mut self, partitions: &[(usize, i32)]) -> Result<(), Self::Error>;

    /// True once the member failed or is stopping after a failure: it then only releases.
    fn stopped(&self) -> bool;

    /// Records the error that stops the member; its loop ends on it.
    fn fail(&mut self, error: Self::Error);

    /// True while the member holds a partition.
    fn holds_any(&self) -> bool;

    /// The next offset each held partition has committed, as (topic index, partition, offset),
    /// for the group's offsets.
    fn committed(&self) -> Vec<(usize, i32, i64)>;

    /// The next offset the member needs of a partition it holds; `None` when it does not hold it.
    fn next_offset(&self, index: usize, partition: i32) -> Option<i64>;

    /// Seeks a held partition that the member reads on a consumer of its own (the engine reads
    /// its second and later inputs so); `None` means the group consumer reads it.
    fn seek_own(&self, index: usize, partition: i32, from: Offset) -> Option<KafkaResult<()>> {
        let _ = (index, partition, from);
        None
    }
}

/// Consumer context of a membership: the group's assignments go to the [`Member`].
pub struct Rebalancer<M> {
    member: Arc<Mutex<M>>,
    topics: Vec<String>,
    /// When the group last moved partitions: a stall elsewhere counts only once it outlasts a
    /// settled membership.
    last: Mutex<Instant>,
}

impl<M> Rebalancer<M> {
    fn member(&self) -> MutexGuard<'_, M> {
        self.member.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<M: Member> ClientContext for Rebalancer<M> {}

impl<M: Member> ConsumerContext for Rebalancer<M> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut member = self.member();
        let partitions: Vec<(usize, i32)> = tpl
            .elements()
            .iter()
            .filter_map(|e| {
                let index = self.topics.iter().position(|t| t == e.topic())?;
                Some((index, e.partition()))
            })
            .collect();
        let eager = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Eager);
        let revoked = |member: &mut M| -> Result<(), M::Error> {
            member.release(&partitions)?;
            if eager {
                // Eager revokes everything at once.
                consumer.unassign()?;
            } else {
                consumer.incremental_unassign(tpl)?;
            }
            Ok(())
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        if member.stopped() {
            // Nothing is committed any more, but revoked partitions are still released: a
            // consumer closing waits for that.
            if err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                && let Err(e) = revoked(&mut member)
            {
                tracing::warn!(error = %e, "Releasing partitions after a failure failed.");
            }
            return;
        }
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                member.assign(&partitions).and_then(|start| {
                    // Always answer the group, even with nothing: after a cooperative revoke
                    // librdkafka waits for this call (with an empty list) before it rejoins for
                    // the second round.
                    if eager {
                        consumer.assign(&start)?;
                    } else {
                        consumer.incremental_assign(&start)?;
                    }
                    Ok(())
                })
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => member
                .revoke(&partitions)
                .and_then(|()| revoked(&mut member)),
            other => {
                tracing::error!(error = ?other, "Rebalance failed.");
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "Rebalance handling failed; stopping.");
            member.fail(e);
        }
    }
}

/// Where a membership's topics come from and where its housekeeping reports.
#[derive(Debug, Clone)]
pub struct Join {
    /// The consumer group's id.
    pub group: String,
    /// Every topic the member reads, with its partition count: watched for stalls, and named by
    /// index in the [`Member`] calls.
    pub topics: Vec<(String, i32)>,
    /// How many of `topics`, from the first, the group consumer subscribes to (the member reads
    /// the others on consumers of its own).
    pub subscribed: usize,
    /// The lag gauge of the member's positions.
    pub lag: Lag,
    /// Prefix of the housekeeping threads' names.
    pub name: String,
}

/// A joined consumer group: the group consumer and the threads that watch it (lag, stalls).
pub struct Membership<M: Member> {
    consumer: BaseConsumer<Rebalancer<M>>,
    subscribe: Vec<String>,
    stalls: Arc<Mutex<Vec<(usize, i32)>>>,
    rejoin: Rejoin,
    stop: Arc<AtomicBool>,
}

impl<M: Member> Membership<M> {
    /// Subscribes `member` to its topics in `join.group` and starts the lag report (of the
    /// (topic, partition, next offset) triples `positions` lists) and the stall watch; both run
    /// until `stop` is set or [`Membership::leave`].
    pub fn join(
        kafka: &KafkaSettings,
        join: Join,
        member: Arc<Mutex<M>>,
        positions: impl Fn() -> Vec<(String, i32, i64)> + Send + 'static,
        stop: Arc<AtomicBool>,
    ) -> KafkaResult<Self> {
        let spawn = |what: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("{}-{what}", join.name))
                .spawn(work)
                .map_err(|e| KafkaError::Subscription(format!("thread {what}: {e}")))
        };
        let stalls: Arc<Mutex<Vec<(usize, i32)>>> = Arc::default();
        let (settings, lag, halt) = (kafka.clone(), join.lag.clone(), stop.clone());
        spawn(
            "lag",
            Box::new(move || lag.report(&settings, positions, &halt)),
        )?;
        let (settings, group, topics, queue, halt) = (
            kafka.clone(),
            join.group.clone(),
            join.topics.clone(),
            stalls.clone(),
            stop.clone(),
        );
        spawn(
            "stalls",
            Box::new(move || Stalls::watch(&settings, &group, &topics, &queue, &halt)),
        )?;
        let context = Rebalancer {
            member,
            topics: join.topics.iter().map(|(t, _)| t.clone()).collect(),
            last: Mutex::new(Instant::now()),
        };
        let consumer: BaseConsumer<Rebalancer<M>> =
            kafka.consumer(&join.group).create_with_context(context)?;
        let subscribe: Vec<String> = join.topics[..join.subscribed]
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        let membership = Membership {
            consumer,
            subscribe,
            stalls,
            rejoin: Rejoin::default(),
            stop,
        };
        membership.subscribe()?;
        Ok(membership)
    }

    /// The group consumer, to poll.
    pub fn consumer(&self) -> &BaseConsumer<Rebalancer<M>> {
        &self.consumer
    }

    /// Once per turn of the owner's loop: fetches the stalled partitions held here again, and
    /// joins the group again when it left this member without partitions or another member
    /// sits on a stalled one ([`Rejoin`]).
    pub fn tend(&mut self) -> KafkaResult<()> {
        let stalled = std::mem::take(&mut *self.stalls.lock().unwrap_or_else(|p| p.into_inner()));
        let context = self.consumer.context();
        let (holds_any, elsewhere) = {
            let member = context.member();
            let elsewhere = !stalled.is_empty() && self.fetch_again(&member, &stalled);
            (member.holds_any(), elsewhere)
        };
        if self.rejoin.due(holds_any, elsewhere) {
            self.consumer.unsubscribe();
            self.subscribe()?;
        }
        Ok(())
    }

    /// Commits what `member` has committed to the group, for Kafka's tools and the stall watch;
    /// the offsets that count are the member's own.
    pub fn commit(&self, member: &M, mode: CommitMode) {
        let topics = &self.consumer.context().topics;
        let offsets = member
            .committed()
            .into_iter()
            .map(|(index, p, next)| (topics[index].as_str(), p, next));
        commit_offsets(&self.consumer, offsets, mode);
    }

    /// Leaves the group, so that its partitions move at once, and tells the watching threads to
    /// stop. They are not waited for: a call of theirs to an unreachable broker would hold a
    /// stopping process for its timeout (seconds), and they touch nothing the member owns.
    pub fn leave(self) {
        self.consumer.unsubscribe();
        self.stop.store(true, Ordering::Relaxed);
    }

    fn subscribe(&self) -> KafkaResult<()> {
        let topics: Vec<&str> = self.subscribe.iter().map(String::as_str).collect();
        self.consumer.subscribe(&topics)
    }

    /// Seeks the stalled partitions held here back to the member's next offset; true if one is
    /// held elsewhere and the membership has been settled for [`Stalls::AFTER`].
    fn fetch_again(&self, member: &M, stalled: &[(usize, i32)]) -> bool {
        let context = self.consumer.context();
        let settled = context
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            > Stalls::AFTER;
        let mut elsewhere = false;
        for &(index, p) in stalled {
            let Some(next) = member.next_offset(index, p) else {
                elsewhere |= settled;
                continue;
            };
            let topic = &context.topics[index];
            let from = Offset::Offset((next - FETCH_REWIND).max(0));
            let sought = member
                .seek_own(index, p, from)
                .unwrap_or_else(|| self.consumer.seek(topic, p, from, Duration::from_secs(10)));
            match sought {
                Ok(()) => tracing::warn!(
                    topic = %topic,
                    partition = p,
                    offset = next,
                    "Stalled partition held here: fetching it again."
                ),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %topic, partition = p, "Seek of a stalled partition failed.")
                }
            }
        }
        elsewhere
    }
}
