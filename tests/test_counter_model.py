"""AtomicCounterDict against collections.Counter: random operation sequences applied to both
must agree.

Every method and operator of Counter runs (the atomic additions against their meaning on a
Counter), with operands of the kinds Counter accepts: a Counter, an AtomicCounterDict, a dict, a
list, kwargs, the counter itself; counts zero and negative as well as positive; keys of colliding
hashes, -1 and -2 (one hash in CPython), tuples and objects whose ``__eq__`` is Python code.
After each operation the results (counters by kind and contents, in insertion order), the
exception types and the contents (in insertion order) must match.
"""

from __future__ import annotations

import copy
import operator
import pickle
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dict_support import Collide
from lockless import AtomicCounterDict

POOL = [*range(-3, 6), "a", "b", "ab", (1, "a"), Collide("x", h=7), Collide("y", h=7), Collide("z", h=7), 1.0]
key = st.sampled_from(POOL)
count = st.integers(min_value=-5, max_value=5)
pairs = st.lists(st.tuples(key, count), max_size=6)
KINDS = ["counter", "atomic", "dict", "list", "self"]
operand = st.tuples(st.sampled_from(KINDS), pairs)
counterlike = st.tuples(st.sampled_from(["counter", "atomic", "self"]), pairs)


def build(spec, target, ours):
    """One side's operand: AtomicCounterDict operands become Counters on the model's side."""
    kind, items = spec
    if kind == "self":
        return target
    if kind == "list":
        return [k for k, n in items for _ in range(max(n, 0))]
    if kind == "dict":
        return dict(items)
    if kind == "counter" or not ours:
        return Counter(dict(items))
    return AtomicCounterDict(dict(items))


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return ("raised", type(exc))


def shape(result, target):
    """A comparable form of a result: counters by kind... as ordered items; the target by identity."""
    if result is target:
        return ("target",)
    if isinstance(result, (Counter, AtomicCounterDict)):
        return ("counter", list(result.items()))
    if hasattr(result, "__next__"):
        return ("iter", list(result))
    return ("value", result)


BINARY = {"+": operator.add, "-": operator.sub, "|": operator.or_, "&": operator.and_}
INPLACE = {"+=": operator.iadd, "-=": operator.isub, "|=": operator.ior, "&=": operator.iand}
COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class CounterMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.ours = AtomicCounterDict()
        self.model = Counter()

    def both(self, fn):
        got = outcome(lambda: fn(self.ours, True))
        want = outcome(lambda: fn(self.model, False))
        assert got[0] == want[0], (got, want)
        if got[0] == "ok":
            assert shape(got[1], self.ours) == shape(want[1], self.model), (got, want)
        else:
            assert got == want, (got, want)

    @invariant()
    def same_contents_in_the_same_order(self):
        assert list(self.ours.items()) == list(self.model.items())
        assert len(self.ours) == len(self.model)

    @rule(k=key, n=count)
    def setitem(self, k, n):
        self.both(lambda c, _: c.__setitem__(k, n))

    @rule(k=key)
    def getitem(self, k):
        self.both(lambda c, _: c[k])

    @rule(k=key)
    def delitem(self, k):
        self.both(lambda c, _: c.__delitem__(k))

    @rule(k=key)
    def contains_get_pop(self, k):
        self.both(lambda c, _: (k in c, c.get(k), c.get(k, "d")))
        self.both(lambda c, _: c.pop(k, "d"))

    @rule(k=key)
    def pop_missing_raises(self, k):
        self.both(lambda c, _: c.pop(k))

    @rule(k=key, n=count)
    def setdefault(self, k, n):
        self.both(lambda c, _: c.setdefault(k, n))

    @rule()
    def popitem(self):
        self.both(lambda c, _: c.popitem())

    @rule()
    def clear(self):
        self.both(lambda c, _: c.clear())

    @rule(k=key, n=count)
    def add(self, k, n):
        def call(c, ours):
            if ours:
                return c.add(k, n)
            c[k] += n
            return c[k]

        self.both(call)

    @rule(k=key, n=count)
    def get_and_add(self, k, n):
        def call(c, ours):
            if ours:
                return c.get_and_add(k, n)
            old = c[k]
            c[k] = old + n
            return old

        self.both(call)

    @rule(k=key, expected=count, desired=count, current=st.booleans())
    def compare_and_set(self, k, expected, desired, current):
        expected = self.model[k] if current else expected

        def call(c, ours):
            if ours:
                return c.compare_and_set(k, expected, desired)
            if c[k] != expected:
                return False
            c[k] = desired
            return True

        self.both(call)

    @rule(k=key, n=count)
    def get_and_set(self, k, n):
        def call(c, ours):
            if ours:
                return c.get_and_set(k, n)
            old = c[k]
            c[k] = n
            return old

        self.both(call)

    @rule(k=key)
    def get_and_reset(self, k):
        def call(c, ours):
            if ours:
                return c.get_and_reset(k)
            old = c[k]
            if k in c:
                c[k] = 0
            return old

        self.both(call)

    @rule(spec=operand, kw=st.dictionaries(st.sampled_from(["p", "q"]), count, max_size=2))
    def update(self, spec, kw):
        self.both(lambda c, ours: c.update(build(spec, c, ours), **kw))

    @rule(spec=operand, kw=st.dictionaries(st.sampled_from(["p", "q"]), count, max_size=2))
    def subtract(self, spec, kw):
        self.both(lambda c, ours: c.subtract(build(spec, c, ours), **kw))

    @rule(n=st.one_of(st.none(), st.integers(min_value=-1, max_value=6)))
    def most_common(self, n):
        self.both(lambda c, _: c.most_common(n))

    @rule()
    def elements_total_views_repr(self):
        self.both(lambda c, _: (list(c.elements()), c.total(), list(c), list(c.keys()), list(c.values())))
        self.both(lambda c, _: repr(c).split("(", 1)[1])
        self.both(lambda c, _: (+c, -c))

    @rule()
    def copies(self):
        self.both(lambda c, _: c.copy())
        self.both(lambda c, _: copy.copy(c))
        self.both(lambda c, _: copy.deepcopy(c))
        self.both(lambda c, _: pickle.loads(pickle.dumps(c)))

    @rule(op=st.sampled_from(sorted(BINARY)), spec=counterlike, reflected=st.booleans())
    def binary(self, op, spec, reflected):
        fn = BINARY[op]

        def call(c, ours):
            other = build(spec, c, ours)
            return fn(other, c) if reflected else fn(c, other)

        self.both(call)

    @rule(op=st.sampled_from(sorted(INPLACE)), spec=counterlike)
    def inplace(self, op, spec):
        fn = INPLACE[op]
        self.both(lambda c, ours: fn(c, build(spec, c, ours)))

    @rule(op=st.sampled_from(sorted(COMPARE)), spec=operand, reflected=st.booleans())
    def compare(self, op, spec, reflected):
        fn = COMPARE[op]

        def call(c, ours):
            other = build(spec, c, ours)
            return fn(other, c) if reflected else fn(c, other)

        self.both(call)


TestCounterAgainstCollectionsCounter = CounterMachine.TestCase
TestCounterAgainstCollectionsCounter.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
