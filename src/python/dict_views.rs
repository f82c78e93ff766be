//! The dict's views where a `for` loop meets them: `keys()`, `values()`, `items()` and the view
//! classes' `__iter__`, compiled over the Python definitions in `python/lockless/_dict.py`
//! (which stay there as the specification). Those cost more than the iterator they lead to:
//! two Python frames to make a view, one more to start iterating it.

use std::ffi::CStr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::python::dict::PyAtomicDict;
use crate::python::dict_iter::{IterKind, PyDictIterator};
use crate::python::fastcall::leaked_method;

/// What the three views yield, in the order of their classes (keys, values, items).
const VIEW_KINDS: [IterKind; 3] = [IterKind::Keys, IterKind::Values, IterKind::Items];
const ITER_DOC: &CStr = c"__iter__($self, /)\n--\n\nImplement iter(self).";

/// `view.__iter__()` for the dict's three view classes (`_KeysView`, `_ValuesView`,
/// `_ItemsView` in `python/lockless/_dict.py`), compiled: an iterator of `KIND` (0 keys, 1
/// values, 2 items) over `view._mapping`, read through the compiled base as the Python methods
/// it replaces did. The Python `__iter__` cost a frame and a method call on top of making the
/// iterator, as much again as the iterator itself for a small dict.
///
/// # Safety
/// A `METH_NOARGS` function of a method descriptor made for a view class: CPython calls it
/// attached, with `view` a live instance of that class.
unsafe extern "C" fn view_iter<const KIND: usize>(view: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, view) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, view))
    };
    let kind = VIEW_KINDS[KIND];
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
        let descr = unsafe { leaked_method(cls, c"__iter__", ffi::METH_NOARGS, ffi::PyMethodDefPointer { PyCFunction: function }, ITER_DOC)? };
        cls.setattr("__iter__", descr)?;
    }
    let makers: [(&'static CStr, &'static CStr, ffi::PyCFunction); 3] = [
        (c"keys", c"keys($self, /)\n--\n\nA set-like view of the keys.", make_view::<0>),
        (c"values", c"values($self, /)\n--\n\nA view of the values.", make_view::<1>),
        (c"items", c"items($self, /)\n--\n\nA set-like view of the (key, value) pairs.", make_view::<2>),
    ];
    for (name, doc, function) in makers {
        // SAFETY: `make_view` accepts any object as the mapping (the view's methods check it).
        let descr = unsafe { leaked_method(dict_cls, name, ffi::METH_NOARGS, ffi::PyMethodDefPointer { PyCFunction: function }, doc)? };
        dict_cls.setattr(name.to_str().expect("ASCII"), descr)?;
    }
    Ok(())
}
