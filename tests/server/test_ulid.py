"""Session identifiers are ULIDs: 26 Crockford base-32 characters, ordered by time."""

from __future__ import annotations

import time

from mosaico.protocol.names import SessionLocator
from mosaico.server.ulid import new_ulid


def test_form_and_protocol_alphabet() -> None:
    ident = new_ulid()
    assert len(ident) == 26
    assert set(ident) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert SessionLocator.parse(f"seq:{ident}").session_id == ident


def test_unique_and_time_ordered() -> None:
    first = new_ulid()
    time.sleep(0.002)
    later = [new_ulid() for _ in range(1000)]
    assert len(set(later)) == 1000
    assert all(first[:10] < ident[:10] for ident in later)  # the 48-bit time prefix
