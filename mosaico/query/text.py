"""Query conditions written as text, as ``mosaico query`` takes them: ``'IMU.acceleration.x > 4'``.

A condition is ``LEFT OP VALUE``:

==========================  ===================================================
operator                    value
==========================  ===================================================
``=`` ``==`` ``!=``         one value
``<`` ``<=`` ``>`` ``>=``   one value
``in``                      values separated by commas, or a JSON array
``between`` ``outside``     two values: ``low,high`` (inclusive bounds)
``~`` or ``match``          a glob: ``*``, ``?``, ``[a-z]``, ``#`` (one digit)
``exists`` ``missing``      nothing (user metadata only)
==========================  ===================================================

A value is JSON when it parses as JSON (``4``, ``-1.5e3``, ``true``, ``"42"``), else the text
itself (``alpha``). ``LEFT`` is ``TAG.FIELD.PATH`` for a content condition (any tag: a
generated type's, checked against its fields, or any other, such as a ROS type name) and a
dotted path for user metadata. Every mistake raises ``QueryBuildError`` naming the part.

>>> content_expression("IMU.acceleration.x > 4")
Expression(tag='IMU', path='acceleration.x', op='$gt', operand=4)
>>> content_expression("my_msgs/msg/Pose.pose.covariance[?] between 0,0.5").to_json()
{'my_msgs/msg/Pose.pose.covariance[?]': {'$between': [0, 0.5]}}
>>> metadata_condition("vehicle.id = alpha")
('vehicle.id', {'eq': 'alpha'})
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mosaico.ontology import Expression, QueryBuildError
from mosaico.protocol.operators import BY_METHOD, Shape
from mosaico.query.paths import Q

__all__ = ["content_expression", "metadata_condition", "parse_condition"]

_SYMBOLS = {"=": "eq", "==": "eq", "!=": "neq", "<": "lt", "<=": "leq", ">": "gt",
            ">=": "geq", "~": "match"}  # fmt: skip
_WORDS = {"in": "in_", "between": "between", "outside": "outside", "match": "match",
          "exists": "exists", "missing": "missing"}  # fmt: skip
_CONDITION = re.compile(
    r"\s*(?P<left>(?:[^\s=!<>~\[\]]|\[[^\]]*\])+)"
    r"(?:\s*(?P<sym>==|=|!=|<=|>=|<|>|~)|\s+(?P<word>" + "|".join(_WORDS) + r")\b)"
    r"\s*(?P<right>.*?)\s*$",
    re.DOTALL,
)
_HELP = "write LEFT OP VALUE with OP one of " + ", ".join([*_SYMBOLS, *_WORDS])


def _scalar(text: str, where: str) -> Any:
    """One value: JSON when it parses as a JSON scalar, else the text itself."""
    if not text:
        raise QueryBuildError(f"{where}: a value is missing")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryBuildError(f"{where}: {text!r} is not a finite number")
    if value is None or isinstance(value, (list, dict)):
        raise QueryBuildError(f"{where}: {text!r} is not a single number, string or boolean")
    return value


def _values(text: str, where: str) -> list[Any]:
    """Several values: a JSON array, or values separated by commas."""
    if text.startswith("["):
        try:
            values = json.loads(text)
        except ValueError:
            raise QueryBuildError(f"{where}: {text!r} is not a JSON array") from None
        if not isinstance(values, list):
            raise QueryBuildError(f"{where}: {text!r} is not a JSON array")
        return [_scalar(json.dumps(v), where) for v in values]
    return [_scalar(part.strip(), where) for part in text.split(",")]


def parse_condition(text: str) -> tuple[str, str, list[Any]]:
    """``(left, method, values)`` of a condition; ``method`` is a builder keyword
    (``"gt"``, ``"in_"``) or ``"exists"`` / ``"missing"``.

    Raises:
        QueryBuildError: no operator, or a value that does not fit it.
    """
    found = _CONDITION.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise QueryBuildError(f"{text!r}: no condition here ({_HELP})")
    left, right = found["left"], found["right"]
    method = _SYMBOLS[found["sym"]] if found["sym"] else _WORDS[found["word"]]
    where = f"{text.strip()!r}"
    if method in ("exists", "missing"):
        if right:
            raise QueryBuildError(f"{where}: {method} takes no value, got {right!r}")
        return left, method, []
    if right[:1] in ("=", "<", ">", "!", "~"):
        raise QueryBuildError(f"{where}: one operator per condition ({right!r} follows one)")
    shape = BY_METHOD[method].shape
    if shape is Shape.PATTERN:
        pattern = _scalar(right, where)
        if not isinstance(pattern, str):
            raise QueryBuildError(f"{where}: a pattern is text, got {right!r}")
        return left, method, [pattern]
    if shape is Shape.SCALAR:
        return left, method, [_scalar(right, where)]
    values = _values(right, where)
    if shape is Shape.PAIR and len(values) != 2:
        raise QueryBuildError(f"{where}: {method} takes two values low,high, got {right!r}")
    return left, method, values


def content_expression(text: str) -> Expression:
    """The content condition ``TAG.FIELD OP VALUE`` as a typed expression (``Q(tag)``).

    Raises:
        QueryBuildError: a malformed condition, a left side without a field, or (for a
            generated type) a field or operator the type does not have.
    """
    left, method, values = parse_condition(text)
    tag, _, path = left.partition(".")
    if not path:
        raise QueryBuildError(f"{left!r}: a content condition starts TAG.FIELD (IMU.acceleration.x)")
    if method in ("exists", "missing"):
        raise QueryBuildError(f"{text.strip()!r}: {method} applies to user metadata only")
    build = getattr(Q(tag).at(path), method)
    expression: Expression = build(*values)
    return expression


def metadata_condition(text: str) -> tuple[str, dict[str, Any]]:
    """The user-metadata condition ``PATH OP VALUE`` as ``with_user_metadata``'s arguments.

    Raises:
        QueryBuildError: a malformed condition.
    """
    left, method, values = parse_condition(text)
    if method in ("exists", "missing"):
        return left, {"ex": method == "exists"}
    shape = BY_METHOD[method].shape
    return left, {method: values[0] if shape in (Shape.SCALAR, Shape.PATTERN) else values}
