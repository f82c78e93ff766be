//! `lockless.AtomicCounterDict`'s compiled base (`AtomicCounterDictBase`): the mapping protocol
//! and the atomic count operations, each one call of the engine's counter dict
//! (`engine::counter_dict`, the dict's table with `i64` counts packed into its value words).
//! `python/lockless/_counter.py` adds what `collections.Counter` has beyond them (most_common,
//! the multiset operators, comparisons, repr, pickling) in Python, from these operations.
//!
//! Keys are keys exactly as AtomicDict's are (`key.rs`): hashed once per call, before pinning;
//! compared without running Python code while pinned. Counts cross as Python ints: anything else
//! is a TypeError, anything outside `i64` an OverflowError, both raised before the table is
//! touched, and a sum outside `i64` leaves the count unchanged.

use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyGenericAlias, PyInt, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::counter_dict::{AtomicCounterDict, Count, CountError};
use crate::engine::dict::{Cursor, KeyHash};
use crate::python::counter_update;
use crate::python::dict_iter::IterKind;
use crate::python::gc::{release_dropped_table, traverse_table};
use crate::python::handle::PyHandle;
use crate::python::key::{builtin_eq_for, builtin_key_hash, eq_for, key_hash, keyed, Fail};
use crate::python::thread_handles::{map_for_new, new_handle};

pub(crate) type Counts = AtomicCounterDict<PyHandle>;

/// The compiled base of `lockless.AtomicCounterDict`; use `lockless.AtomicCounterDict`.
#[pyclass(name = "AtomicCounterDictBase", module = "lockless", subclass, frozen, weakref, mapping)]
pub(crate) struct PyAtomicCounterDict {
    /// The engine map, shared with the handles made by `thread_handle`, in an allocation of
    /// its own: that keeps its root pointer, which every operation reads, off the cache line of
    /// this object's reference count, which other threads' uses of the object write on
    /// free-threaded CPython.
    map: std::mem::ManuallyDrop<Arc<Counts>>,
    /// For a handle: the counter dict it was made from, which alone reports the shared contents
    /// to the GC (as for the dict's handles).
    origin: Option<Py<PyAtomicCounterDict>>,
}

/// A count given by the caller: an int (bool included, as it is an int) within `i64`.
fn count_arg(n: &Bound<'_, PyAny>) -> PyResult<i64> {
    if !n.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "AtomicCounterDict counts must be int, not '{}'",
            n.get_type().name()?
        )));
    }
    n.extract::<i64>()
        .map_err(|_| PyOverflowError::new_err("AtomicCounterDict counts must fit a signed 64-bit integer"))
}

/// Default of `add`'s `n` and `setdefault`'s `default`: a small int, which CPython caches (and
/// makes immortal), so this allocates nothing.
fn small_int(n: i64) -> Py<PyAny> {
    // SAFETY: PyO3 evaluates argument defaults inside the method's trampoline, attached to the
    // interpreter, so the token is valid for this call.
    let py = unsafe { Python::assume_attached() };
    n.into_pyobject(py).expect("small ints convert").into_any().unbind()
}

pub(crate) fn overflow() -> PyErr {
    PyOverflowError::new_err("AtomicCounterDict count would leave the signed 64-bit range")
}

/// The binding's view of a counting operation's failure.
fn count_fail(err: CountError<Fail>) -> Fail {
    match err {
        CountError::Key(fail) => fail,
        CountError::Overflow => Fail::Py(overflow()),
    }
}

/// Adds `n` to `key`'s count in `map` (inserting it at 0 first): the counts before and after.
/// An exact str or int key that meets no stored key of another type is decided without Python
/// code; any other goes the general way.
pub(crate) fn add_to(map: &Counts, key: &Bound<'_, PyAny>, n: i64) -> PyResult<(i64, i64)> {
    if let Some(hash) = builtin_key_hash(map, key) {
        // `builtin_add`'s call, with an `eq` closure of its own type: `c.add(k)`'s fastcall
        // path then stays the only caller of its instance of `add_count`, which LLVM inlines
        // there only while that holds (a shared instance cost each `c.add(k)` 40 instructions).
        let mut eq = builtin_eq_for(key);
        if let Ok(counts) = map.add_count(hash, &PyHandle::lend(key), |k| eq(k), n) {
            return Ok(counts);
        }
    }
    add_hashed(map, key, key_hash(map, key)?, n)
}

/// [`add_to`]'s general path, for a key whose hash the caller has (`update` merging a private
/// table's sums: its stored hashes, so that no key is hashed twice).
pub(crate) fn add_hashed(map: &Counts, key: &Bound<'_, PyAny>, hash: KeyHash, n: i64) -> PyResult<(i64, i64)> {
    keyed(map, key, hash, |k| map.add_count(hash, &PyHandle::lend(key), eq_for(key, k), n).map_err(count_fail))
}

