"""Topic selection by glob patterns; a leading '!' excludes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from mosaico.bridges.ros.errors import RosBridgeError


class TopicFilter:
    """Keeps a topic when it matches an include pattern (or there are none) and no exclude.

    Patterns are shell globs on the ROS topic name (`/camera/*`, `*imu*`); `!pattern` excludes.
    Every pattern must match at least one of the recording's topics, so that a typo is an
    error instead of a silently empty selection.
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.includes = [p for p in patterns if not p.startswith("!")]
        self.excludes = [p[1:] for p in patterns if p.startswith("!")]
        if any(not p for p in (*self.includes, *self.excludes)):
            raise RosBridgeError("empty topic pattern")

    def keeps(self, topic: str) -> bool:
        if self.includes and not any(fnmatchcase(topic, p) for p in self.includes):
            return False
        return not any(fnmatchcase(topic, p) for p in self.excludes)

    def select(self, topics: Iterable[str]) -> list[str]:
        """The kept topics, in the given order; fails if a pattern matches no topic at all."""
        names = list(topics)
        for pattern in (*self.includes, *self.excludes):
            if not any(fnmatchcase(t, pattern) for t in names):
                raise RosBridgeError(
                    f"topic pattern {pattern!r} matches no topic of the recording "
                    f"(topics: {', '.join(sorted(names)) or 'none'})"
                )
        return [t for t in names if self.keeps(t)]
