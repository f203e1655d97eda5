//! Consumer-group membership that recovers from brokers that keep a dead member's partitions.

use std::time::{Duration, Instant};

/// Tells a member with no partitions for a while to leave and join its group again; the wait
/// doubles from 30 s up to 5 min. Tansu can keep a SIGKILLed member's partitions assigned to it
/// until a join notices the member is gone. On Kafka this costs a surplus member an occasional
/// rebalance.
#[derive(Debug)]
pub struct Rejoin {
    idle_since: Instant,
    after: Duration,
}

impl Default for Rejoin {
    fn default() -> Self {
        Rejoin {
            idle_since: Instant::now(),
            after: Self::FIRST,
        }
    }
}

impl Rejoin {
    const FIRST: Duration = Duration::from_secs(30);
    const LONGEST: Duration = Duration::from_secs(300);

    /// Called once per loop turn with whether the member holds partitions; true means
    /// unsubscribe and subscribe again now.
    pub fn due(&mut self, has_partitions: bool) -> bool {
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
