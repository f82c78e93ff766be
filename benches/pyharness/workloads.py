"""The workloads and the runner that times them.

Each workload is a loop template plus `inputs` (numbers drawn once, in the main thread, the same
for every implementation), `build` (the shared object, and a function that each thread calls
*in that thread*, before the start barrier, to make its own arguments), and `check` (exact
invariants afterwards). A template line `@name` is replaced by the adapter's snippet for
operation `name` (see impls.py), wrapped in the adapter's guard, at that indentation.

# The shared form (issue 17)
The map workloads measure what drop-in code does:
* a map prefilled with `keyspace` (100,000) keys, created by the main thread;
* each thread makes its own key objects, equal to the stored ones but distinct objects, the way
  keys parsed from input are made (`int(s)` of a string; a str joined afresh, its hash then
  computed once), in its own thread (so, on 3.13t, the thread owns their reference counts);
* operations drawn in blocks: each thread draws a block of `block` (key, read-or-write) choices
  and replays it until it has done its share of `ops` (the operations of one run, all threads
  together), so inputs stay small whatever `ops` is;
* one object shared by every thread (`lockless`, `cereggii`), or per-thread handles as an extra
  (`lockless-handle`).

Timing: every thread waits on one Barrier, reads the clock, runs its loop, reads the clock; a
run's time is the latest end minus the earliest start. Throughput is all threads' operations
over that time. The garbage collector is off during the timed region.
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
    ops: int  # operations per run, all threads together
    block: int  # operations drawn per block (each thread replays its block)
    micro_ops: int  # operations per single-thread micro run (and keys of micro/insert, micro/delete)
    other_ops: int  # operations per thread of hot-counters, increment, ref-get-set, calibrate
    iterate_passes: int  # passes over the map in micro/iterate


FULL = Sizes(keyspace=100_000, ops=3_000_000, block=65_536, micro_ops=1_000_000, other_ops=200_000,
             iterate_passes=20)
QUICK = Sizes(keyspace=1_000, ops=4_000, block=512, micro_ops=2_000, other_ops=2_000, iterate_passes=2)

# --- keys -----------------------------------------------------------------------------------

BASE = 1_000  # first int key: outside CPython's small-int cache, so copies are distinct objects


def stored_keys(keytype: str, numbers: range | list[int]) -> list[Any]:
    """The keys numbered `numbers` as the main thread stores them: ints from BASE, or "key:N"
    strs (hashes cached)."""
    if keytype == "int":
        return [BASE + i for i in numbers]
    keys = list(map("key:{}".format, numbers))
    for k in keys:
        hash(k)
    return keys


def own_keys(keytype: str, numbers: range | list[int]) -> list[Any]:
    """Keys equal to `stored_keys(numbers)` but new objects, made as parsed input makes them:
    `int()` of a decimal string, or a str joined from parts (then hashed once, as the first
    dict operation on it would)."""
    if keytype == "int":
        return [int(s) for s in map(str, [BASE + i for i in numbers])]
    keys = ["".join(("key:", s)) for s in map(str, numbers)]
    for k in keys:
        hash(k)
    return keys


def make_keys(keytype: str, start: int, count: int) -> list[Any]:
    """`count` distinct keys numbered from `start` (for the workloads that share key objects)."""
    return stored_keys(keytype, range(start, start + count))


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


# `blocks` is a list of (keys, writes) pairs: the thread's block repeated, then a partial one.
MIX = """
def work(m, lock, blocks):
    for keys, writes in blocks:
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
def work(m, lock, blocks):
    for keys in blocks:
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
def work(m, lock, blocks):
    for keys in blocks:
        for k in keys:
            @{op}
"""

SET_EACH = """
def work(m, lock, blocks):
    for keys in blocks:
        for k in keys:
            v = k
            @set
"""

REPEAT = """
def work(m, lock, n):
    for _ in range(n):
        @{op}
"""

CALIBRATE = """
def work(m, lock, n):
    x = 0
    for _ in range(n):
        x += 1
