"""The wheel carries every package of the tree, under names that do not clash."""

from __future__ import annotations

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
    assert {"mosaico_codegen", "mosaico_codegen.standard", "mosaico_ontology"} <= declared
    assert not {"codegen", "generated", "ontology"} & declared


def test_installed_standard_ontology_has_its_yaml() -> None:
    from mosaico_codegen.generate import standard_ontology_dir

    shipped = {p.name for p in standard_ontology_dir().glob("*.yaml")}
    assert shipped == {p.name for p in (ROOT / "ontology").glob("*.yaml")}
