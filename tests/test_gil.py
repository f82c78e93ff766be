"""Importing lockless keeps the GIL disabled on the free-threaded build."""

import subprocess
import sys

import pytest

from conftest import FREE_THREADED

pytestmark = pytest.mark.skipif(not FREE_THREADED, reason="needs the free-threaded build")


def test_gil_is_disabled_before_import():
    code = "import sys; print(sys._is_gil_enabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_lockless_keeps_the_gil_disabled():
    # A fresh interpreter: this process may have imported other extension modules already.
    code = "import sys, lockless; print(sys._is_gil_enabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_no_gil_warning_on_import():
    code = "import warnings; warnings.simplefilter('error'); import lockless"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "GIL" not in out.stderr


def test_module_declares_gil_not_needed_in_this_process():
    import lockless  # noqa: F401

    assert not sys._is_gil_enabled()
