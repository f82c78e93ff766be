"""AtomicDict against dict: a Hypothesis state machine applies the same operations to both and
checks that they hold the same items in the same order after every step."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conftest import examples
from dict_support import NAN, Collide, assert_same_items
from lockless import NOT_FOUND, AtomicDict

# A fixed pool of key objects, so the same objects reach both maps: colliding hashes (one hash
# and a 2-bit hash), -1 and -2 (same hash in CPython), one NaN object, strings, tuples, and
# True/1/1.0 (equal keys of different types).
KEYS = (
    [Collide(i) for i in range(6)]
    + [Collide(("two-bit", i), h=i % 4) for i in range(6)]
    + [-1, -2, NAN, "a", "b", "", "long-" * 20, (1, 2), (1, (2, "x")), (), None, True, 1, 1.0, 0]
)
keys = st.sampled_from(KEYS)
values = st.integers(min_value=-5, max_value=5) | st.sampled_from([None, "v", (1,), 2**70])


def outcome(fn, m):
    try:
        return ("ok", fn(m))
    except KeyError as exc:
        return ("KeyError", exc.args)


class DictMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ad = AtomicDict()
        self.d: dict = {}

    def both(self, fn):
        got, want = outcome(fn, self.ad), outcome(fn, self.d)
        assert got == want
        return got

    @rule(k=keys, v=values)
    def set(self, k, v):
        self.ad[k] = v
        self.d[k] = v

    @rule(k=keys)
    def get(self, k):
        self.both(lambda m: m[k])
        assert self.ad.get(k, "dflt") == self.d.get(k, "dflt")
        assert (k in self.ad) == (k in self.d)

    @rule(k=keys)
    def delete(self, k):
        def fn(m):
            del m[k]

        self.both(fn)

    @rule(k=keys, with_default=st.booleans())
    def pop(self, k, with_default):
        if with_default:
            assert self.ad.pop(k, "dflt") == self.d.pop(k, "dflt")
        else:
            self.both(lambda m: m.pop(k))

    @rule()
    def popitem(self):
        self.both(lambda m: m.popitem())

    @rule(k=keys, v=values)
    def setdefault(self, k, v):
        assert self.ad.setdefault(k, v) == self.d.setdefault(k, v)

    @rule(items=st.lists(st.tuples(keys, values), max_size=6), as_mapping=st.booleans())
    def update(self, items, as_mapping):
        arg = dict(items) if as_mapping else items
        self.ad.update(arg)
        self.d.update(arg)

    @rule(n=st.integers(0, 3))
    def clear(self, n):
        if n == 0:  # rarely, so that maps grow
            self.ad.clear()
            self.d.clear()

    @rule(k=keys, amount=st.integers(-3, 3))
    def add(self, k, amount):
        cur = self.d.get(k, 0)
        if not isinstance(cur, int):
            return
        new = self.ad.add(k, amount)
        assert new == cur + amount
        self.d[k] = new  # the returned object is the stored one

    @rule(k=keys, v=values, use_current=st.booleans(), delete=st.booleans())
    def compare_and_set(self, k, v, use_current, delete):
        cur = self.d.get(k, NOT_FOUND)
        expected = cur if use_current else object()
        desired = NOT_FOUND if delete else v
        ok = self.ad.compare_and_set(k, expected, desired)
        assert ok is use_current
        if ok:
            if desired is NOT_FOUND:
                self.d.pop(k, None)
            else:
                self.d[k] = desired

    @rule(k=keys, v=values)
    def compare_and_set_if_absent(self, k, v):
        ok = self.ad.compare_and_set(k, NOT_FOUND, v)
        assert ok is (k not in self.d)
        if ok:
            self.d[k] = v

    @invariant()
    def same_items_in_same_order(self):
        assert_same_items(self.ad, self.d)
        assert list(reversed(self.ad)) == list(reversed(self.d))
        assert self.ad == self.d


DictMachine.TestCase.settings = settings(max_examples=examples(150), stateful_step_count=40, deadline=None)
test_atomic_dict_behaves_like_dict = DictMachine.TestCase
