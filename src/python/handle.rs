//! Python objects as engine [`Handle`]s, and where their deferred releases run.
//!
//! The engine defers every release through the epoch (see `engine::reclaim`). A deferred
//! function may run inside any later `pin()`, in the middle of an engine operation, where
//! running a `__del__` (arbitrary Python code, perhaps re-entering the same collection) must not
//! happen. So releasing a [`PyHandle`] only queues the pointer on a thread-local list, which
//! every engine call drains once it has unpinned (`reclaim::pinned`): attached to the
//! interpreter (every binding method runs attached), with no engine invariant open.
//!
//! Only threads attached to the interpreter pin our collector (every binding method runs
//! attached), so the queue is always drained by a thread that may decref. Releases that reach a
//! thread whose queue is gone (it is exiting, detached) become orphans, which the next thread
//! to leave a binding call runs, attached.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
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

    /// Converts into a raw owned pointer, handing over the strong reference (a slot's return).
    pub(crate) fn into_ptr(self) -> *mut ffi::PyObject {
        let ptr = self.0.as_ptr();
        std::mem::forget(self);
        ptr
    }

    /// `obj` in the shape of a handle, without a reference of its own: for passing a caller's
    /// key or value to the engine by `&PyHandle` (the engine takes a reference with
    /// `clone_ref` only if it keeps the object).
    pub(crate) fn lend<'a>(obj: &'a Bound<'_, PyAny>) -> Lent<'a> {
        // SAFETY: a Bound's pointer is never null.
        let handle = Self(unsafe { NonNull::new_unchecked(obj.as_ptr()) });
        Lent(ManuallyDrop::new(handle), PhantomData)
    }

    /// The object, borrowed for as long as this handle is.
    pub(crate) fn bind<'a, 'py>(&'a self, py: Python<'py>) -> Borrowed<'a, 'py, PyAny> {
        // SAFETY: the handle holds (or, lent, borrows) a live reference for as long as `'a`.
        unsafe { Borrowed::from_ptr(py, self.0.as_ptr()) }
    }
}

/// A [`PyHandle`] that borrows its object (see [`PyHandle::lend`]): never released.
pub(crate) struct Lent<'a>(ManuallyDrop<PyHandle>, PhantomData<&'a PyAny>);

impl std::ops::Deref for Lent<'_> {
    type Target = PyHandle;

    fn deref(&self) -> &PyHandle {
        &self.0
    }
}

impl Drop for PyHandle {
    fn drop(&mut self) {
        // Dropping a handle we still own (an error path): queue it like any release, so the
        // decref happens attached and outside engine operations.
        // SAFETY: we own one reference; `py_decref` releases it once, later, on a thread that
        // pins our collector, so an attached one.
        unsafe { reclaim::queue_release(self.0.cast(), py_decref) };
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
        // SAFETY: the caller hands over one reference; `py_decref` releases it once, later,
        // on a thread that pins our collector (attached: only attached threads do).
        unsafe { reclaim::queue_release(ptr, py_decref) };
    }

    unsafe fn release_unpinned(ptr: NonNull<()>) {
        // SAFETY: the caller hands over one reference at a safe point (unpinned, on a thread
        // that pins our collector, so attached): decref now.
        unsafe { py_decref(ptr) };
    }
}

/// Releases one reference to a Python object.
///
/// # Safety
/// `ptr` is a `PyObject` whose reference the caller owns, and the thread is attached.
unsafe fn py_decref(ptr: NonNull<()>) {
    // SAFETY: forwarded from the caller.
    unsafe { ffi::Py_DecRef(ptr.as_ptr().cast()) };
}

/// Runs the decrefs queued on this thread. Runs `__del__`s and weakref callbacks, so call it
/// only with no guard held and no engine operation under way.
pub(crate) fn drain_pending(_py: Python<'_>) {
    reclaim::drain_queue();
}
