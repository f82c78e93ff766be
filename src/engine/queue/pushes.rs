//! Completed pushes, counted on per-thread stripes: the second half of a put's bookkeeping,
//! kept off the state word that every put's admission writes.
//!
//! A put is admitted on the state word (one shared read-modify-write, which also counts it in
//! the word's wrapping admission field), pushes its item, then adds one to its thread's stripe
//! here. Threads that put at once mostly use different stripes, so this second write stays in
//! the putting core's cache instead of pulling the shared line back. Only `shutdown` adds the
//! stripes up, to wait until every put admitted before it has pushed; a sleeping getter loads
//! them all in its re-check (see the queue's module docs).
//!
//! Counts wrap: only their sum modulo the admission field's width is compared, and fewer puts
//! than that are ever admitted but not yet pushed.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// Stripes per queue: enough that a few producer threads rarely share one.
const STRIPES: usize = 8;

/// The pushes completed, in stripes.
#[derive(Debug)]
pub struct Pushes {
    stripes: [CachePadded<AtomicU64>; STRIPES],
}

impl Pushes {
    pub fn new() -> Self {
        Pushes { stripes: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))) }
    }

    /// Counts one completed push on the calling thread's stripe.
    pub fn count_one(&self) {
        // SeqCst: the condition write `N1` of the event-count protocol for sleeping getters
        // (event.rs), whose re-check loads every stripe with SeqCst (`observe`). Its Release
        // half publishes the push to `total`'s Acquire loads in `shutdown`.
        self.stripes[stripe()].fetch_add(1, Ordering::SeqCst);
    }

    /// The pushes completed, summed over the stripes (wrapping). Each stripe's count is
    /// monotone, so a sum that reaches the number of puts admitted has read every stripe's
    /// last count: every one of those pushes happened before this returns.
    pub fn total(&self) -> u64 {
        // Acquire: pairs with the Release half of each `count_one`.
        self.stripes.iter().fold(0, |sum, s| sum.wrapping_add(s.load(Ordering::Acquire)))
    }

    /// A sleeping getter's loads `W2` of every word a put's `N1` may have written (event.rs).
    pub fn observe(&self) {
        for s in &self.stripes {
            // SeqCst: `W2`, pairing with `count_one`'s `N1`.
            s.load(Ordering::SeqCst);
        }
    }
}

/// The calling thread's stripe, assigned round-robin at its first put.
#[cfg(not(loom))]
fn stripe() -> usize {
    use std::sync::atomic::AtomicUsize;
    // Relaxed: only spreads threads over the stripes; any stripe is correct.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static STRIPE: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES);
    STRIPE.with(|s| *s)
}

/// Under loom, assigned from a modelled counter that each execution starts afresh, so that
/// executions replay alike and the models' threads use different stripes.
#[cfg(loom)]
fn stripe() -> usize {
    loom::lazy_static! {
        static ref NEXT: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
    }
    loom::thread_local!(static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
    STRIPE.with(|s| *s)
}
