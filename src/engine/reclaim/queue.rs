//! A thread's queue of releases waiting for it to unpin.
//!
//! Every write that retires something while its thread is alone pushes here, and every
//! operation's unpin looks here, so the queue is on the hottest path there is. A `RefCell`
//! would check and set its borrow flag on each of those (six times for a delete: two pushes,
//! the length, two pops, the emptiness check), about a tenth of what a `del m[k]` costs in all.
//! The queue does not need the flag: it lives in one thread's [`super::Local`], and none of
//! its methods runs code that could reach it again while it holds the `Vec`.

use std::cell::UnsafeCell;

use super::Queued;

/// A `Vec` of releases, reached only through short methods that each finish with it before
/// returning. Not `Sync` (the `UnsafeCell`), so only its own thread reaches it.
pub(super) struct ReleaseQueue(UnsafeCell<Vec<Queued>>);

impl ReleaseQueue {
    pub(super) fn new() -> Self {
        ReleaseQueue(UnsafeCell::new(Vec::new()))
    }

    /// Runs `f` on the `Vec`.
    ///
    /// Every caller passes a closure that only calls `Vec` methods on [`Queued`] entries,
    /// which are `Copy` (no destructor runs) and call nothing but the global allocator, which
    /// does not reach this queue.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Queued>) -> R) -> R {
        // SAFETY: the queue is not `Sync`, so every reference to it is on this thread, and
        // no `&mut` made here outlives this call; `f` (see above) cannot re-enter the queue,
        // so this is the only reference to the `Vec` while it lives.
        f(unsafe { &mut *self.0.get() })
    }

    #[inline(always)]
    pub(super) fn push(&self, queued: Queued) {
        self.with(|q| q.push(queued));
    }

    #[inline(always)]
    pub(super) fn pop(&self) -> Option<Queued> {
        self.with(|q| q.pop())
    }

    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.with(|q| q.len())
    }

    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exchanges the queue's `Vec` with `other` (a batch taken out to run).
    pub(super) fn swap(&self, other: &mut Vec<Queued>) {
        self.with(|q| std::mem::swap(q, other));
    }

    /// Lets the buffer go down to `keep` entries of capacity, if it holds more.
    pub(super) fn shrink_to(&self, keep: usize) {
        self.with(|q| {
            if q.capacity() > keep {
                q.shrink_to(keep);
            }
        });
    }

    #[cfg(all(test, not(loom)))] // read by reclaim.rs's tests, which loom builds do not have
    pub(super) fn capacity(&self) -> usize {
        self.with(|q| q.capacity())
    }

    /// Takes everything queued, leaving the queue empty (at thread exit).
    pub(super) fn take(&mut self) -> Vec<Queued> {
        std::mem::take(self.0.get_mut())
    }
}
