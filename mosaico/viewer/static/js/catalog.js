// The catalog page: every sequence, filtered by name glob and metadata conditions, sorted,
// a page at a time.
import { json } from "./api.js";
import { bytes, compactJson, el, span, utc } from "./format.js";

function notifications(list) {
  if (!list.length) return "";
  return el("span", { class: "badge", title: list.map((n) => n.message).join("\n") },
    `${list.length} ${list.length === 1 ? "error" : "errors"}`);
}

function row(item) {
  return el("tr", { dataset: { sequence: item.name } },
    el("td", {}, el("a", { href: `#/sequence/${encodeURIComponent(item.name)}` }, item.name)),
    el("td", { class: "meta", title: JSON.stringify(item.metadata, null, 1) },
      compactJson(item.metadata)),
    el("td", { class: "num" }, bytes(item.size_bytes)),
    el("td", { class: "num" }, span(item.start_ns, item.end_ns)),
    el("td", { class: "num" }, item.topics),
    el("td", { class: "num" }, item.rows.toLocaleString("en")),
    el("td", {}, utc(item.created_ns * 1).slice(0, 19)),
    el("td", {}, notifications(item.notifications)));
}

function hashFor(params) {
  return `#/?${new URLSearchParams([...params].filter(([, v]) => v !== ""))}`;
}

export async function catalogPage(root, params) {
  const offset = Number(params.get("offset") || 0);
  const PAGE = Number(params.get("limit") || 100);
  const form = el("form", { class: "toolbar", id: "catalog-filter" },
    el("input", { name: "glob", placeholder: "name glob, e.g. drive-*", value: params.get("glob") || "" }),
    el("input", { name: "meta", size: 36, placeholder: "metadata, e.g. vehicle.id = alpha; weather = rain",
      value: params.get("meta") || "" }),
    el("select", { name: "sort" }, ["created", "name", "size"].map((s) =>
      el("option", { value: s, selected: params.get("sort") === s }, `sort by ${s}`))),
    el("select", { name: "order" }, ["asc", "desc"].map((o) =>
      el("option", { value: o, selected: params.get("order") === o }, o))),
    el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = hashFor(new FormData(form));
  });
  root.append(el("h1", {}, "Sequences"), form);
  const reply = await json("/api/sequences", {
    glob: params.get("glob"), sort: params.get("sort"), order: params.get("order"),
    meta: (params.get("meta") || "").split(";").map((m) => m.trim()).filter(Boolean),
    offset, limit: PAGE,
  });
  const pager = el("div", { class: "toolbar", id: "pager" });
  const move = (to) => { const p = new URLSearchParams(params); p.set("offset", to); location.hash = hashFor(p); };
  if (offset > 0) pager.append(el("button", { onclick: () => move(Math.max(0, offset - PAGE)) }, "◀ previous"));
  const last = Math.min(offset + reply.items.length, reply.total);
  pager.append(el("span", { id: "page-info" },
    reply.total ? `${offset + 1}–${last} of ${reply.total.toLocaleString("en")}` : "no sequence matches"));
  if (last < reply.total) pager.append(el("button", { onclick: () => move(offset + PAGE) }, "next ▶"));
  const head = el("tr", {}, ["Name", "Metadata", "Size", "Span", "Topics", "Rows", "Created (UTC)", ""]
    .map((h, i) => el("th", { class: i >= 2 && i <= 5 ? "num" : "" }, h)));
  root.append(pager, el("table", { id: "catalog" }, el("thead", {}, head),
    el("tbody", {}, reply.items.map(row))));
}
