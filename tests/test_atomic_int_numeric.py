"""AtomicInt takes part in Python's numeric tower as int does.

Binary and reflected operators and comparisons with any operand give what ``int`` gives with
the value (``AtomicInt(1) + 1.5 == 2.5``, ``AtomicInt(0) == 0.0``), including the exception
type where ``int`` raises. In-place operators keep the value an int64: a non-int operand raises
TypeError and leaves the value (and the name's binding) unchanged.
"""

from __future__ import annotations

import math
import operator
import sys
from decimal import Decimal
from fractions import Fraction

import pytest

from lockless import AtomicInt


class Reflecting:
    """A user type that knows only the reflected operators, like a numeric library's scalar."""

    def _reflected(name):  # noqa: N805 - a helper that makes methods
        def method(self, other):
            # On the left, Python calls this first, with the AtomicInt itself (as it would
            # with an int): the value, not the type, is what compares across the two.
            return (name, int(other))

        return method

    __radd__ = _reflected("radd")
    __rsub__ = _reflected("rsub")
    __rmul__ = _reflected("rmul")
    __rtruediv__ = _reflected("rtruediv")
    __rfloordiv__ = _reflected("rfloordiv")
    __rmod__ = _reflected("rmod")
    __rdivmod__ = _reflected("rdivmod")
    __rpow__ = _reflected("rpow")
    __rlshift__ = _reflected("rlshift")
    __rrshift__ = _reflected("rrshift")
    __rand__ = _reflected("rand")
    __ror__ = _reflected("ror")
    __rxor__ = _reflected("rxor")
    __gt__ = _reflected("gt")
    __lt__ = _reflected("lt")

    def __repr__(self) -> str:
        return "Reflecting()"


class Opaque:
    """A user type with no arithmetic at all."""

    def __repr__(self) -> str:
        return "Opaque()"


class RightInt(int):
    """An int subclass with its own reflected addition: Python calls it first, even on the right."""

    def __radd__(self, other):
        return ("RightInt.radd", type(other).__name__, other)


OPERANDS = [
    0,
    2,
    -3,
    2**70,
    True,
    False,
    1.5,
    -0.0,
    2.0,
    1e300,
    float("nan"),
    float("inf"),
    float("-inf"),
    Fraction(7, 2),
    Fraction(-1, 3),
    Decimal("2.5"),
    Decimal("-4"),
    Decimal("NaN"),
    complex(1, 2),
    complex(3, 0),
    Reflecting(),
    Opaque(),
    RightInt(5),
    "x",
    None,
    [1],
]
VALUES = [0, 3, -7, 2**62]

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "divmod": divmod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
}


def outcome(fn):
    """What a call gives, comparable across runs: the type and repr of its result (NaNs
    included), or the type of its exception."""
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - the outcome is compared
        return ("raise", type(exc))
    return ("ok", type(result), repr(result))


def too_big(name, left, right):
    """Whether ``left ** right`` or ``left << right`` is an exact number too big to compute
    (``3 ** 2**70``, ``Fraction(7, 2) ** 2**62``, ``1 << 2**62``): such cases are left out."""
    if name not in ("**", "<<") or not isinstance(right, int) or abs(right) <= 2**20:
        return False
    exact = isinstance(left, (int, Fraction))
    return exact and (left not in (0, 1, -1) if name == "**" else left != 0)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("operand", OPERANDS, ids=repr)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_operator_gives_what_int_gives(name, operand, value):
    op = BINARY[name]
    if too_big(name, value, operand):
        pytest.skip("the exact result would not fit in memory")
    assert outcome(lambda: op(AtomicInt(value), operand)) == outcome(lambda: op(value, operand))


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("operand", OPERANDS, ids=repr)
@pytest.mark.parametrize("name", list(BINARY))
def test_reflected_operator_gives_what_int_gives(name, operand, value):
    op = BINARY[name]
    if too_big(name, operand, value):
        pytest.skip("the exact result would not fit in memory")
    if name == "**" and isinstance(operand, Fraction) and sys.version_info < (3, 12):
        # Python asks the left operand first, with the AtomicInt itself; before 3.12 Fraction's
        # __pow__ turns an exponent it does not know into a float instead of declining it.
        assert type(operand ** AtomicInt(value)) is float
        return
    assert outcome(lambda: op(operand, AtomicInt(value))) == outcome(lambda: op(operand, value))


