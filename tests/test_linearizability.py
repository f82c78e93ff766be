"""Histories recorded from real threads are linearizable (tests/linearizability.py checks them
with a Wing–Gong search per key), and the checker itself rejects histories that are not.

LOCKLESS_LIN_HISTORIES sets the number of histories per test (default 100); `make soak` runs
thousands."""

from __future__ import annotations

import os
import sys
import time

import pytest

import linearizability as lin
from dict_support import Collide
from linearizability import ABSENT, DictKeyModel, IntModel, NotLinearizable, Op, RefModel, SetElementModel

HISTORIES = int(os.environ.get("LOCKLESS_LIN_HISTORIES", "100"))


# --- the checker can fail -------------------------------------------------------------------------------


def op(thread, name, args, result, call, ret, key="k"):
    return Op(thread, key, name, args, result, call, ret)


def test_checker_rejects_a_read_of_absent_after_a_completed_write():
    history = [op(0, "set", (1000,), None, 0, 10), op(1, "get", (), ABSENT, 20, 30)]
    assert not lin.is_linearizable(history, DictKeyModel())


def test_checker_rejects_a_stale_read_after_a_newer_write_completed():
    history = [
        op(0, "set", (1001,), None, 0, 10),
        op(0, "set", (1002,), None, 20, 30),
        op(1, "get", (), 1001, 40, 50),
    ]
    assert not lin.is_linearizable(history, DictKeyModel())


def test_checker_rejects_two_winners_of_compare_and_set_from_one_expected_value():
    v, a, b = 1000, 1001, 1002
    history = [
        op(0, "set", (v,), None, 0, 10),
        op(1, "compare_and_set", (v, a), True, 20, 40),
        op(2, "compare_and_set", (v, b), True, 25, 45),  # overlaps, but both cannot win
    ]
    assert not lin.is_linearizable(history, DictKeyModel())


def test_checker_rejects_a_lost_increment():
    history = [op(0, "increment_and_get", (1,), 1, 0, 10), op(1, "increment_and_get", (1,), 1, 20, 30)]
    assert not lin.is_linearizable(history, IntModel())


def test_checker_rejects_a_read_that_sees_an_object_equal_to_but_not_the_one_stored():
    initial, stored = lin.Obj("initial"), lin.Obj("x")
    history = [op(0, "set", (stored,), None, 0, 10), op(1, "get", (), lin.Obj("x"), 20, 30)]
    assert not lin.is_linearizable(history, RefModel(initial))


def test_checker_accepts_overlapping_operations_in_either_order():
    # The get overlaps both sets, so it may see either value; the later get must see 1002.
    history = [
        op(0, "set", (1001,), None, 0, 100),
        op(1, "set", (1002,), None, 10, 110),
        op(2, "get", (), 1001, 50, 60),
        op(2, "get", (), 1002, 200, 210),
    ]
    assert lin.is_linearizable(history, DictKeyModel())
    history[2] = op(2, "get", (), ABSENT, 50, 60)
    assert lin.is_linearizable(history, DictKeyModel())


def test_checker_accepts_a_compare_and_set_that_lost_to_an_overlapping_one():
    v, a, b = 1000, 1001, 1002
    history = [
        op(0, "set", (v,), None, 0, 10),
        op(1, "compare_and_set", (v, a), True, 20, 40),
        op(2, "compare_and_set", (v, b), False, 25, 45),
        op(2, "get", (), a, 50, 60),
    ]
    assert lin.is_linearizable(history, DictKeyModel())


def test_minimized_history_keeps_the_contradiction_and_drops_the_noise():
    noise = [op(2, "get", (), ABSENT, 1, 2), op(3, "set", (2000,), None, 3, 4), op(3, "delete", (), True, 5, 6)]
    core = [op(0, "set", (1001,), None, 10, 20), op(0, "set", (1002,), None, 30, 40), op(1, "get", (), 1001, 50, 60)]
    small = lin.minimize(noise + core, DictKeyModel())
    assert small == core  # the stale read, and both writes that make it stale


class StaleReadDict:
    """A broken dict for the self-test: get returns the value from before the last write."""

    def __init__(self) -> None:
        self.now: dict = {}
        self.before: dict = {}

    def __setitem__(self, k, v):
        self.before[k] = self.now.get(k, ABSENT)
        self.now[k] = v

    def __delitem__(self, k):
        self.before[k] = self.now.pop(k)

    def get(self, k, default):
        v = self.before.get(k, ABSENT)
        return default if v is ABSENT else v

    def compare_and_set(self, k, expected, desired):
        if self.now.get(k, ABSENT) is not expected:
            return False
        if desired is ABSENT:
            if k in self.now:
                del self[k]
        else:
            self[k] = desired
        return True

    def add(self, k, amount):
        self[k] = self.now.get(k, 0) + amount
        return self.now[k]

    def setdefault(self, k, v):
        if k not in self.now:
            self[k] = v
        return self.now[k]


