"""Why the viewer ships uPlot and apache-arrow: measured in Debian's chromium (Playwright).

1. **Drawing**: a 1600 px chart of 4 series of M4 points (4 per pixel: 6,400 each, what
   one plot of the viewer holds) is created and then redrawn with new data, with uPlot
   (shipped) and with Chart.js 4 (the most used canvas charting library; animation,
   parsing and point markers off, its fastest settings), median of ``--repeat`` runs; and
   the size of each library's minified file.
2. **Moving the columns**: the same 4 x 6,400 (timestamp, value) points as the viewer's
   Arrow IPC stream, decoded with apache-arrow (``tableFromIPC``) into typed arrays, and as
   the JSON a naive API would send (``[[ts, value], ...]`` per series), decoded with
   ``JSON.parse``: bytes on the wire and decode time.

Run: ``python bench/bench_frontend.py`` after ``npm ci`` in frontend/ (Chart.js is a
devDependency there, only for this measurement).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from chromium import launch

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "mosaico" / "viewer" / "static" / "vendor"
CHARTJS = ROOT / "frontend" / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
SERIES, POINTS, WIDTH = 4, 6400, 1600

DRAW = """async ([lib, n, k, repeat]) => {
  const xs = Float64Array.from({length: n}, (_, i) => i / 1000);
  const make = (shift) => Array.from({length: k}, (_, s) =>
      Float64Array.from(xs, (x) => Math.sin(x * (s + 1) + shift)));
  const host = document.createElement("div"); document.body.append(host);
  const times = {create: [], redraw: []};
  for (let r = 0; r < repeat; r++) {
    host.replaceChildren();
    let t = performance.now(), chart;
    if (lib === "uPlot") {
      chart = new uPlot({width: 1600, height: 300, scales: {x: {time: false}},
        series: [{}, ...Array.from({length: k}, () => ({stroke: "blue", points: {show: false}}))]},
        [xs, ...make(0)], host);
    } else {
      const canvas = document.createElement("canvas"); canvas.width = 1600; canvas.height = 300;
      host.append(canvas);
      const data = (shift) => ({datasets: make(shift).map((ys) => ({data: Array.from(xs, (x, i) => ({x, y: ys[i]})),
        pointRadius: 0, borderWidth: 1, parsing: false, normalized: true}))});
      chart = new Chart(canvas, {type: "line", data: data(0), options: {animation: false,
        responsive: false, parsing: false, normalized: true, spanGaps: true,
        scales: {x: {type: "linear"}}, plugins: {legend: {display: false}}}});
      chart.data0 = data;
    }
    await new Promise(requestAnimationFrame);
    times.create.push(performance.now() - t);
    t = performance.now();
    if (lib === "uPlot") chart.setData([xs, ...make(1)]);
    else { chart.data = chart.data0(1); chart.update("none"); }
    await new Promise(requestAnimationFrame);
    times.redraw.push(performance.now() - t);
    chart.destroy();
  }
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  return {create: median(times.create), redraw: median(times.redraw)};
}"""

DECODE = """([arrowB64, jsonText, repeat]) => {
  const bytes = Uint8Array.from(atob(arrowB64), (c) => c.charCodeAt(0));
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  const arrow = [], json = [];
  for (let r = 0; r < repeat; r++) {
    let t = performance.now();
    const table = Arrow.tableFromIPC(bytes);
    const ts = table.getChild("timestamp_ns").toArray(), v = table.getChild("value").toArray();
    const xs = new Float64Array(ts.length);
    for (let i = 0; i < ts.length; i++) xs[i] = Number(ts[i] - ts[0]) / 1e9;
    arrow.push(performance.now() - t);
    t = performance.now();
    const parsed = JSON.parse(jsonText);
    let count = 0; for (const s of parsed) count += s.length;
    json.push(performance.now() - t);
    if (count !== v.length) throw new Error("mismatch");
  }
  return {arrow: median(arrow), json: median(json)};
}"""


def _payloads() -> tuple[bytes, str]:
    """The 4 x 6,400 points as the viewer's Arrow stream and as naive JSON."""
    rng = np.random.default_rng(0)
    ts = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(1, 2_000_000, SERIES * POINTS))
    values = rng.normal(size=SERIES * POINTS)
    table = pa.table({"field": pa.array(np.repeat(np.arange(SERIES), POINTS), pa.int32())
                      .dictionary_encode(), "timestamp_ns": ts, "value": values})  # fmt: skip
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    series = [[[int(t), float(v)] for t, v in zip(ts[s::SERIES], values[s::SERIES])]
              for s in range(SERIES)]  # fmt: skip
    return bytes(sink.getvalue()), json.dumps(series)


def main() -> None:
    """Measure and print."""
    import base64

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    arrow_bytes, json_text = _payloads()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": WIDTH + 100, "height": 800})
        page.set_content("<html><body></body></html>")
        for script in (VENDOR / "uPlot.iife.min.js", CHARTJS, VENDOR / "Arrow.es2015.min.js"):
            page.add_script_tag(path=str(script))
        draw = {lib: page.evaluate(DRAW, [lib, POINTS, SERIES, args.repeat]) for lib in ("uPlot", "Chart")}
        decode = page.evaluate(DECODE, [base64.b64encode(arrow_bytes).decode(), json_text, args.repeat])
        browser.close()
    print(f"{SERIES} series x {POINTS:,} points on a {WIDTH} px chart (median of {args.repeat})")
    print(f"{'':<10}{'create ms':>11}{'redraw ms':>11}{'minified kB':>13}")
    sizes = {"uPlot": (VENDOR / "uPlot.iife.min.js").stat().st_size, "Chart": CHARTJS.stat().st_size}
    for lib, t in draw.items():
        print(f"{lib:<10}{t['create']:>11.1f}{t['redraw']:>11.1f}{sizes[lib] / 1e3:>13.1f}")
    ratio = draw["Chart"]["redraw"] / draw["uPlot"]["redraw"]
    print(f"Chart.js / uPlot redraw: {ratio:.1f}x")
    print(f"{'':<10}{'kB':>9}{'decode ms':>11}")
    print(f"{'Arrow IPC':<10}{len(arrow_bytes) / 1e3:>9.1f}{decode['arrow']:>11.2f}")
    print(f"{'JSON':<10}{len(json_text) / 1e3:>9.1f}{decode['json']:>11.2f}")
    print(f"apache-arrow library: {(VENDOR / 'Arrow.es2015.min.js').stat().st_size / 1e3:.0f} kB minified")


if __name__ == "__main__":
    main()
