"""Typed use of lockless, checked by `mypy --strict` in `make test` (not a pytest module)."""

from __future__ import annotations

from lockless import AtomicCounter, AtomicInt, AtomicRef, AtomicSet


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

    seen: AtomicSet[str] = AtomicSet(["a"])
    seen.add("b")
    first: bool = seen.add_if_absent("c") and not seen.discard_if_present("z")
    union: AtomicSet[str | int] = seen | {1}
    common: AtomicSet[str] = seen & frozenset({"a"})
    also: set[str] = {"q"} | seen
    seen |= {"d"}
    seen -= {"a"}
    subset: bool = seen <= {"b", "c", "d"} and seen.issubset(["b"]) and "b" in seen
    names: list[str] = sorted(seen)
    popped: str = seen.pop()

    print(total, doubled, found, flag, swapped, count, first, union, common, also, subset, names, popped)
