"""The generator: golden output, determinism, drift check, orphans, the user-ontology workflow."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import find, given, settings

from mosaico.cli import main
from mosaico.ontology import (
    AtLeastOneOf,
    Constraints,
    Ordered,
    TagClashError,
    ValidationError,
    registry,
    validation,
)
from mosaico_codegen.diagnostics import CodegenError
from mosaico_codegen.generate import generate, standard_output_dir

HERE = Path(__file__).parent
KITCHEN = HERE / "kitchen_sink"
GOLDEN = HERE / "golden"


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}


def test_kitchen_sink_matches_golden_output(tmp_path: Path) -> None:
    # The folders stand side by side as in tests/codegen, so the headers' regenerate command
    # (run there) reproduces the golden folder.
    shutil.copytree(KITCHEN, tmp_path / KITCHEN.name)
    out = tmp_path / GOLDEN.name
    generate([tmp_path / KITCHEN.name], out=out, package="kitchen")
    produced = _files(out)
    if os.environ.get("MOSAICO_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(out, GOLDEN)
    assert produced == _files(GOLDEN), "run with MOSAICO_UPDATE_GOLDEN=1 to accept a change"
    assert (out / "REFERENCE.md").read_text() == (GOLDEN / "REFERENCE.md").read_text()


def test_kitchen_sink_types_work(tmp_path: Path, import_generated) -> None:
    generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen")
    kitchen = import_generated(tmp_path, "kitchen")
    strategies = import_generated(tmp_path, "kitchen.strategies")
    sink_cls = kitchen.KitchenSink
    assert registry["kitchen_sink"] is sink_cls
    assert sink_cls.SERIALIZATION_FORMAT == "ragged"
    assert sink_cls.ARROW_TYPE.field("f64").metadata == {
        b"description": b"Bounded speed.",
        b"unit": b"m/s",
    }

    @settings(max_examples=25, deadline=None)
    @given(strategies.STRATEGIES["kitchen_sink"]())
    def round_trip(obj: object) -> None:
        batch = sink_cls.to_batch([obj], [5])
        assert sink_cls.from_batch(batch) == [obj]
        for o in (obj, sink_cls.from_batch(batch)[0]):  # built from plain values, and decoded
            assert _enum_types(o, kitchen) == (kitchen.Mode, kitchen.Level, {kitchen.Level})

        bad = {"i8": 11, "u8": 4, "name": "c", "mode": "walk", "samples": [], "triple": [1]}
        for field, value in bad.items():
            with pytest.raises(ValidationError, match=f"KitchenSink.{field}"):
                attrs.evolve(obj, **{field: value})
        with pytest.raises(ValidationError, match="KitchenSink.low/high: must satisfy low <= high"):
            attrs.evolve(obj, low=2.0, high=1.0)
        with pytest.raises(
            ValidationError, match="KitchenSink.first/second: at least one must be set"
        ):
            attrs.evolve(obj, first=None, second=None)

    round_trip()


def _enum_types(o: object, kitchen: object) -> tuple[type, type, set[type]]:
    maybe = o.maybe_mode
    assert maybe is None or type(maybe) is kitchen.Mode
    return type(o.mode), type(o.level), {type(x) for x in o.levels} | {kitchen.Level}


def test_enum_fields_hold_enum_members(tmp_path: Path, import_generated) -> None:
    """Enum fields read back as the generated Enum members (not plain str/int), and a plain
    value given to the constructor becomes its member."""
    generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen")
    kitchen = import_generated(tmp_path, "kitchen")
    strategies = import_generated(tmp_path, "kitchen.strategies")
    mode, level = kitchen.Mode, kitchen.Level
    obj = find(strategies.STRATEGIES["kitchen_sink"](), lambda _: True)  # the simplest one
    obj = attrs.evolve(obj, mode="fast-run", level=10, levels=[0, 5], maybe_mode="idle")
    assert obj.mode is mode.FAST_RUN and obj.level is level.HIGH and obj.maybe_mode is mode.IDLE
    assert obj.levels == [level.LOW, level.MID] and type(obj.levels[0]) is level
    obj = attrs.evolve(obj, mode="run")
    assert obj.mode is mode.RUN
    assert attrs.evolve(obj, maybe_mode=None).maybe_mode is None
    assert attrs.fields(kitchen.KitchenSink).mode.type == "Mode"
    assert attrs.fields(kitchen.KitchenSink).levels.type == "list[Level]"

    objs = [obj, attrs.evolve(obj, mode=mode.IDLE, levels=[], maybe_mode=None)]
    back = kitchen.KitchenSink.from_batch(kitchen.KitchenSink.to_batch(objs, [1, 2]))
    assert back == objs
    assert [(b.mode, b.maybe_mode) for b in back] == [(mode.RUN, mode.IDLE), (mode.IDLE, None)]
    assert all(type(b.mode) is mode and type(b.level) is level for b in back)
    assert [type(x) for x in back[0].levels] == [level, level]
    struct = kitchen.KitchenSink.to_arrow([None, obj])
    assert kitchen.KitchenSink.from_arrow(struct)[1].mode is mode.RUN

    with pytest.raises(ValidationError, match=r"KitchenSink.mode: must be one of"):
        attrs.evolve(obj, mode="walk")  # a value no member has is still reported
    with validation(False):
        odd = attrs.evolve(obj, mode="walk", levels=[7])  # and kept as it is, checks off
        assert odd.mode == "walk" and odd.levels == [7]
        (again,) = kitchen.KitchenSink.from_batch(kitchen.KitchenSink.to_batch([odd], [1]))
    assert again.mode == "walk" and type(again.mode) is str and again.levels == [7]


def test_validate_reports_the_first_failure_across_its_chunks(
    tmp_path: Path, import_generated
) -> None:
    """KitchenSink's many fields are checked by validate() and the functions it calls in
    turn: the first failing field in declaration order is still the one reported, and the
    rules, checked last, see the values of fields checked in earlier chunks."""
    generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen")
    kitchen = import_generated(tmp_path, "kitchen")
    strategies = import_generated(tmp_path, "kitchen.strategies")
    obj = find(strategies.STRATEGIES["kitchen_sink"](), lambda _: True)
    assert isinstance(obj, kitchen.KitchenSink)
    cases = [
        ({"flag": "yes", "i8": 11, "second": "p", "low": 2.0}, r"flag: expected bool"),
        ({"i8": 11, "levels": [7], "second": "p", "low": 2.0}, r"i8: must be within"),
        ({"levels": [7], "second": "p", "low": 2.0}, r"levels: elements must be among"),
        ({"second": "p", "low": 2.0, "high": 1.0}, r"second: expected Point"),
        ({"low": 2.0, "high": 1.0}, r"low/high: must satisfy low <= high"),
        ({"first": None, "second": None}, r"first/second: at least one must be set"),
    ]
    for changes, reason in cases:
        with validation(False):
            bad = attrs.evolve(obj, **changes)
        with pytest.raises(ValidationError, match=f"^KitchenSink.{reason}"):
            bad.validate()


def _complexity(fn: ast.FunctionDef) -> int:
    """A function's cyclomatic complexity, counted as radon does for generated code: 1, plus
    one per if (statement or expression) and loop, per extra operand of a boolean operator,
    per comprehension loop and its conditions."""
    total = 1
    for node in ast.walk(fn):
        if isinstance(node, ast.If | ast.IfExp | ast.For | ast.While):
            total += 1
        elif isinstance(node, ast.BoolOp):
            total += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            total += 1 + len(node.ifs)
    return total


def test_generated_functions_stay_simple_whatever_the_field_count() -> None:
    """No function of the golden kitchen sink (32 fields, every kind of check) goes above
    10, well under the project's limit of 15: its validate() is cut into several."""
    tree = ast.parse((GOLDEN / "sink.py").read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    worst = max(functions, key=_complexity)
    assert _complexity(worst) <= 10, worst.name
    chunks = [f.name for f in functions if f.name.startswith("_validate_KitchenSink_")]
    assert len(chunks) > 5


def test_kitchen_sink_constraint_model(tmp_path: Path, import_generated) -> None:
    generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen")
    kitchen = import_generated(tmp_path, "kitchen")
    sink = kitchen.KitchenSink
    rules, point_constraints = sink.RULES, kitchen.Point.CONSTRAINTS
    assert sink.CONSTRAINTS["i8"] == Constraints(low=-10, high=10)
    assert sink.CONSTRAINTS["mode"] == Constraints(allowed=("idle", "run", "fast-run"))
    assert sink.CONSTRAINTS["levels"] == Constraints(allowed=(0, 5, 10))
    assert sink.CONSTRAINTS["exactly_two"] == Constraints(min_length=2, max_length=2)
    assert "flag" not in sink.CONSTRAINTS
    assert rules == (Ordered(("low", "high")), AtLeastOneOf(("first", "second")))
    assert point_constraints == {
        "u": Constraints(required=True),
        "v": Constraints(required=True),
    }


def test_generation_is_deterministic(tmp_path: Path) -> None:
    # Two folders at one depth: the header's relative paths are the same for both.
    a, b = tmp_path / "a" / "kitchen", tmp_path / "b" / "kitchen"
    generate([KITCHEN], out=a, package="kitchen")
    generate([KITCHEN], out=b, package="kitchen")
    assert _files(a) == _files(b)
    second = generate([KITCHEN], out=a, package="kitchen")
    assert second.written == [] and second.removed == []


def test_committed_standard_package_is_not_stale() -> None:
    outcome = generate(check=True)
    assert not outcome.stale, outcome.drift


def test_check_reports_drift_and_orphans(tmp_path: Path) -> None:
    out = tmp_path / "kitchen"
    generate([KITCHEN], out=out, package="kitchen")
    (out / "base.py").write_text((out / "base.py").read_text() + "# edited by hand\n")
    (out / "old.py").write_text("# DO NOT EDIT: generated by `mosaico codegen` from old.yaml.\n")
    (out / "handwritten.py").write_text("VALUE = 1\n")
    outcome = generate([KITCHEN], out=out, package="kitchen", check=True)
    assert "+# edited by hand" not in outcome.drift and "-# edited by hand" in outcome.drift
    assert "orphaned generated file kitchen/old.py" in outcome.drift
    result = CliRunner().invoke(
        main,
        [
            "codegen",
            "--ontology",
            str(KITCHEN),
            "--out",
            str(out),
            "--package",
            "kitchen",
            "--check",
        ],
    )
    assert result.exit_code == 1 and "stale" in result.output
    written = generate([KITCHEN], out=out, package="kitchen")
    assert written.written == ["base.py"] and written.removed == ["old.py"]
    assert (out / "handwritten.py").exists(), "hand-written files are never removed"


ENCODERS = """\
imports: ["std:header", "std:geometry"]
types:
  EncoderTicks:
    description: Wheel encoder counts.
    mixins: [HeaderMixin]
    fields:
      ticks: {type: "int64[]", description: Tick count per wheel.}
      wheel_velocity: {type: Vector3d, unit: rad/s}
"""


def test_user_ontology_workflow_end_to_end(tmp_path: Path) -> None:
    """A user writes YAML, runs the CLI, imports the package and round-trips data."""
    (tmp_path / "my_robot").mkdir()
    (tmp_path / "my_robot" / "encoders.yaml").write_text(ENCODERS)
    cli = [
        sys.executable,
        "-m",
        "mosaico",
        "codegen",
        "--ontology",
        "my_robot",
        "--out",
        "my_robot_types",
    ]
    subprocess.run(cli, cwd=tmp_path, check=True, capture_output=True)
    script = """
import io, pyarrow as pa, pyarrow.parquet as pq
from my_robot_types import EncoderTicks
from my_robot_types.strategies import STRATEGIES
from mosaico import Header, Time, Vector3d
from mosaico.ontology import registry
assert registry["EncoderTicks"] is EncoderTicks and registry["IMU"].TAG == "IMU"
obj = EncoderTicks(header=Header(timestamp=Time(seconds=1, nanoseconds=2)), ticks=[1, -2],
                   wheel_velocity=Vector3d(x=1.0, y=2.0, z=3.0))
batch = EncoderTicks.to_batch([obj, obj], [10, 20])
sink = io.BytesIO()
pq.write_table(pa.Table.from_batches([batch]), sink, use_compliant_nested_type=False)
back = pq.read_table(io.BytesIO(sink.getvalue())).to_batches()[0]
assert EncoderTicks.from_batch(back) == [obj, obj]
assert str(EncoderTicks.ARROW_TYPE).startswith("struct<header: struct<timestamp")
STRATEGIES["EncoderTicks"]().example()
print("ok")
"""
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_user_tag_clashing_with_standard_is_a_generation_error(tmp_path: Path) -> None:
    (tmp_path / "clash.yaml").write_text(
        "types:\n  MyImu:\n    tag: IMU\n    fields:\n      a: {type: int8}\n"
    )
    with pytest.raises(CodegenError) as err:
        generate([tmp_path], out=tmp_path / "out", package="clash")
    assert str(err.value.problems[0]) == (
        f"{_rel(tmp_path / 'clash.yaml')}:2: MyImu: duplicate tag 'IMU' (already used by mosaico.types.sensors.IMU)"
    )


def test_two_user_packages_with_one_tag_clash_on_import(tmp_path: Path, import_generated) -> None:
    for name in ("first", "second"):
        src = tmp_path / f"{name}_yaml"
        src.mkdir()
        (src / f"{name}.yaml").write_text("types:\n  Shared:\n    fields:\n      a: {type: int8}\n")
        generate([src], out=tmp_path / f"{name}_pkg", package=f"{name}_pkg")
    import_generated(tmp_path, "first_pkg")
    with pytest.raises(
        TagClashError,
        match="ontology tag 'Shared' of second_pkg.second.Shared is already registered by first_pkg.first.Shared",
    ):
        import_generated(tmp_path, "second_pkg")


def test_standard_output_is_the_generated_folder() -> None:
    assert standard_output_dir().name in {"generated", "types"}
    assert (standard_output_dir() / "sensors.py").exists()


def test_validation_switch(import_generated) -> None:
    from mosaico import IMU, Time, Vector3d
    from mosaico.ontology import validation

    with pytest.raises(
        ValidationError,
        match=r"Time.nanoseconds: must be within \[0, 999999999\] \(got 1000000000\)",
    ):
        Time(seconds=0, nanoseconds=1_000_000_000)
    with pytest.raises(ValidationError, match="IMU.acceleration: expected Vector3d"):
        IMU(acceleration={"x": 1.0}, angular_velocity=Vector3d(x=0.0, y=0.0, z=0.0))
    with validation(False):
        late = Time(seconds=0, nanoseconds=1_000_000_000)  # hot loops skip the checks
    with pytest.raises(ValidationError, match="Time.nanoseconds: must be <= 999999999"):
        Time.validate_batch(
            pa.RecordBatch.from_arrays(
                [pa.array([1]), *Time.to_arrow([late]).flatten()], schema=Time.ARROW_SCHEMA
            )
        )


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def test_generated_files_honour_the_umask(tmp_path: Path) -> None:
    """Generated files get the mode of any new file (0o666 less the umask), not mkstemp's 0600;
    a regenerated file keeps the mode its owner gave it."""
    old = os.umask(0o022)
    try:
        generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen")
        os.umask(0o002)
        generate([KITCHEN], out=tmp_path / "group", package="kitchen")
    finally:
        os.umask(old)
    for folder, mode in (("kitchen", 0o644), ("group", 0o664)):
        for p in (tmp_path / folder).iterdir():
            assert p.stat().st_mode & 0o777 == mode, p
    base = tmp_path / "kitchen" / "base.py"
    base.chmod(0o640)
    base.write_text(base.read_text() + "# stale\n")
    assert generate([KITCHEN], out=tmp_path / "kitchen", package="kitchen").written == ["base.py"]
    assert base.stat().st_mode & 0o777 == 0o640


def test_header_names_real_relative_paths_the_same_in_every_checkout(tmp_path: Path) -> None:
    """The header names the YAML files and a runnable regenerate command, with paths relative
    to the folder holding the package: two checkouts generate identical files."""
    outputs = []
    for checkout in ("first", "second"):
        root = tmp_path / checkout / "project"
        (root / "my_robot").mkdir(parents=True)
        (root / "my_robot" / "encoders.yaml").write_text(ENCODERS)
        generate([root / "my_robot"], out=root / "my_robot_types", package="my_robot_types")
        outputs.append({p.name: p.read_text() for p in (root / "my_robot_types").iterdir()})
    assert outputs[0] == outputs[1]
    command = "mosaico codegen --ontology my_robot --out my_robot_types --package my_robot_types"
    assert outputs[0]["encoders.py"].splitlines()[:2] == [
        "# DO NOT EDIT: generated by `mosaico codegen` from my_robot/encoders.yaml.",
        f"# Regenerate with: {command}",
    ]
    assert outputs[0]["__init__.py"].splitlines()[1] == f"# Regenerate with: {command}"
    for name, text in outputs[0].items():
        assert "DIR" not in text and str(tmp_path) not in text, name
