"""The web viewer in a real browser: Debian's chromium driven by Playwright, over the app
served by uvicorn on loopback, over a real store written by a client. Each check compares
what the page shows with what the API's building blocks compute directly."""

from __future__ import annotations

import io
import re
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from mosaico.client import MosaicoClient
from mosaico.query import QueryOntologyCatalog
from mosaico.query.text import content_expression
from mosaico.server.launch import serve_process
from mosaico.viewer import downsample
from mosaico.viewer.app import UNAVAILABLE
from tests.viewer.browser import navigate, screenshot, settle, visit
from tests.viewer.recording import (
    FAILURE,
    SEQUENCES,
    T0,
    frame_pixels,
    gps_position,
    stamps,
    write_recording,
)
from tests.viewer.serving import free_port, get, served

SEQ = "drive-01"


def _sequence_url(url: str, **params: Any) -> str:
    query = urllib.parse.urlencode(params, doseq=True)
    return f"{url}/#/sequence/{SEQ}?{query}"


def _hash_params(page: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(page.evaluate("location.hash").split("?", 1)[1])


def _error(page: Any) -> str:
    banner = page.locator("#error")
    return banner.inner_text() if banner.is_visible() else ""


# -- catalog ---------------------------------------------------------------------------------


def test_catalog_pages_filters_and_sorts(viewer: tuple[MosaicoClient, str], page: Any) -> None:
    client, url = viewer
    visit(page, f"{url}/#/?limit=10&sort=name")
    names = page.locator("#catalog tbody tr").evaluate_all("rows => rows.map(r => r.dataset.sequence)")
    assert names == sorted(client.list_sequences())[:10]
    assert page.inner_text("#page-info") == f"1–10 of {SEQUENCES}"
    badge = page.locator("#catalog tr[data-sequence='failed-run'] .badge")
    assert badge.inner_text() == "1 error" and FAILURE in badge.get_attribute("title")
    navigate(page, lambda: page.click("text=next ▶"))
    assert page.inner_text("#page-info") == f"11–20 of {SEQUENCES}"
    screenshot(page, "catalog")
    page.fill("input[name=glob]", "other-1*")
    page.fill("input[name=meta]", "vehicle = beta")
    navigate(page, lambda: page.click("#catalog-filter button"))
    rows = page.locator("#catalog tbody tr").evaluate_all("rows => rows.map(r => r.dataset.sequence)")
    assert rows == [f"other-{i}" for i in range(11, 20, 2)]  # odd i: beta
    assert page.inner_text("#page-info") == "1–5 of 5"


# -- plots -------------------------------------------------------------------------------------


def _plot_state(page: Any, index: int = 0) -> dict[str, Any]:
    return page.evaluate(
        """i => { const p = window.mosaicoViewer.sequence.plots[i];
                  const d = p.chart.data;
                  return { dataset: {...p.node.dataset},
                           shown: d.slice(1).map(s => s.filter(v => v != null).length),
                           max: d.slice(1).map(s => Math.max(...s.filter(v => v != null))) }; }""",
        index,
    )


def test_a_field_plots_its_downsampled_points(viewer: tuple[MosaicoClient, str], page: Any) -> None:
    client, url = viewer
    visit(page, _sequence_url(url, plot="/imu:acceleration.x,/imu:acceleration.z|/gps:position.x"))
    assert _error(page) == ""
    first, second = _plot_state(page, 0), _plot_state(page, 1)
    handler = client.topic_handler(SEQ, "/imu")
    assert handler is not None
    buckets = int(first["dataset"]["buckets"])
    want = downsample(handler, ["acceleration.x", "acceleration.z"], buckets=buckets)
    points = [want[f].values.size for f in ("acceleration.x", "acceleration.z")]
    assert first["dataset"]["points"] == ",".join(map(str, points))
    assert first["shown"] == points  # every point reached the chart
    assert first["dataset"]["rows"] == "4000,4000"
    assert first["max"][0] == 6.0  # the bursts survive downsampling
    assert 0 < points[0] <= 4 * buckets
    assert second["dataset"]["series"] == "/gps:position.x" and second["shown"] == [200]
    # Overlay a field of another topic on the last panel, from the topics table.
    page.select_option("#topics tr[data-topic='/camera'] .field-picker", "width")
    page.click("#topics tr[data-topic='/camera'] .plot-overlay")
    settle(page)
    overlaid = _plot_state(page, 1)
    assert overlaid["dataset"]["series"] == "/gps:position.x,/camera:width"
    assert overlaid["shown"] == [200, 100] and overlaid["max"] == [gps_position(199)[0], 32]
    assert _hash_params(page)["plot"] == [
        "/imu:acceleration.x,/imu:acceleration.z|/gps:position.x,/camera:width"
    ]


def test_zooming_refetches_the_visible_range(viewer: tuple[MosaicoClient, str], page: Any) -> None:
    client, url = viewer
    visit(page, _sequence_url(url, plot="/imu:acceleration.x"))
    box = page.locator(".plot .u-over").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    settle(page)
    params = _hash_params(page)
    start, end = int(params["start"][0]), int(params["end"][0])
    assert T0 + 4 * 10**9 < start < end < T0 + 11 * 10**9  # about 5 s to 10 s of 20
    state = _plot_state(page)
    handler = client.topic_handler(SEQ, "/imu")
    assert handler is not None
    want = downsample(handler, ["acceleration.x"], start, end + 1, int(state["dataset"]["buckets"]))
    assert state["shown"] == [want["acceleration.x"].values.size]
    assert int(state["dataset"]["rows"]) == want["acceleration.x"].rows < 4000
    screenshot(page, "zoomed")
    page.click("#reset-zoom")
    settle(page)
    assert _plot_state(page)["dataset"]["rows"] == "4000" and "start" not in _hash_params(page)


# -- cursor: frames and GPS ----------------------------------------------------------------------


def _move_cursor(page: Any, fraction: float) -> int:
    box = page.locator(".plot .u-over").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.querySelector('#cursor-time').dataset.ns")
    settle(page)
    return int(page.locator("#cursor-time").get_attribute("data-ns"))


def _frame(page: Any, topic: str) -> dict[str, Any]:
    img = page.locator(f".image-panel img[data-topic='{topic}']")
    img.evaluate("img => img.decode()")
    return img.evaluate(
        "img => ({ts: img.dataset.ts, index: +img.dataset.index, width: img.naturalWidth, src: img.src})"
    )


def _last_at_or_before(times: np.ndarray, t: int) -> int:
    return max(0, int(np.searchsorted(times, t, side="right")) - 1)


def test_the_cursor_moves_the_frame_and_the_gps_marker(
    viewer: tuple[MosaicoClient, str], page: Any
) -> None:
    _, url = viewer
    visit(page, _sequence_url(url, plot="/imu:acceleration.x", image=["/camera", "/camera_jpeg"], gps="/gps"))
    assert _error(page) == ""
    seen = []
    for fraction in (0.2, 0.7):
        cursor = _move_cursor(page, fraction)
        k = _last_at_or_before(stamps(5), cursor)
        frame = _frame(page, "/camera")
        assert (frame["index"], int(frame["ts"]), frame["width"]) == (k, stamps(5)[k], 32)
        status, kind, body = get(frame["src"])
        assert (status, kind) == (200, "image/png")
        assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(body))), frame_pixels(k))
        jpeg = _frame(page, "/camera_jpeg")
        assert jpeg["index"] == _last_at_or_before(stamps(2), cursor) and jpeg["width"] == 32
        assert get(jpeg["src"])[1] == "image/jpeg"
        marker = page.locator(".gps-marker")
        g = _last_at_or_before(stamps(10), cursor)
        lat, lon = float(marker.get_attribute("data-lat")), float(marker.get_attribute("data-lon"))
        assert (lat, lon) == pytest.approx(gps_position(g))
        seen.append((k, marker.get_attribute("cx"), marker.get_attribute("cy")))
    assert seen[0][0] < seen[1][0] and seen[0][1:] != seen[1][1:]
    screenshot(page, "sequence")


