//! Epoch-based reclamation for objects the engine shares between threads.
//!
//! # The read-then-incref problem
//! A reader loads a pointer from a shared slot and then takes a reference to the object. A
//! writer that swaps the slot and drops its reference in between would free the object under
//! the reader. So the engine never drops an unlinked object directly: every path that unlinks
//! one (replace, delete, compare-and-set, clear, migration, error paths) *defers* the release
//! through crossbeam-epoch, and it runs only once every thread that was pinned when it was
//! unlinked has unpinned. Readers pin, load, take their reference, unpin.
//!
//! # Our own collector
//! We use a [`Collector`] owned by this crate rather than crossbeam's process-wide default, so
//! that a pin taken by another library, or by a thread that never runs Python code, never runs
//! our deferred releases (which, in the binding, must run on a thread attached to the
//! interpreter).
//!
//! # Releases run after the outermost unpin
//! A release may run arbitrary code (in the binding, a `__del__`). The epoch runs deferred
//! functions inside some later pin, in the middle of an operation, so a handle's release only
//! *queues* the pointer ([`queue_release`]); [`pinned`] runs the queue once the thread is no
//! longer pinned at all.
//!
//! # A thread alone releases at once
//! Every thread that pins our collector is registered in a count (a thread-local [`Local`], or
//! a one-off handle during thread teardown, counts itself while it lives). When an unlink finds
//! the count at one, no other thread can hold the unlinked pointer: a thread registering later
//! increments the count and fences before its first load, while the unlinker fences after its
//! unlink and before reading the count (Dekker's pattern), so either the unlinker sees the
//! newcomer and defers, or the newcomer's loads see the unlink. The release then skips the epoch
//! and goes straight to the thread's queue, so it runs before the operation returns (dict's
//! `del d[k]` runs `__del__` before it returns; ours does too, unless another thread is
//! registered). Otherwise it waits for the epoch: the thread flushes its bag after 64 releases or
//! 64 calls, and every 128th pin collects, so a release runs within a few hundred of the
//! thread's later calls, or at its exit, unless some thread stays pinned (no operation does for
//! long).
//!
//! # Orphans
//! A thread that exits collects a last time (and crossbeam's teardown pins once more): the
//! releases it collects are often other threads' garbage, and its queue is gone or going. They
//! go to a global lock-free queue of orphans, which the next thread to unpin runs (attached to
//! the interpreter, as every caller of [`pinned`] is). Releases are never skipped.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use crossbeam_epoch::{Collector, LocalHandle};
use crossbeam_queue::SegQueue;

use crate::engine::counter::thread_slot;
use crate::sync::{fence, AtomicUsize, Ordering};

mod queue;
use queue::ReleaseQueue;

/// What all threads share: the collector, the count of registered threads, the orphans.
struct Shared {
    collector: Collector,
    /// Threads registered with `collector` (see [`Registration`]).
    threads: AtomicUsize,
    /// Releases whose thread could not run them (see the module docs).
    orphans: SegQueue<Orphan>,
    /// How many orphans were pushed and not yet popped: one load tells a thread that unpins
    /// whether to look (a hint; the queue itself is the truth).
    orphan_count: AtomicUsize,
}

impl Shared {
    fn new() -> Self {
        Shared {
            collector: Collector::new(),
            threads: AtomicUsize::new(0),
            orphans: SegQueue::new(),
            orphan_count: AtomicUsize::new(0),
        }
    }

