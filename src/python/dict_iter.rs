//! `AtomicDict`'s iterator (`iter(d)`, and the views' iterators): an engine [`Cursor`] and the
//! dict it walks.
//!
//! * **No lock.** One iterator may be shared between threads: the cursor is lock-free (each
//!   step claims its entry with a CAS), so each item goes to one of them and nobody waits.
//! * **GC.** The iterator holds the dict object (or handle), as dict's iterators hold their
//!   dict, and reports it to the collector, so `obj.it = iter(AtomicDict({obj: 1}))` is a
//!   cycle the collector sees through and frees; `__clear__` drops that reference.
//! * **Retention.** The cursor holds no table, only one small record per migration since it
//!   began (none past a `clear`): see `engine/dict/trail.rs`.
//! * **Pickle and copy**, as dict's iterators: `__reduce__` gives `iter(list_of_the_rest)`,
//!   computed on a fork of the cursor, so the iterator itself does not advance ([`reduce_rest`],
//!   which the set's and the counter dict's iterators use too).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::Cursor;
use crate::python::dict::{Map, PyAtomicDict};
use crate::python::slots::FastNext;

/// What an iterator yields of each entry (the dict's and the counter dict's iterators).
#[derive(Clone, Copy)]
pub(crate) enum IterKind {
    Keys,
    Values,
    Items,
}

/// A weakly consistent iterator over an AtomicDict: never raises because of concurrent
/// changes, yields each key present throughout exactly once and no key twice, in insertion
/// order; keys inserted after it began may be missed.
#[pyclass(name = "AtomicDictIterator", module = "lockless", frozen)]
pub(crate) struct PyDictIterator {
    /// The dict (or handle) iterated: one strong reference, or null once the collector cleared
    /// the iterator (which then yields nothing).
    dict: AtomicPtr<ffi::PyObject>,
    cursor: Cursor,
    kind: IterKind,
}

impl PyDictIterator {
    pub(crate) fn new(dict: &Bound<'_, PyAtomicDict>, kind: IterKind) -> Self {
        let cursor = dict.get().map().cursor();
        PyDictIterator { dict: AtomicPtr::new(dict.clone().into_ptr()), cursor, kind }
    }

    /// The dict, borrowed from this iterator's reference; `None` once cleared.
    fn dict<'a, 'py>(&'a self, py: Python<'py>) -> Option<Borrowed<'a, 'py, PyAtomicDict>> {
        // Acquire: pairs with the AcqRel swap in `__clear__` (only a null is ever stored).
        let ptr = self.dict.load(Ordering::Acquire);
        // SAFETY: a non-null pointer is the iterator's own strong reference. Only `__clear__`
        // gives it up, and the collector clears only unreachable objects, so no caller of ours
        // (who holds a reference to this iterator) can be using it meanwhile.
        let dict = unsafe { Borrowed::from_ptr_or_opt(py, ptr) }?;
        // SAFETY: the pointer was taken from a `Bound<PyAtomicDict>` in `new`.
        Some(unsafe { dict.cast_unchecked::<PyAtomicDict>() })
    }

    /// The next item of `cursor` (this iterator's, or a fork of it) over `map`, as this
    /// iterator yields it; `None` at the end. Keys or values alone take no reference to the
    /// other half.
    fn step<'py>(&self, py: Python<'py>, map: &Map, cursor: &Cursor) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(match self.kind {
            IterKind::Keys => map.cursor_next_key(cursor).map(|k| k.into_bound(py)),
            IterKind::Values => map.cursor_next_value(cursor).map(|v| v.into_bound(py)),
            IterKind::Items => match map.cursor_next_item(cursor) {
                Some((k, v)) => Some(PyTuple::new(py, [k.into_bound(py), v.into_bound(py)])?.into_any()),
                None => None,
            },
        })
    }
}

