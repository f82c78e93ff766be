//! Fast paths for the hottest calls: `AtomicCounter.increment()`, `AtomicInt.increment_and_get()`,
//! `AtomicDict.add(key)` and `AtomicSet.add(x)`.
//!
//! PyO3 runs every call of a method that has optional parameters through its generic argument
//! parser: about 140 instructions (callgrind), more than `AtomicCounter.increment()` itself
//! costs. For these few methods we put a `METH_FASTCALL | METH_KEYWORDS` function of our own in
//! the type's dict, over the method PyO3 made. It serves the common call (the positional
//! arguments [`FastMethod::call`] accepts, no keywords) directly and hands every other call,
//! unchanged, to PyO3's method, which it keeps: so arguments are checked, converted and reported
//! exactly as before, and `__doc__` and the signature are PyO3's.
//!
//! Even that path runs inside PyO3's trampoline (attach bookkeeping: a thread-local counter up
//! and down, the reference-pool check; ~40 instructions with the argument handling). A method
//! whose commonest call can be served without failing and without dropping a `Py` (an exact str
//! or int key, decided without Python code, as `slots.rs` serves the dict's slots) does so in
//! [`FastMethod::direct`], before the trampoline.

use std::ffi::{CStr, CString};

use pyo3::ffi;
use pyo3::impl_::trampoline::{fastcall_cfunction_with_keywords as pyo3_fastcall, MethodDef};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// A method with a fast path.
pub(crate) trait FastMethod {
    /// The method's name.
    const NAME: &'static CStr;

    /// Where [`install`] keeps the method PyO3 made, for every call the fast path declines.
    fn fallback() -> &'static PyOnceLock<Py<PyAny>>;

    /// Serves `slf.NAME(*args)` (no keywords), or returns `None` to leave it to the fallback.
    /// `slf` is an instance of the type the method was installed on (CPython's method
    /// descriptor checks that before calling).
    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>>;

    /// Serves `slf.NAME(*args)` (no keywords) outside PyO3's trampoline, returning the result
    /// (a new reference), or `None` to leave the call to [`FastMethod::call`]. Runs outside
    /// PyO3's attach bookkeeping, so it must drop no `Py` (its decref would go to PyO3's pool)
    /// and raise nothing of its own; what it declines it must leave undone, since `call` then
    /// does it. Only making the result may fail (a MemoryError): null, with the error set.
    #[inline(always)]
    fn direct<'py>(_slf: Borrowed<'_, 'py, PyAny>, _args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut ffi::PyObject> {
        None
    }
}

/// A new reference to `None`, [`FastMethod::direct`]'s result for a method that returns nothing.
pub(crate) fn none() -> *mut ffi::PyObject {
    // SAFETY: `Py_None` is a static object; `direct` runs attached, where taking a reference is
    // allowed.
    unsafe { ffi::Py_NewRef(ffi::Py_None()) }
}

/// A new `int` (null with a MemoryError set if it cannot be made), [`FastMethod::direct`]'s
/// result for a method that returns a count.
pub(crate) fn int(n: i64) -> *mut ffi::PyObject {
    // SAFETY: `direct` runs attached, where making an object is allowed.
    unsafe { ffi::PyLong_FromLongLong(n) }
}

/// Defines [`FastMethod::fallback`] with a static of the impl's own.
macro_rules! fallback_slot {
    () => {
        fn fallback() -> &'static pyo3::sync::PyOnceLock<pyo3::Py<pyo3::PyAny>> {
            static FALLBACK: pyo3::sync::PyOnceLock<pyo3::Py<pyo3::PyAny>> = pyo3::sync::PyOnceLock::new();
            &FALLBACK
        }
    };
}
pub(crate) use fallback_slot;

