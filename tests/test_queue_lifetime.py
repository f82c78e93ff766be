"""AtomicQueue's objects and threads: items are released when they leave the queue (got,
discarded by shutdown, dropped with the queue), the queue takes part in cyclic GC, blocked
calls let the collector and other threads run and end on Ctrl-C, and the Python protocols
(repr, generics, pickling, weakrefs)."""

from __future__ import annotations

import gc
import os
import pickle
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

from lockless import AtomicQueue
from queue_support import SHUTDOWN, wait_until


class Item:
    """A weak-referenceable object that knows whether it is still alive."""


def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


# --- items are released -------------------------------------------------------------------------


def test_items_got_hold_no_reference_left_in_the_queue():
    q = AtomicQueue()
    items = [Item() for _ in range(100)]
    before = refcounts(items)
    for it in items:
        q.put(it)
    del it
    assert refcounts(items) == [n + 1 for n in before]
    got = [q.get() for _ in items]
    assert got == items
    del got
    assert refcounts(items) == before


def test_dropping_a_queue_releases_its_items_at_once():
    finalized = []
    q = AtomicQueue(10)
    for i in range(10):
        it = Item()
        weakref.finalize(it, finalized.append, i)
        q.put(it)
    del it
    assert finalized == []
    del q
    assert sorted(finalized) == list(range(10))


def test_immediate_shutdown_releases_the_discarded_items_at_once():
    finalized = []
    q = AtomicQueue()
    for i in range(5):
        it = Item()
        weakref.finalize(it, finalized.append, i)
        q.put(it)
    del it
    q.shutdown(immediate=True)
    assert sorted(finalized) == list(range(5))
    assert q.qsize() == 0


def test_refused_puts_leave_the_item_as_it_was():
    q = AtomicQueue(1)
    q.put(Item())
    it = Item()
    before = sys.getrefcount(it)
    for _ in range(200):
        with pytest.raises(queue.Full):
            q.put_nowait(it)
        with pytest.raises(queue.Full):
            q.put(it, timeout=0)
    q.shutdown()
    for _ in range(200):
        with pytest.raises(SHUTDOWN):
            q.put(it)
    assert sys.getrefcount(it) == before


def test_del_of_an_item_may_use_the_queue_that_released_it():
    q = AtomicQueue()
    seen = []

    class Reenter:
        def __del__(self):
            try:
                q.put("from __del__")
            except SHUTDOWN:
                seen.append("refused")

    q.put(Reenter())
    q.put(Reenter())
    q.shutdown(immediate=True)  # each discarded item's __del__ puts, after the shutdown
    assert seen == ["refused", "refused"]
    assert q.qsize() == 0

    q2 = AtomicQueue()

    class Reenter2:
        def __del__(self):
            q2.put_nowait("again")

    q2.put(Reenter2())
    q2.get()  # released here: its __del__ puts into the same queue
    assert q2.get_nowait() == "again"


# --- cyclic garbage collection ------------------------------------------------------------------


def test_a_queue_holding_itself_is_collected():
    q = AtomicQueue()
    q.put(q)
    ref = weakref.ref(q)
    del q
    gc.collect()
    assert ref() is None


def test_a_cycle_through_an_item_is_collected():
    q = AtomicQueue(4)
    it = Item()
    it.q = q
    q.put(it)
    refs = weakref.ref(q), weakref.ref(it)
    del q, it
    gc.collect()
    assert refs[0]() is None and refs[1]() is None


def test_the_collector_sees_every_item_and_leaves_the_order_alone():
    q = AtomicQueue()
    items = [Item() for _ in range(100)]
    for it in items:
        q.put(it)
    referents = gc.get_referents(q)
    assert sorted(map(id, referents)) == sorted(map(id, [*items, AtomicQueue]))  # and its class
    gc.collect()
    assert [q.get() for _ in items] == items


