"""`mosaico ingest --watch DIR`: complete recordings only, each once, across restarts."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico.bridges.ros import RosBridgeError, ingest
from mosaico.bridges.ros.client_sink import ClientSequence
from mosaico.bridges.ros.many import IngestOptions, JobResult, ManyProgress
from mosaico.bridges.ros.watch import (
    STATE_FILE,
    Watcher,
    WatchState,
    incomplete,
    read_state,
    recordings_in,
)
from mosaico.cli import main
from mosaico.client import MosaicoClient
from mosaico.server import EmbeddedServer
from tests.bridges.ros.rosbag_fixtures import write

IMU = ("/imu", "sensor_msgs/msg/Imu", 30, 5_000_000)
GPS = ("/gps", "sensor_msgs/msg/NavSatFix", 8, 20_000_000)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Complete recordings to copy into watched folders: bag, MCAP, rosbag2 sqlite3."""
    root = tmp_path_factory.mktemp("src")
    bag, _ = write(root / "run.bag", "bag", [IMU, GPS], seed=1)
    mcap, _ = write(root / "m", "mcap", [IMU], seed=2)
    folder, _ = write(root / "db3_run", "db3", [GPS], seed=3)
    return {"bag": bag, "mcap": mcap.rename(root / "run.mcap"), "db3": folder}


