"""AtomicInt: a signed 64-bit atomic integer with Python int semantics."""

from __future__ import annotations

import copy
import math
import operator
import pickle
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conftest import examples, run_threads
from lockless import AtomicInt

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
int64s = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)


def fits(v: int) -> bool:
    return INT64_MIN <= v <= INT64_MAX


# --- construction and plain methods ------------------------------------------------------------


def test_default_value_is_zero():
    assert AtomicInt().get() == 0


def test_constructor_accepts_int64_bounds():
    assert AtomicInt(INT64_MAX).get() == INT64_MAX
    assert AtomicInt(INT64_MIN).get() == INT64_MIN
    assert AtomicInt(value=7).get() == 7
    assert AtomicInt(True).get() == 1


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 10**30])
def test_constructor_out_of_range_raises_overflow_error(bad):
    with pytest.raises(OverflowError):
        AtomicInt(bad)


@pytest.mark.parametrize("bad", [1.0, "1", None, [1]])
def test_constructor_non_int_raises_type_error(bad):
    with pytest.raises(TypeError):
        AtomicInt(bad)


def test_set_and_get():
    a = AtomicInt()
    a.set(-42)
    assert a.get() == -42


def test_set_out_of_range_raises_and_leaves_value():
    a = AtomicInt(3)
    with pytest.raises(OverflowError):
        a.set(2**63)
    with pytest.raises(TypeError):
        a.set(1.5)
    assert a.get() == 3


def test_get_and_set_returns_previous():
    a = AtomicInt(1)
    assert a.get_and_set(2) == 1
    assert a.get() == 2


def test_compare_and_set_swaps_only_on_match():
    a = AtomicInt(10)
    assert a.compare_and_set(10, 11) is True
    assert a.get() == 11
    assert a.compare_and_set(10, 12) is False
    assert a.get() == 11


def test_compare_and_exchange_returns_value_found():
    a = AtomicInt(10)
    assert a.compare_and_exchange(10, 20) == 10
    assert a.get() == 20
    assert a.compare_and_exchange(10, 30) == 20
    assert a.get() == 20


def test_increment_and_decrement_family():
    a = AtomicInt(5)
    assert a.increment_and_get() == 6
    assert a.get_and_increment() == 6
    assert a.get() == 7
    assert a.increment_and_get(10) == 17
    assert a.get_and_increment(3) == 17
    assert a.decrement_and_get() == 19
    assert a.get_and_decrement() == 19
    assert a.decrement_and_get(8) == 10
    assert a.get_and_decrement(n=10) == 10
    assert a.get() == 0


def test_increment_overflow_raises_and_leaves_value():
    a = AtomicInt(INT64_MAX)
    with pytest.raises(OverflowError):
        a.increment_and_get()
    with pytest.raises(OverflowError):
        a.get_and_increment()
    assert a.get() == INT64_MAX
    b = AtomicInt(INT64_MIN)
    with pytest.raises(OverflowError):
        b.decrement_and_get()
    with pytest.raises(OverflowError):
        b.get_and_decrement()
    assert b.get() == INT64_MIN


def test_update_and_get_and_get_and_update():
    a = AtomicInt(3)
    assert a.update_and_get(lambda v: v * 10) == 30
    assert a.get_and_update(lambda v: v + 1) == 30
    assert a.get() == 31


def test_accumulate_calls_fn_with_current_then_x():
    a = AtomicInt(10)
    calls = []

    def fn(current, x):
        calls.append((current, x))
        return current - x

    assert a.accumulate_and_get(3, fn) == 7
    assert a.get_and_accumulate(2, fn) == 7
    assert a.get() == 5
    assert calls == [(10, 3), (7, 2)]


@pytest.mark.parametrize(
    "method", ["update_and_get", "get_and_update", "accumulate_and_get", "get_and_accumulate"]
)
def test_update_fn_returning_non_int_raises_type_error_value_unchanged(method):
    a = AtomicInt(4)
    args = (lambda v: 1.5,) if "update" in method else (1, lambda v, x: "x")
    with pytest.raises(TypeError):
        getattr(a, method)(*args)
    assert a.get() == 4


