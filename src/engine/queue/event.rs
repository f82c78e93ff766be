//! An event count: how threads sleep until a condition may have become true, without a lock
//! and without missing a wake-up.
//!
//! # Protocol
//! A waiter, having found its condition false (no item, no free slot, tasks unfinished):
//!
//! 1. [`EventCount::prepare`]: registers as a sleeper (`sleepers += 1`, SeqCst) and reads the
//!    sequence number as its `key`;
//! 2. checks its condition again, starting with a SeqCst load of the word the notifier writes
//!    (see below); if it now holds, [`EventCount::cancel`]s and goes on;
//! 3. otherwise sleeps on the sequence word while it still equals `key` ([`EventCount::wait`]),
//!    then [`EventCount::cancel`]s (unregisters) and starts over from its condition.
//!
//! A notifier makes the condition true and then, as its last write to the condition, does a
//! SeqCst read-modify-write of a *condition word* (the queue's state word after a push, its
//! free-slot count after a pop); then it calls [`EventCount::notify_one`] or
//! [`EventCount::notify_all`]: a SeqCst load of `sleepers` and, only if it is not 0,
//! `seq += 1` and a futex wake of one or all sleepers.
//!
//! # Why no wake-up is missed
//! Four SeqCst operations take part: the notifier's read-modify-write `N1` of the condition
//! word then its load `N2` of `sleepers`; the waiter's registration `W1` then its load `W2` of
//! the condition word. All SeqCst operations form one total order consistent with each
//! thread's program order, and a SeqCst load that reads a value older than some SeqCst write
//! precedes that write in it. If `N2` misses `W1`, then `N1 < N2 < W1 < W2`, so `W2` reads `N1`
//! or a later value of the condition word; every write to that word is a read-modify-write,
//! so `W2` synchronizes with `N1` and the waiter's re-check sees the condition. If `N2` sees
//! `W1`, the notifier bumps `seq`. Then either the waiter's `key` already reflects the bump
//! (Acquire, so its re-check sees the condition), or the key is older and the futex refuses to
//! sleep on a changed word, or the waiter was already asleep and the wake reaches it (or, for a
//! wake of one, another sleeper of the same kind, which then re-checks and takes what was
//! offered).
//!
//! Loom treats SeqCst loads and read-modify-writes as AcqRel (it would report false lost
//! wake-ups), so under `--cfg loom` a SeqCst fence follows `N1` and `W1` ([`loom_fence`]): the
//! fences give the models the same total order.
//!
//! The fast path of a notifier with no sleepers is one load of a line that nobody writes while
//! no one sleeps: no fence, no read-modify-write, no system call.
//!
//! # Waking one
//! `notify_one` wakes one sleeper per event (one item, one slot). A sleeper woken that way
//! re-checks before it leaves, so it either takes what was offered or finds that another thread
//! took it. The one exception is a sleeper that leaves without re-checking, interrupted (by
//! KeyboardInterrupt): it passes the wake-up on with `notify_one` (see the queue's blocking
//! loops), so an item never waits while a sleeper sleeps.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::futex;
use crate::sync::{AtomicU32, Ordering};

/// Sleepers and the sequence number they sleep on, alone on a cache line.
#[derive(Debug, Default)]
pub struct EventCount {
    inner: CachePadded<Words>,
}

#[derive(Debug, Default)]
struct Words {
    /// Bumped by each notification that found sleepers; the futex word.
    seq: AtomicU32,
    /// Threads between [`EventCount::prepare`] and [`EventCount::cancel`].
    sleepers: AtomicU32,
}

impl EventCount {
    /// A new event count with no sleepers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the calling thread as a sleeper and returns the key to sleep with. The caller
    /// must re-check its condition after this, and call [`EventCount::cancel`] exactly once.
    pub fn prepare(&self) -> u32 {
        // SeqCst: `W1` of the module docs; pairs with the SeqCst load of `sleepers` in `notify`.
        self.inner.sleepers.fetch_add(1, Ordering::SeqCst);
        loom_fence();
        // Acquire: pairs with the Release of the bump in `notify`; a key that reflects a bump
        // makes the notifier's condition write visible to our re-check.
        self.inner.seq.load(Ordering::Acquire)
    }

    /// Unregisters a sleeper registered by [`EventCount::prepare`].
    pub fn cancel(&self) {
        // Relaxed: only counts; a notifier that still sees us wakes in vain, which is harmless.
        self.inner.sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sleeps while no notification has come since `prepare` returned `key`, for at most
    /// `timeout`. May return early (spuriously, or on a signal): re-check and decide.
    pub fn wait(&self, key: u32, timeout: Option<Duration>) {
        futex::wait(&self.inner.seq, key, timeout);
    }

    /// Wakes one sleeper, if any. Call after a SeqCst read-modify-write of the condition word.
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every sleeper, if any. Call after a SeqCst read-modify-write of the condition word.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }

    fn notify(&self, n: u32) {
        loom_fence();
        // SeqCst: `N2` of the module docs; pairs with the registration in `prepare`.
        if self.inner.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Release: pairs with the Acquire load of the key in `prepare`.
        self.inner.seq.fetch_add(1, Ordering::Release);
        futex::wake(&self.inner.seq, n);
    }

    /// Threads registered now (a hint, for tests and diagnostics).
    pub fn sleepers(&self) -> u32 {
        // Relaxed: a hint.
        self.inner.sleepers.load(Ordering::Relaxed)
    }
}

/// Under loom only, a SeqCst fence: see "Why no wake-up is missed".
#[inline(always)]
pub fn loom_fence() {
    #[cfg(loom)]
    crate::sync::fence(Ordering::SeqCst);
}
