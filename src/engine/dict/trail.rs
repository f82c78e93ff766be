//! What an iterator keeps of the generations it has passed: a *trail* of small records, never
//! the tables themselves.
//!
//! # Why
//! An iterator's position is an entry number in one generation. When that generation migrates,
//! the position must be mapped into the next one (the number of entries before it that the
//! migration carried), which needs to know which old entries were live. Holding the old table
//! for that would hold its arrays, and, since each generation owns the next, every later one.
//!
//! # How
//! Every generation has a [`Trail`]. When its migration publishes, the trail receives a
//! [`Remap`]: one bit per old entry (set if the migration carried it, filled by the count
//! phase) and the next generation's trail. An iterator holds only the trail of the generation
//! its position is in, so an idle iterator keeps one bit per entry of each generation migrated
//! since, and no table. A `clear`, or any migration that carried nothing, leaves a remap with
//! no next trail: every position maps to an empty range there, so an iterator that reaches it
//! is exhausted, and nothing after it is kept.
//!
//! Chains of trails are freed iteratively ([`Trail`]'s `Drop`), so dropping an iterator that
//! kept a long one does not recurse once per generation.

use std::sync::Arc;

use super::table::CapacityError;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// One generation's record for iterators: empty until the generation's migration publishes.
pub(super) struct Trail {
    /// An `Arc<Remap>` reference (from `Arc::into_raw`) once installed, else null. Installed
    /// before the migration is published and never changed afterwards.
    remap: AtomicPtr<Remap>,
}

/// How a published migration moved the entries of the generation it left.
pub(super) struct Remap {
    /// The next generation's trail (an `Arc` reference from `Arc::into_raw`), or null when the
    /// migration carried nothing (a `clear`, or no live entry): iterators stop there. Cut (set
    /// to null) only before the remap is installed.
    next: AtomicPtr<Trail>,
    /// Bit `i % 64` of word `i / 64` is set if old entry `i` was carried (was live when the
    /// migration froze it). Written by the count phase, read after publication.
    live: Box<[AtomicU64]>,
}

// SAFETY: the raw pointers are `Arc` references to `Trail`/`Remap`, which hold only atomics and
// such references; they may be shared and dropped on any thread.
unsafe impl Send for Trail {}
// SAFETY: as above.
unsafe impl Sync for Trail {}
// SAFETY: as above.
unsafe impl Send for Remap {}
// SAFETY: as above.
unsafe impl Sync for Remap {}

