//! The dict's hottest slots (`m[k]`, `k in m`, `m[k] = v`, `del m[k]`, `len(m)`), the set's
//! `x in s` and the counter dict's `c[k]` and `k in c`, as plain C functions over `pyo3::ffi`,
//! installed over the ones PyO3 made; and the three iterators' `tp_iternext` ([`FastNext`]).
//!
//! PyO3 wraps every slot in its generic trampoline: attach bookkeeping (a thread-local counter
//! up and down, the reference-pool check), a type check of `self` (`lockless.AtomicDict` is a
//! subclass, so it walks the MRO) and the `PyResult` plumbing, about 150-185 instructions a
//! call, more than the lookup itself. The functions here serve the common case directly: a key
//! of an exact `str` or `int` (hashed and compared without Python code, see
//! `key::builtin_key_hash`), whose operation succeeds. Every other call (another key type, a
//! stored key only `__eq__` can compare, a missing key, an error) goes, unchanged, to the slot
//! PyO3 made, kept here: so `__missing__`, `KeyError`, `__eq__` run unpinned and every error
//! message are exactly as before. Such a call may pay for two probes; the first ran no Python
//! code and changed nothing.
//!
//! No Python code runs on the fast path, nothing in it can fail, and it drops no `Py` (which,
//! outside PyO3's bookkeeping, would defer its decref to PyO3's pool): values handed out are
//! new references, the caller's key is borrowed.
//!
//! The slots are only ever called with `self` an instance of the type (or a subclass): through
//! the type's slot, or through its `__getitem__`/... wrapper descriptors, which check `self`
//! first. A Python subclass that overrides `__getitem__` gets CPython's `slot_mp_subscript`,
//! which calls its method; one that does not inherits these functions.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::engine::dict::{Action, Outcome};
use crate::python::counter::PyAtomicCounterDict;
use crate::python::dict::PyAtomicDict;
use crate::python::handle::PyHandle;
use crate::python::set::PyAtomicSet;
use crate::python::key::{builtin_contains, builtin_eq_for, builtin_key_hash};

/// The slot functions PyO3 made: every call the fast paths decline.
struct Original {
    subscript: ffi::binaryfunc,
    ass_subscript: ffi::objobjargproc,
    contains: ffi::objobjproc,
}

static ORIGINAL: OnceLock<Original> = OnceLock::new();

fn original() -> &'static Original {
    ORIGINAL.get().expect("installed at module initialisation")
}

