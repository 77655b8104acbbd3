// Plot panels: uPlot charts of downsampled series (one Arrow request per topic per fetch),
// refetched for the visible range on every zoom, with one synchronised cursor.
import { arrow } from "./api.js";
import { showError } from "./errors.js";
import { el } from "./format.js";
import { track } from "./timeline.js";

const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
const AXIS = 64; // px of the y axis, so bands line up with the plot area

// One topic's reply as uPlot tables [[x...], [y...]] per field, and the server's figures.
async function fetchTopic(timeline, sequence, topic, fields, buckets) {
  const [start, end] = timeline.viewNs();
  const { table, bytes } = await arrow("/api/series", { sequence, topic, field: fields, start, end, buckets });
  const meta = JSON.parse(table.schema.metadata.get("mosaico.series"));
  const ts = table.getChild("timestamp_ns").toArray();
  const values = table.getChild("value").toArray();
  const tables = [];
  let at = 0;
  for (const f of meta.fields) {
    const xs = new Float64Array(f.points), ys = new Float64Array(f.points);
    for (let i = 0; i < f.points; i += 1) {
      xs[i] = Number(ts[at + i] - timeline.t0) / 1e9;
      ys[i] = values[at + i];
    }
    at += f.points;
    tables.push([xs, ys]);
  }
  return { tables, meta, bytes };
}

export class PlotPanel {
  constructor(host, timeline, sequence, series, { highlights = [], onRemove } = {}) {
    this.timeline = timeline;
    this.sequence = sequence;
    this.series = series; // [{topic, field}]
    this.highlights = highlights; // [[startSec, endSec]]
    this.node = el("div", { class: "panel plot", dataset: { series: series.map((s) => `${s.topic}:${s.field}`).join(",") } });
    const title = el("div", { class: "panel-title" },
      el("span", {}, series.map((s) => `${s.topic} ${s.field}`).join(" · ")),
      el("button", { title: "remove this panel", onclick: () => onRemove && onRemove(this) }, "✕"));
    this.chartHost = el("div", {});
    this.node.append(title, this.chartHost);
    host.append(this.node);
    this.chart = null;
    this.generation = 0;
    timeline.onView(() => this.load());
    this.cursorFn = (sec) => this.showCursor(sec);
    timeline.onCursor(this.cursorFn);
  }

  width() { return Math.max(300, this.chartHost.clientWidth || this.node.clientWidth || 800); }

  byTopic() {
    const groups = new Map();
    for (const s of this.series) {
      if (!groups.has(s.topic)) groups.set(s.topic, []);
      groups.get(s.topic).push(s.field);
    }
    return groups;
  }

  async load() {
    if (this.dead) return;
    const generation = (this.generation += 1);
    const buckets = Math.max(1, Math.round(this.width() - AXIS));
    this.node.dataset.loading = "1";
    this.node.dataset.buckets = String(buckets);
    try {
      const replies = await track(Promise.all([...this.byTopic()].map(([topic, fields]) =>
        fetchTopic(this.timeline, this.sequence, topic, fields, buckets).then((r) => ({ topic, ...r })))));
      if (generation !== this.generation) return; // a newer zoom superseded this one
      this.render(replies);
    } catch (err) {
      showError(err);
    } finally {
      if (generation === this.generation) delete this.node.dataset.loading;
    }
  }

  render(replies) {
    const tables = [], labels = [], points = [], rows = [];
    let bytes = 0;
    for (const reply of replies) {
      reply.meta.fields.forEach((f, i) => {
        tables.push(reply.tables[i]);
        labels.push({ name: `${reply.topic} ${f.name}`, unit: f.unit });
        points.push(f.points);
        rows.push(f.rows);
      });
      bytes += reply.bytes;
    }
    Object.assign(this.node.dataset, { points: points.join(","), rows: rows.join(","), bytes });
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    if (!this.chart) this.create(labels, data);
    else this.chart.setData(data, false);
    this.chart.setScale("x", { min: this.timeline.view[0], max: this.timeline.view[1] });
  }

  create(labels, data) {
    const timeline = this.timeline;
    const panel = this;
    const opts = {
      width: this.width(),
      height: 220,
      scales: { x: { time: false } },
      series: [
        { label: "time (s)", value: (u, v) => (v === null ? "" : v.toFixed(6)) },
        ...labels.map((l, i) => ({
          label: l.unit ? `${l.name} [${l.unit}]` : l.name,
          stroke: COLOURS[i % COLOURS.length],
          width: 1,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      axes: [{ label: "s from start" }, { size: AXIS }],
      cursor: { sync: { key: "mosaico" }, drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0 }, false);
          timeline.setView(a, b);
        }],
        setCursor: [(u) => {
          if (u.cursor.left === undefined || u.cursor.left < 0 || panel.silent) return;
          timeline.setCursor(u.posToVal(u.cursor.left, "x"), panel.cursorFn);
        }],
        drawClear: [(u) => panel.drawHighlights(u)],
      },
    };
    this.chart = new uPlot(opts, data, this.chartHost);
  }

  drawHighlights(u) {
    if (!this.highlights.length) return;
    const { ctx } = u;
    ctx.save();
    ctx.fillStyle = "rgba(249, 115, 22, 0.18)";
    for (const [a, b] of this.highlights) {
      const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
      ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
    }
    ctx.restore();
  }

  showCursor(sec) {
    if (!this.chart || this.dead) return;
    this.silent = true;
    this.chart.setCursor({ left: this.chart.valToPos(sec, "x"), top: 10 });
    this.silent = false;
  }

  destroy() {
    this.dead = true;
    if (this.chart) this.chart.destroy();
    this.node.remove();
    this.generation += 1;
  }
}
