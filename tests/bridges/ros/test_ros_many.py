"""Many recordings at once: `--sequence-template`, each recording its own sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico.bridges.ros import MemorySequence, RosBridgeError, ingest
from mosaico.bridges.ros.many import (
    IngestOptions,
    Job,
    ManyProgress,
    ingest_many,
    plan_jobs,
    sequence_name,
)
from mosaico.cli import main
from mosaico.client import MosaicoClient
from tests.bridges.ros.rosbag_fixtures import write

IMU = ("/imu", "sensor_msgs/msg/Imu", 40, 5_000_000)
GPS = ("/gps", "sensor_msgs/msg/NavSatFix", 10, 20_000_000)
TF = ("/tf", "tf2_msgs/msg/TFMessage", 15, 10_000_000)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A ROS 1 bag, a bare MCAP file, an sqlite3 rosbag2 folder, and a corrupt MCAP."""
    root = tmp_path_factory.mktemp("many")
    bag, _ = write(root / "drive_a.bag", "bag", [IMU, GPS], seed=1)
    mcap, _ = write(root / "mcap_src", "mcap", [IMU, TF], seed=2)
    mcap = mcap.rename(root / "drive_b.mcap")
    folder, _ = write(root / "drive_c", "db3", [GPS, TF], seed=3)
    bad = root / "drive_d.mcap"
    bad.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 8)
    return {"a": bag, "b": mcap, "c": folder, "bad": bad}


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_template_placeholders(inputs: dict[str, Path], tmp_path: Path) -> None:
    bag, folder = inputs["a"], inputs["c"]
    assert sequence_name("{stem}", bag) == "drive_a"
    assert sequence_name("{name}", bag) == "drive_a_bag"
    assert sequence_name("{parent}-{stem}-{ext}", bag) == f"{bag.parent.name}-drive_a-bag"
    assert sequence_name("{stem}{ext}", folder) == "drive_c"
    nested = tmp_path / "day 1" / "run.v2.mcap"
    nested.parent.mkdir()
    nested.write_bytes(b"")
    assert sequence_name("{path}", nested, root=tmp_path) == "day_1-run_v2"
    assert sequence_name("{parent}", nested) == "day_1"
    with pytest.raises(RosBridgeError, match=r"unknown placeholder \{date\}; use \{stem\}"):
        sequence_name("{date}", bag)
    with pytest.raises(RosBridgeError, match="has no placeholder"):
        sequence_name("run", bag)
    with pytest.raises(RosBridgeError, match="must start with an ASCII letter or digit"):
        sequence_name("_{stem}", bag)


def test_duplicate_and_existing_names_are_refused_together(inputs: dict[str, Path]) -> None:
    paths = [inputs["a"], inputs["b"], inputs["c"]]
    with pytest.raises(RosBridgeError) as info:
        plan_jobs(paths, "{parent}", existing=["other"])
    text = str(info.value)
    assert f"{inputs['b']}: sequence name '{inputs['a'].parent.name}' is also given to" in text
    assert f"{inputs['c']}:" in text and "'{parent}-{stem}'" in text
    with pytest.raises(RosBridgeError, match="'drive_b' already exists") as info:
        plan_jobs(paths, "{stem}", existing=["drive_b", "drive_c"])
    assert "'drive_c' already exists" in str(info.value)
    jobs = plan_jobs(paths, "{stem}", existing=["drive_x"])
    assert [j.sequence for j in jobs] == ["drive_a", "drive_b", "drive_c"]