def test_frames_step_one_at_a_time(viewer: tuple[MosaicoClient, str], page: Any) -> None:
    _, url = viewer
    visit(page, _sequence_url(url, plot="/imu:acceleration.x", image="/camera"))
    assert _frame(page, "/camera")["index"] == 0
    for want in (1, 2, 1):
        page.click(".next-frame" if want > _frame(page, "/camera")["index"] else ".prev-frame")
        settle(page)
        frame = _frame(page, "/camera")
        assert (frame["index"], int(frame["ts"])) == (want, stamps(5)[want])
        assert int(page.locator("#cursor-time").get_attribute("data-ns")) == stamps(5)[want]


def test_a_text_field_runs_as_a_state_band(viewer: tuple[MosaicoClient, str], page: Any) -> None:
    _, url = viewer
    visit(page, _sequence_url(url, state="/imu:header.frame_id"))
    runs = page.locator(".state-band .band-run").evaluate_all(
        "rs => rs.map(r => [r.dataset.value, parseFloat(r.style.left), parseFloat(r.style.width)])"
    )
    assert [r[0] for r in runs] == ["base", "moving"]
    assert runs[0][1] == 0 and runs[1][1] == pytest.approx(50, abs=0.1)
    assert runs[1][1] + runs[1][2] == pytest.approx(100, abs=0.1)


# -- query ---------------------------------------------------------------------------------------


