"""Topic selection by glob patterns; a leading '!' excludes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from mosaico.bridges.ros.errors import RosBridgeError


class TopicFilter:
    """Keeps a topic when it matches an include pattern (or there are none) and no exclude.

    Patterns are shell globs on the ROS topic name (`/camera/*`, `*imu*`); `!pattern` excludes.
    Every pattern must match at least one of the recording's topics, so that a typo is an
    error instead of a silently empty selection; an empty pattern raises `RosBridgeError`.

    >>> TopicFilter(["/camera/*", "!*compressed*"]).select(
    ...     ["/camera/image", "/camera/image/compressed", "/imu"]
    ... )
    ['/camera/image']
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.includes = [p for p in patterns if not p.startswith("!")]
        self.excludes = [p[1:] for p in patterns if p.startswith("!")]
        if any(not p for p in (*self.includes, *self.excludes)):
            raise RosBridgeError("empty topic pattern")

    def keeps(self, *names: str) -> bool:
        """Whether a topic known by `names` (e.g. its mosaico and its ROS name) is kept."""
        if self.includes and not any(fnmatchcase(n, p) for n in names for p in self.includes):
            return False
        return not any(fnmatchcase(n, p) for n in names for p in self.excludes)

    def select(
        self, topics: Iterable[str], aliases: Mapping[str, Sequence[str]] | None = None
    ) -> list[str]:
        """The kept topics, in the given order; fails if a pattern matches no topic at all.

        `aliases`: other names a topic answers to (a stored topic's ROS name).
        """
        known = {t: (t, *(aliases or {}).get(t, ())) for t in topics}
        every = [n for names in known.values() for n in names]
        for pattern in (*self.includes, *self.excludes):
            if not any(fnmatchcase(n, pattern) for n in every):
                raise RosBridgeError(
                    f"topic pattern {pattern!r} matches no topic of the recording "
                    f"(topics: {', '.join(sorted(set(every))) or 'none'})"
                )
        return [t for t, names in known.items() if self.keeps(*names)]
