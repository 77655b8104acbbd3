"""The temporal filters' requests and reply pages (spec §9), as typed values.

``topic_filter_clusterize`` turns one topic's ontology conditions into time clusters;
``topic_filter_intersect`` intersects the clusters of several topics. Both reply with one
envelope per cluster (a ``TimeCluster``). Requests are built with ``checked`` (the client)
or ``from_json`` (the server), which apply the same rules.

>>> from mosaico.protocol import ClusterizeRequest, TopicLocator
>>> ClusterizeRequest.checked(TopicLocator("run-001", "imu"), 6_000_000).to_json()
{'locator': 'run-001/imu', 'clustering_dt_ns': 6000000, 'ontology': {}, 'timestamp_range': None}
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.action_names import ActionName
from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import TopicLocator
from mosaico.protocol.query import OntologyEntry, OntologySection

_CLUSTERIZE = ActionName.TOPIC_FILTER_CLUSTERIZE.value
_INTERSECT = ActionName.TOPIC_FILTER_INTERSECT.value
_EVERY_ROW = OntologySection()  # no ontology entry: every row matches
_UNBOUNDED = TimeWindow()


def _non_negative(value: int, key: str, what: str) -> int:
    if value < 0:
        raise InvalidArgument(f"{what}: {key!r} must be >= 0, got {value}")
    return value


@attrs.frozen
class ClusterizeRequest:
    """One topic, the gap that splits clusters (0: one cluster), its ontology entries and an
    optional window (unbounded: none; otherwise both bounds).

    Attributes:
        topic: the topic's locator, as the query reply gave it.
        clustering_dt_ns: the largest gap (ns) between two rows of one cluster; 0 gives one
            cluster from the first to the last matching row.
        ontology: the conditions every selected row meets, all of the topic's tag; empty:
            every row matches.
        window: rows kept, half-open ``[start_ns, end_ns)``; unbounded keeps all.
    """

    action: ClassVar[ActionName] = ActionName.TOPIC_FILTER_CLUSTERIZE
    topic: TopicLocator
    clustering_dt_ns: int = 0
    ontology: OntologySection = _EVERY_ROW
    window: TimeWindow = _UNBOUNDED

    @classmethod
    def checked(
        cls, topic: TopicLocator, clustering_dt_ns: int = 0,
        ontology: OntologySection = _EVERY_ROW, window: TimeWindow = _UNBOUNDED,
        what: str = _CLUSTERIZE,
    ) -> ClusterizeRequest:  # fmt: skip
        """Reject a negative gap and a window with one bound only or no room.

        Raises:
            InvalidArgument: ``clustering_dt_ns < 0``, a window with one bound, or one with
                ``start_ns >= end_ns``; ``what`` starts the message.
        """
        where = f"{what}: timestamp_range"
        if window.bounded and (window.start_ns is None or window.end_ns is None):
            raise InvalidArgument(f"{where}: give both start_ns and end_ns, or no window")
        window = TimeWindow.checked(window.start_ns, window.end_ns, where)
        dt = _non_negative(clustering_dt_ns, "clustering_dt_ns", what)
        return cls(topic, dt, ontology, window)

    @classmethod
    def from_json(cls, obj: Any, what: str = _CLUSTERIZE) -> ClusterizeRequest:
        """Validate a decoded body (or one ``topics[]`` element of an intersect).

        Absent or null ``clustering_dt_ns``, ``ontology`` and ``timestamp_range`` read as 0,
        ``{}`` and no window.

        Raises:
            InvalidArgument: as ``checked``, and for a missing or malformed ``locator``, an
                invalid ontology entry or a range without both integer bounds.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what}: must be a JSON object, got {obj!r}")
        topic = TopicLocator.parse(jb.req_str(obj, "locator", what))
        dt = jb.opt_int(obj, "clustering_dt_ns", what) or 0
        ontology = OntologySection.from_json(jb.opt_object(obj, "ontology", what) or {})
        bounds = jb.opt_object(obj, "timestamp_range", what)
        where = f"{what}: timestamp_range"
        window = TimeWindow() if bounds is None else TimeWindow.from_json(bounds, where, True)
        return cls.checked(topic, dt, ontology, window, what)

    def entries_for(self, tag: str) -> tuple[OntologyEntry, ...]:
        """The entries for a topic of ``tag``; entries of another tag are rejected.

        Raises:
            InvalidArgument: an entry's tag is not ``tag`` (§9.1: the server checks it
                against the topic's stored tag).
        """
        for entry in self.ontology.entries:
            if entry.tag != tag:
                raise InvalidArgument(
                    f"{entry.key}: topic {str(self.topic)!r} has ontology tag {tag!r}, "
                    f"not {entry.tag!r}"
                )
        return self.ontology.entries

    def to_json(self, with_range: bool = True) -> dict[str, Any]:
        """Every key (§9.1); inside an intersect the range is left out unless there is one."""
        out: dict[str, Any] = {
            "locator": str(self.topic),
            "clustering_dt_ns": self.clustering_dt_ns,
            "ontology": self.ontology.to_json(),
        }
        if with_range or self.window.bounded:
            out["timestamp_range"] = self.window.to_json() if self.window.bounded else None
        return out


