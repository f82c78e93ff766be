"""AtomicQueue behaves as queue.Queue: the relevant cases of CPython's Lib/test/test_queue.py
(Queue's and SimpleQueue's), each run against queue.Queue (the specification) and AtomicQueue.

Left out: LifoQueue/PriorityQueue orders, the FailingQueue cases (they override Queue's
private ``_put``/``_get``), and ``test_shrinking_queue``, which assigns ``q.maxsize``: an
AtomicQueue's bound is fixed at construction (``maxsize`` is read-only)."""

from __future__ import annotations

import gc
import itertools
import pickle
import queue
import random
import sys
import threading
import time
import weakref

import pytest

from lockless import AtomicQueue
from queue_support import HAS_SHUTDOWN, SHUTDOWN, blocking_call, make, make_with_shutdown  # noqa: F401

QUEUE_SIZE = 5


def qfull(q):
    return q.maxsize > 0 and q.qsize() == q.maxsize


def shutdown_error(q):
    """The exception class ``q`` raises after shutdown."""
    return SHUTDOWN if isinstance(q, AtomicQueue) else queue.ShutDown


# --- Queue's cases -------------------------------------------------------------------------------


def basic_queue_test(q):
    assert q.qsize() == 0
    assert q.empty()
    assert not q.full()
    q.put(111)
    q.put(333)
    q.put(222)
    assert [q.get(), q.get(), q.get()] == [111, 333, 222]
    for i in range(QUEUE_SIZE - 1):
        q.put(i)
        assert q.qsize()
    assert not qfull(q)
    last, full = 2 * QUEUE_SIZE, 3 * 2 * QUEUE_SIZE
    q.put(last)
    assert qfull(q)
    assert not q.empty()
    assert q.full()
    with pytest.raises(queue.Full):
        q.put(full, block=0)
    with pytest.raises(queue.Full):
        q.put(full, timeout=0.01)
    blocking_call(q.put, (full,), q.get, ())
    blocking_call(q.put, (full, True, 10), q.get, ())
    for _ in range(QUEUE_SIZE):
        q.get()
    assert not q.qsize()
    with pytest.raises(queue.Empty):
        q.get(block=0)
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    blocking_call(q.get, (), q.put, ("empty",))
    blocking_call(q.get, (True, 10), q.put, ("empty",))


def test_basic_fifo_bound_and_blocking_twice_on_one_queue(make):
    q = make(QUEUE_SIZE)
    basic_queue_test(q)
    basic_queue_test(q)


def test_task_done_without_a_put_raises_value_error(make):
    with pytest.raises(ValueError, match="task_done"):
        make().task_done()


def queue_join_test(q):
    total = [0]
    lock = threading.Lock()

    def worker():
        while True:
            x = q.get()
            if x < 0:
                q.task_done()
                return
            with lock:
                total[0] += x
            q.task_done()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(100):
        q.put(i)
    q.join()
    assert total[0] == sum(range(100)), "join() did not wait for every task"
    for _ in threads:
        q.put(-1)
    q.join()  # joining twice works
    for t in threads:
        t.join()


def test_join_waits_for_every_task_and_works_twice(make):
    q = make()
    queue_join_test(q)
    queue_join_test(q)
    with pytest.raises(ValueError):
        q.task_done()


def test_negative_timeout_raises_value_error(make):
    q = make(QUEUE_SIZE)
    with pytest.raises(ValueError):
        q.put(1, timeout=-1)
    with pytest.raises(ValueError):
        q.get(1, timeout=-1)


def test_negative_timeout_is_checked_exactly_where_queue_queue_checks_it(make):
    unbounded = make()
    unbounded.put(1, timeout=-1)  # an unbounded put never looks at its timeout
    unbounded.put(2, block=False, timeout=-1)
    with pytest.raises(ValueError):
        unbounded.get(timeout=-1)  # even with an item there
    assert unbounded.get(block=False, timeout=-1) == 1  # a non-blocking get does not look
    bounded = make(3)
    with pytest.raises(ValueError):
        bounded.put(1, timeout=-1.5)  # even with room
    assert bounded.qsize() == 0


def test_nowait_calls_raise_full_and_empty(make):
    q = make(QUEUE_SIZE)
    for _ in range(QUEUE_SIZE):
        q.put_nowait(1)
    with pytest.raises(queue.Full):
        q.put_nowait(1)
    for _ in range(QUEUE_SIZE):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get_nowait()


