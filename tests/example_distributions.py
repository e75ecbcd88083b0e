"""The example third-party distributions (tests/fixtures/example-*), installed as a third party's
users install them: with pip, into a directory of their own (not the shared venv), put on sys.path
only for the tests that ask for them."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pip_install(distribution: str, tmp_path_factory) -> Path:
    """pip-installs tests/fixtures/``distribution`` into a new directory; returns that directory."""
    source = tmp_path_factory.mktemp("src") / distribution
    shutil.copytree(FIXTURES / distribution, source)
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True,
    )
    return target


def importable(site: Path, module: str, monkeypatch):
    """For a fixture to ``yield from``: ``module`` importable from ``site`` until the test ends."""
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop(module, None)
