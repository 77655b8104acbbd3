"""Commands that only read (ls, info, cat, rm, export) never create a store: a mistyped
``--store`` or a folder that is not a store is a clear error, and nothing is written.
Commands that write (ingest, demo, serve) create the store they are given.

Local backend only: these are the semantics of ``--store DIR``, the embedded store folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico.cli import main
from mosaico.client import MosaicoClient
from tests.bridges.ros.rosbag_fixtures import write

READERS = [
    ["ls"], ["info", "run"], ["info", "run/imu"], ["cat", "run/imu"], ["rm", "run", "--yes"],
]  # fmt: skip


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [*READERS, ["export", "run", "OUT"]], ids=lambda c: c[0])
def test_a_missing_store_is_an_error_and_is_not_created(command: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "stroe"
    args = [str(tmp_path / "out.mcap") if a == "OUT" else a for a in command]
    code, out = _invoke(*args, "--store", typo)
    assert code == 1, out
    assert f"no store at '{typo}': the folder does not exist" in out
    assert "mosaico ingest" in out  # says how a store is made
    assert not typo.exists() and not (tmp_path / "out.mcap").exists()


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_folder_that_is_not_a_store_is_left_alone(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a store")
    code, out = _invoke(*command, "--store", tmp_path)
    assert code == 1 and f"no store at '{tmp_path}': the folder holds no mosaico catalog" in out
    assert _tree(tmp_path) == ["notes.txt"]


def test_an_empty_catalog_file_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "catalog.sqlite3").write_bytes(b"")
    code, out = _invoke("ls", "--store", tmp_path)
    assert code == 1 and "no store at" in out
    assert (
        _tree(tmp_path) == ["catalog.sqlite3"]
        and (tmp_path / "catalog.sqlite3").stat().st_size == 0
    )


def test_writers_create_the_store_and_readers_then_open_it(tmp_path: Path) -> None:
    bag, _ = write(tmp_path / "run.bag", "bag", [("/imu", "sensor_msgs/msg/Imu", 3, 5_000_000)])
    store = tmp_path / "new" / "store"
    code, out = _invoke("ingest", bag, "-s", "run", "--store", store)
    assert code == 0 and "ingested 3 messages" in out, out
    code, out = _invoke("ls", "--store", store)
    assert code == 0 and "run" in out
    code, out = _invoke("demo", "--seconds", "1", "--store", tmp_path / "demo")
    assert code == 0, out
    with MosaicoClient.local(tmp_path / "demo", create=False) as client:
        assert len(client.list_sequences()) == 1
