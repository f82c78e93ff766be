//! The set: the dict's table holding keys only.
//!
//! A set is an [`AtomicDict`] whose every value is [`Present`], a marker rather than an object.
//! There is no second table and no second code path: every operation below is one call of the
//! dict's own operations, so the set inherits its algorithm, orderings and migration protocol
//! unchanged (see `docs/design.md`).
//!
//! # The marker
//! [`Present`] packs into the value word as the address of a private, immortal static. The
//! engine never dereferences a value word (it copies it, compares it by address, and hands it
//! to [`Handle`]'s functions), and those functions ignore the address, so nothing ever reads
//! through it. Its releases do nothing and [`Handle::needs_release`] says so, so removing an
//! element defers nothing for its value. The value word still costs 8 bytes per entry: the
//! price of sharing the dict's table rather than forking it.

use std::ptr::NonNull;

use super::dict::{Action, AtomicDict, CapacityError, KeyHash, Outcome};
use super::reclaim::Handle;

/// A concurrent, insertion-ordered set of reference-counted keys: the dict with no values.
pub type AtomicSet<K> = AtomicDict<K, Present>;

/// The value of every key in an [`AtomicSet`]: "present". A zero-sized marker whose raw form
/// is the address of [`ANCHOR`], never dereferenced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present;