/// Installs the slots on `ty` (`AtomicDictBase`), and makes its `__getitem__`, `__setitem__`,
/// `__delitem__`, `__contains__` and `__len__` wrapper descriptors call them too (a Python
/// subclass takes its slots from those descriptors). Call once, at module initialisation,
/// before any subclass exists.
pub(crate) fn install(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let tp = ty.as_type_ptr();
    // SAFETY: `ty` is a live heap type made by PyO3 with the mapping and sequence slots below;
    // its slot tables are its own (a heap type's `as_mapping`/`as_sequence`). Nothing else runs
    // on it yet (module initialisation), and the functions written have the slots' signatures.
    unsafe {
        let mapping = (*tp).tp_as_mapping;
        let sequence = (*tp).tp_as_sequence;
        let (Some(subscript), Some(ass_subscript), Some(length), Some(contains)) = (
            (*mapping).mp_subscript,
            (*mapping).mp_ass_subscript,
            (*mapping).mp_length,
            (*sequence).sq_contains,
        ) else {
            return Err(pyo3::exceptions::PyTypeError::new_err("AtomicDictBase lacks a mapping slot"));
        };
        if ORIGINAL.set(Original { subscript, ass_subscript, contains }).is_err() {
            return Ok(()); // already installed
        }
        redirect(ty, c"__getitem__", subscript as *mut c_void, dict_subscript as *mut c_void)?;
        redirect(ty, c"__setitem__", ass_subscript as *mut c_void, dict_ass_subscript as *mut c_void)?;
        redirect(ty, c"__delitem__", ass_subscript as *mut c_void, dict_ass_subscript as *mut c_void)?;
        redirect(ty, c"__contains__", contains as *mut c_void, dict_contains as *mut c_void)?;
        redirect(ty, c"__len__", length as *mut c_void, dict_length as *mut c_void)?;
        (*mapping).mp_subscript = Some(dict_subscript);
        (*mapping).mp_ass_subscript = Some(dict_ass_subscript);
        (*mapping).mp_length = Some(dict_length);
        (*sequence).sq_contains = Some(dict_contains);
        if (*sequence).sq_length.is_some() {
            (*sequence).sq_length = Some(dict_length);
        }
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// Points the wrapper descriptor `ty.__dict__[name]` from `from` (PyO3's slot function) to `to`.
///
/// # Safety
/// `to` has the signature of the slot the descriptor wraps, and nothing calls the descriptor
/// concurrently.
unsafe fn redirect(ty: &Bound<'_, PyType>, name: &CStr, from: *mut c_void, to: *mut c_void) -> PyResult<()> {
    let name = name.to_str().expect("ASCII names");
    let descr = ty.getattr("__dict__")?.get_item(name)?;
    let ptr = descr.as_ptr();
    // SAFETY: a live object; its layout is PyWrapperDescrObject once its type is checked.
    unsafe {
        if ffi::Py_TYPE(ptr) != std::ptr::addr_of_mut!(ffi::PyWrapperDescr_Type)
            || (*ptr.cast::<ffi::PyWrapperDescrObject>()).d_wrapped != from
        {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{}.{name} is not the slot wrapper PyO3 made",
                ty.name()?
            )));
        }
        (*ptr.cast::<ffi::PyWrapperDescrObject>()).d_wrapped = to;
    }
    Ok(())
}

