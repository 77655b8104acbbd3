// The sequence page's shared time: the visible range (zoom) and the cursor, in seconds from
// the sequence's first record; panels listen and follow. Exact times are BigInt ns.

export class Timeline {
  constructor(startNs, endNs) {
    this.t0 = BigInt(startNs);
    this.full = [0, Number(BigInt(endNs) - this.t0) / 1e9];
    this.view = [...this.full];
    this.cursor = null;
    this.viewListeners = [];
    this.cursorListeners = [];
  }

  toSec(ns) { return Number(BigInt(ns) - this.t0) / 1e9; }

  toNs(sec) { return this.t0 + BigInt(Math.round(sec * 1e9)); }

  // The visible range as ns bounds for a request: [start, end).
  viewNs() { return [this.toNs(this.view[0]), this.toNs(this.view[1]) + 1n]; }

  onView(fn) { this.viewListeners.push(fn); }

  onCursor(fn) { this.cursorListeners.push(fn); }

  setView(a, b) {
    const lo = Math.max(this.full[0], Math.min(a, b));
    const hi = Math.min(this.full[1], Math.max(a, b));
    if (!(hi > lo)) return;
    this.view = [lo, hi];
    for (const fn of this.viewListeners) fn(this.view);
  }

  reset() { this.setView(...this.full); }

  // Move the visible range, keeping its width, to be centred on `sec` (within the sequence).
  panTo(sec) {
    const width = this.view[1] - this.view[0];
    const lo = Math.min(Math.max(this.full[0], sec - width / 2), this.full[1] - width);
    this.setView(lo, lo + width);
  }

  // Move the cursor to `sec`; `origin` (the panel that moved it) is not told again.
  setCursor(sec, origin) {
    this.cursor = sec;
    for (const fn of this.cursorListeners) if (fn !== origin) fn(sec);
  }
}

// Requests in flight, for tests and benches to wait on (window.mosaicoViewer.pending).
export function track(promise) {
  const state = window.mosaicoViewer;
  state.pending = (state.pending || 0) + 1;
  return promise.finally(() => { state.pending -= 1; });
}