def test_a_query_highlights_where_its_condition_holds(
    viewer: tuple[MosaicoClient, str], page: Any
) -> None:
    client, url = viewer
    visit(page, f"{url}/#/query")
    page.fill("input[name=tag]", "IMU")
    page.fill("input[name=field]", "acceleration.x")
    page.select_option("select[name=op]", ">")
    page.fill("input[name=value]", "4")
    page.fill("input[name=gap]", "100")
    navigate(page, lambda: page.click("#query-form button"))
    assert _error(page) == ""
    hits = page.locator(".query-hit").evaluate_all("hs => hs.map(h => h.dataset.sequence)")
    assert hits == [SEQ]
    response = client.query(QueryOntologyCatalog(content_expression("IMU.acceleration.x > 4")))
    assert response is not None
    want = [(c.start_ns, c.end_ns) for c in client.clusterize(response.items[0].topics[0], 10**8)]
    assert len(want) == 2
    shown = page.locator(".hit-range").evaluate_all(
        "rs => rs.map(r => [Number(r.dataset.start), Number(r.dataset.end)])"
    )
    assert shown == [pytest.approx([a, b], rel=1e-15) for a, b in want]
    screenshot(page, "query")
    navigate(page, lambda: page.click(".query-topic a"))
    assert "hl" in _hash_params(page) and _plot_state(page)["dataset"]["series"] == "/imu:acceleration.x"


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("#/sequence/nope", "no sequence 'nope'"),
        (f"#/sequence/{SEQ}?plot=/imu:acceleration.q", "topic /imu has no numeric field acceleration.q"),
        (f"#/sequence/{SEQ}?plot=/nothing:x", f"sequence {SEQ} has no topic /nothing"),
        (f"#/sequence/{SEQ}?image=/imu", "topic /imu is of type IMU, not an image type"),
        ("#/somewhere", "no page /somewhere"),
        (f"#/sequence/{SEQ}?plot=/imu:acceleration.x&start=abc&end=1", "start and end must be integer nanoseconds"),
        ("#/query?where=IMU.acceleration.q%20%3E%204", "acceleration.q"),
    ],
)
def test_bad_input_is_a_message_in_the_page(
    viewer: tuple[MosaicoClient, str], page: Any, path: str, message: str
) -> None:
    _, url = viewer
    visit(page, f"{url}/{path}")
    assert message in _error(page) and "Traceback" not in _error(page)


def test_a_platform_that_goes_away_is_a_message(page: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with MosaicoClient.local(store, create=True) as client:
        write_recording(client)
    with (
        serve_process(store, port=free_port()) as (process, port),
        MosaicoClient.connect("127.0.0.1", port, timeout=1.0) as client,
        served(client) as url,
    ):
        visit(page, _sequence_url(url, plot="/imu:acceleration.x"))
        assert _error(page) == ""
        process.terminate()
        process.wait(30)
        page.evaluate("window.mosaicoViewer.sequence.timeline.setView(1, 2)")  # a zoom
        settle(page)
        assert _error(page) == UNAVAILABLE
        screenshot(page, "platform-gone")


def test_the_viewer_going_away_is_a_message(page: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with MosaicoClient.local(store, create=True) as client:
        write_recording(client)
        with served(client) as url:
            visit(page, _sequence_url(url, plot="/imu:acceleration.x"))
        page.evaluate("window.mosaicoViewer.sequence.timeline.setView(1, 2)")
        settle(page)
        assert re.search(r"the viewer does not answer", _error(page))


def test_a_sequence_of_many_topics_lists_a_filtered_few(page: Any, tmp_path: Path) -> None:
    from mosaico.types.scalars import Floating64
    from tests.ml.ml_helpers import scalar_source

    with MosaicoClient.local(tmp_path / "store", create=True) as client:
        with client.sequence_create("wide", {}) as seq:
            for i in range(230):
                table = scalar_source("/s", [i, i + 1], [0.0, 1.0]).table
                seq.topic_create(f"/sensor_{i:03d}", {}, Floating64).push_batch(table)
        with served(client) as url:
            visit(page, f"{url}/#/sequence/wide")
            assert page.locator("#topics tbody tr").count() == 200
            assert "showing 200 of 230 topics" in page.inner_text("main")
            page.fill("#topic-filter", "sensor_22")
            shown = page.locator("#topics tbody tr").evaluate_all("rs => rs.map(r => r.dataset.topic)")
            assert shown == [f"/sensor_22{d}" for d in range(10)]
            page.click("#topics tr[data-topic='/sensor_225'] .plot-new")
            settle(page)
            assert _plot_state(page)["dataset"]["rows"] == "2" and _error(page) == ""


def test_the_timeline_shows_and_moves_the_visible_range(
    viewer: tuple[MosaicoClient, str], page: Any
) -> None:
    _, url = viewer
    third = (T0 + 5 * 10**9, T0 + 10 * 10**9)  # 5 s of 20, from 5 s
    visit(page, _sequence_url(url, plot="/imu:acceleration.x", start=third[0], end=third[1]))
    box = page.locator("#overview .view-box")
    assert float(box.evaluate("b => parseFloat(b.style.left)")) == pytest.approx(25, abs=0.01)
    assert float(box.evaluate("b => parseFloat(b.style.width)")) == pytest.approx(25, abs=0.01)
    bar = page.locator("#overview").bounding_box()
    page.mouse.click(bar["x"] + bar["width"] * 0.75, bar["y"] + bar["height"] / 2)
    settle(page)
    params = _hash_params(page)
    start, end = int(params["start"][0]), int(params["end"][0])
    assert (end - start) == pytest.approx(5 * 10**9, rel=1e-6)  # the same width, centred at 15 s
    assert (start + end) / 2 - T0 == pytest.approx(15 * 10**9, rel=0.01)
    assert _plot_state(page)["dataset"]["rows"] == "1000"
