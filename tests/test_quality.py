"""The tree stays ruff- and mypy-clean (mypy covers the generated standard types too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "mosaico", "codegen", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run("mypy")  # files and options come from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


USER_CODE = """\
from mosaico import IMU, Message, MosaicoClient, Vector3d
from mosaico.types import GPS


def ingest(client: MosaicoClient) -> None:
    with client.sequence_create("run", {}) as seq:
        imu = seq.topic_create("imu", {}, IMU)
        zero = Vector3d(x=0.0, y=0.0, z=0.0)
        imu.push(Message(0, IMU(acceleration=zero, angular_velocity=zero)))


def wrong(v: Vector3d, g: GPS) -> None:
    count: int = v.x
    text: str = g.position
"""


def test_users_type_checkers_see_the_client_and_the_standard_types(tmp_path: Path) -> None:
    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE)
    result = _run("mypy", "--no-incremental", "--follow-imports=silent", str(user))
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(user))]
    # Exactly the two planted mistakes: the names are known and typed, not Any.
    assert len(lines) == 2, result.stdout
    assert 'expression has type "float", variable has type "int"' in lines[0]
    assert 'expression has type "Point3d", variable has type "str"' in lines[1]
