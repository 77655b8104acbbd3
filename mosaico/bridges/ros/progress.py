"""Terminal progress line for ingest: messages, MB/s, ETA; silent when not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one status line at most every `interval` seconds.

    Drawn on `stream` (stderr by default) only when `enabled` and the stream is a terminal;
    the counts are kept either way. `ingest` makes one for `progress=True`, or takes one.
    """

    def __init__(
        self,
        total_messages: int,
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
        rate = self.messages / elapsed
        left = max(self.total - self.messages, 0)
        eta = f"{left / rate:4.0f}s" if rate > 0 else "   ?"
        share = self.messages / self.total if self.total else 1.0
        bar = "#" * int(share * 20)
        self.stream.write(
            f"\r[{bar:<20}] {self.messages:,}/{self.total:,} msgs "
            f"{self.nbytes / elapsed / 1e6:7.1f} MB/s  ETA {eta}"
        )
        self.stream.flush()

    def close(self) -> None:
        """Draw the final counts and end the line (nothing when not drawn at all)."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
