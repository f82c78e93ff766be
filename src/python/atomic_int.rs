//! `lockless.AtomicInt`: a signed 64-bit atomic integer (engine: `engine::atomic_int`).
//!
//! Binary and reflected operators and comparisons read one snapshot of the value and give what
//! `int` would give with that snapshot: with an `int` (or `bool`, or another `AtomicInt`) they
//! compute with Python's own `int`, returning a plain `int` (so `AtomicInt(2**62) * 4` is an
//! exact big int); with anything else (`float`, `Fraction`, `Decimal`, `complex`, a user type)
//! they run Python's operator protocol on the snapshot ([`python_binary`]), so
//! `AtomicInt(1) + 1.5 == 2.5` and `AtomicInt(0) == 0.0`, and return `NotImplemented` exactly
//! where neither `int` nor the other operand implements the operation.
//! In-place operators are one atomic engine operation each and keep the value within int64:
//! they take `int` or `AtomicInt` operands only, and raise `TypeError` for anything else (were
//! they to return `NotImplemented`, Python would fall back to the binary operator and rebind the
//! name to, say, a float).

use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyKeyError, PyOverflowError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString, PyTuple, PyType};

use crate::engine::atomic_int::{AtomicInt, IntError, IntOp};
use crate::python::errors::int_error;

/// A signed 64-bit integer that threads update atomically.
#[pyclass(name = "AtomicInt", module = "lockless", frozen, weakref)]
pub(crate) struct PyAtomicInt {
    inner: AtomicInt,
}

/// An operand of an operator: an `int` or an `AtomicInt` (read once). Anything else fails to
/// extract, which PyO3 turns into `NotImplemented` for operators.
pub(crate) enum Operand<'py> {
    /// Fits in int64.
    Small(i64),
    /// An `int` outside int64.
    Big(Bound<'py, PyInt>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Operand<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(atomic) = obj.cast::<PyAtomicInt>() {
            return Ok(Operand::Small(atomic.get().inner.load()));
        }
        let int = obj.cast::<PyInt>()?;
        // The only way an int fails to convert to i64 is by being out of range.
        Ok(match int.extract::<i64>() {
            Ok(small) => Operand::Small(small),
            Err(_) => Operand::Big(int.to_owned()),
        })
    }
}

impl<'py> Operand<'py> {
    fn into_int(self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            Operand::Small(v) => PyInt::new(py, v).into_any(),
            Operand::Big(int) => int.into_any(),
        }
    }
}

/// An operand of a binary operator or a comparison: an exact `int` or `bool`, or an
/// `AtomicInt` (read once), which the value's own `int` arithmetic takes; or anything else,
/// including subclasses of `int`, for Python's operator protocol ([`python_binary`]).
pub(crate) enum Other<'py> {
    Int(Operand<'py>),
    Foreign(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Other<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_exact_instance_of::<PyInt>()
            || obj.is_exact_instance_of::<PyBool>()
            || obj.cast::<PyAtomicInt>().is_ok()
        {
            return Ok(Other::Int(obj.extract()?));
        }
        Ok(Other::Foreign(obj.to_owned()))
    }
}

/// The in-place operand: an `int` (of any size; a subclass too) or an `AtomicInt`. Anything
/// else raises `TypeError`, as the value must stay an int64.
fn inplace_operand<'py>(op: IntOp, other: &Bound<'py, PyAny>) -> PyResult<Operand<'py>> {
    other.extract().map_err(|_| {
        let symbol = match op {
            IntOp::Add => "+=",
            IntOp::Sub => "-=",
            IntOp::Mul => "*=",
            IntOp::FloorDiv => "//=",
            IntOp::Mod => "%=",
            IntOp::Pow => "**=",
            IntOp::Shl => "<<=",
            IntOp::Shr => ">>=",
            IntOp::And => "&=",
            IntOp::Or => "|=",
            IntOp::Xor => "^=",
        };
        let name = other.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
        PyTypeError::new_err(format!(
            "unsupported operand type(s) for {symbol}: 'lockless.AtomicInt' and '{name}' (an AtomicInt holds an int; \
             use the binary operator for a result of another type)"
        ))
    })
}

