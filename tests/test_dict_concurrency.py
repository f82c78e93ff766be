"""AtomicDict shared between threads: exact invariants after threads released together by one
Barrier (conftest.run_threads re-raises any thread's exception)."""

from __future__ import annotations

import threading

import pytest

from conftest import run_threads
from dict_support import Box, Collide
from lockless import NOT_FOUND, AtomicDict

THREADS = 4


def test_disjoint_inserts_from_four_threads_give_exact_len(switch_often):
    per_thread = 5_000
    d = AtomicDict()

    def work(t):
        for i in range(per_thread):
            d[(t, i)] = i

    run_threads(THREADS, work)
    assert len(d) == THREADS * per_thread
    assert d.stats()["len"] == THREADS * per_thread
    for t in range(THREADS):
        assert all(d[(t, i)] == i for i in range(per_thread))
    # Each thread's keys appear in the order that thread inserted them.
    for t in range(THREADS):
        assert [k[1] for k in d if k[0] == t] == list(range(per_thread))


def test_disjoint_inserts_of_colliding_keys_give_exact_len(switch_often):
    per_thread = 300
    d = AtomicDict()

    def work(t):
        for i in range(per_thread):
            d[Collide((t, i), h=i % 8)] = t

    run_threads(THREADS, work)
    assert len(d) == THREADS * per_thread
    assert sorted(d.values()) == sorted(t for t in range(THREADS) for _ in range(per_thread))


