"""``ListFlights`` criteria (spec §7.9) and our one extension of them.

The spec's criteria are ``b""`` and ``b"/"`` (every sequence). Our extension, which the
reference client never sends: the JSON object ``{"totals": true}`` (`TOTALS_CRITERIA`)
asks the server to fill each ``FlightInfo``'s ``total_records`` and ``total_bytes`` with the
sequence's row count and stored size (the sums its ``GetFlightInfo`` would give), so a
catalog can sort every sequence by size in one call.

>>> wants_totals(TOTALS_CRITERIA), wants_totals(b"")
(True, False)
"""

from __future__ import annotations

import json

from mosaico.protocol.errors import InvalidArgument

__all__ = ["TOTALS_CRITERIA", "wants_totals"]

TOTALS_CRITERIA = b'{"totals": true}'
_ALL = (b"", b"/")


def wants_totals(criteria: bytes) -> bool:
    """Whether ``criteria`` asks for the sequences' totals.

    Raises:
        InvalidArgument: criteria other than ``b""``, ``b"/"`` or a JSON object whose only
            key is a boolean ``totals``.
    """
    if criteria in _ALL:
        return False
    try:
        document = json.loads(criteria)
    except (ValueError, UnicodeDecodeError):
        document = None
    if (
        not isinstance(document, dict)
        or set(document) != {"totals"}
        or not isinstance(document["totals"], bool)
    ):
        shown = criteria[:80]
        raise InvalidArgument(
            f"ListFlights criteria {shown!r} unsupported; use b'', b'/' or {TOTALS_CRITERIA!r}"
        )
    return bool(document["totals"])
