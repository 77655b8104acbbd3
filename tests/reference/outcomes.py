"""A pytest plugin for the run inside the reference environment: one JSON line per test
phase, written to the file named by ``MOSAICO_REFERENCE_OUTCOMES``, so the main run can
report every reference test as its own result (see ``tests/test_reference_client.py``)."""

from __future__ import annotations

import json
import os

import pytest

_PATH = os.environ.get("MOSAICO_REFERENCE_OUTCOMES")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Append this phase's outcome, failure text and captured output."""
    if _PATH is None:
        return
    skip_reason = ""
    if report.skipped and isinstance(report.longrepr, tuple):
        skip_reason = str(report.longrepr[2])
    record = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "longrepr": "" if report.passed or report.skipped else report.longreprtext,
        "skip_reason": skip_reason,
        "sections": [[title, text] for title, text in report.sections],
    }
    with open(_PATH, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
