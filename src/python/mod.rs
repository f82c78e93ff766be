//! PyO3 bindings: one file per Python type. Each method converts its arguments, calls one
//! engine operation and converts the result; nothing here implements an algorithm.

mod atomic_counter;
mod atomic_int;
mod atomic_ref;
mod dict;
mod errors;
mod handle;
mod key;

use pyo3::prelude::*;

/// The compiled half of the `lockless` package; `python/lockless/__init__.py` re-exports it.
#[pymodule(gil_used = false)]
fn _lockless(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<atomic_int::PyAtomicInt>()?;
    m.add_class::<atomic_ref::PyAtomicRef>()?;
    m.add_class::<atomic_counter::PyAtomicCounter>()?;
    m.add_class::<dict::PyAtomicDict>()?;
    m.add_class::<dict::PyDictIterator>()?;
    m.add_class::<dict::NotFoundType>()?;
    m.add("NOT_FOUND", dict::not_found(m.py()))?;
    Ok(())
}
