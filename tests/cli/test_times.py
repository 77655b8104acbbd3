"""Times on the command line: ISO-8601, epoch seconds, numbers with units, offsets from
the start; a bare nanosecond count is refused with a hint instead of read as seconds."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico import IMU
from mosaico.cli import main
from mosaico.cli.times import TimeArg, parse_time
from mosaico.client import Message
from tests.backends import Backend
from tests.client.client_data import MS, T0, imu

S = 1_000_000_000
T0_ISO = datetime.fromtimestamp(T0 // S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-05-01T12:00:00.5Z", 1_714_564_800_500_000_000),
        ("2024-05-01T12:00:00.5", 1_714_564_800_500_000_000),  # naive: UTC
        ("2024-05-01 12:00:00.123", 1_714_564_800_123_000_000),  # as ls / info print it
        ("2024-05-01T14:00:00.000000001+02:00", 1_714_564_800_000_000_001),  # nanoseconds kept
        ("2024-05-01", 1_714_521_600_000_000_000),
        ("1714564800.5", 1_714_564_800_500_000_000),  # bare: seconds since the epoch
        ("1714564800", 1_714_564_800_000_000_000),
        ("1714564800.5s", 1_714_564_800_500_000_000),
        ("1714564800500ms", 1_714_564_800_500_000_000),
        ("1714564800500000us", 1_714_564_800_500_000_000),
        ("1714564800500000001ns", 1_714_564_800_500_000_001),
        ("0.1s", 100_000_000),  # decimal arithmetic: exact, no binary float
    ],
)
def test_absolute_forms(text: str, ns: int) -> None:
    assert parse_time(text) == TimeArg(ns)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("+2.5s", 2_500_000_000), ("+90", 90 * S), ("+500ms", 500 * MS), ("+1min", 60 * S)],
)
def test_offsets(text: str, ns: int) -> None:
    assert parse_time(text) == TimeArg(ns, relative=True)
    assert parse_time(text).resolve(T0) == T0 + ns and parse_time(text).resolve(None) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1714564800500000000",
            "after the year 3000; if it is nanoseconds, write 1714564800500000000ns",
        ),
        ("1714564800500", "if it is milliseconds, write 1714564800500ms"),
        ("1.5ns", "finer than a nanosecond"),
        ("2024-05-01T12:00:00.1234567891Z", "finer than a nanosecond"),
        ("5 parsecs", "unknown unit 'parsecs'"),
        ("-5s", "an offset is '+'"),
        ("9999-01-01", "outside the nanosecond range"),
        ("yesterday", "'yesterday' is not a time"),
    ],
)
def test_bad_values_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_time(text)


@pytest.fixture(scope="module")
def store(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("times") / "store"
    with backend.client(folder) as client, client.sequence_create("drive", {}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        for k in range(100):
            topic.push(Message(T0 + k * MS, imu(k)))
    return folder


def _stamps(target: list[str], *args: str) -> list[int]:
    result = CliRunner().invoke(main, ["cat", "drive/imu", "--format", "jsonl", *target, *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line)["timestamp_ns"] for line in result.output.splitlines()]


def test_cat_windows_in_every_form_select_the_same_rows(target: list[str]) -> None:
    want = [T0 + k * MS for k in range(10, 20)]
    assert _stamps(target, "--start", f"{T0_ISO}.010Z", "--end", f"{T0_ISO}.020") == want
    assert _stamps(target, "--start", f"{T0 // S}.01", "--end", f"{T0 // S}.02s") == want
    assert _stamps(target, "--start", f"{T0 // MS + 10}ms", "--end", f"{T0 + 20 * MS}ns") == want
    assert _stamps(target, "--start", "+10ms", "--end", "+0.02") == want
    merged = CliRunner().invoke(
        main, ["cat", "drive", "--format", "jsonl", *target, "--start", "+98ms"]
    )
    assert [json.loads(x)["timestamp_ns"] for x in merged.output.splitlines()] == [
        T0 + 98 * MS, T0 + 99 * MS
    ]  # fmt: skip


def test_cat_refuses_bad_times_naming_the_option(target: list[str]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["cat", "drive/imu", *target, "--start", str(T0)])
    assert result.exit_code == 2
    assert "Invalid value for '--start'" in result.output
    assert f"if it is nanoseconds, write {T0}ns" in result.output
    assert "ISO-8601" in result.output and "+OFFSET" in result.output  # the accepted forms
    result = runner.invoke(main, ["cat", "drive/imu", *target, "--end", "soon"])
    assert result.exit_code == 2 and "Invalid value for '--end'" in result.output
    result = runner.invoke(main, ["cat", "drive/imu", *target, "--start", "+5ms", "--end", "+5ms"])
    assert (
        result.exit_code == 2
        and "--end" in result.output
        and "must be after --start" in result.output
    )
    assert "Traceback" not in result.output


def test_cat_help_states_the_time_forms() -> None:
    out = CliRunner().invoke(main, ["cat", "--help"]).output
    assert "ISO-8601" in out and "seconds since the epoch" in out and "+OFFSET" in out
