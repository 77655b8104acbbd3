// The sequence page: its sessions and topics, and a shared timeline on which numeric fields
// are plotted (overlaid or stacked), cameras show the frame at the cursor, GPS tracks the
// cursor's position and text fields run as state bands. The hash keeps what is shown:
// #/sequence/NAME?plot=/imu:acceleration.x,/imu:acceleration.y|/baro:value
//   &image=/camera&gps=/gps&state=/status:mode&start=NS&end=NS&hl=NS-NS,...
import { json } from "./api.js";
import { showError } from "./errors.js";
import { bytes, compactJson, el, seconds, span, utc } from "./format.js";
import { GpsPanel, ImagePanel, StateBand, loadAll } from "./media.js";
import { PlotPanel } from "./plots.js";
import { Timeline } from "./timeline.js";

const MAX_TOPIC_ROWS = 200;

function parseSeries(text) {
  return text.split(",").filter(Boolean).map((item) => {
    const at = item.lastIndexOf(":");
    return { topic: item.slice(0, at), field: item.slice(at + 1) };
  });
}

function parseRanges(text) {
  return (text || "").split(",").filter(Boolean).map((r) => r.split("-").map((v) => BigInt(v)));
}

class SequenceView {
  constructor(root, seq, params) {
    Object.assign(this, { root, seq, name: seq.name });
    this.timeline = new Timeline(seq.start_ns, seq.end_ns);
    this.highlights = parseRanges(params.get("hl")).map(([a, b]) => [this.timeline.toSec(a), this.timeline.toSec(b)]);
    this.plots = [];
    this.side = [];
    this.bands = [];
    this.topics = new Map(seq.topics.map((t) => [t.name, t]));
  }

  build(params) {
    const { seq } = this;
    const cursor = el("span", { class: "cursor-time", id: "cursor-time" });
    this.timeline.onCursor((sec) => {
      cursor.textContent = `cursor ${seconds(sec)} · ${utc(this.timeline.toNs(sec))}`;
      cursor.dataset.ns = String(this.timeline.toNs(sec));
    });
    this.root.append(
      el("h1", {}, seq.name),
      el("div", { class: "muted" }, `${utc(seq.start_ns)} → ${utc(seq.end_ns)} UTC · ${span(seq.start_ns, seq.end_ns)} · ${bytes(seq.size_bytes)} · ${seq.rows.toLocaleString("en")} rows`),
      el("div", { class: "meta", title: JSON.stringify(seq.metadata, null, 1) }, compactJson(seq.metadata)),
      this.sessionsTable(),
      el("h2", {}, "Topics"), this.topicsTable(),
      el("div", { class: "toolbar" },
        el("button", { id: "reset-zoom", onclick: () => this.timeline.reset() }, "Reset zoom"),
        el("span", { class: "muted" }, "drag on a plot to zoom; click the timeline to move there"), cursor),
      this.overview());
    this.plotHost = el("div", { id: "plots" });
    this.sideHost = el("div", { class: "side", id: "side" });
    this.root.append(el("div", { class: "layout" }, this.plotHost, this.sideHost));
    this.timeline.onView(() => this.saveHash());
    return this.restore(params);
  }

  // The whole sequence as one bar: the visible range as a box, the query's ranges, the
  // cursor; a click moves the visible range there.
  overview() {
    const { timeline } = this;
    const pct = (sec) => (100 * (sec - timeline.full[0])) / (timeline.full[1] - timeline.full[0]);
    const bar = el("div", { class: "timeline overview", id: "overview", title: "the whole sequence" },
      this.highlights.map(([a, b]) => el("div", { class: "hit-range", style: `left:${pct(a)}%;width:${Math.max(0.2, pct(b) - pct(a))}%` })));
    const box = el("div", { class: "view-box" });
    const line = el("div", { class: "cursor-line", hidden: true });
    bar.append(box, line);
    const place = () => {
      const [a, b] = timeline.view;
      box.style.left = `${pct(a)}%`;
      box.style.width = `${Math.max(0.2, pct(b) - pct(a))}%`;
    };
    timeline.onView(place);
    place();
    timeline.onCursor((sec) => { line.hidden = false; line.style.left = `${pct(sec)}%`; });
    bar.addEventListener("click", (event) => {
      const r = bar.getBoundingClientRect();
      timeline.panTo(timeline.full[0] + ((event.clientX - r.left) / r.width) * (timeline.full[1] - timeline.full[0]));
    });
    return bar;
  }