/// What [`Present`]'s raw pointer points at: 8-aligned, so the value word's 3 state bits are
/// free, and never read.
#[repr(align(8))]
struct Anchor(#[allow(dead_code)] u64);

static ANCHOR: Anchor = Anchor(0);

impl Present {
    /// The marker's raw form: a fixed, non-null, 8-aligned address.
    #[inline]
    fn raw() -> NonNull<()> {
        NonNull::from(&ANCHOR).cast()
    }
}

// SAFETY: `Present` behaves as a handle to an immortal object (the static `ANCHOR`), whose
// references need no counting:
// * `into_raw` returns `&ANCHOR`: non-null (a static's address) and 8-aligned (`repr(align(8))`),
//   so it is never UNSET (0) or TOMBSTONE (4) and leaves the 3 state bits clear; the "strong
//   reference" it carries is vacuous, as an immortal object's is;
// * `clone_raw` returns another marker, which is a new reference to the same immortal object;
// * `release` gives up a vacuous reference: nothing to do, now or later;
// * the static is shared by all threads and never mutated (`Send + Sync`).
// Nothing dereferences the address: the engine never reads through a value word (it copies,
// compares and passes it to these functions, which ignore it).
unsafe impl Handle for Present {
    #[inline]
    fn into_raw(self) -> NonNull<()> {
        Self::raw()
    }

    #[inline]
    fn as_ptr(&self) -> NonNull<()> {
        Self::raw()
    }

    #[inline]
    unsafe fn from_raw(_ptr: NonNull<()>) -> Self {
        Present
    }

    #[inline]
    unsafe fn clone_raw(_ptr: NonNull<()>) -> Self {
        Present
    }

    #[inline]
    unsafe fn release(_ptr: NonNull<()>) {}

    #[inline]
    fn needs_release(_ptr: NonNull<()>) -> bool {
        false
    }
}

impl<K: Handle> AtomicDict<K, Present> {
    /// Whether `key_hash`/`eq`'s key is in the set. Lock-free and linearizable.
    pub fn contains<E>(&self, key_hash: KeyHash, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<bool, E> {
        Ok(self.get(key_hash, eq)?.is_some())
    }

    /// Adds the key (the set takes its own reference) unless an equal one is present. Returns
    /// whether this call added it: of racing callers for equal keys, exactly one gets `true`.
    pub fn add<E: From<CapacityError>>(&self, key_hash: KeyHash, key: &K, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<bool, E> {
        Ok(self.insert_if_absent(key_hash, key, eq, Present)?.is_none())
    }

    /// Removes the key if present. Returns whether this call removed it: of racing callers,
    /// exactly one gets `true` for each time the key was present.
    pub fn discard<E: From<CapacityError>>(&self, key_hash: KeyHash, key: &K, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<bool, E> {
        let outcome = self.modify(key_hash, key, eq, |_, _| Ok(Action::Remove))?;
        Ok(outcome == Outcome::Removed)
    }

    /// Removes the key if present, else adds it, in one linearizable step. Returns whether the
    /// key is present afterwards.
    pub fn toggle<E: From<CapacityError>>(&self, key_hash: KeyHash, key: &K, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<bool, E> {
        let outcome = self.modify(key_hash, key, eq, |current, _| {
            Ok(if current.is_some() { Action::Remove } else { Action::Set(Present) })
        })?;
        Ok(outcome == Outcome::Inserted)
    }

    /// Removes and returns the most recently inserted key, or `None` if the set is empty.
    /// Atomic: the key returned was present and is removed in one step.
    pub fn pop(&self) -> Option<K> {
        self.pop_last().map(|(key, Present)| key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AtomicSet, Present};
    use crate::engine::dict::KeyHash;
    use crate::engine::reclaim::{pin, Handle};

    fn eq(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, ()> {
        move |stored| Ok(**stored == k)
    }

    fn h(k: u64) -> KeyHash {
        KeyHash::new(k % 3) // few hashes: probes compare keys
    }

    #[test]
    fn the_marker_is_a_fixed_aligned_word_that_needs_no_release() {
        let p = Present.into_raw();
        assert_eq!(p, Present.as_ptr());
        assert_eq!(p.as_ptr() as usize % 8, 0);
        assert!(!Present::needs_release(p));
        // SAFETY: `p` came from `into_raw`; the marker's references are vacuous.
        assert_eq!(unsafe { Present::clone_raw(p) }.as_ptr(), p);
    }

    #[test]
    fn add_discard_and_toggle_report_what_they_did() {
        let set: AtomicSet<Arc<u64>> = AtomicSet::new();
        let keys: Vec<Arc<u64>> = (0..100).map(Arc::new).collect();
        for k in &keys {
            assert!(set.add(h(**k), k, eq(**k)).unwrap());
            assert!(!set.add(h(**k), k, eq(**k)).unwrap());
        }
        assert_eq!(set.len(), 100);
        for k in keys.iter().step_by(2) {
            assert!(set.discard(h(**k), k, eq(**k)).unwrap());
            assert!(!set.discard(h(**k), k, eq(**k)).unwrap());
        }
        for k in &keys {
            assert_eq!(set.contains(h(**k), eq(**k)).unwrap(), **k % 2 == 1);
        }
        // Toggling every key flips membership.
        for k in &keys {
            assert_eq!(set.toggle(h(**k), k, eq(**k)).unwrap(), **k % 2 == 0);
        }
        let mut order = Vec::new();
        let mut it = set.iter();
        while let Some((k, Present)) = it.next() {
            order.push(*k);
        }
        assert_eq!(order, (0..100).step_by(2).collect::<Vec<_>>());
        assert_eq!(set.pop().map(|k| *k), Some(98));
        assert_eq!(set.len(), 49);
    }

    #[test]
    fn every_key_is_released_exactly_once_through_growth_removal_and_drop() {
        let keys: Vec<Arc<u64>> = (0..2000).map(Arc::new).collect();
        {
            let set: AtomicSet<Arc<u64>> = AtomicSet::new();
            for k in &keys {
                set.add(h(**k), k, eq(**k)).unwrap();
            }
            for k in keys.iter().filter(|k| ***k % 3 == 0) {
                set.discard(h(**k), k, eq(**k)).unwrap();
            }
            while set.len() > 1000 {
                set.pop();
            }
            set.clear();
            for k in keys.iter().take(10) {
                set.add(h(**k), k, eq(**k)).unwrap();
            }
        }
        // Deferred releases run once every thread pinned meanwhile has moved on; other tests
        // share the collector, so flush until they have (or a generous deadline passes).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while keys.iter().any(|k| Arc::strong_count(k) != 1) && std::time::Instant::now() < deadline {
            pin().flush();
            std::thread::yield_now();
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(Arc::strong_count(k), 1, "key {i} released more or fewer times than taken");
        }
    }

    #[test]
    fn an_iteration_never_meets_a_key_twice_though_each_is_removed_and_added_again() {
        // Re-adding makes a new entry at the end, and adding grows (migrates) the table; the
        // iterator stops at the entries that existed when it began.
        let set: AtomicSet<Arc<u64>> = AtomicSet::new();
        for k in 0..100u64 {
            set.add(h(k), &Arc::new(k), eq(k)).unwrap();
        }
        let mut it = set.iter();
        let mut seen = Vec::new();
        while let Some((k, Present)) = it.next() {
            seen.push(*k);
            assert!(seen.len() <= 100, "met a key twice: {seen:?}");
            set.discard(h(*k), &k, eq(*k)).unwrap();
            set.add(h(*k), &k, eq(*k)).unwrap();
            set.add(h(*k + 1000), &Arc::new(*k + 1000), eq(*k + 1000)).unwrap();
        }
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_collector_traversal_visits_the_keys_and_never_the_marker() {
        let set: AtomicSet<Arc<u64>> = AtomicSet::new();
        let keys: Vec<Arc<u64>> = (0..50).map(Arc::new).collect();
        for k in &keys {
            set.add(h(**k), k, eq(**k)).unwrap();
        }
        let mut visited = Vec::new();
        // SAFETY: no other thread uses the set.
        unsafe { set.for_each_owned(|p| visited.push(p)) };
        assert_eq!(visited.len(), 50);
        assert!(!visited.contains(&Present.as_ptr()));
    }

    #[test]
    fn racing_adds_of_one_key_have_exactly_one_winner() {
        let set: Arc<AtomicSet<Arc<u64>>> = Arc::new(AtomicSet::new());
        let wins: Vec<usize> = (0..4)
            .map(|_| {
                let set = Arc::clone(&set);
                std::thread::spawn(move || {
                    (0..500u64).filter(|&k| set.add(h(k), &Arc::new(k), eq(k)).unwrap()).count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(wins.iter().sum::<usize>(), 500);
        assert_eq!(set.len(), 500);
    }
}
