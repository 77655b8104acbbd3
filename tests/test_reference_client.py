"""Every test under ``tests/reference``, run in the reference client's own environment and
reported here one by one.

The reference client is installed only there (its ``mosaico`` script and its pins must not
touch the main environment). This module collects those tests with that environment's
pytest, runs the selected ones in one process on first use, and each item here passes,
fails (with the inner failure and captured output) or skips exactly as its inner test did.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reference import environment

_TIMEOUT_S = 1800


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    python = environment.ensure()
    return subprocess.run(
        [str(python), "-m", "pytest", *args], cwd=environment.ROOT, text=True,
        capture_output=True, timeout=_TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": str(environment.ROOT), **env},
    )  # fmt: skip


def _collect() -> list[str]:
    """Node ids of the reference tests, as the reference environment's pytest sees them."""
    # One node id per line needs exactly one -q; addopts is cleared so it cannot add more.
    result = _pytest("-o", "addopts=", "-p", "no:cacheprovider", "--collect-only", "-q",
                     "tests/reference")  # fmt: skip
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    if result.returncode != 0 or not ids:
        raise RuntimeError(
            f"collecting tests/reference in {environment.location()} failed:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return ids


@pytest.fixture(scope="session")
def reference_outcomes(request: pytest.FixtureRequest, tmp_path_factory: Any) -> dict[str, Any]:
    """Run every selected reference test once; their phases by node id."""
    selected = [
        item.callspec.params["nodeid"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_reference"
    ]
    outcomes = Path(tmp_path_factory.mktemp("reference")) / "outcomes.jsonl"
    result = _pytest(
        "-p", "tests.reference.outcomes", *selected, MOSAICO_REFERENCE_OUTCOMES=str(outcomes)
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    if outcomes.exists():
        for line in outcomes.read_text().splitlines():
            record = json.loads(line)
            by_id.setdefault(record["nodeid"], []).append(record)
    by_id["<run>"] = [{"stdout": result.stdout[-8000:], "stderr": result.stderr[-8000:]}]
    return by_id


@pytest.mark.parametrize("nodeid", _collect(), ids=lambda n: n.removeprefix("tests/reference/"))
def test_reference(nodeid: str, reference_outcomes: dict[str, Any]) -> None:
    phases = reference_outcomes.get(nodeid)
    if not phases:
        run = reference_outcomes["<run>"][0]
        pytest.fail(f"{nodeid} did not run:\n{run['stdout']}\n{run['stderr']}", pytrace=False)
    for title, text in phases[-1]["sections"]:  # the last phase holds every section so far
        print(f"--- {title} ---\n{text}")
    failed = [p for p in phases if p["outcome"] == "failed"]
    if failed:
        pytest.fail("\n".join(f"[{p['when']}] {p['longrepr']}" for p in failed), pytrace=False)
    skipped = [p for p in phases if p["outcome"] == "skipped"]
    if skipped:
        pytest.skip(skipped[0]["skip_reason"].removeprefix("Skipped: "))