  sessionsTable() {
    const rows = this.seq.sessions.map((s) => el("tr", {},
      el("td", {}, s.locator), el("td", {}, utc(s.created_ns * 1).slice(0, 19)),
      el("td", {}, s.locked ? "complete" : "open"), el("td", {}, s.topics.join(", "))));
    return el("details", {}, el("summary", {}, `${this.seq.sessions.length} session(s)`),
      el("table", {}, el("tr", {}, ["Session", "Created (UTC)", "State", "Topics"].map((h) => el("th", {}, h))), rows));
  }

  topicRow(t) {
    // Measurements first: float fields, then the rest; header stamps and counters, and
    // covariance terms, last.
    const rank = (f) => (/header\.|covariance/.test(f.name) ? 2 : f.type.startsWith("double") || f.type.startsWith("float") ? 0 : 1);
    const ordered = [...t.fields].sort((a, b) => rank(a) - rank(b));
    const fields = el("select", { class: "field-picker", dataset: { topic: t.name } },
      ordered.map((f) => el("option", { value: f.name }, f.unit ? `${f.name} [${f.unit}]` : f.name)));
    const states = el("select", { class: "state-picker" }, t.states.map((s) => el("option", { value: s }, s)));
    const actions = el("td", {});
    if (t.fields.length) {
      actions.append(fields,
        el("button", { class: "plot-new", onclick: () => this.addPlot([{ topic: t.name, field: fields.value }]) }, "plot"),
        el("button", { class: "plot-overlay", onclick: () => this.overlay({ topic: t.name, field: fields.value }) }, "overlay"));
    }
    if (t.kind === "image") actions.append(el("button", { class: "show-image", onclick: () => this.addSide("image", t.name) }, "show frames"));
    if (t.kind === "gps") actions.append(el("button", { class: "show-gps", onclick: () => this.addSide("gps", t.name) }, "show track"));
    if (t.states.length) actions.append(states, el("button", { class: "band-new", onclick: () => this.addBand(t.name, states.value) }, "band"));
    return el("tr", { dataset: { topic: t.name } },
      el("td", {}, t.name), el("td", {}, t.tag),
      el("td", { class: "num" }, t.rate_hz ? t.rate_hz.toFixed(t.rate_hz < 10 ? 2 : 0) : ""),
      el("td", { class: "num" }, t.rows.toLocaleString("en")), el("td", { class: "num" }, bytes(t.size_bytes)),
      el("td", { class: "meta", title: JSON.stringify(t.metadata, null, 1) }, compactJson(t.metadata)), actions);
  }

  topicsTable() {
    const body = el("tbody", {});
    const filter = el("input", { placeholder: "filter topics", id: "topic-filter" });
    const info = el("span", { class: "muted" });
    const show = () => {
      const text = filter.value.trim();
      const matching = this.seq.topics.filter((t) => !text || t.name.includes(text));
      body.replaceChildren(...matching.slice(0, MAX_TOPIC_ROWS).map((t) => this.topicRow(t)));
      info.textContent = matching.length > MAX_TOPIC_ROWS
        ? `showing ${MAX_TOPIC_ROWS} of ${matching.length} topics: filter by name to see the others` : "";
    };
    filter.addEventListener("input", show);
    show();
    const head = el("tr", {}, ["Topic", "Tag", "Rate (Hz)", "Rows", "Size", "Metadata", ""].map((h) => el("th", {}, h)));
    return el("div", {}, this.seq.topics.length > 10 ? el("div", { class: "toolbar" }, filter, info) : info,
      el("table", { class: "topics", id: "topics" }, el("thead", {}, head), body));
  }

