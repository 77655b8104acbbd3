"""The scale tier's services themselves: the deploy scripts start real servers that answer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.scale.services import DEPLOY, PostgresService, RgwService


def test_each_catalog_url_is_a_postgres_catalog_of_its_own(postgres: PostgresService) -> None:
    import psycopg

    first, second = postgres.catalog_url(), postgres.catalog_url()
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE probe (n integer)")
        conn.execute("INSERT INTO probe VALUES (7)")
        assert conn.execute("SELECT n FROM probe").fetchall() == [(7,)]
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
    # The other catalog's table is not on this one's search path.
    with (
        psycopg.connect(second, autocommit=True) as conn,
        pytest.raises(psycopg.errors.UndefinedTable),
    ):
        conn.execute("SELECT n FROM probe")


def test_the_gateway_round_trips_an_object(rgw: RgwService, s3_env: dict[str, str]) -> None:
    fs = rgw.filesystem()
    key = f"{rgw.store_url().removeprefix('s3://')}/object"
    data = os.urandom(11 * 1024 * 1024)  # more than one upload part
    with fs.open_output_stream(key) as out:
        out.write(data)
    with fs.open_input_file(key) as f:
        assert f.read() == data
    fs.delete_file(key)
    assert fs.get_file_info(key).type == pafs.FileType.NotFound


def test_each_store_url_is_a_prefix_of_its_own(rgw: RgwService) -> None:
    first, second = rgw.store_url(), rgw.store_url()
    assert first != second
    assert first.startswith(f"s3://{rgw.bucket}/") and second.startswith(f"s3://{rgw.bucket}/")


def _tool_path(tmp_path: Path, *tools: str) -> str:
    """A PATH that holds only these tools (and bash, which runs the scripts)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", *tools):
        (folder / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    return str(folder)


def test_the_ceph_script_names_the_package_of_a_missing_tool(tmp_path: Path) -> None:
    env = {"PATH": _tool_path(tmp_path, "mkdir")}
    done = subprocess.run(
        [str(DEPLOY / "ceph-rgw.sh"), "start", str(tmp_path / "ceph"), "17499"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "'ceph-mon' not found: install the Debian package 'ceph-mon'" in done.stderr


def test_the_postgres_script_names_a_wrong_binary_folder(tmp_path: Path) -> None:
    env = {**os.environ, "PG_BIN": str(tmp_path)}
    done = subprocess.run(
        [str(DEPLOY / "postgres.sh"), "start", str(tmp_path / "pg"), "17499"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"PG_BIN={tmp_path} holds no pg_ctl" in done.stderr


def test_env_lines_can_be_evaluated_by_a_shell(tmp_path: Path) -> None:
    script = (
        f'eval "$({DEPLOY}/postgres.sh env {tmp_path} 17431)"; '
        f'eval "$({DEPLOY}/ceph-rgw.sh env {tmp_path} 17440)"; '
        'echo "$MOSAICO_CATALOG $AWS_ENDPOINT_URL $AWS_REQUEST_CHECKSUM_CALCULATION"'
    )
    out = subprocess.check_output(["bash", "-c", script], text=True).split()
    assert out == [
        "postgresql://mosaico@127.0.0.1:17431/mosaico", "http://127.0.0.1:17440",
        "WHEN_REQUIRED",
    ]  # fmt: skip
