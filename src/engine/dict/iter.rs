//! Weakly consistent iteration in insertion order, and `pop_last`.
//!
//! # Cursors
//! A [`Cursor`] is a position in a map's insertion order that survives migrations. It holds
//! the *trail* of the generation its position is in (see `trail.rs`), never the generation
//! itself, a position `pos`, and `end`: the number of entries reserved when it was created.
//! Each step pins, finds the current generation, and if that is not the cursor's, maps `pos`
//! and `end` forward through the trails (the number of carried entries before each); then it
//! scans forward to the next live entry before `end` and takes references to its key and
//! value.
//!
//! So an iteration never fails and visits only entries that existed when it began, each at
//! most once (positions map monotonically, and an entry made later lies at or beyond the
//! mapped `end`): every key present for the whole iteration is yielded exactly once, no key
//! twice (a key deleted and inserted again is a new entry, beyond `end`), and keys inserted
//! meanwhile may be missed. `for k in d: d[new()] = 1` ends.
//!
//! # Sharing one cursor between threads, without a lock
//! The cursor's state is a [`Place`] (trail, `end`, and an atomic `pos`) behind an atomic
//! pointer. A step claims the entry it found with a CAS of `pos` from the value it started at
//! to just past that entry; a thread that loses re-reads. Moving to a newer generation first
//! *seals* the place (sets [`SEALED`] in `pos`, so no claim succeeds in it any more), maps the
//! sealed position, and CASes in a new place; the old one is freed through the epoch. Any
//! thread that meets a sealed place finishes the move. So each entry goes to exactly one of
//! the threads sharing a cursor, and no thread ever waits for another.
//!
//! Objects are only read from a generation that was not yet published as migrated when this
//! step pinned: anything it owned then is released only after our guard is dropped.

use std::ptr::NonNull;
use std::sync::Arc;


use super::raw::RawDict;
use super::table::{key_ptr, mix, KeyHash, Table, MOVED, TOMBSTONE};
use super::trail::{self, Trail};
use super::AtomicDict;
use crate::engine::reclaim::{self, defer_release, Guard, Handle};
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};

/// A position in a map's insertion order that survives migrations; see the module docs.
///
/// It holds neither the map nor any generation, only a small record per migration since
/// (none past a `clear`). [`AtomicDict::cursor_next`] advances it; it may be shared between
/// threads, each step going to one of them.
pub struct Cursor {
    /// The current place (a `Box`), or null once exhausted. A replaced place is freed through
    /// the epoch, since a sharer may still be reading it.
    place: AtomicPtr<Place>,
}

/// A cursor's state in one generation.
struct Place {
    /// The trail of the generation `pos` and `end` are positions in.
    trail: Arc<Trail>,
    /// Entries from here on were reserved after the cursor was created: not visited.
    end: usize,
    /// The next entry to look at, or'ed with [`SEALED`] once the place is being replaced.
    pos: AtomicUsize,
}

/// Set in a place's `pos` by a thread moving the cursor to a newer generation: no claim in
/// this place succeeds afterwards.
const SEALED: usize = 1 << (usize::BITS - 1);

impl Cursor {
    /// A cursor at `pos..end` of the generation of `trail` (exhausted if the range is empty).
    fn at(trail: Arc<Trail>, pos: usize, end: usize) -> Self {
        let place = if pos < end {
            Box::into_raw(Box::new(Place { trail, end, pos: AtomicUsize::new(pos) }))
        } else {
            std::ptr::null_mut()
        };
        Cursor { place: AtomicPtr::new(place) }
    }

