"""``Q(tag)``: query conditions on any topic type, generated or not.

``IMU.Q.acceleration.x.gt(4.0)`` works for generated types. A topic stored under another tag
(a generic ROS message tagged with its ROS type name, a hand-built ``TopicType``) is queried
the same way through ``Q``:

>>> import pyarrow as pa
>>> from mosaico.protocol import TopicType
>>> from mosaico.query import Q, QueryOntologyCatalog
>>> Q("sensor_msgs/msg/FluidPressure").fluid_pressure.gt(101_000.0)
Expression(tag='sensor_msgs/msg/FluidPressure', path='fluid_pressure', op='$gt', operand=101000.0)
>>> ticks = TopicType("WheelTicks", pa.schema([
...     pa.field("timestamp_ns", pa.int64(), nullable=False), pa.field("ticks", pa.int64())]))
>>> QueryOntologyCatalog(Q(ticks).ticks.geq(10)).to_json()
{'WheelTicks.ticks': {'$geq': 10}}

With a schema (a ``TopicType``, or ``schema=``, e.g. a topic handler's ``schema``) a path and
its operators are checked exactly as for a generated type. With a tag alone the layout is
unknown here: any path is accepted, the operand's kind picks the operators (the operator
table's, as for typed leaves), and the server checks the path against the schemas stored
under the tag.
"""

from __future__ import annotations

import pyarrow as pa

from mosaico.ontology import FieldPath, QueryBuildError, registry
from mosaico.protocol import TopicType
from mosaico.protocol.topic_type import TIMESTAMP, TIMESTAMP_FIELD

__all__ = ["Q"]


def _tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag or "." in tag:
        raise QueryBuildError(f"a query tag is a non-empty string without '.', got {tag!r}")
    return tag


def _layout(schema: pa.Schema) -> pa.StructType:
    fields = list(schema)
    if not fields or fields[0].name != TIMESTAMP:
        fields.insert(0, TIMESTAMP_FIELD)
    return pa.struct(fields)


def Q(  # noqa: N802 -- named after the `Type.Q` proxies it stands in for
    topic_type: str | type | TopicType, schema: pa.Schema | None = None
) -> FieldPath:
    """The root of a topic type's fields, to build conditions on: ``Q(tag).a.b.gt(1.0)``.

    Args:
        topic_type: a tag (``"IMU"``, ``"sensor_msgs/msg/FluidPressure"``), a generated
            type, or a ``TopicType``. A registered tag without ``schema`` is its generated
            type.
        schema: the topic's Arrow schema (``timestamp_ns`` first, or the payload fields
            alone), for a tag given as a string.

    Raises:
        QueryBuildError: an empty tag or one with a ``.`` (keys split there), or something
            that is not a tag, a generated type or a ``TopicType``.
    """
    if isinstance(topic_type, TopicType):
        if topic_type.codec is not None and schema is None:
            return topic_type.codec.Q  # type: ignore[attr-defined, no-any-return]
        tag, schema = topic_type.tag, schema or topic_type.schema
    elif isinstance(topic_type, type) and isinstance(getattr(topic_type, "Q", None), FieldPath):
        return topic_type.Q  # type: ignore[attr-defined, no-any-return]
    else:
        tag = _tag(topic_type)
        if schema is None and tag in registry:
            return registry[tag].Q  # type: ignore[attr-defined, no-any-return]
    _tag(tag)
    if schema is None:
        return FieldPath(tag, tag, "", None)
    if not isinstance(schema, pa.Schema):
        raise QueryBuildError(f"Q({tag!r}): schema must be a pyarrow.Schema, got {schema!r}")
    return FieldPath(tag, tag, "", _layout(schema))