/// The collection behind `slf` (a `T`), and `key`, borrowed for the call.
///
/// # Safety
/// Called from one of the slots below with their arguments: the thread is attached, `slf` is
/// an instance of `T`'s type (`AtomicDictBase`, `AtomicSetBase`, or a subclass) and `key` a
/// live object.
#[inline]
unsafe fn args<'a, 'py, T: pyo3::PyClass>(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> (Borrowed<'a, 'py, T>, Borrowed<'a, 'py, PyAny>) {
    // SAFETY: CPython calls slots attached; see the function's contract.
    unsafe {
        let py = Python::assume_attached();
        (Borrowed::from_ptr(py, slf).cast_unchecked::<T>(), Borrowed::from_ptr(py, key))
    }
}

/// `m[k]`.
///
/// # Safety
/// A `binaryfunc` slot of `AtomicDictBase`: see [`args`].
unsafe extern "C" fn dict_subscript(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: forwarded from CPython's call.
    let (dict, k) = unsafe { args::<PyAtomicDict>(slf, key) };
    let map = dict.get().map();
    if let Some(hash) = builtin_key_hash(map, &k) {
        if let Ok(Some(value)) = map.get(hash, builtin_eq_for(&k)) {
            return PyHandle::into_ptr(value);
        }
    }
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { (original().subscript)(slf, key) }
}

/// `k in m`: touches no reference count.
///
/// # Safety
/// An `objobjproc` slot of `AtomicDictBase`: see [`args`].
unsafe extern "C" fn dict_contains(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> c_int {
    // SAFETY: forwarded from CPython's call.
    let (dict, k) = unsafe { args::<PyAtomicDict>(slf, key) };
    if let Some(found) = builtin_contains(dict.get().map(), &k) {
        return c_int::from(found);
    }
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { (original().contains)(slf, key) }
}

/// `m[k] = v`, and `del m[k]` (`value` null).
///
/// # Safety
/// An `objobjargproc` slot of `AtomicDictBase`: see [`args`]; `value` is null or live.
unsafe extern "C" fn dict_ass_subscript(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: forwarded from CPython's call.
    let (dict, k) = unsafe { args::<PyAtomicDict>(slf, key) };
    let map = dict.get().map();
    if let Some(hash) = builtin_key_hash(map, &k) {
        let key_handle = PyHandle::lend(&k);
        let done = if value.is_null() {
            // A missing key goes to PyO3's slot, which raises the KeyError.
            map.modify(hash, &key_handle, builtin_eq_for(&k), |_, _| Ok(Action::Remove))
                .is_ok_and(|outcome| outcome == Outcome::Removed)
        } else {
            // SAFETY: CPython passes a live value.
            let v = unsafe { Borrowed::from_ptr(k.py(), value) };
            // The value's reference is made inside the decision (and comes back as `spare` on a
            // retry), so a declined call leaves none behind. `modify`, not `insert`: no
            // reference to the previous value is taken.
            map.modify(hash, &key_handle, builtin_eq_for(&k), |_, spare| {
                Ok(Action::Set(spare.unwrap_or_else(|| PyHandle::new(&v))))
            })
            .is_ok()
        };
        if done {
            return 0;
        }
    }
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { (original().ass_subscript)(slf, key, value) }
}

/// `len(m)`: cannot fail.
///
/// # Safety
/// A `lenfunc` slot of `AtomicDictBase`: `slf` an instance, the thread attached.
unsafe extern "C" fn dict_length(slf: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: as for `args`; the key argument is unused (`slf` stands in, never read as a key).
    let (dict, _) = unsafe { args::<PyAtomicDict>(slf, slf) };
    // A length always fits: every key is an object in memory.
    dict.get().map().len() as ffi::Py_ssize_t
}

/// PyO3's `mp_subscript` and `sq_contains` of `AtomicCounterDictBase`: every call the counter's
/// slots decline.
struct CounterOriginal {
    subscript: ffi::binaryfunc,
    contains: ffi::objobjproc,
}

static COUNTER_ORIGINAL: OnceLock<CounterOriginal> = OnceLock::new();

fn counter_original() -> &'static CounterOriginal {
    COUNTER_ORIGINAL.get().expect("installed at module initialisation")
}

/// Installs [`counter_subscript`] and [`counter_contains`] on `ty` (`AtomicCounterDictBase`) as
/// [`install`] does the dict's slots: once, at module initialisation, the type's `__getitem__`
/// and `__contains__` descriptors repointed too. (Its writes keep PyO3's slots: a count is
/// converted from a Python int, which may fail.)
pub(crate) fn install_counter(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let tp = ty.as_type_ptr();
    // SAFETY: as in `install`: a live heap type made by PyO3, its own slot tables, nothing else
    // running on it yet, and the functions written have the slots' signatures.
    unsafe {
        let mapping = (*tp).tp_as_mapping;
        let sequence = (*tp).tp_as_sequence;
        let (Some(subscript), Some(contains)) = (
            mapping.as_ref().and_then(|m| m.mp_subscript),
            sequence.as_ref().and_then(|s| s.sq_contains),
        ) else {
            return Err(pyo3::exceptions::PyTypeError::new_err("AtomicCounterDictBase lacks a slot"));
        };
        if COUNTER_ORIGINAL.set(CounterOriginal { subscript, contains }).is_err() {
            return Ok(()); // already installed
        }
        redirect(ty, c"__getitem__", subscript as *mut c_void, counter_subscript as *mut c_void)?;
        redirect(ty, c"__contains__", contains as *mut c_void, counter_contains as *mut c_void)?;
        (*mapping).mp_subscript = Some(counter_subscript);
        (*sequence).sq_contains = Some(counter_contains);
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// `c[k]`: the count, 0 for a missing key (which is not inserted).
///
/// # Safety
/// A `binaryfunc` slot of `AtomicCounterDictBase`: see [`args`].
unsafe extern "C" fn counter_subscript(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: forwarded from CPython's call.
    let (counts, k) = unsafe { args::<PyAtomicCounterDict>(slf, key) };
    if let Some(n) = counts.get().builtin_count(&k) {
        // SAFETY: attached (a slot call); null with a MemoryError set if the int cannot be made.
        return unsafe { ffi::PyLong_FromLongLong(n) };
    }
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { (counter_original().subscript)(slf, key) }
}

/// `k in c`.
///
/// # Safety
/// An `objobjproc` slot of `AtomicCounterDictBase`: see [`args`].
unsafe extern "C" fn counter_contains(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> c_int {
    // SAFETY: forwarded from CPython's call.
    let (counts, k) = unsafe { args::<PyAtomicCounterDict>(slf, key) };
    if let Some(found) = builtin_contains(counts.get().map(), &k) {
        return c_int::from(found);
    }
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { (counter_original().contains)(slf, key) }
}

/// PyO3's `sq_contains` of `AtomicSetBase`: every call [`set_contains`] declines (it retries a
/// `set` element as a frozenset, raises for an unhashable one, runs `__eq__` unpinned).
static SET_CONTAINS: OnceLock<ffi::objobjproc> = OnceLock::new();

/// Installs [`set_contains`] on `ty` (`AtomicSetBase`) as [`install`] does the dict's slots:
/// once, at module initialisation, the type's `__contains__` descriptor repointed too.
pub(crate) fn install_set(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let tp = ty.as_type_ptr();
    // SAFETY: as in `install`: a live heap type made by PyO3, its own sequence slot table,
    // nothing else running on it yet, and `set_contains` has `sq_contains`'s signature.
    unsafe {
        let sequence = (*tp).tp_as_sequence;
        let Some(contains) = sequence.as_ref().and_then(|s| s.sq_contains) else {
            return Err(pyo3::exceptions::PyTypeError::new_err("AtomicSetBase lacks sq_contains"));
        };
        if SET_CONTAINS.set(contains).is_err() {
            return Ok(()); // already installed
        }
        redirect(ty, c"__contains__", contains as *mut c_void, set_contains as *mut c_void)?;
        (*sequence).sq_contains = Some(set_contains);
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// `x in s`: touches no reference count.
///
/// # Safety
/// An `objobjproc` slot of `AtomicSetBase`: see [`args`].
unsafe extern "C" fn set_contains(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> c_int {
    // SAFETY: forwarded from CPython's call.
    let (set, k) = unsafe { args::<PyAtomicSet>(slf, key) };
    if let Some(found) = builtin_contains(set.get().map(), &k) {
        return c_int::from(found);
    }
    let original = SET_CONTAINS.get().expect("installed at module initialisation");
    // SAFETY: PyO3's slot, with the arguments CPython gave us.
    unsafe { original(slf, key) }
}

/// An iterator type whose `tp_iternext` [`install_iternext`] serves without PyO3's trampoline.
pub(crate) trait FastNext: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    /// The next item (a new reference), `None` once exhausted. Called outside PyO3's attach
    /// bookkeeping, so it must drop no `Py` (a `Bound` is fine: its drop decrefs at once).
    fn next_item<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>>;
}

/// Makes `ty`'s `tp_iternext` (what `for` and `next()` call) [`iternext`] over
/// `T::next_item`. PyO3's trampoline around `__next__` (attach bookkeeping, the type check,
/// the `Option`-to-`StopIteration` plumbing) cost more than a step of the cursor. `__next__`,
/// called as a method, keeps PyO3's wrapper, which calls the same `next_item`. Call once, at
/// module initialisation; `T` must not be subclassable (so the slot only ever sees a `T`).
pub(crate) fn install_iternext<T: FastNext>(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let tp = ty.as_type_ptr();
    // SAFETY: `ty` is `T`'s live type object; nothing iterates it yet (module initialisation),
    // and `iternext::<T>` has the slot's signature.
    unsafe {
        if ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_BASETYPE != 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err("a fast tp_iternext needs a final type"));
        }
        (*tp).tp_iternext = Some(iternext::<T>);
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// `next(it)`: the item, or null with no exception set once exhausted (the slot's protocol),
/// or null with the exception set.
///
/// # Safety
/// The `tp_iternext` slot of `T`'s type, which is final: CPython calls it attached with `slf` a
/// live `T`.
unsafe extern "C" fn iternext<T: FastNext>(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, it) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, slf).cast_unchecked::<T>())
    };
    match it.get().next_item(py) {
        Ok(Some(item)) => item.into_ptr(),
        Ok(None) => std::ptr::null_mut(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}
