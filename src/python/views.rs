//! The maps' views where a `for` loop meets them: `keys()`, `values()`, `items()` and the view
//! classes' `__iter__`, compiled over the Python definitions in `python/lockless/_dict.py` and
//! `_counter.py` (which stay there as the specification). Those cost more than the iterator
//! they lead to: two Python frames to make a view, one more to start iterating it.

use std::ffi::CStr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::PyTypeInfo;

use crate::python::counter::PyAtomicCounterDict;
use crate::python::dict::PyAtomicDict;
use crate::python::dict_iter::IterKind;
use crate::python::fastcall::leaked_method;

/// A compiled map base whose views are compiled here.
pub(crate) trait ViewedMap: PyTypeInfo {
    /// The map's three view classes, set once by [`_compiled_views`].
    fn view_classes() -> &'static PyOnceLock<[Py<PyType>; 3]>;
    /// A new iterator over `map` yielding `kind`.
    fn view_iterator<'py>(map: &Bound<'py, Self>, kind: IterKind) -> PyResult<Bound<'py, PyAny>>;
}

/// What each view yields, by its index `KIND` below: the order of the classes handed to
/// [`_compiled_views`] (keys, values, items).
const VIEW_KINDS: [IterKind; 3] = [IterKind::Keys, IterKind::Values, IterKind::Items];

const ITER_DOC: &CStr = c"__iter__($self, /)\n--\n\nImplement iter(self).";

/// `view.__iter__()` for a map's three view classes, compiled: an iterator of `KIND` over
/// `view._mapping`, read through the compiled base as the Python methods it replaces do. The
/// Python `__iter__` cost a frame and a method call on top of making the iterator, as much
/// again as the iterator itself for a small map.
///
/// # Safety
/// A `METH_NOARGS` function of a method descriptor made for a view class: CPython calls it
/// attached, with `view` a live instance of that class.
unsafe extern "C" fn view_iter<M: ViewedMap, const KIND: usize>(view: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, view) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, view))
    };
    let made = view
        .getattr(pyo3::intern!(py, "_mapping"))
        .and_then(|mapping| Ok(mapping.cast_into::<M>()?))
        .and_then(|map| M::view_iterator(&map, VIEW_KINDS[KIND]));
    match made {
        Ok(iter) => iter.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// `m.keys()`, `m.values()` and `m.items()` (`KIND` 0, 1, 2), compiled: a new view of class
/// `M::view_classes()[KIND]` over `m`, made as `MappingView.__init__` makes it (the object,
/// then its `_mapping`), without the two Python frames (`keys` and `__init__`) that cost more
/// than the view itself.
///
/// # Safety
/// A `METH_NOARGS` function of a method descriptor made for the map class: CPython calls it
/// attached, with `slf` a live instance of that class.
unsafe extern "C" fn make_view<M: ViewedMap, const KIND: usize>(slf: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: see the function's contract.
    let (py, map) = unsafe {
        let py = Python::assume_attached();
        (py, Borrowed::from_ptr(py, slf))
    };
    let classes = M::view_classes().get(py).expect("set before the methods are installed");
    let cls = classes[KIND].bind(py);
    // SAFETY: `cls` is a live type; a null result comes with a MemoryError set.
    let view = unsafe { ffi::PyType_GenericAlloc(cls.as_type_ptr(), 0) };
    if view.is_null() {
        return view;
    }
    // SAFETY: `PyType_GenericAlloc` returned a new reference.
    let view = unsafe { Bound::from_owned_ptr(py, view) };
    match view.setattr(pyo3::intern!(py, "_mapping"), map) {
        Ok(()) => view.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// Compiles the hot parts of a map's views (`python/lockless/_dict.py` and `_counter.py` call
/// this once each): the three view classes' `__iter__` ([`view_iter`]) and `map_cls`'s `keys`,
/// `values` and `items` ([`make_view`]). `map_cls` subclasses AtomicDictBase or
/// AtomicCounterDictBase. The Python methods they replace stay in the source, which says what
/// they do.
#[pyfunction]
#[pyo3(signature = (map_cls, keys, values, items, /))]
pub(crate) fn _compiled_views(
    map_cls: &Bound<'_, PyType>,
    keys: &Bound<'_, PyType>,
    values: &Bound<'_, PyType>,
    items: &Bound<'_, PyType>,
) -> PyResult<()> {
    if map_cls.is_subclass_of::<PyAtomicDict>()? {
        install::<PyAtomicDict>(map_cls, [keys, values, items])
    } else if map_cls.is_subclass_of::<PyAtomicCounterDict>()? {
        install::<PyAtomicCounterDict>(map_cls, [keys, values, items])
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err("map_cls must subclass AtomicDictBase or AtomicCounterDictBase"))
    }
}

fn install<M: ViewedMap>(map_cls: &Bound<'_, PyType>, views: [&Bound<'_, PyType>; 3]) -> PyResult<()> {
    let py = map_cls.py();
    if M::view_classes().set(py, views.map(|cls| cls.clone().unbind())).is_err() {
        return Ok(()); // already done
    }
    let iters: [ffi::PyCFunction; 3] = [view_iter::<M, 0>, view_iter::<M, 1>, view_iter::<M, 2>];
    for (cls, function) in views.into_iter().zip(iters) {
        // SAFETY: `view_iter` accepts any object as the view (it reads `_mapping` and checks it).
        let descr = unsafe { leaked_method(cls, c"__iter__", ffi::METH_NOARGS, ffi::PyMethodDefPointer { PyCFunction: function }, ITER_DOC)? };
        cls.setattr("__iter__", descr)?;
    }
    let makers: [(&'static CStr, &'static CStr, ffi::PyCFunction); 3] = [
        (c"keys", c"keys($self, /)\n--\n\nA set-like view of the keys.", make_view::<M, 0>),
        (c"values", c"values($self, /)\n--\n\nA view of the values.", make_view::<M, 1>),
        (c"items", c"items($self, /)\n--\n\nA set-like view of the (key, value) pairs.", make_view::<M, 2>),
    ];
    for (name, doc, function) in makers {
        // SAFETY: `make_view` accepts any object as the mapping (the view's methods check it).
        let descr = unsafe { leaked_method(map_cls, name, ffi::METH_NOARGS, ffi::PyMethodDefPointer { PyCFunction: function }, doc)? };
        map_cls.setattr(name.to_str().expect("ASCII"), descr)?;
    }
    Ok(())
}
