"""A full disk, told apart from other storage faults: the store cannot take more now, which
the client gets as UNAVAILABLE (worth retrying once space is freed), never INTERNAL."""

from __future__ import annotations

import errno
import os
import sqlite3

from mosaico.protocol.errors import Unavailable

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL (named in the module from Python 3.11)
_SQLITE_FULL_TEXT = "database or disk is full"


class OutOfSpace(Unavailable):
    """The store's disk (or the user's quota) is full; ``reason`` is the system's words."""

    def __init__(self, reason: str, writing: str) -> None:
        super().__init__(f"the store is out of disk space ({reason}) while writing {writing}")
        self.reason = reason


def disk_full_reason(exc: BaseException) -> str | None:
    """Why ``exc`` says the disk is full ("No space left on device", "database or disk is
    full"), or None if it does not: an ``OSError`` with ``ENOSPC``/``EDQUOT``, SQLite's
    ``SQLITE_FULL``, or an `OutOfSpace` already."""
    if isinstance(exc, OutOfSpace):
        return exc.reason
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return os.strerror(exc.errno)
    if isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or _SQLITE_FULL_TEXT in str(exc)
    ):
        return _SQLITE_FULL_TEXT
    return None
