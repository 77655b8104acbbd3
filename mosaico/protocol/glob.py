"""`$match` glob patterns (spec §8.6) translated to regular expressions.

One translation serves both evaluators: Python's ``re`` (catalog names, user metadata) and
RE2 inside ``pyarrow.compute.match_substring_regex`` (ontology string columns). Every ASCII
character that is not a letter or digit is written as ``\\xHH``, which both dialects read as
that literal character, so no escaping rule of either dialect can bite.
"""

from __future__ import annotations

import functools
import re

from mosaico.errors import InputError


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


def _translate(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
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
    return "".join(out)


@functools.lru_cache(maxsize=256)
def python_glob(pattern: str) -> re.Pattern[str]:
    """Compiled pattern for ``fullmatch``; ``*`` and ``?`` also match newlines.

    >>> bool(python_glob("car#/[a-z]*").fullmatch("car1/imu/front"))
    True

    Raises:
        GlobError: a character range such as ``[z-a]`` is inverted.
    """
    return re.compile(_translate(pattern), re.DOTALL)


def arrow_glob(pattern: str) -> str:
    """RE2 pattern for ``pyarrow.compute.match_substring_regex``, anchored at both ends
    (RE2's ``$`` without multi-line mode is the very end of the text)."""
    return f"(?s)^(?:{_translate(pattern)})$"
