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
//! Every generation has a [`Trail`] (the table holds it in an `Arc`): one bit per entry, which
//! the count phase of the generation's migration sets for each entry it carries, and, once the
//! migration is published, the next generation's trail. An iterator holds only the trail of
//! the generation its position is in, so an idle iterator keeps one bit per entry of each
//! generation migrated since, and no table. A `clear`, or any migration that carried nothing,
//! links no next trail: every position maps to an empty range there, so an iterator that
//! reaches it is exhausted, and nothing after it is kept.
//!
//! Chains of trails are freed iteratively ([`Trail`]'s `Drop`), so dropping an iterator that
//! kept a long one does not recurse once per generation.

use std::sync::Arc;

use super::table::{zeroed_slice, CapacityError};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// One generation's record for iterators.
pub(super) struct Trail {
    /// The next generation's trail (an `Arc` reference from `Arc::into_raw`), linked by the
    /// migration's helpers before it is published, if it carried any entry; else null.
    next: AtomicPtr<Trail>,
    /// Bit `i % 64` of word `i / 64` is set if this generation's migration carried entry `i`
    /// (it was live when frozen). Written by the count phase, read after publication.
    live: Box<[AtomicU64]>,
}

// SAFETY: `next` is an `Arc<Trail>` reference; trails hold only atomics and such references,
// and may be shared and dropped on any thread.
unsafe impl Send for Trail {}
// SAFETY: as above.
unsafe impl Sync for Trail {}

impl Trail {
    /// The trail of a generation of `entries` entries. Fallible: the bits are one allocation of
    /// `entries / 8` bytes, made with the table (zeroed, so untouched until a migration).
    pub(super) fn new(entries: usize) -> Result<Self, CapacityError> {
        Ok(Trail {
            next: AtomicPtr::new(std::ptr::null_mut()),
            // SAFETY: a zero AtomicU64 is all-zero bytes.
            live: unsafe { zeroed_slice(entries.div_ceil(64), || AtomicU64::new(0)) }?,
        })
    }

    /// Records the liveness of entries `64 * w .. 64 * w + 64` (bit `i` for entry `64 * w + i`).
    /// Called by the count phase, which owns whole words (its chunks are multiples of 64
    /// entries); idempotent, since liveness is fixed once the generation is frozen.
    pub(super) fn set_word(&self, w: usize, bits: u64) {
        // Relaxed: published with the count phase (its `finish`, Release) and then the
        // migration's `published` (Release), which every reader of the bits has acquired.
        self.live[w].store(bits, Ordering::Relaxed);
    }

    /// Links `next` as the following generation's trail (idempotent: every helper of the
    /// migration calls it with the same one, before publishing).
    pub(super) fn link(&self, next: &Arc<Trail>) {
        // Relaxed: only avoids an extra reference when someone already linked it; the CAS
        // below decides.
        if !self.next.load(Ordering::Relaxed).is_null() {
            return;
        }
        let raw = Arc::into_raw(Arc::clone(next)).cast_mut();
        // AcqRel on success: Release publishes the link to the Acquire load in `next()` (the
        // bits come with the migration's phases and `published`). Relaxed on failure: another
        // helper linked the same trail.
        if self
            .next
            .compare_exchange(std::ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: `raw` is the reference we made above; nobody else saw it.
            drop(unsafe { Arc::from_raw(raw) });
        }
    }

    /// The next generation's trail, if this generation's migration linked one.
    fn next(&self) -> Option<&Trail> {
        // Acquire: pairs with the AcqRel CAS in `link`.
        let next = self.next.load(Ordering::Acquire);
        // SAFETY: a linked trail is an `Arc` reference this trail owns until it is dropped,
        // and is never replaced, so it lives as long as `&self`.
        unsafe { next.as_ref() }
    }

    fn take_next(&mut self) -> Option<Arc<Trail>> {
        #[cfg(not(loom))]
        let raw = std::mem::replace(self.next.get_mut(), std::ptr::null_mut());
        // loom's atomics have no `get_mut`; `with_mut` is its exclusive-access equivalent.
        #[cfg(loom)]
        let raw = self.next.with_mut(|r| std::mem::replace(r, std::ptr::null_mut()));
        // SAFETY: a non-null pointer is the `Arc` reference `link` stored; we own it now.
        (!raw.is_null()).then(|| unsafe { Arc::from_raw(raw) })
    }

    /// Where position `pos` of this generation lands in the next: the carried entries before it.
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

    /// Number of trails reachable from this one, itself included (for the retention tests).
    #[cfg(test)]
    pub(super) fn chain_len(&self) -> usize {
        std::iter::successors(Some(self), |t| t.next()).count()
    }

    /// Bytes allocated for this trail and the ones after it (for the retention tests): each
    /// `Arc` allocation and its bits.
    #[cfg(test)]
    pub(super) fn chain_bytes(&self) -> usize {
        std::iter::successors(Some(self), |t| t.next())
            .map(|t| 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Trail>() + std::mem::size_of_val(&*t.live))
            .sum()
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // Walk the chain rather than let each Arc drop the next from inside its own drop: an
        // iterator kept idle through 10^5 migrations would otherwise overflow the stack. Each
        // trail we hold the last reference to is emptied here, so its own Drop has nothing to
        // do.
        let mut next = self.take_next();
        while let Some(trail) = next {
            next = Arc::into_inner(trail).and_then(|mut t| t.take_next());
        }
    }
}

/// Maps the range `pos..end` of the generation whose trail is `from` into the generation whose
/// trail is `to` (a later one, or the same), following the links between them. `None` if the
/// range became empty on the way (every entry in it died, or a `clear` came between): there is
/// nothing left to visit. Also `None` if `to` is not reached (a cursor of another map).
pub(super) fn follow(from: &Trail, to: &Arc<Trail>, mut pos: usize, mut end: usize) -> Option<(Arc<Trail>, usize, usize)> {
    let mut at = from;
    loop {
        if std::ptr::eq(at, &**to) {
            return (pos < end).then(|| (Arc::clone(to), pos, end));
        }
        let next = at.next()?;
        (pos, end) = (at.rank(pos), at.rank(end));
        if pos >= end {
            return None;
        }
        at = next;
    }
}