"""

# --- workloads ----------------------------------------------------------------------------------


@dataclass
class Setup:
    shared: Any
    #: Called in thread i, before the barrier: the arguments of its loop after (m, lock).
    thread_args: Callable[[int], tuple[Any, ...]]
    nthreads: int
    ops: int  # operations in total, all threads
    expect: Any = None  # for check


@dataclass
class Workload:
    name: str
    kind: str  # adapter kind: "map", "int", "ref" or "calibrate"
    template: str
    needs: tuple[str, ...]
    describe: str
    keytypes: tuple[str, ...] = ("int", "str")
    single_thread: bool = False
    inputs: Callable[..., Any] = field(default=lambda *a: None)  # (sizes, keytype, nthreads, rng)
    build: Callable[..., Setup] = field(default=lambda *a: None)  # (impl, inputs)
    check: Callable[..., None] = field(default=lambda *a: None)  # (impl, setup)


def _blocks(block: list[Any], total: int) -> list[Any]:
    """`block` (a list, or a tuple of parallel lists) repeated to `total` items: whole copies
    (the same objects), then a cut one."""
    n = len(block[0]) if isinstance(block, tuple) else len(block)
    whole, rest = divmod(total, n)
    out = [block] * whole
    if rest:
        out.append(tuple(b[:rest] for b in block) if isinstance(block, tuple) else block[:rest])
    return out


def _share(ops: int, nthreads: int, t: int) -> int:
    return ops // nthreads + (1 if t < ops % nthreads else 0)


@dataclass
class Prefilled:
    """Inputs of a workload over a prefilled map: the keyspace and each thread's block, drawn
    as numbers (the thread makes its own key objects for them)."""

    keytype: str
    keyspace: int
    per_thread: list[tuple[list[int], list[bool] | None, int]]  # (block, writes, ops)


def _mix_inputs(p_write: float):
    def inputs(sizes: Sizes, keytype: str, nthreads: int, rng: random.Random) -> Prefilled:
        per_thread = []
        for t in range(nthreads):
            ops = _share(sizes.ops, nthreads, t)
            n = min(sizes.block, ops)
            block = [rng.randrange(sizes.keyspace) for _ in range(n)]
            writes = [rng.random() < p_write for _ in range(n)]
            per_thread.append((block, writes, ops))
        return Prefilled(keytype, sizes.keyspace, per_thread)

    return inputs


def _new_prefilled(impl: Impl, inp: Prefilled) -> Any:
    keys = stored_keys(inp.keytype, range(inp.keyspace))
    return impl.new({k: k for k in keys})


def _mix_build(impl: Impl, inp: Prefilled) -> Setup:
    def thread_args(t: int) -> tuple[Any, ...]:
        block, writes, ops = inp.per_thread[t]
        own = own_keys(inp.keytype, range(inp.keyspace))
        return (_blocks(([own[i] for i in block], writes), ops),)

    return Setup(_new_prefilled(impl, inp), thread_args, len(inp.per_thread),
                 sum(p[2] for p in inp.per_thread))


def _insert_inputs(sizes: Sizes, keytype: str, nthreads: int, rng: random.Random):
    """Thread t inserts its own fresh keys (numbers no other thread has), in a shuffled order."""
    per_thread = []
    start = 0
    for t in range(nthreads):
        n = _share(sizes.ops, nthreads, t)
        numbers = list(range(start, start + n))
        rng.shuffle(numbers)
        per_thread.append(numbers)
        start += n
    return keytype, per_thread


def _insert_build(impl: Impl, inputs) -> Setup:
    keytype, per_thread = inputs

    def thread_args(t: int) -> tuple[Any, ...]:
        return (own_keys(keytype, per_thread[t]),)

    total = sum(len(p) for p in per_thread)
    return Setup(impl.new(), thread_args, len(per_thread), total, total)


def _churn_inputs(sizes: Sizes, keytype: str, nthreads: int, rng: random.Random) -> Prefilled:
    """Thread t owns the keys i with i % nthreads == t: it deletes one and puts it back (two
    operations per pair)."""
    per_thread = []
    for t in range(nthreads):
        ops = _share(sizes.ops, nthreads, t) // 2
        own = range(t, sizes.keyspace, nthreads)
        block = [own[rng.randrange(len(own))] for _ in range(min(sizes.block, ops))]
        per_thread.append((block, None, ops))
    return Prefilled(keytype, sizes.keyspace, per_thread)


def _churn_build(impl: Impl, inp: Prefilled) -> Setup:
    def thread_args(t: int) -> tuple[Any, ...]:
        block, _, pairs = inp.per_thread[t]
        return (_blocks(own_keys(inp.keytype, block), pairs),)

    return Setup(_new_prefilled(impl, inp), thread_args, len(inp.per_thread),
                 2 * sum(p[2] for p in inp.per_thread), inp.keyspace)


def _check_len(impl: Impl, s: Setup) -> None:
    try:
        n = len(s.shared)
    except TypeError:  # no len()
        return
    assert n == s.expect, f"{impl.name}: len {n}, expected {s.expect}"


HOT_KEYS = 16


def _hot_inputs(sizes, keytype, nthreads, rng):
    hot = make_keys(keytype, 0, HOT_KEYS)
    per = sizes.other_ops
    return hot, [[hot[rng.randrange(HOT_KEYS)] for _ in range(per)] for _ in range(nthreads)]


def _hot_build(impl, inputs):
    hot, per_thread = inputs
    counters = impl.counters(hot) if hasattr(impl, "counters") else impl.new({k: 0 for k in hot})
    expect = Counter(k for keys in per_thread for k in keys)
    return Setup(counters, lambda t: (per_thread[t],), len(per_thread), sum(map(len, per_thread)), expect)


def _hot_check(impl, s):
    for k, n in s.expect.items():
        got = impl.read(s.shared, k)
        assert got == n, f"{impl.name}: counter {k!r} is {got}, expected {n} (lost updates)"


def _inc_inputs(sizes, keytype, nthreads, rng):
    per = sizes.other_ops
    return [per] * nthreads


def _inc_build(impl, inputs):
    return Setup(impl.new(), lambda t: (inputs[t],), len(inputs), sum(inputs))


def _inc_check(impl, s):
    got = impl.read(s.shared)
    assert got == s.ops, f"{impl.name}: total {got}, expected {s.ops} (lost updates)"


def _ref_inputs(sizes, keytype, nthreads, rng):
    per = sizes.other_ops
    values = [object() for _ in range(64)]
    return [([values[rng.randrange(64)] for _ in range(per)], [rng.random() < 0.1 for _ in range(per)])
            for _ in range(nthreads)]


def _ref_build(impl, inputs):
    return Setup(impl.new(), lambda t: (_blocks(inputs[t], len(inputs[t][0])),), len(inputs),
                 sum(len(a[0]) for a in inputs))


# --- single-thread micro benchmarks: time per operation against dict ---------------------------


def _micro_inputs(kind: str):
    """kind: "hit" (stored keys, drawn), "miss" (absent keys, drawn), "delete" (a map of
    micro_ops keys, each deleted once, shuffled), "insert" (micro_ops fresh keys into an empty
    map, shuffled)."""

    def inputs(sizes: Sizes, keytype: str, nthreads: int, rng: random.Random):
        n = sizes.micro_ops
        if kind in ("hit", "miss"):
            offset = 0 if kind == "hit" else sizes.keyspace
            block = [offset + rng.randrange(sizes.keyspace) for _ in range(min(sizes.block, n))]
            return keytype, sizes.keyspace, block, n
        numbers = list(range(n))
        rng.shuffle(numbers)
        return keytype, (n if kind == "delete" else 0), numbers, n

    return inputs


def _micro_build(impl: Impl, inputs) -> Setup:
    keytype, prefill, numbers, ops = inputs
    m = impl.new({k: k for k in stored_keys(keytype, range(prefill))})
    return Setup(m, lambda t: (_blocks(own_keys(keytype, numbers), ops),), 1, ops)


def _micro_repeat_inputs(count: Callable[[Sizes], int]):
    def inputs(sizes, keytype, nthreads, rng):
        return make_keys(keytype, 0, sizes.keyspace), count(sizes)

    return inputs


def _micro_repeat_build(ops_per_rep: Callable[[Any], int]):
    def build(impl, inputs):
        space, reps = inputs
        m = impl.new({k: k for k in space})
        return Setup(m, lambda t: (reps,), 1, reps * ops_per_rep(m))

    return build


#: The map workloads of issue 17's goals (in this order in the report).
SHARED_FORM = ("read-heavy", "write-heavy", "insert", "delete-churn")

WORKLOADS: list[Workload] = [
    Workload("calibrate", "calibrate", CALIBRATE, (), "no sharing: the machine's own scaling right now",
             keytypes=("-",), inputs=_inc_inputs, build=_inc_build),
    Workload("read-heavy", "map", MIX, ("get", "set"), "95% m[k] / 5% m[k] = v over 100k prefilled keys",
             inputs=_mix_inputs(0.05), build=_mix_build),
    Workload("write-heavy", "map", MIX, ("get", "set"), "50% m[k] / 50% m[k] = v over 100k prefilled keys",
             inputs=_mix_inputs(0.5), build=_mix_build),
    Workload("insert", "map", INSERT, ("set",), "each thread inserts its own fresh keys into one growing map",
             inputs=_insert_inputs, build=_insert_build, check=_check_len),
    Workload("delete-churn", "map", CHURN, ("delete", "set"), "del m[k]; m[k] = v on each thread's own keys",
             inputs=_churn_inputs, build=_churn_build, check=_check_len),
    Workload("hot-counters", "map", ADD, ("add",), f"race-free m[k] += 1 on {HOT_KEYS} keys; totals checked",
             inputs=_hot_inputs, build=_hot_build, check=_hot_check),
    Workload("increment", "int", INC, ("inc",), "one shared integer incremented by every thread; total checked",
             keytypes=("-",), inputs=_inc_inputs, build=_inc_build, check=_inc_check),
    Workload("ref-get-set", "ref", MIX, ("get", "set"), "one shared reference: 90% get / 10% set",
             keytypes=("-",), inputs=_ref_inputs, build=_ref_build),
    Workload("micro/get-hit", "map", EACH.replace("{op}", "get"), ("get",), "m[k], key present",
             single_thread=True, inputs=_micro_inputs("hit"), build=_micro_build),
    Workload("micro/contains", "map", EACH.replace("{op}", "contains"), ("contains",), "k in m, key present",
             single_thread=True, inputs=_micro_inputs("hit"), build=_micro_build),
    Workload("micro/set-existing", "map", SET_EACH, ("set",), "m[k] = v, key present",
             single_thread=True, inputs=_micro_inputs("hit"), build=_micro_build),
    Workload("micro/get-miss", "map", EACH.replace("{op}", "miss"), ("miss",), "k in m, key absent",
             single_thread=True, inputs=_micro_inputs("miss"), build=_micro_build),
    Workload("micro/delete", "map", EACH.replace("{op}", "delete"), ("delete",),
             "del m[k], each key of a full map once", single_thread=True, inputs=_micro_inputs("delete"),
             build=_micro_build),
    Workload("micro/insert", "map", SET_EACH, ("set",),
             "m[k] = v, fresh keys into an empty map (1M in the full run)", single_thread=True,
             inputs=_micro_inputs("insert"), build=_micro_build),
    Workload("micro/iterate", "map", REPEAT.replace("{op}", "iterate"), ("iterate",), "for k in m (per key)",
             single_thread=True, inputs=_micro_repeat_inputs(lambda s: s.iterate_passes),
             build=_micro_repeat_build(len)),
    Workload("micro/len", "map", REPEAT.replace("{op}", "len"), ("len",), "len(m)",
             single_thread=True, inputs=_micro_repeat_inputs(lambda s: s.micro_ops),
             build=_micro_repeat_build(lambda m: 1)),
]

BY_NAME = {w.name: w for w in WORKLOADS}

# --- running ------------------------------------------------------------------------------------


def run_once(work: Callable[..., None], impl: Impl, s: Setup) -> float:
    """Runs `s.nthreads` threads behind a Barrier; returns the elapsed seconds. Each thread makes
    its handle (`impl.local`) and its arguments (`s.thread_args`) itself, before the barrier."""
    n = s.nthreads
    barrier = threading.Barrier(n)
    lock = impl.lock()
    starts = [0.0] * n
    ends = [0.0] * n
    errors: list[BaseException] = []

    def thread_main(i: int) -> None:
        try:
            handle = impl.local(s.shared)
            args = s.thread_args(i)
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
    """All of `impls` on the same pre-drawn inputs; the runs interleave the implementations
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