/// The special method `name` as Python's operators find it: in the class dictionaries along
/// `ty`'s MRO, neither on the instance nor on the metaclass. `None` if absent (or set to None).
fn lookup_special<'py>(
    ty: &Bound<'py, PyType>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = ty.py();
    for cls in ty.mro().iter() {
        match cls.getattr(intern!(py, "__dict__"))?.get_item(name) {
            Ok(found) => return Ok((!found.is_none()).then_some(found)),
            Err(err) if err.is_instance_of::<PyKeyError>(py) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// `method(obj, arg)`, as Python calls a special method it looked up: a function or a method
/// descriptor (the usual kinds) is called with `obj` as its first argument; anything else is
/// first bound to `obj` by the descriptor protocol.
fn call_special<'py>(
    obj: &Bound<'py, PyAny>,
    method: &Bound<'py, PyAny>,
    arg: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let kind = method.get_type();
    // SAFETY: `kind` is a live type object, held by the Bound for the call.
    let flags = unsafe { pyo3::ffi::PyType_GetFlags(kind.as_type_ptr()) };
    if flags & pyo3::ffi::Py_TPFLAGS_METHOD_DESCRIPTOR != 0 {
        // Not bound with `__get__`: for obj = None that would give the unbound descriptor.
        return method.call1((obj, arg));
    }
    let bound = match kind.getattr_opt(intern!(py, "__get__"))? {
        Some(get) => get.call1((method, obj, obj.get_type()))?,
        None => method.clone(),
    };
    bound.call1((arg,))
}

/// `left <op> right` by Python's binary operator protocol: `left.name(right)`, then
/// `right.rname(left)` (first, if `right`'s type is a proper subclass of `left`'s with its own
/// `rname`), each skipped when absent and passed over when it returns `NotImplemented`.
/// `None` where neither side implements the operation for these operands. (A comparison is
/// the same with `name` and its reflection: `__lt__` and `__gt__`, `__eq__` and `__eq__`.)
fn python_binary<'py>(
    left: &Bound<'py, PyAny>,
    right: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    rname: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = left.py();
    let not_implemented = py.NotImplemented();
    let (left_type, right_type) = (left.get_type(), right.get_type());
    let forward = lookup_special(&left_type, name)?;
    let mut reflected = if right_type.is(&left_type) {
        None
    } else {
        lookup_special(&right_type, rname)?
    };
    if let Some(method) = &reflected {
        let overrides = match lookup_special(&left_type, rname)? {
            Some(inherited) => !inherited.is(method),
            None => true,
        };
        if overrides && right_type.is_subclass(&left_type)? {
            let result = call_special(right, method, left)?;
            if !result.is(&not_implemented) {
                return Ok(Some(result));
            }
            reflected = None;
        }
    }
    for (obj, method, arg) in [(left, forward, right), (right, reflected, left)] {
        if let Some(method) = method {
            let result = call_special(obj, &method, arg)?;
            if !result.is(&not_implemented) {
                return Ok(Some(result));
            }
        }
    }
    Ok(None)
}

/// `a <op> b` computed by Python's `int`, for the binary operators and the big-operand path.
fn py_apply<'py>(
    op: IntOp,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = a.py();
    match op {
        IntOp::Add => a.add(b),
        IntOp::Sub => a.sub(b),
        IntOp::Mul => a.mul(b),
        IntOp::FloorDiv => a.floor_div(b),
        IntOp::Mod => a.rem(b),
        IntOp::Pow => a.pow(b, py.None()),
        IntOp::Shl => a.lshift(b),
        IntOp::Shr => a.rshift(b),
        IntOp::And => a.bitand(b),
        IntOp::Or => a.bitor(b),
        IntOp::Xor => a.bitxor(b),
    }
}

/// The special methods of a binary operator and of its reflection.
fn special_names(op: IntOp) -> (&'static str, &'static str) {
    match op {
        IntOp::Add => ("__add__", "__radd__"),
        IntOp::Sub => ("__sub__", "__rsub__"),
        IntOp::Mul => ("__mul__", "__rmul__"),
        IntOp::FloorDiv => ("__floordiv__", "__rfloordiv__"),
        IntOp::Mod => ("__mod__", "__rmod__"),
        IntOp::Pow => ("__pow__", "__rpow__"),
        IntOp::Shl => ("__lshift__", "__rlshift__"),
        IntOp::Shr => ("__rshift__", "__rrshift__"),
        IntOp::And => ("__and__", "__rand__"),
        IntOp::Or => ("__or__", "__ror__"),
        IntOp::Xor => ("__xor__", "__rxor__"),
    }
}

