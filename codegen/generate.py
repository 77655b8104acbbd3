"""The generator's entry point: load -> resolve -> render -> write, or --check for drift."""

from __future__ import annotations

import difflib
import importlib.util
import os
import tempfile
from pathlib import Path

import attrs

from mosaico_codegen import model
from mosaico_codegen.diagnostics import CodegenUsageError, Diagnostics
from mosaico_codegen.headers import standard_header, user_header
from mosaico_codegen.loader import SourceFile, load_file
from mosaico_codegen.project import scaffold
from mosaico_codegen.render import HEADER_MARK, render_package
from mosaico_codegen.resolve import resolve

STD_PACKAGE = "mosaico.types"
STD_PREFIX = "std:"


def standard_ontology_dir() -> Path:
    """The folder of the standard YAML files (installed as ``mosaico_codegen.standard``)."""
    spec = importlib.util.find_spec("mosaico_codegen.standard")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def standard_output_dir() -> Path:
    """The folder of ``mosaico.types``, found without importing it (it may be stale)."""
    spec = importlib.util.find_spec("mosaico")
    if spec is None or not spec.submodule_search_locations:
        raise CodegenUsageError(f"cannot locate the {STD_PACKAGE} package; pass --out")
    return Path(next(iter(spec.submodule_search_locations))) / "types"


@attrs.define
class Outcome:
    """What a run did: files written (changed ones only) and orphans removed, by name; in
    check mode nothing is written and ``drift`` holds the diff from the files on disk."""

    written: list[str] = attrs.field(factory=list)
    removed: list[str] = attrs.field(factory=list)
    drift: str = ""  # unified diff, in check mode
    project: str = ""  # the pyproject.toml written next to a new user package
    hint: str = ""  # how to declare the package's entry point, when nothing declares it

    @property
    def stale(self) -> bool:
        """Whether ``--check`` found a difference (the package needs regenerating)."""
        return bool(self.drift)


def generate(
    ontology_dirs: list[Path] | None = None,
    out: Path | None = None,
    package: str | None = None,
    check: bool = False,
) -> Outcome:
    """Generate a package from YAML folders (the standard ontology when none is given).

    A user package generated into a new folder gets a ``pyproject.toml`` next to it when
    that folder's parent is no Python project yet (see `project.scaffold`).
    """
    std_dir = standard_ontology_dir()
    standard = not ontology_dirs
    dirs = [std_dir] if standard else [Path(d) for d in ontology_dirs or []]
    if standard:
        package = STD_PACKAGE
    else:
        package = package or (out.name if out else None)
        if not package or not package.isidentifier():
            raise CodegenUsageError(f"--package must be a Python identifier, got {package!r}")
    if out is None:
        out = standard_output_dir() if standard else Path(package)
    files = render_files(dirs, std_dir, package, standard, out)
    if check:
        return check_files(out, files)
    new_folder = not out.exists()
    outcome = write_files(out, files)
    if not standard:
        outcome.project, outcome.hint = scaffold(out, package, new_folder)
    return outcome


def render_files(
    dirs: list[Path], std_dir: Path, package: str, standard: bool, out: Path
) -> dict[str, str]:
    """Load every ``*.yaml`` of `dirs` (and their imports), resolve and render them.

    Returns file name -> formatted text of the package (modules, ``__init__.py``,
    ``strategies.py``, ``REFERENCE.md``). `standard` renders the standard ontology
    itself; otherwise the standard tags are reserved. ``std:`` imports name files of
    `std_dir`. `out` is where the package goes: header paths are relative to its parent.

    Raises:
        CodegenError: with every problem found, when there is any.
    """
    diag = Diagnostics()
    targets: list[SourceFile] = []
    loaded: dict[Path, SourceFile] = {}
    for d in dirs:
        if not d.is_dir():
            diag.error(str(d), 0, "", "ontology folder does not exist")
            continue
        for path in sorted(d.glob("*.yaml")):
            src = _load(path, std_dir, standard, loaded, diag)
            if src is not None:
                targets.append(src)
    if not targets and not diag.problems:
        diag.error(",".join(map(str, dirs)), 0, "", "no .yaml files found")
    visible = _imports(list(targets), std_dir, standard, loaded, diag)
    taken = {} if standard else _standard_tags(std_dir)
    modules = resolve(list(loaded.values()), targets, visible, package, STD_PACKAGE, taken, diag)
    diag.raise_if_any()
    foreign = _foreign_strategies(modules, package)
    paths = [t.path for t in targets]
    header = standard_header(paths) if standard else user_header(dirs, out, package, paths)
    return render_package(modules, package, header, foreign)


def _display(path: Path, std_dir: Path) -> str:
    if path.parent == std_dir:
        return f"ontology/{path.name}"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load(
    path: Path, std_dir: Path, standard: bool, loaded: dict[Path, SourceFile], diag: Diagnostics
) -> SourceFile | None:
    key = path.resolve()
    if key in loaded:
        return loaded[key]
    is_std = key.parent == std_dir.resolve()
    src = load_file(path, _display(path, std_dir), diag, std=is_std)
    if src is not None:
        loaded[key] = src
    return src


