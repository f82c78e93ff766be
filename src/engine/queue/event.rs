//! An event count: how threads sleep until a condition may have become true, without a lock
//! and without missing a wake-up.
//!
//! # Protocol
//! A waiter, having found its condition false (no item, no free slot, tasks unfinished):
//!
//! 1. [`EventCount::prepare`]: registers as a sleeper (`sleepers += 1`, SeqCst) and reads the
//!    sequence number as its `key`;
//! 2. checks its condition again, starting with SeqCst loads of the words notifiers write (see
//!    below); if it now holds, [`EventCount::cancel`]s and goes on;
//! 3. otherwise sleeps ([`EventCount::wait`]): it *announces* the sleep by setting the
//!    sequence word's `IN_KERNEL` bit (a compare-and-swap from `key`; if the word holds
//!    anything else than `key` with the bit, a notification came since `prepare`, and it
//!    returns at once), then sleeps on the futex while the word still holds that value; then
//!    [`EventCount::cancel`]s (unregisters) and starts over from its condition.
//!
//! A notifier makes the condition true and then, as its last write to the condition, does a
//! SeqCst read-modify-write of a *condition word* (after a push, the putting thread's stripe
//! of the queue's push counts; after a pop, its free-slot count); then it calls
//! [`EventCount::notify_one`] or [`EventCount::notify_all`]: a SeqCst load of `sleepers` and,
//! only if it is not 0, a new generation of the sequence word (`+2`, clearing `IN_KERNEL`)
//! and, only if `IN_KERNEL` was set, a futex wake of every sleeper.
//!
//! The bit is what keeps the system calls few. A registered waiter spends most of its
//! registration outside the kernel (its re-check, detaching from the interpreter, a wake-up's
//! scheduling latency), and while one producer keeps a single consumer busy, most puts find it
//! registered. Without the bit, each of those puts made a `FUTEX_WAKE` system call: 150,000 to
//! 200,000 per million items at one producer and one consumer, against about 2,500 sleeps.
//!
//! # Why no wake-up is missed
//! Four SeqCst operations take part: the notifier's read-modify-write `N1` of the condition
//! word then its load `N2` of `sleepers`; the waiter's registration `W1` then its load `W2` of
//! the condition word. All SeqCst operations form one total order consistent with each
//! thread's program order, and a SeqCst load that reads a value older than some SeqCst write
//! precedes that write in it. If `N2` misses `W1`, then `N1 < N2 < W1 < W2`, so `W2` reads `N1`
//! or a later value of the condition word; every write to that word is a read-modify-write,
//! so `W2` synchronizes with `N1` and the waiter's re-check sees the condition.
//!
//! If `N2` sees `W1`, the notifier's new generation `N3` (a read-modify-write, Release) and the
//! waiter's key load and announcement all touch the sequence word, so its modification order
//! places them:
//! * the key already reflects `N3`: `N3`'s Release pairs with the key's Acquire load, and the
//!   re-check sees the condition;
//! * the announcement follows `N3` (and the key does not reflect it): the compare-and-swap
//!   finds a new generation and fails, with Acquire, so it synchronizes with `N3` (or a later
//!   notifier's generation) and the waiter returns at once and re-checks;
//! * the announcement precedes `N3` (ours, or another waiter's in the same generation, which
//!   the key then shows): the first notifier's generation after it, `N3` or an earlier one,
//!   reads `IN_KERNEL` and wakes every sleeper; the futex compares the word with the value the
//!   waiter announced atomically with going to sleep, so the waiter either refuses to sleep on
//!   the changed word or is asleep already and is woken.
//!
//! A generation is 31 bits: a waiter that went from its key load to the futex's comparison
//! while exactly 2^31 notifications (each with a registered waiter) passed would sleep on. Its
//! next notification wakes it anyway.
//!
//! Loom treats SeqCst loads and read-modify-writes as AcqRel (it would report false lost
//! wake-ups), so under `--cfg loom` a SeqCst fence follows `N1` and `W1` ([`loom_fence`]): the
//! fences give the models the same total order.
//!
//! The fast path of a notifier with no sleepers is one load of a line that nobody writes while
//! no one sleeps: no fence, no read-modify-write, no system call.
//!
//! # Waking all
//! A notification that finds `IN_KERNEL` clears it, so it wakes every sleeper, even for one
//! event (one item, one slot): a sleeper it left asleep would have no bit left to draw the next
//! notifier's system call. Each woken sleeper re-checks, takes what was offered or finds it
//! taken, and those that find nothing announce themselves again. So [`EventCount::notify_one`]
//! and [`EventCount::notify_all`] do the same; the two names say what the caller needs. A
//! sleeper that leaves without re-checking, interrupted (by KeyboardInterrupt), still passes a
//! wake-up on with `notify_one` (see the queue's blocking loops): the bit may have been cleared
//! by the notification it took.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::futex;
use crate::sync::{AtomicU32, Ordering};

/// Bit 0 of the sequence word: a registered waiter may be asleep in the kernel on it (see the
/// module docs). Notifications count in the bits above it.
const IN_KERNEL: u32 = 1;
/// One notification's step of the sequence word.
const GENERATION: u32 = 2;

/// Sleepers and the sequence number they sleep on, alone on a cache line.
#[derive(Debug, Default)]
pub struct EventCount {
    inner: CachePadded<Words>,
}

#[derive(Debug, Default)]
struct Words {
    /// The futex word: a generation, stepped by each notification that found sleepers, and
    /// the `IN_KERNEL` bit.
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
        // Acquire: pairs with the Release of the new generation in `notify`; a key that
        // reflects it makes the notifier's condition write visible to our re-check.
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
        let announced = key | IN_KERNEL;
        if key & IN_KERNEL == 0 {
            // Relaxed on success: the announcement publishes nothing; it only makes the next
            // notifier's read-modify-write, which follows it in this word's modification
            // order, wake us. Acquire on failure: a value other than ours announced is a new
            // generation, whose Release makes its notifier's condition write visible to the
            // caller's re-check.
            match self.inner.seq.compare_exchange(key, announced, Ordering::Relaxed, Ordering::Acquire) {
                Ok(_) => {}
                Err(seen) if seen == announced => {} // another waiter announced this generation
                Err(_) => return,
            }
        }
        futex::wait(&self.inner.seq, announced, timeout);
    }

    /// Wakes a sleeper for one event (an item, a slot), if any sleeps: in fact every sleeper
    /// (see "Waking all"). Call after a SeqCst read-modify-write of the condition word.
    pub fn notify_one(&self) {
        self.notify();
    }

    /// Wakes every sleeper, if any. Call after a SeqCst read-modify-write of the condition word.
    pub fn notify_all(&self) {
        self.notify();
    }

    fn notify(&self) {
        loom_fence();
        // SeqCst: `N2` of the module docs; pairs with the registration in `prepare`.
        if self.inner.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        // `N3`. Release: pairs with the Acquire load of the key in `prepare` and with a failed
        // announcement's Acquire in `wait`. Relaxed on failure: we retry with the value seen.
        let next = |seq: u32| Some(seq.wrapping_add(GENERATION) & !IN_KERNEL);
        let (Ok(old) | Err(old)) = self.inner.seq.fetch_update(Ordering::Release, Ordering::Relaxed, next);
        if old & IN_KERNEL != 0 {
            futex::wake(&self.inner.seq, u32::MAX);
        }
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
