"""Where AtomicDict replaces dict in existing code: views' ``mapping``, ``count`` of a mapping
(as ``Counter.update``), JSON, insertion order across threads, and copying from an AtomicDict
that another thread is changing."""

from __future__ import annotations

import json
import threading
import types
from collections import Counter

import pytest

from conftest import run_threads
from lockless import AtomicDict

# --- views have .mapping, a read-only proxy of the dict (as dict's views since 3.10) ------------


@pytest.mark.parametrize("view", ["keys", "values", "items"])
def test_view_mapping_is_a_live_read_only_proxy_of_the_dict_like_dicts(view):
    for m in ({"a": 1}, AtomicDict(a=1)):
        v = getattr(m, view)()
        proxy = v.mapping
        assert type(proxy) is types.MappingProxyType
        assert list(proxy.items()) == [("a", 1)] and proxy["a"] == 1 and len(proxy) == 1
        m["b"] = 2
        assert proxy["b"] == 2 and list(proxy) == ["a", "b"]  # live: the dict, not a copy
        with pytest.raises(TypeError):
            proxy["c"] = 3  # type: ignore[index]
        with pytest.raises(AttributeError):
            v.mapping = {}  # type: ignore[misc]
        assert "c" not in m


def test_view_mapping_proxies_the_dict_itself():
    ad = AtomicDict(a=[1])
    proxy = ad.items().mapping
    assert proxy["a"] is ad["a"]
    assert proxy == ad and type(proxy.copy()) is AtomicDict


# --- count: an iterable counts its elements; a mapping adds its counts (Counter.update) ---------

COUNT_ARGUMENTS = {
    "string": "abracadabra",
    "list": ["x", "x", "y", ("t", 1)],
    "empty list": [],
    "dict": {"red": 4, "blue": 2},
    "dict of zero and negative": {"a": 0, "red": -3},
    "Counter": Counter(a=3, b=-1),
    "AtomicDict": AtomicDict(red=2, c=1),
    "mappingproxy": types.MappingProxyType({"z": 5, "a": 1}),
    "keys of a dict": {"red": 4, "blue": 2}.keys(),
}


@pytest.mark.parametrize("start", [{}, {"red": 1, "a": 10}], ids=["empty", "counts"])
@pytest.mark.parametrize("argument", list(COUNT_ARGUMENTS))
def test_count_matches_counter_update(start, argument):
    arg = COUNT_ARGUMENTS[argument]
    want = Counter(start)
    want.update(arg)
    got = AtomicDict(start)
    got.count(arg)
    assert list(got.items()) == list(want.items())


def test_count_of_a_mapping_from_threads_adds_every_count():
    d = AtomicDict()
    rounds = 2_000

    def work(t):
        for _ in range(rounds):
            d.count({"red": 4, "blue": 2, t: 1})

    run_threads(4, work)
    assert d == {"red": 4 * 4 * rounds, "blue": 4 * 2 * rounds, 0: rounds, 1: rounds, 2: rounds, 3: rounds}


# --- JSON -------------------------------------------------------------------------------------


def test_json_dumps_with_default_dict_serializes_nested_atomic_dicts():
    ad = AtomicDict(a=1, b=AtomicDict(c=[1, AtomicDict(d=None)], e=(2.5, "x")), f="g")
    plain = {"a": 1, "b": {"c": [1, {"d": None}], "e": (2.5, "x")}, "f": "g"}
    assert json.dumps(ad, default=dict) == json.dumps(plain)
    assert json.dumps(ad, default=dict, sort_keys=True, indent=2) == json.dumps(plain, sort_keys=True, indent=2)
    assert json.loads(json.dumps(ad, default=dict)) == json.loads(json.dumps(plain))


def test_json_dumps_of_dict_of_an_atomic_dict():
    ad = AtomicDict(b=[1, 2], a="x")
    assert json.dumps(dict(ad)) == '{"b": [1, 2], "a": "x"}'


def test_json_dumps_without_default_rejects_an_atomic_dict_as_any_non_dict():
    # AtomicDict is not a dict subclass (C code using PyDict_* would see an empty dict).
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps(AtomicDict(a=1))


# --- insertion order among inserts that do not overlap in time --------------------------------