/// A result that an AtomicInt may store: an int within int64.
fn storable(result: &Bound<'_, PyAny>) -> PyResult<i64> {
    if !result.is_instance_of::<PyInt>() {
        // Only `**` with a negative exponent turns two ints into a non-int.
        return Err(int_error(IntError::NegativeExponent));
    }
    result
        .extract::<i64>()
        .map_err(|_| int_error(IntError::Overflow))
}

/// A function's result for the `update`/`accumulate` family: must be an int within int64.
fn fn_result(result: &Bound<'_, PyAny>) -> PyResult<i64> {
    if !result.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "AtomicInt update function must return an int, not '{}'",
            result.get_type().name()?
        )));
    }
    result.extract::<i64>().map_err(|_| {
        PyOverflowError::new_err("AtomicInt update function result out of int64 range")
    })
}

/// An out-of-int64 operand for an operation where only its sign (and, for `**`, its parity)
/// matters: any shift by 64 or more, and any exponent of 64 or more on |base| >= 2, behave alike.
fn saturate(op: IntOp, big: &Bound<'_, PyInt>) -> PyResult<i64> {
    let negative = big.lt(0)?;
    Ok(match (negative, op) {
        (true, _) => i64::MIN,
        (false, IntOp::Pow) => {
            let odd = big.bitand(1)?.extract::<i64>()? == 1;
            if odd {
                i64::MAX
            } else {
                i64::MAX - 1
            }
        }
        (false, _) => i64::MAX,
    })
}

impl PyAtomicInt {
    /// One atomic in-place operation; the value is unchanged on error.
    fn inplace(&self, py: Python<'_>, op: IntOp, other: Operand<'_>) -> PyResult<()> {
        let result = match other {
            Operand::Small(n) => self.inner.apply(op, n).map_err(int_error),
            Operand::Big(big) => match op {
                IntOp::Pow | IntOp::Shl | IntOp::Shr => {
                    let n = saturate(op, &big)?;
                    self.inner.apply(op, n).map_err(int_error)
                }
                // The result may still fit (e.g. `-2**62 + 2**63`): let Python's int compute it
                // inside the CAS loop and check the range.
                _ => {
                    let big = big.into_any();
                    self.inner.fetch_update(|current| {
                        storable(&py_apply(op, &PyInt::new(py, current).into_any(), &big)?)
                    })
                }
            },
        };
        result.map(drop)
    }

    /// A binary operator on a snapshot of the value: computed by Python's int for an int
    /// operand, else by Python's operator protocol ([`AtomicInt::foreign`]).
    fn binary<'py>(
        &self,
        py: Python<'py>,
        op: IntOp,
        other: Other<'py>,
        reflected: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let other = match other {
            Other::Int(int) => int,
            Other::Foreign(other) => {
                let (name, rname) = special_names(op);
                return self.foreign(&other, name, rname, reflected);
            }
        };
        let mine = PyInt::new(py, self.inner.load()).into_any();
        let theirs = other.into_int(py);
        if reflected {
            py_apply(op, &theirs, &mine)
        } else {
            py_apply(op, &mine, &theirs)
        }
    }

    /// `snapshot <op> other` (`other <op> snapshot` if `reflected`) by Python's operator
    /// protocol, with `name` and `rname` the operator's special methods: what `int` gives with
    /// `other`, or `NotImplemented` where that finds no implementation.
    fn foreign<'py>(
        &self,
        other: &Bound<'py, PyAny>,
        name: &str,
        rname: &str,
        reflected: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let mine = PyInt::new(py, self.inner.load()).into_any();
        let (name, rname) = (PyString::intern(py, name), PyString::intern(py, rname));
        let result = if reflected {
            python_binary(other, &mine, &name, &rname)?
        } else {
            python_binary(&mine, other, &name, &rname)?
        };
        Ok(result.unwrap_or_else(|| py.NotImplemented().into_bound(py)))
    }

    /// Three-argument `pow` (`reflected`: `pow(other, self, modulo)`) on a snapshot, by
    /// Python's `pow`: what `int` gives (TypeError for a float, `Decimal`'s own pow for a
    /// `Decimal` modulo ...).
    fn pow_mod<'py>(
        &self,
        py: Python<'py>,
        other: Other<'py>,
        modulo: &Bound<'py, PyAny>,
        reflected: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let other = match other {
            Other::Int(int) => int.into_int(py),
            Other::Foreign(other) => other,
        };
        let modulo = match modulo.extract::<Operand<'py>>() {
            Ok(int) => int.into_int(py),
            Err(_) => modulo.clone(),
        };
        let mine = PyInt::new(py, self.inner.load()).into_any();
        if reflected {
            other.pow(mine, modulo)
        } else {
            mine.pow(other, modulo)
        }
    }

    /// The `update`/`accumulate` family: CAS loop calling `f` on each attempt.
    fn update(&self, f: impl Fn(i64) -> PyResult<i64>) -> PyResult<(i64, i64)> {
        self.inner.fetch_update(f)
    }
}