def _partial(src: Path, dst: Path, share: float = 0.5) -> Path:
    """The first `share` of `src`'s bytes at `dst`: a file still being written or copied."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


def _complete(src: Path, dst: Path) -> Path:
    """The rest of `src` appended to a partial `dst`."""
    data = src.read_bytes()
    with dst.open("ab") as f:
        f.write(data[dst.stat().st_size :])
    return dst


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def _sequences(store: Path) -> list[str]:
    with MosaicoClient.local(store) as client:
        return sorted(client.list_sequences())


def test_incomplete_recordings_are_told_apart(sources: dict[str, Path], tmp_path: Path) -> None:
    mcap = _partial(sources["mcap"], tmp_path / "a.mcap")
    assert incomplete(mcap) == "no MCAP footer yet (still being written?)"
    assert incomplete(_complete(sources["mcap"], mcap)) is None
    bag = _partial(sources["bag"], tmp_path / "a.bag", 0.9)
    assert incomplete(bag) == "its index lies beyond the end of the file (still being copied?)"
    assert incomplete(_complete(sources["bag"], bag)) is None
    # What rosbags and rosbag leave while recording: index position 0 in the header.
    open_bag = tmp_path / "b.bag"
    data = bytearray(sources["bag"].read_bytes())
    at = data.index(b"index_pos=") + len("index_pos=")
    data[at : at + 8] = struct.pack("<Q", 0)
    open_bag.write_bytes(bytes(data))
    assert incomplete(open_bag) == "its index is not written yet (still being recorded?)"
    folder = tmp_path / "db3_run"
    shutil.copytree(sources["db3"], folder)
    (folder / "metadata.yaml").unlink()
    assert incomplete(folder) == "no metadata.yaml yet (still being recorded?)"
    shutil.copy(sources["db3"] / "metadata.yaml", folder)
    assert incomplete(folder) is None
    wal = folder / "db3_run.db3-wal"
    wal.write_bytes(b"")
    assert incomplete(folder) == "db3_run.db3: db3_run.db3-wal is next to it (still being written?)"
    wal.unlink()
    (tmp_path / "junk.mcap").write_bytes(b"not an mcap")  # not MCAP at all: ingest reports it
    assert incomplete(tmp_path / "junk.mcap") is None


def test_incomplete_rosbag2_folders(sources: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "db3_run"
    folder.mkdir()
    meta = (sources["db3"] / "metadata.yaml").read_text()
    (folder / "metadata.yaml").write_text(meta)  # written before the database (a copy)
    assert incomplete(folder) == "db3_run.db3, listed in metadata.yaml, is not there yet"
    db = _partial(sources["db3"] / "db3_run.db3", folder / "db3_run.db3")
    assert incomplete(folder) == "db3_run.db3: shorter than its header says (still being copied?)"
    _complete(sources["db3"] / "db3_run.db3", db)
    assert incomplete(folder) is None
    (folder / "metadata.yaml").write_text(meta[: meta.index("relative_file_paths")])
    assert incomplete(folder) == "metadata.yaml does not read yet (KeyError)"
    (folder / "metadata.yaml").write_text("rosbag2_bagfile_information: [")
    assert incomplete(folder) == "metadata.yaml does not read yet (ParserError)"
    # An MCAP rosbag2 folder (zstd messages): its listed file must have its footer.
    full, _ = write(tmp_path / "src_mcap", "mcap", [IMU], compression="zstd", mode="message")
    (name,) = [p.name for p in full.iterdir() if p.suffix == ".mcap"]
    folder = tmp_path / "mcap_run"
    folder.mkdir()
    shutil.copy(full / "metadata.yaml", folder)
    _partial(full / name, folder / name)
    assert incomplete(folder) == f"{name}: no MCAP footer yet (still being written?)"
    _complete(full / name, folder / name)
    assert incomplete(folder) is None


def test_what_counts_as_a_recording(sources: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(sources["bag"], tmp_path / "a.bag")
    shutil.copy(sources["bag"], tmp_path / "b.bag.active")  # rosbag record, still going
    (tmp_path / ".hidden.mcap").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    day = tmp_path / "day1"
    shutil.copytree(sources["db3"], day / "db3_run")
    shutil.copy(sources["mcap"], day / "c.mcap")
    recording = day / "live"  # a rosbag2 recording going on: split files, no metadata yet
    recording.mkdir()
    shutil.copy(sources["mcap"], recording / "live_0.mcap")
    (day / "loop").symlink_to(tmp_path)  # scanned once, not forever
    assert recordings_in(tmp_path) == [
        tmp_path / "a.bag", day / "c.mcap", day / "db3_run", recording,
    ]  # fmt: skip
    assert incomplete(recording) == "no metadata.yaml yet (still being recorded?)"


def test_watch_once_ingests_each_complete_recording_once(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    watched, store = tmp_path / "in", tmp_path / "store"
    (watched / "day1").mkdir(parents=True)
    shutil.copy(sources["bag"], watched / "day1" / "a.bag")
    mcap = _partial(sources["mcap"], watched / "b.mcap")
    folder = watched / "db3_run"
    shutil.copytree(sources["db3"], folder)
    (folder / "metadata.yaml").unlink()
    args = ["ingest", "--watch", watched, "--once", "--store", store]

    code, out = _run(*args)
    assert code == 0, out
    assert f"{watched / 'day1' / 'a.bag'}: ingested 38 messages" in out
    assert "into 'day1-a'" in out and "into 'b'" not in out and "into 'db3_run'" not in out
    assert f"waiting for {mcap}: no MCAP footer yet" in out  # on stderr
    assert f"waiting for {folder}: no metadata.yaml yet" in out
    assert _sequences(store) == ["day1-a"]

    _complete(sources["mcap"], mcap)
    shutil.copy(sources["db3"] / "metadata.yaml", folder)
    code, out = _run(*args)
    assert code == 0, out
    assert "into 'b'" in out and "into 'db3_run'" in out and "a.bag" not in out
    assert _sequences(store) == ["b", "day1-a", "db3_run"]

    code, out = _run(*args)  # nothing new
    assert code == 0 and out == "", out
    state = read_state(watched / STATE_FILE)
    assert {k: v["status"] for k, v in state.items()} == {
        "b.mcap": "ingested", "day1/a.bag": "ingested", "db3_run": "ingested",
    }  # fmt: skip


def test_a_failed_recording_is_reported_once_and_retried_when_replaced(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    watched, store = tmp_path / "in", tmp_path / "store"
    watched.mkdir()
    (watched / "bad.mcap").write_bytes(b"garbage, not a recording")
    shutil.copy(sources["mcap"], watched / "good.mcap")
    args = ["ingest", "--watch", watched, "--once", "--store", store]
    code, out = _run(*args)
    assert code == 1, out
    assert f"FAILED {watched / 'bad.mcap'}: cannot read" in out and "into 'good'" in out
    code, out = _run(*args)
    assert code == 0 and out == "", out  # a failure is not retried while the file is the same
    shutil.copy(sources["mcap"], watched / "bad.mcap")  # replaced by a good one
    code, out = _run(*args)
    assert code == 0 and "into 'bad'" in out, out
    assert _sequences(store) == ["bad", "good"]


def test_names_taken_fail_that_recording_only(sources: dict[str, Path], tmp_path: Path) -> None:
    watched, store = tmp_path / "in", tmp_path / "store"
    (watched / "x").mkdir(parents=True)
    (watched / "y").mkdir()
    shutil.copy(sources["mcap"], watched / "x" / "run.mcap")
    shutil.copy(sources["bag"], watched / "y" / "run.bag")
    shutil.copy(sources["bag"], watched / "z.bag")
    code, out = _run("ingest", "--watch", watched, "--once", "--sequence-template", "{stem}",
                     "--store", store)  # fmt: skip
    assert code == 1, out
    assert f"FAILED {watched / 'y' / 'run.bag'}: sequence name 'run' is also given to" in out
    assert _sequences(store) == ["run", "z"]


def test_a_restart_after_a_cut_short_ingest(sources: dict[str, Path], tmp_path: Path) -> None:
    """A state file left by a killed watcher: `running` entries whose sequence was created
    are reported, the others ingested again."""
    watched = tmp_path / "in"
    watched.mkdir()
    shutil.copy(sources["mcap"], watched / "cut.mcap")
    shutil.copy(sources["bag"], watched / "lost.bag")
    results: list[JobResult] = []
    with MosaicoClient.local(tmp_path / "store") as client:
        with Watcher(client, watched, IngestOptions(), on_result=results.append) as watcher:
            for key, sequence in (("cut.mcap", "cut"), ("lost.bag", "lost")):
                sig = [[key, (watched / key).stat().st_size, (watched / key).stat().st_mtime_ns]]
                watcher.state.put(key, signature=sig, sequence=sequence, status="running")
        # What the killed watcher had made of cut.mcap.
        ingest([sources["mcap"]], ClientSequence(client, "cut"), topics=["/imu"])
        with Watcher(client, watched, IngestOptions(), on_result=results.append) as watcher:
            watcher.run(once=True)
        assert sorted(client.list_sequences()) == ["cut", "lost"]
    (cut,) = [r for r in results if r.job.sequence == "cut"]
    assert not cut.ok and "an earlier ingest of it was cut short" in str(cut.error)
    (lost,) = [r for r in results if r.job.sequence == "lost"]
    assert lost.ok and lost.report is not None and lost.report.messages == 38


def test_one_watcher_per_state_file(tmp_path: Path) -> None:
    with MosaicoClient.local(tmp_path / "store") as client:
        with (
            Watcher(client, tmp_path, IngestOptions()),
            pytest.raises(RosBridgeError, match="another watcher is using"),
        ):
            Watcher(client, tmp_path, IngestOptions())
        with pytest.raises(RosBridgeError, match="not a folder"):
            Watcher(client, tmp_path / "nope", IngestOptions())
        (tmp_path / STATE_FILE).write_text("[]")
        with pytest.raises(RosBridgeError, match="not a watch state file"):
            Watcher(client, tmp_path, IngestOptions())
        with pytest.raises(RosBridgeError, match="cannot keep the watch state there"):
            Watcher(client, tmp_path, IngestOptions(), state=tmp_path / "no" / "state.json")
        bag = tmp_path / "bag"
        bag.mkdir()
        (bag / "metadata.yaml").write_text("")
        with pytest.raises(RosBridgeError, match="is a rosbag2 recording itself"):
            Watcher(client, bag, IngestOptions())


def test_a_running_watcher_waits_for_the_recording_to_be_complete(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    results: list[JobResult] = []
    stop = threading.Event()
    with MosaicoClient.local(tmp_path / "store") as client:
        with Watcher(client, watched, IngestOptions(), on_result=results.append) as watcher:
            thread = threading.Thread(target=watcher.run, args=(stop,), kwargs={"interval": 0.05})
            thread.start()
            try:
                target = _partial(sources["mcap"], watched / "late.mcap", 0.3)
                time.sleep(0.5)  # many scans over a file still being written
                assert results == []
                _complete(sources["mcap"], target)
                deadline = time.monotonic() + 30
                while not results and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                stop.set()
                thread.join(30)
            assert not thread.is_alive()
        (result,) = results
        assert result.ok and result.job.sequence == "late"
        assert client.list_sequences() == ["late"]


def test_sigterm_stops_the_watcher_cleanly(sources: dict[str, Path], tmp_path: Path) -> None:
    watched, store = tmp_path / "in", tmp_path / "store"
    watched.mkdir()
    shutil.copy(sources["bag"], watched / "first.bag")
    command = [sys.executable, "-c", "from mosaico.cli import main; main()", "ingest",
               "--watch", str(watched), "--interval", "0.1", "--store", str(store)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = watched / STATE_FILE
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and '"ingested"' not in _read(state):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "into 'first'" in out
    assert "stopping once the running ingests end" in err
    assert _sequences(store) == ["first"]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_state_writes_leave_no_temp_files(sources: dict[str, Path], tmp_path: Path) -> None:
    watched = tmp_path / "in"
    watched.mkdir()
    shutil.copy(sources["mcap"], watched / "a.mcap")
    code, out = _run("ingest", "--watch", watched, "--once", "--store", tmp_path / "store")
    assert code == 0, out
    hidden = sorted(p.name for p in watched.iterdir() if p.name.startswith("."))
    assert hidden == [STATE_FILE, STATE_FILE + ".lock"]
    assert os.stat(watched / STATE_FILE).st_size > 0


def test_an_aborted_ingest_is_retried_by_the_next_watcher(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    """A second Ctrl-C closes the client under the running ingests: they fail, and stay
    `running` in the state for the next watcher (not `failed`, never retried)."""
    watched, store = tmp_path / "in", tmp_path / "store"
    watched.mkdir()
    shutil.copy(sources["mcap"], watched / "a.mcap")
    results: list[JobResult] = []
    with MosaicoClient.local(store) as client:

        def abort(recordings: int) -> ManyProgress:
            client.close()  # as the second signal does, just before the ingests start
            return ManyProgress(recordings, enabled=False)

        with Watcher(client, watched, IngestOptions(), on_result=results.append,
                     progress=abort) as watcher:  # fmt: skip
            watcher.run(once=True)
    (result,) = results
    assert not result.ok
    state = read_state(watched / STATE_FILE)
    assert state["a.mcap"]["status"] == "running"
    code, out = _run("ingest", "--watch", watched, "--once", "--store", store)
    assert code == 0 and "into 'a'" in out, out


def _free_port() -> int:
    """A free port of this suite's range (19200-19299)."""
    for port in range(19200, 19300):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 19200-19299")