    /// Whether the calling thread, registered and pinned, is the only registered thread (see
    /// the module docs).
    fn alone(&self) -> bool {
        // Relaxed: a first look; with another thread registered the answer is no whatever the
        // ordering (deferring is always safe).
        if self.threads.load(Ordering::Relaxed) != 1 {
            return false;
        }
        // SeqCst: orders the caller's unlink (a store before this call) before the load below;
        // pairs with the fence in `Registration::new` (Dekker): a thread registering after
        // this load sees the unlink in its loads.
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release decrement of a thread that left (`Registration`'s
        // drop), so whatever it read of the object happens before our release of it.
        self.threads.load(Ordering::Acquire) == 1
    }

    /// Queues a release that no live thread-local queue can take.
    fn push_orphan(&self, queued: Queued) {
        self.orphans.push(Orphan(queued));
        // Release: publishes nothing the queue does not (its push synchronizes with the pop);
        // orders the count after the push, so a thread that sees it finds the entry.
        self.orphan_count.fetch_add(1, Ordering::Release);
    }

    /// Whether orphans may be waiting.
    fn has_orphans(&self) -> bool {
        // Relaxed: a hint; the queue's pop synchronizes with its push.
        self.orphan_count.load(Ordering::Relaxed) != 0
    }

    /// Runs the orphans queued so far. The caller is not pinned, and may run releases.
    fn run_orphans(&self) {
        while let Some(Orphan((ptr, release))) = self.orphans.pop() {
            // Relaxed: the count is a hint (it may dip below the queue's length meanwhile).
            self.orphan_count.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: `queue_release`'s caller handed over one reference with the function
            // that releases it, sound to run on any thread that pins our collector (its
            // contract); each entry is popped, so run, once.
            unsafe { release(ptr) };
        }
    }
}

/// How a registration holds [`Shared`]: a static reference, or under loom (whose lazy statics
/// are dropped before the main thread's thread-locals) a counted one.
#[cfg(not(loom))]
type SharedRef = &'static Shared;
#[cfg(loom)]
type SharedRef = Arc<Shared>;

#[cfg(not(loom))]
fn shared() -> SharedRef {
    static SHARED: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    SHARED.get_or_init(Shared::new)
}

#[cfg(loom)]
fn shared() -> SharedRef {
    loom::lazy_static! {
        static ref SHARED: Arc<Shared> = Arc::new(Shared::new());
    }
    Arc::clone(&SHARED)
}

/// A release waiting for a safe point: the pointer and the function that releases it.
type Queued = (NonNull<()>, unsafe fn(NonNull<()>));

/// A [`Queued`] release that any thread may run.
struct Orphan(Queued);

// SAFETY: `queue_release`'s contract makes every queued release sound to run on any thread that
// pins our collector, which is the only kind that pops orphans.
unsafe impl Send for Orphan {}

/// A handle registered with the collector, counted in [`Shared::threads`] while it lives.
struct Registration {
    shared: SharedRef,
    handle: ManuallyDrop<LocalHandle>,
}

impl Registration {
    fn new(shared: SharedRef) -> Self {
        // Relaxed: the fence below orders it.
        shared.threads.fetch_add(1, Ordering::Relaxed);
        // SeqCst: orders the count before this thread's first load of any shared slot; pairs
        // with the fence in `Shared::alone` (Dekker).
        fence(Ordering::SeqCst);
        let handle = ManuallyDrop::new(shared.collector.register());
        Registration { shared, handle }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the field is not used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.handle) };
        // Release: everything this thread read happens before a lone thread's release of it;
        // pairs with the Acquire load in `Shared::alone`.
        self.shared.threads.fetch_sub(1, Ordering::Release);
    }
}

/// Entries of queue buffer a thread keeps between drains (64 KiB): enough for the batches of
/// ordinary operations, without holding on to the buffer of a huge one (a `clear`).
const KEEP_QUEUED: usize = 4096;

/// Everything reclamation keeps per thread, in one thread-local so that an operation pays for
/// one thread-local lookup (in a shared library each costs a `__tls_get_addr` call).
struct Local {
    registration: Registration,
    /// Releases deferred since this thread last flushed its epoch bag.
    unflushed: Cell<usize>,
    /// [`pinned`] calls since the last flush while releases were waiting.
    calls: Cell<u32>,
    /// Releases the epoch has allowed, queued by [`queue_release`] until [`pinned`] unpins.
    queue: ReleaseQueue,
    /// This thread's [`thread_slot`], kept here so that [`Guard::thread_slot`] costs no
    /// thread-local lookup of its own.
    thread_slot: usize,
}

impl Local {
    fn new() -> Self {
        Local {
            registration: Registration::new(shared()),
            unflushed: Cell::new(0),
            calls: Cell::new(0),
            queue: ReleaseQueue::new(),
            thread_slot: thread_slot(),
        }
    }

