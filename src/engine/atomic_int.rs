//! A signed 64-bit atomic integer with Python `int` semantics for read-modify-write.
//!
//! # Representation
//! One [`AtomicI64`]. Every operation is a single atomic instruction or a compare-and-swap loop
//! on that one word, so each is linearizable: it takes effect at the instant of its successful
//! store (or, for a read or a failed operation, of its load).
//!
//! # Checked arithmetic
//! Python ints never wrap, and an int64 cannot hold every result, so each arithmetic operation
//! computes its result with [`IntOp::apply`] (floor division and modulo as Python defines them,
//! `ValueError` for a negative shift, and so on) and refuses to store a result outside int64:
//! the operation then fails with an [`IntError`] and the value is left as it was.
//!
//! # Fast paths
//! * `load`, `store`, `swap`, `compare_exchange`: one instruction each.
//! * `&`, `|`, `^`: `fetch_and` / `fetch_or` / `fetch_xor`; bitwise results of two int64 values
//!   are always int64, so no check is needed.
//! * Everything else (add included) is a CAS loop: a `fetch_add` cannot be proven not to
//!   overflow without knowing the current value, and a wrapped value, even briefly, would be
//!   visible to other threads.
//!
//! # Ordering
//! Every access is `SeqCst`: AtomicInt promises what Java's `AtomicLong` does, so Python code
//! may use one as a flag or a ticket that orders other memory, and all AtomicInt operations
//! take part in a single total order.

use crate::sync::{AtomicI64, Ordering};

/// Why an arithmetic operation refused to store its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    /// The result lies outside int64 (Python: `OverflowError`).
    Overflow,
    /// Division or modulo by zero, or zero to a negative power (Python: `ZeroDivisionError`).
    ZeroDivision,
    /// A shift by a negative count (Python: `ValueError`).
    NegativeShift,
    /// A negative exponent, whose result Python gives as a float (Python: `ValueError` here,
    /// since an AtomicInt can only hold an int).
    NegativeExponent,
}

impl std::fmt::Display for IntError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IntError::Overflow => "result out of int64 range",
            IntError::ZeroDivision => "integer division or modulo by zero",
            IntError::NegativeShift => "negative shift count",
            IntError::NegativeExponent => "negative exponent: the result would not be an int",
        })
    }
}

impl std::error::Error for IntError {}

/// A binary arithmetic operation with Python `int` semantics, checked against int64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a // b`, rounding toward negative infinity.
    FloorDiv,
    /// `a % b`, with the sign of `b`.
    Mod,
    /// `a ** b`
    Pow,
    /// `a << b`
    Shl,
    /// `a >> b`, arithmetic (rounding toward negative infinity).
    Shr,
    /// `a & b`
    And,
    /// `a | b`
    Or,
    /// `a ^ b`
    Xor,
}

impl IntOp {
    /// Computes `a <op> b` as Python would, or the reason the result cannot be an int64.
    pub fn apply(self, a: i64, b: i64) -> Result<i64, IntError> {
        match self {
            IntOp::Add => a.checked_add(b).ok_or(IntError::Overflow),
            IntOp::Sub => a.checked_sub(b).ok_or(IntError::Overflow),
            IntOp::Mul => a.checked_mul(b).ok_or(IntError::Overflow),
            IntOp::FloorDiv => floor_div(a, b),
            IntOp::Mod => floor_mod(a, b),
            IntOp::Pow => pow(a, b),
            IntOp::Shl => shl(a, b),
            IntOp::Shr => shr(a, b),
            IntOp::And => Ok(a & b),
            IntOp::Or => Ok(a | b),
            IntOp::Xor => Ok(a ^ b),
        }
    }
}

fn floor_div(a: i64, b: i64) -> Result<i64, IntError> {
    if b == 0 {
        return Err(IntError::ZeroDivision);
    }
    // Only i64::MIN // -1 overflows.
    let q = a.checked_div(b).ok_or(IntError::Overflow)?;
    // Truncation rounded toward zero; step down when the signs differ and it was inexact.
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        Ok(q - 1)
    } else {
        Ok(q)
    }
}