/// Replaces `ty.M::NAME` with the fast path, keeping PyO3's method as its fallback. Call once,
/// at module initialisation.
pub(crate) fn install<M: FastMethod>(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let py = ty.py();
    let name = M::NAME.to_str().expect("method names are ASCII");
    let original = ty.getattr(name)?;
    // PyO3's docstring with its signature line, so `help()` and `inspect.signature` see the
    // same method as before.
    let signature: String = original.getattr("__text_signature__")?.extract().unwrap_or_default();
    let doc: String = original.getattr("__doc__")?.extract().unwrap_or_default();
    let doc = CString::new(format!("{name}{signature}\n--\n\n{doc}")).expect("docstrings have no NUL");
    let doc: &'static CStr = Box::leak(doc.into_boxed_c_str());
    let meth = ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: entry::<M> };
    // SAFETY: `entry` is a fastcall-with-keywords function and takes any instance of `ty`.
    let descr = unsafe { leaked_method(ty, M::NAME, ffi::METH_FASTCALL | ffi::METH_KEYWORDS, meth, doc)? };
    if M::fallback().set(py, original.unbind()).is_err() {
        return Ok(()); // already installed
    }
    ty.setattr(name, descr)
}

/// A method descriptor made for `cls` over a new definition (`name`, `flags`, `meth`, `doc`),
/// leaked on purpose: CPython keeps pointers to the definition and its strings for as long as
/// the type lives, which is the life of the process (we refuse subinterpreters).
///
/// # Safety
/// `meth` has the signature `flags` say, and accepts any instance of `cls` as `self`.
pub(crate) unsafe fn leaked_method<'py>(
    cls: &Bound<'py, PyType>,
    name: &'static CStr,
    flags: std::ffi::c_int,
    meth: ffi::PyMethodDefPointer,
    doc: &'static CStr,
) -> PyResult<Bound<'py, PyAny>> {
    let def = Box::leak(Box::new(ffi::PyMethodDef { ml_name: name.as_ptr(), ml_meth: meth, ml_flags: flags, ml_doc: doc.as_ptr() }));
    // SAFETY: `cls` is a live type and `def` outlives the descriptor, which calls `meth` only
    // with instances of `cls` (the caller's promise covers them).
    unsafe { Bound::from_owned_ptr_or_err(cls.py(), ffi::PyDescr_NewMethod(cls.as_type_ptr(), def)) }
}

/// The method: [`FastMethod::direct`], and every call it declines through PyO3's trampoline
/// to [`body`]. (For a method without `direct`, the first part compiles to nothing.)
///
/// # Safety
/// Called by CPython's method descriptor, attached, with `slf` an instance of the type and
/// `args` holding `PyVectorcall_NARGS(nargsf)` positional arguments followed by one value per
/// name in `kwnames` (a tuple, or null).
unsafe extern "C" fn entry<M: FastMethod>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if kwnames.is_null() {
        // SAFETY: plain arithmetic on the count CPython passed.
        let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
        if nargs <= 2 {
            // SAFETY: CPython calls methods attached, so the token is good for this call.
            let py = unsafe { Python::assume_attached() };
            // SAFETY: CPython passes a live `self`.
            let this = unsafe { Borrowed::from_ptr(py, slf) };
            let mut positional = [this; 2];
            for (i, slot) in positional.iter_mut().take(nargs).enumerate() {
                // SAFETY: `args` holds `nargs` live positional arguments for this call.
                *slot = unsafe { Borrowed::from_ptr(py, *args.add(i)) };
            }
            if let Some(out) = M::direct(this, &positional[..nargs]) {
                return out;
            }
        }
    }
    // SAFETY: PyO3's trampoline around `body`, with the arguments CPython gave us.
    unsafe { pyo3_fastcall::<Body<M>>(slf, args, nargsf, kwnames) }
}

/// `M`'s body behind PyO3's own trampoline, which does the attach bookkeeping every PyO3 method
/// gets (so dropping a `Py` in the body decrefs at once rather than through PyO3's pending
/// pool). `pyo3::impl_` is PyO3's hidden API; Cargo.toml pins PyO3 to 0.28.x.
struct Body<M>(std::marker::PhantomData<M>);

impl<M: FastMethod> MethodDef<pyo3_fastcall::Func> for Body<M> {
    const METH: pyo3_fastcall::Func = body::<M>;
}