    fn handle(&self) -> &LocalHandle {
        &self.registration.handle
    }

    // The borrow is needed under loom, where the field is an `Arc`.
    #[allow(clippy::needless_borrow)]
    fn shared(&self) -> &Shared {
        &self.registration.shared
    }

    /// Flush once a batch of releases built up, or when any release has waited 64 calls. Every
    /// flush seals a bag, and crossbeam collects a bounded number of bags per collection, so
    /// flushing tiny bags often would build a backlog that takes long to drain. A batch is a
    /// full crossbeam bag (64): each flush also collects, which walks every participant
    /// registered with the collector (idle threads included), and seals a 2 KB bag.
    fn should_flush(&self) -> bool {
        const BATCH: usize = 64;
        const CALLS: u32 = 64;
        let unflushed = self.unflushed.get();
        if unflushed == 0 {
            return false;
        }
        let calls = self.calls.get() + 1;
        let flush = unflushed >= BATCH || calls >= CALLS;
        self.calls.set(if flush { 0 } else { calls });
        flush
    }

    fn flush(&self, guard: &crossbeam_epoch::Guard) {
        self.unflushed.set(0);
        guard.flush();
    }

    /// Hands `release(ptr)` to the epoch, or, if this thread is alone, `unpinned(ptr)` straight
    /// to its queue.
    ///
    /// # Safety
    /// As for [`defer_release`], with `release` and `unpinned` for `H::release` and
    /// `H::release_unpinned`; `guard` is this thread's.
    unsafe fn retire(
        &self,
        guard: &crossbeam_epoch::Guard,
        ptr: NonNull<()>,
        unpinned: unsafe fn(NonNull<()>),
        release: unsafe fn(NonNull<()>),
    ) {
        if self.shared().alone() {
            // Nobody else can reach `ptr` (see the module docs); this thread's own loads of it
            // end with its outermost pin, after which the queue runs, unpinned.
            self.queue.push((ptr, unpinned));
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.defer_to_epoch(guard, ptr, release) };
    }

    /// Hands `release(ptr)` to the epoch, counted for the flush policy. Out of line: crossbeam's
    /// `defer` keeps a whole bag (2 KB) in its frame, which would make every caller's prologue
    /// probe the stack.
    ///
    /// # Safety
    /// As for [`defer_release`], with `release` for `H::release`; `guard` is this thread's.
    #[inline(never)]
    unsafe fn defer_to_epoch(
        &self,
        guard: &crossbeam_epoch::Guard,
        ptr: NonNull<()>,
        release: unsafe fn(NonNull<()>),
    ) {
        self.unflushed.set(self.unflushed.get() + 1);
        // SAFETY: the closure only releases `ptr`, which nothing reachable points to any more;
        // the epoch runs it after every guard that could have loaded `ptr` is dropped. Running
        // it on another thread is allowed by the caller's contract.
        unsafe { guard.defer_unchecked(move || release(ptr)) };
    }

    /// Runs the queued releases, and the orphans, unless the thread is still pinned (a release
    /// may run arbitrary code, even re-entering lockless).
    ///
    /// The queue's buffer is kept for the next batch (up to [`KEEP_QUEUED`] entries): taking
    /// and dropping it cost a `malloc`, a `free` and the reallocations of its regrowth on every
    /// operation that queued anything (a hit of `k in m` drops the value it read; a write's
    /// deferred releases arrive in batches).
    #[inline]
    fn drain(&self) {
        let queued = self.queue.len();
        match queued {
            0 if !self.shared().has_orphans() => {} // the common case, a few loads and compares
            1 => self.drain_one(),
            _ => self.drain_all(),
        }
    }

    /// [`Local::drain`] of one release, the next most common case (a write's old value): in a
    /// function small enough to save few registers; the rest in [`Local::drain_all`].
    #[inline(never)]
    fn drain_one(&self) {
        if !self.handle().is_pinned() {
            let popped = self.queue.pop();
            if let Some((ptr, release)) = popped {
                // SAFETY: as in `run_queue`; popped, so run once.
                unsafe { release(ptr) };
            }
            if self.queue.is_empty() && !self.shared().has_orphans() {
                return;
            }
        }
        self.drain_all();
    }

