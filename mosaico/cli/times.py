"""Times on the command line: the one parser every option that takes a time uses.

Accepted forms (``TIME`` in the help of ``--start`` / ``--end``):

==============================  =============================================================
``2024-05-01T12:00:00.5Z``      ISO-8601 date and time; no offset means UTC; up to 9 decimals
``2024-05-01 12:00:00.123``     the same with a space (the form ``ls`` and ``info`` print)
``2024-05-01``                  a date alone: its midnight, UTC
``1714564800.5``                a bare number: seconds since the epoch (UTC)
``1714564800500ms``             a number with a unit: ``h``, ``min``, ``s``, ``ms``, ``us``, ``ns``
``+2.5s`` / ``+90``             an offset from the start of the data read (bare: seconds)
==============================  =============================================================

A bare number too large to be seconds (after the year 3000) is refused with a hint naming
the unit it probably has, rather than guessed. Every value is exact: decimal arithmetic
down to the nanosecond, never binary floats.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import click

NS_PER_S = 1_000_000_000
_UNITS = {
    "h": 3600 * NS_PER_S, "min": 60 * NS_PER_S, "s": NS_PER_S, "ms": 1_000_000,
    "us": 1_000, "µs": 1_000, "ns": 1,
}  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Seconds since the epoch at 3000-01-01: a bare number beyond it is not seconds.
_LAST_SECONDS = int((datetime(3000, 1, 1, tzinfo=timezone.utc) - _EPOCH).total_seconds())
_INT64 = 2**63
_NUMBER = re.compile(r"(?P<plus>\+)?(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-zµ]*)")
# An ISO time's fraction of a second (after hh:mm:ss or hhmmss), split off so that
# nanoseconds survive: datetime keeps microseconds only.
_FRACTION = re.compile(r"(\d\d:?\d\d:?\d\d)[.,](\d+)")

FORMS = (
    "an ISO-8601 time (2024-05-01T12:00:00.5Z; no offset means UTC), seconds since the "
    "epoch (1714564800.5), a number with a unit h, min, s, ms, us or ns (1714564800500ms), "
    "or +OFFSET from the start of the data (+2.5s)"
)


@attrs.frozen
class TimeArg:
    """A parsed time option: nanoseconds since the epoch, or an offset from a start.

    Attributes:
        ns: nanoseconds since the epoch, or the offset in nanoseconds when ``relative``.
        relative: the value was ``+OFFSET``: `resolve` adds the start of the data.
    """

    ns: int
    relative: bool = False

    def resolve(self, start_ns: int | None) -> int | None:
        """Nanoseconds since the epoch; an offset is added to ``start_ns`` (the first
        timestamp of the data read). None when the offset has no start (no data)."""
        if not self.relative:
            return self.ns
        return None if start_ns is None else start_ns + self.ns


def parse_time(text: str) -> TimeArg:
    """Parse one of the forms of the module docstring.

    Raises:
        ValueError: ``text`` is none of them, is finer than a nanosecond, or is out of the
            int64 nanosecond range; the message says why.
    """
    text = text.strip()
    match = _NUMBER.fullmatch(text)
    if match is not None:
        return _number(match)
    if text.startswith(("+", "-")):
        raise ValueError(
            f"{text!r}: an offset is '+' and a number with an optional unit (+2.5s); "
            "offsets back from the end are not supported"
        )
    return TimeArg(_checked(_iso(text), text))


def _number(match: re.Match[str]) -> TimeArg:
    number, unit, relative = match["number"], match["unit"], match["plus"] is not None
    if unit and unit not in _UNITS:
        raise ValueError(f"unknown unit {unit!r}: use one of {', '.join(_UNITS)}")
    try:
        value = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{number!r} is not a number") from None
    if not unit and not relative and value >= _LAST_SECONDS:
        raise ValueError(
            f"{number} as seconds since the epoch is after the year 3000; if it is "
            f"{_likely_unit(value)}, write {number}{_likely_unit(value, short=True)}"
        )
    ns = value * _UNITS[unit or "s"]
    if ns != ns.to_integral_value():
        raise ValueError(f"{match.group(0)!r} is finer than a nanosecond")
    return TimeArg(_checked(int(ns), match.group(0)), relative)


def _likely_unit(value: Decimal, short: bool = False) -> str:
    """The unit a too-large epoch number most likely has, judged by its size."""
    for limit, unit, name in ((10**17, "ns", "nanoseconds"), (10**14, "us", "microseconds")):
        if value >= limit:
            return unit if short else name
    return "ms" if short else "milliseconds"


def _iso(text: str) -> int:
    """Nanoseconds since the epoch of an ISO-8601 time; naive times are UTC."""
    fraction = _FRACTION.search(text)
    digits = "" if fraction is None else fraction.group(2)
    if len(digits) > 9:
        raise ValueError(f"{text!r} is finer than a nanosecond")
    whole = text
    if fraction is not None:
        whole = text[: fraction.start()] + fraction.group(1) + text[fraction.end() :]
    try:
        moment = datetime.fromisoformat(whole)
    except ValueError:
        raise ValueError(f"{text!r} is not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * NS_PER_S + int(digits.ljust(9, "0") or 0)


def _checked(ns: int, text: str) -> int:
    if not -_INT64 <= ns < _INT64:
        raise ValueError(f"{text!r} is outside the nanosecond range of int64 (years 1677-2262)")
    return ns


def window(
    start: TimeArg | None, end: TimeArg | None, origin_ns: int | None
) -> tuple[int | None, int | None]:
    """``--start``/``--end`` in nanoseconds, offsets taken from ``origin_ns``."""
    lo = None if start is None else start.resolve(origin_ns)
    hi = None if end is None else end.resolve(origin_ns)
    if lo is not None and hi is not None and lo >= hi:
        raise click.BadParameter(
            f"the window is [--start, --end): --end ({hi} ns) must be after --start ({lo} ns)",
            param_hint="--end",
        )
    return lo, hi


class TimeParamType(click.ParamType):
    """A click parameter type for `parse_time`; bad values name the option and the forms."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``value`` (a `TimeArg` passes through); failures are ``BadParameter``."""
        if isinstance(value, TimeArg):
            return value
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(f"{exc}.\nA TIME is {FORMS}.", param, ctx)


TIME = TimeParamType()
