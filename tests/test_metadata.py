"""The installed package describes itself truly: its version, and the links in its metadata."""

from __future__ import annotations

import re
from importlib.metadata import metadata, version
from pathlib import Path

import pytest

import lockless

REPOSITORY = Path(__file__).resolve().parent.parent


def test_version_is_the_installed_distributions_version():
    # lockless.__version__ comes from the compiled extension (Cargo.toml's version); the
    # metadata from what maturin wrote into the wheel. A stale extension would differ.
    assert lockless.__version__ == version("lockless")


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", lockless.__version__)


def test_changelog_has_a_section_for_this_version():
    changelog = REPOSITORY / "CHANGELOG.md"
    if not changelog.exists():
        pytest.skip("CHANGELOG.md is not beside this copy of the tests")
    assert f"## [{lockless.__version__}]" in changelog.read_text(encoding="utf-8")


def test_project_links_name_files_that_exist_in_the_repository():
    urls = [entry.split(", ", 1)[1] for entry in metadata("lockless").get_all("Project-URL") or []]
    assert urls
    paths = [m.group(1) for url in urls if (m := re.search(r"/blob/main/(.+)$", url))]
    assert "README.md" in paths
    if not (REPOSITORY / "docs").is_dir():
        pytest.skip("the repository's docs are not beside this copy of the tests")
    assert [p for p in paths if not (REPOSITORY / p).is_file()] == []