    /// [`Local::drain`] once something waits.
    #[inline(never)]
    fn drain_all(&self) {
        let queued = !self.queue.is_empty();
        if self.handle().is_pinned() {
            return; // an outer pin's unpin will drain
        }
        if queued {
            self.run_queue();
        }
        // The hint first: popping an empty lock-free queue costs more than the load.
        if self.shared().has_orphans() {
            self.shared().run_orphans();
        }
    }

    /// Runs this thread's queue until it stays empty. The thread is not pinned.
    fn run_queue(&self) {
        // The common cases, one release or two (a write's old value; a delete's key and value):
        // take them out together and run them in order, without the batch swap.
        let (first, second) = match self.queue.len() {
            1 => (self.queue.pop(), None),
            2 => {
                let second = self.queue.pop();
                (self.queue.pop(), second)
            }
            _ => (None, None),
        };
        if let Some((ptr, release)) = first {
            // SAFETY: as below; popped, so run once.
            unsafe { release(ptr) };
            if let Some((ptr, release)) = second {
                // SAFETY: as below; popped, so run once.
                unsafe { release(ptr) };
            }
            if self.queue.is_empty() {
                return; // the releases queued nothing more
            }
        }
        let mut batch = Vec::new();
        loop {
            // Take the batch out first, leaving the emptied buffer of the previous round: a
            // release may queue more.
            self.queue.swap(&mut batch);
            if batch.is_empty() {
                break;
            }
            for (ptr, release) in batch.drain(..) {
                // SAFETY: `queue_release`'s caller handed over one reference with the function
                // that releases it; each entry runs once.
                unsafe { release(ptr) };
            }
        }
        // The queue now holds the last buffer drained, empty, with its capacity.
        self.queue.shrink_to(KEEP_QUEUED);
    }
}

impl Drop for Local {
    /// The thread is exiting: collect a few times, so its garbage (and others') is released
    /// now rather than whenever another thread collects. What is collected lands in the
    /// orphans, since this thread's queue is being destroyed; so does anything left queued.
    fn drop(&mut self) {
        // Not under loom: these pins only make releases prompter, and would multiply every
        // model's interleavings of thread teardown.
        #[cfg(not(loom))]
        for _ in 0..3 {
            self.handle().pin().flush();
        }
        for queued in self.queue.take() {
            self.shared().push_orphan(queued);
        }
        // Then the registration's drop: crossbeam's teardown (one more pin, whose collections
        // also go to the orphans), and the thread leaves the count.
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static LOCAL: Local = Local::new();
}

#[cfg(loom)]
loom::thread_local! {
    static LOCAL: Local = Local::new();
}

/// A pin of the crate's collector: crossbeam's guard (which it dereferences to), and, for one
/// that [`pinned`] lends, this thread's reclamation state, so that the releases an operation
/// defers and its [`Guard::thread_slot`] find it without a thread-local lookup of their own (in
/// a shared library each lookup is a `__tls_get_addr` call: a delete made four).
pub struct Guard<'l> {
    epoch: crossbeam_epoch::Guard,
    /// This thread's state, borrowed for the pin; `None` from [`pin`] (the state is then
    /// looked up when needed) and during thread teardown (there is none).
    local: Option<&'l Local>,
}

impl Deref for Guard<'_> {
    type Target = crossbeam_epoch::Guard;

    fn deref(&self) -> &crossbeam_epoch::Guard {
        &self.epoch
    }
}

impl Guard<'_> {
    /// `f` on this thread's reclamation state: the one the guard carries, else the
    /// thread-local's; `None` during thread teardown, when it is gone.
    #[inline]
    fn with_local<R>(&self, f: impl FnOnce(&Local) -> R) -> Option<R> {
        match self.local {
            Some(l) => Some(f(l)),
            None => LOCAL.try_with(f).ok(),
        }
    }

    /// This thread's slot number ([`thread_slot`]), which spreads per-thread counters.
    #[inline]
    pub fn thread_slot(&self) -> usize {
        match self.local {
            Some(l) => l.thread_slot,
            None => thread_slot(),
        }
    }
}

