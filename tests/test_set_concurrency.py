"""AtomicSet under threads started behind one Barrier, with exact invariants at the end:
one winner per racing add_if_absent and discard_if_present, exact unions of disjoint adds,
iteration under churn that never raises or repeats and yields what stays present, bulk
updates atomic per element, a shared iterator, and clear racing adds."""

from __future__ import annotations

import pytest

from conftest import run_threads
from dict_support import Collide
from lockless import AtomicSet

THREADS = 4


@pytest.mark.parametrize("colliding", [False, True], ids=["ints", "one-hash"])
def test_racing_add_if_absent_on_the_same_elements_has_exactly_one_winner_each(colliding, switch_often):
    n = 300 if colliding else 3000
    s = AtomicSet()

    def make(i):
        return Collide(i, h=1) if colliding else i

    def work(t):
        return [i for i in range(n) if s.add_if_absent(make(i))]

    wins = run_threads(THREADS, work)
    flat = [i for w in wins for i in w]
    assert sorted(flat) == list(range(n))  # every element won exactly once
    assert len(s) == n


def test_racing_discard_if_present_has_exactly_one_winner_each(switch_often):
    n = 3000
    s = AtomicSet(range(n))
    wins = run_threads(THREADS, lambda t: [i for i in range(n) if s.discard_if_present(i)])
    assert sorted(i for w in wins for i in w) == list(range(n))
    assert len(s) == 0 and list(s) == []


def test_claiming_work_by_add_if_absent_and_releasing_by_discard_if_present_balances(switch_often):
    # Each thread repeatedly claims a random element and releases it if it won: at every moment
    # at most one thread holds a claim, so claims and releases balance exactly.
    import random

    s = AtomicSet()
    keys = list(range(8))

    def work(t):
        rng = random.Random(t)
        won = 0
        for _ in range(5000):
            k = rng.choice(keys)
            if s.add_if_absent(k):
                won += 1
                assert s.discard_if_present(k), "someone else released my claim"
        return won

    assert sum(run_threads(THREADS, work)) > 0
    assert len(s) == 0


def test_disjoint_adds_from_n_threads_give_an_exact_union(switch_often):
    per = 5000
    s = AtomicSet()

    def work(t):
        for i in range(per):
            s.add((t, i))

    run_threads(THREADS, work)
    assert len(s) == THREADS * per
    assert set(s) == {(t, i) for t in range(THREADS) for i in range(per)}


def test_disjoint_bulk_updates_give_an_exact_union(switch_often):
    s = AtomicSet()
    run_threads(THREADS, lambda t: s.update(range(t * 10_000, (t + 1) * 10_000)))
    assert s == set(range(THREADS * 10_000))


def test_add_discard_churn_with_a_concurrent_iterator_never_raises_repeats_or_misses(switch_often):
    stable = [("stable", i) for i in range(2000)]
    s = AtomicSet(stable)

    def work(t):
        if t == 0:
            rounds = []
            for _ in range(30):
                seen = list(s)
                assert len(seen) == len(set(seen)), "an element was yielded twice"
                missing = set(stable) - set(seen)
                assert not missing, f"{len(missing)} elements present throughout were not yielded"
                rounds.append(len(seen))
            return rounds
        for i in range(20_000):
            x = ("churn", t, i % 500)
            s.add(x)
            s.discard(("churn", t, (i * 7) % 500))
            if i % 997 == 0:
                s.discard(x)
                s.add(x)  # deleted and re-added: a new entry at the end
        return None

    run_threads(THREADS, work)
    assert set(stable) <= set(s)


def test_bulk_updates_racing_on_shared_elements_are_atomic_per_element(switch_often):
    # Thread t toggles a shared range with ^= while others add and discard it as a whole; the
    # final state of each element must be one that some sequence of whole-element steps gives:
    # every element is either present or absent, and len agrees with iteration.
    s = AtomicSet(range(0, 2000, 2))
    ops = [
        lambda: s.symmetric_difference_update(range(2000)),
        lambda: s.update(range(500, 1500)),
        lambda: s.difference_update(range(1000, 2000)),
        lambda: s.intersection_update(range(0, 1800)),
    ]
    run_threads(len(ops), lambda t: [ops[t]() for _ in range(5)])
    listed = list(s)
    assert len(listed) == len(set(listed)) == len(s)
    assert all(isinstance(x, int) and 0 <= x < 2000 for x in listed)


def test_pop_from_many_threads_returns_each_element_exactly_once(switch_often):
    n = 10_000
    s = AtomicSet(range(n))

    def work(t):
        got = []
        while True:
            try:
                got.append(s.pop())
            except KeyError:
                return got

    popped = [x for got in run_threads(THREADS, work) for x in got]
    assert sorted(popped) == list(range(n))
    assert not s


def test_clear_racing_adds_leaves_only_elements_added_after_some_clear(switch_often):
    s = AtomicSet()

    def work(t):
        if t == 0:
            for _ in range(200):
                s.clear()
            return None
        for i in range(5000):
            s.add((t, i))
        return None

    run_threads(THREADS, work)
    listed = list(s)
    assert len(listed) == len(set(listed)) == len(s)
    # Each adder's surviving elements are a suffix of its adds: a clear removes all before it.
    for t in range(1, THREADS):
        mine = sorted(i for (u, i) in listed if u == t)
        assert mine == list(range(5000 - len(mine), 5000))


@pytest.mark.thread_unsafe(reason="shares one iterator between its own threads on purpose")
def test_one_iterator_shared_by_two_threads_yields_each_element_exactly_once(switch_often):
    n = 20_000
    s = AtomicSet(range(n))
    it = iter(s)

    def work(t):
        return list(it)  # lock-free: neither thread waits for, or fails because of, the other

    results = run_threads(2, work)
    yielded = [x for got in results for x in got]
    assert len(yielded) == len(set(yielded)) == n
