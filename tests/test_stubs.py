"""The typed stubs match the runtime module: `python -m mypy.stubtest lockless` reports nothing.

(`make test-types` runs `mypy --strict` on the package and on typed usage; it does not compare the
stubs with the runtime, which is what this checks.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("mypy.stubtest", reason="mypy is not installed in this venv (pip install 'mypy<2')")


# One thread: stubtest runs in a subprocess, so copies share nothing in this process and four
# mypy runs at once only cost a minute (pytest-run-parallel).
@pytest.mark.parallel_threads(1)
def test_stubtest_reports_no_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "lockless"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # keeps the .mypy_cache out of the repository
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