@attrs.frozen
class IntersectRequest:
    """Windows where the conditions of all ``topics`` hold within ``intersect_dt_ns``.

    Attributes:
        topics: one clusterize request per topic (topics may repeat or belong to different
            sequences, §9.2).
        intersect_dt_ns: how far apart (ns) two topics' clusters may be and still intersect;
            each window found is widened by ``intersect_dt_ns // 2`` on both sides.
    """

    action: ClassVar[ActionName] = ActionName.TOPIC_FILTER_INTERSECT
    topics: tuple[ClusterizeRequest, ...]
    intersect_dt_ns: int = 0

    @classmethod
    def checked(cls, topics: tuple[ClusterizeRequest, ...], intersect_dt_ns: int = 0,
                what: str = _INTERSECT) -> IntersectRequest:  # fmt: skip
        """Reject an empty topic list and a negative tolerance.

        Raises:
            InvalidArgument: ``topics`` is empty or ``intersect_dt_ns < 0``.
        """
        if not topics:
            raise InvalidArgument(
                f"{what}: 'topics' must be a non-empty array (intersect needs at least one topic)"
            )
        return cls(topics, _non_negative(intersect_dt_ns, "intersect_dt_ns", what))

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IntersectRequest:
        """Validate a decoded body; each ``topics[]`` element is read as a clusterize body.

        Raises:
            InvalidArgument: as ``checked``, and for a malformed ``topics`` element; the
                message names it (``topic_filter_intersect: topics[1]``).
        """
        what = _INTERSECT
        topics = jb.opt_list(obj, "topics", what)
        parsed = tuple(
            ClusterizeRequest.from_json(t, f"{what}: topics[{i}]") for i, t in enumerate(topics)
        )
        return cls.checked(parsed, jb.opt_int(obj, "intersect_dt_ns", what) or 0)

    def to_json(self) -> dict[str, Any]:
        """The body ``{"topics", "intersect_dt_ns"}``; topics carry a range only if bounded."""
        return {
            "topics": [t.to_json(with_range=False) for t in self.topics],
            "intersect_dt_ns": self.intersect_dt_ns,
        }


@attrs.frozen
class TimeCluster:
    """One reply page of a temporal filter: both bounds are row timestamps, inclusive.

    ``id`` numbers the pages 0, 1, 2, ... in time order.
    """

    id: int
    start_ns: int
    end_ns: int

    @classmethod
    def from_json(cls, page: Any, action: str = _CLUSTERIZE) -> TimeCluster:
        """Read one page payload ``{"id", "ts": {"start_ns", "end_ns"}}`` of ``action``.

        Raises:
            InvalidArgument: a page of another shape, or a value that is not an int64.
        """
        what = f"{action} page"
        if not isinstance(page, dict) or not isinstance(page.get("ts"), dict):
            raise InvalidArgument(f"{what} must be {{'id', 'ts': {{...}}}}, got {page!r}")
        ts = page["ts"]
        return cls(
            jb.req_int(page, "id", what), jb.req_int(ts, "start_ns", what),
            jb.req_int(ts, "end_ns", what),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The page payload ``{"id", "ts": {"start_ns", "end_ns"}}``."""
        return {"id": self.id, "ts": {"start_ns": self.start_ns, "end_ns": self.end_ns}}
