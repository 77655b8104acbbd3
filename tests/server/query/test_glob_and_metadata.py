"""`$match` globs (§8.6) in both evaluators, and catalog/metadata semantics (§8.3, §8.4)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.protocol.glob import arrow_glob, python_glob
from mosaico.protocol.query import Condition, MetadataEntry, QueryRequest
from mosaico.server.query.filters import LazyDocument, holds, metadata_holds, section_holds
from mosaico.server.query.plan import plan_query


def _both(pattern: str, text: str) -> bool:
    in_python = python_glob(pattern).fullmatch(text)
    in_arrow = pc.match_substring_regex(pa.array([text]), arrow_glob(pattern))[0].as_py()
    assert in_python == in_arrow, (pattern, text)
    return in_python


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("run-*", "run-001", True),
        ("run-*", "xrun-001", False),
        ("car#/[a-z]*/?????", "car1/imu/front", True),
        ("car#/[a-z]*/?????", "carX/imu/front", False),
        ("*imu*", "/imu/front", True),
        ("run", "run", True),
        ("run", "run-1", False),
        ("#", "7", True),
        ("#", "a", False),
        ("##", "7", False),
        ("[!a]b", "cb", True),
        ("[!a]b", "ab", False),
        ("[^a]b", "ab", False),
        ("[]]x", "]x", True),
        ("a[b", "a[b", True),
        ("%_.-", "%_.-", True),
        ("a.c", "abc", False),
        ("*", "", True),
        ("*", "line\nbreak", True),
        ("x?", "x\n", True),
        ("a b*", "a b c", True),
        ("(x)|y+\\", "(x)|y+\\", True),
        ("é*", "été", True),
        ("RUN*", "run-1", False),
    ],
)  # fmt: skip
def test_glob_examples(pattern: str, text: str, expected: bool) -> None:
    assert _both(pattern, text) is expected


_GLOB_CHARS = st.sampled_from(list("ab1*?#[]!^-.\\ é\n"))


@settings(max_examples=300, deadline=None)
@given(st.text(_GLOB_CHARS, max_size=8), st.text(st.sampled_from(list("ab1.-]![ é\n")), max_size=8))
def test_python_and_arrow_globs_agree(pattern: str, text: str) -> None:
    try:
        python_glob(pattern)
    except ValueError:
        return  # inverted ranges are rejected as a bad query, tested below
    _both(pattern, text)


def _cond(op: str, operand: Any) -> Condition:
    return Condition("k", op, operand)


def test_scalar_typing() -> None:
    assert holds(1, _cond("$eq", 1.0))
    assert not holds("1", _cond("$eq", 1))
    assert not holds(True, _cond("$eq", 1))
    assert holds(True, _cond("$eq", True))
    assert not holds(True, _cond("$gt", False))  # booleans are not ordered
    assert holds("b", _cond("$gt", "a"))
    assert not holds("b", _cond("$gt", 1))
    assert not holds(None, _cond("$neq", 1))
    assert holds(2, _cond("$neq", 1))
    assert not holds("x", _cond("$neq", 1))  # type mismatch: false, even for $neq
    assert holds(5, _cond("$between", [5, 6])) and not holds(7, _cond("$between", [5, 6]))
    assert holds(7, _cond("$outside", [5, 6])) and not holds(5, _cond("$outside", [5, 6]))
    assert holds("x", _cond("$in", ["y", "x"])) and not holds(1, _cond("$in", ["1"]))
    assert not holds(5, _cond("$match", "5"))


DOC = {
    "environment": {"visibility": 40, "tags": ["rain", "night"]},
    "vehicle": {"id": None},
    "sensors": [{"model": "xsens", "rate": 100}, {"model": "bosch", "rate": [200, 400]}],
    "flag": False,
}


@pytest.mark.parametrize(
    ("path", "op", "operand", "expected"),
    [
        ("environment.visibility", "$lt", 50, True),
        ("environment.visibility", "$lt", 40, False),
        ("environment.visibility", "$lt", "50", False),  # type mismatch is false, not an error
        ("environment.tags", "$eq", "night", True),  # array at the leaf: any element
        ("environment.tags", "$match", "ra*", True),
        ("sensors.model", "$eq", "bosch", True),  # array on the way: every element
        ("sensors.rate", "$geq", 300, True),
        ("sensors.rate", "$gt", 400, False),
        ("vehicle.id", "$ex", None, True),  # exists even though null
        ("vehicle.id", "$nex", None, False),
        ("vehicle.id", "$eq", None, False),
        ("vehicle.id", "$neq", 1, False),  # null never compares
        ("vehicle.name", "$ex", None, False),
        ("vehicle.name", "$nex", None, True),
        ("missing.deep.path", "$neq", 1, False),
        ("flag", "$eq", False, True),
        ("flag", "$in", [True], False),
        ("environment", "$eq", 1, False),  # an object is not a scalar
    ],
)  # fmt: skip
def test_metadata_paths(path: str, op: str, operand: Any, expected: bool) -> None:
    flt = MetadataEntry(tuple(path.split(".")), _cond(op, operand))
    assert metadata_holds(DOC, flt) is expected
    # The query service hands over documents loaded on first use: same answers, one load.
    loads: list[int] = []
    lazy = LazyDocument(lambda: loads.append(1) or DOC)
    assert metadata_holds(lazy, flt) is expected
    assert metadata_holds(lazy, flt) is expected
    assert len(loads) == 1


def test_topic_name_leniency() -> None:
    def match(section: dict[str, Any], path: str = "imu/front") -> bool:
        plan = plan_query(QueryRequest.from_json({"topic": section}))
        return section_holds(plan.topic, {}, {}, topic_path=path)

    assert match({"name": {"$eq": "/imu/front"}})
    assert match({"name": {"$eq": "imu/front"}})
    assert not match({"name": {"$eq": "imu"}})
    assert match({"name": {"$in": ["gps", "imu/front"]}})
    assert match({"name": {"$match": "imu/*"}})
    assert match({"name": {"$match": "/imu/*"}})
    assert match({"name": {"$match": "*front"}})
    assert not match({"name": {"$neq": "imu/front"}})
    assert match({"name": {"$neq": "/gps"}})
