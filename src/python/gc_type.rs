//! Instances report their class to the cycle collector.
//!
//! An instance of a heap type owns a strong reference to its class, so a heap type's
//! `tp_traverse` must visit `Py_TYPE(self)` (CPython's documentation of `tp_traverse`). PyO3
//! 0.28's generated `tp_traverse` does not (PyO3 #6269 fixed it after the 0.28 line, and PyO3
//! 0.29 dropped 3.13t). Every PyO3 class is a heap type, and CPython's `subtype_traverse`, which
//! a Python subclass gets, leaves that visit to a base whose `tp_traverse` belongs to a heap type
//! too, so nobody visited the class: a cycle through it (`class C(AtomicSet): ...; C.me = C()`)
//! was never collected, class and instance both leaked. [`install!`] wraps a class's
//! `tp_traverse` with one that visits the type first.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Wraps `ty`'s `tp_traverse` (PyO3's, kept in `original`) with `wrapper`, which must visit
/// `Py_TYPE(self)` and then call `original`. Call once per class, at module initialisation,
/// before any instance or subclass exists.
pub(crate) fn wrap_traverse(
    ty: &Bound<'_, PyType>,
    original: &'static OnceLock<ffi::traverseproc>,
    wrapper: ffi::traverseproc,
) -> PyResult<()> {
    let tp = ty.as_type_ptr();
    // SAFETY: `ty` is a live heap type made by PyO3; nothing else runs on it yet (module
    // initialisation, no instance exists), and `wrapper` has tp_traverse's signature.
    unsafe {
        let Some(current) = (*tp).tp_traverse else {
            return Err(pyo3::exceptions::PyTypeError::new_err("a collected class lacks tp_traverse"));
        };
        if original.set(current).is_err() {
            return Ok(()); // already wrapped
        }
        (*tp).tp_traverse = Some(wrapper);
    }
    Ok(())
}

/// Visits `Py_TYPE(slf)`, then runs `original` (PyO3's traverse of the instance's contents).
///
/// # Safety
/// As for any `tp_traverse`: called by the collector with a live object of the class whose
/// traverse `original` is.
pub(crate) unsafe fn visit_type_then(
    slf: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
    original: &OnceLock<ffi::traverseproc>,
) -> c_int {
    // SAFETY: `slf` is live (the caller's contract); its type is a heap type (ours, or a
    // Python subclass of ours), which the instance holds a strong reference to.
    let done = unsafe { visit(ffi::Py_TYPE(slf).cast(), arg) };
    if done != 0 {
        return done;
    }
    match original.get() {
        // SAFETY: `f` is the class's own tp_traverse, called with the collector's arguments.
        Some(f) => unsafe { f(slf, visit, arg) },
        None => 0,
    }
}

/// `install!(py, Class, ...)`: wraps each class's `tp_traverse` (see the module docs).
macro_rules! install {
    ($py:expr, $($class:ty),+ $(,)?) => {{
        $({
            static ORIGINAL: std::sync::OnceLock<pyo3::ffi::traverseproc> = std::sync::OnceLock::new();
            unsafe extern "C" fn traverse(
                slf: *mut pyo3::ffi::PyObject,
                visit: pyo3::ffi::visitproc,
                arg: *mut std::ffi::c_void,
            ) -> std::ffi::c_int {
                // SAFETY: the collector calls this as the class's tp_traverse.
                unsafe { $crate::python::gc_type::visit_type_then(slf, visit, arg, &ORIGINAL) }
            }
            $crate::python::gc_type::wrap_traverse(&$py.get_type::<$class>(), &ORIGINAL, traverse)?;
        })+
    }};
}
pub(crate) use install;
