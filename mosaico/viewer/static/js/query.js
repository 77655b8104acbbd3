// The query page: a content condition (type, field, operator, value) and metadata
// conditions; the matching sequences and topics, each with the time ranges where the
// condition holds highlighted on its timeline, linked to the sequence page zoomed there.
import { json } from "./api.js";
import { el, seconds, utc } from "./format.js";

const OPERATORS = [">", ">=", "<", "<=", "=", "!=", "between", "outside", "in", "~"];

function condition(form) {
  const tag = form.get("tag").trim(), field = form.get("field").trim(), value = form.get("value").trim();
  if (!tag && !field) return null;
  return `${tag}.${field} ${form.get("op")} ${value}`;
}

function formFor(params) {
  const where = params.get("where") || "";
  const parsed = where.match(/^([^.]+)\.(\S+)\s+(\S+)\s*(.*)$/) || [];
  const input = (name, placeholder, value, size) => el("input", { name, placeholder, value: value || "", size });
  return el("form", { class: "toolbar", id: "query-form" },
    input("tag", "type, e.g. IMU", parsed[1], 10),
    input("field", "field, e.g. acceleration.x", parsed[2], 22),
    el("select", { name: "op" }, OPERATORS.map((op) => el("option", { value: op, selected: parsed[3] === op }, op))),
    input("value", "value, e.g. 4 or 0,1.5", parsed[4], 10),
    input("meta", "metadata, e.g. vehicle.id = alpha; weather = rain", params.get("meta"), 34),
    el("label", {}, "split ranges at gaps of ", input("gap", "ms", params.get("gap") || "100", 5), " ms"),
    el("button", { type: "submit" }, "Search"));
}

function timeline(summary, ranges) {
  const bar = el("div", { class: "timeline" });
  const total = summary.end_ns - summary.start_ns || 1;
  for (const r of ranges) {
    const left = (100 * (r.start_ns - summary.start_ns)) / total;
    const width = (100 * (r.end_ns - r.start_ns)) / total;
    bar.append(el("div", {
      class: "hit-range",
      style: `left:${Math.max(0, left)}%;width:${Math.max(0.2, width)}%`,
      title: `${utc(r.start_ns)} → ${utc(r.end_ns)} (${seconds((r.end_ns - r.start_ns) / 1e9)})`,
      dataset: { start: r.start_ns, end: r.end_ns },
    }));
  }
  return bar;
}

// Sequence summaries (start, end) of the matches, one catalog request per sequence.
async function summaries(names) {
  const glob = (name) => name.replace(/[[\]*?]/g, (c) => `[${c}]`);
  const replies = await Promise.all(names.map((n) => json("/api/sequences", { glob: glob(n), limit: 1 })));
  return new Map(replies.map((r, i) => [names[i], r.items[0]]));
}

function result(match, summary, field) {
  const node = el("div", { class: "panel query-hit", dataset: { sequence: match.sequence } },
    el("h2", {}, el("a", { href: `#/sequence/${encodeURIComponent(match.sequence)}` }, match.sequence)));
  for (const t of match.topics) {
    const ranges = t.ranges || [];
    const hl = ranges.map((r) => `${r.start_ns}-${r.end_ns}`).join(",");
    const plot = field ? `plot=${encodeURIComponent(`${t.topic}:${field}`)}&` : "";
    const link = `#/sequence/${encodeURIComponent(match.sequence)}?${plot}hl=${hl}`;
    node.append(el("div", { class: "query-topic", dataset: { topic: t.topic, ranges: ranges.length } },
      el("a", { href: link }, t.topic), ` ${t.ontology_tag} · ${ranges.length} range(s)`,
      summary ? timeline(summary, ranges) : null));
  }
  return node;
}

export async function queryPage(root, params) {
  const form = formFor(params);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const p = new URLSearchParams();
    const where = condition(data);
    if (where) p.set("where", where);
    if (data.get("meta").trim()) p.set("meta", data.get("meta").trim());
    p.set("gap", data.get("gap") || "100");
    location.hash = `#/query?${p}`;
  });
  root.append(el("h1", {}, "Query"), form);
  const where = params.get("where"), meta = params.get("meta");
  if (!where && !meta) {
    root.append(el("p", { class: "muted" }, "Give a condition on a type's field, metadata conditions, or both."));
    return;
  }
  const gapMs = Number(params.get("gap") || 100);
  const reply = await json("/api/query", {
    where, meta: (meta || "").split(";").map((m) => m.trim()).filter(Boolean),
    ranges_ns: where ? Math.round(gapMs * 1e6) : undefined,
  });
  const list = el("div", { id: "results" });
  root.append(el("p", { id: "result-count" }, `${reply.matches.length} matching sequence(s)`), list);
  const known = await summaries(reply.matches.map((m) => m.sequence));
  const field = where ? where.match(/^[^.]+\.(\S+)/)[1] : null;
  for (const match of reply.matches) list.append(result(match, known.get(match.sequence), field));
}