@pytest.mark.parametrize(
    "method", ["update_and_get", "get_and_update", "accumulate_and_get", "get_and_accumulate"]
)
def test_update_fn_result_out_of_range_raises_overflow_value_unchanged(method):
    a = AtomicInt(4)
    args = (lambda v: 2**64,) if "update" in method else (1, lambda v, x: -(2**64))
    with pytest.raises(OverflowError):
        getattr(a, method)(*args)
    assert a.get() == 4


def test_update_fn_exception_propagates_value_unchanged():
    a = AtomicInt(4)

    def boom(v):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        a.update_and_get(boom)
    assert a.get() == 4


def test_update_fn_reruns_when_another_thread_changes_value():
    a = AtomicInt(0)
    calls = []

    def fn(v):
        calls.append(v)
        if len(calls) == 1:
            a.set(100)  # a concurrent writer, simulated: the first CAS must fail
        return v + 1

    assert a.update_and_get(fn) == 101
    assert calls == [0, 100]


# --- conversions and display --------------------------------------------------------------------


def test_int_index_float_bool():
    a = AtomicInt(7)
    assert int(a) == 7 and type(int(a)) is int
    assert operator.index(a) == 7
    assert [10, 20, 30, 40, 50, 60, 70, 80][a] == 80
    assert float(a) == 7.0 and type(float(a)) is float
    assert float(AtomicInt(INT64_MAX)) == float(INT64_MAX)
    assert bool(a) is True
    assert bool(AtomicInt(0)) is False
    assert hex(AtomicInt(255)) == "0xff"


def test_round_trunc_floor_ceil():
    a = AtomicInt(1234)
    assert round(a) == 1234
    assert round(a, -2) == 1200
    assert math.trunc(a) == math.floor(a) == math.ceil(a) == 1234


def test_format_uses_int_format():
    a = AtomicInt(1234567)
    assert format(a) == "1234567"
    assert f"{a:,}" == "1,234,567"
    assert f"{a:>10}" == "   1234567"
    assert f"{AtomicInt(255):#x}" == "0xff"


def test_repr():
    assert repr(AtomicInt(5)) == "AtomicInt(5)"
    assert repr(AtomicInt(-3)) == "AtomicInt(-3)"


def test_unhashable_like_other_mutable_containers():
    assert AtomicInt.__hash__ is None
    with pytest.raises(TypeError):
        hash(AtomicInt(1))


def test_pickle_round_trip():
    a = AtomicInt(-123)
    b = pickle.loads(pickle.dumps(a))
    assert type(b) is AtomicInt and b.get() == -123 and b is not a


def test_copy_and_deepcopy_are_independent():
    a = AtomicInt(9)
    for b in (copy.copy(a), copy.deepcopy(a)):
        assert b.get() == 9 and b is not a
        b.set(1)
        assert a.get() == 9


# --- comparisons --------------------------------------------------------------------------------


def test_comparisons_with_int_and_atomic_int():
    a = AtomicInt(5)
    assert a == 5 and 5 == a and a == AtomicInt(5)
    assert a != 6 and a != AtomicInt(6)
    assert a < 6 and a <= 5 and a > 4 and a >= 5
    assert 4 < a and 6 > a
    assert AtomicInt(1) < AtomicInt(2)
    assert a < 2**100 and a > -(2**100)
    assert not (a == 2**100)


def test_comparison_with_other_types():
    a = AtomicInt(1)
    assert a != "1" and not (a == "1")
    assert a == 1.0 and not (a != 1.0)  # as 1 == 1.0: test_atomic_int_numeric.py has the rest
    with pytest.raises(TypeError):
        a < "x"  # noqa: B015


# --- unary, binary and reflected operators --------------------------------------------------------


def test_unary_operators_return_int():
    a = AtomicInt(-5)
    assert -a == 5 and +a == -5 and abs(a) == 5 and ~a == 4
    assert -AtomicInt(INT64_MIN) == 2**63  # exact, like int
    assert abs(AtomicInt(INT64_MIN)) == 2**63


BINARY = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.lshift,
    operator.rshift,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.truediv,
    divmod,
]


