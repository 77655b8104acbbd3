"""The generated standard ontology reproduces the spec's 59 types exactly.

`tests/spec/standard_types.json` is a machine-readable copy of the spec's tables (ontology.md
§6 overview, §7 per-type tables, Appendix A struct strings), produced by
`tests/spec/extract_spec.py`. The first group of tests checks that the copy is consistent with
itself; the rest compare the classes of the generated `mosaico.types` package with it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from pathlib import Path

import pytest

SPEC_JSON = Path(__file__).parents[1] / "spec" / "standard_types.json"
SPEC: list[dict] = json.loads(SPEC_JSON.read_text(encoding="utf-8"))
BY_TAG: dict[str, dict] = {t["tag"]: t for t in SPEC}
TAGS = [t["tag"] for t in SPEC]

FIELD_CASES = [(t["tag"], f["name"]) for t in SPEC for f in t["fields"]]


def _field(tag: str, name: str) -> dict:
    return next(f for f in BY_TAG[tag]["fields"] if f["name"] == name)


UNIT_CASES = [(tag, name) for tag, name in FIELD_CASES if _field(tag, name)["unit"]]
DESCRIBED_CASES = [(tag, name) for tag, name in FIELD_CASES if _field(tag, name)["description"]]


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{tag}.{name}" for tag, name in cases]


# --- the JSON copy of the spec is self-consistent -----------------------------------------------


def test_spec_json_lists_the_59_standard_types_once() -> None:
    assert len(SPEC) == 59
    assert len(set(TAGS)) == 59


@pytest.mark.parametrize("tag", TAGS)
def test_spec_json_fingerprint_is_sha1_of_struct(tag: str) -> None:
    entry = BY_TAG[tag]
    assert re.fullmatch(r"[0-9a-f]{10}", entry["fingerprint"])
    assert hashlib.sha1(entry["struct"].encode("utf-8")).hexdigest()[:10] == entry["fingerprint"]
    assert entry["serialization_format"] in ("default", "ragged", "image")


def _top_level_parts(struct: str) -> list[str]:
    """Split `struct<a: T, b: U not null>` into its top-level `name: type` parts."""
    assert struct.startswith("struct<") and struct.endswith(">")
    body = struct[len("struct<") : -1]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
    parts.append(body[start:].strip())
    return parts


def _expand(arrow: str) -> str:
    """Render a §7 table type (`struct Pose`, `list<double>`, ...) as pyarrow prints it."""
    m = re.fullmatch(r"struct (\w+)", arrow)
    if m:
        return BY_TAG[m.group(1)]["struct"]
    m = re.fullmatch(r"fixed_size_list<(.+)>\[(\d+)\]", arrow)
    if m:
        return f"fixed_size_list<item: {_expand(m.group(1))}>[{m.group(2)}]"
    m = re.fullmatch(r"list<(.+)>", arrow)
    if m:
        return f"list<item: {_expand(m.group(1))}>"
    return arrow


@pytest.mark.parametrize("tag", TAGS)
def test_spec_json_field_tables_agree_with_appendix_a(tag: str) -> None:
    entry = BY_TAG[tag]
    expected = [
        f"{f['name']}: {_expand(f['arrow'])}" + ("" if f["nullable"] else " not null")
        for f in entry["fields"]
    ]
    assert _top_level_parts(entry["struct"]) == expected


# --- the generated package matches the spec -------------------------------------------------------


def _registry():
    importlib.import_module("mosaico.types")
    from mosaico.ontology import registry

    return registry


def _cls(tag: str) -> type:
    registry = _registry()
    assert tag in registry, f"no generated class registered under tag {tag!r}"
    return registry[tag]


def _arrow_field(tag: str, name: str):
    struct = _cls(tag).ARROW_TYPE
    index = struct.get_field_index(name)
    assert index >= 0, f"{tag} has no Arrow field {name!r}"
    return struct.field(index)


def test_registry_holds_exactly_the_standard_tags() -> None:
    registry = _registry()
    standard = {
        tag for tag, cls in registry.items() if cls.__module__.startswith("mosaico.types.")
    }
    assert standard == set(TAGS)


@pytest.mark.parametrize("tag", TAGS)
def test_class_is_exported_by_the_package(tag: str) -> None:
    package = importlib.import_module("mosaico.types")
    assert getattr(package, tag, None) is _cls(tag)


@pytest.mark.parametrize("tag", TAGS)
def test_tag_and_serialization_format(tag: str) -> None:
    cls = _cls(tag)
    assert tag == cls.TAG
    assert BY_TAG[tag]["serialization_format"] == cls.SERIALIZATION_FORMAT


@pytest.mark.parametrize("tag", TAGS)
def test_arrow_struct_string_is_byte_exact(tag: str) -> None:
    assert str(_cls(tag).ARROW_TYPE) == BY_TAG[tag]["struct"]


@pytest.mark.parametrize("tag", TAGS)
def test_fingerprint(tag: str) -> None:
    from mosaico.ontology import fingerprint

    cls = _cls(tag)
    assert fingerprint(cls.ARROW_TYPE) == BY_TAG[tag]["fingerprint"]
    # The class constant, where the generator provides one, must agree.
    assert getattr(cls, "FINGERPRINT", BY_TAG[tag]["fingerprint"]) == BY_TAG[tag]["fingerprint"]


@pytest.mark.parametrize("tag", TAGS)
def test_top_level_fields_and_nullability(tag: str) -> None:
    got = [(f.name, f.nullable) for f in _cls(tag).ARROW_TYPE]
    want = [(f["name"], f["nullable"]) for f in BY_TAG[tag]["fields"]]
    assert got == want


@pytest.mark.parametrize(("tag", "name"), UNIT_CASES, ids=_ids(UNIT_CASES))
def test_unit_metadata(tag: str, name: str) -> None:
    metadata = _arrow_field(tag, name).metadata or {}
    assert metadata.get(b"unit") == _field(tag, name)["unit"].encode("utf-8")


@pytest.mark.parametrize(("tag", "name"), DESCRIBED_CASES, ids=_ids(DESCRIBED_CASES))
def test_description_metadata(tag: str, name: str) -> None:
    metadata = _arrow_field(tag, name).metadata or {}
    assert metadata.get(b"description") == _field(tag, name)["description"].encode("utf-8")


def test_quaternion_declares_its_slerp_components() -> None:
    from mosaico.types import IMU, Quaternion, Vector4d

    assert Quaternion.SLERP_FIELDS == ("x", "y", "z", "w")
    assert Vector4d.SLERP_FIELDS == () and IMU.SLERP_FIELDS == ()
