"""``mosaico cat`` prints values exactly: floats in their shortest round-trip form in the
table, JSON lines and CSV; lists as JSON arrays, bytes as base64, wide integers whole."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mosaico import GPS, Floating32, Image, Joy
from mosaico.cli import main
from tests.backends import Backend
from tests.client.client_data import MS, T0

# Values a 3-decimal display, a numpy repr or a float cast would change.
LATITUDES = [0.6940341958473012, 45.123456789012345, -1.0000000000000002e-7]
FLOAT32 = [0.1, 3.4028234663852886e38, 1.0 / 3.0]
COUNTER = 2**60 + 1  # not a float64: pandas turned an integer column with nulls into floats


@pytest.fixture(scope="module")
def store(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cat") / "store"
    stamps = [T0 + k * MS for k in range(3)]
    with backend.client(folder) as client, client.sequence_create("run", {}) as writer:
        writer.topic_create("gps", {}, GPS).push_batch(
            {"position.x": LATITUDES, "position.y": [9.0] * 3, "position.z": [0.0] * 3,
             "header.frame_id": ["a", None, "b"],
             "header.sample_counter": [COUNTER, None, 1],
             "position.covariance": [[0.1, 2.5, 1e-9]] * 2 + [None],
             "status.status": [0] * 3, "status.service": [1] * 3},
            timestamps_ns=stamps,
        )  # fmt: skip
        writer.topic_create("f32", {}, Floating32).push_batch(
            {"data": np.array(FLOAT32, dtype=np.float32)}, timestamps_ns=stamps
        )
        writer.topic_create("joy", {}, Joy).push_batch(
            {"axes": [[0.1, -0.7], [], [2.5]], "buttons": [[1, 0], [0], [1]]},
            timestamps_ns=stamps,
        )
        writer.topic_create("cam", {}, Image).push_batch(
            {"data": [b"\x00\xff,\n"] * 3, "format": ["raw"] * 3, "width": [2] * 3,
             "height": [1] * 3, "stride": [4] * 3, "encoding": ["mono16"] * 3},
            timestamps_ns=stamps,
        )  # fmt: skip
    return folder


def _cat(target: list[str], *args: str) -> str:
    result = CliRunner().invoke(main, ["cat", *args, *target])
    assert result.exit_code == 0, result.output
    return result.output


def _csv(target: list[str], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_cat(target, name, "--format", "csv"))))


def _column(table: str, name: str) -> list[str]:
    """The cells of column ``name`` of a printed table (spans from the dashes line)."""
    header, dashes, *rows = table.splitlines()
    spans, at = [], 0
    for dash in dashes.split("  "):
        spans.append((at, at + len(dash)))
        at += len(dash) + 2
    lo, hi = spans[[header[a:b].strip() for a, b in spans].index(name)]
    return [row[lo:hi].strip() for row in rows]


def test_float64_round_trips_in_every_format(target: list[str]) -> None:
    assert [float(x) for x in _column(_cat(target, "run/gps"), "position.x")] == LATITUDES
    rows = [json.loads(line) for line in _cat(target, "run/gps", "--format", "jsonl").splitlines()]
    assert [r["position"]["x"] for r in rows] == LATITUDES
    assert [float(r["position.x"]) for r in _csv(target, "run/gps")] == LATITUDES


def test_float32_prints_its_shortest_exact_form(target: list[str]) -> None:
    stored = np.array(FLOAT32, dtype=np.float32)
    shortest = [repr(float(str(v))) for v in stored]  # numpy's shortest float32 text
    assert shortest[0] == "0.1"
    assert _column(_cat(target, "run/f32"), "data") == shortest
    lines = _cat(target, "run/f32", "--format", "jsonl").splitlines()
    read = np.array([json.loads(line)["data"] for line in lines], dtype=np.float32)
    assert read.tobytes() == stored.tobytes() and '"data": 0.1}' in lines[0]
    from_csv = np.array([float(r["data"]) for r in _csv(target, "run/f32")], dtype=np.float32)
    assert from_csv.tobytes() == stored.tobytes()


def test_csv_writes_lists_as_json_and_bytes_as_base64(target: list[str]) -> None:
    gps_rows = _csv(target, "run/gps")
    assert json.loads(gps_rows[0]["position.covariance"]) == [0.1, 2.5, 1e-9]
    assert gps_rows[2]["position.covariance"] == ""  # null
    joy = _csv(target, "run/joy")
    assert [r["axes"] for r in joy] == ["[0.1, -0.7]", "[]", "[2.5]"]
    assert json.loads(joy[0]["axes"]) == [0.1, -0.7]  # float32 items, shortest form too
    cam = _csv(target, "run/cam")
    assert base64.b64decode(cam[0]["data"]) == b"\x00\xff,\n"
    assert "[0.1, -0.7]" in _cat(target, "run/joy")


def test_wide_integers_and_nulls_stay_exact(target: list[str]) -> None:
    rows = _csv(target, "run/gps")
    assert [r["header.sample_counter"] for r in rows] == [str(COUNTER), "", "1"]
    assert [r["header.frame_id"] for r in rows] == ["a", "", "b"]
    assert _column(_cat(target, "run/gps"), "header.sample_counter") == [str(COUNTER), "-", "1"]


def test_a_whole_sequence_prints_merged_in_every_format(target: list[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(_cat(target, "run", "--format", "csv"))))
    assert len(rows) == 12 and [r["topic"] for r in rows[:4]] == ["/gps", "/f32", "/joy", "/cam"]
    assert float(rows[0]["/gps.position.x"]) == LATITUDES[0] and rows[1]["/gps.position.x"] == ""
    assert float(_column(_cat(target, "run"), "/gps.position.x")[4]) == LATITUDES[1]
    merged = [json.loads(x) for x in _cat(target, "run", "--format", "jsonl").splitlines()]
    assert merged[0]["topic"] == "/gps" and merged[0]["data"]["position"]["x"] == LATITUDES[0]
    assert merged[1] == {"timestamp_ns": T0, "topic": "/f32", "data": {"data": 0.1}}


def test_an_empty_window_still_prints_the_csv_header(target: list[str]) -> None:
    out = _cat(target, "run/f32", "--format", "csv", "--start", f"{T0 + 10 * MS}ns")
    assert out.splitlines() == ['"timestamp_ns","data"']
