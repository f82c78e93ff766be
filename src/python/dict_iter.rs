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
//!   computed on a fork of the cursor, so the iterator itself does not advance.

use std::ffi::CStr;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::dict::Cursor;
use crate::python::dict::PyAtomicDict;
use crate::python::handle::PyHandle;
use crate::python::slots::FastNext;

/// What an iterator yields of each entry.
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

    fn item<'py>(&self, py: Python<'py>, k: PyHandle, v: PyHandle) -> PyResult<Bound<'py, PyAny>> {
        // Into Bounds first, so the half we do not return is decref'd here, not queued.
        let (k, v) = (k.into_bound(py), v.into_bound(py));
        Ok(match self.kind {
            IterKind::Keys => k,
            IterKind::Values => v,
            IterKind::Items => PyTuple::new(py, [k, v])?.into_any(),
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
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyList>,))> {
        let rest = PyList::empty(py);
        if let Some(dict) = self.dict(py) {
            let map = dict.get().map();
            let fork = self.cursor.fork();
            let mut n = 0u32;
            while let Some((_, k, v)) = map.cursor_next(&fork) {
                rest.append(self.item(py, k, v)?)?;
                n = n.wrapping_add(1);
                if n % 4096 == 0 {
                    py.check_signals()?; // Ctrl-C while pickling a huge iterator
                }
            }
        }
        let iter = py.import(pyo3::intern!(py, "builtins"))?.getattr(pyo3::intern!(py, "iter"))?;
        Ok((iter, (rest,)))
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

impl FastNext for PyDictIterator {
    fn next_item<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(dict) = self.dict(py) else { return Ok(None) };
        let map = dict.get().map();
        // Keys or values alone take no reference to the other half.
        Ok(match self.kind {
            IterKind::Keys => map.cursor_next_key(&self.cursor).map(|k| k.into_bound(py)),
            IterKind::Values => map.cursor_next_value(&self.cursor).map(|v| v.into_bound(py)),
            IterKind::Items => match map.cursor_next_item(&self.cursor) {
                Some((k, v)) => Some(self.item(py, k, v)?),
                None => None,
            },
        })
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

/// `view.__iter__()` for the dict's three view classes (`_KeysView`, `_ValuesView`,
/// `_ItemsView` in `python/lockless/_dict.py`), compiled: an iterator of `KIND` (0 keys, 1
/// values, 2 items) over `view._mapping`, read through the compiled base as the Python methods
/// it replaces did. The Python `__iter__` cost a frame and a method call on top of making the
/// iterator, as much again as the iterator itself for a small dict.
///
/// # Safety
/// A `METH_NOARGS` function of a method descriptor made for a view class: CPython calls it
/// attached, with `view` a live instance of that class.
unsafe extern "C" fn view_iter<const KIND: u8>(view: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, view) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, view))
    };
    let kind = match KIND {
        0 => IterKind::Keys,
        1 => IterKind::Values,
        _ => IterKind::Items,
    };
    let made = view
        .getattr(pyo3::intern!(py, "_mapping"))
        .and_then(|mapping| Ok(mapping.cast_into::<PyAtomicDict>()?))
        .and_then(|dict| Bound::new(py, PyDictIterator::new(&dict, kind)));
    match made {
        Ok(iter) => iter.into_any().into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// The dict's three view classes (keys, values, items), as [`_dict_views`] was given them.
static VIEW_CLASSES: PyOnceLock<[Py<PyType>; 3]> = PyOnceLock::new();

/// `m.keys()`, `m.values()` and `m.items()` (`KIND` 0, 1, 2), compiled: a new view of class
/// `VIEW_CLASSES[KIND]` over `m`, made as `MappingView.__init__` makes it (the object, then its
/// `_mapping`), without the two Python frames (`keys` and `__init__`) that cost more than the
/// view itself.
///
/// # Safety
/// A `METH_NOARGS` function of a method descriptor made for the dict class: CPython calls it
/// attached, with `slf` a live instance of that class.
unsafe extern "C" fn make_view<const KIND: usize>(slf: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, dict) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, slf))
    };
    let classes = VIEW_CLASSES.get(py).expect("set before the methods are installed");
    let cls = classes[KIND].bind(py);
    // SAFETY: `cls` is a live type; a null result comes with a MemoryError set.
    let view = unsafe { ffi::PyType_GenericAlloc(cls.as_type_ptr(), 0) };
    if view.is_null() {
        return view;
    }
    // SAFETY: `PyType_GenericAlloc` returned a new reference.
    let view = unsafe { Bound::from_owned_ptr(py, view) };
    match view.setattr(pyo3::intern!(py, "_mapping"), dict) {
        Ok(()) => view.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// A leaked `METH_NOARGS` definition named `name`, and a method descriptor of it made for `cls`.
///
/// # Safety
/// `function` accepts any instance of `cls` as `self`.
unsafe fn noargs_method<'py>(
    cls: &Bound<'py, PyType>,
    name: &'static CStr,
    doc: &'static CStr,
    function: ffi::PyCFunction,
) -> PyResult<Bound<'py, PyAny>> {
    // Leaked on purpose: the descriptor keeps a pointer to its definition for as long as the
    // class lives (the process).
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: function },
        ml_flags: ffi::METH_NOARGS,
        ml_doc: doc.as_ptr(),
    }));
    // SAFETY: `cls` is a live type and `def` outlives the descriptor, which calls `function` only
    // with instances of `cls` (the caller's promise covers them).
    unsafe { Bound::from_owned_ptr_or_err(cls.py(), ffi::PyDescr_NewMethod(cls.as_type_ptr(), def)) }
}

