//! Python keys: hash once per operation; compare stored keys without running Python code while
//! pinned.
//!
//! Equality of a stored key with the caller's key, in order:
//! 1. identity (as dict: a NaN key finds itself);
//! 2. exact `str`, `int`, `bytes`, and tuples of those: compared by the builtin types' own C
//!    code, which never runs Python code and cannot re-enter the map;
//! 3. otherwise `stored == key` (the stored key's `__eq__`, as dict calls it), which is Python
//!    code: it may raise, block, or mutate the same map. It never runs inside an engine
//!    operation, because a thread that is pinned to the epoch holds back every deferred release
//!    in the process: one `__eq__` blocked on a lock would let memory grow without bound. The
//!    operation instead stops unchanged with [`Fail::Compare`]; the caller compares unpinned,
//!    records the answer in [`Known`], and runs the operation again ([`try_keyed`]). The run
//!    that completes decides with every answer in hand, all inside one pinned engine
//!    operation, so it stays linearizable.
//!
//! Every map with Python keys (AtomicDict, AtomicSet, AtomicCounterDict) goes through
//! [`key_hash`], [`try_keyed`] and [`keyed`], whatever its values are.

use std::collections::HashMap;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString, PyTuple};

use crate::engine::dict::{AtomicDict, CapacityError, KeyHash};
use crate::python::errors::capacity_error;
use crate::engine::reclaim::Handle;
use crate::python::handle::PyHandle;

/// A key's hash as the engine takes it (`hash()` once, here, before the operation). With
/// `fingerprint` (the map asks for it once it has met long runs of keys of one hash), an exact
/// int also gets a fingerprint, its low 64 bits: ints that share a hash (any `i * (2**61 - 1)`
/// has hash 0) then get different index tags, so a probe past them reads only the index instead
/// of comparing each one (see `KeyHash`). Other types, floats equal to ints included, are tagged
/// by their hash, and tags of the two kinds always match.
pub(crate) fn hash_of(key: &Bound<'_, PyAny>, fingerprint: bool) -> PyResult<KeyHash> {
    Ok(tagged(key, key.hash()? as u64, fingerprint))
}

/// `key`'s [`KeyHash`] from its Python hash `hash`: see [`hash_of`].
#[inline]
fn tagged(key: &Bound<'_, PyAny>, hash: u64, fingerprint: bool) -> KeyHash {
    if fingerprint && key.is_exact_instance_of::<PyInt>() {
        return fingerprinted(key, hash);
    }
    KeyHash::new(hash)
}

/// [`tagged`] for an exact int in a map that fingerprints: out of line, so that the common
/// call inlines without this one's frame.
#[cold]
#[inline(never)]
fn fingerprinted(int: &Bound<'_, PyAny>, hash: u64) -> KeyHash {
    match low_bits(int) {
        Some(low) => KeyHash::with_fingerprint(hash, low),
        None => KeyHash::new(hash),
    }
}