#[pymethods]
impl PyDictIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.next_item(py)
    }

    /// As dict's iterators: `iter(list_of_the_items_not_yet_yielded)`, so that pickling or
    /// copying an iterator does not advance it.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduced<'py>> {
        let dict = self.dict(py);
        reduce_rest(py, &self.cursor, |fork| match &dict {
            Some(dict) => self.step(py, dict.get().map(), fork),
            None => Ok(None),
        })
    }

    /// Visits the dict this iterator holds. Never pins, allocates or touches refcounts.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Relaxed: the collector has stopped the world (or holds the GIL).
        let Some(ptr) = NonNull::new(self.dict.load(Ordering::Relaxed)) else { return Ok(()) };
        // SAFETY: the collector calls tp_traverse attached to the interpreter, so a token is
        // valid for this call and does not escape it.
        let py = unsafe { Python::assume_attached() };
        // SAFETY: `ptr` is our strong reference; ManuallyDrop lends it to `visit` without a
        // decref.
        let obj = std::mem::ManuallyDrop::new(unsafe { Bound::<PyAny>::from_owned_ptr(py, ptr.as_ptr()) }.unbind());
        visit.call(&*obj)
    }

    /// Drops the reference to the dict (the iterator then yields nothing). Idempotent.
    fn __clear__(&self, py: Python<'_>) {
        // AcqRel: Acquire pairs with this same swap elsewhere (one of them gets the reference);
        // Release pairs with the Acquire load in `dict()`.
        let ptr = self.dict.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !ptr.is_null() {
            // SAFETY: the swap handed our strong reference to us alone.
            drop(unsafe { Bound::<PyAny>::from_owned_ptr(py, ptr) });
        }
    }
}

/// What an iterator's `__reduce__` returns: `(iter, (list_of_the_rest,))`.
pub(crate) type Reduced<'py> = (Bound<'py, PyAny>, (Bound<'py, PyList>,));

/// `__reduce__` of an iterator over `cursor` (the dict's, the set's, the counter dict's), as
/// dict's iterators reduce: `iter(list_of_the_items_not_yet_yielded)`, the list made by `step`
/// on a fork of the cursor, so that pickling or copying an iterator does not advance it.
pub(crate) fn reduce_rest<'py>(
    py: Python<'py>,
    cursor: &Cursor,
    mut step: impl FnMut(&Cursor) -> PyResult<Option<Bound<'py, PyAny>>>,
) -> PyResult<Reduced<'py>> {
    let rest = PyList::empty(py);
    let fork = cursor.fork();
    let mut n = 0u32;
    while let Some(item) = step(&fork)? {
        rest.append(item)?;
        n = n.wrapping_add(1);
        if n % 4096 == 0 {
            py.check_signals()?; // Ctrl-C while pickling a huge iterator
        }
    }
    let iter = py.import(pyo3::intern!(py, "builtins"))?.getattr(pyo3::intern!(py, "iter"))?;
    Ok((iter, (rest,)))
}

/// The dict's views iterate through here (`views.rs`).
impl crate::python::views::ViewedMap for PyAtomicDict {
    fn view_classes() -> &'static PyOnceLock<[Py<PyType>; 3]> {
        static CLASSES: PyOnceLock<[Py<PyType>; 3]> = PyOnceLock::new();
        &CLASSES
    }

    fn view_iterator<'py>(map: &Bound<'py, Self>, kind: IterKind) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(map.py(), PyDictIterator::new(map, kind))?.into_any())
    }
}

impl FastNext for PyDictIterator {
    fn next_item<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(dict) = self.dict(py) else { return Ok(None) };
        self.step(py, dict.get().map(), &self.cursor)
    }
}

impl Drop for PyDictIterator {
    fn drop(&mut self) {
        // SAFETY: an iterator is dropped attached: by its `tp_dealloc`, or by PyO3 inside the
        // `__iter__` that made it, when making its object failed. (`Python::attach`, which
        // checks, cost a tenth of a small dict's `for` loop.)
        let py = unsafe { Python::assume_attached() };
        // Give the dict back now.
        self.__clear__(py);
    }
}