def test_maxsize_zero_or_negative_means_unbounded_and_is_kept_as_given(make):
    for maxsize in (0, -3):
        q = make(maxsize)
        assert q.maxsize == maxsize
        for i in range(1000):
            q.put_nowait(i)
        assert not q.full()
        assert q.qsize() == 1000


def test_full_queue_rejects_a_put_and_keeps_its_items(make):
    q = make(3)
    for i in (1, 2, 3):
        q.put(i)
    with pytest.raises(queue.Full):
        q.put_nowait(4)
    assert q.qsize() == 3
    assert [q.get() for _ in range(3)] == [1, 2, 3]


# --- shutdown (Python 3.13) ----------------------------------------------------------------------


def test_shutdown_of_an_empty_queue_refuses_put_and_get(make_with_shutdown):
    q = make_with_shutdown()
    q.shutdown()
    with pytest.raises(shutdown_error(q)):
        q.put("data")
    with pytest.raises(shutdown_error(q)):
        q.get()


def test_shutdown_lets_get_drain_then_raises(make_with_shutdown):
    q = make_with_shutdown()
    q.put("data")
    q.shutdown()
    assert q.get() == "data"
    with pytest.raises(shutdown_error(q)):
        q.get()


def test_immediate_shutdown_drops_the_items(make_with_shutdown):
    q = make_with_shutdown()
    q.put("data")
    q.shutdown(immediate=True)
    with pytest.raises(shutdown_error(q)):
        q.get()


def test_shutdown_may_be_repeated_in_either_mode(make_with_shutdown):
    q = make_with_shutdown()
    assert not q.is_shutdown
    q.shutdown()
    assert q.is_shutdown
    q.shutdown(immediate=True)
    assert q.is_shutdown
    q.shutdown(immediate=False)


@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_all_methods_in_one_thread(make_with_shutdown, immediate):
    q = make_with_shutdown(2)
    error = shutdown_error(q)
    q.put("L")
    q.put_nowait("O")
    q.shutdown(immediate)
    with pytest.raises(error):
        q.put("E")
    with pytest.raises(error):
        q.put_nowait("W")
    if immediate:
        with pytest.raises(error):
            q.get()
        with pytest.raises(error):
            q.get_nowait()
        with pytest.raises(ValueError):
            q.task_done()
        q.join()
    else:
        assert q.get() in "LO"
        q.task_done()
        assert q.get() in "LO"
        q.task_done()
        q.join()
        with pytest.raises(error):
            q.get()
        with pytest.raises(error):
            q.get_nowait()
        with pytest.raises(error):
            q.get(True, 1.0)