/// Pins the current thread to the crate's collector. Nested pins are cheap and allowed.
pub fn pin() -> Guard<'static> {
    let epoch = LOCAL.try_with(|l| l.handle().pin()).unwrap_or_else(|_| {
        // Thread teardown: the thread-local is gone. A one-off handle must stay counted while
        // its guard lives, which a bare `Guard` cannot say: count it for good (this thread is
        // never alone again; a rare path, taken only by code running in thread teardown).
        let shared = shared();
        // Relaxed: the fence orders it, as in `Registration::new`.
        shared.threads.fetch_add(1, Ordering::Relaxed);
        // SeqCst: as in `Registration::new`.
        fence(Ordering::SeqCst);
        shared.collector.register().pin()
    });
    Guard { epoch, local: None }
}

/// Runs `f` pinned; then, once the thread is no longer pinned, runs the releases queued on this
/// thread (see [`queue_release`]) and the orphans, so code that releases run (destructors; in
/// the binding, arbitrary Python) never runs inside an operation. Also flushes the epoch bag
/// now and then, so deferred releases do not wait for it to fill.
pub fn pinned<R>(f: impl FnOnce(&Guard) -> R) -> R {
    let mut f = Some(f);
    let result = LOCAL.try_with(|l| {
        let f = f.take().expect("called once");
        let result = {
            let guard = Guard { epoch: l.handle().pin(), local: Some(l) };
            let result = f(&guard);
            if l.should_flush() {
                l.flush(&guard);
            }
            result
        };
        l.drain();
        result
    });
    match result {
        Ok(result) => result,
        Err(_) => {
            // Thread teardown: no queue any more; pin a one-off handle, counted while it lives
            // (what it defers goes through the epoch, what it releases to the orphans).
            let registration = Registration::new(shared());
            let guard = Guard { epoch: registration.handle.pin(), local: None };
            (f.take().expect("not yet called"))(&guard)
        }
    }
}

/// Flushes this thread's epoch bag: deferred releases go to the global queue, and what the
/// epoch allows is collected.
pub fn flush(guard: &Guard) {
    let _ = guard.with_local(|l| l.flush(guard));
}

/// Queues `release(ptr)` to run when the current thread is no longer pinned (at the end of its
/// outermost [`pinned`] call). During thread teardown, when the queue is gone, the release
/// becomes an orphan, run by the next thread that unpins.
///
/// # Safety
/// `release(ptr)` must be sound to run once, later, on this thread or any other thread that
/// pins the crate's collector (in the binding: any thread attached to the interpreter).
pub unsafe fn queue_release(ptr: NonNull<()>, release: unsafe fn(NonNull<()>)) {
    if LOCAL.try_with(|l| l.queue.push((ptr, release))).is_err() {
        shared().push_orphan((ptr, release));
    }
}

/// Runs the releases queued on this thread now, and the orphans (for destructors of whole
/// collections), unless the thread is pinned.
pub fn drain_queue() {
    let _ = LOCAL.try_with(Local::drain);
}

/// A reference-counted pointer that the engine can keep as a raw pointer in an atomic slot.
///
/// The engine owns one strong reference for every pointer it stores, hands out new references
/// with [`Handle::clone_raw`], and gives its own up with [`Handle::release`], always deferred
/// through the epoch once the pointer is unlinked.
///
/// # Safety
/// Implementors guarantee that:
/// * [`Handle::into_raw`] returns a non-null pointer, aligned to at least 8 bytes (the engine
///   keeps state in the low 3 bits), that carries one strong reference;
/// * [`Handle::clone_raw`] on a pointer that some owner keeps alive returns a new, independent
///   strong reference to the same object;
/// * [`Handle::release`] gives up exactly one strong reference (it may do so later, for example
///   by queueing the pointer until the thread can run destructors safely);
/// * the objects may be referenced and released from any thread (`Send + Sync` in spirit).
pub unsafe trait Handle: Sized {
    /// Gives up ownership of one strong reference, as a raw pointer.
    fn into_raw(self) -> NonNull<()>;