/// [`key_hash`] for an exact `str` or `int`, whose hash runs no Python code and cannot fail (a
/// str's is read from the object once computed, as dict reads it); `None` for every other
/// type. With [`builtin_eq_for`], the bindings' fast paths: an operation on such a key that
/// meets no stored key of another type runs no Python code at all.
#[inline]
pub(crate) fn builtin_key_hash<V: Handle>(map: &AtomicDict<PyHandle, V>, key: &Bound<'_, PyAny>) -> Option<KeyHash> {
    let obj = key.as_ptr();
    // SAFETY: `obj` is a live object; an exact str is laid out as a PyASCIIObject, whose hash
    // field free-threaded CPython writes once with a relaxed atomic store (-1 until computed);
    // `PyObject_Hash` of an exact str or int runs only C code.
    let hash = unsafe {
        if ffi::PyUnicode_CheckExact(obj) != 0 {
            let field = std::ptr::addr_of_mut!((*obj.cast::<ffi::PyASCIIObject>()).hash);
            match std::sync::atomic::AtomicIsize::from_ptr(field).load(std::sync::atomic::Ordering::Relaxed) {
                -1 => ffi::PyObject_Hash(obj),
                cached => cached,
            }
        } else if ffi::PyLong_CheckExact(obj) != 0 {
            int_hash(obj)
        } else {
            return None;
        }
    };
    if hash == -1 {
        // Not for a str or an int; should it happen, leave the key to the general path.
        // SAFETY: attached; clears the error the failed call set.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(tagged(key, hash as u64, map.wants_fingerprints()))
}

/// An exact int's hash. A compact int's (one digit, the common key) is computed here as
/// CPython's `long_hash` computes it: the value itself, below the hash modulus, except that -1
/// (the error marker) hashes to -2. About 5 instructions against 25 for the call.
///
/// # Safety
/// `int` is a live exact int.
#[inline]
unsafe fn int_hash(int: *mut ffi::PyObject) -> ffi::Py_hash_t {
    #[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
    // SAFETY: forwarded from the caller.
    if let Some(value) = unsafe { compact_int(int) } {
        return if value == -1 { -2 } else { value as ffi::Py_hash_t };
    }
    // SAFETY: a live int; its hash runs only C code.
    unsafe { ffi::PyObject_Hash(int) }
}

/// Why a fast path gave up: deciding needs Python code (a stored key of a type other than the
/// builtin key types). The map is unchanged; the caller runs the general path.
pub(crate) struct NeedsPython;

/// A fast write that could not grow the table also gives up: the general path tries again and
/// raises the MemoryError (or OverflowError) itself.
impl From<CapacityError> for NeedsPython {
    fn from(_: CapacityError) -> Self {
        NeedsPython
    }
}

/// The equality closure of a fast path (see [`builtin_key_hash`]): identity, then the builtin
/// comparison; [`NeedsPython`] where `__eq__` would have to decide.
#[inline]
pub(crate) fn builtin_eq_for<'a, 'py>(
    key: &'a Bound<'py, PyAny>,
) -> impl FnMut(&PyHandle) -> Result<bool, NeedsPython> + 'a {
    move |stored| {
        if stored.as_ptr().as_ptr().cast::<ffi::PyObject>() == key.as_ptr() {
            return Ok(true);
        }
        builtin_eq(&stored.bind(key.py()), key).ok_or(NeedsPython)
    }
}

/// `key in map` for an exact str or int key that meets no stored key of another type, decided
/// without Python code ([`builtin_key_hash`], [`builtin_eq_for`]); `None` for every other call
/// (the general path decides). The `in` slot of the dict, the set and the counter dict.
#[inline]
pub(crate) fn builtin_contains<V: Handle>(map: &AtomicDict<PyHandle, V>, key: &Bound<'_, PyAny>) -> Option<bool> {
    let hash = builtin_key_hash(map, key)?;
    map.contains_key(hash, builtin_eq_for(key)).ok()
}

/// The low 64 bits of an exact int (two's complement), or `None` if they cannot be had.
fn low_bits(int: &Bound<'_, PyAny>) -> Option<u64> {
    if let Some(small) = small_int(int) {
        return Some(small as u64);
    }
    // Larger than 64 bits: mask (rare, and only a new int object's worth of work).
    static MASK: pyo3::sync::PyOnceLock<Py<PyInt>> = pyo3::sync::PyOnceLock::new();
    let py = int.py();
    let mask = MASK.get_or_init(py, || u64::MAX.into_pyobject(py).expect("u64 converts").unbind());
    // Fails only with MemoryError; then the hash tag serves, always correct, merely slower.
    int.bitand(mask.bind(py)).and_then(|low| low.extract::<u64>()).ok()
}

/// Why a binding's engine operation stopped without completing.
pub(crate) enum Fail {
    /// Python code raised (`__eq__` run earlier, a conversion, ...).
    Py(PyErr),
    /// The operation met this stored key, which only Python code can compare with ours. The map
    /// is unchanged; compare unpinned and run the operation again.
    Compare(Py<PyAny>),
    /// The operation's decision needs Python code (for example a user type's `__add__`). The map
    /// is unchanged; redo it the slow way, with the code run unpinned.
    Unpinned,
}