@pytest.mark.thread_unsafe(reason="starts 13 threads that move 64K items")
@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_all_methods_in_many_threads(make_with_shutdown, immediate):
    q = make_with_shutdown()
    error = shutdown_error(q)
    res_puts, res_gets, res_shutdown = [], [], []
    write_threads, read_threads, join_threads = 4, 6, 2
    nb_msgs_w = 1024 * 64 // write_threads
    when_exec_shutdown = nb_msgs_w // 2
    parties = write_threads + read_threads + (join_threads if immediate else 0)
    barrier_start = threading.Barrier(parties)
    ev_exec_shutdown = threading.Event()

    def write():
        for i in range(when_exec_shutdown // 2):
            q.put((i, "LOYD"))
        barrier_start.wait()
        for i in range(when_exec_shutdown // 2, nb_msgs_w):
            try:
                q.put((i, "YDLO"))
            except error:
                res_puts.append(False)
                break
            if i == when_exec_shutdown and not ev_exec_shutdown.is_set():
                ev_exec_shutdown.set()
                res_puts.append(True)

    def read():
        q.get(True)
        q.task_done()
        barrier_start.wait()
        while True:
            try:
                q.get(False)
                q.task_done()
            except error:
                res_gets.append(True)
                break
            except queue.Empty:
                pass

    def shut():
        ev_exec_shutdown.wait()
        q.shutdown(immediate)
        res_shutdown.append(q.qsize() == 0)

    def join():
        barrier_start.wait()
        q.join()

    plan = [(write, write_threads), (read, read_threads), (shut, 1)]
    if immediate:
        plan.append((join, join_threads))
    threads = [threading.Thread(target=f) for f, n in plan for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert True in res_puts
    assert res_gets.count(True) == read_threads
    if immediate:
        assert res_shutdown == [True]
        assert q.empty()


def _get(q, go, results, shutdown=False):
    go.wait()
    try:
        q.get()
        results.append(not shutdown)
    except shutdown_error(q):
        results.append(shutdown)


def _get_task_done(q, go, results):
    go.wait()
    try:
        q.get()
        q.task_done()
        results.append(True)
    except shutdown_error(q):
        results.append(False)


def _put(q, msg, go, results, shutdown=False):
    go.wait()
    try:
        q.put(msg)
        results.append(not shutdown)
    except shutdown_error(q):
        results.append(shutdown)


def _join(q, results):
    q.join()
    results.append(True)


def _run(plan):
    threads = [threading.Thread(target=f, args=args) for f, args in plan]
    for t in threads:
        t.start()
    return threads


@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_get(make_with_shutdown, immediate):
    q = make_with_shutdown(2)
    results, go = [], threading.Event()
    q.put("Y")
    q.put("D")
    if immediate:
        plan = [(_get, (q, go, results, True))] * 2
    else:
        plan = [(_get, (q, go, results))] * 3  # one of the three raises ShutDown
    threads = _run(plan)
    q.shutdown(immediate)
    go.set()
    for t in threads:
        t.join()
    if immediate:
        assert results == [True, True]
    else:
        assert sorted(results) == [False, True, True]


@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_put_to_a_full_queue(make_with_shutdown, immediate):
    q = make_with_shutdown(2)
    results, go = [], threading.Event()
    q.put("Y")
    q.put("D")
    threads = _run([(_put, (q, "E", go, results, True)), (_put, (q, "W", go, results, True))])
    q.shutdown(immediate)
    go.set()
    for t in threads:
        t.join()
    assert results == [True, True]


@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_join(make_with_shutdown, immediate):
    q = make_with_shutdown()
    results, go = [], threading.Event()
    q.put("Y")
    plan = [(_join, (q, results))] * 2
    if not immediate:
        plan.append((_get_task_done, (q, go, [])))
    threads = _run(plan)
    q.shutdown(immediate)
    go.set()
    for t in threads:
        t.join()
    assert results == [True, True]


@pytest.mark.parametrize("immediate", [False, True])
def test_shutdown_put_join(make_with_shutdown, immediate):
    q = make_with_shutdown(2)
    results, go = [], threading.Event()
    q.put("Y")
    threads = _run([(_put, (q, "E", go, results, True)), (_join, (q, results))])
    assert q.unfinished_tasks == 1
    q.shutdown(immediate)
    go.set()
    if immediate:
        with pytest.raises(shutdown_error(q)):
            q.get_nowait()
    else:
        assert q.get() == "Y"
        q.task_done()
    for t in threads:
        t.join()
    assert results == [True, True]


def test_shutdown_get_task_done_join(make_with_shutdown):
    q = make_with_shutdown(2)
    results, go = [], threading.Event()
    q.put("Y")
    q.put("D")
    assert q.unfinished_tasks == q.qsize()
    plan = [(_get_task_done, (q, go, results))] * 2 + [(_join, (q, results))] * 2
    threads = _run(plan)
    go.set()
    q.shutdown(False)
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_shutdown_wakes_a_pending_get_with_shutdown(make_with_shutdown):
    q = make_with_shutdown()
    results = []

    def get():
        try:
            results.append(q.get())
        except Exception as exc:  # noqa: BLE001 - recorded and checked below
            results.append(exc)

    t = threading.Thread(target=get)
    t.start()
    q.shutdown(immediate=False)
    t.join(timeout=10.0)
    assert not t.is_alive()
    assert len(results) == 1
    assert isinstance(results[0], shutdown_error(q))


# --- SimpleQueue's cases, which hold for Queue too -----------------------------------------------


def test_basic_sizes_and_exceptions(make):
    q = make()
    assert q.empty() and q.qsize() == 0
    q.put(1)
    assert not q.empty() and q.qsize() == 1
    q.put(2)
    q.put_nowait(3)
    q.put(4)
    assert q.qsize() == 4
    assert q.get() == 1
    assert q.get_nowait() == 2
    assert q.get(block=False) == 3
    assert q.get(timeout=0.1) == 4
    assert q.empty() and q.qsize() == 0
    with pytest.raises(queue.Empty):
        q.get(block=False)
    with pytest.raises(queue.Empty):
        q.get(timeout=1e-3)
    with pytest.raises(queue.Empty):
        q.get_nowait()


def feed(q, seq, rnd, sentinel):
    while True:
        try:
            val = seq.pop()
        except IndexError:
            q.put(sentinel)
            return
        q.put(val)
        if rnd.random() > 0.5:
            time.sleep(rnd.random() * 1e-3)


def consume(q, results, sentinel):
    while (val := q.get()) != sentinel:
        results.append(val)


def consume_nonblock(q, results, sentinel):
    while True:
        try:
            val = q.get(block=False)
        except queue.Empty:
            time.sleep(1e-5)
            continue
        if val == sentinel:
            return
        results.append(val)


def consume_timeout(q, results, sentinel):
    while True:
        try:
            val = q.get(timeout=1e-5)
        except queue.Empty:
            continue
        if val == sentinel:
            return
        results.append(val)


def run_feeders_and_consumers(n_threads, q, inputs, consume_func):
    results, errors = [], []
    seq = inputs[::-1]
    rnd = random.Random(42)

    def logged(f, *args):
        try:
            f(*args)
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    threads = [threading.Thread(target=logged, args=(feed, q, seq, rnd, None)) for _ in range(n_threads)]
    threads += [threading.Thread(target=logged, args=(consume_func, q, results, None)) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert q.empty() and q.qsize() == 0
    return results


def test_one_feeder_one_consumer_keep_the_order(make):
    inputs = list(range(100))
    assert run_feeders_and_consumers(1, make(), inputs, consume) == inputs


@pytest.mark.thread_unsafe(reason="starts 100 threads")
@pytest.mark.parametrize("consume_func", [consume, consume_nonblock, consume_timeout])
def test_many_feeders_and_consumers_move_every_item_once(make, consume_func):
    inputs = list(range(1000 if consume_func is consume_timeout else 10000))
    assert sorted(run_feeders_and_consumers(50, make(), inputs, consume_func)) == inputs


def test_an_item_is_released_as_soon_as_it_is_got(make):
    class C:
        pass

    q = make()
    for _ in range(20):
        q.put(C())
    for _ in range(20):
        ref = weakref.ref(q.get())
        gc.collect()
        assert ref() is None


@pytest.mark.parametrize("make_reentrant", [queue.SimpleQueue, AtomicQueue])
def test_put_reentering_from_a_finalizer_during_put_and_get(make_reentrant):
    # bpo-14976: put() may be called re-entrantly, from a __del__ the collector runs. A case of
    # SimpleQueue's (queue.Queue, whose lock is not re-entrant, does not promise it).
    q = make_reentrant()
    gen = itertools.count()
    results = []

    class Circular:
        def __init__(self):
            self.circular = self

        def __del__(self):
            q.put(next(gen))

    n = 2000
    while True:
        o = Circular()
        q.put(next(gen))
        del o
        results.append(q.get())
        if results[-1] >= n:
            break
    assert results == list(range(n + 1))


def test_the_shutdown_exception_is_importable_from_lockless_and_pickles():
    # Found by ft_utils' queue tests, adapted, on the GIL build (3.11): the class AtomicQueue
    # raised there (lockless's own, before 3.13) could not be imported by name, nor pickled.
    from lockless import ShutDown

    assert ShutDown is SHUTDOWN and issubclass(ShutDown, Exception)
    if sys.version_info >= (3, 13):
        assert ShutDown is queue.ShutDown
    q = AtomicQueue()
    q.shutdown()
    with pytest.raises(ShutDown) as raised:
        q.get_nowait()
    assert type(pickle.loads(pickle.dumps(raised.value))) is ShutDown


@pytest.mark.skipif(not HAS_SHUTDOWN, reason="queue.Queue.shutdown is new in Python 3.13")
@pytest.mark.parametrize("immediate", [1, "yes", None, 0, ""])
def test_shutdown_takes_immediate_by_truth_value_as_queue_queue_does(immediate):
    # Found by differential fuzzing against queue.Queue: only a real bool was accepted.
    for q in (queue.Queue(), AtomicQueue()):
        q.put(1)
        q.shutdown(immediate)
        assert q.qsize() == (0 if immediate else 1)