def test_inserts_handed_from_thread_to_thread_keep_the_hand_off_order():
    # Thread t inserts key i only after key i - 1 was inserted (by another thread) and its
    # insert returned: no two inserts overlap, so the order is theirs.
    threads, rounds = 4, 50
    d = AtomicDict()
    turns = [threading.Event() for _ in range(threads * rounds + 1)]
    turns[0].set()

    def work(t):
        for r in range(rounds):
            i = r * threads + t
            turns[i].wait()
            d[i] = t
            if r % 3 == 0:
                d[("re", t)] = i  # an existing key keeps its place; the first insert placed it
            turns[i + 1].set()

    run_threads(threads, work)
    assert [k for k in d if isinstance(k, int)] == list(range(threads * rounds))
    assert [k for k in d if isinstance(k, tuple)] == [("re", t) for t in range(threads)]


def test_every_insert_before_a_barrier_precedes_every_insert_after_it():
    threads, phases, per = 4, 6, 40
    d = AtomicDict()
    barrier = threading.Barrier(threads)

    def work(t):
        for phase in range(phases):
            for i in range(per):
                d[(phase, t, i)] = None
            barrier.wait()

    run_threads(threads, work)
    keys = list(d)
    assert len(keys) == threads * phases * per
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)  # phases do not interleave
    for t in range(threads):  # one thread's own inserts never overlap each other
        own = [k for k in keys if k[1] == t]
        assert own == sorted(own)


def test_a_key_deleted_and_reinserted_after_a_hand_off_goes_after_earlier_inserts():
    d = AtomicDict.fromkeys(["a", "b"])
    inserted = threading.Event()

    def work(t):
        if t == 0:
            d["c"] = None
            inserted.set()
        else:
            inserted.wait()
            del d["a"]
            d["a"] = None

    run_threads(2, work)
    assert list(d) == ["b", "c", "a"]


# --- copying from an AtomicDict that another thread changes never raises -----------------------

STABLE = {f"s{i}": i for i in range(40)}
CHURNED = [f"c{i}" for i in range(40)]


def _updated(src):
    target = AtomicDict(x=1)
    target.update(src)
    return target


def _ior(src):
    target = AtomicDict(x=1)
    target |= src
    return target


def _counted(src):
    target = AtomicDict()
    target.count(src)
    return target


COPIES = {
    "constructor": AtomicDict,
    "update": _updated,
    "|=": _ior,
    "src | dict": lambda src: src | {"x": 1},
    "dict | src": lambda src: {"x": 1} | src,
    "AtomicDict | src": lambda src: AtomicDict(x=1) | src,
    "copy": lambda src: src.copy(),
    "fromkeys": lambda src: AtomicDict.fromkeys(src, 0),
    "count": _counted,
    "dict of items": lambda src: dict(src.items()),
    "json with default": lambda src: json.loads(json.dumps(src, default=lambda o: dict(o.items()))),
    "value in values": lambda src: {"found": -2 in src.values()},
    "==": lambda src: {"equal": src == dict(STABLE)},
}


@pytest.mark.parametrize("how", list(COPIES))
def test_copying_from_a_dict_another_thread_changes_never_raises(how, switch_often):
    copy_of = COPIES[how]
    src = AtomicDict(STABLE)
    done = threading.Event()
    churns = [0]
    results = []

    def work(t):
        if t == 0:
            while not done.is_set():
                for k in CHURNED:
                    src[k] = -1
                for k in CHURNED:
                    del src[k]
                churns[0] += 1
        else:
            try:
                # Copies overlap at least 500 rounds of churn, however the threads are scheduled.
                while churns[0] < 500 or len(results) < 2_000:
                    results.append(copy_of(src))
            finally:
                done.set()

    run_threads(2, work)
    for r in results:
        if "found" in r or "equal" in r:
            continue
        for k, v in STABLE.items():  # present throughout: always copied
            assert k in r and r[k] in (v, 0, 1), (k, r)
        assert set(r) <= set(STABLE) | set(CHURNED) | {"x"}


class VanishingKey:
    """A key that deletes itself from ``source`` when next hashed once armed: what another thread
    may do between a copy's iteration reaching a key and the copy reading its value."""

    def __init__(self, source):
        self.source = source
        self.armed = False

    def __hash__(self):
        if self.armed:
            self.armed = False
            del self.source[self]
        return 7


@pytest.mark.parametrize("how", [h for h in COPIES if h not in ("value in values", "==", "json with default")])
def test_copying_reads_each_item_once_so_a_key_deleted_midway_raises_nothing(how):
    src = AtomicDict(a=1)
    key = VanishingKey(src)
    src[key] = 2
    src["z"] = 3
    key.armed = True
    result = COPIES[how](src)
    key.armed = False
    assert "a" in result and "z" in result
