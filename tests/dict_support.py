"""Key types and helpers shared by the AtomicDict test files (not a pytest module)."""

from __future__ import annotations

import gc
from collections.abc import Callable

from lockless import AtomicDict

NAN = float("nan")  # one NaN object: found by identity, as in dict


class Collide:
    """A key whose hash is fixed by the test (so keys collide), equal by ``tag``."""

    def __init__(self, tag: object, h: int = 42) -> None:
        self.tag = tag
        self.h = h

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collide):
            return NotImplemented
        return self.tag == other.tag

    def __repr__(self) -> str:
        return f"Collide({self.tag!r}, h={self.h})"


class EqualTo:
    """Equal to ``value``, with its hash, compared only by ``__eq__``: a str or int key meets it
    on the general path (the fast paths cannot compare it without Python code)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other: object) -> bool:
        return other == self.value


class Box:
    """A fresh, weak-referenceable object (a value with an identity)."""

    def __init__(self, tag: object = None) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"Box({self.tag!r})"


def pairs_of(m: object) -> list[tuple[object, object]]:
    """The items of a mapping, in iteration order."""
    return list(m.items())  # type: ignore[attr-defined]


def assert_same_items(ad: object, d: dict) -> None:
    """Same keys and values, the same objects, in the same order."""
    got = pairs_of(ad)
    want = list(d.items())
    assert len(got) == len(want), (got, want)
    for (gk, gv), (wk, wv) in zip(got, want):
        assert gk is wk, (got, want)
        assert gv is wv, (got, want)
    assert len(ad) == len(d)  # type: ignore[arg-type]


def drive_until(cond: Callable[[], bool], limit: int = 10_000) -> bool:
    """Make lockless calls until ``cond()`` holds (or ``limit`` calls). AtomicDict releases
    removed and replaced objects after the epoch advances, within the next few lockless calls on
    the thread, not at the instant of the removal (see docs/consistency.md)."""
    probe = AtomicDict()
    for i in range(limit):
        if cond():
            return True
        probe.get(i)
        if i % 1000 == 999:
            gc.collect()
    return cond()
