"""The workloads and the runner that times them.

Each workload is a loop template plus a `setup` that builds the shared object and each
thread's pre-generated inputs (keys, operation choices), and a `check` that verifies the
result afterwards (hot counters and increments check exact totals). A template line
`@name` is replaced by the adapter's snippet for operation `name` (see impls.py), wrapped
in the adapter's guard, at that indentation.

Timing: every thread waits on one Barrier, reads the clock, runs its loop, reads the clock;
a run's time is the latest end minus the earliest start. Throughput is all threads'
operations over that time. The garbage collector is off during the timed region.
"""

from __future__ import annotations

import gc
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .impls import Impl

# --- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    keyspace: int  # keys pre-filled in the map workloads
    ops: int  # operations per thread
    iterate_passes: int  # passes over the map in micro/iterate


FULL = Sizes(keyspace=100_000, ops=200_000, iterate_passes=20)
QUICK = Sizes(keyspace=1_000, ops=2_000, iterate_passes=2)

# --- keys -----------------------------------------------------------------------------------


def make_keys(keytype: str, start: int, count: int) -> list[Any]:
    """`count` distinct keys numbered from `start`: ints, or short strs (hashes cached)."""
    if keytype == "int":
        return list(range(start, start + count))
    keys = [f"key:{i}" for i in range(start, start + count)]
    for k in keys:
        hash(k)
    return keys


# --- templates --------------------------------------------------------------------------------


def render(template: str, impl: Impl) -> Callable[..., None]:
    """Compiles `template` with `impl`'s snippets pasted in; returns its function `work`."""
    out = []
    for line in template.strip("\n").splitlines():
        body = line.lstrip()
        if not body.startswith("@"):
            out.append(line)
            continue
        indent = line[: len(line) - len(body)]
        snippet = impl.op(body[1:])
        assert snippet is not None, (impl.name, body)
        if impl.guard:
            out.append(indent + impl.guard)
            indent += "    "
        out.extend(indent + s for s in snippet.splitlines())
    namespace: dict[str, Any] = impl.namespace()
    exec(compile("\n".join(out), f"<{impl.name}>", "exec"), namespace)
    return namespace["work"]


MIX = """
def work(m, lock, keys, writes):
    for k, w in zip(keys, writes):
        if w:
            v = k
            @set
        else:
            @get
"""

INSERT = """
def work(m, lock, keys):
    for k in keys:
        v = k
        @set
"""

CHURN = """
def work(m, lock, keys):
    for k in keys:
        @delete
        v = k
        @set
"""

ADD = """
def work(m, lock, keys):
    for k in keys:
        @add
"""

INC = """
def work(m, lock, n):
    for _ in range(n):
        @inc
"""

EACH = """
def work(m, lock, keys):
    for k in keys:
        @{op}
"""

SET_EACH = """
def work(m, lock, keys):
    for k in keys:
        v = k
        @set
"""

REPEAT = """
def work(m, lock, n):
    for _ in range(n):
        @{op}
"""

# --- workloads ----------------------------------------------------------------------------------


@dataclass
class Setup:
    shared: Any
    args: list[tuple[Any, ...]]  # one tuple per thread, after (m, lock)
    ops: int  # operations in total, all threads
    expect: Any = None  # for check


@dataclass
class Workload:
    name: str
    kind: str  # adapter kind: "map", "int" or "ref"
    template: str
    needs: tuple[str, ...]
    describe: str
    keytypes: tuple[str, ...] = ("int", "str")
    single_thread: bool = False
    inputs: Callable[..., Any] = field(default=lambda *a: None)  # (sizes, keytype, nthreads, rng)
    build: Callable[..., Setup] = field(default=lambda *a: None)  # (impl, inputs)
    check: Callable[..., None] = field(default=lambda *a: None)  # (impl, setup)


def _mix_inputs(p_write: float):
    def inputs(sizes: Sizes, keytype: str, nthreads: int, rng: random.Random):
        space = make_keys(keytype, 0, sizes.keyspace)
        per_thread = []
        for _ in range(nthreads):
            keys = [space[rng.randrange(len(space))] for _ in range(sizes.ops)]
            writes = [rng.random() < p_write for _ in range(sizes.ops)]
            per_thread.append((keys, writes))
        return space, per_thread

    return inputs


def _prefilled(impl: Impl, inputs) -> Setup:
    space, per_thread = inputs
    return Setup(impl.new({k: k for k in space}), per_thread, sum(len(a[0]) for a in per_thread))


