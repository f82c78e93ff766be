//! Python objects as engine [`Handle`]s, and where their deferred releases run.
//!
//! The engine defers every release through the epoch (see `engine::reclaim`). A deferred
//! function may run inside any later `pin()`, in the middle of an engine operation, where
//! running a `__del__` (arbitrary Python code, perhaps re-entering the same collection) must not
//! happen. So releasing a [`PyHandle`] only queues the pointer on a thread-local list, and every
//! binding method drains that list with [`Pinned::finish`] after its guard is dropped, attached
//! to the interpreter, with no engine invariant open.
//!
//! Only threads attached to the interpreter pin our collector (every binding method runs
//! attached), so the queue is always drained by a thread that may decref. Pointers still queued
//! when a thread exits are leaked rather than released while detached.

use std::cell::RefCell;
use std::ptr::NonNull;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::engine::reclaim::{self, Handle};

/// One strong reference to a Python object, in the shape the engine stores.
pub(crate) struct PyHandle(NonNull<ffi::PyObject>);

impl PyHandle {
    /// A new strong reference to `obj`.
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> Self {
        let owned = obj.clone().unbind();
        // SAFETY: `into_ptr` gives up the strong reference we just made; it is never null.
        Self(unsafe { NonNull::new_unchecked(owned.into_ptr()) })
    }

    /// Converts back into a Python object, handing over the strong reference.
    pub(crate) fn into_bound(self, py: Python<'_>) -> Bound<'_, PyAny> {
        let ptr = self.0.as_ptr();
        std::mem::forget(self);
        // SAFETY: we owned one strong reference to `ptr` and hand it to the Bound.
        unsafe { Bound::from_owned_ptr(py, ptr) }
    }

}

impl Drop for PyHandle {
    fn drop(&mut self) {
        // Dropping a handle we still own (an error path): queue it like any release, so the
        // decref happens attached and outside engine operations.
        queue(self.0);
    }
}

// SAFETY: a PyObject is at least 8-byte aligned (it starts with pointer-sized fields, and
// CPython's allocator aligns to 16); `into_raw` keeps the reference we own; `clone_raw` increfs,
// which free-threaded CPython allows from any attached thread while the object is alive;
// `release` queues exactly one decref for later (see the module docs).
unsafe impl Handle for PyHandle {
    fn into_raw(self) -> NonNull<()> {
        let ptr = self.0.cast::<()>();
        std::mem::forget(self);
        ptr
    }

    fn as_ptr(&self) -> NonNull<()> {
        self.0.cast()
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Self(ptr.cast())
    }

    unsafe fn clone_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller guarantees the object is alive; every binding method runs
        // attached to the interpreter, where Py_IncRef is allowed.
        unsafe { ffi::Py_IncRef(ptr.as_ptr().cast()) };
        Self(ptr.cast())
    }

    unsafe fn release(ptr: NonNull<()>) {
        queue(ptr.cast());
    }
}

/// Queues one decref. During thread teardown the queue may be gone: then the reference is
/// leaked, never released while detached.
fn queue(ptr: NonNull<ffi::PyObject>) {
    let _ = PENDING.try_with(|p| p.borrow_mut().push(ptr));
}

std::thread_local! {
    /// References whose release the epoch has allowed, waiting for a safe point to decref.
    static PENDING: RefCell<Vec<NonNull<ffi::PyObject>>> = const { RefCell::new(Vec::new()) };
}

/// Decrefs everything queued on this thread. Runs `__del__`s and weakref callbacks, so call it
/// only with no guard held and no engine operation under way.
pub(crate) fn drain_pending(_py: Python<'_>) {
    loop {
        // Take the batch out first: a `__del__` may re-enter lockless and queue more.
        let batch = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        if batch.is_empty() {
            return;
        }
        for ptr in batch {
            // SAFETY: each queued pointer carries one strong reference we own, and we are
            // attached (we hold a `Python` token).
            unsafe { ffi::Py_DecRef(ptr.as_ptr()) };
        }
    }
}

/// Flush the thread's epoch bag once a batch of releases built up, or when any release has
/// waited 64 calls. Python users expect a removed value to be released soon; but every flush
/// seals a bag, and crossbeam collects a bounded number of bags per collection, so flushing
/// tiny bags often would build a backlog that takes long to drain.
fn should_flush(unflushed: usize) -> bool {
    const BATCH: usize = 32;
    const CALLS: u32 = 64;
    if unflushed == 0 {
        return false;
    }
    CALLS_SINCE_FLUSH
        .try_with(|calls| {
            let n = calls.get() + 1;
            let flush = unflushed >= BATCH || n >= CALLS;
            calls.set(if flush { 0 } else { n });
            flush
        })
        .unwrap_or(false)
}

std::thread_local! {
    /// Binding calls on this thread since it last flushed while releases were waiting.
    static CALLS_SINCE_FLUSH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` pinned to the epoch, then drains this thread's pending releases after unpinning.
/// Every binding method that touches shared engine state goes through here.
pub(crate) fn pinned<R>(py: Python<'_>, f: impl FnOnce(&crossbeam_epoch::Guard) -> R) -> R {
    let result = {
        let guard = reclaim::pin();
        let result = f(&guard);
        if should_flush(reclaim::unflushed()) {
            reclaim::flush(&guard);
        }
        result
    };
    drain_pending(py);
    result
}
