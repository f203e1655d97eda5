//! Timers a processor sets on its partition: event-time timers fire when the partition's
//! watermark reaches them, wall-clock timers (punctuation) when the clock does. Both are kept
//! with the partition's state (local store and changelog), so they survive a restart or a move.

use std::collections::{BTreeSet, HashMap, HashSet};

use composerp_events::Timestamp;

/// Prefix of the store and changelog keys that hold timers; state keys never start with it.
pub(crate) const TIMER_PREFIX: &str = "\u{1}timer|";

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// The partition's watermark: newest event time seen minus the allowed lateness.
    EventTime,
    /// The wall clock, checked at least once per batch interval.
    WallClock,
}

impl TimerKind {
    fn code(self) -> char {
        match self {
            TimerKind::EventTime => 'e',
            TimerKind::WallClock => 'w',
        }
    }
}

/// A timer that fired: its clock, its name (unique per clock and partition) and its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Clock.
    pub kind: TimerKind,
    /// Name given when it was set, e.g. the key it is about.
    pub name: String,
    /// When it was due.
    pub at: Timestamp,
}

/// The timers of one partition, ordered by due time per clock.
#[derive(Debug, Default)]
pub struct Timers {
    due: HashMap<(TimerKind, String), i64>,
    queues: [BTreeSet<(i64, String)>; 2],
    /// Timers set, moved or removed since the last commit.
    pub(crate) dirty: HashSet<(TimerKind, String)>,
}

fn queue(kind: TimerKind) -> usize {
    match kind {
        TimerKind::EventTime => 0,
        TimerKind::WallClock => 1,
    }
}

impl Timers {
    /// Sets (or moves) the timer `name` of `kind` to `at`.
    pub fn set(&mut self, kind: TimerKind, name: &str, at: Timestamp) {
        let key = (kind, name.to_owned());
        if let Some(old) = self.due.insert(key.clone(), at.0) {
            self.queues[queue(kind)].remove(&(old, name.to_owned()));
        }
        self.queues[queue(kind)].insert((at.0, name.to_owned()));
        self.dirty.insert(key);
    }

    /// Removes the timer `name` of `kind`, if set.
    pub fn cancel(&mut self, kind: TimerKind, name: &str) {
        let key = (kind, name.to_owned());
        if let Some(old) = self.due.remove(&key) {
            self.queues[queue(kind)].remove(&(old, name.to_owned()));
            self.dirty.insert(key);
        }
    }

    /// When the timer `name` of `kind` is due, if set.
    pub fn get(&self, kind: TimerKind, name: &str) -> Option<Timestamp> {
        self.due
            .get(&(kind, name.to_owned()))
            .map(|&t| Timestamp(t))
    }

    /// Number of timers set.
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// No timer is set.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// Due time of the earliest timer of `kind`.
    pub fn next_due(&self, kind: TimerKind) -> Option<Timestamp> {
        self.queues[queue(kind)]
            .first()
            .map(|(at, _)| Timestamp(*at))
    }

    /// Removes and returns the earliest timer of `kind` due at or before `now`.
    pub(crate) fn pop_due(&mut self, kind: TimerKind, now: Timestamp) -> Option<Timer> {
        let q = &mut self.queues[queue(kind)];
        let (at, _) = q.first()?;
        if *at > now.0 {
            return None;
        }
        let (at, name) = q.pop_first()?;
        let key = (kind, name);
        self.due.remove(&key);
        self.dirty.insert(key.clone());
        Some(Timer {
            kind,
            name: key.1,
            at: Timestamp(at),
        })
    }

    /// The store/changelog key of a timer.
    pub(crate) fn key(kind: TimerKind, name: &str) -> String {
        format!("{TIMER_PREFIX}{}|{name}", kind.code())
    }

    /// The store/changelog value of a dirty timer (None: removed).
    pub(crate) fn value(&self, kind: TimerKind, name: &str) -> Option<Vec<u8>> {
        self.due
            .get(&(kind, name.to_owned()))
            .map(|at| at.to_be_bytes().to_vec())
    }

    /// Applies a stored timer entry (None: removed); false when `key` is not a timer key.
    pub(crate) fn restore(&mut self, key: &str, value: Option<&[u8]>) -> bool {
        let Some(rest) = key.strip_prefix(TIMER_PREFIX) else {
            return false;
        };
        let kind = match rest.as_bytes().first() {
            Some(b'e') => TimerKind::EventTime,
            Some(b'w') => TimerKind::WallClock,
            _ => return true,
        };
        let name = rest.get(2..).unwrap_or_default();
        match value.and_then(|v| <[u8; 8]>::try_from(v).ok()) {
            Some(bytes) => self.set(kind, name, Timestamp(i64::from_be_bytes(bytes))),
            None => self.cancel(kind, name),
        }
        self.dirty.remove(&(kind, name.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_due_order_and_moving_one_replaces_it() {
        let mut t = Timers::default();
        t.set(TimerKind::EventTime, "b", Timestamp(20));
        t.set(TimerKind::EventTime, "a", Timestamp(30));
        t.set(TimerKind::EventTime, "a", Timestamp(10));
        t.set(TimerKind::WallClock, "a", Timestamp(5));
        assert_eq!(t.len(), 3);
        let fired: Vec<_> = std::iter::from_fn(|| t.pop_due(TimerKind::EventTime, Timestamp(25)))
            .map(|t| (t.name, t.at.0))
            .collect();
        assert_eq!(fired, vec![("a".into(), 10), ("b".into(), 20)]);
        assert!(t.pop_due(TimerKind::EventTime, Timestamp(25)).is_none());
        assert_eq!(t.get(TimerKind::WallClock, "a"), Some(Timestamp(5)));
    }

    #[test]
    fn a_timer_round_trips_through_its_stored_form() {
        let mut t = Timers::default();
        t.set(TimerKind::WallClock, "x|y", Timestamp(42));
        let key = Timers::key(TimerKind::WallClock, "x|y");
        let value = t.value(TimerKind::WallClock, "x|y");
        let mut back = Timers::default();
        assert!(back.restore(&key, value.as_deref()));
        assert_eq!(back.get(TimerKind::WallClock, "x|y"), Some(Timestamp(42)));
        assert!(back.dirty.is_empty());
        assert!(back.restore(&key, None));
        assert!(back.is_empty());
        assert!(!back.restore("p|a|b", Some(b"x")));
    }
}
