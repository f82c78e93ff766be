"""Typed use of lockless, checked by `mypy --strict` in `make test` (not a pytest module)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from collections import Counter

from lockless import AtomicCounter, AtomicCounterDict, AtomicDict, AtomicInt, AtomicQueue, AtomicRef, AtomicSet


def typed_usage() -> None:
    n = AtomicInt(5)
    n += 1
    total: int = n + 2
    doubled: int = n.update_and_get(lambda v: v * 2)
    found: int = n.compare_and_exchange(12, 13)
    flag: bool = n.compare_and_set(13, 0) and n < 3

    ref: AtomicRef[list[int]] = AtomicRef([1])
    items: list[int] = ref.get()
    ref.set(items + [2])
    newer: list[int] = ref.update_and_get(lambda xs: xs + [3])
    swapped: bool = ref.compare_and_set(newer, [])

    hits = AtomicCounter()
    hits.increment()
    count: int = hits.get() + hits.get_and_reset()

    # The numeric tower: what int gives with the same operand.
    half: float = n + 0.5
    back: float = 0.5 + n
    ratio: float = n / 2
    z: complex = n * 1j
    exact: Fraction = n + Fraction(1, 3)
    money: Decimal = Decimal("0.10") * n
    q, r = divmod(n, Fraction(1, 3))
    whole: int = q
    rest: Fraction = r
    ordered: bool = n < 2.5 and n >= Fraction(1, 2) and n <= Decimal(9)

    d: AtomicDict[str, int] = AtomicDict(a=1)
    d.count({"a": 2})
    d.count(["a", "b"])
    proxy_len: int = len(d.keys().mapping) + len(d.items().mapping)

    print(total, doubled, found, flag, swapped, count)
    print(half, back, ratio, z, exact, money, whole, rest, ordered, proxy_len)

    jobs: AtomicQueue[str] = AtomicQueue(maxsize=8)
    jobs.put("a")
    jobs.put("b", timeout=0.5)
    jobs.put_nowait("c")
    first: str = jobs.get()
    second: str = jobs.get(timeout=1.0)
    third: str = jobs.get_nowait()
    jobs.task_done()
    sizes: tuple[int, int, bool, bool] = (jobs.qsize(), jobs.maxsize, jobs.empty(), jobs.full())
    jobs.shutdown(immediate=True)

    print(first, second, third, sizes)

    seen: AtomicSet[str] = AtomicSet(["a"])
    seen.add("b")
    added: bool = seen.add_if_absent("c") and not seen.discard_if_present("z")
    union: AtomicSet[str | int] = seen | {1}
    common: AtomicSet[str] = seen & frozenset({"a"})
    also: set[str] = {"q"} | seen
    seen |= {"d"}
    seen -= {"a"}
    subset: bool = seen <= {"b", "c", "d"} and seen.issubset(["b"]) and "b" in seen
    names: list[str] = sorted(seen)
    popped: str = seen.pop()

    print(added, union, common, also, subset, names, popped)

    words: AtomicCounterDict[str] = AtomicCounterDict("abracadabra".split("r"))
    now: int = words.add("ab") + words.get_and_add("q", 2) + words["zz"]
    cas_done: bool = words.compare_and_set("q", 2, 5)
    old: int = words.get_and_set("q", 1) + words.get_and_reset("q")
    words.update(["x", "y"])
    words.update({"x": 3})
    words.subtract(x=1)
    top: list[tuple[str, int]] = words.most_common(2)
    word_total: int = words.total()
    merged: AtomicCounterDict[str] = words + AtomicCounterDict(["x"])
    mixed: AtomicCounterDict[str] = words - Counter(["x"])
    words += Counter(["y"])
    counts: list[int] = list(words.values())
    pairs: list[tuple[str, int]] = list(words.items())
    elements: list[str] = sorted(words.elements())

    print(now, cas_done, old, top, word_total, merged, mixed, counts, pairs, elements)
