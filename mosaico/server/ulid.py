"""Session identifiers: ULIDs, so that replicas make unique, time-ordered ids without asking
each other (spec §3.3: a session locator is ``<sequence>:<session identifier>``).

A ULID is 48 bits of Unix time in milliseconds followed by 80 random bits, written as 26
characters of Crockford base-32 (digits and upper-case letters without I, L, O and U), so
identifiers sort by creation time and fit the protocol's session-id alphabet.
"""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LENGTH = 26  # 130 bits of base-32 hold the 128-bit value


def new_ulid() -> str:
    """A new ULID: time-ordered across calls to the millisecond, random within one.

    Example:
        >>> len(new_ulid())
        26
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(_LENGTH)))