def test_parallel_ingests_store_what_one_at_a_time_would(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    jobs = [Job((inputs[k],), f"seq-{k}") for k in ("a", "b", "c", "bad")]
    seen = []
    with MosaicoClient.local(tmp_path / "store") as client:
        bar = ManyProgress(len(jobs), enabled=False)
        results = ingest_many(
            client, jobs, IngestOptions(), workers=3, progress=bar, on_result=seen.append
        )
        assert seen == results and bar.done == 4
        by_seq = {r.job.sequence: r for r in results}
        assert not by_seq["seq-bad"].ok and "cannot read" in str(by_seq["seq-bad"].error)
        assert sorted(client.list_sequences()) == ["seq-a", "seq-b", "seq-c"]
        for key in ("a", "b", "c"):
            expected = MemorySequence(key)
            ingest([inputs[key]], expected)
            report = by_seq[f"seq-{key}"].report
            assert report is not None and report.skipped == {}
            for name, topic in expected.topics.items():
                handler = client.topic_handler(f"seq-{key}", name)
                assert handler is not None
                got = handler.get_data_streamer().read_all().to_pylist()
                assert got == topic.table().to_pylist(), (key, name)


def test_cli_many_recordings_one_bad(inputs: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "store"
    files = [inputs["a"], inputs["b"], inputs["c"], inputs["bad"]]
    code, out = _run("ingest", *files, "--sequence-template", "{stem}", "-j", "2", "--store", store)
    assert code == 1, out
    assert f"FAILED {inputs['bad']}: cannot read" in out
    assert f"{inputs['a']}: ingested 50 messages" in out and "into 'drive_a'" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("recording"))
    rows = {line.split()[1]: line.split()[2] for line in lines[header + 2 : header + 6]}
    assert rows == {"drive_a": "ok", "drive_b": "ok", "drive_c": "ok", "drive_d": "FAILED"}
    assert lines[-1] == "3 of 4 recordings ingested, 1 failed; 130 messages"
    with MosaicoClient.local(store) as client:
        assert sorted(client.list_sequences()) == ["drive_a", "drive_b", "drive_c"]
    # Again: every name but the failed one's is taken now, refused before anything runs.
    code, out = _run("ingest", *files, "--sequence-template", "{stem}", "--store", store)
    assert code == 1 and "cannot name these recordings" in out
    assert "'drive_a' already exists" in out and "'drive_c' already exists" in out
    code, out = _run("ingest", inputs["bad"], "--sequence-template", "{stem}", "--store", store)
    assert code == 1 and "0 of 1 recordings ingested, 1 failed" in out


def test_cli_all_good_exits_zero(inputs: dict[str, Path], tmp_path: Path) -> None:
    args = ["ingest", inputs["a"], inputs["c"], "--sequence-template", "x-{stem}"]
    code, out = _run(*args, "--store", tmp_path / "store")
    assert code == 0, out
    assert out.splitlines()[-1] == "2 of 2 recordings ingested; 75 messages"


def test_cli_dry_run_names_each_recording(inputs: dict[str, Path]) -> None:
    code, out = _run(
        "ingest", inputs["a"], inputs["b"], "--sequence-template", "{stem}", "--dry-run"
    )
    assert code == 0, out
    assert f"{inputs['a']} -> drive_a\n  /gps -> gps" in out
    assert f"{inputs['b']} -> drive_b\n  /imu -> imu" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "x", "--sequence-template", "{stem}"], "not both"),
        ([], "give --sequence NAME (one recording) or --sequence-template"),
        (["-s", "x", "B"], "2 recordings given with --sequence: only ROS 1 .bag files"),
        (["-s", "x", "--jobs", "2"], "--jobs: only with --sequence-template or --watch"),
        (["--sequence-template", "{stem}", "--once"], "--once: only with --watch DIR"),
        (["--sequence-template", "{stem}", "--jobs", "0"], "--jobs must be at least 1"),
        (["--sequence-template", "{stem}", "nope.bag"], "nope.bag: no such file"),
        (["--watch", "W", "-s", "x"], "--watch DIR takes no FILES"),
    ],
)
def test_mixing_mistakes_are_usage_errors(
    inputs: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(inputs["b"]) if a == "B" else str(tmp_path) if a == "W" else a for a in args]
    code, out = _run("ingest", inputs["a"], *args, "--store", tmp_path / "store")
    assert code == 2 and message in out, out
    assert not (tmp_path / "store").exists()


def test_split_bags_with_sequence_stay_one_recording(tmp_path: Path) -> None:
    first, _ = write(tmp_path / "a.bag", "bag", [IMU], seed=4)
    second, _ = write(tmp_path / "b.bag", "bag", [GPS], seed=5)
    store = tmp_path / "store"
    code, out = _run("ingest", first, second, "-s", "split", "--store", store)
    assert code == 0 and "from 2 topics into 'split'" in out, out
    with MosaicoClient.local(store) as client:
        handler = client.sequence_handler("split")
        assert handler is not None
        assert sorted(t.lstrip("/") for t in handler.topics) == ["gps", "imu"]