impl From<PyErr> for Fail {
    fn from(err: PyErr) -> Self {
        Fail::Py(err)
    }
}

/// A write that had to grow the map and could not allocate: MemoryError (or OverflowError for
/// an impossible size), as dict raises, with the map unchanged.
impl From<CapacityError> for Fail {
    fn from(err: CapacityError) -> Self {
        Fail::Py(capacity_error(err))
    }
}

/// Answers to `stored == key` learned unpinned during one operation, by the stored key's
/// address. The references held here keep each of those objects alive, so no other object can
/// take its address while the answers are in use. Empty (and free to make and drop) until the
/// first answer, which most operations never need.
#[derive(Default)]
pub(crate) struct Known(Option<Box<Answers>>);

struct Answers {
    held: Vec<Py<PyAny>>,
    by_address: HashMap<usize, bool>,
}

impl Known {
    /// The recorded answer for the stored key at `stored`, if any.
    fn answer(&self, stored: *mut ffi::PyObject) -> Option<bool> {
        self.0.as_ref()?.by_address.get(&(stored as usize)).copied()
    }

    /// Whether no answer is recorded yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Compares `stored` with `key` (Python code: call unpinned) and records the answer.
    pub(crate) fn learn(&mut self, stored: Bound<'_, PyAny>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        if let Some(equal) = self.answer(stored.as_ptr()) {
            return Ok(equal);
        }
        let equal = keys_equal(&stored, key)?;
        let answers = self.0.get_or_insert_with(|| Box::new(Answers { held: Vec::new(), by_address: HashMap::new() }));
        answers.by_address.insert(stored.as_ptr() as usize, equal);
        answers.held.push(stored.unbind());
        Ok(equal)
    }
}

/// `stored == key` as dict decides it: identity, then the builtin comparison, then Python's
/// `==` (the stored key's `__eq__` first). May run Python code.
pub(crate) fn keys_equal(stored: &Bound<'_, PyAny>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
    if stored.is(key) {
        return Ok(true);
    }
    match builtin_eq(stored, key) {
        Some(equal) => Ok(equal),
        None => stored.eq(key),
    }
}

/// The engine's equality closure for `key`: decides without Python code, from `known`, or
/// stops the operation with [`Fail::Compare`].
pub(crate) fn eq_for<'a, 'py>(
    key: &'a Bound<'py, PyAny>,
    known: &'a Known,
) -> impl FnMut(&PyHandle) -> Result<bool, Fail> + 'a {
    move |stored| {
        if stored.as_ptr().as_ptr().cast::<ffi::PyObject>() == key.as_ptr() {
            return Ok(true);
        }
        let stored = stored.bind(key.py());
        if let Some(equal) = builtin_eq(&stored, key) {
            return Ok(equal);
        }
        match known.answer(stored.as_ptr()) {
            Some(equal) => Ok(equal),
            // A new reference (an incref, no Python code), so the key outlives the operation.
            None => Err(Fail::Compare(stored.to_owned().unbind())),
        }
    }
}

/// `key`'s hash (and tag) for `map`: see [`hash_of`].
pub(crate) fn key_hash<V: Handle>(map: &AtomicDict<PyHandle, V>, key: &Bound<'_, PyAny>) -> PyResult<KeyHash> {
    hash_of(key, map.wants_fingerprints())
}

/// Runs `op`, one engine operation on `map` for `key` (of hash `hash`), as often as it takes:
/// each time it stops at a stored key that only `__eq__` can compare with `key`, compares
/// unpinned and runs it again with the answer. `op` must make a fresh attempt each call (build
/// its values inside). [`Fail::Unpinned`] is handed back.
pub(crate) fn try_keyed<V: Handle, R>(
    map: &AtomicDict<PyHandle, V>,
    key: &Bound<'_, PyAny>,
    hash: KeyHash,
    mut op: impl FnMut(&Known) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let py = key.py();
    let mut known = Known::default();
    loop {
        let stored = match op(&known) {
            Err(Fail::Compare(stored)) => stored.into_bound(py),
            done => return done,
        };
        let first = known.is_empty();
        if known.learn(stored, key)? || first {
            continue;
        }
        // A second key that only `__eq__` can decide: many keys share this hash. Compare them
        // all, in probe order up to the first equal one, so that the retries stay few (one per
        // colliding key would make a lookup quadratic in them). Keys already compared are
        // answered from `known`.
        for stored in map.keys_with_hash(hash) {
            if known.learn(stored.into_bound(py), key)? {
                break;
            }
        }
    }
}

