//! A striped counter for hot increments (Java's `LongAdder`).
//!
//! # Layout
//! The count is the sum of a fixed number of cells, each an [`AtomicI64`] alone on its cache
//! line ([`CachePadded`]). A thread adds to "its" cell, so threads incrementing at once do not
//! fight over one cache line; `sum` adds the cells up.
//!
//! # Thread to cell
//! Each thread takes a slot number from a global round-robin ticket the first time it touches
//! any counter, and uses cell `slot % cells` of every counter. Round-robin spreads the first
//! `cells` threads over distinct cells (a hash of a thread id would collide by chance). The
//! cell count is the machine's parallelism rounded up to a power of two, between
//! [`MIN_CELLS`] and [`MAX_CELLS`].
//!
//! # Overflow
//! No cell ever wraps: a cell is updated with a checked compare-and-swap loop (uncontended in
//! the common case, so it costs what a `fetch_add` does). If the thread's own cell cannot take
//! `n` without overflowing, the other cells are tried in turn; if none can, every cell is
//! already beyond `i64::MAX - n` (or below `i64::MIN - n`), so the new sum would be outside
//! int64 too, and the increment fails with [`CounterOverflow`], changing nothing. An increment
//! that does find room may still take the *sum* past int64 (cells are checked one by one, not
//! against the total, which would need a global view): the sum is then kept exactly, in
//! `i128` ([`Counter::sum_wide`], [`Counter::take`]), and [`Counter::sum`] reports it as an
//! error rather than wrapping, until decrements bring it back in range.
//!
//! # Consistency
//! `add` is linearizable and lock-free. `sum` reads the cells one at a time (wait-free): it is
//! exact when no increment runs concurrently; otherwise each concurrent increment is counted
//! wholly or not at all, but the result need not be a value the counter held at one instant
//! (as with Java's `LongAdder.sum`). `take` (get-and-reset) swaps every cell with zero, so every
//! increment is counted exactly once: in the total it returns or in the counter afterwards.
//! `reset` is `take` that discards the total.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicI64, Ordering};

/// The fewest cells a counter has.
pub const MIN_CELLS: usize = 4;
/// The most cells a counter has.
pub const MAX_CELLS: usize = 64;

/// An increment that would take the counter's sum outside int64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterOverflow;

impl std::fmt::Display for CounterOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("counter sum out of int64 range")
    }
}

impl std::error::Error for CounterOverflow {}

/// A counter that many threads may add to at once without contending on one cache line.
pub struct Counter {
    cells: Box<[CachePadded<AtomicI64>]>,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("sum", &self.sum_wide())
            .finish()
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Counter {
    /// A counter whose sum starts at `initial`.
    pub fn new(initial: i64) -> Self {
        Self::with_cells(default_cells(), initial)
    }

    /// A counter with `cells` cells (clamped to `1..=MAX_CELLS` and rounded up to a power of
    /// two), whose sum starts at `initial`.
    pub fn with_cells(cells: usize, initial: i64) -> Self {
        let n = cells.clamp(1, MAX_CELLS).next_power_of_two();
        let cells: Box<[_]> = (0..n)
            .map(|i| CachePadded::new(AtomicI64::new(if i == 0 { initial } else { 0 })))
            .collect();
        Self { cells }
    }

    /// How many cells the counter spreads its count over.
    pub fn cells(&self) -> usize {
        self.cells.len()
    }

    /// Adds `n` (which may be negative). Fails, changing nothing, if the sum would leave
    /// int64. Lock-free.
    pub fn add(&self, n: i64) -> Result<(), CounterOverflow> {
        let mask = self.cells.len() - 1;
        let home = thread_slot();
        // Own cell first; spill into the others only when it is at the edge of int64.
        for step in 0..self.cells.len() {
            let cell = &self.cells[(home + step) & mask];
            if add_checked(cell, n) {
                return Ok(());
            }
        }
        Err(CounterOverflow)
    }

    /// Subtracts `n`. Fails, changing nothing, if the sum would leave int64. Lock-free.
    pub fn sub(&self, n: i64) -> Result<(), CounterOverflow> {
        match n.checked_neg() {
            Some(neg) => self.add(neg),
            // Subtracting i64::MIN is adding 2^63: two steps, each of which fits in a cell.
            None => {
                self.add(i64::MAX)?;
                self.add(1).inspect_err(|_| {
                    // Undo the first step so a failure changes nothing.
                    let _ = self.add(-i64::MAX);
                })
            }
        }
    }

    /// The sum of the cells, or an error if it lies outside int64. Wait-free (one read per cell).
    pub fn sum(&self) -> Result<i64, CounterOverflow> {
        i64::try_from(self.sum_wide()).map_err(|_| CounterOverflow)
    }

    /// The sum of the cells, exact whatever its size.
    pub fn sum_wide(&self) -> i128 {
        self.cells
            .iter()
            // A sum read after an increment returned (in the SeqCst order) includes it.
            // SeqCst: pairs with the SeqCst CAS in `add_checked` and swap in `take`.
            .map(|cell| i128::from(cell.load(Ordering::SeqCst)))
            .sum()
    }

    /// Sets every cell to zero and returns the total they held, exact whatever its size. Each
    /// increment is counted exactly once: in the returned total or in the counter afterwards.
    /// Wait-free (one swap per cell).
    pub fn take(&self) -> i128 {
        self.cells
            .iter()
            // SeqCst: one RMW per cell in the same total order as `add_checked`'s CAS.
            .map(|cell| i128::from(cell.swap(0, Ordering::SeqCst)))
            .sum()
    }

    /// Sets every cell to zero. Increments that run concurrently may survive or be erased,
    /// each wholly. Wait-free.
    pub fn reset(&self) {
        self.take();
    }
}

/// Adds `n` to `cell` unless the cell would overflow; returns whether it added.
fn add_checked(cell: &AtomicI64, n: i64) -> bool {
    // SeqCst: the first guess; a stale one only costs a CAS retry.
    let mut current = cell.load(Ordering::SeqCst);
    loop {
        let Some(new) = current.checked_add(n) else {
            return false;
        };
        match cell.compare_exchange_weak(
            current,
            new,
            // The increment joins the single order that `sum`'s loads and `take`'s swaps read.
            // SeqCst (success): pairs with those loads and swaps.
            Ordering::SeqCst,
            // SeqCst (failure): the value we retry from, read as `sum` would.
            Ordering::SeqCst,
        ) {
            Ok(_) => return true,
            Err(found) => current = found,
        }
    }
}

/// The machine's parallelism rounded up to a power of two, within the cell limits.
fn default_cells() -> usize {
    let parallelism = std::thread::available_parallelism().map_or(MIN_CELLS, |n| n.get());
    parallelism.clamp(MIN_CELLS, MAX_CELLS).next_power_of_two()
}

/// This thread's slot number: taken round-robin the first time the thread asks. Also spreads
/// the dict's length counters over their stripes.
#[cfg(not(loom))]
pub(crate) fn thread_slot() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;

