//! Engine errors as the Python exceptions an `int` would raise.

use pyo3::exceptions::{PyOverflowError, PyValueError, PyZeroDivisionError};
use pyo3::PyErr;

use crate::engine::atomic_int::IntError;
use crate::engine::counter::CounterOverflow;

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