def outcome(f):
    """The result of f(), or the type of the arithmetic exception it raised."""
    try:
        return f()
    except (ZeroDivisionError, ValueError) as exc:
        return type(exc)


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x,y", [(7, 3), (-7, 3), (7, -3), (2**62, 4), (5, 2**70), (0, 5)])
def test_binary_and_reflected_operators_match_int(op, x, y):
    if op in (operator.pow, operator.lshift) and y > 64:
        y = 3  # keep Python from building a gigantic int
    expected = outcome(lambda: op(x, y))
    pairs = [(AtomicInt(x), y)]
    if fits(y):
        pairs += [(x, AtomicInt(y)), (AtomicInt(x), AtomicInt(y))]
    for left, right in pairs:
        result = outcome(lambda: op(left, right))
        assert result == expected
        assert type(result) is type(expected)


def test_binary_result_is_a_plain_int_beyond_int64():
    a = AtomicInt(INT64_MAX)
    assert a + 1 == 2**63 and type(a + 1) is int
    assert a * a == INT64_MAX**2
    assert 1 << AtomicInt(100) == 2**100


def test_three_argument_pow():
    assert pow(AtomicInt(3), 4, 5) == pow(3, 4, 5)
    assert pow(AtomicInt(3), AtomicInt(4), AtomicInt(5)) == pow(3, 4, 5)


@pytest.mark.parametrize("op", [operator.floordiv, operator.mod, divmod, operator.truediv])
def test_binary_division_by_zero_raises_zero_division(op):
    with pytest.raises(ZeroDivisionError):
        op(AtomicInt(1), 0)
    with pytest.raises(ZeroDivisionError):
        op(1, AtomicInt(0))


def test_binary_negative_shift_raises_value_error():
    with pytest.raises(ValueError):
        AtomicInt(1) << -1
    with pytest.raises(ValueError):
        1 >> AtomicInt(-1)


@pytest.mark.parametrize("other", ["x", None, [1]])
def test_binary_operators_with_unsupported_types_raise_type_error(other):
    a = AtomicInt(2)
    with pytest.raises(TypeError):
        a + other
    with pytest.raises(TypeError):
        other - a


# --- in-place operators ---------------------------------------------------------------------------

INPLACE = [
    ("+=", operator.iadd, operator.add),
    ("-=", operator.isub, operator.sub),
    ("*=", operator.imul, operator.mul),
    ("//=", operator.ifloordiv, operator.floordiv),
    ("%=", operator.imod, operator.mod),
    ("**=", operator.ipow, operator.pow),
    ("<<=", operator.ilshift, operator.lshift),
    (">>=", operator.irshift, operator.rshift),
    ("&=", operator.iand, operator.and_),
    ("|=", operator.ior, operator.or_),
    ("^=", operator.ixor, operator.xor),
]


@pytest.mark.parametrize("name,iop,op", INPLACE, ids=[n for n, _, _ in INPLACE])
@pytest.mark.parametrize("x,y", [(7, 3), (-7, 3), (7, -3), (-7, -3), (12, 10), (0, 0)])
def test_inplace_operator_matches_int_and_returns_same_object(name, iop, op, x, y):
    try:
        expected = op(x, y)
    except (ZeroDivisionError, ValueError) as exc:
        expected = type(exc)
    if name == "**=" and y < 0:
        expected = ZeroDivisionError if x == 0 else ValueError
    for operand in (y, AtomicInt(y)):
        a = AtomicInt(x)
        if isinstance(expected, type):
            with pytest.raises(expected):
                iop(a, operand)
            assert a.get() == x
        else:
            result = iop(a, operand)
            assert result is a
            assert a.get() == expected


def test_inplace_statement_keeps_the_same_object():
    a = AtomicInt(1)
    original = a
    a += 4
    a *= 3
    a -= 1
    a //= 2
    a **= 2
    a %= 40
    a <<= 2
    a >>= 1
    a |= 1
    a &= 0xFF
    a ^= 0b10
    assert a is original
    expected = 1
    expected += 4
    expected *= 3
    expected -= 1
    expected //= 2
    expected **= 2
    expected %= 40
    expected <<= 2
    expected >>= 1
    expected |= 1
    expected &= 0xFF
    expected ^= 0b10
    assert a.get() == expected


