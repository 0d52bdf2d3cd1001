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
//!
//! Every store has the same two collections inside: an ordered index from the key's bytes to a
//! slot, and the expiry queue of those bytes; the values sit in a vector of slots. So the
//! standard library's B-tree and heap are compiled once for all nine stores, not once per key
//! and value type (measured with twiggy on the light simulator module: the per-store copies
//! were the largest part of its code).

use std::cmp::Reverse;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BinaryHeap};
use std::marker::PhantomData;
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

/// A key of a store, kept as bytes. A string's bytes are its UTF-8, so strings keep their order.
pub(crate) trait StoreKey {
    /// The bytes the store keeps and compares.
    fn key_bytes(&self) -> Vec<u8>;
    /// The key back from [`StoreKey::key_bytes`].
    fn from_key_bytes(bytes: &[u8]) -> Self;
}

impl StoreKey for String {
    fn key_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_key_bytes(bytes: &[u8]) -> Self {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

impl<const N: usize> StoreKey for [u8; N] {
    fn key_bytes(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn from_key_bytes(bytes: &[u8]) -> Self {
        let mut key = [0; N];
        key.copy_from_slice(bytes);
        key
    }
}

/// `(a, b)` as the length of `a` (4 bytes), `a`, `b`: no two pairs share their bytes.
impl StoreKey for (String, String) {
    fn key_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4 + self.0.len() + self.1.len());
        bytes.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        bytes.extend_from_slice(self.0.as_bytes());
        bytes.extend_from_slice(self.1.as_bytes());
        bytes
    }
    fn from_key_bytes(bytes: &[u8]) -> Self {
        let (len, rest) = bytes.split_at(4);
        let (a, b) = rest.split_at(u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize);
        (String::from_utf8_lossy(a).into_owned(), String::from_utf8_lossy(b).into_owned())
    }
}

type Bytes = Box<[u8]>;

/// Lookups by a borrowed key: a `&str` for a `String` key needs no copy.
pub(crate) trait KeyRef {
    /// Calls `f` with the bytes of the key.
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R;
}

impl KeyRef for str {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

impl KeyRef for String {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

impl<const N: usize> KeyRef for [u8; N] {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

impl KeyRef for (String, String) {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.key_bytes())
    }
}

/// A map whose entries are forgotten at a time derived from their value (`forget_at`: the first
/// second at which the entry is gone), pruned from a queue ordered by that time.
///
/// Iteration is in the order of the keys' bytes (for strings, their order), so responses stay
/// deterministic.
pub(crate) struct Expiring<K, V> {
    /// Key bytes -> index in `slots`.
    index: BTreeMap<Bytes, usize>,
    slots: Vec<Option<V>>,
    /// Empty slots, reused first.
    free: Vec<usize>,
    /// `(forget_at, insertion number, key)`, soonest first; ties leave in insertion order. Entries
    /// whose key was removed or re-inserted since are skipped when they come up.
    queue: BinaryHeap<Reverse<(u64, u64, Bytes)>>,
    next: u64,
    forget_at: fn(&V) -> u64,
    key: PhantomData<fn() -> K>,
}

impl<K, V> std::fmt::Debug for Expiring<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expiring").field("len", &self.index.len()).field("queued", &self.queue.len()).finish()
    }
}

impl<K: StoreKey + KeyRef, V> Expiring<K, V> {
    /// An empty store whose entries are forgotten at `forget_at(value)` (`u64::MAX`: never).
    pub fn new(forget_at: fn(&V) -> u64) -> Self {
        Expiring { index: BTreeMap::new(), slots: Vec::new(), free: Vec::new(), queue: BinaryHeap::new(), next: 0, forget_at, key: PhantomData }
    }

    fn slot<Q: KeyRef + ?Sized>(&self, key: &Q) -> Option<usize> {
        key.with_bytes(|b| self.index.get(b).copied())
    }

    pub fn get<Q: KeyRef + ?Sized>(&self, key: &Q) -> Option<&V> {
        self.slot(key).and_then(|i| self.slots[i].as_ref())
    }

    /// Mutable access. If the change moves the entry's `forget_at` later, pruning finds that out
    /// when the old time comes and queues it again.
    pub fn get_mut<Q: KeyRef + ?Sized>(&mut self, key: &Q) -> Option<&mut V> {
        self.slot(key).and_then(|i| self.slots[i].as_mut())
    }

    pub fn contains_key<Q: KeyRef + ?Sized>(&self, key: &Q) -> bool {
        self.slot(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.index.values().filter_map(|&i| self.slots[i].as_ref())
    }

    /// Every value, mutably, in the order of their slots (deterministic, not the keys' order).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().flatten()
    }

    pub fn remove<Q: KeyRef + ?Sized>(&mut self, key: &Q) -> Option<V> {
        let i = key.with_bytes(|b| self.index.remove(b))?;
        self.take_slot(i)
    }

    fn take_slot(&mut self, i: usize) -> Option<V> {
        self.free.push(i);
        self.slots[i].take()
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_bytes(key.key_bytes().into_boxed_slice(), value)
    }