impl PyAtomicCounterDict {
    fn hash(&self, key: &Bound<'_, PyAny>) -> PyResult<KeyHash> {
        key_hash(&self.map, key)
    }

    fn lookup(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| Ok(self.map.get(hash, eq_for(key, k))?.map(|c| c.get())))
    }

    /// Adds `n` to `key`'s count (inserting it at 0 first); the counts before and after.
    pub(crate) fn add_n(&self, key: &Bound<'_, PyAny>, n: i64) -> PyResult<(i64, i64)> {
        add_hashed(&self.map, key, self.hash(key)?, n)
    }

    /// Subtracts `i64::MIN` from `key`'s count, one compare-and-set: `add_n` cannot, as the
    /// negated count does not fit an `i64`, though the result does for every negative count.
    fn subtract_least(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = self.hash(key)?;
        loop {
            let old = keyed(&self.map, key, hash, |k| self.map.count(hash, eq_for(key, k)))?;
            let new = old.checked_sub(i64::MIN).ok_or_else(overflow)?;
            let set = keyed(&self.map, key, hash, |k| {
                self.map.compare_and_set_count(hash, &PyHandle::lend(key), eq_for(key, k), old, new)
            })?;
            if set {
                return Ok(());
            }
        }
    }

    /// `self[key]` (0 if missing) for an exact str or int key that meets no stored key of another
    /// type, decided without Python code; `None` for every other call (the general path decides).
    #[inline]
    pub(crate) fn builtin_count(&self, key: &Bound<'_, PyAny>) -> Option<i64> {
        let hash = builtin_key_hash(&self.map, key)?;
        self.map.count(hash, builtin_eq_for(key)).ok()
    }

    /// The table, for the `in` slot (`key::builtin_contains`).
    pub(crate) fn map(&self) -> &Counts {
        &self.map
    }

    /// [`Self::add_n`] for an exact str or int key that meets no stored key of another type,
    /// decided without Python code; `None` for every other call, and where the sum would
    /// overflow (both change nothing: the general path decides, and raises).
    #[inline]
    pub(crate) fn builtin_add(&self, key: &Bound<'_, PyAny>, n: i64) -> Option<(i64, i64)> {
        let hash = builtin_key_hash(&self.map, key)?;
        self.map.add_count(hash, &PyHandle::lend(key), builtin_eq_for(key), n).ok()
    }

    fn delete(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| {
            Ok(self.map.remove(hash, &PyHandle::lend(key), eq_for(key, k))?.map(|c| c.get()))
        })
    }
}

#[pymethods]
impl PyAtomicCounterDict {
    /// Creates an empty counter dict; `lockless.AtomicCounterDict.__init__` fills it from the
    /// arguments. (`thread_handle` calls it with a private marker and the counter dict to share.)
    #[new]
    #[pyo3(signature = (*args, **_kwargs))]
    fn new(args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let (map, origin) = map_for_new::<Self, _>(args, |c| (&c.map, &c.origin), Counts::new)?;
        Ok(PyAtomicCounterDict { map: std::mem::ManuallyDrop::new(map), origin })
    }

