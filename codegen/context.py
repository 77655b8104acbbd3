"""What every step of resolution shares: the declarations, the diagnostics, name lookup."""

from __future__ import annotations

import attrs

from mosaico_codegen.diagnostics import Diagnostics
from mosaico_codegen.loader import LDict, SourceFile
from mosaico_codegen.typemap import SCALARS


@attrs.define
class Decl:
    """One declared type, enum or mixin, where it was written."""

    kind: str  # type | enum | mixin
    name: str
    source: SourceFile
    line: int
    body: LDict


@attrs.define
class Context:
    """The state of one resolution: where problems go, the package being generated (and
    the standard one, for `std:` files), every declaration by name, and the files each
    file may use names from (itself and its transitive imports)."""

    diag: Diagnostics
    package: str
    std_package: str
    decls: dict[str, Decl] = attrs.field(factory=dict)
    visible: dict[str, set[str]] = attrs.field(factory=dict)  # file display -> visible files

    def module_of(self, source: SourceFile) -> str:
        """The fully qualified module generated from `source` (`mosaico.types.geometry`)."""
        return f"{self.std_package if source.std else self.package}.{source.path.stem}"

    def check_keys(
        self, src: SourceFile, body: LDict, allowed: set[str], where: str, what: str
    ) -> None:
        """Report every key of `body` not in `allowed` as an unknown `what`, at its line."""
        for key in body:
            if key not in allowed:
                self.diag.error(
                    src.display, body.line_of(key), where,
                    f"unknown {what} {key!r} (expected one of: {', '.join(sorted(allowed))})",
                )  # fmt: skip

    def report_duplicates(
        self, src: SourceFile, body: LDict, where: str, what: str = "key"
    ) -> None:
        """Report every key repeated in the YAML mapping `body` (the first value is kept)."""
        for key, line in getattr(body, "duplicates", []):
            self.diag.error(src.display, line, where, f"duplicate {what} {key!r}")

    def lookup(
        self, src: SourceFile, name: str, line: int, where: str, kinds: tuple[str, ...]
    ) -> Decl | None:
        """The declaration `name` of one of `kinds` visible from `src`, or None (reported)."""
        decl = self.decls.get(name)
        if decl is None or decl.kind not in kinds:
            if decl is None and kinds != ("mixin",) and name[:1].islower():
                message = f"unknown scalar type {name!r} (scalars: {', '.join(SCALARS)})"
            else:
                message = f"unknown {' or '.join(kinds)} {name!r}"
            self.diag.error(src.display, line, where, message)
            return None
        if decl.source.display not in self.visible[src.display]:
            self.diag.error(
                src.display, line, where,
                f"{decl.kind} {name!r} is declared in {decl.source.display}, which this file does not import",
            )  # fmt: skip
            return None
        return decl


@attrs.define
class Site:
    """Where a field (or an enum) is declared: reports problems against its YAML mapping."""

    ctx: Context
    src: SourceFile
    spec: LDict
    where: str  # Type.field
    line: int  # of the field's key

    def error(self, key: str, message: str) -> None:
        """Report `message` at the line of `key`, or of the field when `key` is absent."""
        self.ctx.diag.error(self.src.display, self.spec.line_of(key), self.where, message)
