//! The simulator's stores: each one a map behind its own lock, with an expiry queue.
//!
//! Every store is locked separately and only for the few map operations of one step (never
//! across signature checks or signing), so a host that runs requests on several threads
//! ([`super::Simulator::worker`]) lets unrelated requests proceed side by side. A poisoned lock
//! (a panic while it was held) is taken over as it is: each critical section is a handful of map
//! operations, so the map is never left half-updated.
//!
//! Expiry is amortised: each entry is queued under the second at which it is forgotten, and
//! [`Expiring::prune`] pops only what is due, at most [`PRUNE_BATCH`] entries a call, so a request
//! pays neither for the size of the store nor for a crowd of entries that expire together (they
//! go over the next requests; lookups of short-lived entries check expiry themselves).

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Most entries one [`Expiring::prune`] call removes.
pub(crate) const PRUNE_BATCH: usize = 256;

/// A value behind a lock that a panic elsewhere does not make unusable.
#[derive(Debug, Default)]
pub(crate) struct Locked<T>(Mutex<T>);

impl<T> Locked<T> {
    pub fn new(value: T) -> Self {
        Locked(Mutex::new(value))
    }

    /// The value, for the duration of the guard. Keep the guard for a few map operations only.
    /// The one lock taken while another is held is the client journal's, inside the client
    /// store's (never the other way round).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A map whose entries are forgotten at a time derived from their value (`forget_at`: the first
/// second at which the entry is gone), pruned from a queue ordered by that time.
///
/// Iteration is in key order, as before, so responses stay deterministic.
#[derive(Debug)]
pub(crate) struct Expiring<K: Ord + Clone, V> {
    map: BTreeMap<K, V>,
    /// `(forget_at, insertion number, key)`, soonest first; ties leave in insertion order. Entries
    /// whose key was removed or re-inserted since are skipped when they come up.
    queue: BinaryHeap<Reverse<(u64, u64, K)>>,
    next: u64,
    forget_at: fn(&V) -> u64,
}

impl<K: Ord + Clone, V> Expiring<K, V> {
    /// An empty store whose entries are forgotten at `forget_at(value)` (`u64::MAX`: never).
    pub fn new(forget_at: fn(&V) -> u64) -> Self {
        Expiring { map: BTreeMap::new(), queue: BinaryHeap::new(), next: 0, forget_at }
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    /// Mutable access. If the change moves the entry's `forget_at` later, pruning finds that out
    /// when the old time comes and queues it again.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.map.get_mut(key)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.map.values_mut()
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.map.remove(key)
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let at = (self.forget_at)(&value);
        self.push(at, key.clone());
        let old = self.map.insert(key, value);
        self.compact_if_sparse();
        old
    }

    /// Inserts only if `key` is absent; `false` (and nothing changes) if it is there. One lock
    /// covers the check and the insert, so two requests cannot both insert the same key.
    pub fn insert_new(&mut self, key: K, value: V) -> bool {
        if self.map.contains_key(&key) {
            return false;
        }
        self.insert(key, value);
        true
    }

    /// Keeps the entries for which `keep` is true (a full pass: for rare events only).
    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(keep);
        self.compact_if_sparse();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.queue.clear();
    }