    /// An independent cursor at the same position (for copying an iterator without advancing
    /// it).
    pub fn fork(&self) -> Cursor {
        reclaim::pinned(|_guard| {
            // Acquire: pairs with the AcqRel CAS in `move_cursor` that installed the place.
            let raw = self.place.load(Ordering::Acquire);
            // SAFETY: a place is freed through the epoch once replaced (or with the cursor,
            // which `&self` keeps alive), and we are pinned.
            match unsafe { raw.as_ref() } {
                // Acquire: as in `cursor_next`. A sealed position is still this place's last
                // claimed one.
                Some(p) => Cursor::at(Arc::clone(&p.trail), p.pos.load(Ordering::Acquire) & !SEALED, p.end),
                None => Cursor { place: AtomicPtr::new(std::ptr::null_mut()) },
            }
        })
    }

    /// The trail this cursor holds (for the retention tests).
    #[cfg(test)]
    pub(super) fn trail(&self) -> Option<Arc<Trail>> {
        // Acquire: as in `fork`.
        let raw = self.place.load(Ordering::Acquire);
        // SAFETY: as in `fork` (the tests use the cursor from one thread).
        unsafe { raw.as_ref() }.map(|p| Arc::clone(&p.trail))
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        let raw = *self.place.get_mut();
        // loom's atomics have no `get_mut`; `with_mut` is its exclusive-access equivalent.
        #[cfg(loom)]
        let raw = self.place.with_mut(|p| *p);
        if !raw.is_null() {
            // SAFETY: the current place is owned by the cursor (a `Box`), and `&mut self` means
            // no thread is stepping it.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

/// A weakly consistent iterator over a map's `(key, value)` pairs in insertion order: a
/// [`Cursor`] with the map it moves through. Each step pins for itself.
pub struct Iter<'m, K: Handle, V: Handle> {
    map: &'m AtomicDict<K, V>,
    cursor: Cursor,
}

impl<'m, K: Handle, V: Handle> Iter<'m, K, V> {
    pub(super) fn new(map: &'m AtomicDict<K, V>, cursor: Cursor) -> Self {
        Iter { map, cursor }
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
        self.map.cursor_next(&self.cursor)
    }

    /// The cursor (for the retention tests).
    #[cfg(test)]
    pub(super) fn cursor(&self) -> &Cursor {
        &self.cursor
    }
}

impl<K: Handle, V: Handle> RawDict<K, V> {
    /// A cursor at the start of the current generation, ending where its entries end now.
    pub(super) fn cursor(&self, guard: &Guard) -> Cursor {
        let t = self.current(guard);
        Cursor::at(Arc::clone(&t.trail), 0, t.reserved())
    }

    /// Advances `cursor` to the next live entry and returns `read(hash, key, value)` of it (see
    /// [`AtomicDict::cursor_next`]). `read` gets the entry's stored hash and pointers to its key
    /// and value, owned by the generation and alive while `guard` is held.
    pub(super) fn cursor_step<R>(
        &self,
        guard: &Guard,
        cursor: &Cursor,
        read: impl FnOnce(u64, NonNull<()>, NonNull<()>) -> R,
    ) -> Option<R> {
        'place: loop {
            // Acquire: pairs with the AcqRel CAS in `move_cursor` that installed the place (or
            // the cursor's publication to this thread), so its fields are visible.
            let raw = cursor.place.load(Ordering::Acquire);
            // SAFETY: a place is freed through the epoch once replaced (or with the cursor,
            // which `&cursor` keeps alive), and `guard` pins us.
            let place = unsafe { raw.as_ref() }?;
            // Acquire: pairs with the AcqRel claim or seal that wrote it, so a sealer's view of
            // the current generation is not newer than the one we take next.
            let pos = place.pos.load(Ordering::Acquire);
            let t = self.current(guard);
            if pos & SEALED != 0 || !Arc::ptr_eq(&place.trail, &t.trail) {
                Self::move_cursor(guard, cursor, raw, place, t);
                continue;
            }
            let stop = place.end.min(t.reserved());
            for i in pos..stop {
                // Acquire: pairs with the Release that wrote the value (and the hash and key).
                let word = t.entries[i].value.load(Ordering::Acquire);
                if word & MOVED != 0 && t.mig.is_published() {
                    continue 'place; // the generation moved on: map the position forward
                }
                let Some(value) = t.live_value_from(i, word) else { continue };
                // Acquire: the key is visible through the Acquire on the value word; this also
                // pairs with `retire_slot`'s swap (null: deleted since we read the value).
                let Some(key) = key_ptr(t.entries[i].key.load(Ordering::Acquire)) else {
                    continue;
                };
                // Claim entries pos..=i. AcqRel on success: Release orders the claim after our
                // reads for whoever seals next; Acquire keeps the reads below after it. Relaxed
                // on failure: another sharer claimed or sealed; we start over.
                if place.pos.compare_exchange(pos, i + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                    continue 'place;
                }
                // Relaxed: written before the Release that stored the value word, which our
                // Acquire load above pairs with.
                let hash = t.entries[i].hash.load(Ordering::Relaxed);
                // The generation was unpublished after we pinned, so the key and value it holds
                // are owned by it or released only after our guard drops: alive for `read`.
                return Some(read(hash, key, value));
            }
            // Nothing live before `end`: claim the rest and report the end. The place stays (a
            // `for` loop drops its iterator right after, freeing it directly, where retiring it
            // through the epoch cost a third of a small dict's loop); the next step that finds
            // the map migrated drops it, and its trail, for good. AcqRel/Relaxed as above.
            if pos == place.end
                || place.pos.compare_exchange(pos, place.end, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                return None;
            }
        }
    }

    /// Moves `cursor`, whose place `raw` is behind the current generation `t` (or sealed), to
    /// `t`: seals the place, maps its position forward, and installs the new place (or none:
    /// exhausted). Several sharers may do this at once; one CAS wins.
    fn move_cursor(guard: &Guard, cursor: &Cursor, raw: *mut Place, place: &Place, t: &Table<K, V>) {
        // AcqRel: Acquire so the position we map includes every claim made in this place (each
        // a Release); Release pairs with the Acquire load of `pos` by other sharers, who then
        // help with the move.
        let pos = place.pos.fetch_or(SEALED, Ordering::AcqRel) & !SEALED;
        let new = match trail::follow(&place.trail, &t.trail, pos, place.end) {
            Some((trail, pos, end)) => Box::into_raw(Box::new(Place { trail, end, pos: AtomicUsize::new(pos) })),
            None => std::ptr::null_mut(),
        };
        Self::replace_place(guard, cursor, raw, new);
    }

    /// Replaces the cursor's place `old` with `new` (a fresh `Box`, or null), unless another
    /// sharer already replaced it; frees whichever of the two is no longer reachable.
    fn replace_place(guard: &Guard, cursor: &Cursor, old: *mut Place, new: *mut Place) {
        // AcqRel on success: Release publishes the new place's fields to the Acquire loads in
        // `cursor_next` and `fork`; Acquire orders the retirement after it. Relaxed on failure:
        // someone else replaced the place; ours was never shared.
        match cursor.place.compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                let old = SendPlace(old);
                // SAFETY: `old` is unreachable from the cursor now; sharers pinned now may still
                // read it, and the epoch runs this only after they unpin. Dropping a place frees
                // memory only (a trail chain), never a Handle, so it goes straight to the epoch
                // rather than through `reclaim::defer`, whose count of pending releases would
                // make the binding flush the epoch bag early.
                unsafe {
                    guard.defer_unchecked(move || {
                        let SendPlace(old) = old;
                        drop(Box::from_raw(old));
                    });
                }
            }
            Err(_) if !new.is_null() => {
                // SAFETY: `new` was made by our caller and never shared.
                drop(unsafe { Box::from_raw(new) });
            }
            Err(_) => {}
        }
    }
}

/// A replaced place crossing to whichever thread runs the epoch's deferred functions.
struct SendPlace(*mut Place);
// SAFETY: a place holds an atomic and an `Arc<Trail>`, which may be dropped on any thread.
unsafe impl Send for SendPlace {}

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
                t.add_len(guard, -1);
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

#[cfg(test)]
#[path = "iter_tests.rs"]
mod tests;
