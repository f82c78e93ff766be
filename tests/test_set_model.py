"""AtomicSet against set: random operation sequences applied to both must agree.

Every method and operator of set (and AtomicSet's atomic additions, against their meaning on a
set) runs with the operand kinds set accepts and some it refuses: set, frozenset, AtomicSet,
list, a one-shot iterator, the set itself; elements of colliding hashes, -1 and -2 (one hash in
CPython), one NaN object, tuples, frozensets, objects whose ``__eq__`` is Python code, and
unhashable lists and sets where a call may meet them. After each operation the results (as
values, with the kind of set they are), the exception types and the contents must match.
A second machine checks insertion order against a dict used as an ordered set.
"""

from __future__ import annotations

import operator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conftest import examples
from dict_support import NAN, Collide
from lockless import AtomicSet

POOL = [
    *range(-3, 12),
    "a", "b", "ab", "",
    (1, "a"), (2, ()),
    Collide("x", h=7), Collide("y", h=7), Collide("z", h=7), Collide("x", h=7),
    NAN, 1.0, 2.5,
    frozenset(), frozenset({1, 2}),
]
hashable = st.sampled_from(POOL)
# What an element argument may be: mostly elements, sometimes unhashable (a set is looked up as
# a frozenset by `in`, remove and discard).
element = st.one_of(
    hashable, hashable, hashable,
    st.just([]),
    st.sampled_from([set(), {1, 2}, {3}]),
)
KINDS = ["set", "frozenset", "atomic", "list", "iter", "self"]
operand = st.tuples(st.sampled_from(KINDS), st.lists(hashable, max_size=8), st.booleans())
setlike_kind = st.sampled_from(["set", "frozenset", "atomic", "self"])


def build(spec, target, ours):
    """The operand for one side: ``target`` is that side's set (for "self"); ``ours`` says which
    side (AtomicSet operands become sets on the model's side). A list or iterator may carry an
    unhashable element at its end (``spoil``)."""
    kind, items, spoil = spec
    if kind == "self":
        return target
    if kind in ("list", "iter"):
        items = items + [[]] if spoil else items
        return list(items) if kind == "list" else iter(list(items))
    if kind == "set":
        return set(items)
    if kind == "frozenset":
        return frozenset(items)
    return AtomicSet(items) if ours else set(items)


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return ("raised", type(exc))


def shape(result, target):
    """A comparable form of a result: sets by kind and contents, the target by identity."""
    if result is target:
        return ("target",)
    if isinstance(result, (set, AtomicSet)):
        return ("set", frozenset(result))
    if isinstance(result, frozenset):
        return ("frozenset", result)
    if isinstance(result, float) and result != result:
        return ("nan",)
    return ("value", result)


BINARY = {"|": operator.or_, "&": operator.and_, "-": operator.sub, "^": operator.xor}
INPLACE = {"|": operator.ior, "&": operator.iand, "-": operator.isub, "^": operator.ixor}
COMPARE = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, "<": operator.lt,
           ">=": operator.ge, ">": operator.gt}
MULTI = ["update", "intersection_update", "difference_update", "union", "intersection", "difference"]
SINGLE = ["symmetric_difference_update", "symmetric_difference", "issubset", "issuperset", "isdisjoint"]