    /// Inserts or replaces under the key's bytes: one search of the index.
    fn insert_bytes(&mut self, bytes: Bytes, value: V) -> Option<V> {
        let at = (self.forget_at)(&value);
        let old = match self.index.entry(bytes.clone()) {
            Entry::Occupied(e) => self.slots[*e.get()].replace(value),
            Entry::Vacant(e) => {
                let i = match self.free.pop() {
                    Some(i) => {
                        self.slots[i] = Some(value);
                        i
                    }
                    None => {
                        self.slots.push(Some(value));
                        self.slots.len() - 1
                    }
                };
                e.insert(i);
                None
            }
        };
        self.push(at, bytes);
        self.compact_if_sparse();
        old
    }

    /// Inserts only if `key` is absent; `false` (and nothing changes) if it is there. One lock
    /// covers the check and the insert, so two requests cannot both insert the same key.
    pub fn insert_new(&mut self, key: K, value: V) -> bool {
        let bytes = key.key_bytes().into_boxed_slice();
        if self.index.contains_key(&bytes) {
            return false;
        }
        self.insert_bytes(bytes, value);
        true
    }

    /// Keeps the entries for which `keep` is true (a full pass: for rare events only).
    pub fn retain(&mut self, mut keep: impl FnMut(&mut V) -> bool) {
        let (slots, free) = (&mut self.slots, &mut self.free);
        self.index.retain(|_, &mut i| {
            let kept = slots[i].as_mut().is_some_and(&mut keep);
            if !kept {
                slots[i] = None;
                free.push(i);
            }
            kept
        });
        self.compact_if_sparse();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
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
            match self.forget_at_of(&key) {
                // Moved later since it was queued: its turn comes at the new time.
                Some(current) if current > at => self.push(current, key),
                Some(_) => {
                    if let Some(i) = self.index.remove(&key) {
                        self.take_slot(i);
                    }
                    return Some(K::from_key_bytes(&key));
                }
                None => {}
            }
        }
        None
    }

    fn forget_at_of(&self, key: &[u8]) -> Option<u64> {
        let i = *self.index.get(key)?;
        self.slots[i].as_ref().map(self.forget_at)
    }

    fn push(&mut self, at: u64, key: Bytes) {
        self.queue.push(Reverse((at, self.next, key)));
        self.next += 1;
    }

    /// A queue entry came up at `now`: remove the entry if it is really due, queue it again if
    /// its time moved later, skip it if it is gone or was re-inserted (its newer queue entry
    /// decides).
    fn settle(&mut self, at: u64, key: Bytes, now: u64) {
        let Some(current) = self.forget_at_of(&key) else { return };
        if current <= now {
            if let Some(i) = self.index.remove(&key) {
                self.take_slot(i);
            }
        } else if current > at {
            self.push(current, key);
        }
    }

    /// Rebuilds the queue when stale entries (removed or re-inserted keys) outnumber live ones,
    /// so the queue stays proportional to the map. Amortised O(log n) per insert.
    fn compact_if_sparse(&mut self) {
        if self.queue.len() > 2 * self.index.len() + 1024 {
            let mut live: Vec<(u64, u64, Bytes)> = Vec::with_capacity(self.index.len());
            for Reverse((at, n, key)) in std::mem::take(&mut self.queue).into_vec() {
                if self.forget_at_of(&key) == Some(at) {
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
    fn keys_of_every_kind_round_trip_and_pairs_never_collide() {
        for (a, b) in [("ab", "c"), ("a", "bc"), ("", "abc"), ("abc", ""), ("é", "\u{0}")] {
            let key = (a.to_owned(), b.to_owned());
            assert_eq!(<(String, String)>::from_key_bytes(&key.key_bytes()), key);
        }
        assert_ne!(("ab".to_owned(), "c".to_owned()).key_bytes(), ("a".to_owned(), "bc".to_owned()).key_bytes());
        let mut pairs: Expiring<(String, String), u64> = Expiring::new(|exp| *exp);
        assert!(pairs.insert_new(("ab".into(), "c".into()), 1));
        assert!(pairs.insert_new(("a".into(), "bc".into()), 2));
        assert!(!pairs.insert_new(("a".into(), "bc".into()), 3));
        assert_eq!(pairs.evict_first(), Some(("ab".to_owned(), "c".to_owned())));
        let mut fixed: Expiring<[u8; 4], u64> = Expiring::new(|exp| *exp);
        fixed.insert([1, 2, 3, 4], 9);
        assert_eq!(fixed.get(&[1, 2, 3, 4]), Some(&9));
        assert_eq!(fixed.evict_first(), Some([1, 2, 3, 4]));
    }

    #[test]
    fn values_come_in_key_order_and_slots_are_reused() {
        let mut s = store();
        for (k, v) in [("c", 3), ("a", 1), ("b", 2)] {
            s.insert(k.into(), v);
        }
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(s.remove("a"), Some(1));
        s.insert("d".into(), 4);
        assert_eq!(s.slots.len(), 3, "the freed slot is reused");
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        s.retain(|v| *v % 2 == 0);
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(s.get("c"), None);
        for v in s.values_mut() {
            *v += 10;
        }
        assert_eq!(s.values().copied().collect::<Vec<_>>(), vec![12, 14]);
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
