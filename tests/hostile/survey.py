"""Every distinct violation of the invariant the fuzzing finds, in one run.

The tests stop generating soon after their first failures (Hypothesis then shrinks what it
found), so on a server with many bugs one run names only some of them. This survey runs
the same strategies and checks to the end without stopping (each kind of request on a
fresh server, its canary checked afterwards), and prints, for each violation
(property @ call), how often it was seen and the shortest request that showed it:

    python -m tests.hostile.survey [EXAMPLES_PER_KIND]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hostile import requests as rq
from tests.hostile.conftest import serve_hostile
from tests.hostile.exercise import (
    Fuzz,
    canary_intact,
    exercise_action,
    exercise_criteria,
    exercise_descriptor,
    exercise_key,
    exercise_ticket,
    exercise_upload,
    fuzzing,
)
from tests.hostile.invariant import (
    Seen,
    Violation,
    check_message,
    check_permission,
    check_served_back,
    check_status,
    violation,
)


def _upload(fz: Fuzz, spec: rq.UploadSpec) -> list[Seen]:
    result = exercise_upload(fz, spec)
    check_served_back(result.outcome, result.back, *spec.build())
    return result.seen


def _key(fz: Fuzz, request: tuple[rq.KeySpec, str, bool]) -> list[Seen]:
    result = exercise_key(fz, *request)
    if result is None:
        return []
    seen, outcome = result
    check_permission(request[0].kind, request[1], outcome, seen[0].ctx.big_headers)
    return seen


# kind -> (strategy, what runs one request and returns what it saw)
SURVEYS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Fuzz, Any], list[Seen]]]] = {
    **{f"actions ({f})": (rq.action_requests(f), exercise_action) for f in ("plain", *rq.FAMILIES)},
    **{f"stored {leaf}": (rq.stored_writes(leaf), exercise_action) for leaf in rq.STORED_LEAVES},
    "raw bodies": (rq.raw_action_requests(), exercise_action),
    "descriptors": (
        st.tuples(rq.descriptors(), st.sampled_from(["GetFlightInfo", "GetSchema"]),
                  st.sampled_from(["admin", "reader"])),
        lambda fz, r: exercise_descriptor(fz, *r),
    ),  # fmt: skip
    "tickets": (rq.tickets(), exercise_ticket),
    "criteria": (rq.criteria(), exercise_criteria),
    **{f"uploads ({kind})": (rq.upload_specs(kind), _upload) for kind in rq.UPLOAD_KINDS},
    "keys": (st.tuples(rq.keys(), st.sampled_from(rq.KEYED_CALLS), st.booleans()), _key),
}


class Tally:
    """Violations seen: name -> (count, shortest example, its message)."""

    def __init__(self) -> None:
        self.found: dict[str, list[Any]] = {}

    def add(self, kind: type[Violation], example: str, message: str) -> None:
        """Count a violation of ``kind``; keep the shortest example of it."""
        entry = self.found.setdefault(kind.__name__, [0, example, message])
        entry[0] += 1
        if len(example) < len(entry[1]):
            entry[1:] = [example, message]

    def report(self) -> str:
        """One paragraph per violation, most frequent first."""
        lines = []
        for name, (count, example, message) in sorted(self.found.items(), key=lambda i: -i[1][0]):
            lines += [f"## {name}  (seen {count}x)", f"   request: {example[:700]}",
                      f"   got:     {message[:700]}", ""]  # fmt: skip
        return "\n".join(lines)


def survey(folder: Path, examples: int, tally: Tally) -> None:
    """Run every kind of request ``examples`` times, each kind on a server of its own (one
    that a request broke must not count against the next kind), tallying violations;
    then check that kind's canary."""
    config = settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    for i, (kind, (strategy, run)) in enumerate(SURVEYS.items()):
        with serve_hostile(folder / str(i)) as served, fuzzing(served) as fz:
            config(given(request=strategy)(_probe(fz, kind, run, tally)))()
            try:
                canary_intact(fz)
            except AssertionError as exc:
                tally.add(violation("canary or store broken", "after the fuzzing"), f"[{kind}]", str(exc))
        print(f"surveyed {kind}: {len(tally.found)} distinct violations so far", file=sys.stderr)


def _probe(fz: Fuzz, kind: str, run: Callable[[Fuzz, Any], list[Seen]], tally: Tally) -> Callable[[Any], None]:
    """The test body for one kind: run the request, tally what it breaks, never fail."""

    def probe(request: Any) -> None:
        example = f"[{kind}] {request!r}"
        try:
            seen = run(fz, request)
        except Violation as broken:
            tally.add(type(broken), example, str(broken))
            return
        for one in seen:
            for check in (check_status, check_message):
                try:
                    check(one)
                except Violation as broken:
                    tally.add(type(broken), example, str(broken))

    return probe


def main() -> None:
    """Survey on scratch stores; print the tally."""
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        survey(Path(folder), examples, tally)
    print(tally.report())


if __name__ == "__main__":
    main()
