//! `lockless.AtomicCounter`: a striped counter for hot increments (engine: `engine::counter`).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::engine::counter::Counter;
use crate::python::errors::counter_overflow;
use crate::python::fastcall::FastMethod;

/// A counter that many threads increment without contending on one cache line.
#[pyclass(name = "AtomicCounter", module = "lockless", frozen, weakref)]
pub(crate) struct PyAtomicCounter {
    inner: Counter,
}

#[pymethods]
impl PyAtomicCounter {
    #[new]
    #[pyo3(signature = (value = 0))]
    fn new(value: i64) -> Self {
        Self {
            inner: Counter::new(value),
        }
    }

    /// Mutable, so unhashable (like list and dict).
    #[classattr]
    const __hash__: Option<Py<PyAny>> = None;

    /// Adds `n`. Atomic, lock-free; OverflowError (counter unchanged) if no cell can take it.
    #[pyo3(signature = (n = 1))]
    fn increment(&self, n: i64) -> PyResult<()> {
        self.inner.add(n).map_err(counter_overflow)
    }

    /// Subtracts `n`. Atomic, lock-free; OverflowError (counter unchanged) if no cell can take it.
    #[pyo3(signature = (n = 1))]
    fn decrement(&self, n: i64) -> PyResult<()> {
        self.inner.sub(n).map_err(counter_overflow)
    }

    /// The sum of the cells. Wait-free; exact when no increment runs concurrently.
    /// OverflowError while the sum is outside int64.
    fn get(&self) -> PyResult<i64> {
        self.inner.sum().map_err(counter_overflow)
    }

    /// Sets the count to 0. Wait-free; a racing increment survives or is erased, wholly.
    fn reset(&self) {
        self.inner.reset();
    }

    /// Sets the count to 0 and returns what it was. Wait-free; every increment is counted
    /// exactly once (here or in the counter afterwards); exact even beyond int64.
    fn get_and_reset(&self) -> i128 {
        self.inner.take()
    }

    fn __int__(&self) -> PyResult<i64> {
        self.get()
    }

    fn __index__(&self) -> PyResult<i64> {
        self.get()
    }

    fn __repr__(&self) -> String {
        format!("AtomicCounter({})", self.inner.sum_wide())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let value = slf.get().get()?;
        PyTuple::new(
            slf.py(),
            [
                slf.get_type().into_any(),
                PyTuple::new(slf.py(), [value])?.into_any(),
            ],
        )
    }
}

/// `increment()` with no argument, without PyO3's argument parser (see `fastcall.rs`).
pub(crate) struct FastIncrement;

impl FastMethod for FastIncrement {
    const NAME: &'static std::ffi::CStr = c"increment";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicCounter.
        let counter = unsafe { slf.cast_unchecked::<PyAtomicCounter>() };
        Some(counter.get().inner.add(1).map_err(counter_overflow).map(|()| slf.py().None().into_bound(slf.py())))
    }

    /// The increment, unless it would overflow (which changes nothing; `call` then raises).
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicCounter.
        let counter = unsafe { slf.cast_unchecked::<PyAtomicCounter>() };
        counter.get().inner.add(1).ok()?;
        Some(crate::python::fastcall::none())
    }
}
