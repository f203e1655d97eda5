//! Every key's state of a partition, with the keys changed since the last commit.
//!
//! A key is hashed once per access and lives in one slot: the changed keys are slot numbers in
//! the order of their first change, so the end of a batch neither copies nor sorts key strings
//! (sorting key strings cost a tenth of the ledger's time). The order follows the inputs' order,
//! so it is the same on every run and after every restart. Serialized, a change is a
//! [`Change`], what the store and the changelog keep.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A state value that does not serialize or deserialize.
#[derive(Debug, thiserror::Error)]
#[error("state of key {key}: {detail}")]
pub struct StateError {
    /// Key.
    pub key: String,
    /// Serializer message.
    pub detail: String,
}

/// A changed key and its serialized value as the store and the changelog keep it (None: removed).
pub type Change = (String, Option<Vec<u8>>);

/// A key's slot: stable while the key has state or is changed and not yet committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(u32);

struct Slot<S> {
    key: Box<str>,
    /// None: removed (kept until the removal is committed), or a free slot.
    state: Option<S>,
    /// Listed in [`States::changed`].
    changed: bool,
}

/// The states of one partition by key, and the keys changed since [`States::take_changed`].
pub struct States<S> {
    slots: Vec<Slot<S>>,
    /// Slot numbers, hashed by their key.
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Slots whose key was removed and committed, for reuse.
    free: Vec<u32>,
    changed: Vec<StateId>,
    live: usize,
}

impl<S> Default for States<S> {
    fn default() -> Self {
        States {
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            free: Vec::new(),
            changed: Vec::new(),
            live: 0,
        }
    }
}