    /// Forgets entries due at `now` (seconds): `forget_at(value) <= now`, the soonest first, at
    /// most [`PRUNE_BATCH`] queue entries a call (the rest at the next calls).
    pub fn prune(&mut self, now: u64) {
        for _ in 0..PRUNE_BATCH {
            match self.queue.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, _, key))) = self.queue.pop() else { break };
            self.settle(at, key, now);
        }
    }

    /// Removes the entry that leaves first (the soonest `forget_at`, the oldest among equals),
    /// to make room. Returns its key, if there was one.
    pub fn evict_first(&mut self) -> Option<K> {
        while let Some(Reverse((at, _, key))) = self.queue.pop() {
            match self.map.get(&key).map(|v| (self.forget_at)(v)) {
                // Moved later since it was queued: its turn comes at the new time.
                Some(current) if current > at => self.push(current, key),
                Some(_) => {
                    self.map.remove(&key);
                    return Some(key);
                }
                None => {}
            }
        }
        None
    }

    fn push(&mut self, at: u64, key: K) {
        self.queue.push(Reverse((at, self.next, key)));
        self.next += 1;
    }

    /// A queue entry came up at `now`: remove the entry if it is really due, queue it again if
    /// its time moved later, skip it if it is gone or was re-inserted (its newer queue entry
    /// decides).
    fn settle(&mut self, at: u64, key: K, now: u64) {
        let Some(current) = self.map.get(&key).map(|v| (self.forget_at)(v)) else { return };
        if current <= now {
            self.map.remove(&key);
        } else if current > at {
            self.push(current, key);
        }
    }

    /// Rebuilds the queue when stale entries (removed or re-inserted keys) outnumber live ones,
    /// so the queue stays proportional to the map. Amortised O(log n) per insert.
    fn compact_if_sparse(&mut self) {
        if self.queue.len() > 2 * self.map.len() + 1024 {
            let forget_at = self.forget_at;
            let mut live: Vec<(u64, u64, K)> = Vec::with_capacity(self.map.len());
            for Reverse((at, n, key)) in std::mem::take(&mut self.queue).into_vec() {
                if self.map.get(&key).is_some_and(|v| forget_at(v) == at) {
                    live.push((at, n, key));
                }
            }
            // A key queued twice at the same time keeps one entry.
            live.sort();
            live.dedup_by(|a, b| a.2 == b.2 && a.0 == b.0);
            self.queue = live.into_iter().map(Reverse).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Expiring<String, u64> {
        Expiring::new(|exp| *exp)
    }

    #[test]
    fn prune_removes_what_is_due_and_only_that() {
        let mut s = store();
        s.insert("a".into(), 10);
        s.insert("b".into(), 20);
        s.insert("c".into(), u64::MAX);
        s.prune(9);
        assert_eq!(s.len(), 3);
        s.prune(10);
        assert!(!s.contains_key("a"));
        assert_eq!(s.len(), 2);
        s.prune(1_000_000);
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![u64::MAX]);
    }

    #[test]
    fn an_entry_moved_later_survives_its_old_time_and_goes_at_the_new_one() {
        let mut s = store();
        s.insert("a".into(), 10);
        *s.get_mut("a").unwrap() = 30;
        s.prune(15);
        assert!(s.contains_key("a"));
        s.prune(30);
        assert!(!s.contains_key("a"));
    }

    #[test]
    fn a_reinserted_key_is_not_removed_by_its_old_queue_entry() {
        let mut s = store();
        s.insert("a".into(), 10);
        s.remove("a");
        s.insert("a".into(), 50);
        s.prune(20);
        assert!(s.contains_key("a"));
        s.prune(50);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn a_crowd_that_expires_together_goes_over_several_calls() {
        let mut s = store();
        for i in 0..1000 {
            s.insert(format!("k{i}"), 10);
        }
        s.insert("later".into(), 20);
        s.prune(15);
        assert_eq!(s.len(), 1001 - PRUNE_BATCH);
        for _ in 0..4 {
            s.prune(15);
        }
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![20]);
    }

    #[test]
    fn insert_new_refuses_a_present_key() {
        let mut s = store();
        assert!(s.insert_new("a".into(), 10));
        assert!(!s.insert_new("a".into(), 99));
        assert_eq!(s.get("a"), Some(&10));
    }

    #[test]
    fn evict_first_takes_the_soonest_then_the_oldest() {
        let mut s = store();
        s.insert("x".into(), u64::MAX);
        s.insert("y".into(), u64::MAX);
        s.insert("z".into(), 5);
        assert_eq!(s.evict_first().as_deref(), Some("z"));
        assert_eq!(s.evict_first().as_deref(), Some("x"));
        assert!(s.contains_key("y"));
    }

    #[test]
    fn the_queue_stays_proportional_to_the_map() {
        let mut s = store();
        for i in 0..10_000u64 {
            s.insert("same".into(), u64::MAX - i);
        }
        assert_eq!(s.len(), 1);
        assert!(s.queue.len() <= 2 * s.len() + 1025, "queue has {} entries", s.queue.len());
        assert_eq!(s.evict_first().as_deref(), Some("same"));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn a_poisoned_lock_is_still_usable() {
        let locked = std::sync::Arc::new(Locked::new(store()));
        let l2 = locked.clone();
        let _ = std::thread::spawn(move || {
            let _guard = l2.lock();
            panic!("poison it");
        })
        .join();
        locked.lock().insert("a".into(), 1);
        assert_eq!(locked.lock().len(), 1);
    }
}
