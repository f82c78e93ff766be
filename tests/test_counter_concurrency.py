"""AtomicCounterDict under threads: exact totals, no lost or duplicated counts, each key's add
results a permutation, racing compare_and_sets with one winner, iteration under churn."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import run_threads
from dict_support import Collide
from lockless import AtomicCounterDict

THREADS = 8

KEY_SETS = {
    "int": list(range(16)),
    "str": [f"k{i}" for i in range(16)],
    "colliding_objects": [Collide(i, h=3) for i in range(4)],
}


@pytest.mark.parametrize("name", list(KEY_SETS))
def test_n_threads_adding_to_hot_keys_give_exact_totals_and_add_results_are_a_permutation(name, switch_often):
    keys = KEY_SETS[name]
    adds = 2000
    c = AtomicCounterDict()

    def work(t):
        return [(i % len(keys), c.add(keys[i % len(keys)])) for i in range(t, t + adds)]

    results = run_threads(THREADS, work)
    per_key = Counter(i for log in results for i, _ in log)
    for i, k in enumerate(keys):
        assert c[k] == per_key[i]
        seen = sorted(n for log in results for j, n in log if j == i)
        assert seen == list(range(1, per_key[i] + 1)), f"add results of {k!r} are not a permutation"
    assert len(c) == len(keys) and c.total() == THREADS * adds


def test_get_and_add_results_are_a_permutation_of_the_counts_before(switch_often):
    c = AtomicCounterDict()
    olds = run_threads(THREADS, lambda t: [c.get_and_add("k", 3) for _ in range(1000)])
    assert sorted(x for log in olds for x in log) == list(range(0, 3 * THREADS * 1000, 3))


def test_concurrent_updates_are_exact(switch_often):
    words = [f"w{i % 50}" for i in range(5000)]
    c = AtomicCounterDict()
    run_threads(THREADS, lambda t: c.update(words))
    run_threads(THREADS, lambda t: c.update({"w0": 2, "extra": 1}))
    run_threads(THREADS // 2, lambda t: c.subtract(words[:100]))
    want = Counter()
    for _ in range(THREADS):
        want.update(words)
        want.update({"w0": 2, "extra": 1})
    for _ in range(THREADS // 2):
        want.subtract(words[:100])
    assert dict(c.items()) == dict(want)


def test_racing_compare_and_sets_from_one_count_have_exactly_one_winner(switch_often):
    for _ in range(50):
        c = AtomicCounterDict(k=5)
        wins = run_threads(THREADS, lambda t: c.compare_and_set("k", 5, 100 + t))
        assert wins.count(True) == 1
        assert c["k"] == 100 + wins.index(True)


def test_get_and_reset_drains_without_losing_or_doubling_counts(switch_often):
    c = AtomicCounterDict()

    def work(t):
        if t % 2:
            for _ in range(3000):
                c.add("k")
            return 0
        return sum(c.get_and_reset("k") for _ in range(3000))

    drained = run_threads(4, work)
    assert sum(drained) + c["k"] == 2 * 3000


def test_adds_across_boxed_counts_are_exact(switch_often):
    base = 2**59 - 500  # the packed/boxed boundary is crossed while threads add
    c = AtomicCounterDict(k=base)
    run_threads(4, lambda t: [c.add("k") for _ in range(1000)])
    run_threads(4, lambda t: [c.add("k", -1) for _ in range(500)])
    assert c["k"] == base + 2000


def test_iteration_during_churn_never_raises_or_repeats_a_key(switch_often):
    c = AtomicCounterDict({i: 1 for i in range(200)})
    stop = []

    def work(t):
        if t == 0:
            for _ in range(20):
                keys = list(c)
                assert len(keys) == len(set(keys))
                assert all(isinstance(n, int) for n in c.values())
            stop.append(True)
            return
        i = 0
        while not stop:
            k = (i * 7 + t) % 400
            c.add(k)
            if i % 3 == 0:
                del c[k]
            i += 1

    run_threads(3, work)
