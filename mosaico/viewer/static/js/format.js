// Formatting of sizes, times and durations, and small DOM helpers shared by the pages.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function utc(ns) {
  if (ns === null || ns === undefined) return "";
  return new Date(Number(ns) / 1e6).toISOString().replace("T", " ").replace("Z", "");
}

export function seconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "";
  if (s < 120) return `${s.toFixed(s < 10 ? 3 : 1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function span(startNs, endNs) {
  if (startNs === null || endNs === null || startNs === undefined) return "";
  return seconds((endNs - startNs) / 1e9);
}

export function compactJson(value) {
  const text = JSON.stringify(value);
  return text === "{}" ? "" : text;
}

// A colour per text, stable across pages (state bands, series).
export function colour(text, saturation = 60, light = 60) {
  let h = 0;
  for (const c of String(text)) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} ${saturation}% ${light}%)`;
}

// The last index i with sorted[i] <= x (BigInt64Array or array of BigInt), -1 if none.
export function lastAtOrBefore(sorted, x) {
  let lo = 0, hi = sorted.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}