impl Trail {
    pub(super) fn new() -> Self {
        Trail { remap: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// The remap, once installed.
    fn remap(&self) -> Option<&Remap> {
        // Acquire: pairs with the AcqRel CAS in `install`, so the remap's fields (and, through
        // the migration's phases, its bits) are visible.
        let remap = self.remap.load(Ordering::Acquire);
        // SAFETY: an installed remap is owned by this trail until it is dropped, and never
        // replaced, so it lives as long as `&self`.
        unsafe { remap.as_ref() }
    }

    /// Installs `remap` (idempotent: every helper of the migration calls it with the same one,
    /// before publishing).
    pub(super) fn install(&self, remap: &Arc<Remap>) {
        // Relaxed: only avoids an extra reference when someone already installed it; the CAS
        // below decides.
        if !self.remap.load(Ordering::Relaxed).is_null() {
            return;
        }
        let raw = Arc::into_raw(Arc::clone(remap)).cast_mut();
        // AcqRel on success: Release publishes the remap (its `next`, cut or not) to the
        // Acquire load in `remap()`. Relaxed on failure: another helper installed the same one.
        if self
            .remap
            .compare_exchange(std::ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: `raw` is the reference we made above; nobody else saw it.
            drop(unsafe { Arc::from_raw(raw) });
        }
    }

    /// Takes the installed remap out (for the iterative drop).
    fn take_remap(&mut self) -> Option<Arc<Remap>> {
        #[cfg(not(loom))]
        let raw = std::mem::replace(self.remap.get_mut(), std::ptr::null_mut());
        // loom's atomics have no `get_mut`; `with_mut` is its exclusive-access equivalent.
        #[cfg(loom)]
        let raw = self.remap.with_mut(|r| std::mem::replace(r, std::ptr::null_mut()));
        // SAFETY: a non-null pointer is the `Arc` reference `install` stored; we own it now.
        (!raw.is_null()).then(|| unsafe { Arc::from_raw(raw) })
    }

    /// Number of trails reachable from this one, itself included (for the retention tests).
    #[cfg(test)]
    pub(super) fn chain_len(&self) -> usize {
        let mut n = 1;
        let mut at = self;
        while let Some(next) = at.remap().and_then(Remap::next) {
            n += 1;
            at = next;
        }
        n
    }

    /// Bytes held by this trail and the ones after it (for the retention tests): the trail,
    /// each remap and its bits.
    #[cfg(test)]
    pub(super) fn chain_bytes(&self) -> usize {
        let mut bytes = 0;
        let mut at = Some(self);
        while let Some(trail) = at {
            bytes += std::mem::size_of::<Trail>() + 2 * std::mem::size_of::<usize>();
            let remap = trail.remap();
            if let Some(remap) = remap {
                bytes += std::mem::size_of::<Remap>()
                    + 2 * std::mem::size_of::<usize>()
                    + std::mem::size_of_val(&*remap.live);
            }
            at = remap.and_then(Remap::next);
        }
        bytes
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // Walk the chain rather than let each Arc drop the next from inside its own drop: an
        // iterator kept idle through 10^5 migrations would otherwise overflow the stack.
        let mut remap = self.take_remap();
        while let Some(r) = remap {
            remap = match Arc::into_inner(r) {
                // We held the last reference: go on with the next trail, if we hold that one
                // last too (then its Drop runs with its remap already taken: no recursion).
                Some(mut r) => r.take_next().and_then(Arc::into_inner).and_then(|mut t| t.take_remap()),
                None => None,
            };
        }
    }
}

impl Remap {
    /// The remap of a migration of a generation of `entries` entries into the generation whose
    /// trail is `next` (none for a `clear`, which carries nothing). Fallible: the bits are one
    /// allocation of `entries / 8` bytes.
    pub(super) fn new(entries: usize, next: Option<&Arc<Trail>>) -> Result<Self, CapacityError> {
        let words = if next.is_some() { entries.div_ceil(64) } else { 0 };
        Ok(Remap {
            next: AtomicPtr::new(next.map_or(std::ptr::null_mut(), |t| Arc::into_raw(Arc::clone(t)).cast_mut())),
            // SAFETY: a zero AtomicU64 is all-zero bytes.
            live: unsafe { super::table::zeroed_slice(words, || AtomicU64::new(0)) }?,
        })
    }

    /// Records the liveness of old entries `64 * w .. 64 * w + 64` (bit `i` for entry
    /// `64 * w + i`). Called by the count phase, which owns whole words (its chunks are
    /// multiples of 64 entries); idempotent.
    pub(super) fn set_word(&self, w: usize, bits: u64) {
        // Relaxed: published with the count phase (its `finish`, Release) and then the
        // migration's `published` (Release), which every reader of the remap has acquired.
        self.live[w].store(bits, Ordering::Relaxed);
    }

    /// The migration carried nothing: drop the next trail, so iterators stop here and keep
    /// nothing after. Only before `install` (then the remap is shared read-only).
    pub(super) fn cut(&self) {
        // AcqRel: Acquire pairs with this same swap by another helper (only one gets the
        // reference); Release orders the null before our `install` (a CAS with Release).
        let next = self.next.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !next.is_null() {
            // SAFETY: the pointer held one `Arc` reference, which the swap handed to us alone.
            drop(unsafe { Arc::from_raw(next) });
        }
    }

    /// The next generation's trail, or `None` if the migration carried nothing.
    fn next(&self) -> Option<&Trail> {
        // Relaxed: the remap is read only after `Trail::remap`'s Acquire, and `next` no longer
        // changes once installed.
        let next = self.next.load(Ordering::Relaxed);
        // SAFETY: the pointer is an `Arc` reference this remap owns until it is dropped.
        unsafe { next.as_ref() }
    }

    fn take_next(&mut self) -> Option<Arc<Trail>> {
        #[cfg(not(loom))]
        let raw = std::mem::replace(self.next.get_mut(), std::ptr::null_mut());
        // loom's atomics have no `get_mut`; `with_mut` is its exclusive-access equivalent.
        #[cfg(loom)]
        let raw = self.next.with_mut(|r| std::mem::replace(r, std::ptr::null_mut()));
        // SAFETY: a non-null pointer is an `Arc` reference this remap owned; we own it now.
        (!raw.is_null()).then(|| unsafe { Arc::from_raw(raw) })
    }

    /// Where old position `pos` lands: the number of carried entries before it.
    fn rank(&self, pos: usize) -> usize {
        let pos = pos.min(64 * self.live.len());
        let (full, rest) = (pos / 64, pos % 64);
        // Relaxed (all): see `set_word`.
        let mut n: usize = self.live[..full].iter().map(|w| w.load(Ordering::Relaxed).count_ones() as usize).sum();
        if rest != 0 {
            n += (self.live[full].load(Ordering::Relaxed) & ((1u64 << rest) - 1)).count_ones() as usize;
        }
        n
    }
}

impl Drop for Remap {
    fn drop(&mut self) {
        // Reached only for a remap dropped outside `Trail`'s loop (a job's own reference); the
        // trail's Drop then walks on iteratively.
        drop(self.take_next());
    }
}

/// Maps the range `pos..end` of the generation whose trail is `from` into the generation whose
/// trail is `to` (a later one, or the same), following the remaps between them. `None` if the
/// range became empty on the way (every entry in it died, or a `clear` came between): there is
/// nothing left to visit. Also `None` if `to` is not reached (a cursor of another map).
pub(super) fn follow(from: &Trail, to: &Arc<Trail>, mut pos: usize, mut end: usize) -> Option<(Arc<Trail>, usize, usize)> {
    let mut at = from;
    loop {
        if std::ptr::eq(at, &**to) {
            return (pos < end).then(|| (Arc::clone(to), pos, end));
        }
        let remap = at.remap()?;
        if remap.live.is_empty() {
            return None; // a clear: every position maps to 0
        }
        (pos, end) = (remap.rank(pos), remap.rank(end));
        if pos >= end {
            return None;
        }
        at = remap.next()?;
    }
}
