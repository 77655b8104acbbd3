"""Client-side queries: builders of the `query` request (spec §8.9), the response with
chaining (§8.8), and the temporal filters' requests and replies (§9). No network code: the
client sends the protocol requests built here (``mosaico.protocol.QueryRequest``,
``ClusterizeRequest``, ``IntersectRequest``) and parses the payloads it gets back.

>>> from mosaico import IMU, MosaicoClient
>>> from mosaico.query import QueryOntologyCatalog, QuerySequence
>>> with MosaicoClient.connect("localhost") as client:  # doctest: +SKIP
...     hits = client.query(
...         QuerySequence().with_user_metadata("vehicle.id", eq="alpha"),
...         QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)),
...     )
...     bursts = client.clusterize(hits.items[0].topics[0], clustering_dt_ns=100_000_000)

``hits`` lists the matching sequences and topics; ``bursts`` the time ranges (inclusive
``TimeCluster`` bounds, in ns) where the topic's rows meet the query's IMU condition.

Topics without a generated type (generic ROS messages, hand-built ``TopicType``s) take
conditions from ``Q``: ``QueryOntologyCatalog(Q("my_msgs/msg/Pose").pose.position.x.gt(4.0))``.
"""

from mosaico.query import calls
from mosaico.query.builders import (
    Query,
    QueryBuildError,
    QueryOntologyCatalog,
    QuerySequence,
    QueryTopic,
)
from mosaico.query.paths import Q
from mosaico.query.response import (
    QueryResponse,
    QueryResponseItem,
    QueryResponseItemTopic,
    ResponseError,
    TimeCluster,
    Window,
    clusterize_request,
    intersect_request,
    parse_clusters,
)

__all__ = [
    "Q",
    "Query",
    "QueryBuildError",
    "QueryOntologyCatalog",
    "QueryResponse",
    "QueryResponseItem",
    "QueryResponseItemTopic",
    "QuerySequence",
    "QueryTopic",
    "ResponseError",
    "TimeCluster",
    "Window",
    "calls",
    "clusterize_request",
    "intersect_request",
    "parse_clusters",
]