@pytest.mark.parametrize("modulo", [5, -3, 0, 2.0, Decimal(5), None])
@pytest.mark.parametrize("exponent", [2, -1, 0, 1.5, Fraction(1, 2)])
def test_three_argument_pow_gives_what_int_gives(exponent, modulo):
    for value in VALUES:
        assert outcome(lambda: pow(AtomicInt(value), exponent, modulo)) == outcome(
            lambda: pow(value, exponent, modulo)
        )


def test_the_issues_examples():
    assert AtomicInt(0) == 0.0
    assert AtomicInt(3) < 3.5
    assert AtomicInt(1) + 1.5 == 2.5 and type(AtomicInt(1) + 1.5) is float
    assert AtomicInt(1) + Fraction(1, 2) == Fraction(3, 2)
    assert Decimal("0.5") + AtomicInt(1) == Decimal("1.5")
    assert AtomicInt(3) == complex(3, 0) and AtomicInt(3) != 3j
    assert sorted([AtomicInt(3), 2.5, Fraction(7, 2), Decimal(1)]) == [Decimal(1), 2.5, 3, Fraction(7, 2)]
    assert math.isclose(AtomicInt(10) / 4, 2.5)


class Recording:
    def __radd__(self, other):
        return ("radd", type(other), other)

    def __gt__(self, other):
        return ("gt", type(other), other)


def test_a_user_types_reflected_method_receives_the_value_as_an_int_as_it_would_from_int():
    assert AtomicInt(3) + Recording() == ("radd", int, 3) == 3 + Recording()
    assert (AtomicInt(3) < Recording()) == ("gt", int, 3) == (3 < Recording())


def test_an_int_subclass_with_its_own_reflected_method_is_called_first_as_with_int():
    assert AtomicInt(3) + RightInt(5) == ("RightInt.radd", "int", 3) == 3 + RightInt(5)


def test_mixed_results_are_computed_from_one_snapshot():
    a = AtomicInt(7)
    r = a * 0.5
    a.set(100)
    assert r == 3.5


# --- in-place operators keep the value an int64 -------------------------------------------------

INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "/=": operator.itruediv,
}
NON_INT = [1.5, 2.0, float("nan"), Fraction(2), Decimal(2), complex(2, 0), Reflecting(), Opaque(), "x", None, [1]]


@pytest.mark.parametrize("operand", NON_INT, ids=repr)
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_operator_with_a_non_int_raises_type_error_and_changes_nothing(name, operand):
    a = AtomicInt(6)
    before = a
    with pytest.raises(TypeError):
        a = INPLACE[name](a, operand)
    assert a is before and type(a) is AtomicInt and a.get() == 6


def test_inplace_operator_type_error_names_the_operator_and_types():
    a = AtomicInt(6)
    with pytest.raises(TypeError, match=r"for \+=: 'lockless.AtomicInt' and 'float'"):
        a += 1.5


@pytest.mark.parametrize("operand", [True, RightInt(2), 3], ids=repr)
def test_inplace_operator_with_an_int_or_int_subclass_stores_the_int_result(operand):
    a = AtomicInt(6)
    a += operand
    assert type(a) is AtomicInt and a.get() == 6 + int(operand)


def test_still_unhashable_whatever_it_compares_equal_to():
    with pytest.raises(TypeError):
        hash(AtomicInt(0))
    assert AtomicInt.__hash__ is None
