//! Engine errors as the Python exceptions an `int` (or, for a map that cannot grow, a `dict`)
//! would raise.

use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyValueError, PyZeroDivisionError};
use pyo3::PyErr;

use crate::engine::atomic_int::IntError;
use crate::engine::counter::CounterOverflow;
use crate::engine::dict::CapacityError;

/// The exception for a refused AtomicInt operation (the value is unchanged).
pub(crate) fn int_error(err: IntError) -> PyErr {
    match err {
        IntError::Overflow => PyOverflowError::new_err("AtomicInt result out of int64 range"),
        IntError::ZeroDivision => {
            PyZeroDivisionError::new_err("integer division or modulo by zero")
        }
        IntError::NegativeShift => PyValueError::new_err("negative shift count"),
        IntError::NegativeExponent => PyValueError::new_err(
            "AtomicInt **= with a negative exponent: the result would be a float, not an int",
        ),
    }
}

/// The exception for a counter whose sum would leave int64 (the counter is unchanged).
pub(crate) fn counter_overflow(_: CounterOverflow) -> PyErr {
    PyOverflowError::new_err("AtomicCounter sum out of int64 range")
}

/// The exception for a map that cannot grow: MemoryError when the allocator refuses (as dict
/// raises), OverflowError for a size no memory arithmetic can express. The map is unchanged.
pub(crate) fn capacity_error(err: CapacityError) -> PyErr {
    match err {
        CapacityError::Overflow => PyOverflowError::new_err("capacity too large"),
        CapacityError::AllocFailed => PyMemoryError::new_err("cannot allocate a larger table"),
    }
}

/// MemoryError for a buffer of the binding's own that could not grow (a bulk call's input).
pub(crate) fn out_of_memory() -> PyErr {
    PyMemoryError::new_err("cannot allocate a buffer for the call's items")
}