@pytest.mark.thread_unsafe(reason="collects garbage in a loop beside producers and consumers")
def test_collections_during_use_lose_nothing_and_keep_each_producers_order():
    # The collector pauses a millisecond between collections. A thread that calls gc.collect()
    # back to back stops the world so often that the others barely run: this test then took
    # from 0.05 s to 424 s (queue.Queue in its place took over 40 s too), and alone made
    # `make test` swing by tens of minutes.
    q = AtomicQueue()
    stop = threading.Event()
    first_collection_done = threading.Event()
    collections = 0
    per_producer = 5_000
    got = [[], []]

    def collector():
        nonlocal collections
        while True:
            gc.collect()
            collections += 1
            first_collection_done.set()
            if stop.wait(0.001):
                return

    def producer(p):
        first_collection_done.wait()
        for n in range(per_producer):
            q.put((p, n))

    def consumer(c):
        for _ in range(per_producer):
            got[c].append(q.get())

    threads = [threading.Thread(target=collector)]
    threads += [threading.Thread(target=producer, args=(p,)) for p in range(2)]
    threads += [threading.Thread(target=consumer, args=(c,)) for c in range(2)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert collections >= 2, "the collector kept running once the producers could start"
    assert sorted(got[0] + got[1]) == sorted((p, n) for p in range(2) for n in range(per_producer))
    for g in got:
        for p in range(2):
            mine = [n for (pp, n) in g if pp == p]
            assert mine == sorted(mine)


@pytest.mark.thread_unsafe(reason="blocks a thread in get")
def test_a_thread_blocked_in_get_lets_the_collector_and_other_threads_run():
    q = AtomicQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    wait_until(t.is_alive)
    time.sleep(0.05)  # let it block
    gc.collect()  # on the free-threaded build this stops the world: the sleeper is detached
    other = AtomicQueue()
    other.put(1)
    assert other.get() == 1
    q.put("done")
    t.join(timeout=30)
    assert got == ["done"]


# --- blocking: timeouts and Ctrl-C ---------------------------------------------------------------


def test_timed_get_and_put_wait_at_least_their_timeout():
    q = AtomicQueue(1)
    start = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    assert time.monotonic() - start >= 0.05
    q.put(1)
    start = time.monotonic()
    with pytest.raises(queue.Full):
        q.put(2, timeout=0.05)
    assert time.monotonic() - start >= 0.05


def test_huge_timeouts_mean_wait_until_woken():
    q = AtomicQueue()
    t = threading.Thread(target=lambda: q.put("x"))
    t.start()
    assert q.get(timeout=1e300) == "x"
    t.join()


CHILD = textwrap.dedent(
    """
    import signal, sys
    from lockless import AtomicQueue
    # A shell that starts the suite in the background leaves SIGINT ignored, and a child
    # inherits that: restore what an interactive program has.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    q = AtomicQueue(1)
    if sys.argv[1] == "put":
        q.put("fill")
    try:
        print("ready", flush=True)
        if sys.argv[1] == "get":
            q.get()
        elif sys.argv[1] == "get-timeout":
            q.get(timeout=600)
        else:
            q.put("more")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        # The queue still works after the interrupted call.
        q.put_nowait("after") if sys.argv[1] != "put" else q.get_nowait()
        print("usable", flush=True)
        sys.exit(0)
    print("returned", flush=True)
    sys.exit(1)
    """
)


@pytest.mark.thread_unsafe(reason="signals a child process")
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("call", ["get", "get-timeout", "put"])
def test_ctrl_c_interrupts_a_blocked_call_on_the_main_thread(call):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, call],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # let it block
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()  # also closes the pipes
    assert child.returncode == 0, (out, err)
    assert out.split() == ["interrupted", "usable"], (out, err)


# --- protocols -----------------------------------------------------------------------------------


def test_repr_shows_the_class_bound_and_size():
    q = AtomicQueue(8)
    q.put(1)
    q.put(2)
    assert repr(q) == "<AtomicQueue maxsize=8 qsize=2>"


def test_subscripting_the_class_gives_a_generic_alias():
    alias = AtomicQueue[int]
    assert alias.__origin__ is AtomicQueue
    assert alias.__args__ == (int,)


def test_pickling_is_refused_like_queue_queue():
    with pytest.raises(TypeError):
        pickle.dumps(AtomicQueue())


def test_weak_references_and_identity_hashing_work():
    q = AtomicQueue()
    assert weakref.ref(q)() is q
    assert {q: 1}[q] == 1


def test_block_is_taken_by_truth_value():
    q = AtomicQueue(1)
    q.put(1, 0)  # block=0: a non-blocking put, which succeeds
    with pytest.raises(queue.Full):
        q.put(2, "")
    assert q.get([]) == 1
    with pytest.raises(queue.Empty):
        q.get(None)


def test_methods_have_docstrings_and_the_read_only_attributes_are_read_only():
    for name in ("put", "put_nowait", "get", "get_nowait", "qsize", "empty", "full",
                 "task_done", "join", "shutdown"):
        assert getattr(AtomicQueue, name).__doc__
    q = AtomicQueue(3)
    with pytest.raises(AttributeError):
        q.maxsize = 4
    with pytest.raises(AttributeError):
        q.unfinished_tasks = 0
