"""The CI guard of tests/no_skips.py: a skip fails when NEWSFLOW_TESTS_NO_SKIPS=1, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

A_SKIPPING_TEST = '''
import pytest

def test_needs_a_tool_that_is_missing():
    pytest.skip("no such tool here")

@pytest.mark.skipif(True, reason="no such data here")
def test_needs_data_that_is_missing():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_known_to_fail():
    assert False
'''


def run(tmp_path, **env) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_skipping.py"
    test_file.write_text(A_SKIPPING_TEST)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.no_skips", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(test_file)],
        cwd=ROOT, env={**os.environ, "NEWSFLOW_TESTS_NO_SKIPS": "", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_skips_are_skips_on_a_developers_machine(tmp_path):
    done = run(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "2 skipped, 1 xfailed" in done.stdout


def test_skips_fail_where_every_test_must_run(tmp_path):
    done = run(tmp_path, NEWSFLOW_TESTS_NO_SKIPS="1")
    assert done.returncode == 1, done.stdout
    assert "no such tool here" in done.stdout and "no such data here" in done.stdout
    assert "1 xfailed" in done.stdout  # an expected failure is not a skip
