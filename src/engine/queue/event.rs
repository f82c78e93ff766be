//! An event count: how threads sleep until a condition may have become true, without a lock
//! and without missing a wake-up.
//!
//! # Protocol
//! A waiter, having found its condition false (no item, no free slot, tasks unfinished):
//!
//! 1. [`EventCount::prepare`]: registers as a sleeper (`sleepers += 1`), reads the sequence
//!    number as its `key`, and issues a SeqCst fence;
//! 2. checks its condition again; if it now holds, [`EventCount::cancel`]s and goes on;
//! 3. otherwise sleeps on the sequence word while it still equals `key` ([`EventCount::wait`]),
//!    then [`EventCount::cancel`]s (unregisters) and starts over from its condition.
//!
//! A notifier, having made the condition true (pushed an item, freed a slot, finished the last
//! task), calls [`EventCount::notify_one`] or [`EventCount::notify_all`]: a SeqCst fence, then,
//! only if `sleepers > 0`, `seq += 1` and a futex wake of one or all sleepers.
//!
//! # Why no wake-up is missed
//! The two fences are ordered one way or the other in the single total order of SeqCst
//! operations. If the notifier's fence comes first, the waiter's re-check (step 2, after its
//! fence) sees the notifier's write and does not sleep. If the waiter's fence comes first, the
//! notifier's load of `sleepers` (after its fence) sees the registration and bumps `seq`. Then
//! either the waiter's `key` already reflects the bump (so it synchronizes with the bump, and its
//! re-check sees the condition), or the key is older and the futex refuses to sleep on a
//! changed word, or the waiter was already asleep and the wake reaches it (or, for a wake of
//! one, another sleeper of the same kind, which then re-checks and takes what was offered).
//!
//! The fast path of a notifier with no sleepers is a fence and a load of a line that nobody
//! writes while no one sleeps: no read-modify-write, no system call.
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
use crate::sync::{fence, AtomicU32, Ordering};

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
        // SeqCst: the registration must be visible to a notifier whose fence follows ours in
        // the SeqCst order (it pairs with the load of `sleepers` in `notify`).
        self.inner.sleepers.fetch_add(1, Ordering::SeqCst);
        // Acquire: pairs with the Release of the bump in `notify`; a key that reflects a bump
        // makes the notifier's condition write visible to our re-check.
        let key = self.inner.seq.load(Ordering::Acquire);
        // SeqCst: orders our registration before our re-check of the condition; pairs with the
        // fence in `notify` (see the module docs).
        fence(Ordering::SeqCst);
        key
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

    /// Wakes one sleeper, if any. Call after making the condition true.
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every sleeper, if any. Call after making the condition true.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }

    fn notify(&self, n: u32) {
        // SeqCst: orders the caller's condition write before the load of `sleepers`; pairs with
        // the fence in `prepare`.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above (see the module docs).
        if self.inner.sleepers.load(Ordering::Relaxed) == 0 {
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