def _imports(
    targets: list[SourceFile],
    std_dir: Path,
    standard: bool,
    loaded: dict[Path, SourceFile],
    diag: Diagnostics,
) -> dict[str, set[str]]:
    """Load imported files; return file -> files whose names it sees (itself and its
    transitive imports)."""
    edges: dict[str, list[str]] = {}
    pending = list(targets)
    while pending:
        src = pending.pop()
        if src.display in edges:
            continue
        edges[src.display] = []
        imports = src.data.get("imports", [])
        line = src.data.line_of("imports")
        if not isinstance(imports, list):
            diag.error(src.display, line, "", "'imports' must be a list of file names")
            continue
        for name in imports:
            if not isinstance(name, str):
                diag.error(src.display, line, "", f"import {name!r} is not a file name")
                continue
            path = (
                std_dir / f"{name[len(STD_PREFIX) :]}.yaml"
                if name.startswith(STD_PREFIX)
                else src.path.parent / name
            )
            if not path.is_file():
                diag.error(src.display, line, "", f"imported file {name!r} not found")
                continue
            dep = _load(path, std_dir, standard, loaded, diag)
            if dep is None:
                continue
            edges[src.display].append(dep.display)
            pending.append(dep)
    _report_import_cycles(edges, {s.display: s for s in loaded.values()}, diag)
    visible: dict[str, set[str]] = {}
    for start in edges:
        seen = {start}
        stack = [start]
        while stack:
            for nxt in edges.get(stack.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        visible[start] = seen
    return visible


def _report_import_cycles(
    edges: dict[str, list[str]], by_display: dict[str, SourceFile], diag: Diagnostics
) -> None:
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            cycle = path[path.index(node) :] + [node]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                src = by_display[path[-1]]
                diag.error(
                    src.display,
                    src.data.line_of("imports"),
                    "",
                    f"import cycle: {' -> '.join(cycle)}",
                )
            return
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in edges.get(node, []):
            visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(edges):
        visit(node, [])


def _standard_tags(std_dir: Path) -> dict[str, str]:
    """Tags of the standard ontology, which a user ontology may not reuse."""
    diag = Diagnostics()
    loaded = {}
    for path in sorted(std_dir.glob("*.yaml")):
        src = load_file(path, _display(path, std_dir), diag, std=True)
        if src is not None:
            loaded[path] = src
    tags: dict[str, str] = {}
    for src in loaded.values():
        for name, body in (src.data.get("types") or {}).items():
            tag = body.get("tag", name) if isinstance(body, dict) else name
            tags[str(tag)] = f"{STD_PACKAGE}.{src.path.stem}.{name}"
    return tags


def _foreign_strategies(modules: list[model.Module], package: str) -> list[model.Import]:
    """Strategy functions of types nested from other packages (the standard ontology)."""
    own = {t.name for m in modules for t in m.types}
    needed: dict[str, set[str]] = {}
    for m in modules:
        for imp in m.imports:
            root = _package_of(imp.module)
            if root != package:
                for name in imp.names:
                    if name not in own:
                        needed.setdefault(f"{root}.strategies", set()).add(model.snake(name))
    return [model.Import(mod, sorted(names)) for mod, names in sorted(needed.items())]


def _package_of(module: str) -> str:
    """The generated package a module belongs to (the standard one has a dotted name)."""
    if module.startswith(f"{STD_PACKAGE}."):
        return STD_PACKAGE
    return module.split(".")[0]


# --- writing and checking ------------------------------------------------------------------------


def _generated_files(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    found = []
    for p in sorted([*out.glob("*.py"), *out.glob("*.md")]):
        with p.open(encoding="utf-8", errors="replace") as fh:
            if HEADER_MARK in fh.readline():
                found.append(p)
    return found


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def write_files(out: Path, files: dict[str, str]) -> Outcome:
    """Write `files` into `out` (created if missing), each through a temporary file and a
    rename; unchanged files are left alone, so regeneration touches only what differs.
    New files get the mode of any new file (the umask applies), rewritten ones keep theirs.

    A generated file (one with the header mark) that `files` no longer has is removed.
    """
    outcome = Outcome()
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = out / name
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        mode = target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode()
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp makes 0600 files
        os.replace(tmp, target)
        outcome.written.append(name)
    for orphan in _generated_files(out):
        if orphan.name not in files:
            orphan.unlink()
            outcome.removed.append(orphan.name)
    return outcome


def check_files(out: Path, files: dict[str, str]) -> Outcome:
    """Compare `files` with `out` without writing: ``drift`` gets a unified diff per file
    that differs or is missing, and a line per orphaned generated file."""
    outcome = Outcome()
    diffs: list[str] = []
    for name, text in files.items():
        target = out / name
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            diffs.extend(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{out.name}/{name} (on disk)",
                    tofile=f"{out.name}/{name} (from YAML)",
                )
            )
    for orphan in _generated_files(out):
        if orphan.name not in files:
            diffs.append(f"orphaned generated file {out.name}/{orphan.name} (no YAML source)\n")
    outcome.drift = "".join(diffs)
    return outcome
