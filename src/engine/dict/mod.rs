//! A lock-free, insertion-ordered hash table of reference-counted keys and values.
//!
//! The table stores raw pointers of [`Handle`] types (Arc in Rust, Python objects in the
//! binding) and owns one reference to each key and value it holds. The caller hashes keys and
//! supplies equality as a closure that may fail or run arbitrary code (even re-entering the
//! same map). References handed out are new ones.
//!
//! [`AtomicDict`] is the safe layer: each method pins the crate's epoch collector for itself
//! (through [`reclaim::pinned`], which also runs releases queued meanwhile once it unpins), and
//! keys and values cross it as typed `&K`/`&V`. The raw layer below takes guards and pointers
//! and is private to this module, as papaya keeps `raw/` behind `map.rs`.
//!
//! Files, one per concern:
//! * [`table`]: one generation's layout (index + entries), value-word states, sizing;
//! * `raw`: the map's shared state, lookups, growth, clear and reserve, all under a guard;
//! * `modify`: every write (insert, update, remove, compare-and-set, compute), as one primitive;
//! * [`migrate`]: cooperative, order-preserving growth, compaction and clear;
//! * `ops`: the named operations (insert, remove, compare-and-set, compute, ...) over `modify`;
//! * `iter`: weakly consistent iteration (cursors that survive migrations) and `pop_last`;
//! * `trail`: what an iterator keeps of the generations it has passed (never the tables).
//!
//! `docs/design.md` has the long form and the table of happens-before pairs.

mod iter;
mod migrate;
mod modify;
mod ops;
mod raw;
mod table;
mod trail;

use std::ptr::NonNull;

pub use iter::{Cursor, Iter};
pub use modify::{Action, Outcome};
pub use table::{CapacityError, KeyHash};

use crate::engine::reclaim::{self, Handle};
use raw::RawDict;

/// A concurrent hash map from `K` to `V`, both reference-counted pointers (see [`Handle`]).
///
/// Equality is the caller's: every keyed operation takes the key's [`KeyHash`] and an `eq`
/// closure, called with stored keys of equal hash (and matching tag), which may fail (the error
/// is returned, the map unchanged) and may re-enter this map.
pub struct AtomicDict<K: Handle, V: Handle> {
    raw: RawDict<K, V>,
}

/// Diagnostics about the current generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Entries the current generation can hold before it migrates.
    pub capacity: usize,
    /// Live keys.
    pub len: usize,
    /// Entries used by keys that were deleted (or reservations abandoned) since the last migration.
    pub dead: usize,
    /// Migrations (growth, compaction, clear) since the map was created.
    pub migrations: u64,
    /// The longest run of occupied index slots a lookup may have to walk.
    pub longest_probe: usize,
}

impl<K: Handle, V: Handle> Default for AtomicDict<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Handle, V: Handle> AtomicDict<K, V> {
    /// An empty map with the smallest table.
    pub fn new() -> Self {
        Self::with_capacity(0).expect("the smallest table always fits")
    }

    /// An empty map that holds `capacity` keys before it first grows. A request that cannot be
    /// met returns an error rather than aborting.
    pub fn with_capacity(capacity: usize) -> Result<Self, CapacityError> {
        Ok(AtomicDict { raw: RawDict::with_capacity(capacity)? })
    }