    // Not shared state of any algorithm: a ticket dispenser, so it lives outside crate::sync.
    static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
    }
    SLOT.try_with(|slot| {
        slot.get().unwrap_or_else(|| {
            // Relaxed: the ticket only needs to be unique-ish; it orders nothing.
            let ticket = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
            slot.set(Some(ticket));
            ticket
        })
    })
    // During thread teardown the thread-local may be gone; any cell is correct.
    .unwrap_or(0)
}

/// Under loom every thread starts at cell 0, which is the contended case worth exploring.
#[cfg(loom)]
pub(crate) fn thread_slot() -> usize {
    0
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn cells_are_a_power_of_two_within_limits() {
        let c = Counter::new(0);
        assert!(c.cells().is_power_of_two());
        assert!((MIN_CELLS..=MAX_CELLS).contains(&c.cells()));
        assert_eq!(Counter::with_cells(3, 0).cells(), 4);
        assert_eq!(Counter::with_cells(1000, 0).cells(), MAX_CELLS);
    }

    #[test]
    fn add_sub_sum_take_reset() {
        let c = Counter::new(5);
        c.add(10).unwrap();
        c.sub(3).unwrap();
        assert_eq!(c.sum(), Ok(12));
        assert_eq!(c.take(), 12);
        assert_eq!(c.sum(), Ok(0));
        c.add(-7).unwrap();
        c.reset();
        assert_eq!(c.sum(), Ok(0));
    }

    #[test]
    fn overflowing_increment_spills_into_other_cells_when_the_sum_fits() {
        let c = Counter::with_cells(4, i64::MAX);
        // Cell 0 is full, but the others have room: the sum is still representable after
        // the decrement below, so the increment must succeed wherever it lands.
        c.add(-10).unwrap();
        for _ in 0..10 {
            c.add(1).unwrap();
        }
        assert_eq!(c.sum(), Ok(i64::MAX));
    }

    #[test]
    fn increment_past_int64_fails_and_changes_nothing() {
        let c = Counter::with_cells(1, i64::MAX);
        assert_eq!(c.add(1), Err(CounterOverflow));
        assert_eq!(c.sum(), Ok(i64::MAX));
        let c = Counter::with_cells(1, i64::MIN);
        assert_eq!(c.sub(1), Err(CounterOverflow));
        assert_eq!(c.sub(i64::MIN), Ok(()));
        assert_eq!(c.sum(), Ok(0));
        let c = Counter::with_cells(1, 1);
        assert_eq!(c.sub(i64::MIN), Err(CounterOverflow));
        assert_eq!(c.sum(), Ok(1));
    }

    #[test]
    fn sum_outside_int64_is_an_error_not_a_wrap() {
        let c = Counter::with_cells(4, i64::MAX);
        // Cell 0 is full, so this lands in (or spills into) another cell.
        c.add(i64::MAX).unwrap();
        assert_eq!(c.sum(), Err(CounterOverflow));
        assert_eq!(c.sum_wide(), 2 * i128::from(i64::MAX));
        assert_eq!(c.take(), 2 * i128::from(i64::MAX));
        assert_eq!(c.sum(), Ok(0));
    }

    #[test]
    fn threads_incrementing_concurrently_give_exact_total() {
        const THREADS: usize = 8;
        const PER_THREAD: i64 = 50_000;
        let c = Arc::new(Counter::new(0));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (c, barrier) = (Arc::clone(&c), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..PER_THREAD {
                        c.add(1).unwrap();
                    }
                    c.sub(PER_THREAD / 2).unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.sum(), Ok(THREADS as i64 * PER_THREAD / 2));
    }

    #[test]
    fn take_racing_increments_counts_each_increment_exactly_once() {
        const WRITERS: usize = 4;
        const PER_THREAD: i64 = 50_000;
        let c = Arc::new(Counter::new(0));
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (c, barrier) = (Arc::clone(&c), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..PER_THREAD {
                        c.add(1).unwrap();
                    }
                })
            })
            .collect();
        barrier.wait();
        let mut taken: i128 = 0;
        for _ in 0..1000 {
            taken += c.take();
        }
        for h in writers {
            h.join().unwrap();
        }
        taken += c.take();
        assert_eq!(taken, (WRITERS as i64 * PER_THREAD) as i128);
    }
}
