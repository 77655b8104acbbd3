"""Bad YAML: every problem is reported at once, with file:line, Type.field and a clear text."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaico_codegen.diagnostics import CodegenError
from mosaico_codegen.generate import generate

SCALARS = "bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32, float64, string, binary"

CASES = {
    "unknown type": (
        {"bad.yaml": "types:\n  T:\n    fields:\n      f: {type: Vectr3d}\n"},
        ["bad.yaml:4: T.f: unknown type or enum 'Vectr3d'"],
    ),
    "duplicate field": (
        {"bad.yaml": "types:\n  T:\n    fields:\n      a: {type: int8}\n      a: {type: int16}\n"},
        ["bad.yaml:5: T: duplicate field 'a'"],
    ),
    "field duplicating a mixin field": (
        {
            "bad.yaml": "mixins:\n  M:\n    fields:\n      a: {type: int8}\ntypes:\n  T:\n    mixins: [M]\n    fields:\n      a: {type: int8}\n"
        },
        ["bad.yaml:9: T.a: duplicate field 'a' (also from M)"],
    ),
    "invalid type name": (
        {"bad.yaml": "types:\n  bad_type:\n    fields:\n      a: {type: int8}\n"},
        ["bad.yaml:2: bad_type: invalid type name 'bad_type': use CamelCase letters and digits"],
    ),
    "invalid field name": (
        {"bad.yaml": "types:\n  T:\n    fields:\n      BadField: {type: int8}\n"},
        ["bad.yaml:4: T.BadField: invalid field name 'BadField': use lower_snake_case"],
    ),
    "import cycle": (
        {"a.yaml": "imports: [b.yaml]\n", "b.yaml": "imports: [a.yaml]\n"},
        ["b.yaml:1: import cycle: a.yaml -> b.yaml -> a.yaml"],
    ),
    "unknown mixin": (
        {
            "bad.yaml": "types:\n  T:\n    mixins: [NoSuchMixin]\n    fields:\n      a: {type: int8}\n"
        },
        ["bad.yaml:3: T: unknown mixin 'NoSuchMixin'"],
    ),
    "duplicate tag": (
        {
            "bad.yaml": "types:\n  A:\n    tag: same\n    fields:\n      a: {type: int8}\n  B:\n    tag: same\n    fields:\n      a: {type: int8}\n"
        },
        ["bad.yaml:6: B: duplicate tag 'same' (already used by bad.bad.A)"],
    ),
    "bad slerp declaration": (
        {
            "bad.yaml": "types:\n  Q:\n    slerp: [x, y, z, w]\n    fields:\n      x: {type: float64}\n      y: {type: float64}\n      z: {type: float64}\n      w: {type: int8}\n"
            "  R:\n    slerp: [x, y]\n    fields:\n      x: {type: float64}\n      y: {type: float64}\n"
        },
        [
            "bad.yaml:3: Q: slerp field 'w' is not a float",
            "bad.yaml:10: R: 'slerp' lists four fields: [x, y, z, w]",
        ],
    ),
    "min greater than max": (
        {"bad.yaml": "types:\n  T:\n    fields:\n      a: {type: float32, min: 5, max: 1}\n"},
        ["bad.yaml:4: T.a: min (5) is greater than max (1)"],
    ),
    "bad default": (
        {
            "bad.yaml": "types:\n  T:\n    fields:\n      a: {type: int8, default: 300}\n      b: {type: string, default: 3}\n"
        },
        [
            "bad.yaml:4: T.a: bad default 300 for a int8 field",
            "bad.yaml:5: T.b: bad default 3 for a string field",
        ],
    ),
    "unknown scalar": (
        {"bad.yaml": "types:\n  T:\n    fields:\n      a: {type: int24}\n"},
        [f"bad.yaml:4: T.a: unknown scalar type 'int24' (scalars: {SCALARS})"],
    ),
    "fixed list without size": (
        {
            "bad.yaml": "types:\n  T:\n    fields:\n      a: {type: 'float64[0]'}\n      b: {type: 'float64[n]'}\n"
        },
        [
            "bad.yaml:4: T.a: fixed-size list needs a positive integer size, got [0]",
            "bad.yaml:5: T.b: fixed-size list needs a positive integer size, got [n]",
        ],
    ),
    "enum value clash": (
        {
            "bad.yaml": "enums:\n  E:\n    type: uint8\n    values: {A: 1, B: 1}\n  S:\n    values: [x, y, x]\n"
        },
        [
            "bad.yaml:4: E.B: enum value 1 clashes with another member",
            "bad.yaml:6: S: enum value 'x' is listed twice",
        ],
    ),
    "reserved word": (
        {
            "bad.yaml": "types:\n  T:\n    fields:\n      class: {type: int8}\n      TAG: {type: int8}\n      timestamp_ns: {type: int64}\n"
        },
        [
            "bad.yaml:4: T.class: field name 'class' is a reserved word",
            "bad.yaml:5: T.TAG: invalid field name 'TAG': use lower_snake_case",
            "bad.yaml:6: T.timestamp_ns: field name 'timestamp_ns' is a reserved word",
        ],
    ),
    "nesting cycle": (
        {
            "bad.yaml": "types:\n  A:\n    fields:\n      b: {type: B}\n  B:\n    fields:\n      a: {type: A, nullable: true}\n"
        },
        ["bad.yaml:2: A: types nest each other in a cycle: A -> B -> A"],
    ),
    "invalid yaml": (
        {"bad.yaml": "types:\n  T: [unclosed\n"},
        ["bad.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'"],
    ),
    "unknown keys": (
        {
            "bad.yaml": "typez: {}\ntypes:\n  T:\n    serialization: zip\n    fields:\n      a: {type: int8, unit: m, colour: red}\n"
        },
        [
            "bad.yaml:1: unknown top-level key 'typez' (expected one of: description, enums, imports, mixins, types)",
            "bad.yaml:4: T: unknown serialization format 'zip' (expected one of: default, ragged, image)",
            "bad.yaml:6: T.a: unknown field key 'colour' (expected one of: allowed, default, description, length, max, max_length, min, min_length, nullable, type, unit, wire_nullable)",
        ],
    ),
    "name used without import": (
        {
            "a.yaml": "types:\n  A:\n    fields:\n      x: {type: int8}\n",
            "b.yaml": "types:\n  B:\n    fields:\n      a: {type: A}\n",
        },
        ["b.yaml:4: B.a: type 'A' is declared in a.yaml, which this file does not import"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_yaml_is_reported_exactly(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "onto").mkdir()
    for name, text in files.items():
        (tmp_path / "onto" / name).write_text(text)
    monkeypatch.chdir(tmp_path / "onto")
    with pytest.raises(CodegenError) as err:
        generate([Path(".")], out=tmp_path / "out", package="bad")
    assert [str(p) for p in err.value.problems] == expected
    assert not (tmp_path / "out").exists(), "nothing is written when the ontology is invalid"


def test_all_problems_come_in_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "types:\n  T:\n    mixins: [Nope]\n    fields:\n      a: {type: int24}\n      b: {type: float32, min: 2, max: 1}\n"
    )
    with pytest.raises(CodegenError) as err:
        generate([Path(".")], out=tmp_path / "out", package="bad")
    text = str(err.value)
    assert text.startswith("3 errors in the ontology:\n")
    assert "bad.yaml:3: T: unknown mixin 'Nope'" in text
    assert "bad.yaml:5: T.a: unknown scalar type 'int24'" in text
    assert "bad.yaml:6: T.b: min (2) is greater than max (1)" in text
