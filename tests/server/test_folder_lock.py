"""A local store folder is open in one process at a time: a second opener (a `mosaico ls
--store` next to a running writer) gets a clear error instead of running recovery over the
first one's live uploads.

Local backend only: the lock is the folder's (an SQLite catalog in it); a shared
PostgreSQL catalog is meant to have several servers (tests/server/test_shared_catalog.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico import IMU, Message, Vector3d
from mosaico.cli import main
from mosaico.client import MosaicoClient
from mosaico.server import Store, StoreBusyError
from mosaico.server.launch import serve_process


def _imu(i: int) -> IMU:
    return IMU(acceleration=Vector3d(x=float(i), y=0.0, z=9.81),
               angular_velocity=Vector3d(x=0.0, y=0.0, z=0.0))  # fmt: skip


def test_a_second_opener_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = Store.open_local(str(tmp_path))
    with pytest.raises(StoreBusyError, match="in use by another process"):
        Store.open_local(str(tmp_path))
    first.close()
    Store.open_local(str(tmp_path)).close()


def test_reading_a_served_store_directly_leaves_its_live_upload_alone(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with serve_process(store) as (_, port), MosaicoClient.connect("127.0.0.1", port) as client:
        with client.sequence_create("live", {}) as seq:
            topic = seq.topic_create("imu", {}, IMU)
            for i in range(50):
                topic.push(Message(i, _imu(i)))
            result = CliRunner().invoke(main, ["ls", "--store", str(store)])
            assert result.exit_code == 1, result.output
            assert "in use by another process" in result.output and "--host" in result.output
            for i in range(50, 100):
                topic.push(Message(i, _imu(i)))
        stream = client.topic_handler("live", "imu").get_data_streamer()  # type: ignore[union-attr]
        assert stream.read_all().num_rows == 100