    /// Another object of this type for the same counts, for one thread to use in place of the
    /// shared one: see the README ("Sharing between threads").
    fn thread_handle<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        new_handle(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.lookup(key)?.is_some())
    }

    /// The key's count; 0 for a missing key, which is not inserted (as Counter).
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(self.lookup(key)?.unwrap_or(0))
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, n: &Bound<'_, PyAny>) -> PyResult<()> {
        let n = count_arg(n)?;
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.swap_count(hash, &PyHandle::lend(key), eq_for(key, k), n)).map(drop)
    }

    /// Removes the key if present; a missing key is no error (as Counter).
    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.delete(key).map(drop)
    }

    /// Removes the key if its count is at most 0, in one atomic step (the multiset operators
    /// drop such counts); returns whether it did.
    #[pyo3(signature = (key, /))]
    fn _discard_nonpositive(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.hash(key)?;
        let removed = keyed(&self.map, key, hash, |k| {
            self.map.remove_count_if(hash, &PyHandle::lend(key), eq_for(key, k), |n| n <= 0)
        })?;
        Ok(removed.is_some())
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyCounterIterator {
        PyCounterIterator::new(slf, IterKind::Keys)
    }

    /// A weakly consistent iterator over `(key, count)` pairs in insertion order.
    fn _iter_items(slf: &Bound<'_, Self>) -> PyCounterIterator {
        PyCounterIterator::new(slf, IterKind::Items)
    }

    /// A weakly consistent iterator over counts in insertion order.
    fn _iter_values(slf: &Bound<'_, Self>) -> PyCounterIterator {
        PyCounterIterator::new(slf, IterKind::Values)
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(key)? {
            Some(n) => n.into_pyobject(py)?.into_any(),
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    #[pyo3(signature = (key, *default))]
    fn pop<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(PyTypeError::new_err(format!("pop expected at most 2 arguments, got {}", default.len() + 1)));
        }
        match (self.delete(key)?, default.get_item(0).ok()) {
            (Some(n), _) => Ok(n.into_pyobject(py)?.into_any()),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(PyKeyError::new_err((key.clone().unbind(),))),
        }
    }

    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, i64)> {
        match self.map.pop_last() {
            Some((k, n)) => Ok((k.into_bound(py), n.get())),
            None => Err(PyKeyError::new_err("popitem(): dictionary is empty")),
        }
    }

    /// The key's count; if absent, inserts it with `default` first (atomically).
    #[pyo3(signature = (key, default = small_int(0)), text_signature = "($self, key, default=0)")]
    fn setdefault(&self, py: Python<'_>, key: &Bound<'_, PyAny>, default: Py<PyAny>) -> PyResult<i64> {
        let n = count_arg(default.bind(py))?;
        let hash = self.hash(key)?;
        let existing = keyed(&self.map, key, hash, |k| {
            self.map.insert_count_if_absent(hash, &PyHandle::lend(key), eq_for(key, k), n)
        })?;
        Ok(existing.unwrap_or(n))
    }

    fn clear(&self) {
        self.map.clear();
    }

    /// Adds `n` to the key's count (inserting it at 0 first if absent) in one atomic step;
    /// returns the new count.
    #[pyo3(signature = (key, n = small_int(1)), text_signature = "($self, key, n=1)")]
    fn add(&self, py: Python<'_>, key: &Bound<'_, PyAny>, n: Py<PyAny>) -> PyResult<i64> {
        Ok(self.add_n(key, count_arg(n.bind(py))?)?.1)
    }

    /// Adds `n` to the key's count in one atomic step; returns the count before.
    #[pyo3(signature = (key, n = small_int(1)), text_signature = "($self, key, n=1)")]
    fn get_and_add(&self, py: Python<'_>, key: &Bound<'_, PyAny>, n: Py<PyAny>) -> PyResult<i64> {
        Ok(self.add_n(key, count_arg(n.bind(py))?)?.0)
    }

    /// If the key's count is `expected` (absent counts as 0), sets it to `desired`.
    fn compare_and_set(
        &self,
        key: &Bound<'_, PyAny>,
        expected: &Bound<'_, PyAny>,
        desired: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let (expected, desired) = (count_arg(expected)?, count_arg(desired)?);
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| {
            self.map.compare_and_set_count(hash, &PyHandle::lend(key), eq_for(key, k), expected, desired)
        })
    }

    /// Sets the key's count to `n`; returns the count before (0 if absent).
    fn get_and_set(&self, key: &Bound<'_, PyAny>, n: &Bound<'_, PyAny>) -> PyResult<i64> {
        let n = count_arg(n)?;
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.swap_count(hash, &PyHandle::lend(key), eq_for(key, k), n))
    }

    /// Sets the key's count to 0, keeping the key; returns the count before (0 if absent).
    fn get_and_reset(&self, key: &Bound<'_, PyAny>) -> PyResult<i64> {
        let hash = self.hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.reset_count(hash, &PyHandle::lend(key), eq_for(key, k)))
    }

    /// Adds `sign` (1 or -1) for every element of `iterable`, each key atomically (an error
    /// stops there, keeping what was counted before it): see `counter_update.rs`. `update` and
    /// `subtract` call it. The keywords are for tests.
    #[pyo3(signature = (
        iterable, sign, /, *, short = counter_update::SHORT, sample = counter_update::SAMPLE, chunk = counter_update::CHUNK
    ))]
    fn _count_all(&self, iterable: &Bound<'_, PyAny>, sign: i64, short: usize, sample: usize, chunk: usize) -> PyResult<()> {
        counter_update::count_all(&self.map, iterable, sign, short, sample, chunk)
    }

    /// Adds `sign * n` for every `(key, n)` of `pairs`, each atomically. Every count is checked
    /// (an int within `i64`) before anything is added, so a bad one changes nothing; a sum out
    /// of range stops there, keeping the earlier keys' additions.
    #[pyo3(signature = (pairs, sign, /))]
    fn _add_pairs(&self, pairs: &Bound<'_, PyAny>, sign: i64) -> PyResult<()> {
        let mut checked = Vec::new();
        for pair in pairs.try_iter()? {
            let (key, n): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
            checked.push((key, count_arg(&n)?));
        }
        for (key, n) in checked {
            match n.checked_mul(sign) {
                Some(n) => self.add_n(&key, n).map(drop)?,
                // Subtracting i64::MIN, whose negation does not fit: see `subtract_least`.
                None => self.subtract_least(&key)?,
            }
        }
        Ok(())
    }

    /// `AtomicCounterDictBase[K]`, so the Python subclass can be generic.
    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyGenericAlias>> {
        PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// Visits every key the counter dict owns (counts are not objects; a handle: the counter
    /// dict it was made from). Never pins, allocates or touches refcounts.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(origin) = &self.origin {
            return visit.call(origin);
        }
        traverse_table(&self.map, &visit)
    }

    /// Breaks cycles by removing every key. Idempotent. A handle clears nothing: any cycle
    /// through it passes through its origin (its one reference), whose clearing breaks it.
    fn __clear__(&self) {
        if self.origin.is_none() {
            self.map.clear();
        }
    }
}

