//! `lockless.AtomicSet`'s compiled base (`AtomicSetBase`): membership, the element operations
//! and the atomic ones, each one call of the engine's set (`engine::set`, the dict's table with
//! keys only). `python/lockless/_set.py` adds the set algebra, comparisons, repr and pickling in
//! Python, from these operations.
//!
//! Elements are keys exactly as AtomicDict's are (`key.rs`): hashed once per call, before
//! pinning; compared without running Python code while pinned (an `__eq__` stops the operation
//! unchanged, runs unpinned, and the operation runs again with the answer).


use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyGenericAlias, PySet, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::{Cursor, KeyHash};
use crate::engine::set::{AtomicSet, Present};
use crate::python::gc::{release_dropped_table, traverse_table};
use crate::python::handle::PyHandle;
use crate::python::key::{builtin_eq_for, builtin_key_hash, eq_for, key_hash, keyed};
use crate::python::thread_handles::{map_for_new, new_handle};

type Set = AtomicSet<PyHandle>;

/// The compiled base of `lockless.AtomicSet`; use `lockless.AtomicSet`.
#[pyclass(name = "AtomicSetBase", module = "lockless", subclass, frozen, weakref)]
pub(crate) struct PyAtomicSet {
    /// The engine set, shared with the handles made by `thread_handle`, in an allocation of
    /// its own: that keeps its root pointer, which every operation reads, off the cache line of
    /// this object's reference count, which other threads' uses of the object write on
    /// free-threaded CPython.
    set: std::mem::ManuallyDrop<Arc<Set>>,
    /// For a handle: the set it was made from, which alone reports the elements to the GC
    /// (`thread_handles.rs`).
    origin: Option<Py<PyAtomicSet>>,
}

/// Runs `op` on `key`; if it raises TypeError and `key` is a `set` or an AtomicSet (both
/// unhashable), runs it again on `frozenset(key)`, as `set.__contains__`, `remove` and `discard`
/// do for a set.
fn set_as_frozenset<'py, R>(
    key: &Bound<'py, PyAny>,
    op: impl Fn(&Bound<'py, PyAny>) -> PyResult<R>,
) -> PyResult<R> {
    match op(key) {
        Err(err)
            if err.is_instance_of::<PyTypeError>(key.py())
                && (key.is_instance_of::<PySet>() || key.is_instance_of::<PyAtomicSet>()) =>
        {
            let frozen = key.py().get_type::<PyFrozenSet>().call1((key,))?;
            op(&frozen)
        }
        done => done,
    }
}

impl PyAtomicSet {
    fn hash(&self, key: &Bound<'_, PyAny>) -> PyResult<KeyHash> {
        key_hash(&self.set, key)
    }

    fn has(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.hash(key)?;
        keyed(&self.set, key, hash, |k| self.set.contains(hash, eq_for(key, k)))
    }

    fn insert(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.insert_hashed(key, self.hash(key)?)
    }

    fn insert_hashed(&self, key: &Bound<'_, PyAny>, hash: KeyHash) -> PyResult<bool> {
        keyed(&self.set, key, hash, |k| self.set.add(hash, &PyHandle::lend(key), eq_for(key, k)))
    }

    /// The table, for the `in` slot (`key::builtin_contains`).
    pub(crate) fn map(&self) -> &Set {
        &self.set
    }

    /// `add(key)` for an exact `str` or `int` key that meets no stored key of another type, as
    /// `key::builtin_contains` decides membership: `None` leaves the set unchanged
    /// for the general path (which also raises the MemoryError of a growth that failed here).
    #[inline]
    fn builtin_add(&self, key: &Bound<'_, PyAny>) -> Option<bool> {
        let hash = builtin_key_hash(&self.set, key)?;
        self.set.add(hash, &PyHandle::lend(key), builtin_eq_for(key)).ok()
    }

    fn delete(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.hash(key)?;
        keyed(&self.set, key, hash, |k| self.set.discard(hash, &PyHandle::lend(key), eq_for(key, k)))
    }
}

#[pymethods]
impl PyAtomicSet {
    /// Creates an empty set; `lockless.AtomicSet.__init__` fills it from the argument.
    /// (`thread_handle` calls it with a private marker and the set to share.)
    #[new]
    #[pyo3(signature = (*args, **_kwargs))]
    fn new(args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let (set, origin) = map_for_new::<Self, _>(args, |s| (&s.set, &s.origin), Set::new)?;
        Ok(PyAtomicSet { set: std::mem::ManuallyDrop::new(set), origin })
    }

    /// Another object of this type for the same elements, for one thread to use in place of
    /// the shared set: see the README ("Sharing between threads").
    fn thread_handle<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        new_handle(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.set.len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        set_as_frozenset(key, |k| self.has(k))
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PySetIterator {
        PySetIterator::new(slf)
    }

    #[pyo3(signature = (key, /))]
    fn add(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.insert(key).map(drop)
    }

    #[pyo3(signature = (key, /))]
    fn discard(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        set_as_frozenset(key, |k| self.delete(k)).map(drop)
    }

    #[pyo3(signature = (key, /))]
    fn remove(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if set_as_frozenset(key, |k| self.delete(k))? {
            Ok(())
        } else {
            Err(PyKeyError::new_err((key.clone().unbind(),)))
        }
    }

    #[pyo3(signature = (key, /))]
    fn add_if_absent(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.insert(key)
    }

    #[pyo3(signature = (key, /))]
    fn discard_if_present(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        set_as_frozenset(key, |k| self.delete(k))
    }

    fn pop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.set.pop() {
            Some(key) => Ok(key.into_bound(py)),
            None => Err(PyKeyError::new_err("pop from an empty set")),
        }
    }

