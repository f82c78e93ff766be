//! A multi-producer multi-consumer FIFO queue with `queue.Queue`'s semantics: optional bound,
//! task accounting (`task_done`/`join`) and shutdown, lock-free on its non-blocking paths, and
//! blocking callers that sleep on a futex.
//!
//! # Parts
//! * **Items**: a [`Store`], by default crossbeam's [`SegQueue`] (a lock-free linked list of
//!   31-slot array blocks). It decides the FIFO order: a put is linearized where it reserves its
//!   tail position, a get where it reserves its head position.
//! * **`free`** (bounded queues only): slots not reserved by a put. A put takes one
//!   (compare-and-swap down from a positive count) before it pushes; a get gives one back after
//!   it pops. So the store never holds more than `maxsize` items. When `free` is 0, a put
//!   answers Full only once the store's own length (a consistent snapshot of its tail and head)
//!   is `maxsize`; a smaller length means a get has popped but not yet given its slot back, or
//!   a put has taken a slot but not yet pushed, and the put waits a moment for it, as crossbeam's
//!   own queues wait for a neighbour between its reservation and its write.
//! * **`state`**, one word: two shutdown flags, the unfinished-task count, and the number of
//!   puts admitted (wrapping).
//! * **`pushes`** ([`pushes`]): the puts that have pushed their item, counted on per-thread
//!   stripes.
//! * Three [`EventCount`]s for blocked callers: `not_empty` (getters), `not_full` (putters of a
//!   bounded queue), `all_done` (joiners). See [`event`] for the wake-up protocol.
//!
//! # The state word
//!
//! | bits | field | written by |
//! |---|---|---|
//! | 0 | `SHUTDOWN`: puts are refused | `shutdown` (`fetch_or`) |
//! | 1 | `CLOSED`: shutdown has finished; every put admitted before it has pushed | `shutdown`, after waiting |
//! | 2..48 | unfinished tasks | put: `+1` with admission; `task_done`: `-1` |
//! | 48..64 | puts admitted, modulo 2^16 (the carry falls off the word) | put: `+1` to be admitted |
//!
//! A put is **admitted** by one `fetch_add(ADMIT + TASK)`; if the word it replaced has
//! `SHUTDOWN`, it takes its task back and raises ShutDown. Admission and the shutdown flag are
//! thus ordered in the word's single modification order: the word `shutdown`'s `fetch_or`
//! replaces counts exactly the puts admitted before the flag, and `shutdown` waits until the
//! pushes completed ([`pushes`]) reach that count (modulo 2^16: fewer puts than that are ever
//! between admission and push) before it sets `CLOSED`. A get that finds the store empty raises
//! ShutDown only once it sees `CLOSED` (and, finding it, pops once more), so an item whose put
//! was admitted before the shutdown is never stranded behind consumers that already left.
//!
//! A put thus writes one shared word, its admission; its second write, the push's count, goes
//! to a stripe of its own thread's. (Until 2026-12-07 the word also counted puts in flight, so
//! each put wrote it twice.)
//!
//! Shutdown takes effect at `CLOSED`. A put or get that would answer ShutDown while the word has
//! `SHUTDOWN` but not yet `CLOSED` (a few instructions, or the drain of `immediate`) waits for
//! `CLOSED` first, so no caller sees the shutdown before it took effect.
//!
//! # Progress
//! A put on a queue with room and a get on a non-empty queue run a bounded number of atomic
//! instructions, take no lock and make no system call (one futex wake if a thread sleeps
//! on the other side). Strictly, like every array-based MPMC queue, the store can make a get
//! wait for a put that has reserved its position but not yet written its item (a few
//! instructions; crossbeam spins, then yields). Blocking calls first spin briefly, then sleep
//! on an event count.

mod event;
pub mod futex;
mod pushes;

use std::time::{Duration, Instant};

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

pub use event::EventCount;
use pushes::Pushes;

use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// Storage for the items: a linearizable FIFO queue. The engine keeps the bound, the task count
/// and shutdown itself, so any lock-free FIFO will do.
pub trait Store<T> {
    /// An empty store.
    fn new() -> Self;
    /// Appends `item` at the tail.
    fn push(&self, item: T);
    /// Removes the item at the head, if any.
    fn pop(&self) -> Option<T>;
    /// The number of items: a consistent snapshot (pushes reserved minus pops reserved).
    fn len(&self) -> usize;
    /// Whether the store is empty (a hint).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Store<T> for SegQueue<T> {
    fn new() -> Self {
        SegQueue::new()
    }
    fn push(&self, item: T) {
        SegQueue::push(self, item);
    }
    fn pop(&self) -> Option<T> {
        SegQueue::pop(self)
    }
    fn len(&self) -> usize {
        SegQueue::len(self)
    }
    fn is_empty(&self) -> bool {
        SegQueue::is_empty(self)
    }
}

