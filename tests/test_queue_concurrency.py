"""AtomicQueue under many threads: exact invariants at the end.

* N producers x M consumers move an exact multiset: nothing lost, nothing delivered twice, and
  every consumer sees each producer's items in the order that producer put them; bounded and
  unbounded, with random blocking, non-blocking and timed calls.
* A bounded queue never holds more than maxsize items.
* Blocked consumers and producers wake with ShutDown when the queue is shut down; puts that
  race with a shutdown are either delivered or refused, never stranded.
* join() returns only after every task is done.
"""

from __future__ import annotations

import queue
import random
import threading
from collections import Counter

import pytest

from conftest import run_threads
from lockless import AtomicQueue
from queue_support import SHUTDOWN, wait_until

SHAPES = [
    # producers, consumers, maxsize, items per producer
    (1, 1, 0, 20_000),
    (4, 4, 0, 5_000),
    (3, 5, 0, 5_000),
    (4, 4, 1, 2_000),
    (4, 2, 8, 5_000),
    (2, 4, 1024, 5_000),
]


def move_items(producers, consumers, maxsize, per_producer, seed=0):
    """Producers put (producer, n) with random put flavours; consumers get with random
    flavours until every item is taken. Returns what each consumer got, in order."""
    q = AtomicQueue(maxsize)
    total = producers * per_producer
    taken = [0]
    taken_lock = threading.Lock()

    def produce(p):
        rnd = random.Random(seed * 1000 + p)
        for n in range(per_producer):
            item = (p, n)
            r = rnd.random()
            if r < 0.6:
                q.put(item)
                continue
            while True:  # a non-blocking or timed put: retry until it lands
                try:
                    if r < 0.8:
                        q.put_nowait(item)
                    else:
                        q.put(item, timeout=rnd.choice([0, 1e-5, 1e-3]))
                    break
                except queue.Full:
                    pass

    def consume(c):
        rnd = random.Random(seed * 1000 + 500 + c)
        got = []
        while True:
            with taken_lock:
                if taken[0] >= total:
                    return got
            r = rnd.random()
            try:
                if r < 0.4:
                    item = q.get_nowait()
                elif r < 0.8:
                    item = q.get(timeout=rnd.choice([0, 1e-5, 1e-3]))
                else:
                    item = q.get(timeout=0.05)
            except queue.Empty:
                continue
            with taken_lock:
                taken[0] += 1
            got.append(item)

    def body(i):
        return produce(i) if i < producers else consume(i - producers)

    results = run_threads(producers + consumers, body)
    assert q.qsize() == 0
    assert q.unfinished_tasks == total
    return results[producers:]


@pytest.mark.thread_unsafe(reason="starts up to 8 threads moving thousands of items")
@pytest.mark.parametrize(("producers", "consumers", "maxsize", "per_producer"), SHAPES)
def test_producers_and_consumers_move_an_exact_multiset_in_per_producer_order(
        producers, consumers, maxsize, per_producer, switch_often):
    got_per_consumer = move_items(producers, consumers, maxsize, per_producer, seed=maxsize)
    everything = Counter(item for got in got_per_consumer for item in got)
    expected = Counter((p, n) for p in range(producers) for n in range(per_producer))
    assert everything == expected  # nothing lost, nothing twice
    for got in got_per_consumer:
        last = {}
        for p, n in got:
            assert last.get(p, -1) < n, f"producer {p}: {n} after {last[p]}"
            last[p] = n


@pytest.mark.thread_unsafe(reason="a watcher samples the size while 4 threads churn")
def test_bounded_queue_never_holds_more_than_maxsize():
    q = AtomicQueue(3)
    stop = threading.Event()
    sizes = []

    def body(i):
        if i == 0:
            for _ in range(20_000):
                sizes.append(q.qsize())
            stop.set()
            return
        n = 0
        while not stop.is_set():
            n += 1
            if i % 2:
                try:
                    q.put_nowait(n)
                except queue.Full:
                    pass
            else:
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass

    run_threads(5, body)
    assert max(sizes) <= 3
    assert q.qsize() <= 3