def test_checker_rejects_histories_recorded_from_a_dict_with_stale_reads():
    with pytest.raises(NotLinearizable) as failure:
        lin.check_dict_histories(5, factory=StaleReadDict, threads=1)
    report = str(failure.value)
    assert "is not linearizable" in report and "minimized to" in report
    assert "get() ->" in report  # the printed history shows the offending read


def test_checker_rejects_two_winners_of_add_if_absent():
    history = [op(0, "add_if_absent", (), True, 0, 20), op(1, "add_if_absent", (), True, 5, 25)]
    assert not lin.is_linearizable(history, SetElementModel())


def test_checker_rejects_an_absent_element_after_a_completed_add():
    history = [op(0, "add", (), None, 0, 10), op(1, "contains", (), False, 20, 30)]
    assert not lin.is_linearizable(history, SetElementModel())


def test_checker_accepts_a_discard_if_present_that_lost_to_an_overlapping_one():
    history = [
        op(0, "add", (), None, 0, 10),
        op(1, "discard_if_present", (), True, 20, 40),
        op(2, "discard_if_present", (), False, 25, 45),
        op(2, "contains", (), False, 50, 60),
    ]
    assert lin.is_linearizable(history, SetElementModel())


class ForgetfulSet:
    """A broken set for the self-test: add_if_absent always claims the add."""

    def __init__(self) -> None:
        self.items: set = set()

    def add(self, x):
        self.items.add(x)

    def discard(self, x):
        self.items.discard(x)

    def __contains__(self, x):
        return x in self.items

    def add_if_absent(self, x):
        self.items.add(x)
        return True

    def discard_if_present(self, x):
        present = x in self.items
        self.items.discard(x)
        return present


def test_checker_rejects_histories_recorded_from_a_set_that_always_claims_the_add():
    with pytest.raises(NotLinearizable, match="add_if_absent"):
        lin.check_set_histories(5, factory=ForgetfulSet, threads=1)


# --- lockless's types are linearizable -----------------------------------------------------------------

ONE_HASH = sys.hash_info.modulus  # i * ONE_HASH all hash to 0 and compare in Rust

KEY_SETS = {
    "str": ("a", "b", "c"),
    "ints_with_one_hash": (ONE_HASH, 2 * ONE_HASH, 3 * ONE_HASH),
    "objects_with_one_hash": (Collide("a", h=5), Collide("b", h=5), Collide("c", h=5)),
}


@pytest.mark.parametrize("name", list(KEY_SETS))
def test_atomic_dict_histories_are_linearizable(name, switch_often):
    from lockless import AtomicDict

    dicts = [AtomicDict() for _ in range(HISTORIES)]
    seed = 1000 * list(KEY_SETS).index(name)  # reproducible: str hashes are randomized
    for history in lin.record(dicts, lin.dict_body(ops=30, keys=KEY_SETS[name]), threads=4, seed=seed):
        lin.check(history, lambda key: DictKeyModel())


def test_atomic_int_histories_are_linearizable(switch_often):
    lin.check_int_histories(HISTORIES, seed=5000)


def test_atomic_ref_histories_are_linearizable(switch_often):
    lin.check_ref_histories(HISTORIES, seed=6000)


# --- AtomicQueue ----------------------------------------------------------------------------------


def test_checker_rejects_a_queue_that_reorders_one_producers_items():
    history = [
        op(0, "put", (1001,), None, 0, 10),
        op(0, "put", (1002,), None, 20, 30),
        op(1, "get_nowait", (), 1002, 40, 50),
    ]
    assert not lin.is_linearizable(history, lin.QueueModel())


def test_checker_rejects_an_item_delivered_twice():
    history = [
        op(0, "put", (1001,), None, 0, 10),
        op(1, "get_nowait", (), 1001, 20, 30),
        op(2, "get_nowait", (), 1001, 25, 35),
    ]
    assert not lin.is_linearizable(history, lin.QueueModel())


