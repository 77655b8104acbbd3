"""Errors of a generator run: collected all together, each naming file:line and Type.field."""

from __future__ import annotations

import attrs

from mosaico.errors import MosaicoError


@attrs.frozen(order=True)
class Problem:
    """One error: the file as displayed, its 1-based line (0 when the problem has no line,
    such as a missing folder), `where` (`Type.field`, or empty) and the message.

    Problems sort by file, then line; `str()` gives `file:line: where: message`.
    """

    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{where} {self.message}"


class CodegenUsageError(MosaicoError, ValueError):
    """The generator was called wrongly (bad package name, no output folder)."""


class CodegenError(MosaicoError):
    """The ontology is invalid; `problems` lists every error found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the ontology:\n{lines}")


@attrs.define
class Diagnostics:
    """Collects the problems of one run, so that every phase goes on and all are reported."""

    problems: list[Problem] = attrs.field(factory=list)

    def error(self, file: str, line: int, where: str, message: str) -> None:
        """Record one problem (see `Problem` for the arguments)."""
        self.problems.append(Problem(file, line, where, message))

    def raise_if_any(self) -> None:
        """Raise `CodegenError` with every problem recorded so far, if there is one."""
        if self.problems:
            raise CodegenError(self.problems)