/// Why a put did not happen; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue held `maxsize` items (and, for a blocking put, still did at the deadline).
    Full(T),
    /// The queue has been shut down.
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The item the put gives back.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::ShutDown(item) => item,
        }
    }
}

/// Why a get returned no item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetError {
    /// The queue was empty (and, for a blocking get, still was at the deadline).
    Empty,
    /// The queue has been shut down and is empty.
    ShutDown,
}

/// `task_done` was called more times than items were put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyTaskDone;

const SHUTDOWN: u64 = 1;
const CLOSED: u64 = 1 << 1;
const TASK_SHIFT: u32 = 2;
const TASK: u64 = 1 << TASK_SHIFT;
const TASK_MASK: u64 = ((1 << 46) - 1) << TASK_SHIFT;
const ADMIT_SHIFT: u32 = 48;
const ADMIT: u64 = 1 << ADMIT_SHIFT;
/// The unfinished-task count stops growing here, far below its field's 46 bits, so it never
/// carries into the admission count (a program that never calls `task_done` reaches it after
/// 3.5 · 10^13 puts).
const TASKS_SATURATE: u64 = 1 << 45;

fn tasks(state: u64) -> u64 {
    (state & TASK_MASK) >> TASK_SHIFT
}

/// The admission field's modulus, less one: counts of puts are compared under this mask.
const ADMITTED_MASK: u64 = u64::MAX >> ADMIT_SHIFT;

/// Puts admitted, modulo 2^16.
fn admitted(state: u64) -> u64 {
    state >> ADMIT_SHIFT
}

/// Tries a blocking call makes, spinning, before it sleeps (each try is a `pop` or a slot check;
/// a hand-off between two running threads usually lands within them). The default of
/// [`AtomicQueue::new`]; see [`AtomicQueue::with_spin_tries`].
pub const SPIN_TRIES: u32 = 10;

/// A blocked caller's sleep, handed to the caller's `sleep` function, which may run it on a
/// thread detached from an interpreter and may cut it into slices to check for signals.
#[derive(Debug)]
pub struct Sleep<'a> {
    event: &'a EventCount,
    key: u32,
    deadline: Option<Instant>,
}

impl Sleep<'_> {
    /// Sleeps until woken, until the deadline, or for at most `slice`, whichever comes first;
    /// may also return early (a signal, or spuriously).
    pub fn wait(&self, slice: Option<Duration>) {
        let left = self.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let timeout = match (left, slice) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.event.wait(self.key, timeout);
    }
}

/// The queue. `T` is the item type; `S` the store (crossbeam's [`SegQueue`] unless a test
/// model supplies another).
pub struct AtomicQueue<T, S: Store<T> = SegQueue<T>> {
    items: S,
    /// 0: unbounded.
    maxsize: usize,
    /// Bounded: slots no put has reserved.
    free: CachePadded<AtomicUsize>,
    /// Retries of a blocking call before it sleeps.
    spin_tries: u32,
    state: CachePadded<AtomicU64>,
    pushes: Pushes,
    not_empty: EventCount,
    not_full: EventCount,
    all_done: EventCount,
    _item: std::marker::PhantomData<fn(T) -> T>,
}

impl<T, S: Store<T>> std::fmt::Debug for AtomicQueue<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicQueue")
            .field("maxsize", &self.maxsize)
            .field("qsize", &self.qsize())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}

impl<T, S: Store<T>> AtomicQueue<T, S> {
    /// A queue holding at most `maxsize` items; `0` means unbounded.
    pub fn new(maxsize: usize) -> Self {
        Self::with_spin_tries(maxsize, SPIN_TRIES)
    }

    /// As [`AtomicQueue::new`], with `spin_tries` retries before a blocking call sleeps (0
    /// where spinning cannot help, as under a global interpreter lock that the spinner holds).
    pub fn with_spin_tries(maxsize: usize, spin_tries: u32) -> Self {
        AtomicQueue {
            items: S::new(),
            maxsize,
            free: CachePadded::new(AtomicUsize::new(maxsize)),
            spin_tries,
            state: CachePadded::new(AtomicU64::new(0)),
            pushes: Pushes::new(),
            not_empty: EventCount::new(),
            not_full: EventCount::new(),
            all_done: EventCount::new(),
            _item: std::marker::PhantomData,
        }
    }