def _until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_watcher_outlives_its_server(sources: dict[str, Path], tmp_path: Path) -> None:
    """The platform goes away and comes back: the watcher says so once, keeps scanning,
    and ingests what landed meanwhile; nothing is recorded failed for it."""
    watched = tmp_path / "in"
    watched.mkdir()
    server = EmbeddedServer(str(tmp_path / "store"), port=_free_port())
    host, port = server.start()
    results: list[JobResult] = []
    waits: list[str] = []
    stop = threading.Event()
    try:
        with (
            MosaicoClient.connect(host, port) as client,
            Watcher(client, watched, IngestOptions(), on_result=results.append,
                    on_waiting=lambda path, why: waits.append(why)) as watcher,
        ):  # fmt: skip
            thread = threading.Thread(target=watcher.run, args=(stop,), kwargs={"interval": 0.05})
            thread.start()
            try:
                server.stop()
                shutil.copy(sources["mcap"], watched / "a.mcap")
                _until(lambda: any("the platform is unavailable" in w for w in waits))
                server.start()
                _until(lambda: any(r.ok for r in results))
            finally:
                stop.set()
                thread.join(30)
            assert client.list_sequences() == ["a"]
    finally:
        server.stop()
    assert [r.ok for r in results if not r.transient] == [True]
    state = read_state(watched / STATE_FILE)
    assert state["a.mcap"]["status"] == "ingested"