    /// The pointer [`Handle::into_raw`] would return, without giving anything up.
    fn as_ptr(&self) -> NonNull<()>;

    /// Takes back ownership of one strong reference.
    ///
    /// # Safety
    /// `ptr` came from [`Handle::into_raw`] and its reference has not been released or taken back.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;

    /// Returns a new strong reference to the object behind `ptr`; the caller's own stays put.
    ///
    /// # Safety
    /// The object behind `ptr` is alive for the duration of the call (the caller owns a
    /// reference, or is pinned and the owner defers its release through the epoch).
    unsafe fn clone_raw(ptr: NonNull<()>) -> Self;

    /// Gives up one strong reference held as a raw pointer.
    ///
    /// # Safety
    /// As for [`Handle::from_raw`]; afterwards `ptr` must not be used by the caller.
    unsafe fn release(ptr: NonNull<()>) {
        // SAFETY: forwarded from the caller's contract.
        drop(unsafe { Self::from_raw(ptr) });
    }

    /// Gives up one strong reference held as a raw pointer, at a safe point: the thread is not
    /// pinned, and may run whatever the release runs (a destructor). [`Handle::release`] may
    /// defer to such a point; this is what runs there. By default, [`Handle::release`].
    ///
    /// # Safety
    /// As for [`Handle::release`]; and the thread is at a safe point (as above).
    unsafe fn release_unpinned(ptr: NonNull<()>) {
        // SAFETY: forwarded from the caller.
        unsafe { Self::release(ptr) };
    }

    /// Whether releasing `ptr` does anything. A handle that is a plain value packed into the
    /// pointer word (a count, a "present" marker) answers false, and the engine then skips
    /// deferring its release through the epoch, which would cost a closure in the thread's bag
    /// for nothing.
    fn needs_release(_ptr: NonNull<()>) -> bool {
        true
    }

    /// Whether `ptr` is an object the caller's garbage collector should be shown (a Python
    /// object, for the binding's `__traverse__`). Defaults to [`Handle::needs_release`]; a
    /// handle that owns memory of the engine's own (a count too wide to pack) answers false.
    fn is_traced(ptr: NonNull<()>) -> bool {
        Self::needs_release(ptr)
    }

    /// A new strong reference to this object.
    fn clone_ref(&self) -> Self {
        // SAFETY: `self` holds a reference, so the object is alive for the call.
        unsafe { Self::clone_raw(self.as_ptr()) }
    }
}

/// Lends the object behind `ptr` to `f` as a `&H`, without taking or giving up a reference.
///
/// # Safety
/// `ptr` came from [`Handle::into_raw`], and its owner keeps the reference alive until `f`
/// returns.
#[inline]
pub unsafe fn lend<H: Handle, R>(ptr: NonNull<()>, f: impl FnOnce(&H) -> R) -> R {
    // SAFETY: the caller guarantees `ptr` carries a live reference; ManuallyDrop makes sure we
    // never give it up, so `f` only borrows it (it may `clone_ref` it for a reference of its own).
    let lent = std::mem::ManuallyDrop::new(unsafe { H::from_raw(ptr) });
    f(&lent)
}

// SAFETY: `Arc::into_raw` keeps one strong count and returns a pointer to the data inside an
// `ArcInner`, which starts with two `usize` counters, so the data is at least 8-byte aligned
// when `T` is `Sized` (the alignment is asserted below); `increment_strong_count` then
// `from_raw` gives a new strong reference; `Arc<T>` is shareable across threads when
// `T: Send + Sync`.
unsafe impl<T: Send + Sync> Handle for Arc<T> {
    fn into_raw(self) -> NonNull<()> {
        let ptr = Arc::into_raw(self).cast_mut().cast::<()>();
        debug_assert_eq!(ptr as usize & 7, 0, "Arc data must be 8-byte aligned");
        // SAFETY: `Arc::into_raw` never returns null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    fn as_ptr(&self) -> NonNull<()> {
        NonNull::from(&**self).cast()
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller guarantees `ptr` came from `into_raw` with its reference unspent.
        unsafe { Arc::from_raw(ptr.as_ptr().cast::<T>()) }
    }