@pytest.mark.thread_unsafe(reason="blocks threads on one queue until shutdown")
@pytest.mark.parametrize("immediate", [False, True])
def test_consumers_blocked_at_shutdown_wake_with_shutdown(immediate):
    q = AtomicQueue()
    outcomes = []
    lock = threading.Lock()

    def consumer(timeout):
        try:
            q.get(timeout=timeout)
            result = "item"
        except SHUTDOWN:
            result = "shutdown"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=consumer, args=(t,)) for t in (None, None, 60.0, 60.0)]
    for t in threads:
        t.start()
    wait_until(lambda: sum(t.is_alive() for t in threads) == 4)
    q.shutdown(immediate)
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert outcomes == ["shutdown"] * 4


@pytest.mark.thread_unsafe(reason="blocks threads on one queue until shutdown")
def test_producers_blocked_on_a_full_queue_wake_with_shutdown():
    q = AtomicQueue(1)
    q.put("x")
    outcomes = []

    def producer(i):
        try:
            q.put(i, timeout=None if i % 2 else 60.0)
            outcomes.append("put")
        except SHUTDOWN:
            outcomes.append("shutdown")

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: all(t.is_alive() for t in threads))
    q.shutdown()
    for t in threads:
        t.join(timeout=30)
    assert outcomes == ["shutdown"] * 4
    assert q.get() == "x"


@pytest.mark.thread_unsafe(reason="races shutdown against 3 producers and 3 consumers")
@pytest.mark.parametrize("maxsize", [0, 4])
@pytest.mark.parametrize("immediate", [False, True])
def test_puts_racing_shutdown_are_delivered_or_refused_never_stranded(maxsize, immediate):
    for attempt in range(10):
        q = AtomicQueue(maxsize)
        start = threading.Barrier(7)
        delivered, refused = Counter(), Counter()

        def body(i):
            start.wait()
            if i < 3:  # producers: put until refused
                n = 0
                while True:
                    try:
                        q.put((i, n))
                    except SHUTDOWN:
                        refused[i] += 1
                        return
                    delivered[i] += 1
                    n += 1
            elif i < 6:  # consumers: get until ShutDown
                got = 0
                while True:
                    try:
                        q.get()
                    except SHUTDOWN:
                        return got
                    got += 1
            else:
                threading.Event().wait(0.002 * (attempt % 3))
                q.shutdown(immediate)
            return None

        results = run_threads(7, body)
        got = sum(r for r in results[3:6])
        put = sum(delivered.values())
        assert refused == Counter({0: 1, 1: 1, 2: 1})
        if immediate:
            assert got <= put  # the rest were discarded by the shutdown; none is left
        else:
            assert got == put, f"attempt {attempt}: {put - got} items stranded"
        assert q.qsize() == 0


@pytest.mark.thread_unsafe(reason="workers and a joiner on one queue")
def test_join_returns_only_after_every_task_is_done():
    q = AtomicQueue()
    n_items = 3000
    for n in range(n_items):
        q.put(n)
    done = [0]
    lock = threading.Lock()

    def worker():
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                return
            with lock:
                done[0] += 1
            q.task_done()

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for t in workers:
        t.start()
    q.join()
    with lock:
        assert done[0] == n_items  # every task was marked done before join returned
    assert q.unfinished_tasks == 0
    for t in workers:
        t.join()


@pytest.mark.thread_unsafe(reason="joiners block until workers finish")
def test_every_joiner_wakes_when_the_last_task_is_done():
    q = AtomicQueue()
    for i in range(50):
        q.put(i)
    joined = []

    def joiner():
        q.join()
        joined.append(True)

    joiners = [threading.Thread(target=joiner) for _ in range(4)]
    for t in joiners:
        t.start()
    wait_until(lambda: all(t.is_alive() for t in joiners))
    assert not joined
    for _ in range(50):
        q.get()
        q.task_done()
    for t in joiners:
        t.join(timeout=30)
    assert joined == [True] * 4
