"""AtomicCounter: a striped counter for hot increments (Java's LongAdder)."""

from __future__ import annotations

import copy
import operator
import pickle

import pytest

from conftest import run_threads
from lockless import AtomicCounter

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def test_default_is_zero():
    assert AtomicCounter().get() == 0


def test_initial_value():
    assert AtomicCounter(41).get() == 41
    assert AtomicCounter(value=-3).get() == -3


@pytest.mark.parametrize("bad,exc", [(2**63, OverflowError), (1.5, TypeError), ("1", TypeError)])
def test_constructor_rejects_non_int64(bad, exc):
    with pytest.raises(exc):
        AtomicCounter(bad)


def test_increment_and_decrement():
    c = AtomicCounter()
    c.increment()
    c.increment(10)
    c.decrement()
    c.decrement(n=3)
    assert c.get() == 7
    assert c.increment() is None


def test_int_and_index_give_the_sum():
    c = AtomicCounter(5)
    c.increment(2)
    assert int(c) == 7
    assert operator.index(c) == 7


def test_reset_sets_zero():
    c = AtomicCounter(9)
    c.increment(5)
    c.reset()
    assert c.get() == 0


def test_get_and_reset_returns_total_and_zeroes():
    c = AtomicCounter(3)
    c.increment(4)
    assert c.get_and_reset() == 7
    assert c.get() == 0
    assert c.get_and_reset() == 0


def test_repr():
    c = AtomicCounter(2)
    c.increment(3)
    assert repr(c) == "AtomicCounter(5)"


def test_unhashable_like_other_mutable_containers():
    assert AtomicCounter.__hash__ is None
    with pytest.raises(TypeError):
        hash(AtomicCounter())


def test_pickle_and_copy_round_trip():
    c = AtomicCounter(11)
    for d in (pickle.loads(pickle.dumps(c)), copy.copy(c), copy.deepcopy(c)):
        assert type(d) is AtomicCounter and d.get() == 11 and d is not c
        d.increment()
        assert c.get() == 11


def test_sum_past_int64_makes_get_raise_but_is_kept_exactly():
    c = AtomicCounter(INT64_MAX)
    c.increment()  # lands in (or spills into) a cell with room: nothing wraps
    with pytest.raises(OverflowError):
        c.get()
    c.decrement()
    assert c.get() == INT64_MAX
    d = AtomicCounter(INT64_MIN)
    d.decrement()
    with pytest.raises(OverflowError):
        d.get()
    assert d.get_and_reset() == INT64_MIN - 1


def test_increment_no_cell_can_take_raises_and_changes_nothing():
    c = AtomicCounter(INT64_MAX)
    raised = False
    for _ in range(100):  # more than the most cells a counter has (64)
        before = repr(c)
        try:
            c.increment(INT64_MAX)
        except OverflowError:
            raised = True
            assert repr(c) == before
            break
    assert raised, "every cell full: the next increment must raise"
    c.reset()
    assert c.get() == 0


def test_increment_argument_out_of_range_raises():
    c = AtomicCounter()
    with pytest.raises(OverflowError):
        c.increment(2**63)
    with pytest.raises(TypeError):
        c.increment(1.0)
    assert c.get() == 0


def test_sum_beyond_int64_raises_on_get_but_get_and_reset_is_exact():
    # Increments from two threads land in (or spill into) different cells, so the cells can
    # hold a sum no single int64 can.
    c = AtomicCounter(INT64_MAX)
    run_threads(2, lambda _: c.increment(2**62))
    with pytest.raises(OverflowError):
        c.get()
    with pytest.raises(OverflowError):
        int(c)
    assert repr(c) == f"AtomicCounter({INT64_MAX + 2**63})"
    assert c.get_and_reset() == INT64_MAX + 2**63
    assert c.get() == 0


def test_threads_incrementing_give_exact_total(switch_often):
    threads, per_thread = 8, 5_000
    c = AtomicCounter()

    def work(_):
        for _ in range(per_thread):
            c.increment()

    run_threads(threads, work)
    assert c.get() == threads * per_thread


def test_mixed_increments_and_decrements_give_exact_total(switch_often):
    threads, per_thread = 6, 3_000
    c = AtomicCounter(1_000)

    def work(i):
        for n in range(per_thread):
            if i % 2:
                c.increment(3)
            else:
                c.decrement(1)

    run_threads(threads, work)
    assert c.get() == 1_000 + (threads // 2) * per_thread * 3 - (threads // 2) * per_thread


def test_get_and_reset_racing_increments_counts_each_exactly_once(switch_often):
    writers, per_thread = 3, 5_000
    c = AtomicCounter()

    def work(i):
        if i < writers:
            for _ in range(per_thread):
                c.increment()
            return 0
        taken = 0
        for _ in range(2_000):
            taken += c.get_and_reset()
        return taken

    taken = run_threads(writers + 1, work)
    assert sum(taken) + c.get_and_reset() == writers * per_thread
