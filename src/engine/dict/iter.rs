//! Weakly consistent iteration in insertion order, and `pop_last`.
//!
//! An [`Iter`] holds an `Arc` to one generation and a position in its entries. Each step pins,
//! and if the generation's migration is published, maps the position into the next generation
//! (the number of live entries before it, which the frozen generation still tells) and moves
//! there; then it scans forward to the next live entry and takes references to its key and
//! value. So an iteration never fails, never yields an entry twice (positions map
//! monotonically), and yields every key that is present for the whole iteration exactly once
//! (such a key keeps one entry). Keys inserted or removed meanwhile may or may not appear.
//!
//! It also stops at the entries that existed when it was created (`end`, mapped through
//! migrations like the position): a key deleted and inserted again is a new entry after them,
//! so it is never met twice, and an iteration that keeps adding keys still ends.
//!
//! Objects are only read from a generation that was not yet published as migrated when this
//! step pinned: anything it owned then is released only after our guard is dropped.

use std::ptr::NonNull;
use std::sync::Arc;

use crossbeam_epoch::Guard;

use super::migrate;
use super::table::{key_ptr, mix, KeyHash, Table, MOVED, TOMBSTONE};
use super::raw::RawDict;
use crate::engine::reclaim::{self, defer_release, Handle};
use crate::sync::Ordering;

/// A weakly consistent iterator over a map's `(key, value)` pairs in insertion order.
///
/// It holds its generation (not the map) alive, and may be moved between threads; each step
/// pins for itself.
pub struct Iter<K: Handle, V: Handle> {
    table: Arc<Table<K, V>>,
    pos: usize,
    /// Entries reserved when the iteration began (in `table`'s numbering): it stops there.
    end: usize,
}

// SAFETY: the iterator holds an Arc to a table (shared by design) and a position.
unsafe impl<K: Handle, V: Handle> Send for Iter<K, V> {}
// SAFETY: as above; `next` takes `&mut self`.
unsafe impl<K: Handle, V: Handle> Sync for Iter<K, V> {}

impl<K: Handle, V: Handle> Iter<K, V> {
    pub(super) fn new(table: Arc<Table<K, V>>) -> Self {
        let end = table.reserved();
        Iter { table, pos: 0, end }
    }

    /// The generation this iterator holds (for tests that need one alive).
    #[cfg(test)]
    pub(super) fn into_table(self) -> Arc<Table<K, V>> {
        self.table
    }

    /// The next `(key, value)`, as new references; `None` at the end.
    #[allow(clippy::should_implement_trait)] // each step pins; `Iterator` would hide that
    pub fn next(&mut self) -> Option<(K, V)> {
        self.next_with_hash().map(|(_, k, v)| (k, v))
    }

    /// [`Iter::next`] with the key's stored hash (so a copy need not hash again). The tag is the
    /// hash's own: correct for any key (tags of the two kinds always match), though a copy into
    /// a crowded map then probes without fingerprints.
    pub fn next_with_hash(&mut self) -> Option<(KeyHash, K, V)> {
        reclaim::pinned(|guard| self.step(guard))
    }

    /// One step of the iteration, pinned by `_guard`.
    fn step(&mut self, _guard: &Guard) -> Option<(KeyHash, K, V)> {
        'generation: loop {
            self.follow_migrations();
            let t = &*self.table;
            while self.pos < self.end.min(t.reserved()) {
                let i = self.pos;
                // Acquire: pairs with the Release that wrote the value (and the hash and key).
                let word = t.entries[i].value.load(Ordering::Acquire);
                if word & MOVED != 0 && t.mig.is_published() {
                    continue 'generation; // map position `i` (not yet yielded) forward
                }
                self.pos += 1;
                let Some(value) = t.live_value_from(i, word) else { continue };
                // Acquire: the key is visible through the Acquire on the value word; this also
                // pairs with `retire_slot`'s swap (null: deleted since we read the value).
                let Some(key) = key_ptr(t.entries[i].key.load(Ordering::Acquire)) else {
                    continue;
                };
                // Relaxed: written before the Release that stored the value word, which our
                // Acquire load above pairs with.
                let hash = KeyHash::new(t.entries[i].hash.load(Ordering::Relaxed));
                // SAFETY: the generation was unpublished after we pinned, so the key and value
                // it holds are owned by it or released only after our guard drops.
                unsafe {
                    return Some((hash, K::clone_raw(key), V::clone_raw(value)));
                }
            }
            return None;
        }
    }

    /// Moves to the newest generation, mapping the position and the end.
    fn follow_migrations(&mut self) {
        while self.table.mig.is_published() {
            let job = migrate::job_of(&self.table).expect("a published generation has a job");
            let pos = job.map_position(&self.table, self.pos);
            let end = job.map_position(&self.table, self.end);
            let next = job.next().clone();
            self.table = next;
            self.pos = pos;
            self.end = end;
        }
    }
}

impl<K: Handle, V: Handle> RawDict<K, V> {
    /// Removes and returns the most recently inserted live entry; see
    /// [`AtomicDict::pop_last`](super::AtomicDict::pop_last).
    pub(super) fn pop_last(&self, guard: &Guard) -> Option<(K, V)> {
        let mut t = self.current(guard);
        'generation: loop {
            let mut i = t.reserved();
            while i > 0 {
                let entry = &t.entries[i - 1];
                // Acquire: pairs with the Release that wrote the value (and the key before it).
                let word = entry.value.load(Ordering::Acquire);
                if word & MOVED != 0 {
                    t = self.help(t, guard);
                    continue 'generation;
                }
                let Some(value) = t.live_value_from(i - 1, word) else {
                    i -= 1;
                    continue;
                };
                // AcqRel on success: as for remove in `modify`. Relaxed on failure: re-read.
                if entry
                    .value
                    .compare_exchange(word, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    continue; // look at the same entry again
                }
                t.add_len(-1);
                // Relaxed: visible through the Acquire on the value word; only the thread that
                // tombstoned the entry (us) may retire its slot and null the key.
                let key = entry.key.load(Ordering::Relaxed);
                // SAFETY: the key is owned by the (now dead) entry until we retire it below;
                // the value was owned by the entry and is unlinked now, so we take a reference
                // for the caller and defer the entry's.
                let out = unsafe {
                    let out = (K::clone_raw(NonNull::new_unchecked(key)), V::clone_raw(value));
                    defer_release::<V>(guard, value);
                    out
                };
                // Relaxed: the hash was written before the value word we read with Acquire.
                let mixed = mix(entry.hash.load(Ordering::Relaxed));
                if let Some((pos, slot)) = t.slot_of(i - 1, mixed) {
                    t.retire_slot(guard, pos, slot, i - 1);
                }
                return Some(out);
            }
            return None;
        }
    }
}