impl<S> States<S> {
    fn find(&self, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| &*self.slots[i as usize].key == key)
            .copied()
    }

    /// The slot of `key`, taken (from the free ones or new) if the key has none.
    fn slot_of(&mut self, key: &str) -> u32 {
        let hash = self.hasher.hash_one(key);
        let slots = &mut self.slots;
        let free = &mut self.free;
        let entry = self.index.entry(
            hash,
            |&i| &*slots[i as usize].key == key,
            |&i| self.hasher.hash_one(&*slots[i as usize].key),
        );
        *entry
            .or_insert_with(|| {
                let slot = Slot {
                    key: key.into(),
                    state: None,
                    changed: false,
                };
                match free.pop() {
                    Some(i) => {
                        slots[i as usize] = slot;
                        i
                    }
                    None => {
                        slots.push(slot);
                        (slots.len() - 1) as u32
                    }
                }
            })
            .get()
    }

    fn mark(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        if !slot.changed {
            slot.changed = true;
            self.changed.push(StateId(i));
        }
    }

    /// Number of keys with state.
    pub fn len(&self) -> usize {
        self.live
    }

    /// No key has state.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The state of `key`.
    pub fn get(&self, key: &str) -> Option<&S> {
        self.find(key)
            .and_then(|i| self.slots[i as usize].state.as_ref())
    }

    /// The state of `key`, created with `make` if it has none; marked changed.
    pub fn changing(&mut self, key: &str, make: impl FnOnce() -> S) -> &mut S {
        let i = self.slot_of(key);
        self.mark(i);
        let slot = &mut self.slots[i as usize];
        if slot.state.is_none() {
            self.live += 1;
        }
        slot.state.get_or_insert_with(make)
    }

    /// Removes the state of `key`; the removal counts as a change. Returns whether it had one.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(i) = self.find(key) else {
            return false;
        };
        if self.slots[i as usize].state.take().is_none() {
            return false;
        }
        self.live -= 1;
        self.mark(i);
        true
    }

    /// Sets the state of `key` without counting a change (restoring from a store).
    pub fn restore(&mut self, key: &str, state: S) {
        let i = self.slot_of(key);
        if self.slots[i as usize].state.replace(state).is_none() {
            self.live += 1;
        }
    }

    /// Removes the state of `key` without counting a change (restoring from a store).
    pub fn restore_removal(&mut self, key: &str) {
        if let Some(i) = self.find(key)
            && self.slots[i as usize].state.take().is_some()
        {
            self.live -= 1;
            if !self.slots[i as usize].changed {
                self.release(i);
            }
        }
    }

    /// Frees the slot of a key without state.
    fn release(&mut self, i: u32) {
        let hash = self.hasher.hash_one(&*self.slots[i as usize].key);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.slots[i as usize].key = Box::from("");
        self.free.push(i);
    }

    /// Keys changed since the last [`States::take_changed`], in the order of their first change.
    pub fn changed(&self) -> &[StateId] {
        &self.changed
    }

    /// The key and state (None: removed) of a changed key's slot.
    pub fn at(&self, id: StateId) -> (&str, Option<&S>) {
        let slot = &self.slots[id.0 as usize];
        (&slot.key, slot.state.as_ref())
    }

    /// Calls `f` with every changed key and its state (None: removed), in the order of their
    /// first change, and starts a new set of changes; slots of removed keys are freed.
    pub fn take_changed<E>(
        &mut self,
        mut f: impl FnMut(&str, Option<&S>) -> Result<(), E>,
    ) -> Result<(), E> {
        let changed = std::mem::take(&mut self.changed);
        let mut result = Ok(());
        for &StateId(i) in &changed {
            let slot = &mut self.slots[i as usize];
            slot.changed = false;
            if result.is_ok() {
                result = f(&slot.key, slot.state.as_ref());
            }
        }
        for &StateId(i) in &changed {
            if self.slots[i as usize].state.is_none() {
                self.release(i);
            }
        }
        // The list keeps its capacity: it grows to the same size every batch.
        self.changed = changed;
        self.changed.clear();
        result
    }

    /// Every key with state, and its state, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &S)> {
        self.slots
            .iter()
            .filter_map(|s| s.state.as_ref().map(|state| (&*s.key, state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(s: &mut States<i32>) -> Vec<(String, Option<i32>)> {
        let mut out = Vec::new();
        s.take_changed(|k, v| {
            out.push((k.to_owned(), v.copied()));
            Ok::<_, ()>(())
        })
        .expect("take");
        out
    }

    #[test]
    fn changes_are_listed_once_in_the_order_of_their_first_change() {
        let mut s = States::<i32>::default();
        *s.changing("b", || 0) += 1;
        *s.changing("a", || 0) += 1;
        *s.changing("b", || 0) += 1;
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("b"), Some(&2));
        let listed: Vec<_> = s.changed().iter().map(|&id| s.at(id)).collect();
        assert_eq!(listed, vec![("b", Some(&2)), ("a", Some(&1))]);
        assert_eq!(
            taken(&mut s),
            vec![("b".into(), Some(2)), ("a".into(), Some(1))]
        );
        assert!(s.changed().is_empty());
        assert!(taken(&mut s).is_empty(), "nothing changed since");
    }

    #[test]
    fn a_removal_is_a_change_and_its_slot_is_reused_after_the_commit() {
        let mut s = States::<i32>::default();
        *s.changing("a", || 0) = 1;
        *s.changing("b", || 0) = 2;
        taken(&mut s);
        assert!(s.remove("a"));
        assert!(!s.remove("a"), "already removed");
        assert!(!s.remove("zz"), "never had state");
        assert_eq!(s.get("a"), None);
        assert_eq!(s.len(), 1);
        assert_eq!(taken(&mut s), vec![("a".into(), None)]);
        *s.changing("c", || 0) = 3;
        assert_eq!(s.slots.len(), 2, "c took a's freed slot");
        assert_eq!(s.get("c"), Some(&3));
        assert_eq!(s.get("a"), None);
        // Removed and set again within one batch: one change, with the new state.
        assert!(s.remove("b"));
        *s.changing("b", || 0) += 5;
        assert_eq!(
            taken(&mut s),
            vec![("c".into(), Some(3)), ("b".into(), Some(5))]
        );
        let mut all: Vec<_> = s.iter().map(|(k, v)| (k.to_owned(), *v)).collect();
        all.sort();
        assert_eq!(all, vec![("b".into(), 5), ("c".into(), 3)]);
    }

    #[test]
    fn restored_states_are_not_changes() {
        let mut s = States::<i32>::default();
        s.restore("a", 1);
        s.restore("b", 2);
        s.restore("a", 3);
        s.restore_removal("b");
        s.restore_removal("never");
        assert_eq!(s.len(), 1);
        assert_eq!(s.get("a"), Some(&3));
        assert!(s.changed().is_empty());
        assert!(taken(&mut s).is_empty());
        *s.changing("d", || 0) = 4;
        assert_eq!(s.slots.len(), 2, "d took b's freed slot");
    }
}
