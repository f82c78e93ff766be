//! `lockless.AtomicDict`'s compiled base (`AtomicDictBase`): the mapping protocol's hot paths
//! and the atomic operations, each one engine call. `python/lockless/_dict.py` adds views,
//! repr, equality, `|`, pickling and the rest in Python.
//!
//! Every method hashes the key first (the key's `__hash__`, once), then runs one engine
//! operation, which pins for itself and drains queued decrefs after unpinning. Python code
//! (`__eq__`, compute/merge functions, a user type's `__add__`) never runs pinned: a thread
//! blocked in it would hold back every deferred release in the process. Keys are compared as
//! `key.rs` describes ([`keyed`]); user functions run between a read and a
//! compare-and-exchange ([`PyAtomicDict::compute_with`]).

use std::ptr::NonNull;
use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::{Action, AtomicDict, KeyHash, Outcome};
use crate::python::errors::{capacity_error, out_of_memory};
use crate::python::dict_iter::{IterKind, PyDictIterator};
use crate::python::gc::{release_dropped_table, traverse_table};
use crate::python::handle::PyHandle;
use crate::python::thread_handles::{map_for_new, new_handle};
use crate::python::key::{
    builtin_eq_for, builtin_key_hash, eq_for, is_plain_number, key_hash, keyed, keys_equal, try_keyed, Fail,
};

pub(crate) type Map = AtomicDict<PyHandle, PyHandle>;

/// The type of [`not_found`]: a singleton meaning "no value".
#[pyclass(name = "NotFoundType", module = "lockless", frozen)]
pub(crate) struct NotFoundType;

#[pymethods]
impl NotFoundType {
    fn __repr__(&self) -> &'static str {
        "NOT_FOUND"
    }

    /// Pickles as a reference to the module attribute, so the singleton stays unique.
    fn __reduce__(&self) -> &'static str {
        "NOT_FOUND"
    }
}

static NOT_FOUND: PyOnceLock<Py<NotFoundType>> = PyOnceLock::new();

/// `lockless.NOT_FOUND`.
pub(crate) fn not_found(py: Python<'_>) -> &Bound<'_, PyAny> {
    NOT_FOUND
        .get_or_init(py, || Py::new(py, NotFoundType).expect("allocating the NOT_FOUND sentinel"))
        .bind(py)
        .as_any()
}

fn ptr(obj: &Bound<'_, PyAny>) -> NonNull<()> {
    // SAFETY: a Bound always holds a non-null object pointer.
    unsafe { NonNull::new_unchecked(obj.as_ptr().cast()) }
}

fn out<'py>(py: Python<'py>, value: Option<PyHandle>) -> Bound<'py, PyAny> {
    match value {
        Some(v) => v.into_bound(py),
        None => not_found(py).clone(),
    }
}

/// Default of `add`'s `amount` and `default`: a small int, which CPython caches (and makes
/// immortal), so this allocates nothing.
fn small_int(n: i64) -> Py<PyAny> {
    // SAFETY: PyO3 evaluates argument defaults inside the method's trampoline, attached to the
    // interpreter, so the token is valid for this call (and saves `Python::attach`'s
    // bookkeeping on the counters' hot path).
    let py = unsafe { Python::assume_attached() };
    n.into_pyobject(py).expect("small ints convert").into_any().unbind()
}

/// Default of `get_many`'s `default`.
fn not_found_default() -> Py<PyAny> {
    Python::attach(|py| not_found(py).clone().unbind())
}

/// Pushes onto a buffer as long as the caller's input, raising MemoryError rather than
/// aborting if it cannot grow.
fn try_push<T>(buffer: &mut Vec<T>, item: T) -> PyResult<()> {
    buffer.try_reserve(1).map_err(|_| out_of_memory())?;
    buffer.push(item);
    Ok(())
}

/// The compiled base of `lockless.AtomicDict`; use `lockless.AtomicDict`.
#[pyclass(name = "AtomicDictBase", module = "lockless", subclass, frozen, weakref, mapping)]
pub(crate) struct PyAtomicDict {
    /// The engine map, shared with the handles made by `thread_handle`. Its own allocation also
    /// keeps the map's root pointer, read by every operation, off the cache line of this
    /// object's reference count, which other threads' accesses write on free-threaded CPython.
    map: std::mem::ManuallyDrop<Arc<Map>>,
    /// For a handle: the dict it was made from. That dict alone reports the shared contents to
    /// the GC (were two objects to report them, the GC would subtract each reference twice and
    /// could free live objects); a handle reports only its reference to it.
    origin: Option<Py<PyAtomicDict>>,
}