    /// The bound given at construction (0: unbounded).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// The number of items (exact when no put or get runs concurrently).
    pub fn qsize(&self) -> usize {
        self.items.len()
    }

    /// Whether the queue holds no item (a hint, as for `queue.Queue`).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a bounded queue holds `maxsize` items (a hint, as for `queue.Queue`).
    pub fn is_full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }

    /// Items put and not yet marked done with [`AtomicQueue::task_done`].
    pub fn unfinished_tasks(&self) -> u64 {
        // Acquire: a count that reflects a task_done also shows what preceded it.
        tasks(self.state.load(Ordering::Acquire))
    }

    /// Whether [`AtomicQueue::shutdown`] has been called.
    pub fn is_shutdown(&self) -> bool {
        // Relaxed: a flag for display; every decision re-reads the word with its own ordering.
        self.state.load(Ordering::Relaxed) & SHUTDOWN != 0
    }

    // --- put ---------------------------------------------------------------------------------

    /// Puts `item` if there is room now. Lock-free on a queue with room.
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        if self.maxsize > 0 {
            // A shut-down queue answers ShutDown even when full, as queue.Queue does. (An
            // unbounded queue learns it from the admission below.)
            // Relaxed: the admission below decides; this only picks the answer for a full queue.
            if self.state.load(Ordering::Relaxed) & SHUTDOWN != 0 {
                return Err(self.refuse(item));
            }
            if !self.reserve_slot() {
                return Err(PutError::Full(item));
            }
        }
        // Relaxed: admission is decided by this word's modification order alone (against the
        // `fetch_or(SHUTDOWN)`); the push it admits is published by `count_one` below.
        let old = self.state.fetch_add(ADMIT + TASK, Ordering::Relaxed);
        if old & SHUTDOWN != 0 {
            self.take_back_admission();
            if self.maxsize > 0 {
                self.release_slot();
            }
            return Err(self.refuse(item));
        }
        if tasks(old) >= TASKS_SATURATE {
            // Relaxed: only counts (see TASKS_SATURATE).
            self.state.fetch_sub(TASK, Ordering::Relaxed);
        }
        self.items.push(item);
        // The condition write `N1` for sleeping getters, and the push's publication to
        // `shutdown` (see pushes.rs).
        self.pushes.count_one();
        self.not_empty.notify_one();
        Ok(())
    }

    /// Puts `item`, sleeping while the queue is full, until `deadline` (forever if `None`).
    /// `sleep` runs each sleep (see [`Sleep`]); an error from it ends the put, giving the item
    /// back with the error.
    pub fn put<E>(
        &self,
        item: T,
        deadline: Option<Instant>,
        mut sleep: impl FnMut(&Sleep<'_>) -> Result<(), E>,
    ) -> Result<Result<(), PutError<T>>, (E, T)> {
        let mut item = match self.put_nowait(item) {
            Err(PutError::Full(item)) => item,
            done => return Ok(done),
        };
        let mut tries = 0;
        loop {
            if tries < self.spin_tries {
                tries += 1;
                spin(tries);
            } else {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Err(PutError::Full(item)));
                }
                let key = self.not_full.prepare();
                // SeqCst: the waiter's loads `W2` of both words a notifier of `not_full` writes
                // (a get's slot release, shutdown's CLOSED); see event.rs.
                self.free.load(Ordering::SeqCst);
                self.state.load(Ordering::SeqCst);
                item = match self.put_nowait(item) {
                    Err(PutError::Full(item)) => item,
                    done => {
                        self.not_full.cancel();
                        return Ok(done);
                    }
                };
                let slept = sleep(&Sleep { event: &self.not_full, key, deadline });
                self.not_full.cancel();
                if let Err(e) = slept {
                    // We may have taken a wake-up meant for a put that will now not happen.
                    self.not_full.notify_one();
                    return Err((e, item));
                }
            }
            item = match self.put_nowait(item) {
                Err(PutError::Full(item)) => item,
                done => return Ok(done),
            };
        }
    }

    /// Takes one free slot of a bounded queue; false if the queue is full (its length is
    /// `maxsize`).
    fn reserve_slot(&self) -> bool {
        let mut spins = 0;
        // Relaxed: a first guess; the CAS decides.
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                if self.items.len() >= self.maxsize {
                    return false;
                }
                // A get popped but has not given its slot back yet, or a put holds a slot it
                // has not filled yet: wait for it (see the module docs).
                spins += 1;
                spin(spins);
                // Relaxed: as above.
                free = self.free.load(Ordering::Relaxed);
                continue;
            }
            // Acquire on success: pairs with the Release in `release_slot`, so a slot given back
            // by a get follows that get's pop. Relaxed on failure: we retry with the value seen.
            match self.free.compare_exchange_weak(free, free - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => free = seen,
            }
        }
    }

    /// Gives a slot back to a bounded queue and wakes a putter waiting for one.
    fn release_slot(&self) {
        // SeqCst: the condition write `N1` for sleeping putters (event.rs); its Release half
        // pairs with the Acquire in `reserve_slot`.
        self.free.fetch_add(1, Ordering::SeqCst);
        self.not_full.notify_one();
    }

    /// Takes back a refused put's task (never taking the task count below zero, in case a
    /// racing `task_done` already counted it). Its admission stays counted: it came after
    /// `SHUTDOWN`, and only the count before the flag matters.
    fn take_back_admission(&self) {
        // Relaxed: a first guess; the CAS decides.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if tasks(cur) == 0 {
                return;
            }
            let new = cur - TASK;
            // SeqCst on success: the condition write for joiners (event.rs) when it finishes
            // the last task. Relaxed on failure: we retry.
            match self.state.compare_exchange_weak(cur, new, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => cur = seen,
            }
        }
        if tasks(cur) == 1 {
            self.all_done.notify_all();
        }
    }

    /// The answer to a put after `shutdown`: waits until the shutdown has taken effect.
    fn refuse(&self, item: T) -> PutError<T> {
        self.wait_closed();
        PutError::ShutDown(item)
    }

    // --- get ---------------------------------------------------------------------------------

    /// Takes the item at the head, if there is one now. Lock-free on a non-empty queue.
    pub fn get_nowait(&self) -> Result<T, GetError> {
        if let Some(item) = self.items.pop() {
            if self.maxsize > 0 {
                self.release_slot();
            }
            return Ok(item);
        }
        // Acquire: pairs with the Release that sets CLOSED in `shutdown`, which follows the
        // Release decrement of every put admitted before the shutdown: their pushes are visible.
        let state = self.state.load(Ordering::Acquire);
        if state & SHUTDOWN == 0 {
            return Err(GetError::Empty);
        }
        self.wait_closed();
        // The last puts may have landed since our pop: look once more.
        match self.items.pop() {
            Some(item) => {
                if self.maxsize > 0 {
                    self.release_slot();
                }
                Ok(item)
            }
            None => Err(GetError::ShutDown),
        }
    }

    /// Takes the item at the head, sleeping while the queue is empty, until `deadline` (forever
    /// if `None`). `sleep` runs each sleep (see [`Sleep`]); an error from it ends the get.
    pub fn get<E>(
        &self,
        deadline: Option<Instant>,
        mut sleep: impl FnMut(&Sleep<'_>) -> Result<(), E>,
    ) -> Result<Result<T, GetError>, E> {
        let mut tries = 0;
        loop {
            match self.get_nowait() {
                Err(GetError::Empty) => {}
                done => return Ok(done),
            }
            if tries < self.spin_tries {
                tries += 1;
                spin(tries);
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Err(GetError::Empty));
            }
            let key = self.not_empty.prepare();
            // SeqCst: the waiter's loads `W2` of every word a notifier of `not_empty` writes
            // (a put's stripe of `pushes`, shutdown's CLOSED); see event.rs.
            self.pushes.observe();
            self.state.load(Ordering::SeqCst);
            match self.get_nowait() {
                Err(GetError::Empty) => {}
                done => {
                    self.not_empty.cancel();
                    return Ok(done);
                }
            }
            let slept = sleep(&Sleep { event: &self.not_empty, key, deadline });
            self.not_empty.cancel();
            if let Err(e) = slept {
                // We may have taken the wake-up of an item that another getter must now take.
                self.not_empty.notify_one();
                return Err(e);
            }
        }
    }

    // --- tasks -------------------------------------------------------------------------------

    /// Marks one task done; wakes the joiners when it was the last.
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        // Relaxed: a first guess; the CAS decides.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if tasks(cur) == 0 {
                return Err(TooManyTaskDone);
            }
            // SeqCst on success: the condition write for joiners (event.rs); its Release half
            // pairs with the Acquire loads in `join`, so a joiner that sees zero sees everything
            // done before each task_done. Relaxed on failure: we retry.
            match self.state.compare_exchange_weak(cur, cur - TASK, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => cur = seen,
            }
        }
        if tasks(cur) == 1 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// Sleeps until every task put has been marked done.
    pub fn join<E>(&self, mut sleep: impl FnMut(&Sleep<'_>) -> Result<(), E>) -> Result<(), E> {
        loop {
            if self.unfinished_tasks() == 0 {
                return Ok(());
            }
            let key = self.all_done.prepare();
            // SeqCst: the waiter's load `W2` of the state word (event.rs).
            if tasks(self.state.load(Ordering::SeqCst)) == 0 {
                self.all_done.cancel();
                return Ok(());
            }
            let slept = sleep(&Sleep { event: &self.all_done, key, deadline: None });
            self.all_done.cancel();
            slept?; // every joiner is woken at once: nothing to pass on
        }
    }

    // --- shutdown ----------------------------------------------------------------------------

    /// Shuts the queue down: puts raise ShutDown from now on; gets drain what is left, then
    /// raise ShutDown. With `immediate`, the items left are removed first (one by one, each
    /// handed to `discard` and its task marked done), so gets raise ShutDown at once. Wakes
    /// every blocked caller.
    pub fn shutdown(&self, immediate: bool, mut discard: impl FnMut(T)) {
        // AcqRel: Release publishes nothing new but keeps the flag in the Release sequence that
        // getters' Acquire loads read; Acquire orders our wait below after it.
        let old = self.state.fetch_or(SHUTDOWN, Ordering::AcqRel);
        if old & SHUTDOWN != 0 {
            // An earlier call set the flag, and waits for the puts it admitted: let it finish.
            // (The admission count has since grown by refused puts, so it is not ours to use.)
            self.wait_closed();
        } else {
            // Puts admitted before the flag finish their push (a few instructions each). The
            // counts are compared modulo the admission field's width (see the module docs).
            let mut spins = 0;
            while self.pushes.total() & ADMITTED_MASK != admitted(old) {
                spins += 1;
                spin(spins);
            }
        }
        if immediate {
            let mut drained = 0u64;
            while let Some(item) = self.items.pop() {
                if self.maxsize > 0 {
                    // Release: as in `release_slot` (putters are refused now, so no wake-up).
                    self.free.fetch_add(1, Ordering::Release);
                }
                discard(item);
                drained += 1;
            }
            self.finish_tasks(drained);
        }
        // SeqCst: the condition write for every sleeper (event.rs). Its Release half pairs with
        // the Acquire loads that find CLOSED (`get_nowait`, `wait_closed`): every push admitted
        // before the shutdown, and the drain, happened before it.
        self.state.fetch_or(CLOSED, Ordering::SeqCst);
        self.not_empty.notify_all();
        self.not_full.notify_all();
        self.all_done.notify_all();
    }

    /// Marks up to `n` tasks done (the drained items of an immediate shutdown).
    fn finish_tasks(&self, n: u64) {
        if n == 0 {
            return;
        }
        // Relaxed: a first guess; the CAS decides.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let new = cur - tasks(cur).min(n) * TASK;
            // Release: as in `task_done` (the joiners are woken after CLOSED). Relaxed on
            // failure: we retry.
            match self.state.compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Waits until a shutdown that has begun has taken effect (CLOSED).
    fn wait_closed(&self) {
        let mut spins = 0;
        // Acquire: pairs with the Release that sets CLOSED.
        while self.state.load(Ordering::Acquire) & CLOSED == 0 {
            spins += 1;
            spin(spins);
        }
    }

    // --- whole-queue access for the binding's garbage-collector support -------------------------

    /// Shows every item to `visit` once, in queue order, by taking each from the head and
    /// putting it back at the tail (`qsize` times). Run while no other thread uses the queue
    /// (as the garbage collector does), this leaves the queue exactly as it was. Under
    /// concurrent use it stays safe (every item is owned while shown, nothing is lost or
    /// duplicated) but the rotated items may change places with concurrent puts and gets.
    pub fn rotate(&self, mut visit: impl FnMut(&T)) {
        for _ in 0..self.items.len() {
            let Some(item) = self.items.pop() else { break };
            visit(&item);
            self.items.push(item);
        }
    }

    /// Removes every item, handing each to `take` (the binding's `tp_clear` and destructor).
    /// Tasks are left as they are.
    pub fn drain(&self, mut take: impl FnMut(T)) {
        while let Ok(item) = self.take_raw() {
            take(item);
        }
    }

    fn take_raw(&self) -> Result<T, GetError> {
        match self.items.pop() {
            Some(item) => {
                if self.maxsize > 0 {
                    self.release_slot();
                }
                Ok(item)
            }
            None => Err(GetError::Empty),
        }
    }
}

/// One step of a short wait for another thread's few instructions: spin, then yield.
fn spin(step: u32) {
    #[cfg(loom)]
    {
        let _ = step;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if step <= 6 {
            for _ in 0..(1u32 << step) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
