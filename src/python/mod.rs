//! PyO3 bindings: one file per Python type. Each method converts its arguments, calls one
//! engine operation and converts the result; nothing here implements an algorithm.

mod atomic_counter;
mod atomic_int;
mod atomic_ref;
mod counter;
mod counter_update;
mod dict;
mod dict_iter;
mod errors;
mod fastcall;
mod gc;
mod gc_type;
mod handle;
mod key;
mod queue;
mod set;
mod slots;
mod thread_handles;
mod views;

use pyo3::prelude::*;

/// The compiled half of the `lockless` package; `python/lockless/__init__.py` re-exports it.
#[pymodule(gil_used = false)]
fn _lockless(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Our types and statics are per process, not per interpreter: a subinterpreter that
    // imported them would share the main interpreter's type objects (a legacy subinterpreter
    // lets it happen, and its teardown then corrupts the collector's state). Refuse clearly.
    // SAFETY: both functions only read interpreter state; we are attached (we hold `m`).
    let main = unsafe { pyo3::ffi::PyInterpreterState_Main() };
    // SAFETY: as above.
    if unsafe { pyo3::ffi::PyInterpreterState_Get() } != main {
        return Err(pyo3::exceptions::PyImportError::new_err(
            "lockless does not support subinterpreters: import it in the main interpreter",
        ));
    }
    // Cargo.toml's version, which maturin also writes into the package metadata. An attribute,
    // not `m.add`, which would list it in the module's __all__.
    m.setattr("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<atomic_int::PyAtomicInt>()?;
    m.add_class::<atomic_ref::PyAtomicRef>()?;
    m.add_class::<atomic_counter::PyAtomicCounter>()?;
    m.add_class::<dict::PyAtomicDict>()?;
    m.add_class::<dict_iter::PyDictIterator>()?;
    m.add_class::<dict::NotFoundType>()?;
    m.add("NOT_FOUND", dict::not_found(m.py()))?;
    m.add_class::<queue::PyAtomicQueue>()?;
    m.setattr("ShutDown", queue::shut_down_type(m.py())?)?;
    m.add_class::<set::PyAtomicSet>()?;
    m.add_class::<set::PySetIterator>()?;
    m.add_class::<counter::PyAtomicCounterDict>()?;
    m.add_class::<counter::PyCounterIterator>()?;
    // Private, for the facade classes (python/lockless): an attribute, kept out of __all__.
    m.setattr("_own_methods", wrap_pyfunction!(fastcall::_own_methods, m)?)?;
    m.setattr("_compiled_views", wrap_pyfunction!(views::_compiled_views, m)?)?;
    let py = m.py();
    fastcall::install::<atomic_counter::FastIncrement>(&py.get_type::<atomic_counter::PyAtomicCounter>())?;
    fastcall::install::<atomic_int::FastIncrementAndGet>(&py.get_type::<atomic_int::PyAtomicInt>())?;
    slots::install(&py.get_type::<dict::PyAtomicDict>())?;
    fastcall::install::<dict::FastGet>(&py.get_type::<dict::PyAtomicDict>())?;
    fastcall::install::<dict::FastAdd>(&py.get_type::<dict::PyAtomicDict>())?;
    fastcall::install::<queue::FastPut>(&py.get_type::<queue::PyAtomicQueue>())?;
    fastcall::install::<queue::FastGet>(&py.get_type::<queue::PyAtomicQueue>())?;
    fastcall::install::<set::FastSetAdd>(&py.get_type::<set::PyAtomicSet>())?;
    slots::install_set(&py.get_type::<set::PyAtomicSet>())?;
    fastcall::install::<counter::FastCounterAdd>(&py.get_type::<counter::PyAtomicCounterDict>())?;
    slots::install_counter(&py.get_type::<counter::PyAtomicCounterDict>())?;
    slots::install_iternext::<dict_iter::PyDictIterator>(&py.get_type::<dict_iter::PyDictIterator>())?;
    slots::install_iternext::<set::PySetIterator>(&py.get_type::<set::PySetIterator>())?;
    slots::install_iternext::<counter::PyCounterIterator>(&py.get_type::<counter::PyCounterIterator>())?;
    gc_type::install!(
        py,
        atomic_ref::PyAtomicRef,
        dict::PyAtomicDict,
        dict_iter::PyDictIterator,
        queue::PyAtomicQueue,
        set::PyAtomicSet,
        set::PySetIterator,
        counter::PyAtomicCounterDict,
        counter::PyCounterIterator,
    );
    Ok(())
}