impl PyAtomicDict {
    /// `key`'s hash (and tag) for this map: see `key::hash_of`.
    fn key_hash(&self, key: &Bound<'_, PyAny>) -> PyResult<KeyHash> {
        key_hash(&self.map, key)
    }

    /// Looks `key` up: its value, or `None`. An exact str or int key first tries the fast path
    /// (`key::builtin_key_hash`), which runs no Python code.
    fn lookup(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<PyHandle>> {
        if let Some(hash) = builtin_key_hash(&self.map, key) {
            // A closure of its own: sharing the slot's instantiation of `get` (same closure
            // type) made LLVM stop inlining `reclaim::pinned` into `m[k]` (+18 instructions).
            let mut eq = builtin_eq_for(key);
            if let Ok(found) = self.map.get(hash, |k| eq(k)) {
                return Ok(found);
            }
            return self.lookup_hashed(key, hash);
        }
        self.lookup_hashed(key, self.key_hash(key)?)
    }

    /// [`PyAtomicDict::lookup`] of a key already hashed.
    fn lookup_hashed(&self, key: &Bound<'_, PyAny>, hash: KeyHash) -> PyResult<Option<PyHandle>> {
        keyed(&self.map, key, hash, |k| self.map.get(hash, eq_for(key, k)))
    }

    fn store(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<Option<PyHandle>> {
        let hash = self.key_hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.insert(hash, &PyHandle::lend(key), eq_for(key, k), PyHandle::new(value)))
    }

    fn delete(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<PyHandle>> {
        let hash = self.key_hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.remove(hash, &PyHandle::lend(key), eq_for(key, k)))
    }

    /// Sets `key` (of hash `hash`) to `f(current)` (`None`: absent, or delete) and returns what it stored. `f`
    /// is Python code, so it runs unpinned, between reading the value and a
    /// compare-and-exchange by identity; on conflict it runs again on the value found. The
    /// reference held to the value read keeps its address from being reused meanwhile, so the
    /// exchange cannot mistake another object for it.
    fn compute_with<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        hash: KeyHash,
        mut f: impl FnMut(Option<Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyAny>>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut current = self.lookup_hashed(key, hash)?.map(|v| v.into_bound(py));
        loop {
            let new = f(current.clone())?;
            let expected = current.as_ref().map(ptr);
            let witness = keyed(&self.map, key, hash, |k| {
                let desired = new.as_ref().map(PyHandle::new);
                self.map.compare_and_exchange(hash, &PyHandle::lend(key), eq_for(key, k), expected, desired)
            })?;
            let witness = witness.map(|v| v.into_bound(py));
            if witness.as_ref().map(ptr) == expected {
                return Ok(new);
            }
            current = witness;
        }
    }

    /// `add`: stores `current + amount` (`default + amount` if absent) and returns it.
    fn add_to<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        amount: &Bound<'py, PyAny>,
        default: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        let hash = self.key_hash(key)?;
        if is_plain_number(amount) && is_plain_number(default) {
            // The fast path: one engine operation, the sum computed inside it, since adding
            // exact ints and floats runs no Python code. Any other stored value makes it give up
            // unchanged, for the general path below.
            let mut sum: Option<Bound<'py, PyAny>> = None;
            let done = try_keyed(&self.map, key, hash, |k| {
                self.map.modify(hash, &PyHandle::lend(key), eq_for(key, k), |current, _spare| {
                    // Borrowed, not a new reference: the value is usually another thread's
                    // object, whose refcount an incref/decref pair would write atomically.
                    let base = match current {
                        Some(v) => v.bind(py),
                        None => default.as_borrowed(),
                    };
                    if !is_plain_number(&base) {
                        return Err(Fail::Unpinned);
                    }
                    let new = base.add(amount)?;
                    let handle = PyHandle::new(&new);
                    sum = Some(new);
                    Ok(Action::Set(handle))
                })
            });
            match done {
                Ok(_) => return Ok(sum.expect("a stored sum")),
                Err(Fail::Py(err)) => return Err(err),
                Err(Fail::Unpinned | Fail::Compare(_)) => {}
            }
        }
        let stored = self.compute_with(py, key, hash, |current| {
            let base = current.unwrap_or_else(|| default.clone());
            Ok(Some(base.add(amount)?))
        })?;
        Ok(stored.expect("add always stores"))
    }

