"""Terminal progress line for ingest and export: messages, MB/s, ETA; silent when not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one status line at most every `interval` seconds.

    Drawn on `stream` (stderr by default) only when `enabled` and the stream is a terminal;
    the counts are kept either way. `ingest` and `export` make one for `progress=True`, or
    take one. With `total_messages` None (unknown) the line has no bar and no ETA.
    `label` is drawn first (e.g. how many recordings are done, `many.ManyProgress`).
    """

    def __init__(
        self,
        total_messages: int | None,
        stream: TextIO | None = None,
        interval: float = 0.2,
        enabled: bool = True,
    ) -> None:
        self.total = total_messages
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.interval = interval
        self.messages = 0
        self.nbytes = 0
        self.label = ""
        self._start = time.monotonic()
        self._drawn = 0.0

    def update(self, messages: int, nbytes: int) -> None:
        """Add `messages` read and their `nbytes` of raw ROS data; redraw when due."""
        self.messages += messages
        self.nbytes += nbytes
        now = time.monotonic()
        if self.enabled and now - self._drawn >= self.interval:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        speed = f"{self.nbytes / elapsed / 1e6:7.1f} MB/s"
        if self.total is None:
            line = f"{self.messages:,} msgs {speed}"
        else:
            rate = self.messages / elapsed
            left = max(self.total - self.messages, 0)
            eta = f"{left / rate:4.0f}s" if rate > 0 else "   ?"
            share = min(self.messages / self.total, 1.0) if self.total else 1.0
            bar = "#" * int(share * 20)
            line = f"[{bar:<20}] {self.messages:,}/{self.total:,} msgs {speed}  ETA {eta}"
        # ESC[K clears what a longer earlier line left to the right.
        self.stream.write("\r" + self.label + line + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final counts and end the line (nothing when not drawn at all)."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
