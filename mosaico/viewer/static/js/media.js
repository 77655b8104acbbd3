// Panels beside the plots that follow the cursor: a camera's frame, a GPS track with the
// cursor's position, and state bands (runs of a string, enum or bool field).
import { arrow, frameUrl } from "./api.js";
import { showError } from "./errors.js";
import { colour, el, lastAtOrBefore } from "./format.js";
import { track } from "./timeline.js";

function titled(title, onRemove, ...body) {
  return el("div", { class: "panel" },
    el("div", { class: "panel-title" }, el("span", {}, title),
      el("button", { title: "remove", onclick: onRemove }, "✕")),
    ...body);
}

export class ImagePanel {
  constructor(host, timeline, sequence, topic, onRemove) {
    Object.assign(this, { timeline, sequence, topic, times: null, index: -1 });
    this.img = el("img", { alt: `${topic} frame`, dataset: { topic } });
    this.label = el("span", { class: "muted cursor-time" });
    const step = (d) => this.step(d);
    this.node = titled(`${topic} (camera)`, () => onRemove(this),
      el("div", { class: "toolbar" },
        el("button", { class: "prev-frame", onclick: () => step(-1) }, "◀ frame"),
        el("button", { class: "next-frame", onclick: () => step(1) }, "frame ▶"), this.label),
      this.img);
    this.node.classList.add("image-panel");
    host.append(this.node);
    this.follow = (sec) => this.showAt(this.timeline.toNs(sec));
    timeline.onCursor(this.follow);
  }

  async load() {
    const { table } = await track(arrow("/api/frames", { sequence: this.sequence, topic: this.topic }));
    this.times = table.getChild("timestamp_ns").toArray();
    this.node.dataset.frames = String(this.times.length);
    this.show(this.times.length ? 0 : -1);
  }

  showAt(ns) {
    if (!this.times || this.dead) return;
    this.show(Math.max(0, lastAtOrBefore(this.times, ns)));
  }

  show(index) {
    if (index < 0 || index >= this.times.length || index === this.index) return;
    this.index = index;
    const t = this.times[index];
    this.img.dataset.ts = String(t);
    this.img.dataset.index = String(index);
    this.label.textContent = `frame ${index + 1} / ${this.times.length}`;
    this.img.onerror = () => showError(new Error(`frame ${index + 1} of ${this.topic} does not load`));
    this.img.src = frameUrl(this.sequence, this.topic, t);
  }

  // One frame back or forward; the cursor moves to it.
  step(delta) {
    if (!this.times) return;
    const index = Math.min(this.times.length - 1, Math.max(0, this.index + delta));
    this.show(index);
    this.timeline.setCursor(this.timeline.toSec(this.times[index]), this.follow);
  }

  destroy() { this.dead = true; this.node.remove(); }
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export class GpsPanel {
  constructor(host, timeline, sequence, topic, onRemove) {
    Object.assign(this, { timeline, sequence, topic });
    this.svg = svg("svg", { viewBox: "0 0 400 260", preserveAspectRatio: "xMidYMid meet" });
    this.node = titled(`${topic} (GPS track)`, () => onRemove(this), this.svg);
    this.node.classList.add("gps");
    this.position = el("div", { class: "muted cursor-time" });
    this.node.append(this.position);
    host.append(this.node);
    this.follow = (sec) => this.mark(this.timeline.toNs(sec));
    timeline.onCursor(this.follow);
  }

  async load() {
    const { table } = await track(arrow("/api/track", { sequence: this.sequence, topic: this.topic, points: 4000 }));
    this.ts = table.getChild("timestamp_ns").toArray();
    this.lat = table.getChild("latitude").toArray();
    this.lon = table.getChild("longitude").toArray();
    this.node.dataset.points = String(this.ts.length);
    this.draw();
  }

  // Equirectangular projection around the track's mean latitude, fitted into the box.
  project() {
    const n = this.lat.length;
    let la0 = Infinity, la1 = -Infinity, lo0 = Infinity, lo1 = -Infinity;
    for (let i = 0; i < n; i += 1) {
      la0 = Math.min(la0, this.lat[i]); la1 = Math.max(la1, this.lat[i]);
      lo0 = Math.min(lo0, this.lon[i]); lo1 = Math.max(lo1, this.lon[i]);
    }
    const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
    const w = Math.max((lo1 - lo0) * k, 1e-9), h = Math.max(la1 - la0, 1e-9);
    const scale = Math.min(380 / w, 240 / h);
    return (i) => [10 + ((this.lon[i] - lo0) * k) * scale, 250 - (this.lat[i] - la0) * scale];
  }

  draw() {
    this.svg.replaceChildren();
    if (!this.ts.length) {
      this.position.textContent = "no fix";
      return;
    }
    this.xy = this.project();
    const points = [];
    for (let i = 0; i < this.ts.length; i += 1) points.push(this.xy(i).map((v) => v.toFixed(1)).join(","));
    this.svg.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#2563eb", "stroke-width": 2 }));
    this.marker = svg("circle", { r: 6, fill: "#dc2626", stroke: "#fff", "stroke-width": 2, class: "gps-marker" });
    this.svg.append(this.marker);
    this.mark(this.ts[0]);
  }

  mark(ns) {
    if (!this.marker || this.dead) return;
    const i = Math.max(0, lastAtOrBefore(this.ts, ns));
    const [x, y] = this.xy(i);
    this.marker.setAttribute("cx", x.toFixed(1));
    this.marker.setAttribute("cy", y.toFixed(1));
    Object.assign(this.marker.dataset, { lat: this.lat[i], lon: this.lon[i], ts: String(this.ts[i]) });
    this.position.textContent = `${this.lat[i].toFixed(6)}°, ${this.lon[i].toFixed(6)}°`;
  }

  destroy() { this.dead = true; this.node.remove(); }
}

export class StateBand {
  constructor(host, timeline, sequence, topic, field, onRemove) {
    Object.assign(this, { timeline, sequence, topic, field });
    this.band = el("div", { class: "band" });
    this.node = titled(`${topic} ${field}`, () => onRemove(this), this.band);
    this.node.classList.add("state-band");
    this.node.dataset.series = `${topic}:${field}`;
    host.append(this.node);
    timeline.onView(() => this.load());
  }

  async load() {
    if (this.dead) return;
    const [start, end] = this.timeline.viewNs();
    const buckets = Math.max(1, this.band.clientWidth || 800);
    const { table } = await track(arrow("/api/states", { sequence: this.sequence, topic: this.topic, field: this.field, start, end, buckets }));
    const starts = table.getChild("start_ns").toArray(), ends = table.getChild("end_ns").toArray();
    const values = table.getChild("value").toArray();
    const [a, b] = this.timeline.view;
    const at = (ns) => (100 * (this.timeline.toSec(ns) - a)) / (b - a);
    this.band.replaceChildren();
    for (let i = 0; i < starts.length; i += 1) {
      const left = Math.max(0, at(starts[i])), right = Math.min(100, at(ends[i]));
      const value = values[i];
      this.band.append(el("div", {
        class: value === null ? "band-run mixed" : "band-run",
        style: `left:${left}%;width:${Math.max(0.1, right - left)}%;${value === null ? "" : `background:${colour(value, 55, 75)}`}`,
        title: value === null ? "several values" : value,
        dataset: { value: value === null ? "" : value },
      }, value === null ? "" : value));
    }
    this.node.dataset.runs = String(starts.length);
  }

  destroy() { this.dead = true; this.node.remove(); }
}

export function loadAll(panels) {
  return Promise.all(panels.map((p) => p.load().catch(showError)));
}
