//! The map's shared state and the operations that read it: finding the current generation,
//! lookups, growth, clear and reserve. Every function takes a guard of the crate's collector;
//! [`AtomicDict`](super::AtomicDict) is the safe layer that pins for its callers. Writes are in
//! `modify.rs`, iteration and `pop_last` in `iter.rs`.

use std::ptr::NonNull;
use std::sync::Arc;


use super::migrate;
use super::table::{
    self, key_ptr, slot_entry, slot_tag, tags_match, value_ptr, CapacityError, KeyHash, Origin, Table, EMPTY,
    FROZEN, MOVED,
};
use super::{next_capacity, Stats};
use crate::engine::reclaim::{lend, Guard, Handle};
use crate::sync::{AtomicBool, AtomicPtr, Ordering};

/// The map's shared state: the root generation and the fingerprint hint. Every method takes a
/// guard of the crate's collector (the safe [`AtomicDict`](super::AtomicDict) pins for its
/// callers) and raw pointers the table owns; nothing here is reachable from outside the crate.
pub(super) struct RawDict<K: Handle, V: Handle> {
    /// The current generation: an `Arc<Table>` as a raw pointer. It may lag behind: a
    /// generation whose migration is published forwards to the next one.
    root: AtomicPtr<Table<K, V>>,
    /// Set once a probe has passed [`CROWDED`] slots whose tag matched but whose key did not:
    /// many keys share a hash here, and callers should start tagging keys by fingerprint
    /// (see [`AtomicDict::wants_fingerprints`]).
    crowded: AtomicBool,
}

/// Slots a probe may pass with a matching tag (keys of its hash, or a rare tag collision)
/// before the map asks for fingerprints.
const CROWDED: usize = 32;

// SAFETY: the map only hands out new references through `Handle`, whose implementors promise
// the objects may be shared and released across threads; all shared state is atomic.
unsafe impl<K: Handle, V: Handle> Send for RawDict<K, V> {}
// SAFETY: as above.
unsafe impl<K: Handle, V: Handle> Sync for RawDict<K, V> {}

impl<K: Handle, V: Handle> RawDict<K, V> {
    /// An empty map that holds `capacity` keys before it first grows.
    pub(super) fn with_capacity(capacity: usize) -> Result<Self, CapacityError> {
        let table = Table::with_entries(capacity, Origin::Fresh, 0)?;
        Ok(RawDict { root: AtomicPtr::new(table::into_raw(Arc::new(table))), crowded: AtomicBool::new(false) })
    }