/// [`try_keyed`] for operations whose decisions never need Python code.
pub(crate) fn keyed<V: Handle, R>(
    map: &AtomicDict<PyHandle, V>,
    key: &Bound<'_, PyAny>,
    hash: KeyHash,
    op: impl FnMut(&Known) -> Result<R, Fail>,
) -> PyResult<R> {
    try_keyed(map, key, hash, op).map_err(|fail| match fail {
        Fail::Py(err) => err,
        Fail::Compare(_) | Fail::Unpinned => unreachable!("handled by try_keyed or never returned"),
    })
}

/// Equality of two objects of the exact builtin key types, decided without user code; `None`
/// if either is of another type (then `__eq__` decides).
#[inline]
fn builtin_eq(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> Option<bool> {
    // Before 3.12 a str could be a legacy one, not yet "ready" (no kind, no data): those go to
    // CPython's comparison in `builtin_eq_other`.
    #[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
    if a.is_exact_instance_of::<PyString>() && b.is_exact_instance_of::<PyString>() {
        // SAFETY: both are live exact strs.
        return Some(unsafe { str_eq(a.as_ptr(), b.as_ptr()) });
    }
    #[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
    if a.is_exact_instance_of::<PyInt>() && b.is_exact_instance_of::<PyInt>() {
        // SAFETY: both are live exact ints.
        if let (Some(x), Some(y)) = unsafe { (compact_int(a.as_ptr()), compact_int(b.as_ptr())) } {
            return Some(x == y);
        }
    }
    builtin_eq_other(a, b)
}

/// The value of an exact int held in CPython's compact form (3.12 and later: at most one
/// 30-bit digit, the common key), read inline as `PyUnstable_Long_CompactValue` does (a static
/// inline function in CPython's headers, so not something we can call); `None` for a larger
/// int. About 5 instructions where `PyLong_AsLongLongAndOverflow` takes 40.
///
/// # Safety
/// `int` is a live exact int.
#[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
#[inline]
unsafe fn compact_int(int: *mut ffi::PyObject) -> Option<i64> {
    /// `PyLongObject`'s layout (`Include/cpython/longintrepr.h`, 3.12 to 3.14): the header,
    /// `lv_tag` (digit count << 3 | sign: 0 positive, 1 zero, 2 negative), the digits.
    #[repr(C)]
    struct CompactLong {
        ob_base: ffi::PyObject,
        lv_tag: usize,
        digit: u32,
    }
    // SAFETY: an int object starts with this layout and has at least one digit; ints are
    // immutable.
    let (tag, digit) = unsafe {
        let long = int.cast::<CompactLong>();
        ((*long).lv_tag, (*long).digit)
    };
    (tag < (2 << 3)).then(|| (1 - (tag & 3) as i64) * i64::from(digit))
}

/// [`builtin_eq`] of anything but two strs: out of line (it recurses into tuples), so that
/// the str comparison inlines into the probe.
#[inline(never)]
fn builtin_eq_other(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> Option<bool> {
    let ints = a.is_exact_instance_of::<PyInt>() && b.is_exact_instance_of::<PyInt>();
    if ints {
        if let (Some(x), Some(y)) = (small_int(a), small_int(b)) {
            return Some(x == y);
        }
    }
    if ints
        || a.is_exact_instance_of::<PyString>() && b.is_exact_instance_of::<PyString>()
        || a.is_exact_instance_of::<PyBytes>() && b.is_exact_instance_of::<PyBytes>()
    {
        // SAFETY: both are live objects. The builtin comparison of two exact str/int/bytes runs
        // only C code and does not fail; should it (-1), clear the error and let `==` decide.
        return match unsafe { ffi::PyObject_RichCompareBool(a.as_ptr(), b.as_ptr(), ffi::Py_EQ) } {
            -1 => {
                drop(PyErr::take(a.py()));
                None
            }
            r => Some(r == 1),
        };
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

/// Equality of two exact strs as CPython's `unicode_eq` decides it (dict's str lookup): equal
/// lengths, equal kinds (a str is always stored in the narrowest kind that holds its
/// characters, so equal strs have equal kinds), equal bytes. About 20 instructions where
/// `PyObject_RichCompareBool` takes 190 (its dispatch, a bool object); the caller compared the
/// hashes already.
///
/// # Safety
/// `a` and `b` are live exact strs.
#[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
#[inline]
unsafe fn str_eq(a: *mut ffi::PyObject, b: *mut ffi::PyObject) -> bool {
    // SAFETY: both are live strs, immutable once shared, so length, kind and data are stable.
    unsafe {
        let len = ffi::PyUnicode_GET_LENGTH(a);
        if len != ffi::PyUnicode_GET_LENGTH(b) {
            return false;
        }
        // The common key, two compact ASCII strs: one byte per character, right after the
        // header.
        if let (Some(x), Some(y)) = (ascii_data(a), ascii_data(b)) {
            return bytes_eq(x, y, len as usize);
        }
        let ((kind, x), (kind_b, y)) = (kind_and_data(a), kind_and_data(b));
        kind == kind_b && bytes_eq(x, y, len as usize * kind as usize)
    }
}

/// `state`'s bits (Include/cpython/unicodeobject.h, 3.12 and 3.13): interned 0-1, kind 2-4,
/// compact 5, ascii 6.
#[cfg(all(Py_3_12, not(Py_3_14), not(Py_LIMITED_API)))]
const COMPACT: u32 = 1 << 5;
#[cfg(all(Py_3_12, not(Py_3_14), not(Py_LIMITED_API)))]
const ASCII: u32 = 1 << 6;

/// A str's state bits (see [`COMPACT`]).
///
/// # Safety
/// `s` is a live str.
#[cfg(all(Py_3_12, not(Py_3_14), not(Py_LIMITED_API)))]
#[inline]
unsafe fn state(s: *mut ffi::PyObject) -> u32 {
    // SAFETY: `s` is a str, so it starts with a PyASCIIObject. Relaxed atomic: interning may
    // set the interned bits of a shared str (never the others).
    unsafe {
        let ascii = s.cast::<ffi::PyASCIIObject>();
        std::sync::atomic::AtomicU32::from_ptr(std::ptr::addr_of_mut!((*ascii).state))
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A compact ASCII str's characters (one byte each, after the shorter header); `None` for any
/// other str.
///
/// # Safety
/// `s` is a live str.
#[cfg(all(Py_3_12, not(Py_3_14), not(Py_LIMITED_API)))]
#[inline]
unsafe fn ascii_data(s: *mut ffi::PyObject) -> Option<*const u8> {
    // SAFETY: forwarded from the caller.
    let compact_ascii = unsafe { state(s) } & (COMPACT | ASCII) == COMPACT | ASCII;
    // SAFETY: a compact ASCII str's characters follow its PyASCIIObject header.
    compact_ascii.then(|| unsafe { s.cast::<ffi::PyASCIIObject>().add(1).cast::<u8>().cast_const() })
}

/// [`ascii_data`] on 3.14, whose state layout changed: always the general path.
///
/// # Safety
/// `s` is a live str.
#[cfg(all(Py_3_14, not(Py_LIMITED_API)))]
#[inline]
unsafe fn ascii_data(_s: *mut ffi::PyObject) -> Option<*const u8> {
    None
}

/// A str's kind (bytes per character) and its characters, as `PyUnicode_KIND` and
/// `PyUnicode_DATA` give them, from one read of the state bits (PyO3's accessors decode the
/// bitfield a bit at a time).
///
/// # Safety
/// `s` is a live str.
#[cfg(all(Py_3_12, not(Py_3_14), not(Py_LIMITED_API)))]
#[inline]
unsafe fn kind_and_data(s: *mut ffi::PyObject) -> (u32, *const u8) {
    let ascii = s.cast::<ffi::PyASCIIObject>();
    // SAFETY: `s` is a str, so it starts with a PyASCIIObject; a compact one's characters follow
    // the header (the shorter one for ASCII), a non-compact one's are behind its data pointer.
    unsafe {
        let state = state(s);
        let data = match state & (COMPACT | ASCII) {
            both if both == COMPACT | ASCII => ascii.add(1).cast::<u8>(),
            COMPACT => s.cast::<ffi::PyCompactUnicodeObject>().add(1).cast::<u8>(),
            _ => (*s.cast::<ffi::PyUnicodeObject>()).data.any.cast::<u8>(),
        };
        ((state >> 2) & 7, data)
    }
}

/// [`kind_and_data`] through CPython's functions (3.14 changed the state's layout).
///
/// # Safety
/// `s` is a live str.
#[cfg(all(Py_3_14, not(Py_LIMITED_API)))]
#[inline]
unsafe fn kind_and_data(s: *mut ffi::PyObject) -> (u32, *const u8) {
    // SAFETY: `s` is a live str.
    unsafe { (ffi::PyUnicode_KIND(s), ffi::PyUnicode_DATA(s).cast::<u8>().cast_const()) }
}

/// Whether the `n` bytes at `x` and at `y` are equal. Keys are mostly short: up to 32 bytes
/// are compared a machine word at a time, inline, rather than by a call of `memcmp`.
///
/// # Safety
/// `x` and `y` are each valid for reads of `n` bytes.
#[cfg(all(Py_3_12, not(Py_LIMITED_API)))]
#[inline]
unsafe fn bytes_eq(x: *const u8, y: *const u8, n: usize) -> bool {
    // SAFETY: every read below lies within the first `n` bytes of `x` and of `y` (overlapping
    // reads of the last word cover a tail shorter than a word); unaligned reads are allowed.
    unsafe {
        let word = |p: *const u8, at: usize| p.add(at).cast::<u64>().read_unaligned();
        let half = |p: *const u8, at: usize| p.add(at).cast::<u32>().read_unaligned();
        match n {
            0 => true,
            1..=3 => (0..n).all(|i| *x.add(i) == *y.add(i)),
            4..=7 => half(x, 0) == half(y, 0) && half(x, n - 4) == half(y, n - 4),
            8..=16 => word(x, 0) == word(y, 0) && word(x, n - 8) == word(y, n - 8),
            17..=32 => {
                word(x, 0) == word(y, 0)
                    && word(x, 8) == word(y, 8)
                    && word(x, n - 16) == word(y, n - 16)
                    && word(x, n - 8) == word(y, n - 8)
            }
            _ => std::slice::from_raw_parts(x, n) == std::slice::from_raw_parts(y, n),
        }
    }
}

/// The value of an exact int that fits 64 bits. Two such ints compare by value at about half
/// the cost of `PyObject_RichCompareBool`, which dispatches through the type's richcompare.
fn small_int(int: &Bound<'_, PyAny>) -> Option<i64> {
    let mut overflow = 0;
    // SAFETY: `int` is a live exact int; the call only reads it and cannot fail for an int.
    let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(int.as_ptr(), &mut overflow) };
    (overflow == 0).then_some(v)
}

fn is_builtin_key(x: &Bound<'_, PyAny>) -> bool {
    x.is_exact_instance_of::<PyString>()
        || x.is_exact_instance_of::<PyInt>()
        || x.is_exact_instance_of::<PyBytes>()
        || x.cast_exact::<PyTuple>().is_ok_and(|t| t.iter().all(|e| is_builtin_key(&e)))
}

/// Whether `x` is an exact `int` or `float`, whose arithmetic runs only C code (no `__add__`
/// of a user type, no finalizer), so it may run inside an engine operation.
pub(crate) fn is_plain_number(x: &Bound<'_, PyAny>) -> bool {
    x.is_exact_instance_of::<PyInt>() || x.is_exact_instance_of::<PyFloat>()
}
