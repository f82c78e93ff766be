//! Python keys: hash once per operation, compare stored keys without user code where we can.
//!
//! Equality of a stored key with the caller's key, in order:
//! 1. identity (as dict: a NaN key finds itself);
//! 2. exact `str`, `int`, `bytes`, and tuples of those: compared by the builtin types' own C
//!    code, which never runs Python code and cannot re-enter the map;
//! 3. otherwise the stored key's `__eq__` (as dict: `stored == key`). The engine calls this with
//!    the stored key kept alive by the epoch guard and no internal state half-made, so `__eq__`
//!    may raise, block, or mutate the same map.

use std::ptr::NonNull;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString, PyTuple};

/// A key's hash as the engine takes it (`hash()` once, here, before the operation).
pub(crate) fn hash_of(key: &Bound<'_, PyAny>) -> PyResult<u64> {
    Ok(key.hash()? as u64)
}

/// The engine's equality closure for `key`.
pub(crate) fn eq_for<'a, 'py>(
    key: &'a Bound<'py, PyAny>,
) -> impl FnMut(NonNull<()>) -> PyResult<bool> + 'a {
    move |stored| {
        let stored = stored.as_ptr().cast::<ffi::PyObject>();
        if stored == key.as_ptr() {
            return Ok(true);
        }
        // SAFETY: the engine passes a stored key that it owns and keeps alive under its guard
        // for the duration of this call; the Borrowed does not outlive it.
        let stored = unsafe { Bound::from_borrowed_ptr(key.py(), stored) };
        if let Some(equal) = builtin_eq(&stored, key) {
            return Ok(equal);
        }
        stored.eq(key)
    }
}

/// Equality of two objects of the exact builtin key types, decided without user code; `None`
/// if either is of another type (then `__eq__` decides).
fn builtin_eq(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> Option<bool> {
    if a.is_exact_instance_of::<PyString>() && b.is_exact_instance_of::<PyString>()
        || a.is_exact_instance_of::<PyInt>() && b.is_exact_instance_of::<PyInt>()
        || a.is_exact_instance_of::<PyBytes>() && b.is_exact_instance_of::<PyBytes>()
    {
        // The builtin comparison of two exact str/int/bytes runs only C code and cannot fail.
        return a.eq(b).ok();
    }
    let (a, b) = (a.cast_exact::<PyTuple>().ok()?, b.cast_exact::<PyTuple>().ok()?);
    if a.len() != b.len() {
        // Only if every element is a builtin key type do we know no user code would run.
        return a.iter().chain(b.iter()).all(|x| is_builtin_key(&x)).then_some(false);
    }
    let mut equal = true;
    for (x, y) in a.iter().zip(b.iter()) {
        if x.is(&y) {
            continue;
        }
        equal &= builtin_eq(&x, &y)?;
    }
    Some(equal)
}

fn is_builtin_key(x: &Bound<'_, PyAny>) -> bool {
    x.is_exact_instance_of::<PyString>()
        || x.is_exact_instance_of::<PyInt>()
        || x.is_exact_instance_of::<PyBytes>()
        || x.cast_exact::<PyTuple>().is_ok_and(|t| t.iter().all(|e| is_builtin_key(&e)))
}
