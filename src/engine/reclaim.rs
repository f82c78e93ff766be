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

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::sync::Arc;

use crossbeam_epoch::{Collector, Guard, LocalHandle};

#[cfg(not(loom))]
fn collector() -> &'static Collector {
    static COLLECTOR: std::sync::OnceLock<Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(Collector::new)
}

#[cfg(loom)]
fn collector() -> &'static Collector {
    loom::lazy_static! {
        static ref COLLECTOR: Collector = Collector::new();
    }
    &COLLECTOR
}

/// A release waiting for a safe point: the pointer and the function that releases it.
type Queued = (NonNull<()>, unsafe fn(NonNull<()>));

/// Entries of queue buffer a thread keeps between drains (64 KiB): enough for the batches of
/// ordinary operations, without holding on to the buffer of a huge one (a `clear`).
const KEEP_QUEUED: usize = 4096;

/// Everything reclamation keeps per thread, in one thread-local so that an operation pays for
/// one thread-local lookup (in a shared library each costs a `__tls_get_addr` call).
struct Local {
    handle: LocalHandle,
    /// Releases deferred since this thread last flushed its epoch bag.
    unflushed: Cell<usize>,
    /// [`pinned`] calls since the last flush while releases were waiting.
    calls: Cell<u32>,
    /// Releases the epoch has allowed, queued by [`queue_release`] until [`pinned`] unpins.
    queue: RefCell<Vec<Queued>>,
}

impl Local {
    fn new() -> Self {
        Local {
            handle: collector().register(),
            unflushed: Cell::new(0),
            calls: Cell::new(0),
            queue: RefCell::new(Vec::new()),
        }
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

    fn flush(&self, guard: &Guard) {
        self.unflushed.set(0);
        guard.flush();
    }

    /// Runs the queued releases (which may run arbitrary code, even re-entering lockless).
    ///
    /// The queue's buffer is kept for the next batch (up to [`KEEP_QUEUED`] entries): taking
    /// and dropping it cost a `malloc`, a `free` and the reallocations of its regrowth on every
    /// operation that queued anything (a hit of `k in m` drops the value it read; a write's
    /// deferred releases arrive in batches).
    fn drain(&self) {
        if self.queue.borrow().is_empty() {
            return; // the common case, kept to a load and a compare
        }
        let mut batch = Vec::new();
        loop {
            // Take the batch out first, leaving the emptied buffer of the previous round: a
            // release may queue more.
            std::mem::swap(&mut *self.queue.borrow_mut(), &mut batch);
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
        let mut queue = self.queue.borrow_mut();
        if queue.capacity() > KEEP_QUEUED {
            queue.shrink_to(KEEP_QUEUED);
        }
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

/// Pins the current thread to the crate's collector. Nested pins are cheap and allowed.
pub fn pin() -> Guard {
    // During thread teardown the thread-local may already be gone: register a one-off handle.
    LOCAL.try_with(|l| l.handle.pin()).unwrap_or_else(|_| collector().register().pin())
}

/// Runs `f` pinned; then, after unpinning, runs the releases queued on this thread (see
/// [`queue_release`]), so code that releases run (destructors; in the binding, arbitrary
/// Python) never runs inside an operation. Also flushes the epoch bag now and then, so
/// deferred releases do not wait for it to fill.
pub fn pinned<R>(f: impl FnOnce(&Guard) -> R) -> R {
    let mut f = Some(f);
    let result = LOCAL.try_with(|l| {
        let f = f.take().expect("called once");
        let result = {
            let guard = l.handle.pin();
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
        // Thread teardown: no queue any more; pin a one-off handle.
        Err(_) => (f.take().expect("not yet called"))(&pin()),
    }
}

/// Flushes this thread's epoch bag: deferred releases go to the global queue, and what the
/// epoch allows is collected.
pub fn flush(guard: &Guard) {
    let _ = LOCAL.try_with(|l| l.flush(guard));
}

/// Queues `release(ptr)` to run when the current (outermost) [`pinned`] call has unpinned.
/// During thread teardown, when the queue is gone, the release is skipped (leaked): better
/// than running it where the caller said it must not run.
///
/// # Safety
/// `release(ptr)` must be sound to run once, later, on this thread.
pub unsafe fn queue_release(ptr: NonNull<()>, release: unsafe fn(NonNull<()>)) {
    let _ = LOCAL.try_with(|l| l.queue.borrow_mut().push((ptr, release)));
}

/// Runs the releases queued on this thread now (for destructors of whole collections).
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
/// bindings' flush policy sees it.
///
/// # Safety
/// As for [`Guard::defer_unchecked`]: `f` may run on any thread, after every guard that could
/// reach what it frees is dropped; it must not depend on anything that could be gone by then.
pub unsafe fn defer<F: FnOnce()>(guard: &Guard, f: F) {
    let _ = LOCAL.try_with(|l| l.unflushed.set(l.unflushed.get() + 1));
    // SAFETY: forwarded from the caller.
    unsafe { guard.defer_unchecked(f) };
}

/// Defers giving up one reference to `ptr` until no thread pinned now can still read it.
///
/// # Safety
/// `ptr` carries a reference owned by the caller, which the caller has made unreachable from
/// every shared slot before this call, and never uses again.
pub unsafe fn defer_release<H: Handle>(guard: &Guard, ptr: NonNull<()>) {
    if !H::needs_release(ptr) {
        return;
    }
    // SAFETY: the closure only releases `ptr`, which nothing reachable points to any more; the
    // epoch runs it after every guard that could have loaded `ptr` is dropped. Running it on
    // another thread is allowed by `Handle`'s contract.
    unsafe { defer(guard, move || H::release(ptr)) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    std::thread_local! {
        static RAN: Cell<usize> = const { Cell::new(0) };
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
        LOCAL.with(|l| l.queue.borrow().capacity())
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