def _insert_inputs(sizes, keytype, nthreads, rng):
    per_thread = []
    for t in range(nthreads):
        keys = make_keys(keytype, t * sizes.ops, sizes.ops)
        rng.shuffle(keys)
        per_thread.append((keys,))
    return per_thread


def _insert_build(impl, inputs):
    return Setup(impl.new(), inputs, sum(len(a[0]) for a in inputs))


def _check_len(expected_of: Callable[[Setup], int]):
    def check(impl: Impl, s: Setup) -> None:
        try:
            n = len(s.shared)
        except TypeError:  # no len (ft_utils.ConcurrentDict)
            return
        assert n == expected_of(s), f"{impl.name}: len {n}, expected {expected_of(s)}"

    return check


def _churn_inputs(sizes, keytype, nthreads, rng):
    """Thread t owns the keys i with i % nthreads == t: it deletes one and puts it back."""
    space = make_keys(keytype, 0, sizes.keyspace)
    per_thread = []
    for t in range(nthreads):
        own = space[t::nthreads]
        per_thread.append(([own[rng.randrange(len(own))] for _ in range(sizes.ops // 2)],))
    return space, per_thread


def _churn_build(impl, inputs):
    space, per_thread = inputs
    return Setup(impl.new({k: k for k in space}), per_thread, 2 * sum(len(a[0]) for a in per_thread), len(space))


HOT_KEYS = 16


def _hot_inputs(sizes, keytype, nthreads, rng):
    hot = make_keys(keytype, 0, HOT_KEYS)
    return hot, [([hot[rng.randrange(HOT_KEYS)] for _ in range(sizes.ops)],) for _ in range(nthreads)]


def _hot_build(impl, inputs):
    hot, per_thread = inputs
    counters = impl.counters(hot) if hasattr(impl, "counters") else impl.new({k: 0 for k in hot})
    expect = Counter(k for (keys,) in per_thread for k in keys)
    return Setup(counters, per_thread, sum(len(a[0]) for a in per_thread), expect)


def _hot_check(impl, s):
    for k, n in s.expect.items():
        got = impl.read(s.shared, k)
        assert got == n, f"{impl.name}: counter {k!r} is {got}, expected {n} (lost updates)"


def _inc_inputs(sizes, keytype, nthreads, rng):
    return [(sizes.ops,) for _ in range(nthreads)]


def _inc_build(impl, inputs):
    return Setup(impl.new(), inputs, sum(a[0] for a in inputs))


def _inc_check(impl, s):
    got = impl.read(s.shared)
    assert got == s.ops, f"{impl.name}: total {got}, expected {s.ops} (lost updates)"


def _ref_inputs(sizes, keytype, nthreads, rng):
    values = [object() for _ in range(64)]
    return None, [
        ([values[rng.randrange(64)] for _ in range(sizes.ops)], [rng.random() < 0.1 for _ in range(sizes.ops)])
        for _ in range(nthreads)
    ]


def _ref_build(impl, inputs):
    return Setup(impl.new(), inputs[1], sum(len(a[0]) for a in inputs[1]))


def _micro_keys_inputs(hit: bool):
    def inputs(sizes, keytype, nthreads, rng):
        space = make_keys(keytype, 0, sizes.keyspace)
        probe = space if hit else make_keys(keytype, sizes.keyspace, sizes.keyspace)
        return space, [([probe[rng.randrange(len(probe))] for _ in range(sizes.ops)],)]

    return inputs


def _micro_repeat_inputs(count: Callable[[Sizes], int]):
    def inputs(sizes, keytype, nthreads, rng):
        return make_keys(keytype, 0, sizes.keyspace), [(count(sizes),)]

    return inputs


def _micro_repeat_build(ops_per_rep: Callable[[Setup], int]):
    def build(impl, inputs):
        space, args = inputs
        s = Setup(impl.new({k: k for k in space}), args, 0)
        s.ops = args[0][0] * ops_per_rep(s)
        return s

    return build


CALIBRATE = """
def work(m, lock, n):
    x = 0
    for _ in range(n):
        x += 1
"""

WORKLOADS: list[Workload] = [
    Workload("calibrate", "calibrate", CALIBRATE, (), "no sharing: the machine's own scaling right now",
             keytypes=("-",), inputs=_inc_inputs, build=_inc_build),
    Workload("read-heavy", "map", MIX, ("get", "set"), "95% m[k] / 5% m[k] = v over a pre-filled map",
             inputs=_mix_inputs(0.05), build=_prefilled),
    Workload("write-heavy", "map", MIX, ("get", "set"), "50% m[k] / 50% m[k] = v over a pre-filled map",
             inputs=_mix_inputs(0.5), build=_prefilled),
    Workload("insert", "map", INSERT, ("set",), "each thread inserts its own fresh keys into an empty map",
             inputs=_insert_inputs, build=_insert_build, check=_check_len(lambda s: s.ops)),
    Workload("delete-churn", "map", CHURN, ("delete", "set"), "del m[k]; m[k] = v on each thread's own keys",
             inputs=_churn_inputs, build=_churn_build, check=_check_len(lambda s: s.expect)),
    Workload("hot-counters", "map", ADD, ("add",), f"race-free m[k] += 1 on {HOT_KEYS} keys; totals checked",
             inputs=_hot_inputs, build=_hot_build, check=_hot_check),
    Workload("increment", "int", INC, ("inc",), "one shared integer incremented by every thread; total checked",
             keytypes=("-",), inputs=_inc_inputs, build=_inc_build, check=_inc_check),
    Workload("ref-get-set", "ref", MIX, ("get", "set"), "one shared reference: 90% get / 10% set",
             keytypes=("-",), inputs=_ref_inputs, build=_ref_build),
    Workload("micro/get-hit", "map", EACH.replace("{op}", "get"), ("get",), "m[k], key present",
             single_thread=True, inputs=_micro_keys_inputs(True), build=_prefilled),
    Workload("micro/get-miss", "map", EACH.replace("{op}", "miss"), ("miss",), "k in m, key absent",
             single_thread=True, inputs=_micro_keys_inputs(False), build=_prefilled),
    Workload("micro/set-existing", "map", SET_EACH, ("set",), "m[k] = v, key present",
             single_thread=True, inputs=_micro_keys_inputs(True), build=_prefilled),
    Workload("micro/iterate", "map", REPEAT.replace("{op}", "iterate"), ("iterate",), "for k in m (per key)",
             single_thread=True, inputs=_micro_repeat_inputs(lambda s: s.iterate_passes),
             build=_micro_repeat_build(lambda s: len(s.shared))),
    Workload("micro/len", "map", REPEAT.replace("{op}", "len"), ("len",), "len(m)",
             single_thread=True, inputs=_micro_repeat_inputs(lambda s: s.ops),
             build=_micro_repeat_build(lambda s: 1)),
]

BY_NAME = {w.name: w for w in WORKLOADS}

# --- running ------------------------------------------------------------------------------------


def run_once(work: Callable[..., None], impl: Impl, s: Setup) -> float:
    """Runs one thread per entry of `s.args` behind a Barrier; returns the elapsed seconds."""
    n = len(s.args)
    barrier = threading.Barrier(n)
    lock = impl.lock()
    starts = [0.0] * n
    ends = [0.0] * n
    errors: list[BaseException] = []

    def thread_main(i: int) -> None:
        try:
            handle = impl.local(s.shared)
            args = s.args[i]
            barrier.wait()
            starts[i] = time.perf_counter()
            work(handle, lock, *args)
            ends[i] = time.perf_counter()
        except BaseException as e:  # re-raised on the main thread after join
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(n)]
    gc.collect()
    gc.disable()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.enable()
    if errors:
        raise errors[0]
    return max(ends) - min(starts)


@dataclass
class Result:
    workload: str
    keys: str
    threads: int
    impl: str
    samples: list[float]  # Mops/s, one per run

    @property
    def mops(self) -> float:
        xs = sorted(self.samples)
        mid = len(xs) // 2
        return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def run_workload(wl: Workload, impls: list[Impl], keytype: str, nthreads: int, sizes: Sizes,
                 runs: int, seed: int = 1) -> list[Result]:
    """All of `impls` on the same pre-generated inputs; the runs interleave the implementations
    (rotating their order) so that drifting machine noise hits each alike."""
    inputs = wl.inputs(sizes, keytype, nthreads, random.Random(seed))
    works = {impl.name: render(wl.template, impl) for impl in impls}
    samples: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for rep in range(runs):
        order = impls[rep % len(impls):] + impls[: rep % len(impls)]
        for impl in order:
            s = wl.build(impl, inputs)
            secs = run_once(works[impl.name], impl, s)
            wl.check(impl, s)
            samples[impl.name].append(s.ops / secs / 1e6)
            del s
    return [Result(wl.name, keytype, nthreads, impl.name, samples[impl.name]) for impl in impls]
