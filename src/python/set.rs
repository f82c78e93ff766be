//! `lockless.AtomicSet`'s compiled base (`AtomicSetBase`): membership, the element operations
//! and the atomic ones, each one call of the engine's set (`engine::set`, the dict's table with
//! keys only). `python/lockless/_set.py` adds the set algebra, comparisons, repr and pickling in
//! Python, from these operations.
//!
//! Elements are keys exactly as AtomicDict's are (`key.rs`): hashed once per call, before
//! pinning; compared without running Python code while pinned (an `__eq__` stops the operation
//! unchanged, runs unpinned, and the operation runs again with the answer).

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyGenericAlias, PySet, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::{Iter, KeyHash};
use crate::engine::reclaim;
use crate::engine::set::{AtomicSet, Present};
use crate::python::gc::{release_dropped_table, traverse_table};
use crate::python::handle::PyHandle;
use crate::python::key::{eq_for, key_hash, keyed};

type Set = AtomicSet<PyHandle>;

/// The compiled base of `lockless.AtomicSet`; use `lockless.AtomicSet`.
#[pyclass(name = "AtomicSetBase", module = "lockless", subclass, frozen, weakref)]
pub(crate) struct PyAtomicSet {
    /// The engine set, in an allocation of its own: that keeps its root pointer, which every
    /// operation reads, off the cache line of this object's reference count, which other
    /// threads' uses of the object write on free-threaded CPython.
    set: std::mem::ManuallyDrop<Box<Set>>,
}

/// Runs `op` on `key`; if it raises TypeError and `key` is a `set` (unhashable), runs it again
/// on `frozenset(key)`, as `set.__contains__`, `remove` and `discard` do.
fn set_as_frozenset<'py, R>(
    key: &Bound<'py, PyAny>,
    op: impl Fn(&Bound<'py, PyAny>) -> PyResult<R>,
) -> PyResult<R> {
    match op(key) {
        Err(err) if err.is_instance_of::<PyTypeError>(key.py()) && key.is_instance_of::<PySet>() => {
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

    fn delete(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.hash(key)?;
        keyed(&self.set, key, hash, |k| self.set.discard(hash, &PyHandle::lend(key), eq_for(key, k)))
    }
}

#[pymethods]
impl PyAtomicSet {
    /// Creates an empty set; `lockless.AtomicSet.__init__` fills it.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        PyAtomicSet { set: std::mem::ManuallyDrop::new(Box::new(Set::new())) }
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

    /// Visits every element the set owns. Never pins, allocates or touches refcounts.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        traverse_table(&self.set, &visit)
    }

    /// Breaks cycles by removing every element. Idempotent.
    fn __clear__(&self) {
        self.set.clear();
    }
}

impl Drop for PyAtomicSet {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the field is never used again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.set) };
        release_dropped_table();
    }
}

/// The state word of a [`PySetIterator`] while one thread runs a step.
fn busy() -> *mut Iter<PyHandle, Present> {
    ptr::NonNull::dangling().as_ptr()
}

/// A weakly consistent iterator over an AtomicSet, in insertion order: never raises because of
/// concurrent changes, and never yields an element twice.
///
/// No lock: the engine iterator is owned by the state word, and a step takes it out with a CAS
/// (to a busy marker) and puts it back. Two threads stepping one shared iterator at once is a
/// usage error, reported as generators report it ("already executing").
#[pyclass(name = "AtomicSetIterator", module = "lockless", frozen)]
pub(crate) struct PySetIterator {
    /// A `Box<Iter>` as a raw pointer; null once exhausted (or cleared by the collector); the
    /// busy marker during a step.
    state: AtomicPtr<Iter<PyHandle, Present>>,
    /// The set, held (and reported to the collector) as `set`'s iterator holds its set, so a
    /// cycle through the iterator is visible to the collector.
    set: Py<PyAtomicSet>,
}

impl PySetIterator {
    fn new(set: &Bound<'_, PyAtomicSet>) -> Self {
        let iter = Box::new(set.get().set.iter());
        PySetIterator { state: AtomicPtr::new(Box::into_raw(iter)), set: set.clone().unbind() }
    }

    /// Takes the engine iterator out of the state word, to drop it (not during a step).
    fn take(&self) -> Option<Box<Iter<PyHandle, Present>>> {
        // Acquire: pairs with the Release store that ended the last step, so its writes to the
        // iterator are visible before we drop it.
        let p = self.state.load(Ordering::Acquire);
        if p.is_null() || p == busy() {
            return None;
        }
        // AcqRel on success: Acquire as above; Release publishes the null. Relaxed on failure:
        // a step took it meanwhile and will put it back; we leave it.
        self.state.compare_exchange(p, ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed).ok()?;
        // SAFETY: `p` came from `Box::into_raw` and our CAS took sole ownership of it.
        Some(unsafe { Box::from_raw(p) })
    }
}

#[pymethods]
impl PySetIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Acquire: pairs with the Release store that ended the last step (perhaps on another
        // thread), so the iterator's position is visible.
        let p = self.state.load(Ordering::Acquire);
        if p.is_null() {
            return Ok(None);
        }
        // AcqRel on success: Acquire as above; Release publishes the busy marker. Relaxed on
        // failure: we only report.
        if p == busy() || self.state.compare_exchange(p, busy(), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return Err(PyValueError::new_err("AtomicSet iterator already executing"));
        }
        // SAFETY: `p` came from `Box::into_raw`, and the CAS gave this step sole use of it
        // until we store it back.
        let next = unsafe { (*p).next() };
        match next {
            Some((key, Present)) => {
                // Release: publishes the advanced iterator to the next step's Acquire.
                self.state.store(p, Ordering::Release);
                Ok(Some(key.into_bound(py)))
            }
            None => {
                // Release: as above. Exhausted: free the iterator (and its hold on a table) now.
                self.state.store(ptr::null_mut(), Ordering::Release);
                // SAFETY: as above; nobody else can reach `p` now.
                drop(unsafe { Box::from_raw(p) });
                Ok(None)
            }
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.set)
    }

    /// Drops the engine iterator (its hold on a table); the set is released with the object.
    fn __clear__(&self) {
        drop(self.take());
    }
}

impl Drop for PySetIterator {
    fn drop(&mut self) {
        drop(self.take());
        reclaim::drain_queue();
    }
}

/// `add(key)` without PyO3's argument parser (see `fastcall.rs`): the set's hottest write.
pub(crate) struct FastSetAdd;

impl crate::python::fastcall::FastMethod for FastSetAdd {
    const NAME: &'static std::ffi::CStr = c"add";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        let [key] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicSetBase.
        let set = unsafe { slf.cast_unchecked::<PyAtomicSet>() };
        Some(set.get().insert(key).map(|_| slf.py().None().into_bound(slf.py())))
    }
}
