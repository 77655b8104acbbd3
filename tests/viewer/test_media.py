"""What the sequence page shows beside its plots, computed directly: frames of image topics,
GPS tracks, state bands; and their API replies over a real store."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from mosaico.client import MosaicoClient
from mosaico.ml.client_source import HandlerSource
from mosaico.ml.source import TableSource
from mosaico.viewer import frames as frames_module
from mosaico.viewer.app import ARROW_STREAM
from mosaico.viewer.errors import ViewerError
from mosaico.viewer.frames import frame_at, frame_times
from mosaico.viewer.states import state_fields, state_runs
from mosaico.viewer.track import gps_track
from tests.viewer.recording import T0, S, frame_pixels, gps_position, stamps
from tests.viewer.serving import get, get_json


def _source(client: MosaicoClient, topic: str) -> HandlerSource:
    handler = client.topic_handler("drive-01", topic)
    assert handler is not None
    return HandlerSource(handler)


# -- frames ----------------------------------------------------------------------------------


def test_frames_are_indexed_and_shown(viewer: tuple[MosaicoClient, str]) -> None:
    client, _ = viewer
    camera = _source(client, "/camera")
    times = frame_times(camera)
    assert times.tolist() == stamps(5).tolist()
    assert frame_times(camera, int(times[3]), int(times[6])).tolist() == times[3:6].tolist()
    frame = frame_at(camera, int(times[7]))
    assert (frame.media_type, frame.timestamp_ns) == ("image/png", times[7])
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(frame.data))), frame_pixels(7))
    jpeg = frame_at(_source(client, "/camera_jpeg"), int(stamps(2)[3]))
    assert jpeg.media_type == "image/jpeg" and jpeg.data[:2] == b"\xff\xd8"
    with pytest.raises(ViewerError, match=r"no frame at 5 ns"):
        frame_at(camera, 5)
    with pytest.raises(ViewerError, match=r"'/imu' is of type IMU, not an image type"):
        frame_times(_source(client, "/imu"))


def _image_source(fmt: str, encoding: str, data: bytes) -> TableSource:
    table = pa.table({"timestamp_ns": [1], "data": [data], "format": [fmt], "width": [2],
                      "height": [1], "stride": [6], "encoding": [encoding]})  # fmt: skip
    return TableSource("/cam", "Image", table)


def test_frames_a_browser_cannot_show_are_named() -> None:
    with pytest.raises(ViewerError, match=r"cannot show 'h264' frames"):
        frame_at(_image_source("h264", "", b"\x00" * 6), 1)
    with pytest.raises(ValueError, match=r"image encoding 'yuv422' is not taken"):
        frame_at(_image_source("raw", "yuv422", b"\x00" * 6), 1)
    with pytest.raises(ValueError, match=r"3 bytes do not hold a 2x1 rgb8 image"):
        frame_at(_image_source("raw", "rgb8", b"\x00" * 3), 1)


def test_a_frame_index_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pa.table({"timestamp_ns": np.arange(50), "data": [b""] * 50, "format": ["png"] * 50})
    monkeypatch.setattr(frames_module, "MAX_FRAMES", 20)
    with pytest.raises(ViewerError, match=r"more than 20 frames in this range"):
        frame_times(TableSource("/cam", "CompressedImage", table, batch_rows=8))
    assert frame_times(TableSource("/cam", "CompressedImage", table), 0, 20).size == 20


# -- GPS tracks ------------------------------------------------------------------------------


@pytest.mark.parametrize("hint", [200, None, 10])
def test_a_track_is_thinned_to_real_fixes(viewer: tuple[MosaicoClient, str], hint: int | None) -> None:
    client, _ = viewer
    track = gps_track(_source(client, "/gps"), points=50, rows_hint=hint)
    assert track.rows == 200 and 40 <= track.latitude.size <= 51
    k = (track.timestamps_ns - T0) // (S // 10)
    assert k[0] == 0 and k[-1] == 199 and np.all(np.diff(k) > 0)
    want = np.array([gps_position(int(i)) for i in k])
    assert np.allclose(track.latitude, want[:, 0]) and np.allclose(track.longitude, want[:, 1])


def test_a_track_leaves_out_fixes_without_position() -> None:
    lat = [45.0, np.nan, 45.2, 45.3]
    table = pa.table({"timestamp_ns": [1, 2, 3, 4],
                      "position": pa.array([{"x": a, "y": 9.0, "z": 0.0} for a in lat])})  # fmt: skip
    track = gps_track(TableSource("/gps", "GPS", table), points=10, rows_hint=4)
    assert track.timestamps_ns.tolist() == [1, 3, 4] and track.latitude.tolist() == [45.0, 45.2, 45.3]
    with pytest.raises(ViewerError, match=r"'/gps' is of type IMU, not GPS"):
        gps_track(TableSource("/gps", "IMU", table))


# -- state bands -----------------------------------------------------------------------------


def test_a_text_field_gives_its_runs(viewer: tuple[MosaicoClient, str]) -> None:
    client, _ = viewer
    imu = _source(client, "/imu")
    assert "header.frame_id" in state_fields(imu.schema)
    runs = state_runs(imu, "header.frame_id")
    ts = stamps(200)
    moving = int(ts[ts - T0 >= 10 * S][0])
    assert runs.values == ["base", "moving"]
    assert runs.starts_ns.tolist() == [ts[0], moving]
    assert runs.ends_ns.tolist() == [moving, ts[-1]]
    with pytest.raises(ViewerError, match=r"no string, enum or bool field 'acceleration.x'"):
        state_runs(imu, "acceleration.x")


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=300),
    buckets=st.integers(1, 40),
    batch_rows=st.integers(1, 64),
)
def test_runs_are_bounded_and_true(values: list[str | None], buckets: int, batch_rows: int) -> None:
    ts = np.arange(len(values), dtype=np.int64) * 7
    table = pa.table({"timestamp_ns": ts, "mode": pa.array(values, pa.string())})
    runs = state_runs(TableSource("/s", "S", table, batch_rows=batch_rows), "mode", buckets=buckets)
    assert len(runs.values) <= 2 * buckets
    assert runs.starts_ns[0] == 0 and np.all(np.diff(runs.starts_ns) > 0)
    assert np.array_equal(runs.ends_ns[:-1], runs.starts_ns[1:]) and runs.ends_ns[-1] == ts[-1]
    text = ["null" if v is None else v for v in values]
    for start, end, value in zip(runs.starts_ns, runs.ends_ns, runs.values):
        inside = {text[i] for i in np.flatnonzero((ts >= start) & (ts < max(end, start + 1)))}
        if value is not None:  # a pure run holds one value throughout
            assert inside == {value}
    if len(set(text)) == 1:
        assert runs.values == [text[0]]


# -- the API ---------------------------------------------------------------------------------


def _arrow(url: str) -> pa.Table:
    status, kind, body = get(url)
    assert (status, kind) == (200, ARROW_STREAM), body
    return pa.ipc.open_stream(body).read_all()


def test_the_media_api(viewer: tuple[MosaicoClient, str]) -> None:
    _, url = viewer
    base = f"{url}/api/%s?sequence=drive-01&topic=%s"
    assert _arrow(base % ("frames", "/camera")).column("timestamp_ns").to_pylist() == stamps(5).tolist()
    status, kind, body = get(base % ("frame", "/camera") + f"&t={stamps(5)[4]}")
    assert (status, kind) == (200, "image/png")
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(body))), frame_pixels(4))
    track = _arrow(base % ("track", "/gps") + "&points=20")
    assert track.column_names == ["timestamp_ns", "latitude", "longitude"] and track.num_rows <= 21
    states = _arrow(base % ("states", "/imu") + "&field=header.frame_id&buckets=100")
    assert states.column("value").to_pylist() == ["base", "moving"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("frame?sequence=drive-01&topic=/camera", 400, "the t parameter"),
        ("frame?sequence=drive-01&topic=/camera&t=x", 400, "t must be an integer"),
        ("frame?sequence=drive-01&topic=/camera&t=3", 400, "no frame at 3 ns"),
        ("frames?sequence=drive-01&topic=/gps", 400, "not an image type"),
        ("frames?sequence=drive-01&topic=/nope", 404, "has no topic '/nope'"),
        ("track?sequence=drive-01&topic=/imu", 400, "of type IMU, not GPS"),
        ("track?sequence=drive-01&topic=/gps&points=0", 400, "points must be in 1..100000"),
        ("states?sequence=drive-01&topic=/imu", 400, "the field parameter is required"),
        ("states?sequence=drive-01&topic=/imu&field=x", 400, "no string, enum or bool field 'x'"),
        ("query", 400, "give at least one condition"),
        ("query?where=IMU.acceleration.q%20%3E%204", 400, "where: "),
        ("query?meta=vehicle%20%3F%3F%201", 400, "meta: "),
        ("query?ranges_ns=-1&tag=IMU", 400, "ranges_ns must be >= 0"),
        ("sequences?meta=vehicle", 400, "meta: "),
        ("nothing", 404, "Not Found: /api/nothing"),
    ],
)
def test_bad_media_requests_are_named(
    viewer: tuple[MosaicoClient, str], path: str, status: int, message: str
) -> None:
    _, url = viewer
    got, kind, body = get(f"{url}/api/{path}")
    assert (got, kind) == (status, "application/json"), body
    assert message in body.decode() and "Traceback" not in body.decode()


def test_the_catalog_filters_by_metadata(viewer: tuple[MosaicoClient, str]) -> None:
    _, url = viewer
    reply = get_json(f"{url}/api/sequences?meta=vehicle%20%3D%20beta&meta=i%20%3C%207&sort=name")
    assert [i["name"] for i in reply["items"]] == ["other-01", "other-03", "other-05"]


def test_the_query_api_gives_ranges(viewer: tuple[MosaicoClient, str]) -> None:
    client, url = viewer
    reply = get_json(f"{url}/api/query?where=IMU.acceleration.x%20%3E%204&ranges_ns=100000000")
    (match,) = reply["matches"]
    (topic,) = match["topics"]
    assert (match["sequence"], topic["topic"]) == ("drive-01", "/imu")
    ts = stamps(200)
    burst = ts[(ts - T0 >= 5 * S) & (ts - T0 < 6 * S)]
    assert topic["ranges"][0] == {"start_ns": int(burst[0]), "end_ns": int(burst[-1])}
    assert len(topic["ranges"]) == 2