def test_add_from_four_threads_gives_exact_totals(switch_often):
    keys, rounds = 16, 2_000
    d = AtomicDict()

    def work(t):
        for i in range(rounds):
            d.add(i % keys)
            d.add("all", 2)

    run_threads(THREADS, work)
    assert d["all"] == THREADS * rounds * 2
    assert all(d[k] == THREADS * rounds // keys for k in range(keys))


def test_add_of_user_numbers_under_equal_but_distinct_keys_gives_exact_totals(switch_often):
    # Keys equal only by __eq__ (compared unpinned, then the operation is run again) and values
    # whose + is Python code (run unpinned between a read and a compare-and-exchange).
    from fractions import Fraction

    keys, rounds = 4, 600
    d = AtomicDict()

    def work(t):
        for i in range(rounds):
            d.add(Collide(i % keys, h=i % 2), Fraction(1, 3), Fraction(0))

    run_threads(THREADS, work)
    assert {k.tag: v for k, v in d.items()} == {k: Fraction(THREADS * rounds // keys, 3) for k in range(keys)}


def test_count_and_reduce_from_four_threads_give_exact_totals(switch_often):
    words = ("the", "quick", "brown", "fox", "the", "lazy", "dog", "the") * 250
    d = AtomicDict()

    def total(key, current, new):
        return new if current is NOT_FOUND else current + new

    def work(t):
        for _ in range(3):
            d.count(words)
            d.reduce(((w, 10) for w in words), total)

    run_threads(THREADS, work)
    per_pass = {w: words.count(w) for w in set(words)}
    assert d == {w: n * 3 * THREADS * 11 for w, n in per_pass.items()}


def test_compare_and_set_loops_give_exact_counts(switch_often):
    rounds = 2_000
    d = AtomicDict(n=0)
    failures = [0] * THREADS

    def work(t):
        for _ in range(rounds):
            while True:
                cur = d["n"]
                if d.compare_and_set("n", cur, cur + 1):
                    break
                failures[t] += 1

    run_threads(THREADS, work)
    assert d["n"] == THREADS * rounds


def test_compute_and_merge_increments_give_exact_counts(switch_often):
    rounds = 1_500
    d = AtomicDict()

    def work(t):
        for _ in range(rounds):
            d.compute("c", lambda cur: 1 if cur is NOT_FOUND else cur + 1)
            d.merge("m", 1, lambda old, new: old + new)

    run_threads(THREADS, work)
    assert d["c"] == THREADS * rounds
    assert d["m"] == THREADS * rounds


def test_get_and_set_from_many_threads_loses_nothing(switch_often):
    rounds = 2_000
    d = AtomicDict(k=("start",))

    def work(t):
        return [d.get_and_set("k", (t, i)) for i in range(rounds)]

    results = run_threads(THREADS, work)
    seen = [v for r in results for v in r] + [d["k"]]
    # Every value written is returned exactly once, by the next get_and_set or in the end.
    assert sorted(seen, key=repr) == sorted(
        [("start",)] + [(t, i) for t in range(THREADS) for i in range(rounds)], key=repr
    )


def test_readers_see_only_values_that_some_writer_wrote(switch_often):
    writers, readers, rounds = 2, 2, 3_000
    keys = [0, 1, -1, -2, "s", (1, 2)]
    d = AtomicDict((k, ("init", k)) for k in keys)
    stop = threading.Event()

    def work(t):
        if t < writers:
            try:
                for i in range(rounds):
                    k = keys[i % len(keys)]
                    if i % 7 == 0:
                        d.pop(k, "absent")
                    else:
                        d[k] = (t, i, k)
            finally:
                if t == 0:
                    stop.set()
            return None
        seen = []
        while not stop.is_set():
            for k in keys:
                v = d.get(k, NOT_FOUND)
                if v is not NOT_FOUND:
                    seen.append((k, v))
            for k, v in list(d.items()):
                seen.append((k, v))
        return seen

    results = run_threads(writers + readers, work)
    for seen in results[writers:]:
        for k, v in seen:
            assert v == ("init", k) or (v[0] in range(writers) and v[2] == k and v[1] < rounds), (k, v)


def test_iteration_under_churn_never_raises_or_repeats_and_yields_every_stable_key(switch_often):
    stable = [("stable", i) for i in range(500)]
    d = AtomicDict((k, 0) for k in stable)
    done = threading.Event()

    def work(t):
        if t < 2:  # churn: insert and delete other keys, overwrite stable ones
            try:
                for i in range(6_000):
                    k = ("churn", t, i % 300)
                    if i % 3 == 2:
                        d.pop(k, "absent")
                    else:
                        d[k] = i
                    d[stable[i % len(stable)]] = i
            finally:
                done.set()
            return None
        passes = 0
        while not done.is_set() or passes < 3:
            for it in (list(d), list(d.keys()), [k for k, _ in d.items()]):
                assert len(it) == len(set(it)), "a key was yielded twice"
                missing = set(stable) - set(it)
                assert not missing, f"{len(missing)} stable keys were skipped"
            passes += 1
        return passes

    run_threads(4, work)
    assert len(d) >= len(stable)


def test_setdefault_race_has_exactly_one_winner_and_all_get_its_object(switch_often):
    for trial in range(200):
        d = AtomicDict()
        candidates = [Box(t) for t in range(THREADS)]
        got = run_threads(THREADS, lambda t: d.setdefault(("k", trial), candidates[t]))
        winner = d[("k", trial)]
        assert any(winner is c for c in candidates)
        assert all(g is winner for g in got)
        assert len(d) == 1


def test_compare_and_set_if_absent_race_has_exactly_one_winner(switch_often):
    for trial in range(200):
        d = AtomicDict()
        wins = run_threads(THREADS, lambda t: d.compare_and_set("k", NOT_FOUND, t))
        assert wins.count(True) == 1
        assert d["k"] == wins.index(True)


def test_compute_if_absent_race_stores_one_result_returned_to_all(switch_often):
    for trial in range(200):
        d = AtomicDict()
        made = []

        def factory(key):
            b = Box(key)
            made.append(b)
            return b

        got = run_threads(THREADS, lambda t: d.compute_if_absent("k", factory))
        stored = d["k"]
        assert 1 <= len(made) <= THREADS
        assert any(stored is m for m in made)
        assert all(g is stored for g in got)
        assert len(d) == 1


def test_thread_blocked_in_a_keys_eq_does_not_stop_the_others():
    release = threading.Event()
    entered = threading.Event()

    class Blocking(Collide):
        __hash__ = Collide.__hash__  # defining __eq__ would drop it

        def __eq__(self, other):
            if self.tag == "blocker":
                entered.set()
                assert release.wait(timeout=20), "never released: the other threads could not finish"
            return super().__eq__(other)

    stored = Collide("stored", h=77)
    d = AtomicDict([(stored, "s")])
    per_thread = 2_000
    progress = []

    def work(t):
        if t == 0:
            # Same hash as `stored`, different tag: the lookup calls __eq__, which blocks.
            d[Blocking("blocker", h=77)] = "b"
            return "blocked one finished"
        assert entered.wait(timeout=20)
        for i in range(per_thread):
            d[(t, i)] = i
            d.add("counter")
            assert d[stored] == "s"
        progress.append(t)
        if len(progress) == 3:
            # The others finished everything while thread 0 is still inside __eq__.
            assert not release.is_set()
            release.set()
        return "done"

    results = run_threads(4, work)
    assert results == ["blocked one finished", "done", "done", "done"]
    assert d["counter"] == 3 * per_thread
    assert d[Collide("blocker", h=77)] == "b"
    assert d[stored] == "s"
    assert len(d) == 2 + 1 + 3 * per_thread


def test_concurrent_clear_and_inserts_leave_a_consistent_dict(switch_often):
    d = AtomicDict()

    def work(t):
        for i in range(2_000):
            if t == 0 and i % 100 == 0:
                d.clear()
            else:
                d[(t, i)] = i

    run_threads(THREADS, work)
    items = list(d.items())
    assert len(items) == len(d) == len({k for k, _ in items})
    assert all(k[1] == v for k, v in items)


def test_a_key_deleted_and_reinserted_behind_the_iterator_is_not_met_again():
    # Found by the soak run (issue 6). Deleting a key and inserting it again makes a new entry at
    # the end (dict's order semantics); the iterator stops at the entries that existed when it
    # was created, so it does not meet the new one (AtomicSet promises "never twice").
    d = AtomicDict(a=1, b=2, c=3)
    it = iter(d)
    assert next(it) == "a"
    del d["a"]
    d["a"] = 4
    assert list(it) == ["b", "c"]
    assert list(d.items()) == [("b", 2), ("c", 3), ("a", 4)]

