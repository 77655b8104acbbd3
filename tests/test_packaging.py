"""The wheel carries every package of the tree, under names that do not clash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"])


def test_every_source_package_is_in_the_wheel() -> None:
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "mosaico").rglob("__init__.py")
    }
    assert found <= _declared(), f"add to [tool.setuptools] packages: {sorted(found - _declared())}"


def test_generator_and_generated_code_ship_under_their_own_names() -> None:
    declared = _declared()
    assert {"mosaico_codegen", "mosaico_codegen.standard", "mosaico.types"} <= declared
    assert not {"codegen", "generated", "ontology"} & declared


def test_installed_standard_ontology_has_its_yaml() -> None:
    from mosaico_codegen.generate import standard_ontology_dir

    shipped = {p.name for p in standard_ontology_dir().glob("*.yaml")}
    assert shipped == {p.name for p in (ROOT / "ontology").glob("*.yaml")}


# Makes the generator's dependencies unimportable, as in a plain `pip install mosaico-sdk`.
_WITHOUT_CODEGEN_EXTRA = """
import importlib.abc, sys

class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"jinja2", "yaml", "ruff"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Absent())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_CODEGEN_EXTRA + code],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_runtime_and_standard_types_import_without_the_generator() -> None:
    result = _python(
        "import mosaico, mosaico.types, mosaico.ontology\n"
        "from mosaico import IMU, MosaicoClient\n"
        "assert not {'jinja2', 'yaml', 'ruff', 'mosaico_codegen'} & set(sys.modules)\n"
        "print(len(mosaico.ontology.registry))\n"
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 40  # every standard type registered


def test_generated_code_imports_only_the_runtime() -> None:
    for path in (ROOT / "generated").glob("*.py"):
        text = path.read_text()
        assert "mosaico_codegen" not in text, path.name
        assert "jinja2" not in text and "import yaml" not in text, path.name


def test_codegen_without_its_extra_says_what_to_install() -> None:
    result = _python(
        "from click.testing import CliRunner\n"
        "from mosaico.cli import main\n"
        "out = CliRunner().invoke(main, ['codegen', '--check'])\n"
        "print(out.exit_code)\n"
        "print(out.output)\n"
    )
    assert result.returncode == 0, result.stderr
    code, _, output = result.stdout.partition("\n")
    assert code == "1"
    assert "jinja2, pyyaml, ruff" in output
    assert "pip install 'mosaico-sdk[codegen]'" in output


def test_no_installed_package_replaces_our_command() -> None:
    """The test and other extras must not bring a package whose console script is also
    called ``mosaico`` (the reference client's is): the last installed would win."""
    from importlib.metadata import distributions

    ours = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
    clashes = {
        (dist.metadata["Name"], ep.name)
        for dist in distributions()
        for ep in dist.entry_points
        if ep.group == "console_scripts" and ep.name in ours
        and dist.metadata["Name"] != "mosaico-sdk"
    }  # fmt: skip
    assert not clashes, f"these packages install our command names: {sorted(clashes)}"


def test_the_wheel_ships_the_viewer_pages_and_their_licences(tmp_path: Path) -> None:
    import json
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("mosaico_sdk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = ROOT / "mosaico" / "viewer" / "static"
    shipped = {f"mosaico/viewer/{p.relative_to(static.parent).as_posix()}" for p in static.rglob("*") if p.is_file()}
    assert shipped <= names, f"not in the wheel: {sorted(shipped - names)}"
    manifest = json.loads((static / "vendor" / "manifest.json").read_text())
    for package in manifest:  # every bundled npm package has its licence beside it
        assert any(n.startswith(f"mosaico/viewer/static/vendor/licenses/{package}-") for n in names)
