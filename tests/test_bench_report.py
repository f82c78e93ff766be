"""The benchmark harness's report (benches/pyharness/report.py), which `make test` runs in
`--quick` form: it must not fail on what a tiny run can measure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"
if not (BENCHES / "pyharness").is_dir():
    pytest.skip("benches/ is not beside this copy of the tests", allow_module_level=True)
sys.path.insert(0, str(BENCHES))
from pyharness import report  # noqa: E402


def test_a_memory_baseline_of_zero_bytes_gives_no_ratio_and_no_error():
    # Regression: `make test`'s `harness.py --quick` measures 10,000 keys; dict's RSS delta
    # came out 0 bytes in a fresh clone (its table fit pages the process already had), and
    # the report divided by it (ZeroDivisionError, make test failed).
    memory = {"lockless": 40.0, "dict": 0.0}
    text = report.table([], memory)
    assert "lockless" in text and "x dict" not in text
    (goal,) = [t for t in report.targets([], memory) if t["target"].startswith("memory")]
    assert goal["figure"] is None and goal["met"] is None
    assert "n/a" in report.targets_text([goal])


def test_a_nonzero_memory_baseline_still_gives_the_ratio():
    memory = {"lockless": 40.0, "dict": 80.0}
    assert "(0.50x dict)" in report.table([], memory)
    (goal,) = [t for t in report.targets([], memory) if t["target"].startswith("memory")]
    assert goal["figure"] == 0.5 and goal["met"] is True
