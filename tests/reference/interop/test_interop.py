"""Every standard type, both directions, through our server:
written by our client -> read back typed by the reference client ``mosaicolabs==0.7.0``, and
written by the reference client -> read back typed by ours. Values come from the generated
hypothesis strategies; each example is one sequence holding a list of messages."""

from __future__ import annotations

import itertools
from typing import Any

import mosaicolabs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mosaicolabs.models.core.serializable import _SCHEMA_REGISTRY as REFERENCE_TYPES

from mosaico.client import Message, MosaicoClient
from mosaico.ontology import registry
from mosaico.types.strategies import STRATEGIES
from tests.reference.interop.interop_values import normalize, ours_as_dict

T0 = 1_700_000_000_000_000_000
TAGS = sorted(STRATEGIES)
_names = itertools.count()
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
    ],
)  # fmt: skip


def _decodable_by_reference(cls: type, obj: Any) -> bool:
    # The reference cannot decode a row whose fields are all null: it turns the whole row
    # into None before calling the constructor (a reference-client limitation, ontology §4).
    return normalize(ours_as_dict(cls, obj)) is not None


def _batch(tag: str) -> st.SearchStrategy[list[Any]]:
    cls = registry[tag]
    row = STRATEGIES[tag]().filter(lambda o: _decodable_by_reference(cls, o))
    return st.lists(row, min_size=1, max_size=8)


def test_every_standard_type_is_covered() -> None:
    assert len(TAGS) == 59
    assert set(TAGS) <= set(REFERENCE_TYPES) and set(TAGS) <= set(registry)


@pytest.mark.parametrize("tag", TAGS)
@SETTINGS
@given(data=st.data())
def test_written_by_us_read_typed_by_reference(
    tag: str, data: st.DataObject, ours: MosaicoClient, reference: mosaicolabs.MosaicoClient
) -> None:
    cls = registry[tag]
    objs = data.draw(_batch(tag))
    name = f"ours-{tag}-{next(_names)}"
    stamps = [T0 + (len(objs) - i) * 1000 for i in range(len(objs))]  # pushed in reverse
    with ours.sequence_create(name, {"tag": tag}) as writer:
        topic = writer.topic_create("data", {"n": len(objs)}, cls)
        for ts, obj in zip(stamps, objs):
            topic.push(Message(ts, obj))
    handler = reference.topic_handler(name, "/data")
    assert handler is not None and handler.ontology_tag == tag
    got = list(handler.get_data_streamer())
    assert [m.timestamp_ns for m in got] == stamps[::-1]
    assert all(type(m.data) is REFERENCE_TYPES[tag] for m in got)  # typed, not Unmodeled
    assert [normalize(m.data.model_dump()) for m in got] == [
        normalize(ours_as_dict(cls, o)) for o in objs[::-1]
    ]


@pytest.mark.parametrize("tag", TAGS)
@SETTINGS
@given(data=st.data())
def test_written_by_reference_read_typed_by_us(
    tag: str, data: st.DataObject, ours: MosaicoClient, reference: mosaicolabs.MosaicoClient
) -> None:
    cls = registry[tag]
    ref_cls = REFERENCE_TYPES[tag]
    objs = data.draw(_batch(tag))
    expected = [ours_as_dict(cls, o) for o in objs]
    name = f"ref-{tag}-{next(_names)}"
    with reference.sequence_create(name, {"tag": tag}) as writer:
        topic = writer.topic_create("data", {}, ref_cls)
        assert topic is not None
        for i, row in enumerate(expected):
            topic.push(mosaicolabs.Message(timestamp_ns=T0 + i, data=ref_cls.model_validate(row)))
    handler = ours.topic_handler(name, "data")
    assert handler is not None and handler.ontology_type is cls
    got = list(handler.get_data_streamer())
    assert [m.timestamp_ns for m in got] == [T0 + i for i in range(len(objs))]
    assert all(type(m.data) is cls for m in got)
    assert [normalize(ours_as_dict(cls, m.data)) for m in got] == [normalize(e) for e in expected]
