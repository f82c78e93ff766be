//! `thread_handle()` of the dict, the set and the counter dict: another Python object of the same
//! type over the same engine map, for one thread to use in place of the shared one. On
//! free-threaded CPython every use of an object writes its reference count, so threads sharing
//! one object contend on that cache line even when they touch different keys; a handle each
//! avoids that (README, "Sharing between threads").
//!
//! A type with handles keeps its map in an `Arc` and the object a handle was made from in an
//! `origin` field: the origin alone reports the contents to the garbage collector (were two
//! objects to report them, the collector would subtract each reference twice and could free
//! live objects), and a handle reports only its reference to the origin.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use pyo3::PyClass;

/// The first argument that tells a base's `__new__` to make a handle: a private object, so no
/// call a user writes can mean it.
fn handle_marker(py: Python<'_>) -> &Bound<'_, PyAny> {
    static MARKER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MARKER
        .get_or_init(py, || {
            py.get_type::<pyo3::types::PyAny>().call0().expect("object() cannot fail").unbind()
        })
        .bind(py)
}

/// `obj.thread_handle()`: `type(obj).__new__(type(obj), marker, obj)`, without `__init__`, so a
/// subclass's handle is of the subclass.
pub(crate) fn new_handle<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let cls = obj.get_type();
    cls.call_method1(pyo3::intern!(py, "__new__"), (&cls, handle_marker(py), obj))
}

/// A base's `__new__`: the map and origin of the new object. If `args` ask for a handle of an
/// object of type `T`, its map, shared, and its origin (the object itself, or its own origin if
/// it is a handle); otherwise `fresh()`, with no origin. `parts` gives an object's map and
/// origin.
pub(crate) fn map_for_new<T: PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync, M>(
    args: &Bound<'_, PyTuple>,
    parts: impl Fn(&T) -> (&Arc<M>, &Option<Py<T>>),
    fresh: impl FnOnce() -> M,
) -> PyResult<(Arc<M>, Option<Py<T>>)> {
    let py = args.py();
    if args.len() != 2 || !args.get_item(0)?.is(handle_marker(py)) {
        return Ok((Arc::new(fresh()), None));
    }
    let of = args.get_item(1)?;
    let of = of.cast::<T>()?;
    let (map, origin) = parts(of.get());
    let origin = origin.as_ref().map_or_else(|| of.clone().unbind(), |o| o.clone_ref(py));
    Ok((Arc::clone(map), Some(origin)))
}
