"""The LeRobot writer in the main environment: files, metadata, statistics and videos
checked with pyarrow, pandas and PyAV against values worked out independently."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mosaico.ml import MLInputError, TableSource
from mosaico.ml.lerobot import LeRobotStream, export_lerobot
from mosaico.ml.lerobot import paths as lr_paths
from mosaico.types.geometry import Vector3d
from mosaico.types.images import Image
from mosaico.types.scalars import String
from mosaico.types.sensors import IMU
from tests.lerobot.recordings import (
    HEIGHT,
    WIDTH,
    expected,
    pattern,
    png_table,
    recording,
    sources,
)

STREAMS = ["/camera=front", "/joints=state:positions,velocities", "/cmd=action"]
FPS = 30


def _episodes(seconds: tuple[float, ...] = (2.0, 1.5)) -> list[tuple[str, dict[str, pa.Table]]]:
    return [(f"run-{i}", recording(i, s)) for i, s in enumerate(seconds, 1)]


def _export(out: Path, episodes: list[tuple[str, dict[str, pa.Table]]], **kw):  # type: ignore[no-untyped-def]
    inputs = [(name, sources(tables)) for name, tables in episodes]
    return export_lerobot(inputs, out, fps=FPS, streams=kw.pop("streams", STREAMS), **kw)


def _decoded(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as c:
        frames = [
            (f.to_ndarray(format="rgb24"), float(f.pts * f.time_base)) for f in c.decode(video=0)
        ]
    return [f for f, _ in frames], [t for _, t in frames]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("lerobot") / "ds"
    episodes = _episodes()
    report = _export(out, episodes, task="pick", robot_type="arm")
    assert report.episodes == 2 and report.fps == FPS
    assert report.features == {
        "observation.state": "float32[6]", "action": "float32[1]",
        "observation.images.front": f"video {WIDTH}x{HEIGHT}",
    }  # fmt: skip
    return out, episodes


def test_info_and_episodes_agree_with_the_data(exported) -> None:  # type: ignore[no-untyped-def]
    out, episodes = exported
    info = json.loads((out / "meta/info.json").read_text())
    lengths = [len(expected(t, FPS)["ticks"]) for _, t in episodes]
    assert info["codebase_version"] == "v3.0" and info["fps"] == FPS
    assert info["robot_type"] == "arm"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (
        2,
        sum(lengths),
        1,
    )
    assert info["splits"] == {"train": "0:2"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    features = info["features"]
    assert list(features) == [
        "observation.state", "action", "observation.images.front",
        "timestamp", "frame_index", "episode_index", "index", "task_index",
    ]  # fmt: skip
    assert features["observation.state"]["names"] == [
        f"/joints.{f}_{i}" for f in ("positions", "velocities") for i in range(3)
    ]
    assert features["observation.images.front"]["shape"] == [HEIGHT, WIDTH, 3]
    assert features["observation.images.front"]["info"]["video.pix_fmt"] == "yuv420p"


def test_episodes_metadata_gives_each_episode_its_place(exported) -> None:  # type: ignore[no-untyped-def]
    out, episodes = exported
    lengths = [len(expected(t, FPS)["ticks"]) for _, t in episodes]
    meta = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [m["length"] for m in meta] == lengths
    assert [(m["dataset_from_index"], m["dataset_to_index"]) for m in meta] == [
        (0, lengths[0]), (lengths[0], sum(lengths)),
    ]  # fmt: skip
    assert [m["tasks"] for m in meta] == [["pick"], ["pick"]]
    tasks = pd.read_parquet(out / "meta/tasks.parquet")
    assert list(tasks.index) == ["pick"] and list(tasks["task_index"]) == [0]
    video = meta[1]["videos/observation.images.front/from_timestamp"]
    assert video == pytest.approx(lengths[0] / FPS)
    assert meta[1]["videos/observation.images.front/to_timestamp"] == pytest.approx(
        sum(lengths) / FPS
    )


def test_frames_hold_the_synchronised_values(exported) -> None:  # type: ignore[no-untyped-def]
    out, episodes = exported
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert data.schema.field("observation.state").type == pa.list_(pa.float32(), 6)
    assert data.schema.field("action").type == pa.float32()  # shape (1,): a scalar
    offset = 0
    for e, (_, tables) in enumerate(episodes):
        want = expected(tables, FPS)
        n = len(want["ticks"])
        part = data.slice(offset, n)
        state = np.array(part.column("observation.state").to_pylist(), np.float32)
        np.testing.assert_array_equal(state, want["state"])
        np.testing.assert_array_equal(part.column("action").to_numpy(), want["action"][:, 0])
        np.testing.assert_allclose(
            part.column("timestamp").to_numpy(), np.arange(n) / FPS, atol=1e-6
        )
        assert part.column("frame_index").to_pylist() == list(range(n))
        assert part.column("episode_index").to_pylist() == [e] * n
        assert part.column("index").to_pylist() == list(range(offset, offset + n))
        offset += n
    assert data.num_rows == offset


def test_video_holds_every_frame_at_its_time(exported) -> None:  # type: ignore[no-untyped-def]
    out, episodes = exported
    frames, times = _decoded(out / "videos/observation.images.front/chunk-000/file-000.mp4")
    shown = np.concatenate([expected(t, FPS)["camera"] for _, t in episodes])
    assert len(frames) == len(shown)
    np.testing.assert_allclose(times, np.arange(len(frames)) / FPS, atol=1e-6)
    errors = [np.abs(f.astype(int) - pattern(i)).mean() for f, i in zip(frames, shown)]
    assert max(errors) < 3.0


def test_statistics_are_those_of_the_data(exported) -> None:  # type: ignore[no-untyped-def]
    out, _ = exported
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    stats = json.loads((out / "meta/stats.json").read_text())
    state = np.array(data.column("observation.state").to_pylist(), np.float64)
    s = stats["observation.state"]
    np.testing.assert_allclose(s["min"], state.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(s["max"], state.max(axis=0), rtol=1e-6)
    np.testing.assert_allclose(s["mean"], state.mean(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s["std"], state.std(axis=0), rtol=1e-6)
    assert s["count"] == [len(state)]
    assert set(s) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
    camera = stats["observation.images.front"]
    assert np.array(camera["mean"]).shape == (3, 1, 1)
    frames, _ = _decoded(out / "videos/observation.images.front/chunk-000/file-000.mp4")
    pixels = np.stack(frames).reshape(-1, 3) / 255.0
    # Statistics are of the frames encoded, not decoded: within the codec's error.
    np.testing.assert_allclose(np.array(camera["mean"]).ravel(), pixels.mean(axis=0), atol=0.01)
    meta = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    first = state[: meta[0]["length"]]
    np.testing.assert_allclose(
        meta[0]["stats/observation.state/q50"], np.quantile(first, 0.5, axis=0), rtol=1e-6
    )
    assert meta[1]["stats/episode_index/min"] == [1.0]


def test_compressed_and_bgr_cameras_give_the_same_frames(tmp_path: Path) -> None:
    tables = recording(3, 1.0)
    ts = tables["/camera"].column("timestamp_ns").to_numpy()
    png = dict(tables)
    png["/camera"] = png_table(ts)
    bgr = dict(tables)
    bgr["/camera"] = Image.to_batch(
        [Image(data=np.ascontiguousarray(pattern(i)[:, :, ::-1]).tobytes(), format="raw",
               width=WIDTH, height=HEIGHT, stride=WIDTH * 3, encoding="bgr8") for i in range(len(ts))],
        ts,
    )  # fmt: skip
    decoded = {}
    for name, t in {"raw": tables, "png": png, "bgr": bgr}.items():
        srcs = sources(t)
        if name == "png":
            srcs["/camera"] = TableSource("/camera", "CompressedImage", t["/camera"])
        export_lerobot([(name, srcs)], tmp_path / name, fps=FPS, streams=STREAMS)
        decoded[name], _ = _decoded(
            tmp_path / name / "videos/observation.images.front/chunk-000/file-000.mp4"
        )
    assert len(decoded["raw"]) == len(decoded["png"]) == len(decoded["bgr"])
    for a, b, c in zip(decoded["raw"], decoded["png"], decoded["bgr"]):
        assert np.array_equal(a, b) and np.array_equal(a, c)  # same pixels in, same video out


def test_interpolated_numbers_end_with_their_topics(tmp_path: Path) -> None:
    ((name, tables),) = _episodes((1.0,))
    export_lerobot([(name, sources(tables))], tmp_path / "ds", fps=FPS,
                   streams=["/joints=state:positions", "/cmd=action"], align="interpolate")  # fmt: skip
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["video_path"] is None and not (tmp_path / "ds/videos").exists()
    data = pq.read_table(tmp_path / "ds/data/chunk-000/file-000.parquet")
    stamps = {k: t.column("timestamp_ns").to_numpy() for k, t in tables.items() if k != "/camera"}
    start = max(int(s[0]) for s in stamps.values())
    last = min(int(s[-1]) for s in stamps.values())
    ticks = start + np.rint(np.arange(data.num_rows) * (1e9 / FPS)).astype(np.int64)
    assert ticks[-1] <= last < ticks[-1] + 1e9 / FPS
    cmd = tables["/cmd"].column("data").to_numpy()
    want = np.interp(ticks, stamps["/cmd"], cmd).astype(np.float32)
    np.testing.assert_allclose(data.column("action").to_numpy(), want, rtol=1e-6)


def test_files_roll_over_at_their_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lr_paths, "DATA_FILE_MB", 0)
    monkeypatch.setattr(lr_paths, "VIDEO_FILE_MB", 0)
    episodes = _episodes((1.0, 1.0, 1.0))
    _export(tmp_path / "ds", episodes)
    meta = pq.read_table(tmp_path / "ds/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [m["data/file_index"] for m in meta] == [0, 1, 2]
    assert [m["videos/observation.images.front/file_index"] for m in meta] == [0, 1, 2]
    assert [m["videos/observation.images.front/from_timestamp"] for m in meta] == [0.0] * 3
    for m in meta:
        path = (
            tmp_path
            / f"ds/videos/observation.images.front/chunk-000/file-{m['data/file_index']:03d}.mp4"
        )
        frames, _ = _decoded(path)
        assert len(frames) == m["length"]
        rows = pq.read_metadata(
            tmp_path / f"ds/data/chunk-000/file-{m['data/file_index']:03d}.parquet"
        )
        assert rows.num_rows == m["length"]


def test_file_index_moves_to_the_next_chunk() -> None:
    index = lr_paths.FileIndex(0, 998, chunks_size=1000)
    assert index.next() == lr_paths.FileIndex(0, 999)
    assert index.next().next() == lr_paths.FileIndex(1, 0)
    assert index.next().next().video_path("cam") == "videos/cam/chunk-001/file-000.mp4"


def _string_source() -> TableSource:
    return TableSource.from_objects("/note", [String(data="x")], [10**10], kind=String)


@pytest.mark.parametrize(
    ("streams", "kwargs", "message"),
    [
        (["/gps=state"], {}, "has no topic '/gps'"),
        (["/joints"], {}, "expected TOPIC=KEY"),
        (["/joints=front"], {}, "is RobotJoint, not an image"),
        (["/camera=state"], {}, "is an image (Image); give it a camera key"),
        (["/camera=front:data"], {}, "a camera takes the whole image"),
        (["/note=state"], {}, "has no numeric field"),
        (
            ["/joints=state:names"],
            {},
            "field 'names' of topic '/joints' is list<item: string>, not numeric",
        ),
        (["/joints=state:torque"], {}, "has no field 'torque'"),
        (["/joints=state", "/joints=state"], {}, "given twice"),
        (["/joints=observation/state"], {}, "cannot hold '/'"),
        (STREAMS, {"fps": 0}, "fps must be an integer > 0"),
        (STREAMS, {"fps": 29.97}, "fps must be an integer > 0"),
        (STREAMS, {"align": "nearest"}, "unknown align 'nearest'"),
        (STREAMS, {"vcodec": "vp9"}, "unknown video codec 'vp9'"),
        (STREAMS, {"task_key": "what"}, "metadata key 'what' holds no task text"),
        ([], {}, "no stream to export"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path,
    streams: list[str],
    kwargs: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    ((name, tables),) = _episodes((1.0,))
    srcs = {**sources(tables), "/note": _string_source()}
    out = tmp_path / "ds"
    args = {"fps": FPS, **kwargs}
    with pytest.raises(MLInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_lerobot([(name, srcs)], out, streams=streams, **args)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_dataset_is_never_overwritten(tmp_path: Path) -> None:
    ((name, tables),) = _episodes((1.0,))
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_text("mine")
    with pytest.raises(MLInputError, match="exists and is not an empty folder"):
        _export(tmp_path / "ds", [(name, tables)])
    assert [p.name for p in (tmp_path / "ds").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    _export(tmp_path / "empty", [(name, tables)])  # an empty folder is taken
    assert (tmp_path / "empty/meta/info.json").exists()


def test_episodes_must_share_their_features(tmp_path: Path) -> None:
    (_, a), (_, b) = _episodes((1.0, 1.0))
    small = dict(b)
    ts = b["/camera"].column("timestamp_ns").to_numpy()
    small["/camera"] = Image.to_batch(
        [Image(data=bytes(32 * 24 * 3), format="raw", width=32, height=24, stride=96, encoding="rgb8")] * len(ts),
        ts,
    )  # fmt: skip
    with pytest.raises(MLInputError, match="'run-b' has other features than 'run-a'"):
        _export(tmp_path / "ds", [("run-a", a), ("run-b", small)])
    assert not (tmp_path / "ds").exists()


def test_unsupported_images_are_named(tmp_path: Path) -> None:
    ((name, tables),) = _episodes((1.0,))
    ts = tables["/camera"].column("timestamp_ns").to_numpy()
    odd = dict(tables)
    odd["/camera"] = Image.to_batch(
        [Image(data=bytes(4 * 63 * 47), format="raw", width=63, height=47, stride=63 * 4, encoding="rgba8")] * len(ts), ts
    )  # fmt: skip
    with pytest.raises(MLInputError, match="63x47 images cannot be encoded as yuv420p"):
        _export(tmp_path / "odd", [(name, odd)])
    mono16 = dict(tables)
    mono16["/camera"] = Image.to_batch(
        [Image(data=bytes(2 * 64 * 48), format="raw", width=64, height=48, stride=128, encoding="mono16")] * len(ts), ts
    )  # fmt: skip
    with pytest.raises(MLInputError, match="image encoding 'mono16' is not taken"):
        _export(tmp_path / "mono16", [(name, mono16)])
    assert list(tmp_path.iterdir()) == []


def test_stream_syntax() -> None:
    s = LeRobotStream.parse(" /joints = state : positions, velocities ")
    assert (s.topic, s.feature, s.fields, s.camera) == (
        "/joints",
        "observation.state",
        ("positions", "velocities"),
        False,
    )
    assert LeRobotStream.parse("/cam=observation.image").camera
    assert LeRobotStream.parse("/cam=wrist").feature == "observation.images.wrist"
    assert LeRobotStream.parse("/v=observation.velocity").camera is False
    assert LeRobotStream.parse("/e=environment_state").feature == "observation.environment_state"
    with pytest.raises(MLInputError, match="empty field name"):
        LeRobotStream.parse("/joints=state:positions,")


def test_av1_videos_hold_every_frame(tmp_path: Path) -> None:
    episodes = _episodes((1.0,))
    report = _export(tmp_path / "ds", episodes, vcodec="av1")
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "av1"
    frames, times = _decoded(tmp_path / "ds/videos/observation.images.front/chunk-000/file-000.mp4")
    assert len(frames) == report.frames
    np.testing.assert_allclose(times, np.arange(len(frames)) / FPS, atol=1e-6)
    shown = expected(episodes[0][1], FPS)["camera"]
    assert max(np.abs(f.astype(int) - pattern(i)).mean() for f, i in zip(frames, shown)) < 5.0


def test_topics_that_never_overlap_or_are_empty_are_refused(tmp_path: Path) -> None:
    ((name, tables),) = _episodes((1.0,))
    late = dict(tables)
    ts = tables["/cmd"].column("timestamp_ns").to_numpy() + 5 * 10**9  # after everything else
    late["/cmd"] = tables["/cmd"].set_column(0, "timestamp_ns", pa.array(ts))
    with pytest.raises(MLInputError, match="sequence 'run-1': its topics do not overlap in time"):
        _export(tmp_path / "late", [(name, late)])
    empty = dict(tables)
    empty["/cmd"] = tables["/cmd"].slice(0, 0)
    with pytest.raises(MLInputError, match="sequence 'run-1': topic '/cmd' has no message"):
        _export(tmp_path / "empty", [(name, empty)])
    assert list(tmp_path.iterdir()) == []


def test_a_named_struct_gives_its_numeric_leaves_without_the_mixins(tmp_path: Path) -> None:
    # Vector3d carries a header and a covariance: naming "acceleration" means its x, y, z.
    imus = [
        IMU(acceleration=Vector3d(x=i, y=-i, z=9.8), angular_velocity=Vector3d(x=0, y=0, z=i))
        for i in range(50)
    ]
    imu = TableSource.from_objects("/imu", imus, [10**10 + i * 10**7 for i in range(50)])
    report = export_lerobot(
        [("run", {"/imu": imu})], tmp_path / "out", fps=10, streams=["/imu=state:acceleration"]
    )
    info = json.loads((tmp_path / "out" / "meta" / "info.json").read_text())
    names = info["features"]["observation.state"]["names"]
    assert names == ["/imu.acceleration.x", "/imu.acceleration.y", "/imu.acceleration.z"]
    assert report.features["observation.state"] == "float32[3]"
