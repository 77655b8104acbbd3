"""Phase 1: read YAML files into plain values that remember their line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import yaml

from mosaico_codegen.diagnostics import Diagnostics


class LDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]
    duplicates: list[tuple[str, int]]  # repeated keys, reported by the resolver in context

    def line_of(self, key: str) -> int:
        """The line of `key`, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class LList(list):  # type: ignore[type-arg]
    """A sequence from YAML that knows its own line (1-based)."""

    line: int = 0


@attrs.define
class SourceFile:
    """One loaded YAML file; `display` is the name used in messages and headers."""

    path: Path
    display: str
    data: LDict
    std: bool = False


def _convert(node: yaml.Node, file: str, diag: Diagnostics) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = LDict()
        out.line = line
        out.key_lines = {}
        out.duplicates = []
        for key_node, value_node in node.value:
            key = _convert(key_node, file, diag)
            if not isinstance(key, str):
                diag.error(file, key_node.start_mark.line + 1, "", f"key {key!r} is not a string")
                continue
            if key in out:
                out.duplicates.append((key, key_node.start_mark.line + 1))
                continue
            out.key_lines[key] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, file, diag)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LList(_convert(n, file, diag) for n in node.value)
        seq.line = line
        return seq
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)  # type: ignore[no-untyped-call]


def load_file(path: Path, display: str, diag: Diagnostics, std: bool = False) -> SourceFile | None:
    """Parse one YAML file into `LDict` / `LList` values; None when it cannot be used.

    A file that cannot be read, is not valid YAML or is not a mapping is reported to
    `diag` under `display` and gives None; an empty file is an empty mapping. Repeated keys
    keep their first value and are listed in `LDict.duplicates` for the resolver.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        diag.error(display, 1, "", f"cannot read file: {exc.strerror}")
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        diag.error(display, line, "", f"invalid YAML: {getattr(exc, 'problem', exc)}")
        return None
    if node is None:
        data = LDict()
        data.line, data.key_lines, data.duplicates = 1, {}, []
    else:
        data = _convert(node, display, diag)
        if not isinstance(data, LDict):
            diag.error(display, 1, "", "the file must be a mapping of imports/enums/mixins/types")
            return None
    return SourceFile(path=path, display=display, data=data, std=std)
