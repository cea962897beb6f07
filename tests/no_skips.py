"""A pytest plugin for CI: with NEWSFLOW_TESTS_NO_SKIPS=1 a skipped test fails.

Some tests skip where a tool or data set is missing (docker compose, the
benchmark data, psql 15, initdb): right on a developer's machine, wrong in CI,
where a skipped test would pass for one that ran. ``.ci/run`` provides all of
them and sets the variable, so a skip there means a missing install step.
"""

from __future__ import annotations

import os

import pytest

ENV = "NEWSFLOW_TESTS_NO_SKIPS"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get(ENV) == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but {ENV}=1 says every test must run here: {reason}"