def test_checker_rejects_empty_after_a_completed_put_and_full_below_the_bound():
    assert not lin.is_linearizable(
        [op(0, "put", (1001,), None, 0, 10), op(1, "get_nowait", (), lin.EMPTY, 20, 30)], lin.QueueModel()
    )
    assert not lin.is_linearizable(
        [op(0, "put_nowait", (1001,), None, 0, 10), op(1, "put_nowait", (1002,), lin.FULL, 20, 30)],
        lin.QueueModel(maxsize=2),
    )


def test_checker_accepts_overlapping_puts_taken_in_either_order():
    history = [
        op(0, "put", (1001,), None, 0, 100),
        op(1, "put", (1002,), None, 10, 110),
        op(2, "get_nowait", (), 1002, 120, 130),
        op(2, "get_nowait", (), 1001, 140, 150),
    ]
    assert lin.is_linearizable(history, lin.QueueModel())


class LifoQueue:
    """A broken queue for the self-test: last in, first out."""

    def __init__(self, maxsize=0):
        self.items = []

    def put(self, v):
        self.items.append(v)

    def get_nowait(self):
        import queue

        if not self.items:
            raise queue.Empty
        return self.items.pop()

    def qsize(self):
        return len(self.items)


def test_checker_rejects_histories_recorded_from_a_lifo_queue():
    with pytest.raises(NotLinearizable) as failure:
        lin.check_queue_histories(10, factory=LifoQueue, threads=1)
    assert "get_nowait() ->" in str(failure.value)


@pytest.mark.parametrize("maxsize", [0, 3])
def test_atomic_queue_histories_are_linearizable(maxsize, switch_often):
    lin.check_queue_histories(HISTORIES, seed=7000 + maxsize, maxsize=maxsize)

@pytest.mark.parametrize("name", list(KEY_SETS))
def test_atomic_set_histories_are_linearizable(name, switch_often):
    seed = 7000 + 1000 * list(KEY_SETS).index(name)
    lin.check_set_histories(HISTORIES, seed=seed, elements=KEY_SETS[name])


# --- AtomicCounterDict ----------------------------------------------------------------------------


def test_checker_rejects_two_adds_that_return_the_same_count():
    history = [op(0, "add", (1,), 1, 0, 20), op(1, "add", (1,), 1, 5, 25)]
    assert not lin.is_linearizable(history, lin.CountKeyModel())


def test_checker_rejects_two_winners_of_compare_and_set_from_absent():
    history = [op(0, "compare_and_set", (0, 5), True, 0, 20), op(1, "compare_and_set", (0, 6), True, 5, 25)]
    assert not lin.is_linearizable(history, lin.CountKeyModel())


def test_checker_accepts_overlapping_adds_in_either_order():
    history = [
        op(0, "add", (1,), 3, 0, 100),
        op(1, "add", (2,), 2, 10, 110),
        op(2, "get", (), 3, 120, 130),
        op(2, "get_and_reset", (), 3, 140, 150),
        op(2, "get", (), 0, 160, 170),
    ]
    assert lin.is_linearizable(history, lin.CountKeyModel())


class LossyCounter:
    """A broken counter for the self-test: add reads, yields the thread, then writes."""

    def __init__(self) -> None:
        self.counts: dict = {}

    def add(self, k, n=1):
        new = self.counts.get(k, 0) + n
        time.sleep(0)
        self.counts[k] = new
        return new

    def get_and_add(self, k, n=1):
        return self.add(k, n) - n

    def compare_and_set(self, k, expected, desired):
        if self.counts.get(k, 0) != expected:
            return False
        self.counts[k] = desired
        return True

    def get(self, k, default):
        return self.counts.get(k, default)

    def get_and_set(self, k, n):
        old = self.counts.get(k, 0)
        self.counts[k] = n
        return old

    def get_and_reset(self, k):
        old = self.counts.get(k, 0)
        if k in self.counts:
            self.counts[k] = 0
        return old

    def pop(self, k, default):
        return self.counts.pop(k, default)


def test_checker_rejects_histories_recorded_from_a_counter_that_loses_adds():
    # The minimized witness may be a lone read that no order of the adds explains, so the
    # message need not name `add`: the rejection is the specification.
    with pytest.raises(NotLinearizable):
        for seed in range(20):  # lost adds need an unlucky interleaving: try a few
            lin.check_counter_histories(20, seed=seed, factory=LossyCounter, threads=4)


@pytest.mark.parametrize("name", list(KEY_SETS))
def test_atomic_counter_dict_histories_are_linearizable(name, switch_often):
    seed = 9000 + 1000 * list(KEY_SETS).index(name)
    lin.check_counter_histories(HISTORIES, seed=seed, keys=KEY_SETS[name])
