"""`$match` glob patterns (spec §8.6), matched in time linear in the text.

A pattern is read once into tokens, each matching exactly one character (a literal, ``?``,
``#``, a ``[set]``) or ``*``. Two evaluators are built from them:

- ``arrow_glob``: one RE2 expression for ``pyarrow.compute.match_substring_regex`` (ontology
  string columns); RE2 never backtracks.
- ``python_glob``: a ``Glob`` for catalog names and user metadata. Python's ``re`` backtracks
  (``*a*a*a*a*a*a*a*a*a*a*b`` against 34 ``a``s took seconds as one regex), so a ``Glob``
  never hands it a ``*``: the pieces between stars are fixed-width, quantifier-free
  expressions, matched leftmost-first one after another, which is exact for globs.
- ``like_pattern``: an SQL ``LIKE`` pattern that every text the glob matches also matches
  (the catalog narrows names with it; the ``Glob`` still decides).

Every ASCII character that is not a letter or digit is written as ``\\xHH``, which both
dialects read as that literal character, so no escaping rule of either dialect can bite.
Patterns longer than ``MAX_PATTERN_CHARS`` are refused where queries are validated.
"""

from __future__ import annotations

import functools
import re

import attrs

from mosaico.errors import InputError

MAX_PATTERN_CHARS = 256
"""Longest `$match` pattern a query may hold."""
_STAR = "*"


class GlobError(InputError):
    """A pattern that cannot be translated (an inverted character range)."""


def _literal(char: str) -> str:
    if char.isascii() and not char.isalnum():
        return f"\\x{ord(char):02x}"
    return char


def _char_set(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex class of the set opening at ``pattern[start] == '['`` and the index after
    its ``]``; None when the set never closes (then ``[`` is a literal)."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    first = i
    items: list[str] = []
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and i > first:  # a ']' right after '[' or '[!' is a member
            body = "".join(items)
            return (f"[^{body}]" if negate else f"[{body}]"), i + 1
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = char, pattern[i + 2]
            if low > high:
                raise GlobError(f"character range {low}-{high} is inverted")
            items.append(f"{_literal(low)}-{_literal(high)}")
            i += 3
            continue
        items.append(_literal(char))
        i += 1
    return None


def _tokens(pattern: str) -> list[str]:
    """``_STAR`` for each ``*``, else the one-character expression of each item."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(_STAR)
        elif char == "?":
            out.append(".")
        elif char == "#":
            out.append("[0-9]")
        elif char == "[" and (found := _char_set(pattern, i)) is not None:
            out.append(found[0])
            i = found[1]
            continue
        else:
            out.append(_literal(char))
        i += 1
    return out


@attrs.frozen
class Glob:
    """A compiled pattern: the fixed-width pieces between its stars (``len(pieces)`` is the
    number of stars plus one; a piece may be empty) and the width of each."""

    pieces: tuple[re.Pattern[str], ...]
    widths: tuple[int, ...]

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of ``text`` matches, in O(len(text) x pattern length)."""
        if len(self.pieces) == 1:
            return self.pieces[0].fullmatch(text) is not None
        tail = len(text) - self.widths[-1]
        if tail < self.widths[0] or not self.pieces[0].match(text, 0, self.widths[0]):
            return False
        if not self.pieces[-1].fullmatch(text, tail):
            return False
        start = self.widths[0]
        for piece, width in zip(self.pieces[1:-1], self.widths[1:-1], strict=True):
            if width:
                found = piece.search(text, start, tail)
                if found is None:
                    return False
                start = found.end()
        return True


@functools.lru_cache(maxsize=256)
def python_glob(pattern: str) -> Glob:
    """The compiled pattern; ``*`` and ``?`` also match newlines.

    >>> python_glob("car#/[a-z]*").fullmatch("car1/imu/front")
    True

    Raises:
        GlobError: a character range such as ``[z-a]`` is inverted.
    """
    pieces: list[list[str]] = [[]]
    for token in _tokens(pattern):
        if token == _STAR:
            pieces.append([])
        else:
            pieces[-1].append(token)
    return Glob(
        tuple(re.compile("".join(piece), re.DOTALL) for piece in pieces),
        tuple(len(piece) for piece in pieces),
    )


def arrow_glob(pattern: str) -> str:
    """RE2 pattern for ``pyarrow.compute.match_substring_regex``, anchored at both ends
    (RE2's ``$`` without multi-line mode is the very end of the text)."""
    body = "".join(".*" if token == _STAR else token for token in _tokens(pattern))
    return f"(?s)^(?:{body})$"


LIKE_ESCAPE = "!"
"""The escape character of ``like_pattern``'s patterns (``LIKE ? ESCAPE '!'``)."""


def like_literal(text: str) -> str:
    """``text`` as a ``LIKE`` pattern (escape character ``LIKE_ESCAPE``) matching only itself
    (up to the ASCII case SQLite's ``LIKE`` ignores)."""
    return "".join(f"{LIKE_ESCAPE}{c}" if c in f"%_{LIKE_ESCAPE}" else c for c in text)


def _like_literal(token: str) -> str:
    return like_literal(chr(int(token[2:], 16)) if token.startswith("\\x") else token)


def like_pattern(pattern: str) -> str:
    """An SQL ``LIKE`` pattern (escape character ``LIKE_ESCAPE``) matching every text the glob
    matches: ``*`` is ``%``, any other wildcard (``?``, ``#``, a ``[set]``) is ``_``, so the
    pattern may match more than the glob, never less. ``LIKE`` ignoring ASCII case (SQLite)
    only widens it further.

    >>> like_pattern("run_#*")
    'run!__%'

    Raises:
        GlobError: a character range such as ``[z-a]`` is inverted.
    """
    out: list[str] = []
    for token in _tokens(pattern):
        if token == _STAR:
            out.append("%")
        elif token == "." or token.startswith("["):
            out.append("_")
        else:
            out.append(_like_literal(token))
    return "".join(out)