    /// The engine map (shared with the handles, and with iterators through this object).
    pub(crate) fn map(&self) -> &Map {
        &self.map
    }
}

#[pymethods]
impl PyAtomicDict {
    /// Creates an empty map; `lockless.AtomicDict.__init__` fills it from the arguments.
    /// (`thread_handle` calls it with a private marker and the dict to share.)
    #[new]
    #[pyo3(signature = (*args, **_kwargs))]
    fn new(args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let (map, origin) = map_for_new::<Self, _>(args, |d| (&d.map, &d.origin), Map::new)?;
        Ok(PyAtomicDict { map: std::mem::ManuallyDrop::new(map), origin })
    }

    /// Another object of this type for the same contents, for one thread to use in place of
    /// the shared dict: see the README ("Sharing between threads").
    fn thread_handle<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        new_handle(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hash = self.key_hash(key)?;
        keyed(&self.map, key, hash, |k| self.map.contains_key(hash, eq_for(key, k)))
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Some(v) = slf.get().lookup(key)? {
            return Ok(v.into_bound(py));
        }
        // As dict: a subclass's __missing__ supplies the value.
        match slf.get_type().getattr(pyo3::intern!(py, "__missing__")) {
            Ok(missing) => missing.call1((slf, key)),
            Err(_) => Err(PyKeyError::new_err((key.clone().unbind(),))),
        }
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = self.key_hash(key)?;
        keyed(&self.map, key, hash, |k| {
            let mut value = Some(PyHandle::new(value));
            // `modify` rather than `insert`: no reference to the previous value is taken.
            self.map.modify(hash, &PyHandle::lend(key), eq_for(key, k), |_, spare| {
                Ok(Action::Set(spare.or_else(|| value.take()).expect("a value to store")))
            })
        })
        .map(drop)
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = self.key_hash(key)?;
        let outcome = keyed(&self.map, key, hash, |k| {
            self.map.modify(hash, &PyHandle::lend(key), eq_for(key, k), |_, _| Ok(Action::Remove))
        })?;
        match outcome {
            Outcome::Removed => Ok(()),
            _ => Err(PyKeyError::new_err((key.clone().unbind(),))),
        }
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyDictIterator {
        PyDictIterator::new(slf, IterKind::Keys)
    }

    /// A weakly consistent iterator over `(key, value)` pairs in insertion order.
    fn _iter_items(slf: &Bound<'_, Self>) -> PyDictIterator {
        PyDictIterator::new(slf, IterKind::Items)
    }

    /// A weakly consistent iterator over values in insertion order.
    fn _iter_values(slf: &Bound<'_, Self>) -> PyDictIterator {
        PyDictIterator::new(slf, IterKind::Values)
    }

    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(key)? {
            Some(v) => v.into_bound(py),
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
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "pop expected at most 2 arguments, got {}",
                default.len() + 1
            )));
        }
        let default = default.get_item(0).ok();
        match (self.delete(key)?, default) {
            (Some(v), _) => Ok(v.into_bound(py)),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(PyKeyError::new_err((key.clone().unbind(),))),
        }
    }

    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        match self.map.pop_last() {
            Some((k, v)) => Ok((k.into_bound(py), v.into_bound(py))),
            None => Err(PyKeyError::new_err("popitem(): dictionary is empty")),
        }
    }

    #[pyo3(signature = (key, default = None))]
    fn setdefault<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let hash = self.key_hash(key)?;
        let existing = keyed(&self.map, key, hash, |k| {
            self.map.insert_if_absent(hash, &PyHandle::lend(key), eq_for(key, k), PyHandle::new(&default))
        })?;
        Ok(existing.map_or(default, |v| v.into_bound(py)))
    }

    fn clear(&self) {
        self.map.clear();
    }

    fn compare_and_set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        expected: &Bound<'_, PyAny>,
        desired: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let found = self.compare_and_exchange(py, key, expected, desired)?;
        Ok(found.is(expected))
    }

    fn compare_and_exchange<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        expected: &Bound<'py, PyAny>,
        desired: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nf = not_found(py);
        let expected = (!expected.is(nf)).then(|| ptr(expected));
        let desired = (!desired.is(nf)).then_some(desired);
        let hash = self.key_hash(key)?;
        let found = keyed(&self.map, key, hash, |k| {
            let desired = desired.map(PyHandle::new);
            self.map.compare_and_exchange(hash, &PyHandle::lend(key), eq_for(key, k), expected, desired)
        })?;
        Ok(out(py, found))
    }

    fn replace(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        old: &Bound<'_, PyAny>,
        new: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let mut replaced = false;
        self.compute_with(py, key, self.key_hash(key)?, |current| {
            replaced = false;
            match current {
                // Identity, then ==, as Python's containers compare (a NaN equals itself).
                Some(cur) if cur.is(old) || cur.eq(old)? => {
                    replaced = true;
                    Ok(Some(new.clone()))
                }
                other => Ok(other),
            }
        })?;
        Ok(replaced)
    }

    fn get_and_set<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(out(py, self.store(key, value)?))
    }

    #[pyo3(name = "compute")]
    fn compute_py<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        r#fn: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nf = not_found(py);
        let stored = self.compute_with(py, key, self.key_hash(key)?, |current| {
            let new = r#fn.call1((current.unwrap_or_else(|| nf.clone()),))?;
            Ok((!new.is(nf)).then_some(new))
        })?;
        Ok(stored.unwrap_or_else(|| nf.clone()))
    }

    fn compute_if_absent<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        factory: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hash = self.key_hash(key)?;
        if let Some(v) = self.lookup_hashed(key, hash)? {
            return Ok(v.into_bound(py));
        }
        // Called unpinned, perhaps in several threads at once; one result is stored.
        let made = factory.call1((key,))?;
        let existing = keyed(&self.map, key, hash, |k| {
            self.map.insert_if_absent(hash, &PyHandle::lend(key), eq_for(key, k), PyHandle::new(&made))
        })?;
        Ok(existing.map_or(made, |v| v.into_bound(py)))
    }

    fn merge<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        r#fn: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let nf = not_found(py);
        let stored = self.compute_with(py, key, self.key_hash(key)?, |current| match current {
            None => Ok(Some(value.clone())),
            Some(old) => {
                let new = r#fn.call1((old, value))?;
                Ok((!new.is(nf)).then_some(new))
            }
        })?;
        Ok(stored.unwrap_or_else(|| nf.clone()))
    }

    /// Copies every item into `target` with the hashes stored here (no key is hashed again).
    /// Each item is read and stored atomically; the copy is of a weakly consistent iteration.
    fn _copy_into(&self, py: Python<'_>, target: &Bound<'_, PyAtomicDict>) -> PyResult<()> {
        let target = target.get();
        let mut iter = self.map.iter();
        let mut n = 0u32;
        loop {
            let Some((hash, k, v)) = iter.next_with_hash() else { return Ok(()) };
            let (key, value) = (k.into_bound(py), v.into_bound(py));
            keyed(&target.map, &key, hash, |known| {
                target.map.insert(hash, &PyHandle::lend(&key), eq_for(&key, known), PyHandle::new(&value))
            })?;
            n = n.wrapping_add(1);
            if n % 4096 == 0 {
                py.check_signals()?; // Ctrl-C during a huge copy
            }
        }
    }

    /// Aggregates `pairs` into the map: each key hashed once; the batch first combined per key
    /// with `fn(key, acc_or_NOT_FOUND, value)`, then each key merged once, atomically, with
    /// `fn(key, current_or_NOT_FOUND, combined)` (NOT_FOUND deletes).
    fn reduce(&self, py: Python<'_>, pairs: &Bound<'_, PyAny>, r#fn: &Bound<'_, PyAny>) -> PyResult<()> {
        let nf = not_found(py);
        // Groups by hash, then by key equality: (hash, key, accumulated value).
        let mut groups: Vec<(KeyHash, Bound<'_, PyAny>, Bound<'_, PyAny>)> = Vec::new();
        let mut by_hash: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
        for (n, pair) in pairs.try_iter()?.enumerate() {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
            let hash = self.key_hash(&key)?;
            by_hash.try_reserve(1).map_err(|_| out_of_memory())?;
            let candidates = by_hash.entry(hash.hash).or_default();
            let mut found = None;
            for &i in candidates.iter() {
                if keys_equal(&groups[i].1, &key)? {
                    found = Some(i);
                    break;
                }
            }
            match found {
                Some(i) => groups[i].2 = r#fn.call1((&key, &groups[i].2, value))?,
                None => {
                    let acc = r#fn.call1((&key, nf, value))?;
                    try_push(candidates, groups.len())?;
                    try_push(&mut groups, (hash, key, acc))?;
                }
            }
            if n % 4096 == 4095 {
                py.check_signals()?;
            }
        }
        for (hash, key, acc) in groups {
            self.compute_with(py, &key, hash, |current| {
                let new = r#fn.call1((&key, current.unwrap_or_else(|| nf.clone()), &acc))?;
                Ok((!new.is(nf)).then_some(new))
            })?;
        }
        Ok(())
    }

    #[pyo3(signature = (key, amount = small_int(1), default = small_int(0)), text_signature = "($self, key, amount=1, default=0)")]
    fn add<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        amount: Py<PyAny>,
        default: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.add_to(key, &amount.into_bound(py), &default.into_bound(py))
    }

    #[pyo3(signature = (keys, default = not_found_default()))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
        default: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let default = default.into_bound(py);
        let mut found = Vec::new();
        for key in keys.try_iter()? {
            try_push(&mut found, self.lookup(&key?)?.map_or_else(|| default.clone(), |v| v.into_bound(py)))?;
        }
        PyList::new(py, found)
    }

    /// Makes room for `additional` more keys without growing; an impossible request raises
    /// MemoryError or OverflowError and leaves the dict unchanged.
    fn reserve(&self, additional: usize) -> PyResult<()> {
        self.map.reserve(additional).map_err(capacity_error)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.map.stats();
        let d = PyDict::new(py);
        d.set_item("capacity", s.capacity)?;
        d.set_item("len", s.len)?;
        d.set_item("dead", s.dead)?;
        d.set_item("migrations", s.migrations)?;
        d.set_item("longest_probe", s.longest_probe)?;
        Ok(d)
    }

    /// `AtomicDictBase[K, V]`, so the Python subclass can be generic.
    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, pyo3::types::PyGenericAlias>> {
        pyo3::types::PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// Visits every key and value the map owns (a handle: the dict it was made from). Never
    /// pins, allocates or touches refcounts.
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
            self.clear();
        }
    }
}

