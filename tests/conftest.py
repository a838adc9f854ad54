"""Shared fixtures: isolated data/results roots, running scripts as subprocesses, the real data beside the repo."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test imports torch (see util.py)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_WEIGHTS = REPO.parent / "shared" / "weights"

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="real data (../shared/data) not present")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Data and results roots inside tmp_path, for this process and the scripts it starts."""
    data, results = tmp_path / "data", tmp_path / "results"
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(results))
    monkeypatch.setenv("COURSE_QUIET", "1")
    import util
    monkeypatch.setattr(util, "RESULTS_ROOT", results)
    return tmp_path


@pytest.fixture
def one_thread():
    """The machine is shared: keep in-process torch runs on one core (pytestmark = usefixtures("one_thread"))."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_script(script: str | Path, *args: str, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a repository script with the current interpreter; returns the completed process (text output)."""
    path = Path(script) if Path(script).is_absolute() else REPO / script
    return subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, one 'error: ...' line naming the fragments, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in error_lines[0], (fragment, error_lines[0])