@pytest.mark.parametrize(
    "start,iop,operand",
    [
        (INT64_MAX, operator.iadd, 1),
        (INT64_MIN, operator.isub, 1),
        (2**62, operator.imul, 2),
        (INT64_MIN, operator.imul, -1),
        (INT64_MIN, operator.ifloordiv, -1),
        (2, operator.ipow, 63),
        (3, operator.ipow, 2**70),
        (1, operator.ilshift, 63),
        (1, operator.ilshift, 2**70),
        (5, operator.iadd, 2**70),
        (1, operator.ior, 2**70),
        (-1, operator.iand, 2**70),
    ],
)
def test_inplace_overflow_raises_and_leaves_value_unchanged(start, iop, operand):
    a = AtomicInt(start)
    with pytest.raises(OverflowError):
        iop(a, operand)
    assert a.get() == start


def test_inplace_with_big_operand_whose_result_fits_succeeds():
    a = AtomicInt(-(2**62))
    a += 2**63
    assert a.get() == 2**62
    b = AtomicInt(3)
    b &= 2**70 + 1
    assert b.get() == 1
    c = AtomicInt(5)
    c //= 2**70
    assert c.get() == 0
    d = AtomicInt(-1)
    d **= 2**70 + 1
    assert d.get() == -1
    e = AtomicInt(-5)
    e >>= 2**70
    assert e.get() == -1


def test_inplace_zero_division_and_negative_shift_leave_value():
    a = AtomicInt(8)
    with pytest.raises(ZeroDivisionError):
        a //= 0
    with pytest.raises(ZeroDivisionError):
        a %= 0
    with pytest.raises(ZeroDivisionError):
        AtomicInt(0).__ipow__(-1)
    with pytest.raises(ValueError):
        a <<= -1
    with pytest.raises(ValueError):
        a >>= -(2**70)
    with pytest.raises(ValueError):
        a **= -1
    assert a.get() == 8


def test_inplace_true_division_is_refused_not_silently_a_float():
    a = AtomicInt(8)
    with pytest.raises(TypeError):
        a /= 2
    assert isinstance(a, AtomicInt) and a.get() == 8


def test_inplace_with_unsupported_type_raises_type_error():
    a = AtomicInt(8)
    with pytest.raises(TypeError):
        a += 1.5
    with pytest.raises(TypeError):
        a += "x"
    assert isinstance(a, AtomicInt) and a.get() == 8


# --- concurrency ----------------------------------------------------------------------------------


def test_threads_incrementing_give_exact_total(switch_often):
    threads, per_thread = 8, 5_000
    a = AtomicInt()

    def work(_):
        for _ in range(per_thread):
            a.increment_and_get()

    run_threads(threads, work)
    assert a.get() == threads * per_thread


def test_threads_using_inplace_add_give_exact_total(switch_often):
    threads, per_thread = 8, 5_000
    a = AtomicInt()

    def work(_):
        local = a
        for _ in range(per_thread):
            local += 1
        return local

    results = run_threads(threads, work)
    assert all(r is a for r in results)
    assert a.get() == threads * per_thread


def test_threads_using_update_and_get_give_exact_total(switch_often):
    threads, per_thread = 4, 2_000
    a = AtomicInt()

    def work(_):
        for _ in range(per_thread):
            a.update_and_get(lambda v: v + 2)

    run_threads(threads, work)
    assert a.get() == 2 * threads * per_thread


def test_cas_from_same_expected_has_exactly_one_winner():
    for round_ in range(50):
        a = AtomicInt(round_)
        wins = run_threads(8, lambda i: a.compare_and_set(round_, 1000 + i))
        assert sum(wins) == 1
        assert a.get() == 1000 + wins.index(True)


def test_get_and_increment_hands_out_unique_tickets(switch_often):
    a = AtomicInt()
    tickets = run_threads(4, lambda _: [a.get_and_increment() for _ in range(2_000)])
    flat = [t for ts in tickets for t in ts]
    assert sorted(flat) == list(range(8_000))


def test_many_threads_xor_toggle_is_exact():
    a = AtomicInt(0)
    mask_per_thread = [1 << i for i in range(8)]

    def work(i):
        for _ in range(1001):  # odd number of toggles: each bit ends set
            a.__ixor__(mask_per_thread[i])

    run_threads(8, work)
    assert a.get() == 0xFF