class SetAgainstSet(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model: set = set()
        self.ours: AtomicSet = AtomicSet()

    def both(self, call):
        """Runs ``call(target, ours_flag)`` on each side; their outcomes must agree."""
        want = outcome(lambda: call(self.model, False))
        got = outcome(lambda: call(self.ours, True))
        if want[0] == "ok" and got[0] == "ok":
            assert shape(got[1], self.ours) == shape(want[1], self.model), (got, want)
        else:
            assert got == want, (got, want)

    @rule(x=element)
    def add(self, x):
        self.both(lambda s, _: s.add(x))

    @rule(x=element)
    def discard(self, x):
        self.both(lambda s, _: s.discard(x))

    @rule(x=element)
    def remove(self, x):
        self.both(lambda s, _: s.remove(x))

    @rule(x=element)
    def contains(self, x):
        self.both(lambda s, _: x in s)

    @rule(x=element)
    def add_if_absent(self, x):
        def call(s, ours):
            if ours:
                return s.add_if_absent(x)
            added = x not in s
            s.add(x)
            return added
        self.both(call)

    @rule(x=element)
    def discard_if_present(self, x):
        def call(s, ours):
            if ours:
                return s.discard_if_present(x)
            present = x in s
            s.discard(x)
            return present
        self.both(call)

    @rule()
    def pop(self):
        # Which element pops differs (set's is arbitrary): pop from ours, remove it from the
        # model, and require that it was there.
        if not self.model:
            self.both(lambda s, _: s.pop())
            return
        x = self.ours.pop()
        assert x in self.model
        self.model.remove(x)

    @rule()
    def clear(self):
        self.both(lambda s, _: s.clear())

    @rule()
    def copy(self):
        self.both(lambda s, _: s.copy())

    @rule(name=st.sampled_from(MULTI), specs=st.lists(operand, max_size=3))
    def multi(self, name, specs):
        self.both(lambda s, ours: getattr(s, name)(*[build(spec, s, ours) for spec in specs]))

    @rule(name=st.sampled_from(SINGLE), spec=operand)
    def single(self, name, spec):
        self.both(lambda s, ours: getattr(s, name)(build(spec, s, ours)))

    @rule(op=st.sampled_from(sorted(BINARY)), spec=operand, reflected=st.booleans())
    def binary(self, op, spec, reflected):
        fn = BINARY[op]

        def call(s, ours):
            other = build(spec, s, ours)
            return fn(other, s) if reflected else fn(s, other)
        self.both(call)

    @rule(op=st.sampled_from(sorted(INPLACE)), spec=operand)
    def inplace(self, op, spec):
        fn = INPLACE[op]
        self.both(lambda s, ours: fn(s, build(spec, s, ours)))

    @rule(op=st.sampled_from(sorted(COMPARE)), spec=operand, reflected=st.booleans())
    def compare(self, op, spec, reflected):
        fn = COMPARE[op]

        def call(s, ours):
            other = build(spec, s, ours)
            return fn(other, s) if reflected else fn(s, other)
        self.both(call)

    @rule(kind=setlike_kind, items=st.lists(hashable, max_size=8))
    def compare_equal_contents(self, kind, items):
        # Random operands are rarely equal to the set: compare with a copy of it too.
        spec = (kind, list(self.model) + items[:1], False)
        for fn in COMPARE.values():
            self.both(lambda s, ours, fn=fn: fn(s, build(spec, s, ours)))

    @invariant()
    def same_contents(self):
        assert len(self.ours) == len(self.model)
        assert bool(self.ours) == bool(self.model)
        listed = list(self.ours)
        assert len(listed) == len(self.model)
        assert frozenset(listed) == self.model
        for x in self.model:
            assert x in self.ours


TestSetAgainstSet = SetAgainstSet.TestCase
TestSetAgainstSet.settings = settings(
    max_examples=examples(150), stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class OrderAgainstDict(RuleBasedStateMachine):
    """Insertion order: a dict's keys are the reference (add appends a new element, discard
    removes, re-adding goes to the end, pop takes the last)."""

    def __init__(self) -> None:
        super().__init__()
        self.model: dict = {}
        self.ours: AtomicSet = AtomicSet()

    @rule(x=hashable)
    def add(self, x):
        self.ours.add(x)
        self.model.setdefault(x, None)

    @rule(x=hashable)
    def discard(self, x):
        self.ours.discard(x)
        self.model.pop(x, None)

    @rule(xs=st.lists(hashable, max_size=6))
    def update(self, xs):
        self.ours.update(xs)
        for x in xs:
            self.model.setdefault(x, None)

    @rule()
    def pop(self):
        if self.model:
            assert [self.ours.pop()] == [self.model.popitem()[0]]  # lists: identity first (NaN)

    @rule()
    def copy(self):
        assert list(self.ours.copy()) == list(self.model)

    @invariant()
    def same_order(self):
        assert list(self.ours) == list(self.model)


TestOrderAgainstDict = OrderAgainstDict.TestCase
TestOrderAgainstDict.settings = settings(max_examples=examples(100), stateful_step_count=40, deadline=None)