/// Compiles the hot parts of the dict's views (`python/lockless/_dict.py`, which calls this
/// once): the three view classes' `__iter__` ([`view_iter`]) and `dict_cls`'s `keys`, `values`
/// and `items` ([`make_view`]). The Python methods they replace stay in the source, which says
/// what they do.
#[pyfunction]
#[pyo3(signature = (dict_cls, keys, values, items, /))]
pub(crate) fn _dict_views(
    dict_cls: &Bound<'_, PyType>,
    keys: &Bound<'_, PyType>,
    values: &Bound<'_, PyType>,
    items: &Bound<'_, PyType>,
) -> PyResult<()> {
    let py = dict_cls.py();
    if !dict_cls.is_subclass_of::<PyAtomicDict>()? {
        return Err(pyo3::exceptions::PyTypeError::new_err("dict_cls must subclass AtomicDictBase"));
    }
    if VIEW_CLASSES.set(py, [keys.clone().unbind(), values.clone().unbind(), items.clone().unbind()]).is_err() {
        return Ok(()); // already done
    }
    let iters: [ffi::PyCFunction; 3] = [view_iter::<0>, view_iter::<1>, view_iter::<2>];
    for (cls, function) in [keys, values, items].into_iter().zip(iters) {
        // SAFETY: `view_iter` accepts any object as the view (it reads `_mapping` and checks it).
        let descr = unsafe { noargs_method(cls, c"__iter__", c"__iter__($self, /)\n--\n\nImplement iter(self).", function)? };
        cls.setattr("__iter__", descr)?;
    }
    let makers: [(&'static CStr, &'static CStr, ffi::PyCFunction); 3] = [
        (c"keys", c"keys($self, /)\n--\n\nA set-like view of the keys.", make_view::<0>),
        (c"values", c"values($self, /)\n--\n\nA view of the values.", make_view::<1>),
        (c"items", c"items($self, /)\n--\n\nA set-like view of the (key, value) pairs.", make_view::<2>),
    ];
    for (name, doc, function) in makers {
        // SAFETY: `make_view` accepts any object as the mapping (the view's methods check it).
        let descr = unsafe { noargs_method(dict_cls, name, doc, function)? };
        dict_cls.setattr(name.to_str().expect("ASCII"), descr)?;
    }
    Ok(())
}