def test_atomic_int_flag_publishes_data_written_before_it():
    # SeqCst, like Java's AtomicLong: a reader that sees the flag sees what preceded it.
    flag = AtomicInt()
    box: list[int] = []
    seen: list[int] = []
    done = threading.Event()

    def writer(_):
        box.append(42)
        flag.set(1)

    def reader(_):
        while not flag.get():
            pass
        seen.append(box[0])
        done.set()

    run_threads(2, lambda i: (writer if i == 0 else reader)(i))
    assert done.is_set() and seen == [42]


# --- model-based: AtomicInt vs int under int64 rules -------------------------------------------

OPS = {
    "add": operator.iadd,
    "sub": operator.isub,
    "mul": operator.imul,
    "floordiv": operator.ifloordiv,
    "mod": operator.imod,
    "pow": operator.ipow,
    "lshift": operator.ilshift,
    "rshift": operator.irshift,
    "and": operator.iand,
    "or": operator.ior,
    "xor": operator.ixor,
}
PLAIN = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
}
operands = st.one_of(
    st.integers(-70, 70), int64s, st.integers(-(2**80), 2**80), st.sampled_from([0, 1, -1])
)


def model_result(name: str, x: int, y: int):
    """What an AtomicInt must do for `x <name>= y`: the new value, or the exception type."""
    if name == "pow" and y < 0:
        return ZeroDivisionError if x == 0 else ValueError
    if name == "pow" and abs(x) >= 2 and y > 64:
        return OverflowError
    if name == "lshift" and x != 0 and y > 64:
        return OverflowError if y >= 0 else ValueError
    try:
        r = PLAIN[name](x, y)
    except (ZeroDivisionError, ValueError) as exc:
        return type(exc)
    return r if fits(r) else OverflowError


class AtomicIntMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = 0
        self.real = AtomicInt(0)

    @rule(v=int64s)
    def set(self, v):
        self.real.set(v)
        self.model = v

    @rule(v=int64s)
    def get_and_set(self, v):
        assert self.real.get_and_set(v) == self.model
        self.model = v

    @rule(name=st.sampled_from(sorted(OPS)), y=operands)
    def inplace(self, name, y):
        expected = model_result(name, self.model, y)
        if isinstance(expected, type):
            with pytest.raises(expected):
                OPS[name](self.real, y)
        else:
            assert OPS[name](self.real, y) is self.real
            self.model = expected

    @rule(n=operands)
    def increment(self, n):
        if not fits(n) or not fits(self.model + n):
            with pytest.raises(OverflowError):
                self.real.increment_and_get(n)
        else:
            self.model += n
            assert self.real.increment_and_get(n) == self.model

    @rule(expected=int64s, desired=int64s, use_current=st.booleans())
    def compare_and_set(self, expected, desired, use_current):
        if use_current:
            expected = self.model
        swapped = self.real.compare_and_set(expected, desired)
        assert swapped == (expected == self.model)
        if swapped:
            self.model = desired

    @precondition(lambda self: abs(self.model) < 2**40)
    @rule(k=st.integers(-1000, 1000))
    def update(self, k):
        assert self.real.update_and_get(lambda v: v * 3 + k) == self.model * 3 + k
        self.model = self.model * 3 + k

    @rule(y=operands, name=st.sampled_from(sorted(PLAIN)))
    def binary(self, name, y):
        if name == "pow" and (abs(y) > 64 or y < 0):
            return
        if name in ("lshift",) and (y > 200 or y < 0):
            return
        try:
            expected = PLAIN[name](self.model, y)
        except (ZeroDivisionError, ValueError) as exc:
            with pytest.raises(type(exc)):
                PLAIN[name](self.real, y)
            return
        assert PLAIN[name](self.real, y) == expected

    @invariant()
    def same_value(self):
        assert self.real.get() == self.model
        assert self.real == self.model


TestAtomicIntMachine = AtomicIntMachine.TestCase
TestAtomicIntMachine.settings = settings(max_examples=examples(150), stateful_step_count=30, deadline=None)


@given(x=int64s, y=operands)
@settings(max_examples=examples(300), deadline=None)
def test_every_inplace_operator_agrees_with_the_int64_model(x, y):
    for name, iop in OPS.items():
        expected = model_result(name, x, y)
        a = AtomicInt(x)
        if isinstance(expected, type):
            with pytest.raises(expected):
                iop(a, y)
            assert a.get() == x
        else:
            iop(a, y)
            assert a.get() == expected
