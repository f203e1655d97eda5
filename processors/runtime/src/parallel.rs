//! Handles a round of consumed records on several threads. A partition's records stay on one
//! thread, in the order they came, and the partitions are spread so that each thread gets about
//! as many records. A task's state is its partition's alone, so the outcome is the same as
//! handling the records one by one: the same states, and each partition's outputs in the same
//! order (the engine's broker tests and `processors/ledger/tests/parallel.rs` check it).

pub use crate::task::Record;
use crate::{
    processor::{EmitError, Outputs, Processor, Reject},
    task::{Env, Outcome, Task},
};

/// Fewer records than this per thread run on fewer threads: waking a helper and waiting for it
/// costs about as much as handling a few records.
pub const MIN_PER_THREAD: usize = 256;

/// What one thread made of its share of a round.
#[derive(Debug, Default)]
pub struct Share {
    /// Outputs in the order they were emitted, in parcels of about the requested size.
    pub parcels: Vec<Outputs>,
    /// Records handled, per input (those below their partition's stored offset not counted).
    pub handled: Vec<u64>,
    /// Repeated event ids skipped, per input.
    pub duplicates: Vec<u64>,
    /// Records for the dead-letter topic: position in the round and why.
    pub rejected: Vec<(usize, Reject)>,
    /// What stopped the share early.
    pub error: Option<EmitError>,
}

/// How many threads a round of `records` over `partitions` busy partitions uses, at most
/// `threads`.
pub fn threads_for(records: usize, partitions: usize, threads: usize) -> usize {
    threads.min(partitions).min(records / MIN_PER_THREAD).max(1)
}

/// A thread's tasks, by partition.
type Tasks<'t, P> = Vec<(i32, &'t mut Task<P>)>;

/// The threads that handle rounds: the caller's and a pool of helpers kept for the process.
pub struct Workers {
    pool: Option<rayon::ThreadPool>,
}

impl Workers {
    /// `threads` in all (the caller's counts; 0 is taken as 1); helpers are named
    /// `<name>-share-<n>`.
    pub fn new(name: &str, threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = if threads > 1 {
            let name = name.to_owned();
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(move |n| format!("{name}-share-{n}"))
                    .build()?,
            )
        } else {
            None
        };
        Ok(Workers { pool })
    }

    /// Threads in all, the caller's included.
    pub fn threads(&self) -> usize {
        1 + self
            .pool
            .as_ref()
            .map_or(0, rayon::ThreadPool::current_num_threads)
    }

    /// Handles `records` with the tasks of their partitions (`tasks`; records of other
    /// partitions are passed over). Outputs go into parcels of about `parcel` records, the
    /// first of each thread from `spare`. Returns one share per thread used, the caller's
    /// first.
    pub fn handle_round<'t, P: Processor>(
        &self,
        env: &Env<'_, P>,
        tasks: impl Iterator<Item = (i32, &'t mut Task<P>)>,
        records: &[Record<'_>],
        parcel: usize,
        mut spare: impl FnMut() -> Outputs,
    ) -> Vec<Share> {
        // Records per partition, busiest first; each goes to the least loaded thread.
        let mut tasks: Vec<(i32, &'t mut Task<P>, usize)> = tasks.map(|(p, t)| (p, t, 0)).collect();
        for r in records {
            if let Some(t) = tasks.iter_mut().find(|t| t.0 == r.partition) {
                t.2 += 1;
            }
        }
        tasks.retain(|t| t.2 > 0);
        tasks.sort_by_key(|t| std::cmp::Reverse(t.2));
        let total = tasks.iter().map(|t| t.2).sum();
        let n = threads_for(total, tasks.len(), self.threads());
        let mut groups: Vec<(usize, Tasks<'t, P>)> = (0..n).map(|_| (0, Vec::new())).collect();
        for (p, task, count) in tasks {
            let least = groups
                .iter_mut()
                .min_by_key(|g| g.0)
                .expect("at least one thread");
            least.0 += count;
            least.1.push((p, task));
        }
        let mut groups = groups.into_iter().map(|(_, tasks)| (tasks, spare()));
        let (first, first_spare) = groups.next().expect("at least one thread");
        let Some(pool) = self.pool.as_ref().filter(|_| n > 1) else {
            return vec![handle_share(env, first, records, parcel, first_spare)];
        };
        let mut helped: Vec<Option<Share>> = (1..n).map(|_| None).collect();
        let mine = pool.in_place_scope(|s| {
            for (slot, (tasks, out)) in helped.iter_mut().zip(groups) {
                s.spawn(move |_| *slot = Some(handle_share(env, tasks, records, parcel, out)));
            }
            handle_share(env, first, records, parcel, first_spare)
        });
        std::iter::once(mine)
            .chain(helped.into_iter().flatten())
            .collect()
    }
}

/// One thread's share: the records of the partitions of `tasks`, in order.
fn handle_share<P: Processor>(
    env: &Env<'_, P>,
    mut tasks: Tasks<'_, P>,
    records: &[Record<'_>],
    parcel: usize,
    mut out: Outputs,
) -> Share {
    let inputs = <P::Input as crate::processor::Input>::TOPICS.len();
    let mut share = Share {
        handled: vec![0; inputs],
        duplicates: vec![0; inputs],
        ..Share::default()
    };
    for (at, r) in records.iter().enumerate() {
        let Some((_, task)) = tasks.iter_mut().find(|t| t.0 == r.partition) else {
            continue;
        };
        match task.handle(env, r, &mut out) {
            Ok(Outcome::AlreadyApplied) => {}
            Ok(outcome) => {
                share.handled[r.index] += 1;
                match outcome {
                    Outcome::Duplicate => share.duplicates[r.index] += 1,
                    Outcome::Rejected(reject) => share.rejected.push((at, reject)),
                    Outcome::Applied | Outcome::AlreadyApplied => {}
                }
            }
            Err(e) => {
                share.error = Some(e);
                break;
            }
        }
        if out.len() >= parcel {
            let full = std::mem::replace(&mut out, Outputs::with_capacity(parcel));
            share.parcels.push(full);
        }
    }
    if !out.is_empty() {
        share.parcels.push(out);
    }
    share
}

#[cfg(test)]
mod tests {
    use super::threads_for;

    #[test]
    fn small_rounds_and_single_partitions_stay_on_one_thread() {
        assert_eq!(threads_for(100, 8, 2), 1);
        assert_eq!(threads_for(4_000, 1, 2), 1);
        assert_eq!(threads_for(4_000, 8, 2), 2);
        assert_eq!(threads_for(600, 8, 4), 2);
        assert_eq!(threads_for(0, 0, 2), 1);
    }
}