#[pymethods]
impl PyAtomicInt {
    #[new]
    #[pyo3(signature = (value = 0))]
    fn new(value: i64) -> Self {
        Self {
            inner: AtomicInt::new(value),
        }
    }

    /// Mutable, so unhashable (like list and dict): equality follows the changing value.
    #[classattr]
    const __hash__: Option<Py<PyAny>> = None;

    /// The current value. Atomic, wait-free.
    fn get(&self) -> i64 {
        self.inner.load()
    }

    /// Stores `value` (an int within int64). Atomic, wait-free.
    fn set(&self, value: i64) {
        self.inner.store(value);
    }

    /// Stores `value` and returns the previous value. Atomic, wait-free.
    fn get_and_set(&self, value: i64) -> i64 {
        self.inner.swap(value)
    }

    /// Stores `desired` if the value equals `expected`; returns whether it did. Atomic, wait-free.
    fn compare_and_set(&self, expected: i64, desired: i64) -> bool {
        self.inner.compare_exchange(expected, desired).is_ok()
    }

    /// Stores `desired` if the value equals `expected`; returns the value found. Atomic, wait-free.
    fn compare_and_exchange(&self, expected: i64, desired: i64) -> i64 {
        match self.inner.compare_exchange(expected, desired) {
            Ok(found) | Err(found) => found,
        }
    }

    /// Adds `n`; returns the new value. Atomic, lock-free; OverflowError (value unchanged) past int64.
    #[pyo3(signature = (n = 1))]
    fn increment_and_get(&self, n: i64) -> PyResult<i64> {
        Ok(self.inner.add(n).map_err(int_error)?.1)
    }

    /// Adds `n`; returns the previous value. Atomic, lock-free; OverflowError (value unchanged) past int64.
    #[pyo3(signature = (n = 1))]
    fn get_and_increment(&self, n: i64) -> PyResult<i64> {
        Ok(self.inner.add(n).map_err(int_error)?.0)
    }

    /// Subtracts `n`; returns the new value. Atomic, lock-free; OverflowError (value unchanged) past int64.
    #[pyo3(signature = (n = 1))]
    fn decrement_and_get(&self, n: i64) -> PyResult<i64> {
        Ok(self.inner.sub(n).map_err(int_error)?.1)
    }

    /// Subtracts `n`; returns the previous value. Atomic, lock-free; OverflowError (value unchanged) past int64.
    #[pyo3(signature = (n = 1))]
    fn get_and_decrement(&self, n: i64) -> PyResult<i64> {
        Ok(self.inner.sub(n).map_err(int_error)?.0)
    }

    /// Replaces the value `v` with `fn(v)`; returns the new value. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure). The value is unchanged on any error.
    fn update_and_get(&self, r#fn: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(self.update(|v| fn_result(&r#fn.call1((v,))?))?.1)
    }

    /// Replaces the value `v` with `fn(v)`; returns the previous value. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure). The value is unchanged on any error.
    fn get_and_update(&self, r#fn: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(self.update(|v| fn_result(&r#fn.call1((v,))?))?.0)
    }

    /// Replaces the value `v` with `fn(v, x)`; returns the new value. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure). The value is unchanged on any error.
    fn accumulate_and_get(&self, x: &Bound<'_, PyAny>, r#fn: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(self.update(|v| fn_result(&r#fn.call1((v, x))?))?.1)
    }

    /// Replaces the value `v` with `fn(v, x)`; returns the previous value. Atomic, lock-free:
    /// `fn` may run more than once (keep it pure). The value is unchanged on any error.
    fn get_and_accumulate(&self, x: &Bound<'_, PyAny>, r#fn: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(self.update(|v| fn_result(&r#fn.call1((v, x))?))?.0)
    }