    unsafe fn clone_raw(ptr: NonNull<()>) -> Self {
        let data = ptr.as_ptr().cast::<T>().cast_const();
        // SAFETY: the caller guarantees the object is alive, so its strong count is >= 1 and
        // incrementing it, then adopting the new count with `from_raw`, is sound.
        unsafe {
            Arc::increment_strong_count(data);
            Arc::from_raw(data)
        }
    }
}

/// Defers `f` (which frees something unlinked) through the epoch, counted like releases so the
/// bindings' flush policy sees it; or, if this thread is alone, runs it once the thread unpins.
///
/// # Safety
/// As for [`Guard::defer_unchecked`]: `f` may run on any thread, after every guard that could
/// reach what it frees is dropped; it must not depend on anything that could be gone by then.
pub unsafe fn defer<F: FnOnce()>(guard: &Guard, f: F) {
    /// Runs and frees the boxed `F` behind `ptr`.
    ///
    /// # Safety
    /// `ptr` came from `Box::<F>::into_raw`, once.
    unsafe fn run_boxed<F: FnOnce()>(ptr: NonNull<()>) {
        // SAFETY: forwarded from the caller.
        let f = unsafe { Box::from_raw(ptr.as_ptr().cast::<F>()) };
        f();
    }
    let mut f = Some(f);
    guard.with_local(|l| {
        if l.shared().alone() {
            // Nobody else can reach what `f` frees (see the module docs); this thread's own
            // loads end with its outermost pin, after which the queue runs.
            let boxed = NonNull::from(Box::leak(Box::new(f.take().expect("taken once"))));
            l.queue.push((boxed.cast(), run_boxed::<F>));
        } else {
            l.unflushed.set(l.unflushed.get() + 1);
        }
    });
    if let Some(f) = f {
        // SAFETY: forwarded from the caller.
        unsafe { guard.defer_unchecked(f) };
    }
}

/// Defers giving up one reference to `ptr` until no thread pinned now can still read it; if
/// this thread is alone, that is as soon as it unpins (see the module docs).
///
/// # Safety
/// `ptr` carries a reference owned by the caller, which the caller has made unreachable from
/// every shared slot before this call, and never uses again.
#[inline]
pub unsafe fn defer_release<H: Handle>(guard: &Guard, ptr: NonNull<()>) {
    if !H::needs_release(ptr) {
        return;
    }
    match guard.local {
        // Nobody else can reach `ptr` (see the module docs); this thread's own loads of it end
        // with its outermost pin, after which the queue runs, unpinned. Inline: the common
        // single-thread path, a few loads and a push.
        Some(l) if l.shared().alone() => l.queue.push((ptr, H::release_unpinned)),
        // SAFETY: `H::release` gives up the reference the caller hands over, on any thread
        // (`Handle`'s contract), and may run inside a pin; `guard` is this thread's.
        Some(l) => unsafe { l.defer_to_epoch(guard, ptr, H::release) },
        // SAFETY: forwarded from the caller.
        None => unsafe { defer_release_unlent::<H>(guard, ptr) },
    }
}