def test_the_state_may_live_outside_the_folder(sources: dict[str, Path], tmp_path: Path) -> None:
    watched, state = tmp_path / "in", tmp_path / "watch-state.json"
    watched.mkdir()
    shutil.copy(sources["mcap"], watched / "a.mcap")
    args = ["ingest", "--watch", watched, "--once", "--state", state, "-j", "1",
            "--store", tmp_path / "store"]  # fmt: skip
    code, out = _run(*args)
    assert code == 0 and "into 'a'" in out, out
    assert sorted(p.name for p in watched.iterdir()) == ["a.mcap"]  # the folder is untouched
    assert read_state(state)["a.mcap"]["status"] == "ingested"
    code, out = _run(*args)
    assert code == 0 and out == "", out


def test_dry_run_tells_what_a_watcher_would_do(sources: dict[str, Path], tmp_path: Path) -> None:
    watched, store = tmp_path / "in", tmp_path / "store"
    watched.mkdir()
    shutil.copy(sources["mcap"], watched / "done.mcap")
    code, out = _run("ingest", "--watch", watched, "--once", "--store", store)
    assert code == 0, out
    shutil.copy(sources["bag"], watched / "new.bag")
    _partial(sources["mcap"], watched / "late.mcap")
    code, out = _run("ingest", "--watch", watched, "--dry-run", "--sequence-template", "x-{stem}")
    assert code == 0, out
    assert out.splitlines() == [
        f"done     {watched / 'done.mcap'}  ingested -> done",
        f"waiting  {watched / 'late.mcap'}  no MCAP footer yet (still being written?)",
        f"ready    {watched / 'new.bag'}  -> x-new",
    ]
    assert _sequences(store) == ["done"]
    assert read_state(watched / STATE_FILE).keys() == {"done.mcap"}


def test_the_state_is_a_journal_that_survives_a_torn_append(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    state = WatchState(path)
    sig = [["a.mcap", 10, 20]]
    state.put("a.mcap", signature=sig, sequence="a", status="running")
    state.put("a.mcap", signature=sig, sequence="a", status="ingested")
    state.put("b.mcap", signature=sig, sequence="b", status="running")
    state.drop("b.mcap")
    state.close()
    assert len(path.read_text().splitlines()) == 5  # the header and four changes
    with path.open("ab") as f:
        f.write(b'{"entry": {"status": "ingested"}, "ke')  # a crash in the middle of an append
    expected = {"a.mcap": {"signature": sig, "sequence": "a", "status": "ingested"}}
    assert read_state(path) == expected
    again = WatchState(path)  # rewritten: one line per recording, the torn line gone
    assert again.entries == expected and len(path.read_text().splitlines()) == 2
    again.close()
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(RosBridgeError, match="not a watch state file"):
        read_state(path)