    fn clear(&self) {
        self.set.clear();
    }

    /// `key in self` without `set.__contains__`'s retry of a `set` key as a frozenset (as the
    /// builtin's algebra looks elements up).
    #[pyo3(signature = (key, /))]
    fn _has(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.has(key)
    }

    /// Adds `key` if absent, else removes it, in one atomic step; returns whether it is present
    /// afterwards.
    #[pyo3(signature = (key, /))]
    fn _toggle(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.hash(key)?;
        keyed(&self.set, key, hash, |k| self.set.toggle(hash, &PyHandle::lend(key), eq_for(key, k)))
    }

    /// Adds every element of `iterable`, each atomically and in its order (an error stops
    /// there, keeping what was added). Elements of an AtomicSet are not hashed again.
    #[pyo3(signature = (iterable, /))]
    fn _add_all(&self, py: Python<'_>, iterable: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(source) = iterable.cast::<PyAtomicSet>() {
            let mut iter = source.get().set.iter();
            let mut n = 0u32;
            while let Some((hash, key, Present)) = iter.next_with_hash() {
                self.insert_hashed(&key.into_bound(py), hash)?;
                n = n.wrapping_add(1);
                if n % 4096 == 0 {
                    py.check_signals()?; // Ctrl-C during a huge copy
                }
            }
            return Ok(());
        }
        for key in iterable.try_iter()? {
            self.insert(&key?)?;
        }
        Ok(())
    }

    /// Removes every element of `iterable` that is present, each atomically and in its order
    /// (an error stops there, keeping what was removed).
    #[pyo3(signature = (iterable, /))]
    fn _discard_all(&self, iterable: &Bound<'_, PyAny>) -> PyResult<()> {
        for key in iterable.try_iter()? {
            self.delete(&key?)?;
        }
        Ok(())
    }

    /// `AtomicSetBase[T]`, so the Python subclass can be generic.
    #[classmethod]
    fn __class_getitem__<'py>(cls: &Bound<'py, PyType>, item: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyGenericAlias>> {
        PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// Visits every element the set owns (a handle: the set it was made from). Never pins,
    /// allocates or touches refcounts.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(origin) = &self.origin {
            return visit.call(origin);
        }
        traverse_table(&self.set, &visit)
    }

    /// Breaks cycles by removing every element. Idempotent. A handle clears nothing: any cycle
    /// through it passes through its origin (its one reference), whose clearing breaks it.
    fn __clear__(&self) {
        if self.origin.is_none() {
            self.set.clear();
        }
    }
}

impl Drop for PyAtomicSet {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the field is never used again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.set) };
        release_dropped_table();
    }
}

/// A weakly consistent iterator over an AtomicSet, in insertion order: never raises because of
/// concurrent changes, never yields an element twice, yields each element present throughout
/// exactly once; elements added after it began may be missed.
///
/// No lock: it is an engine [`Cursor`] (each step claims its entry with a CAS), so one iterator
/// may be shared between threads and each element goes to one of them. It holds its set, as
/// `set`'s iterator does, and reports it to the collector; it has nothing of its own to clear
/// (a cycle through it passes through the set, whose clearing breaks it).
#[pyclass(name = "AtomicSetIterator", module = "lockless", frozen)]
pub(crate) struct PySetIterator {
    cursor: Cursor,
    set: Py<PyAtomicSet>,
}

impl PySetIterator {
    fn new(set: &Bound<'_, PyAtomicSet>) -> Self {
        PySetIterator { cursor: set.get().set.cursor(), set: set.clone().unbind() }
    }
}

impl crate::python::slots::FastNext for PySetIterator {
    fn next_item<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.set.get().set.cursor_next_key(&self.cursor).map(|key| key.into_bound(py)))
    }
}

#[pymethods]
impl PySetIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        crate::python::slots::FastNext::next_item(self, py)
    }

    /// As set's iterators: `iter(list_of_the_elements_not_yet_yielded)`, without advancing.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::python::dict_iter::Reduced<'py>> {
        let set = &self.set.get().set;
        crate::python::dict_iter::reduce_rest(py, &self.cursor, |fork| {
            Ok(set.cursor_next_key(fork).map(|key| key.into_bound(py)))
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.set)
    }
}

/// `add(key)` without PyO3's argument parser (see `fastcall.rs`): the set's hottest write. An
/// exact str or int key takes [`PyAtomicSet::builtin_add`] in `direct`, as the dict's slots do.
pub(crate) struct FastSetAdd;

impl crate::python::fastcall::FastMethod for FastSetAdd {
    const NAME: &'static std::ffi::CStr = c"add";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        let [key] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicSetBase.
        let set = unsafe { slf.cast_unchecked::<PyAtomicSet>() };
        // The general path: `direct` has tried the builtin one and declined.
        Some(set.get().insert(key).map(|_| slf.py().None().into_bound(slf.py())))
    }

    /// An exact str or int element decided without Python code (as `x in s`'s slot).
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        let [key] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicSetBase.
        let set = unsafe { slf.cast_unchecked::<PyAtomicSet>() };
        set.get().builtin_add(key)?;
        Some(crate::python::fastcall::none())
    }
}
