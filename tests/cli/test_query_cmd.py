"""``mosaico query``: filters and content conditions as text, against a real store (the
embedded one on the local backend, a server over the scale stack on the other)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mosaico.cli import main
from tests.backends import Backend
from tests.query.query_store import BURSTS, HIGH, MS, POSE_TAG, make_store


@pytest.fixture(scope="module")
def store(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(backend, Path(tmp_path_factory.mktemp("store")))


def _invoke(target: list[str], *args: str) -> Result:
    return CliRunner().invoke(main, ["query", *target, *args])


def _json(target: list[str], *args: str) -> list[dict]:
    result = _invoke(target, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def _hits(matches: list[dict]) -> list[tuple[str, str]]:
    return sorted((m["sequence"], t["topic"]) for m in matches for t in m["topics"])


def test_typed_content_with_metadata_and_name_filters(target: list[str]) -> None:
    args = (
        "--where",
        "IMU.acceleration.x > 4",
        "--meta",
        "vehicle.id = alpha",
        "--name",
        "drive-*",
    )
    assert _hits(_json(target, *args)) == [("drive-001", "/imu")]
    assert _json(target, "--where", "IMU.acceleration.x > 4", "--meta", "vehicle.id = beta") == []
    assert _hits(
        _json(target, "--meta", "vehicle.id in alpha,beta", "--topic", "imu", "--name", "c*")
    ) == [("calib", "/imu")]


def test_untyped_tags_and_mixed_conditions(target: list[str]) -> None:
    assert _hits(_json(target, "--where", f"{POSE_TAG}.pose.position.z >= 2")) == [
        ("drive-001", "/pose")
    ]
    both = _json(
        target, "-w", "IMU.acceleration.x between 4,6", "-w", f"{POSE_TAG}.pose.position.z > 1"
    )
    assert _hits(both) == [("drive-001", "/imu"), ("drive-001", "/pose")]
    tagged = _json(
        target, "--tag", POSE_TAG, "--topic-meta", "model missing", "--meta", "vehicle.id ~ b*"
    )
    assert _hits(tagged) == [("drive-002", "/pose")]


def test_ranges_are_the_clusters_of_the_matching_rows(target: list[str]) -> None:
    (match,) = _json(target, "--where", "IMU.acceleration.x > 4", "--ranges", "100ms")
    ranges = match["topics"][0]["ranges"]
    assert ranges == [{"start_ns": lo * 10 * MS, "end_ns": (hi - 1) * 10 * MS} for lo, hi in BURSTS]
    (match,) = _json(target, "--where", f"{POSE_TAG}.pose.position.z > 1", "--ranges", "0.5")
    assert match["topics"][0]["ranges"] == [
        {"start_ns": HIGH[0] * 20 * MS, "end_ns": HIGH[-1] * 20 * MS}
    ]


def test_table_output(target: list[str]) -> None:
    result = _invoke(target, "--where", "IMU.acceleration.x > 4", "--ranges", "100ms")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["SEQUENCE", "TOPIC", "TAG"] and "SPAN" in lines[0]
    assert [line.split()[:3] for line in lines[2:]] == [["drive-001", "/imu", "IMU"]] * 2
    assert lines[2].split()[-1] == "0.090"  # rows 20..29, 10 ms apart
    plain = _invoke(target, "--name", "drive-002")
    assert plain.exit_code == 0 and "drive-002  /imu" in plain.output
    assert _invoke(target, "--name", "nothing-*").output == "no sequence matches\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--where", "IMU.acceleration.q > 4"),
            "Invalid value for --where: 'IMU.acceleration.q > 4': IMU.acceleration has no field 'q'",
        ),
        (
            ("--where", "IMU.acceleration.x >> 4"),
            "'IMU.acceleration.x >> 4': one operator per condition",
        ),
        (
            ("--where", "IMU.acceleration.x ~ a*"),
            "operator 'match' is not available for a double leaf",
        ),
        (("--where", "IMU > 4"), "'IMU': a content condition starts TAG.FIELD"),
        (("--where", "IMU.acceleration.x between 4"), "between takes two values low,high, got '4'"),
        (
            ("--meta", "vehicle.id"),
            "Invalid value for --meta: 'vehicle.id': no condition here (write LEFT OP VALUE",
        ),
        (("--meta", "vehicle.id in a,1"), "in_ values must all have one type"),
        (
            ("--topic-meta", "rate >"),
            "Invalid value for --topic-meta: 'rate >': a value is missing",
        ),
        (
            ("--name", "run-[z-a]"),
            "Invalid value for --name: sequence.name: bad match pattern 'run-[z-a]'",
        ),
        (
            ("--ranges", "10 parsecs"),
            "'10 parsecs' is not a duration: seconds (0.1) or a number with a unit",
        ),
    ],
)
def test_bad_conditions_name_the_bad_part(
    target: list[str], args: tuple[str, ...], message: str
) -> None:
    result = _invoke(target, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (f"{POSE_TAG}.pose.nope > 1", f"{POSE_TAG}.pose.nope: unknown field for tag '{POSE_TAG}'"),
        ("other/Tag.a > 1", "unknown ontology tag 'other/Tag'"),
    ],
)
def test_the_server_names_unknown_untyped_fields(
    target: list[str], where: str, message: str
) -> None:
    result = _invoke(target, "--where", where)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