  check(topic, field, kind) {
    const t = this.topics.get(topic);
    if (!t) throw new Error(`sequence ${this.name} has no topic ${topic}`);
    if (kind === "field" && !t.fields.some((f) => f.name === field)) {
      throw new Error(`topic ${topic} has no numeric field ${field}`);
    }
    if (kind === "state" && !t.states.includes(field)) throw new Error(`topic ${topic} has no text or bool field ${field}`);
    if ((kind === "image" || kind === "gps") && t.kind !== kind) throw new Error(`topic ${topic} is of type ${t.tag}, not ${kind === "gps" ? "GPS" : "an image type"}`);
  }

  remover(list) {
    return (panel) => { panel.destroy(); list.splice(list.indexOf(panel), 1); this.saveHash(); };
  }

  addPlot(series, load = true) {
    series.forEach((s) => this.check(s.topic, s.field, "field"));
    const panel = new PlotPanel(this.plotHost, this.timeline, this.name, series,
      { highlights: this.highlights, onRemove: this.remover(this.plots) });
    this.plots.push(panel);
    if (load) panel.load();
    this.saveHash();
    return panel;
  }

  overlay(s) {
    const last = this.plots[this.plots.length - 1];
    if (!last) return this.addPlot([s]);
    this.remover(this.plots)(last);
    return this.addPlot([...last.series, s]);
  }

  addBand(topic, field, load = true) {
    this.check(topic, field, "state");
    const band = new StateBand(this.plotHost, this.timeline, this.name, topic, field, this.remover(this.bands));
    this.bands.push(band);
    if (load) band.load().catch(showError);
    this.saveHash();
    return band;
  }

  addSide(kind, topic, load = true) {
    this.check(topic, null, kind);
    const Panel = kind === "image" ? ImagePanel : GpsPanel;
    const panel = new Panel(this.sideHost, this.timeline, this.name, topic, this.remover(this.side));
    panel.kind = kind;
    this.side.push(panel);
    if (load) panel.load().catch(showError);
    this.saveHash();
    return panel;
  }

  restore(params) {
    this.restoring = true;
    const start = params.get("start"), end = params.get("end");
    try {
      if (start && end) this.timeline.setView(this.timeline.toSec(BigInt(start)), this.timeline.toSec(BigInt(end)));
    } catch (err) {
      showError(new Error(`start and end must be integer nanoseconds, got ${start} and ${end}`));
    }
    const made = [];
    const attempt = (fn) => { try { made.push(fn()); } catch (err) { showError(err); } };
    for (const group of (params.get("plot") || "").split("|").filter(Boolean)) attempt(() => this.addPlot(parseSeries(group), false));
    for (const item of params.getAll("state")) attempt(() => { const [s] = parseSeries(item); return this.addBand(s.topic, s.field, false); });
    for (const topic of params.getAll("image")) attempt(() => this.addSide("image", topic, false));
    for (const topic of params.getAll("gps")) attempt(() => this.addSide("gps", topic, false));
    this.restoring = false;
    this.saveHash();
    return loadAll(made);
  }

  saveHash() {
    if (this.restoring) return;
    const p = new URLSearchParams();
    const plots = this.plots.map((panel) => panel.series.map((s) => `${s.topic}:${s.field}`).join(","));
    if (plots.length) p.set("plot", plots.join("|"));
    for (const b of this.bands) p.append("state", `${b.topic}:${b.field}`);
    for (const s of this.side) p.append(s.kind, s.topic);
    const [a, b] = this.timeline.view;
    if (a !== this.timeline.full[0] || b !== this.timeline.full[1]) {
      p.set("start", String(this.timeline.toNs(a)));
      p.set("end", String(this.timeline.toNs(b)));
    }
    const hl = new URLSearchParams(location.hash.split("?")[1] || "").get("hl");
    if (hl) p.set("hl", hl);
    history.replaceState(null, "", `#/sequence/${encodeURIComponent(this.name)}?${p}`);
  }
}

export async function sequencePage(root, name, params) {
  const seq = await json(`/api/sequences/${encodeURIComponent(name)}`);
  if (seq.start_ns === null) {
    root.append(el("h1", {}, seq.name), el("p", { class: "muted" }, "This sequence has no data yet."));
    return;
  }
  const view = new SequenceView(root, seq, params);
  window.mosaicoViewer.sequence = view;
  await view.build(params);
}