fn floor_mod(a: i64, b: i64) -> Result<i64, IntError> {
    if b == 0 {
        return Err(IntError::ZeroDivision);
    }
    // `wrapping_rem` is exact here: i64::MIN % -1 is 0, the only case `%` would trap on.
    let r = a.wrapping_rem(b);
    // Python's remainder takes the sign of the divisor; |r| < |b| so `r + b` cannot overflow.
    if r != 0 && ((r < 0) != (b < 0)) {
        Ok(r + b)
    } else {
        Ok(r)
    }
}

fn pow(base: i64, exp: i64) -> Result<i64, IntError> {
    if exp < 0 {
        return Err(if base == 0 {
            IntError::ZeroDivision
        } else {
            IntError::NegativeExponent
        });
    }
    match base {
        // These three never overflow, whatever the exponent (which may be huge).
        0 => return Ok(if exp == 0 { 1 } else { 0 }),
        1 => return Ok(1),
        -1 => return Ok(if exp % 2 == 0 { 1 } else { -1 }),
        _ => {}
    }
    // |base| >= 2, so any exponent of 64 or more overflows; below that, square and multiply.
    let exp = u32::try_from(exp).map_err(|_| IntError::Overflow)?;
    base.checked_pow(exp).ok_or(IntError::Overflow)
}

fn shl(a: i64, count: i64) -> Result<i64, IntError> {
    if count < 0 {
        return Err(IntError::NegativeShift);
    }
    if a == 0 {
        return Ok(0);
    }
    if count >= 63 {
        // Any nonzero value shifted this far leaves int64 (i64::MIN is -1 << 63, handled below).
        return if a == -1 && count == 63 {
            Ok(i64::MIN)
        } else {
            Err(IntError::Overflow)
        };
    }
    let shifted = a << count;
    // The shift lost no bits (including the sign) exactly when it can be undone.
    if shifted >> count == a {
        Ok(shifted)
    } else {
        Err(IntError::Overflow)
    }
}

fn shr(a: i64, count: i64) -> Result<i64, IntError> {
    if count < 0 {
        return Err(IntError::NegativeShift);
    }
    // Shifting by 63 or more leaves only the sign: 0 or -1, as Python gives.
    Ok(a >> count.min(63))
}

/// A signed 64-bit integer that many threads may read and update at once.
#[derive(Debug, Default)]
pub struct AtomicInt {
    value: AtomicI64,
}

impl AtomicInt {
    /// A new atomic integer holding `value`.
    pub fn new(value: i64) -> Self {
        Self {
            value: AtomicI64::new(value),
        }
    }

    /// The current value. Wait-free.
    pub fn load(&self) -> i64 {
        // SeqCst: pairs with every SeqCst store/RMW in this file; see the module docs (Ordering).
        self.value.load(Ordering::SeqCst)
    }

    /// Replaces the value. Wait-free.
    pub fn store(&self, value: i64) {
        // SeqCst: pairs with the SeqCst loads and RMWs in this file; see the module docs.
        self.value.store(value, Ordering::SeqCst);
    }

    /// Replaces the value and returns the previous one. Wait-free (one instruction).
    pub fn swap(&self, value: i64) -> i64 {
        // SeqCst: one read-modify-write in the single total order of AtomicInt operations.
        self.value.swap(value, Ordering::SeqCst)
    }

    /// Stores `desired` if the value is `expected`. Returns `Ok(expected)` if it swapped, else
    /// `Err(found)` with the value found. Wait-free (one instruction).
    pub fn compare_exchange(&self, expected: i64, desired: i64) -> Result<i64, i64> {
        self.value.compare_exchange(
            expected,
            desired,
            // SeqCst (success): the store joins the single total order; pairs with later loads.
            Ordering::SeqCst,
            // SeqCst (failure): the value returned is a SeqCst read, as `load` would give.
            Ordering::SeqCst,
        )
    }

    /// Atomically replaces the value `v` with `f(v)`, retrying if another thread changed it in
    /// between; `f` may therefore run more than once. If `f` fails, nothing is stored and its
    /// error is returned. On success returns `(old, new)`. Lock-free.
    pub fn fetch_update<E>(
        &self,
        mut f: impl FnMut(i64) -> Result<i64, E>,
    ) -> Result<(i64, i64), E> {
        let mut current = self.load();
        loop {
            let new = f(current)?;
            match self.value.compare_exchange_weak(
                current,
                new,
                // SeqCst (success): the update joins the single total order of AtomicInt ops.
                Ordering::SeqCst,
                // SeqCst (failure): the fresh value we retry from is read as `load` would.
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok((current, new)),
                Err(found) => current = found,
            }
        }
    }