/// [`defer_release`] with a guard that carries no thread state (from [`pin`], or in thread
/// teardown): looks the state up.
///
/// # Safety
/// As for [`defer_release`].
#[inline(never)]
unsafe fn defer_release_unlent<H: Handle>(guard: &Guard, ptr: NonNull<()>) {
    // SAFETY: `H::release_unpinned` gives up the reference the caller hands over, on any
    // thread (`Handle`'s contract), and `retire` runs it unpinned (from the queue) or hands it to
    // the epoch, whose closure runs inside a pin, with `H::release`, which may run there;
    // `guard` is this thread's.
    if LOCAL.try_with(|l| unsafe { l.retire(guard, ptr, H::release_unpinned, H::release) }).is_err() {
        // SAFETY: as in `Local::defer_to_epoch`.
        unsafe { guard.defer_unchecked(move || H::release(ptr)) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::RefCell;

    std::thread_local! {
        static RAN: Cell<usize> = const { Cell::new(0) };
        static ORDER: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// Records the pointer's address as the release's name.
    unsafe fn record(ptr: NonNull<()>) {
        ORDER.with(|o| o.borrow_mut().push(ptr.as_ptr() as usize));
    }

    /// Records itself and, if its name is below 100, queues one more named 100 above it.
    unsafe fn record_and_queue_another(ptr: NonNull<()>) {
        let name = ptr.as_ptr() as usize;
        ORDER.with(|o| o.borrow_mut().push(name));
        if name < 100 {
            // SAFETY: `record` may run any time on this thread.
            unsafe { queue_release(named(name + 100), record) };
        }
    }

    fn named(name: usize) -> NonNull<()> {
        NonNull::new(name as *mut ()).expect("names are not zero")
    }

    /// Counts itself; the pointer is not used.
    unsafe fn count(_: NonNull<()>) {
        RAN.with(|r| r.set(r.get() + 1));
    }

    /// Counts itself and queues one more release (as a `__del__` that re-enters lockless does).
    unsafe fn count_and_queue_another(ptr: NonNull<()>) {
        RAN.with(|r| r.set(r.get() + 1));
        // SAFETY: `count` may run any time on this thread.
        unsafe { queue_release(ptr, count) };
    }

    fn queue_capacity() -> usize {
        LOCAL.with(|l| l.queue.capacity())
    }

    #[test]
    fn drain_runs_each_release_once_including_those_queued_while_draining() {
        RAN.with(|r| r.set(0));
        let p = NonNull::<u64>::dangling().cast::<()>();
        for _ in 0..10 {
            // SAFETY: the release functions ignore the pointer.
            unsafe { queue_release(p, count_and_queue_another) };
        }
        drain_queue();
        assert_eq!(RAN.with(Cell::get), 20);
        drain_queue();
        assert_eq!(RAN.with(Cell::get), 20);
    }

    #[test]
    fn drain_runs_one_two_or_many_releases_in_the_order_queued_then_those_they_queue() {
        for n in 1..=4 {
            for requeue in [false, true] {
                ORDER.with(|o| o.borrow_mut().clear());
                let release = if requeue { record_and_queue_another } else { record };
                for name in 1..=n {
                    // SAFETY: the release functions only record the pointer's address.
                    unsafe { queue_release(named(name), release) };
                }
                drain_queue();
                let mut expected: Vec<usize> = (1..=n).collect();
                if requeue {
                    expected.extend((1..=n).map(|name| name + 100));
                }
                assert_eq!(ORDER.with(|o| o.borrow().clone()), expected, "{n} queued, requeue {requeue}");
            }
        }
    }

    #[test]
    fn no_release_runs_while_the_thread_is_pinned_whether_one_or_more_wait() {
        for n in 1..=3 {
            RAN.with(|r| r.set(0));
            let guard = pin();
            for _ in 0..n {
                // SAFETY: `count` ignores the pointer.
                unsafe { queue_release(NonNull::<u64>::dangling().cast(), count) };
            }
            drain_queue();
            pinned(|_| ());
            assert_eq!(RAN.with(Cell::get), 0, "{n} queued: ran while pinned");
            drop(guard);
            drain_queue();
            assert_eq!(RAN.with(Cell::get), n, "{n} queued: ran once unpinned");
        }
    }

    #[test]
    fn drain_keeps_the_queue_buffer_for_the_next_batch_but_not_a_huge_one() {
        let p = NonNull::<u64>::dangling().cast::<()>();
        for _ in 0..100 {
            // SAFETY: `count` ignores the pointer.
            unsafe { queue_release(p, count) };
        }
        drain_queue();
        assert!(queue_capacity() >= 100, "the drained buffer is kept");
        for _ in 0..2 * KEEP_QUEUED {
            // SAFETY: as above.
            unsafe { queue_release(p, count) };
        }
        drain_queue();
        assert!(queue_capacity() <= KEEP_QUEUED, "a huge buffer is trimmed");
    }
}