impl Drop for PyAtomicDict {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the field is never used again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.map) };
        release_dropped_table();
    }
}

/// `add(key)` with one positional argument, without PyO3's argument parser (see `fastcall.rs`):
/// the hot counters' call.
pub(crate) struct FastAdd;

impl crate::python::fastcall::FastMethod for FastAdd {
    const NAME: &'static std::ffi::CStr = c"add";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        let [key] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicDictBase.
        let dict = unsafe { slf.cast_unchecked::<PyAtomicDict>() };
        let py = slf.py();
        Some(dict.get().add_to(key, small_int(1).bind(py), small_int(0).bind(py)))
    }
}

/// `get(key)` and `get(key, default)`, positional, without PyO3's argument parser (see
/// `fastcall.rs`): a miss through `get` is the common way to ask for an absent key.
pub(crate) struct FastGet;

impl crate::python::fastcall::FastMethod for FastGet {
    const NAME: &'static std::ffi::CStr = c"get";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        let (key, default) = match args {
            [key] => (key, None),
            [key, default] => (key, Some(default)),
            _ => return None,
        };
        // SAFETY: the method descriptor only calls us with instances of AtomicDictBase.
        let dict = unsafe { slf.cast_unchecked::<PyAtomicDict>() };
        let py = slf.py();
        Some(dict.get().lookup(key).map(|found| match (found, default) {
            (Some(v), _) => v.into_bound(py),
            (None, Some(default)) => (**default).clone(),
            (None, None) => py.None().into_bound(py),
        }))
    }

    /// An exact str or int key decided without Python code (as `m[k]`'s slot): the value, or
    /// the default, or None.
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut ffi::PyObject> {
        let (key, default) = match args {
            [key] => (key, None),
            [key, default] => (key, Some(default)),
            _ => return None,
        };
        // SAFETY: the method descriptor only calls us with instances of AtomicDictBase.
        let dict = unsafe { slf.cast_unchecked::<PyAtomicDict>() };
        let map = dict.get().map();
        let hash = builtin_key_hash(map, key)?;
        // The comparison wrapped in a closure of this function's own: a type of its own, so this
        // call is an instantiation of `AtomicDict::get` apart from the `m[k]` slot's. Sharing
        // one, LLVM kept its pinned body out of line in both: `m[k]` +42 instructions.
        let mut eq = builtin_eq_for(key);
        Some(match map.get(hash, move |stored: &PyHandle| eq(stored)).ok()? {
            Some(value) => PyHandle::into_ptr(value),
            // SAFETY: attached (see `direct`); the default is a live argument of this call.
            None => default.map_or_else(crate::python::fastcall::none, |d| unsafe { ffi::Py_NewRef(d.as_ptr()) }),
        })
    }
}