/// The call, attached.
///
/// # Safety
/// Called through PyO3's trampoline by CPython's method descriptor, with `slf` an instance of
/// the type and `args` holding `PyVectorcall_NARGS(nargsf)` positional arguments followed by one
/// value per name in `kwnames` (a tuple, or null).
unsafe fn body<M: FastMethod>(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: plain arithmetic on the count CPython passed.
    let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
    // SAFETY: CPython passes a live `self`.
    let this = unsafe { Borrowed::from_ptr(py, slf) };
    if kwnames.is_null() && nargs <= 2 {
        let mut positional = [this; 2];
        for (i, slot) in positional.iter_mut().take(nargs).enumerate() {
            // SAFETY: `args` holds `nargs` live positional arguments for this call.
            *slot = unsafe { Borrowed::from_ptr(py, *args.add(i)) };
        }
        if let Some(result) = M::call(&this, &positional[..nargs]) {
            return result.map(Bound::into_ptr);
        }
    }
    // Every other call: PyO3's method, called as `method(self, *args, **kwargs)`.
    let fallback = M::fallback().get(py).expect("installed before the type is used");
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: `kwnames` is a tuple when not null.
        unsafe { ffi::PyTuple_GET_SIZE(kwnames) as usize }
    };
    let mut stack = Vec::with_capacity(1 + nargs + nkw);
    stack.push(slf);
    if nargs + nkw > 0 {
        // SAFETY: `args` holds `nargs + nkw` pointers for this call (and is not null then).
        stack.extend_from_slice(unsafe { std::slice::from_raw_parts(args, nargs + nkw) });
    }
    // SAFETY: the stack holds `1 + nargs` positional arguments and then one value per keyword
    // name, as vectorcall expects; all are alive for the call.
    let out = unsafe { ffi::PyObject_Vectorcall(fallback.as_ptr(), stack.as_ptr(), 1 + nargs, kwnames) };
    if out.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(out)
    }
}

/// Gives `cls` (a Python subclass of our compiled type `base`, as the package's facade classes
/// are) its own descriptor for each method it inherits from `base` and does not override: the
/// same C function and definition, made for `cls`.
///
/// Before every call, CPython's method descriptor checks that `self` is an instance of the
/// class the descriptor was made for. Against a base class that check walks the instance's
/// type's MRO (`PyType_IsSubtype`, 17 instructions a call under callgrind, on every method
/// call of a facade instance); against the instance's own class it is one pointer compare.
#[pyfunction]
#[pyo3(signature = (cls, base, /))]
pub(crate) fn _own_methods(cls: &Bound<'_, PyType>, base: &Bound<'_, PyType>) -> PyResult<()> {
    let py = cls.py();
    let method_descr = std::ptr::addr_of_mut!(ffi::PyMethodDescr_Type);
    let items = base.getattr("__dict__")?.call_method0("items")?;
    for item in items.try_iter()? {
        let (name, attr): (Bound<'_, pyo3::types::PyString>, Bound<'_, PyAny>) = item?.extract()?;
        // Only method descriptors (not slot wrappers, class methods or data descriptors), and
        // only where a lookup on `cls` finds them (not overridden between `cls` and `base`).
        if attr.get_type().as_type_ptr() != method_descr || !cls.getattr(&name)?.is(&attr) {
            continue;
        }
        // SAFETY: `attr` is exactly a method descriptor, so it has this layout.
        let (owner, def) = unsafe {
            let descr = attr.as_ptr().cast::<ffi::PyMethodDescrObject>();
            ((*descr).d_common.d_type, (*descr).d_method)
        };
        // The function accepts instances of the type the descriptor was made for.
        // SAFETY: both are live type objects (`owner` is kept alive by `attr`).
        if unsafe { ffi::PyType_IsSubtype(cls.as_type_ptr(), owner) } == 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{} is not a subclass of the class that defines {name}",
                cls.name()?
            )));
        }
        // SAFETY: the new descriptor calls `def`'s function only with instances of `cls`, which
        // are instances of `owner`, as the function requires. `owner` is in `cls`'s MRO, so
        // `cls` keeps it, and the definition it holds (static, or leaked by `install`), alive.
        let own = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(cls.as_type_ptr(), def))? };
        cls.setattr(&name, own)?;
    }
    Ok(())
}