impl Drop for PyAtomicCounterDict {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the field is never used again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.map) };
        release_dropped_table();
    }
}

/// A weakly consistent iterator over an AtomicCounterDict, in insertion order: never raises
/// because of concurrent changes, never yields a key twice, yields each key present throughout
/// exactly once; keys added after it began may be missed.
///
/// No lock: it is an engine [`Cursor`], so one iterator may be shared between threads and each
/// entry goes to one of them. It holds its counter dict and reports it to the collector.
#[pyclass(name = "AtomicCounterDictIterator", module = "lockless", frozen)]
pub(crate) struct PyCounterIterator {
    cursor: Cursor,
    counts: Py<PyAtomicCounterDict>,
    kind: IterKind,
}

impl PyCounterIterator {
    fn new(counts: &Bound<'_, PyAtomicCounterDict>, kind: IterKind) -> Self {
        PyCounterIterator { cursor: counts.get().map.cursor(), counts: counts.clone().unbind(), kind }
    }
}

/// The counter dict's views iterate through here (`views.rs`).
impl crate::python::views::ViewedMap for PyAtomicCounterDict {
    fn view_classes() -> &'static PyOnceLock<[Py<PyType>; 3]> {
        static CLASSES: PyOnceLock<[Py<PyType>; 3]> = PyOnceLock::new();
        &CLASSES
    }

    fn view_iterator<'py>(map: &Bound<'py, Self>, kind: IterKind) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(map.py(), PyCounterIterator::new(map, kind))?.into_any())
    }
}

impl PyCounterIterator {
    /// The next item of `cursor` (this iterator's, or a fork of it), as this iterator yields it.
    fn step<'py>(&self, py: Python<'py>, cursor: &Cursor) -> PyResult<Option<Bound<'py, PyAny>>> {
        let map = &self.counts.get().map;
        Ok(match self.kind {
            IterKind::Keys => map.cursor_next_key(cursor).map(|key| key.into_bound(py)),
            IterKind::Values => match map.cursor_next_value(cursor) {
                Some(n) => Some(Count::get(&n).into_pyobject(py)?.into_any()),
                None => None,
            },
            IterKind::Items => match map.cursor_next_item(cursor) {
                Some((key, n)) => Some((key.into_bound(py), Count::get(&n)).into_pyobject(py)?.into_any()),
                None => None,
            },
        })
    }
}

impl crate::python::slots::FastNext for PyCounterIterator {
    fn next_item<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.step(py, &self.cursor)
    }
}

#[pymethods]
impl PyCounterIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        crate::python::slots::FastNext::next_item(self, py)
    }

    /// As dict's iterators: `iter(list_of_the_items_not_yet_yielded)`, without advancing.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::python::dict_iter::Reduced<'py>> {
        crate::python::dict_iter::reduce_rest(py, &self.cursor, |fork| self.step(py, fork))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.counts)
    }
}

/// `add(key)` and `add(key, n)` without PyO3's argument parser (see `fastcall.rs`): the hot
/// counters' call.
pub(crate) struct FastCounterAdd;

impl crate::python::fastcall::FastMethod for FastCounterAdd {
    const NAME: &'static std::ffi::CStr = c"add";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        // SAFETY: the method descriptor only calls us with instances of AtomicCounterDictBase.
        let counts = unsafe { slf.cast_unchecked::<PyAtomicCounterDict>() };
        let py = slf.py();
        // `n` is checked before the key is hashed, as in the method PyO3 made.
        let added = match args {
            [key] => counts.get().add_n(key, 1),
            [key, n] => count_arg(n).and_then(|n| counts.get().add_n(key, n)),
            _ => return None,
        };
        Some(added.and_then(|(_, new)| Ok(new.into_pyobject(py)?.into_any())))
    }

    /// `add(key)` of an exact str or int key decided without Python code, whose count does not
    /// overflow (an overflow changes nothing, and `call` then raises it).
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        let [key] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicCounterDictBase.
        let counts = unsafe { slf.cast_unchecked::<PyAtomicCounterDict>() };
        let (_, new) = counts.get().builtin_add(key, 1)?;
        Some(crate::python::fastcall::int(new))
    }
}
