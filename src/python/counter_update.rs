//! `AtomicCounterDict.update(iterable)` and `subtract(iterable)`: adding one per element.
//!
//! Counts are unboxed in the table, so adding one element's count is a lookup and a
//! compare-and-swap of the value word, allocating nothing: one thread adds elements one by one
//! faster than `Counter.update` counts them (which makes an int object per count above 256).
//! Threads counting at once, though, would then compare-and-swap the same hot keys' words for
//! every element, pulling their cache lines from each other. So an iterable whose elements
//! repeat keys is counted a chunk at a time in a *private* table of the same kind (no other
//! thread sees it, so its lines stay in this core's cache), and each distinct key's sum is then
//! added to the shared table in one atomic step, in order of first occurrence: one shared write
//! per key per chunk (Java's LongAdder argument).
//!
//! Only builtin containers whose iteration runs no Python code are counted privately (an exact
//! list, tuple, str, bytes, range, set, frozenset or dict): a generator may read the counter
//! between two elements and must then find every earlier element counted, as with Counter.
//! Short lists and tuples, and input whose first elements were mostly distinct, are added one by
//! one too, where a private table would only cost.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFrozenSet, PyIterator, PyList, PyRange, PySet, PyString, PyTuple};

use crate::python::counter::{add_hashed, add_to, Counts};

/// Lists and tuples of at most this many elements are added one by one.
pub(crate) const SHORT: usize = 64;
/// The first elements counted privately, to see whether they repeat keys.
pub(crate) const SAMPLE: usize = 1 << 12;
/// Elements counted privately at a time: enough that the shared adds (one per distinct key per
/// chunk) cost little beside the counting, few enough to bound the private table and to keep
/// counts appearing while a long list is read.
pub(crate) const CHUNK: usize = 1 << 20;

/// Adds `sign` for each element of `iterable` to `counts`, each key atomically; an error stops
/// there, keeping what was counted before it (see the module docs for how). `short`, `sample`
/// and `chunk` are [`SHORT`], [`SAMPLE`] and [`CHUNK`] but in tests.
pub(crate) fn count_all(
    counts: &Counts,
    iterable: &Bound<'_, PyAny>,
    sign: i64,
    short: usize,
    sample: usize,
    chunk: usize,
) -> PyResult<()> {
    let len = match iterable.cast::<PyList>() {
        Ok(list) => Some(list.len()),
        Err(_) => iterable.cast::<PyTuple>().ok().map(|t| t.len()),
    };
    let elements = iterable.try_iter()?;
    if len.is_some_and(|n| n <= short) || !runs_no_code_to_iterate(iterable) {
        return count_each(counts, &elements, sign);
    }
    let (sample, chunk) = (sample.max(1), chunk.max(1));
    let (counted, distinct) = count_chunk(counts, &elements, sample, sign)?;
    if counted < sample {
        return Ok(());
    }
    if 2 * distinct > counted {
        return count_each(counts, &elements, sign);
    }
    while count_chunk(counts, &elements, chunk, sign)?.0 == chunk {}
    Ok(())
}

/// Whether `iterable` is a builtin container whose iteration runs no Python code.
fn runs_no_code_to_iterate(iterable: &Bound<'_, PyAny>) -> bool {
    iterable.is_exact_instance_of::<PyList>()
        || iterable.is_exact_instance_of::<PyTuple>()
        || iterable.is_exact_instance_of::<PyString>()
        || iterable.is_exact_instance_of::<PyBytes>()
        || iterable.is_exact_instance_of::<PyRange>()
        || iterable.is_exact_instance_of::<PySet>()
        || iterable.is_exact_instance_of::<PyFrozenSet>()
        || iterable.is_exact_instance_of::<PyDict>()
}

/// Adds `sign` to `counts` for each element `elements` yields, one by one.
fn count_each(counts: &Counts, elements: &Bound<'_, PyIterator>, sign: i64) -> PyResult<()> {
    for key in elements.clone() {
        add_to(counts, &key?, sign)?;
    }
    Ok(())
}

/// Counts the next `n` elements (fewer if `elements` ends) in a private table, then adds `sign`
/// times each key's sum to `counts`, also when counting raised (for what was counted before
/// it). Returns how many elements were counted and how many distinct keys they had. An error
/// while the sums are added (a count leaving `i64`, an `__eq__` raising against a stored key)
/// stops there: the sums of keys first met before the failing one are added, the rest not, so
/// later elements of the chunk may be counted (unlike Counter; see docs/consistency.md).
fn count_chunk(counts: &Counts, elements: &Bound<'_, PyIterator>, n: usize, sign: i64) -> PyResult<(usize, usize)> {
    let private = Counts::new();
    let mut counted = 0;
    let mut counting = Ok(());
    for key in elements.clone() {
        if let Err(err) = key.and_then(|key| add_to(&private, &key, 1)) {
            counting = Err(err);
            break;
        }
        counted += 1;
        if counted == n {
            break;
        }
    }
    let mut distinct = 0;
    let cursor = private.cursor();
    // With the hash the private table stored: each element was hashed once, as by Counter.
    while let Some((hash, key, sum)) = private.cursor_next(&cursor) {
        distinct += 1;
        // At most `n` elements each: the product fits unless `n` is near i64's range.
        let add = sum.get().checked_mul(sign).ok_or_else(crate::python::counter::overflow)?;
        add_hashed(counts, &key.bind(elements.py()), hash, add)?;
    }
    counting.map(|()| (counted, distinct))
}
