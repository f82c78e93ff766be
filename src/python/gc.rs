//! What every binding type over the table does for CPython's garbage collector and at
//! deallocation: report the references the table owns, and release them once it is dropped.

use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::AtomicDict;
use crate::engine::reclaim::{self, Handle};
use crate::python::handle::PyHandle;

/// Visits every Python object `map` owns (keys, and values that are objects), for a type's
/// `__traverse__`. Never pins, allocates or touches refcounts.
pub(crate) fn traverse_table<V: Handle>(
    map: &AtomicDict<PyHandle, V>,
    visit: &PyVisit<'_>,
) -> Result<(), PyTraverseError> {
    let mut result = Ok(());
    // SAFETY: the collector calls tp_traverse attached to the interpreter, so a token is valid
    // for this call and does not escape it.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the collector runs with the world stopped (free-threaded) or holding the GIL, and
    // no engine operation runs Python code with a write half-done, so no thread is modifying
    // the map now.
    unsafe {
        map.for_each_owned(|p| {
            if result.is_ok() {
                // SAFETY: `p` is a reference the map owns; ManuallyDrop lends it to `visit`
                // without a decref.
                let obj = std::mem::ManuallyDrop::new(Bound::<PyAny>::from_owned_ptr(py, p.as_ptr().cast()).unbind());
                result = visit.call(&*obj);
            }
        });
    }
    result
}

/// After a table was dropped: its references were queued, and deallocation runs attached, so
/// release them now; generations retired earlier wait for the epoch, so give it a few turns.
pub(crate) fn release_dropped_table() {
    Python::attach(|_py| {
        for _ in 0..4 {
            reclaim::pinned(reclaim::flush);
        }
    });
}