    /// The current generation, following published migrations.
    pub(super) fn current<'g>(&self, guard: &'g Guard) -> &'g Table<K, V> {
        // Acquire: pairs with the AcqRel CAS in `advance` (and the map's construction).
        let raw = self.root.load(Ordering::Acquire);
        // SAFETY: the root always holds an Arc reference; a replaced root is released through
        // the epoch, and `guard` keeps this thread pinned, so the table outlives `'g`.
        let mut t = unsafe { &*raw };
        while t.mig.is_published() {
            t = self.advance(t, guard);
        }
        t
    }

    /// `t`'s migration is published: move the root past it (if nobody has) and return the
    /// next generation.
    pub(super) fn advance<'g>(&self, t: &'g Table<K, V>, guard: &'g Guard) -> &'g Table<K, V> {
        let job = migrate::job_of(t).expect("a published generation has a job");
        let next: &'g Table<K, V> = job.next();
        let old = std::ptr::from_ref(t).cast_mut();
        let new = migrate::next_raw(job);
        // AcqRel on success: Release publishes nothing new (the generation was published by
        // `published`), Acquire orders the retirement after the load. Relaxed on failure:
        // someone else moved the root; we only drop our extra reference.
        match self.root.compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                let old = SendTable(old);
                // SAFETY: `old` is no longer reachable from the root; threads pinned now may
                // still read it, and the epoch runs the release only after they unpin.
                unsafe {
                    crate::engine::reclaim::defer(guard, move || {
                        let SendTable(old) = old;
                        drop(Arc::from_raw(old));
                    });
                }
                // A whole generation (after `clear`, every key and value) waits in this
                // thread's epoch bag: send it on now rather than after a batch of calls.
                crate::engine::reclaim::flush(guard);
            }
            // SAFETY: `new` is the extra reference `next_raw` just made; nobody else saw it.
            Err(_) => drop(unsafe { Arc::from_raw(new) }),
        }
        next
    }

    /// A new reference to the value stored under `key_hash` and a key for which `eq` is true.
    /// See [`AtomicDict::get`](super::AtomicDict::get).
    #[inline]
    pub(super) fn get<E>(&self, guard: &Guard, key_hash: KeyHash, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<Option<V>, E> {
        // SAFETY: `lookup` passes a value the table owns (or whose release is deferred past
        // `guard`), so it is alive while we take a reference.
        self.lookup(guard, key_hash, eq, |p| unsafe { V::clone_raw(p) })
    }

    /// `read(value)` of the value stored under `key_hash` and a key for which `eq` is true,
    /// `None` if absent: [`RawDict::get`] without the reference, for callers that only need to
    /// know (a `contains` then touches no reference count). `read` gets a pointer that stays
    /// alive while `guard` is held.
    #[inline(always)]
    pub(super) fn lookup<E, R>(
        &self,
        guard: &Guard,
        key_hash: KeyHash,
        mut eq: impl FnMut(&K) -> Result<bool, E>,
        read: impl FnOnce(NonNull<()>) -> R,
    ) -> Result<Option<R>, E> {
        let (hash, mixed, tag) = (key_hash.hash, key_hash.mixed(), key_hash.tag());
        let mut t = self.current(guard);
        'generation: loop {
            let mut pos = mixed as usize & t.mask;
            for _ in 0..t.index.len() {
                // Acquire: pairs with the Release CAS that claimed the slot, so the entry's
                // hash and key are visible.
                let slot = t.slot(pos).load(Ordering::Acquire);
                if slot & FROZEN != 0 && t.mig.is_published() {
                    t = self.advance(t, guard);
                    continue 'generation;
                }
                let Some(e) = slot_entry(slot) else {
                    if slot & !FROZEN == EMPTY {
                        return Ok(None);
                    }
                    pos = (pos + 1) & t.mask; // DEAD: a deleted key's retired slot
                    continue;
                };
                // The tag first: most slots a probe passes differ in it, and need no entry read
                // (nor its bounds check).
                if !tags_match(slot_tag(slot), tag) {
                    pos = (pos + 1) & t.mask;
                    continue;
                }
                let entry = &t.entries[e];
                // Relaxed (hash): visible through the slot's Acquire above.
                if entry.hash.load(Ordering::Relaxed) == hash {
                    // Acquire: pairs with the AcqRel swap in `retire_slot`. No key: deleted and
                    // retired meanwhile; the key may live further on.
                    let key = key_ptr(entry.key.load(Ordering::Acquire));
                    // SAFETY: the key is owned by the generation, which `guard` keeps alive (a
                    // retired key's release is deferred past it).
                    if key.map_or(Ok(false), |key| unsafe { lend(key, &mut eq) })? {
                        // Acquire: pairs with the Release that wrote the value.
                        let word = entry.value.load(Ordering::Acquire);
                        // Checked after reading the word: if still unpublished, no newer write
                        // exists anywhere, so the frozen value is current.
                        if word & MOVED != 0 && t.mig.is_published() {
                            t = self.advance(t, guard);
                            continue 'generation;
                        }
                        return Ok(value_ptr(word).map(read));
                    }
                }
                pos = (pos + 1) & t.mask;
            }
            if t.mig.is_published() {
                t = self.advance(t, guard);
                continue;
            }
            return Ok(None);
        }
    }

    /// Whether probes here have met long runs of keys of one hash, so that callers able to
    /// fingerprint keys ([`KeyHash::with_fingerprint`]) should. Fingerprinting costs the caller
    /// work on every call, so it is worth it only then; tags of either kind find each other's
    /// keys, so switching kinds midway is safe.
    pub(super) fn wants_fingerprints(&self) -> bool {
        // Relaxed: a hint; nothing else is published by it.
        self.crowded.load(Ordering::Relaxed)
    }

    /// Notes a probe that passed `passed` slots with matching tags.
    #[inline]
    pub(super) fn note_passed(&self, passed: usize) {
        // Stored only once: the flag shares a cache line with the root, which every operation
        // reads. Relaxed: a hint, as above; pairs with nothing.
        if passed > CROWDED && !self.crowded.load(Ordering::Relaxed) {
            // Relaxed: a hint; pairs with nothing (readers only need to see it eventually).
            self.crowded.store(true, Ordering::Relaxed);
        }
    }

    /// New references to the stored keys that a lookup of `key_hash` compares, in its order.
    pub(super) fn keys_with_hash(&self, guard: &Guard, key_hash: KeyHash) -> Vec<K> {
        let (hash, mixed, tag) = (key_hash.hash, key_hash.mixed(), key_hash.tag());
        let mut t = self.current(guard);
        'generation: loop {
            let mut keys = Vec::new();
            let mut pos = mixed as usize & t.mask;
            for _ in 0..t.index.len() {
                // Acquire: pairs with the Release CAS that claimed the slot (as in `get`).
                let slot = t.index[pos].load(Ordering::Acquire);
                if slot & FROZEN != 0 && t.mig.is_published() {
                    t = self.advance(t, guard);
                    continue 'generation;
                }
                match slot_entry(slot) {
                    None if slot & !FROZEN == EMPTY => return keys,
                    None => {} // DEAD: a deleted key's retired slot
                    Some(e) => {
                        let entry = &t.entries[e];
                        // Relaxed (hash): visible through the slot's Acquire above.
                        if tags_match(slot_tag(slot), tag) && entry.hash.load(Ordering::Relaxed) == hash {
                            // Acquire: pairs with the AcqRel swap in `retire_slot`.
                            if let Some(key) = key_ptr(entry.key.load(Ordering::Acquire)) {
                                // SAFETY: the key is owned by the generation, which our guard
                                // keeps alive, so taking a reference is sound.
                                keys.push(unsafe { K::clone_raw(key) });
                            }
                        }
                    }
                }
                pos = (pos + 1) & t.mask;
            }
            if t.mig.is_published() {
                t = self.advance(t, guard);
                continue;
            }
            return keys;
        }
    }

    /// Removes every key: a migration to an empty generation.
    pub(super) fn clear(&self, guard: &Guard) {
        loop {
            let t = self.current(guard);
            let empty = Table::with_entries(0, Origin::Cleared, t.migrations + 1)
                .expect("the smallest table always fits");
            // A clear's job allocates nothing beyond its fixed bookkeeping.
            if migrate::start(t, empty).expect("a clear needs no tag table") {
                // Move the root now, so the old generation (and everything it held) is retired
                // at once rather than at the next operation.
                self.current(guard);
                return;
            }
            // Another migration was under way; clear the generation it produced.
        }
    }

    /// Makes room for at least `additional` more keys without further migrations.
    pub(super) fn reserve(&self, guard: &Guard, additional: usize) -> Result<(), CapacityError> {
        loop {
            let t = self.current(guard);
            if additional <= t.cap() - t.reserved() {
                return Ok(());
            }
            let want = t.len().checked_add(additional).ok_or(CapacityError::Overflow)?;
            let next = Table::with_entries(want.max(t.cap()), Origin::Copied, t.migrations + 1)?;
            if migrate::start(t, next)? {
                self.current(guard);
                return Ok(());
            }
        }
    }

    /// Starts (or helps) a migration of the full generation `t`; returns the next generation.
    ///
    /// Fallible: if the next generation (or the migration's bookkeeping) cannot be allocated,
    /// nothing is started and the error comes back to the writer, whose operation then fails
    /// with the map unchanged (`t` stays the current generation, full but whole). Allocation
    /// happens before the job is installed, so no other thread ever depends on it.
    pub(super) fn grow<'g>(&self, t: &'g Table<K, V>, guard: &'g Guard) -> Result<&'g Table<K, V>, CapacityError> {
        if migrate::job_of(t).is_none() {
            let want = next_capacity(t.cap(), t.len());
            let started = Table::with_entries(want, Origin::Copied, t.migrations + 1)
                .and_then(|next| migrate::start(t, next));
            // Out of memory, unless another thread started a migration meanwhile: then help
            // that one, which needs nothing more allocated.
            if let Err(err) = started {
                if migrate::job_of(t).is_none() {
                    return Err(err);
                }
                migrate::help(t);
            }
        } else {
            migrate::help(t);
        }
        Ok(self.advance(t, guard))
    }

    /// Helps the migration `t` is under (a frozen slot or value was met); returns the next
    /// generation.
    pub(super) fn help<'g>(&self, t: &'g Table<K, V>, guard: &'g Guard) -> &'g Table<K, V> {
        migrate::help(t);
        self.advance(t, guard)
    }

    /// A reference to the current generation (for tests that keep one alive).
    #[cfg(test)]
    pub(super) fn hold_current(&self, guard: &Guard) -> Arc<Table<K, V>> {
        let t = self.current(guard);
        // SAFETY: `t` is alive (we are pinned) and the root or a previous generation holds a
        // reference, so adding one is sound.
        unsafe {
            let raw = std::ptr::from_ref(t);
            Arc::increment_strong_count(raw);
            Arc::from_raw(raw)
        }
    }

    /// Diagnostics of the current generation (walks the whole table: O(capacity)).
    pub(super) fn stats(&self, guard: &Guard) -> Stats {
        let t = self.current(guard);
        let reserved = t.reserved();
        let live = (0..reserved).filter(|&i| t.live_value(i).is_some()).count();
        let mut longest = 0;
        let mut run = 0;
        // Walk twice around so a run that wraps past the end is measured whole.
        for i in 0..2 * t.index.len() {
            // Relaxed: a statistic.
            if t.index[i & t.mask].load(Ordering::Relaxed) & !FROZEN != 0 {
                run += 1;
                longest = longest.max(run.min(t.index.len()));
            } else {
                run = 0;
            }
        }
        Stats {
            capacity: t.cap(),
            len: t.len(),
            dead: reserved - live,
            migrations: t.migrations,
            longest_probe: longest,
        }
    }

    /// Calls `visit` with every key and value pointer the current generation owns (values
    /// that need no release, such as the set's marker, are not visited).
    ///
    /// # Safety
    /// No other thread may be modifying the map (e.g. the world is stopped for a collection).
    pub(super) unsafe fn for_each_owned(&self, mut visit: impl FnMut(NonNull<()>)) {
        // Relaxed: the caller guarantees no concurrent writer.
        // SAFETY: the root holds a reference, and nothing retires it while the world is stopped.
        let mut t = unsafe { &*self.root.load(Ordering::Relaxed) };
        while let Some(next) = t.mig.moved_to() {
            t = next;
        }
        for i in 0..t.reserved() {
            // Relaxed: as above.
            if let Some(key) = key_ptr(t.entries[i].key.load(Ordering::Relaxed)) {
                visit(key);
            }
            // A value that needs no release (the set's marker, a packed count) is not an object
            // anyone owns; a boxed count is, but not one the caller's collector knows.
            if let Some(value) = t.live_value(i).filter(|&v| V::is_traced(v)) {
                visit(value);
            }
        }
    }
}

/// A retired generation crossing to whichever thread runs the epoch's deferred functions.
struct SendTable<K: Handle, V: Handle>(*mut Table<K, V>);
// SAFETY: tables are shared between threads by design; `Handle` objects may be released on any
// thread.
unsafe impl<K: Handle, V: Handle> Send for SendTable<K, V> {}

impl<K: Handle, V: Handle> Drop for RawDict<K, V> {
    fn drop(&mut self) {
        // We are the only user (`&mut self`): drop the root's reference now. Older generations
        // are released by the epoch or by iterators that still hold them.
        // Relaxed: `&mut self` means no other thread can touch the root.
        let raw = self.root.load(Ordering::Relaxed);
        // SAFETY: the root held one Arc reference.
        drop(unsafe { Arc::from_raw(raw) });
    }
}

