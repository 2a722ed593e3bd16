"""Shared test fixtures.

Real public data used by the tests is copied (gzip-compressed where large) into
``tests/data`` with the same folder names as the project's shared data collection; see
``tests/data/NOTICE.md`` for sources and licences.  Tests never skip for missing data:
a missing file is a failure.
"""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def real_data(relpath: str, tmp_dir: Path | None = None) -> Path:
    """Path to a real data file under ``tests/data``; ``.gz`` copies of binary files are
    decompressed into ``tmp_dir`` (or next to a cache) on first use."""
    p = DATA / relpath
    if p.exists():
        return p
    gz = p.with_name(p.name + ".gz")
    if gz.exists():
        cache = (tmp_dir or DATA / ".cache") / relpath
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".part")
            with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(cache)
        return cache
    raise FileNotFoundError(f"test data {relpath} is missing from tests/data")


@pytest.fixture(scope="session")
def data_path():
    """``data_path("scope-10x-demo/…")`` → a readable path."""
    return real_data


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``ctcscope demo`` once per test session: the simulated cohort through every step.

    Returns the output folder (inputs in ``<out>/input``, truth in ``<out>/input/truth``).
    """
    import os

    from typer.testing import CliRunner

    from ctcscope.cli import app

    # through the command line, with a relative --out, as a user types it
    base = tmp_path_factory.mktemp("demo")
    cwd = os.getcwd()
    os.chdir(base)
    try:
        r = CliRunner().invoke(app, ["demo", "--out", "out", "--workers", "2", "--quiet"])
    finally:
        os.chdir(cwd)
    assert r.exit_code == 0, r.output
    return base / "out"
