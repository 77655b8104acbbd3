"""The web viewer on a big topic, in a real browser: time to the first plot and to a zoom,
and the bytes each plot moves; against pandas + matplotlib doing the same plots.

An IMU topic (10 M rows at 1 kHz; ``--quick``: 1 M) is written to a `mosaico serve` in
another process; `mosaico.viewer.app` runs over a client of it, and Debian's chromium
(Playwright) opens the sequence page with ``acceleration.x`` plotted:

* ``first plot``: from navigation to the plot drawn (page, scripts, catalog entry, one
  downsampled series request for the plot's width);
* ``zoom``: a zoom into a tenth, a hundredth and a thousandth of the range, each from the
  request to the redrawn plot (median of the three);
* the peer, ``pandas + matplotlib``: the column read into pandas (projected,
  ``get_data_streamer(fields=[...])``) and every point plotted to a PNG; its zoom sets the
  x limits of the same figure and draws it again (the data already in memory).

Printed: seconds, the ratio peer / viewer, and the Arrow bytes each viewer plot received
against the raw column (8 bytes a row, 16 with its timestamps).

Then the catalog of ``--sequences`` sequences (10,000; ``--quick``: 1,000), each one small
topic: the seconds from navigation to the first page of 100 drawn, sorted by creation, by
name and by size (largest first), and to the last page.

Run: ``python bench/bench_ui.py`` (``--quick``), from the repository root; needs the ``ui``
and ``plot`` extras, Playwright and /usr/bin/chromium (deploy/packages.sh).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from bench_plot import FIELD, WIDTH, pandas_plot, upload
from chromium import goto, launch, settle

from mosaico.client import MosaicoClient
from mosaico.server.launch import serve_process
from mosaico.viewer.app import create_app
from mosaico.viewer.serving import background

ZOOMS = (10, 100, 1000)


def _plot_bytes(page: Any) -> int:
    return int(page.evaluate("window.mosaicoViewer.sequence.plots[0].node.dataset.bytes"))


def browser_run(url: str) -> dict[str, Any]:
    """First plot and zooms in chromium; seconds and bytes per plot."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": WIDTH + 420, "height": 900})
        goto(page, f"{url}/#/")  # warm the browser's caches of the page and scripts
        started = time.perf_counter()
        goto(page, f"{url}/#/sequence/run?plot=/imu:{FIELD}")
        first = time.perf_counter() - started
        sent = [_plot_bytes(page)]
        full = page.evaluate("window.mosaicoViewer.sequence.timeline.full[1]")
        zooms = []
        for k in ZOOMS:
            middle, half = full / 2, full / (2 * k)
            started = time.perf_counter()
            page.evaluate(f"window.mosaicoViewer.sequence.timeline.setView({middle - half}, {middle + half})")
            settle(page)
            zooms.append(time.perf_counter() - started)
            sent.append(_plot_bytes(page))
        browser.close()
    return {"first": first, "zoom": statistics.median(zooms), "sent": sent}


def many_sequences(port: int, count: int) -> None:
    """``count`` sequences ``seq-NNNNN``, one scalar topic each, of different sizes."""
    from mosaico.types.scalars import Floating64

    with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
        for i in range(count):
            with client.sequence_create(f"seq-{i:05d}", {"i": i}) as seq:
                rows = 1 + i % 50
                table = pa.table({"timestamp_ns": pa.array(range(rows), pa.int64()),
                                  "data": pa.array([float(i)] * rows)})  # fmt: skip
                seq.topic_create("/s", {}, Floating64).push_batch(table)


def catalog_run(url: str, count: int) -> dict[str, float]:
    """Seconds to draw a catalog page of ``count`` sequences, per sort and for the last
    page."""
    from playwright.sync_api import sync_playwright

    last = (count - 1) // 100 * 100
    views = {"created": "sort=created", "name": "sort=name", "size (desc)": "sort=size&order=desc",
             "last page": f"sort=created&offset={last}"}  # fmt: skip
    out = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        goto(page, f"{url}/#/?limit=1")
        for name, query in views.items():
            started = time.perf_counter()
            goto(page, f"{url}/#/?{query}")
            out[name] = time.perf_counter() - started
            assert page.locator("#catalog tbody tr").count() == min(100, count - ("offset" in query) * last)
        browser.close()
    return out


def peer_run(port: int, out: Path) -> dict[str, float]:
    """pandas + matplotlib: the first plot, then the zooms redrawn from memory."""
    from matplotlib.figure import Figure

    started = time.perf_counter()
    pandas_plot(port, out, [FIELD])
    first = time.perf_counter() - started
    with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
        handler = client.topic_handler("run", "/imu")
        assert handler is not None
        frame = handler.get_data_streamer(fields=[FIELD]).to_pandas()
    seconds = (frame["timestamp_ns"] - frame["timestamp_ns"].iloc[0]) / 1e9
    figure = Figure(figsize=(WIDTH / 100, 4), layout="constrained")
    ax = figure.add_subplot()
    ax.plot(seconds, frame[FIELD])
    full = float(seconds.iloc[-1])
    zooms = []
    for k in ZOOMS:
        started = time.perf_counter()
        ax.set_xlim(full / 2 - full / (2 * k), full / 2 + full / (2 * k))
        figure.savefig(out, dpi=100)
        zooms.append(time.perf_counter() - started)
    return {"first": first, "zoom": statistics.median(zooms)}


def main() -> None:
    """Run both and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 M rows instead of 10 M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--sequences", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    count = args.sequences or (1_000 if args.quick else 10_000)
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as scratch:
        root = Path(scratch)
        with serve_process(root / "store") as (_, port):
            upload(port, rows)
            peer = peer_run(port, root / "peer.png")
            with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                with sock, background(create_app(client), sock) as url:
                    viewer = browser_run(url)
                    started = time.perf_counter()
                    many_sequences(port, count)
                    written = time.perf_counter() - started
                    catalog = catalog_run(url, count + 1)  # and the IMU's
    raw = rows * 8
    print(f"{rows:,} IMU rows at 1 kHz, {FIELD} on a {WIDTH} px plot; raw column {raw / 1e6:.1f} MB "
          f"({2 * raw / 1e6:.1f} MB with timestamps)")  # fmt: skip
    print(f"{'':<14}{'viewer s':>10}{'pandas+mpl s':>14}{'x viewer':>10}")
    for key, label in (("first", "first plot"), ("zoom", "zoom (median)")):
        print(f"{label:<14}{viewer[key]:>10.3f}{peer[key]:>14.3f}{peer[key] / viewer[key]:>10.1f}")
    names = ["full range", *(f"1/{k} zoom" for k in ZOOMS)]
    for name, sent in zip(names, viewer["sent"]):
        print(f"bytes per plot, {name:<12}{sent / 1e3:>10.1f} kB  = {sent / raw:.5f} x raw column")
    print(f"catalog of {count + 1:,} sequences (written in {written:.0f} s), a page of 100:")
    for name, seconds in catalog.items():
        print(f"  {name:<14}{seconds:>8.3f} s")


if __name__ == "__main__":
    main()
