"""The base class of every generated type: what all ontology types do the same way.

Values are checked once on each way in: objects at construction (the generated
``validate()``), columns when Arrow data is decoded or pushed (``checks``). Objects already
checked at construction are converted to Arrow without checking their values again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import pyarrow as pa

from mosaico.ontology import checks, columnar, query, validity
from mosaico.ontology.constraints import Constraints, Rule
from mosaico.protocol.topic_type import TopicType

T = TypeVar("T", bound="OntologyType")


class OntologyType:
    """Class constants come from the YAML; conversions are column-wise (see `columnar`).

    Generated classes are attrs classes over this base: the constructor checks the values
    (while validation is on), ``to_batch``/``from_batch`` convert whole topic batches,
    ``topic_type`` is what a topic of this type stores, and ``Q`` builds query expressions.

    >>> v = Vector3d(x=0.0, y=0.0, z=9.81)
    >>> batch = Vector3d.to_batch([v], [1_700_000_000_000_000_000])
    >>> Vector3d.from_batch(batch) == [v]
    True
    """

    __slots__ = ()

    TAG: ClassVar[str]
    SERIALIZATION_FORMAT: ClassVar[str]
    ARROW_TYPE: ClassVar[pa.StructType]
    ARROW_SCHEMA: ClassVar[pa.Schema]
    FINGERPRINT: ClassVar[str]
    NESTED: ClassVar[dict[str, type]]
    CONSTRAINTS: ClassVar[dict[str, Constraints]]
    """Field -> its value rules (YAML ``min``, ``max``, ``allowed``, lengths, ...)."""
    RULES: ClassVar[tuple[Rule, ...]]
    """The cross-field rules of the type (YAML ``rules:``)."""
    ENUMS: ClassVar[dict[str, type]] = {}
    """Field -> the generated Enum class of its values (lists of them included)."""
    SLERP_FIELDS: ClassVar[tuple[str, ...]] = ()
    """The (x, y, z, w) fields that interpolate as a unit quaternion (YAML ``slerp:``)."""
    Q: ClassVar[query.QueryProxy] = query.QueryProxy()
    """Query expressions over this type's fields, e.g. `IMU.Q.acceleration.x.gt(4.0)`."""

    def __attrs_post_init__(self) -> None:
        if validity.VALIDATE:
            self.validate()

    def validate(self) -> None:
        """Check every field against the YAML constraints; raises ValidationError.

        Called by the constructor while validation is on; call it after changing a field.
        """

    @classmethod
    def _from_columns(cls: type[T], c: list[list[Any]]) -> list[T]:
        raise NotImplementedError  # generated for every type

    @classmethod
    def to_arrow(cls: type[T], objs: Sequence[T | None]) -> pa.Array:
        """A struct array of this type's layout (None marks a null row).

        Raises:
            ValidationError: an object of another type, or a value Arrow cannot hold.
        """
        return columnar.struct_array(cls, objs)

    @classmethod
    def from_arrow(cls: type[T], arr: pa.Array) -> list[T | None]:
        """Objects from a struct array of this type's layout (None for null rows).

        Raises:
            ValidationError: (while validation is on) a value breaks the constraints.
        """
        if validity.VALIDATE:
            checks.validate_struct(cls, arr)
        return columnar.from_struct_array(cls, arr)

    @classmethod
    def to_batch(cls: type[T], objs: Sequence[T], timestamps_ns: Any) -> pa.RecordBatch:
        """A topic record batch: `timestamp_ns` then this type's fields.

        The objects were checked when they were built; a value Arrow cannot hold at the
        declared type (an out-of-range integer set while validation was off) still raises
        ValidationError.
        """
        return columnar.record_batch(cls, objs, timestamps_ns)

    @classmethod
    def from_batch(cls: type[T], batch: pa.RecordBatch) -> list[T]:
        """Objects from a topic record batch (the timestamp column is left aside).

        The batch must have this type's layout (the client checks it by schema fingerprint).

        Raises:
            ValidationError: (while validation is on) a value breaks the constraints.
        """
        columns = columnar.split_batch(batch)[1]
        if validity.VALIDATE:
            checks.validate_columns(cls, columns)
        return columnar.from_columns(cls, columns)

    @classmethod
    def topic_type(cls) -> TopicType:
        """This type as a topic type (tag, schema, format, this class as codec): what
        `SequenceWriter.topic_create` stores."""
        return TopicType(cls.TAG, cls.ARROW_SCHEMA, cls.SERIALIZATION_FORMAT, cls)

    @classmethod
    def validate_batch(cls, batch: pa.RecordBatch) -> None:
        """Check a topic record batch against the YAML constraints, column-wise.

        Runs whatever the validation switch says (``push_batch`` consults the switch).

        Raises:
            ValidationError: the first value found breaking a constraint.
        """
        checks.validate_columns(cls, columnar.split_batch(batch)[1])