    /// A new reference to the value stored under `key_hash` and a key for which `eq` is true.
    /// Lock-free and linearizable; readers never wait or help a migration.
    pub fn get<E>(&self, key_hash: KeyHash, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<Option<V>, E> {
        reclaim::pinned(#[inline(always)] |g| self.raw.get(g, key_hash, eq))
    }

    /// Whether a key for which `eq` is true is stored under `key_hash`: [`AtomicDict::get`]
    /// without taking (and later releasing) a reference to the value. Lock-free and
    /// linearizable.
    pub fn contains_key<E>(&self, key_hash: KeyHash, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<bool, E> {
        reclaim::pinned(#[inline(always)] |g| self.raw.lookup(g, key_hash, eq, |_| ()).map(|found| found.is_some()))
    }

    /// The write primitive. Finds `key_hash`/`eq`'s key, calls `decide(current, spare)` with its
    /// current value (lent for the call) or `None`, and applies the returned [`Action`]
    /// atomically: if the value changed in between, `decide` is called again with the new value
    /// (so it may run more than once) and gets back, as `spare`, the value it proposed last
    /// time.
    ///
    /// `key` is the caller's key, borrowed for the call; the map takes its own reference only
    /// if it inserts. Errors from `eq` or `decide` are returned with the map unchanged, and so
    /// is a [`CapacityError`] (converted to `E`) when the map must grow and the allocator
    /// refuses the new table: the map stays as it was, usable, without this write.
    /// Lock-free and linearizable: the successful CAS is the linearization point.
    pub fn modify<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        decide: impl FnMut(Option<&V>, Option<V>) -> Result<Action<V>, E>,
    ) -> Result<Outcome, E> {
        reclaim::pinned(#[inline(always)] |g| self.raw.modify(g, key_hash, key, eq, decide))
    }

    /// Whether probes here have met long runs of keys of one hash, so that callers able to
    /// fingerprint keys ([`KeyHash::with_fingerprint`]) should. Fingerprinting costs the caller
    /// work on every call, so it is worth it only then; tags of either kind find each other's
    /// keys, so switching kinds midway is safe.
    pub fn wants_fingerprints(&self) -> bool {
        self.raw.wants_fingerprints()
    }

    /// New references to the stored keys that a lookup of `key_hash` compares, in its order.
    ///
    /// For callers whose equality must not run while pinned (the binding's `__eq__`): they
    /// compare these keys unpinned, then run the operation with the answers. One call instead
    /// of one aborted operation per colliding key keeps many keys of one hash linear per lookup.
    pub fn keys_with_hash(&self, key_hash: KeyHash) -> Vec<K> {
        reclaim::pinned(|g| self.raw.keys_with_hash(g, key_hash))
    }

    /// Number of live keys: exact when no write is in flight.
    pub fn len(&self) -> usize {
        reclaim::pinned(|g| self.raw.current(g).len())
    }

    /// Whether the map has no keys (exact when no write is in flight).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key: a migration to an empty generation, so it is one linearizable step.
    /// Writes that race with it land either before (and are cleared) or after.
    pub fn clear(&self) {
        reclaim::pinned(|g| self.raw.clear(g));
    }

    /// Makes room for at least `additional` more keys without further migrations. A request
    /// that cannot be met returns an error and leaves the map unchanged.
    pub fn reserve(&self, additional: usize) -> Result<(), CapacityError> {
        reclaim::pinned(|g| self.raw.reserve(g, additional))
    }

    /// A weakly consistent iterator over `(key, value)` in insertion order; see [`Iter`].
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(self, self.cursor())
    }

    /// A [`Cursor`] at the start of the map: an iterator's position without the borrow, for
    /// callers that keep the map alive themselves (the binding's iterator holds the dict).
    /// It will visit the entries present now, not those inserted later.
    pub fn cursor(&self) -> Cursor {
        reclaim::pinned(|g| self.raw.cursor(g))
    }

    /// The next live `(key, value)` at or after `cursor` (new references, and the key's stored
    /// hash), advancing it; `None` at the end. Lock-free, and `cursor` may be shared: each
    /// entry goes to one caller. Every key present throughout the iteration is yielded exactly
    /// once, no key twice; keys inserted (or re-inserted) after the cursor was made may be
    /// missed. A cursor made by another map yields nothing.
    pub fn cursor_next(&self, cursor: &Cursor) -> Option<(KeyHash, K, V)> {
        reclaim::pinned(|g| {
            self.raw.cursor_step(g, cursor, |hash, key, value| {
                // SAFETY: `cursor_step` lends pointers to a key and value the generation owns,
                // alive while we are pinned: taking new references is sound.
                let (key, value) = unsafe { (K::clone_raw(key), V::clone_raw(value)) };
                (KeyHash::new(hash), key, value)
            })
        })
    }

    /// [`AtomicDict::cursor_next`] for a caller that wants the key alone: no reference to the
    /// value is taken (and released), and the hash is not mixed.
    pub fn cursor_next_key(&self, cursor: &Cursor) -> Option<K> {
        reclaim::pinned(|g| {
            // SAFETY: as in `cursor_next`.
            self.raw.cursor_step(g, cursor, |_, key, _| unsafe { K::clone_raw(key) })
        })
    }

    /// [`AtomicDict::cursor_next`] without the hash (not mixed, as a copy's probe would need).
    pub fn cursor_next_item(&self, cursor: &Cursor) -> Option<(K, V)> {
        reclaim::pinned(|g| {
            // SAFETY: as in `cursor_next`.
            self.raw.cursor_step(g, cursor, |_, key, value| unsafe { (K::clone_raw(key), V::clone_raw(value)) })
        })
    }

    /// [`AtomicDict::cursor_next`] for a caller that wants the value alone.
    pub fn cursor_next_value(&self, cursor: &Cursor) -> Option<V> {
        reclaim::pinned(|g| {
            // SAFETY: as in `cursor_next`.
            self.raw.cursor_step(g, cursor, |_, _, value| unsafe { V::clone_raw(value) })
        })
    }

    /// Removes and returns the most recently inserted live entry, or `None` if the map is
    /// empty. Lock-free; atomic (the entry it returns was live and is removed in one step),
    /// and the last one in insertion order among those present when it began.
    pub fn pop_last(&self) -> Option<(K, V)> {
        reclaim::pinned(|g| self.raw.pop_last(g))
    }

    /// A reference to the current generation (for tests that keep one alive).
    #[cfg(test)]
    fn hold_current(&self) -> std::sync::Arc<table::Table<K, V>> {
        reclaim::pinned(|g| self.raw.hold_current(g))
    }

    /// Diagnostics of the current generation (walks the whole table: O(capacity)).
    pub fn stats(&self) -> Stats {
        reclaim::pinned(|g| self.raw.stats(g))
    }

    /// Calls `visit` with every key and value pointer the current generation owns, without
    /// pinning or allocating (for a garbage collector's traversal). Values for which
    /// [`Handle::is_traced`] is false (the set's marker, counts) are skipped.
    ///
    /// # Safety
    /// No other thread may be modifying the map (e.g. the world is stopped for a collection).
    pub unsafe fn for_each_owned(&self, visit: impl FnMut(NonNull<()>)) {
        // SAFETY: forwarded from the caller.
        unsafe { self.raw.for_each_owned(visit) }
    }
}

/// Live keys up to which a full table grows fourfold rather than twofold.
///
/// Every migration copies every live entry, so the fewer a growing map goes through, the less
/// each insert pays for growth: growing 4x copies each key a third as often as growing 2x. The
/// price is memory (a table just grown 4x is a quarter full), which matters only for large maps,
/// so large ones double. CPython's set has grown by this rule for years, with this threshold
/// (`setobject.c`, `set_table_resize`), as did its dict before 3.3.
const GROW_4X_UP_TO: usize = 50_000;

/// Entries of the generation that follows a full one of `cap` entries holding `live` keys:
/// larger when at least half the entries are live, otherwise the same size (a compaction,
/// dropping the dead entries).
fn next_capacity(cap: usize, live: usize) -> usize {
    match live {
        _ if live < cap / 2 => cap,
        0..=GROW_4X_UP_TO => cap * 4,
        _ => cap * 2,
    }
}

#[cfg(test)]
mod tests {
    use super::{next_capacity, GROW_4X_UP_TO};

    #[test]
    fn a_full_table_grows_fourfold_while_small_then_twofold_and_a_half_dead_one_compacts() {
        assert_eq!(next_capacity(10, 10), 40);
        assert_eq!(next_capacity(GROW_4X_UP_TO, GROW_4X_UP_TO), 4 * GROW_4X_UP_TO);
        assert_eq!(next_capacity(GROW_4X_UP_TO + 1, GROW_4X_UP_TO + 1), 2 * (GROW_4X_UP_TO + 1));
        assert_eq!(next_capacity(1 << 20, 1 << 19), 1 << 21);
        // Fewer than half live (the rest deleted): same size, holes dropped.
        assert_eq!(next_capacity(1 << 20, (1 << 19) - 1), 1 << 20);
        assert_eq!(next_capacity(10, 4), 10);
    }
}