    /// Atomically applies `value <op> operand` with Python semantics. Returns `(old, new)`; on
    /// error the value is unchanged. Bitwise operations are wait-free single instructions; the
    /// others are lock-free CAS loops.
    pub fn apply(&self, op: IntOp, operand: i64) -> Result<(i64, i64), IntError> {
        match op {
            IntOp::And => {
                // SeqCst: one RMW in the single total order of AtomicInt operations.
                let old = self.value.fetch_and(operand, Ordering::SeqCst);
                Ok((old, old & operand))
            }
            IntOp::Or => {
                // SeqCst: one RMW in the single total order of AtomicInt operations.
                let old = self.value.fetch_or(operand, Ordering::SeqCst);
                Ok((old, old | operand))
            }
            IntOp::Xor => {
                // SeqCst: one RMW in the single total order of AtomicInt operations.
                let old = self.value.fetch_xor(operand, Ordering::SeqCst);
                Ok((old, old ^ operand))
            }
            _ => self.fetch_update(|current| op.apply(current, operand)),
        }
    }

    /// Adds `n` (which may be negative); returns `(old, new)`. Lock-free.
    pub fn add(&self, n: i64) -> Result<(i64, i64), IntError> {
        self.apply(IntOp::Add, n)
    }

    /// Subtracts `n`; returns `(old, new)`. Lock-free.
    pub fn sub(&self, n: i64) -> Result<(i64, i64), IntError> {
        self.apply(IntOp::Sub, n)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// Python's results for the pairs below, computed with CPython `int` and written out.
    #[test]
    fn floor_division_and_modulo_follow_python() {
        let cases: [(i64, i64, i64, i64); 8] = [
            (7, 2, 3, 1),
            (-7, 2, -4, 1),
            (7, -2, -4, -1),
            (-7, -2, 3, -1),
            (6, 3, 2, 0),
            (-6, 3, -2, 0),
            (i64::MIN, 1, i64::MIN, 0),
            (i64::MIN, 2, i64::MIN / 2, 0),
        ];
        for (a, b, q, r) in cases {
            assert_eq!(IntOp::FloorDiv.apply(a, b), Ok(q), "{a} // {b}");
            assert_eq!(IntOp::Mod.apply(a, b), Ok(r), "{a} % {b}");
        }
        assert_eq!(IntOp::FloorDiv.apply(i64::MIN, -1), Err(IntError::Overflow));
        assert_eq!(IntOp::Mod.apply(i64::MIN, -1), Ok(0));
        assert_eq!(IntOp::FloorDiv.apply(1, 0), Err(IntError::ZeroDivision));
        assert_eq!(IntOp::Mod.apply(1, 0), Err(IntError::ZeroDivision));
    }

    #[test]
    fn add_sub_mul_refuse_to_wrap() {
        assert_eq!(IntOp::Add.apply(i64::MAX, 1), Err(IntError::Overflow));
        assert_eq!(IntOp::Sub.apply(i64::MIN, 1), Err(IntError::Overflow));
        assert_eq!(
            IntOp::Mul.apply(i64::MAX / 2 + 1, 2),
            Err(IntError::Overflow)
        );
        assert_eq!(IntOp::Mul.apply(i64::MIN, -1), Err(IntError::Overflow));
        assert_eq!(IntOp::Add.apply(i64::MAX - 1, 1), Ok(i64::MAX));
    }

    #[test]
    fn pow_handles_special_bases_and_negative_exponents() {
        assert_eq!(IntOp::Pow.apply(2, 62), Ok(1 << 62));
        assert_eq!(IntOp::Pow.apply(2, 63), Err(IntError::Overflow));
        assert_eq!(IntOp::Pow.apply(-2, 63), Ok(i64::MIN));
        assert_eq!(IntOp::Pow.apply(-1, i64::MAX), Ok(-1));
        assert_eq!(IntOp::Pow.apply(-1, i64::MAX - 1), Ok(1));
        assert_eq!(IntOp::Pow.apply(1, i64::MAX), Ok(1));
        assert_eq!(IntOp::Pow.apply(0, 0), Ok(1));
        assert_eq!(IntOp::Pow.apply(0, 5), Ok(0));
        assert_eq!(IntOp::Pow.apply(3, i64::MAX), Err(IntError::Overflow));
        assert_eq!(IntOp::Pow.apply(0, -1), Err(IntError::ZeroDivision));
        assert_eq!(IntOp::Pow.apply(2, -1), Err(IntError::NegativeExponent));
    }

    #[test]
    fn shifts_follow_python() {
        assert_eq!(IntOp::Shl.apply(1, 62), Ok(1 << 62));
        assert_eq!(IntOp::Shl.apply(1, 63), Err(IntError::Overflow));
        assert_eq!(IntOp::Shl.apply(-1, 63), Ok(i64::MIN));
        assert_eq!(IntOp::Shl.apply(-1, 64), Err(IntError::Overflow));
        assert_eq!(IntOp::Shl.apply(3, 62), Err(IntError::Overflow));
        assert_eq!(IntOp::Shl.apply(0, i64::MAX), Ok(0));
        assert_eq!(IntOp::Shr.apply(-5, 1), Ok(-3));
        assert_eq!(IntOp::Shr.apply(-5, 1000), Ok(-1));
        assert_eq!(IntOp::Shr.apply(5, 1000), Ok(0));
        assert_eq!(IntOp::Shl.apply(1, -1), Err(IntError::NegativeShift));
        assert_eq!(IntOp::Shr.apply(1, -1), Err(IntError::NegativeShift));
    }

    #[test]
    fn failed_operation_leaves_value_unchanged() {
        let a = AtomicInt::new(i64::MAX);
        assert_eq!(a.add(1), Err(IntError::Overflow));
        assert_eq!(a.load(), i64::MAX);
        assert_eq!(a.apply(IntOp::FloorDiv, 0), Err(IntError::ZeroDivision));
        assert_eq!(a.load(), i64::MAX);
        assert_eq!(a.fetch_update(|_| Err::<i64, &str>("no")), Err("no"));
        assert_eq!(a.load(), i64::MAX);
    }

    #[test]
    fn apply_returns_old_and_new() {
        let a = AtomicInt::new(12);
        assert_eq!(a.apply(IntOp::And, 10), Ok((12, 8)));
        assert_eq!(a.apply(IntOp::Or, 3), Ok((8, 11)));
        assert_eq!(a.apply(IntOp::Xor, 1), Ok((11, 10)));
        assert_eq!(a.apply(IntOp::Mul, -3), Ok((10, -30)));
        assert_eq!(a.apply(IntOp::FloorDiv, 7), Ok((-30, -5)));
        assert_eq!(a.compare_exchange(-5, 4), Ok(-5));
        assert_eq!(a.compare_exchange(-5, 9), Err(4));
        assert_eq!(a.swap(1), 4);
    }

    #[test]
    fn threads_adding_concurrently_give_exact_total() {
        const THREADS: usize = 8;
        const PER_THREAD: i64 = 20_000;
        let a = Arc::new(AtomicInt::new(0));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (a, barrier) = (Arc::clone(&a), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..PER_THREAD {
                        // Half the threads use the generic CAS path, half the add path.
                        if i % 2 == 0 {
                            a.add(1).unwrap();
                        } else {
                            a.fetch_update(|v| IntOp::Add.apply(v, 1)).unwrap();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(a.load(), THREADS as i64 * PER_THREAD);
    }

    #[test]
    fn concurrent_cas_from_one_expected_value_has_exactly_one_winner() {
        const THREADS: usize = 8;
        for round in 0..200 {
            let a = Arc::new(AtomicInt::new(round));
            let barrier = Arc::new(Barrier::new(THREADS));
            let handles: Vec<_> = (0..THREADS as i64)
                .map(|i| {
                    let (a, barrier) = (Arc::clone(&a), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        a.compare_exchange(round, 1000 + i).is_ok()
                    })
                })
                .collect();
            let winners = handles.into_iter().map(|h| h.join().unwrap());
            assert_eq!(winners.filter(|&won| won).count(), 1);
            assert!(a.load() >= 1000);
        }
    }
}
