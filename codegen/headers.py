"""What the DO NOT EDIT header of a generated file says: its YAML sources and the command
that regenerates it.

Paths are relative to the folder holding the output package, the folder the command runs
in, so two checkouts of one project generate identical files (no absolute or temporary
paths, no placeholders).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import attrs

STANDARD_COMMAND = "mosaico codegen"
STANDARD_SOURCES = "the ontology/*.yaml files"


@attrs.frozen
class Header:
    """The header texts of one generated package."""

    sources: str  # every YAML file of the package (``__init__``, strategies, reference)
    command: str  # the regenerate command
    module_sources: dict[str, str]  # module name -> its YAML file


def standard_header(targets: list[Path]) -> Header:
    """The header of the standard package (``mosaico codegen`` regenerates it in place)."""
    return Header(STANDARD_SOURCES, STANDARD_COMMAND, {p.stem: p.name for p in targets})


def user_header(dirs: list[Path], out: Path, package: str, targets: list[Path]) -> Header:
    """The header of a user package generated from `dirs` into `out`.

    >>> h = user_header([Path("/a/my_robot")], Path("/a/types"), "types", [Path("/a/my_robot/x.yaml")])
    >>> h.command, h.module_sources
    ('mosaico codegen --ontology my_robot --out types --package types', {'x': 'my_robot/x.yaml'})
    """
    base = out.absolute().parent
    words = [STANDARD_COMMAND]
    for d in dirs:
        words += ["--ontology", _relative(d, base)]
    words += ["--out", _relative(out, base), "--package", package]
    modules = {p.stem: _relative(p, base) for p in targets}
    return Header(
        ", ".join(sorted(modules.values())),
        " ".join(shlex.quote(w) if w != STANDARD_COMMAND else w for w in words),
        modules,
    )


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base` in POSIX form (absolute when no relative path exists)."""
    target = path.absolute()
    try:
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_posix()
