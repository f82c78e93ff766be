//! `lockless.AtomicRef`: an atomic reference to any Python object (engine: `engine::atomic_ref`).
//!
//! Every engine operation pins for itself, so an object swapped out by another thread is
//! released (decref'd) only after this read has taken its own reference, and the queued
//! releases are drained after unpinning. Python callbacks (`update_and_get`'s `fn`) run
//! unpinned. A `desired` handed back by a failed compare-and-set is turned back into a Python
//! object at once, so its reference is dropped here rather than queued.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use pyo3::prelude::*;
use pyo3::types::{PyGenericAlias, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::atomic_ref::AtomicRef;
use crate::python::handle::{drain_pending, PyHandle};

/// An atomic reference to a Python object.
#[pyclass(name = "AtomicRef", module = "lockless", frozen, weakref)]
pub(crate) struct PyAtomicRef {
    inner: AtomicRef<PyHandle>,
}

/// The address of `obj`, as the engine compares identities.
fn identity(obj: &Bound<'_, PyAny>) -> NonNull<()> {
    // SAFETY: a Bound always holds a non-null object pointer.
    unsafe { NonNull::new_unchecked(obj.as_ptr().cast()) }
}

impl PyAtomicRef {
    /// The loop behind `update_and_get`/`get_and_update`: read, call `f` unpinned, CAS by
    /// identity; retry if another thread got in between. Returns `(old, new)`.
    fn update<'py>(
        &self,
        py: Python<'py>,
        f: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let mut current = self.inner.get().into_bound(py);
        loop {
            let new = f.call1((&current,))?;
            // `current` stays alive (we hold it), so its address cannot be reused: no ABA.
            match self.inner.compare_exchange(identity(&current), PyHandle::new(&new)) {
                Ok(old) => return Ok((old.into_bound(py), new)),
                Err((found, desired)) => {
                    drop(desired.into_bound(py));
                    current = found.into_bound(py);
                }
            }
        }
    }
}

#[pymethods]
impl PyAtomicRef {
    #[new]
    #[pyo3(signature = (value = None))]
    fn new(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> Self {
        let value = value.cloned().unwrap_or_else(|| py.None().into_bound(py));
        Self {
            inner: AtomicRef::new(PyHandle::new(&value)),
        }
    }

    /// The current object. Atomic, wait-free.
    fn get<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.inner.get().into_bound(py)
    }

    /// Stores `value`. Atomic, wait-free; the old object is released once no reader can hold it.
    fn set(&self, value: &Bound<'_, PyAny>) {
        self.inner.set(PyHandle::new(value));
    }

    /// Stores `value` and returns the previous object. Atomic, wait-free.
    fn get_and_set<'py>(&self, py: Python<'py>, value: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        self.inner.swap(PyHandle::new(value)).into_bound(py)
    }

    /// Stores `desired` if the current object *is* `expected`; returns whether it did.
    /// Atomic, wait-free.
    fn compare_and_set(
        &self,
        py: Python<'_>,
        expected: &Bound<'_, PyAny>,
        desired: &Bound<'_, PyAny>,
    ) -> bool {
        match self.inner.compare_and_set(identity(expected), PyHandle::new(desired)) {
            Ok(()) => true,
            Err(desired) => {
                drop(desired.into_bound(py));
                false
            }
        }
    }

    /// Stores `desired` if the current object *is* `expected`; returns the object found.
    /// Atomic, wait-free.
    fn compare_and_exchange<'py>(
        &self,
        py: Python<'py>,
        expected: &Bound<'py, PyAny>,
        desired: &Bound<'py, PyAny>,
    ) -> Bound<'py, PyAny> {
        match self.inner.compare_exchange(identity(expected), PyHandle::new(desired)) {
            Ok(old) => old.into_bound(py),
            Err((found, desired)) => {
                drop(desired.into_bound(py));
                found.into_bound(py)
            }
        }
    }

    /// Replaces the object `v` with `fn(v)`; returns the new object. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure).
    fn update_and_get<'py>(
        &self,
        py: Python<'py>,
        r#fn: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.update(py, r#fn)?.1)
    }

    /// Replaces the object `v` with `fn(v)`; returns the previous object. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure).
    fn get_and_update<'py>(
        &self,
        py: Python<'py>,
        r#fn: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.update(py, r#fn)?.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = self.get(py);
        Ok(format!("AtomicRef({})", value.repr()?))
    }

    /// `(AtomicRef, (), value)`: the value is state, set by `__setstate__` once the ref exists,
    /// so a ref in a cycle with its value (`r.set(r)`) pickles and deep-copies, as a list does.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let value = slf.get().get(py);
        PyTuple::new(py, [slf.get_type().into_any(), PyTuple::empty(py).into_any(), value])
    }

    /// Restores the value `__reduce__` saved (pickle and copy call it).
    fn __setstate__(&self, value: &Bound<'_, PyAny>) {
        self.set(value);
    }

    /// `AtomicRef[T]`, for type annotations.
    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyGenericAlias>> {
        PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// Visits the one object this ref owns. Never pins, allocates or touches refcounts.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let ptr = self.inner.peek().as_ptr().cast::<pyo3::ffi::PyObject>();
        // SAFETY: the collector calls tp_traverse on a thread attached to the interpreter, so
        // a token is valid for this call, and it does not escape it.
        let py = unsafe { Python::assume_attached() };
        // SAFETY: `ptr` is the slot's own strong reference, alive while the slot holds it
        // (the collector has stopped the world, or holds the GIL, so nobody swaps it now).
        // ManuallyDrop keeps the borrowed reference from being decref'd.
        let obj = ManuallyDrop::new(unsafe { Bound::from_owned_ptr(py, ptr) }.unbind());
        visit.call(&*obj)
    }

    /// Breaks a cycle by pointing the ref at None. Idempotent.
    fn __clear__(&self, py: Python<'_>) {
        let none = PyHandle::new(&py.None().into_bound(py));
        // SAFETY: the collector clears only objects it found unreachable, so no thread can be
        // calling a method of this ref, and so none can be between loading the slot and
        // taking its reference; releasing the old object at once is therefore safe.
        let old = unsafe { self.inner.replace_exclusive(none) };
        // Decref now (this is where tp_clear is expected to drop references).
        drop(old.into_bound(py));
        drain_pending(py);
    }
}

impl Drop for PyAtomicRef {
    fn drop(&mut self) {
        // Deallocation runs attached; release the held object now rather than leaving it on
        // this thread's pending queue until the next lockless call.
        Python::attach(|py| {
            let none = PyHandle::new(&py.None().into_bound(py));
            drop(self.inner.replace_mut(none).into_bound(py));
        });
    }
}