    // --- conversions and display -----------------------------------------------------------

    fn __int__(&self) -> i64 {
        self.inner.load()
    }

    fn __index__(&self) -> i64 {
        self.inner.load()
    }

    fn __float__(&self) -> f64 {
        // Rounds to nearest, ties to even, exactly as float(int) does.
        self.inner.load() as f64
    }

    fn __bool__(&self) -> bool {
        self.inner.load() != 0
    }

    fn __repr__(&self) -> String {
        format!("AtomicInt({})", self.inner.load())
    }

    fn __format__<'py>(&self, py: Python<'py>, spec: &str) -> PyResult<Bound<'py, PyAny>> {
        PyInt::new(py, self.inner.load()).call_method1("__format__", (spec,))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let value = slf.get().inner.load();
        PyTuple::new(
            slf.py(),
            [
                slf.get_type().into_any(),
                PyTuple::new(slf.py(), [value])?.into_any(),
            ],
        )
    }

    #[pyo3(signature = (ndigits = None))]
    fn __round__<'py>(
        &self,
        py: Python<'py>,
        ndigits: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = PyInt::new(py, self.inner.load());
        match ndigits {
            Some(n) => value.call_method1("__round__", (n,)),
            None => Ok(value.into_any()),
        }
    }

    fn __trunc__(&self) -> i64 {
        self.inner.load()
    }

    fn __floor__(&self) -> i64 {
        self.inner.load()
    }

    fn __ceil__(&self) -> i64 {
        self.inner.load()
    }

    // --- comparisons ----------------------------------------------------------------------

    fn __richcmp__<'py>(
        &self,
        py: Python<'py>,
        other: Other<'py>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let other = match other {
            Other::Int(int) => int,
            Other::Foreign(other) => {
                let (name, rname) = match op {
                    CompareOp::Lt => ("__lt__", "__gt__"),
                    CompareOp::Le => ("__le__", "__ge__"),
                    CompareOp::Eq => ("__eq__", "__eq__"),
                    CompareOp::Ne => ("__ne__", "__ne__"),
                    CompareOp::Gt => ("__gt__", "__lt__"),
                    CompareOp::Ge => ("__ge__", "__le__"),
                };
                return self.foreign(&other, name, rname, false);
            }
        };
        let mine = i128::from(self.inner.load());
        let theirs = match other {
            Operand::Small(v) => i128::from(v),
            // Outside int64: greater than every int64 if positive, less if negative.
            Operand::Big(big) => {
                if big.lt(0)? {
                    i128::MIN
                } else {
                    i128::MAX
                }
            }
        };
        Ok(PyBool::new(py, op.matches(mine.cmp(&theirs)))
            .to_owned()
            .into_any())
    }

    // --- unary operators --------------------------------------------------------------------

    fn __neg__(&self) -> i128 {
        -i128::from(self.inner.load())
    }

    fn __pos__(&self) -> i64 {
        self.inner.load()
    }

    fn __abs__(&self) -> i128 {
        i128::from(self.inner.load()).abs()
    }

    fn __invert__(&self) -> i64 {
        !self.inner.load()
    }

    // --- binary and reflected operators: what int gives, from one snapshot ---------------

    fn __add__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Add, other, false)
    }
    fn __radd__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Add, other, true)
    }
    fn __sub__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Sub, other, false)
    }
    fn __rsub__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Sub, other, true)
    }
    fn __mul__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Mul, other, false)
    }
    fn __rmul__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Mul, other, true)
    }
    fn __floordiv__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::FloorDiv, other, false)
    }
    fn __rfloordiv__<'py>(
        &self,
        py: Python<'py>,
        other: Other<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::FloorDiv, other, true)
    }
    fn __mod__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Mod, other, false)
    }
    fn __rmod__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Mod, other, true)
    }
    fn __lshift__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Shl, other, false)
    }
    fn __rlshift__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Shl, other, true)
    }
    fn __rshift__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Shr, other, false)
    }
    fn __rrshift__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Shr, other, true)
    }
    fn __and__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::And, other, false)
    }
    fn __rand__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::And, other, true)
    }
    fn __or__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Or, other, false)
    }
    fn __ror__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Or, other, true)
    }
    fn __xor__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Xor, other, false)
    }
    fn __rxor__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.binary(py, IntOp::Xor, other, true)
    }

    fn __pow__<'py>(
        &self,
        py: Python<'py>,
        other: Other<'py>,
        modulo: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match modulo.filter(|m| !m.is_none()) {
            None => self.binary(py, IntOp::Pow, other, false),
            Some(modulo) => self.pow_mod(py, other, modulo, false),
        }
    }

    fn __rpow__<'py>(
        &self,
        py: Python<'py>,
        other: Other<'py>,
        modulo: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match modulo.filter(|m| !m.is_none()) {
            None => self.binary(py, IntOp::Pow, other, true),
            Some(modulo) => self.pow_mod(py, other, modulo, true),
        }
    }

    fn __truediv__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        match other {
            Other::Int(int) => PyInt::new(py, self.inner.load()).div(int.into_int(py)),
            Other::Foreign(other) => self.foreign(&other, "__truediv__", "__rtruediv__", false),
        }
    }

    fn __rtruediv__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        match other {
            Other::Int(int) => int.into_int(py).div(PyInt::new(py, self.inner.load())),
            Other::Foreign(other) => self.foreign(&other, "__truediv__", "__rtruediv__", true),
        }
    }

    fn __divmod__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        match other {
            Other::Int(int) => PyInt::new(py, self.inner.load()).divmod(int.into_int(py)),
            Other::Foreign(other) => self.foreign(&other, "__divmod__", "__rdivmod__", false),
        }
    }

    fn __rdivmod__<'py>(&self, py: Python<'py>, other: Other<'py>) -> PyResult<Bound<'py, PyAny>> {
        match other {
            Other::Int(int) => int.into_int(py).divmod(PyInt::new(py, self.inner.load())),
            Other::Foreign(other) => self.foreign(&other, "__divmod__", "__rdivmod__", true),
        }
    }

    // --- in-place operators: one atomic operation each, value kept in int64 ----------------

    fn __iadd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Add, inplace_operand(IntOp::Add, other)?)
    }
    fn __isub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Sub, inplace_operand(IntOp::Sub, other)?)
    }
    fn __imul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Mul, inplace_operand(IntOp::Mul, other)?)
    }
    fn __ifloordiv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(
            py,
            IntOp::FloorDiv,
            inplace_operand(IntOp::FloorDiv, other)?,
        )
    }
    fn __imod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Mod, inplace_operand(IntOp::Mod, other)?)
    }
    fn __ipow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.inplace(py, IntOp::Pow, inplace_operand(IntOp::Pow, other)?)
    }
    fn __ilshift__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Shl, inplace_operand(IntOp::Shl, other)?)
    }
    fn __irshift__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Shr, inplace_operand(IntOp::Shr, other)?)
    }
    fn __iand__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::And, inplace_operand(IntOp::And, other)?)
    }
    fn __ior__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Or, inplace_operand(IntOp::Or, other)?)
    }
    fn __ixor__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, IntOp::Xor, inplace_operand(IntOp::Xor, other)?)
    }

    /// `/=` would turn the value into a float, which an AtomicInt cannot hold; without this,
    /// Python would fall back to `/` and silently rebind the name to a float.
    fn __itruediv__(&self, _other: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "unsupported operand for /= on AtomicInt (the result would be a float); use //=",
        ))
    }
}

/// `increment_and_get()` with no argument, without PyO3's argument parser (see `fastcall.rs`).
pub(crate) struct FastIncrementAndGet;

impl crate::python::fastcall::FastMethod for FastIncrementAndGet {
    const NAME: &'static std::ffi::CStr = c"increment_and_get";

    crate::python::fastcall::fallback_slot!();

    fn call<'py>(
        slf: &Bound<'py, PyAny>,
        args: &[Borrowed<'_, 'py, PyAny>],
    ) -> Option<PyResult<Bound<'py, PyAny>>> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicInt.
        let atomic = unsafe { slf.cast_unchecked::<PyAtomicInt>() };
        Some(match atomic.get().inner.add(1) {
            Ok((_, new)) => Ok(new
                .into_pyobject(slf.py())
                .expect("int64 converts")
                .into_any()),
            Err(err) => Err(int_error(err)),
        })
    }

    /// The increment, unless it fails (an overflow changes nothing; `call` then raises).
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicInt.
        let atomic = unsafe { slf.cast_unchecked::<PyAtomicInt>() };
        let (_, new) = atomic.get().inner.add(1).ok()?;
        Some(crate::python::fastcall::int(new))
    }
}
