"""``mosaico ls | info | cat | rm`` and ``mosaico demo``, embedded (--store) and remote."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico import GPS, IMU
from mosaico.cli import main
from mosaico.client import Message
from mosaico.server import EmbeddedServer
from mosaico.server.launch import free_port
from tests.backends import Backend
from tests.client.client_data import MS, T0, gps, imu


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    with backend.client(folder) as client:
        with client.sequence_create("drive", {"car": "alpha"}) as writer:
            a = writer.topic_create("sensors/imu", {"hz": 1000}, IMU)
            for k in range(101):
                a.push(Message(T0 + k * MS, imu(k)))
            b = writer.topic_create("gps", {}, GPS)
            for k in range(11):
                b.push(Message(T0 + k * 10 * MS, gps(k)))
        with client.sequence_create("other", {}):
            pass
    return folder


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_ls_table_and_json(target: list[str]) -> None:
    out = _run("ls", *target)
    assert out.splitlines()[0].split() == [
        "SEQUENCE",
        "TOPICS",
        "ROWS",
        "SIZE",
        "START",
        "(UTC)",
        "SPAN",
        "(s)",
    ]
    assert "drive" in out and "other" in out
    rows = {r["name"]: r for r in json.loads(_run("ls", *target, "--format", "json"))}
    assert rows["drive"]["topics"] == 2 and rows["drive"]["rows"] == 112
    assert rows["drive"]["span_s"] == pytest.approx(0.1)
    assert rows["other"]["topics"] == 0 and rows["other"]["start_ns"] is None


def test_info_sequence_and_topic(target: list[str]) -> None:
    out = _run("info", "drive", *target)
    assert '"car": "alpha"' in out and "/sensors/imu" in out and "1000.000" in out
    data = json.loads(_run("info", "drive", *target, "--format", "json"))
    assert [t["name"] for t in data["topics"]] == ["/sensors/imu", "/gps"]
    assert data["topics"][0]["rate_hz"] == pytest.approx(1000.0) and data["sessions"][0]["locked"]
    topic = json.loads(_run("info", "drive/sensors/imu", *target, "--format", "json"))
    assert topic["ontology_tag"] == "IMU" and topic["typed"] and topic["rows"] == 101
    assert topic["schema"][0] == "timestamp_ns: int64 not null"
    assert "schema:" in _run("info", "drive/gps", *target)


def test_cat_formats_windows_and_limits(target: list[str]) -> None:
    args = [*target, "--start", f"{T0 + 10 * MS}ns", "--end", f"{T0 + 20 * MS}ns"]
    lines = _run("cat", "drive/sensors/imu", *args, "--format", "jsonl").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["timestamp_ns"] for r in rows] == [T0 + k * MS for k in range(10, 20)]
    assert rows[0]["acceleration"]["y"] == 10.0
    text = _run("cat", "drive/gps", *target, "--format", "csv", "--limit", "3")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 3 and parsed[1]["position.x"] == str(45.0 + 1e-6)
    table = _run("cat", "drive/gps", *target, "--limit", "2").splitlines()
    assert table[0].startswith("timestamp_ns") and len(table) == 4
    merged = _run("cat", "drive", *args, "--format", "jsonl").splitlines()
    assert [json.loads(x)["topic"] for x in merged][:2] == ["/sensors/imu", "/gps"]
    assert len(merged) == 11


def test_rm_and_errors(target: list[str]) -> None:
    runner = CliRunner()
    refused = runner.invoke(main, ["rm", "other", *target], input="n\n")
    assert refused.exit_code != 0
    assert "deleted other" in _run("rm", "other", *target, "--yes")
    assert "other" not in _run("ls", *target)
    missing = runner.invoke(main, ["info", "nope", *target])
    assert missing.exit_code != 0 and "no sequence 'nope'" in missing.output
    no_target = runner.invoke(main, ["ls"], env={"MOSAICO_STORE": ""})
    assert no_target.exit_code != 0 and "--store" in no_target.output


def test_remote_options(backend: Backend, store: Path) -> None:
    with backend.serving(store) as (host, port):
        out = json.loads(_run("ls", "--host", host, "--port", str(port), "--format", "json"))
        assert [r["name"] for r in out] == ["drive", "other"]


# The demo runs the embedded default (a store folder, a port of its own): local only.


def test_demo_runs_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    out = _run("demo", "--seconds", "2", "--store", str(tmp_path / "demo"), "--port", str(port))
    assert f"embedded server grpc+tcp://127.0.0.1:{port} over" in out
    assert "merged typed stream: 450 messages in timestamp order" in out
    assert "every topic read back complete: True" in out
    assert "/camera/front" in out


def test_demo_on_a_busy_port_is_a_clean_error(tmp_path: Path) -> None:
    with EmbeddedServer(str(tmp_path / "busy")) as (_, port):
        result = CliRunner().invoke(main, ["demo", "--port", str(port), "--seconds", "1"])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output
