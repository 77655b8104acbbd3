"""One process per local store folder.

Opening a store recovers from the previous run: uploads in progress are marked failed and
unknown files are swept. Run by a second process while the first still writes, that would
break the first one's live uploads, so a local store folder is locked for as long as a
process has it open. The lock is an ``flock`` on ``FOLDER/.lock``: the kernel drops it when
the process ends, however it ends, so a crash never leaves a stale lock behind.

The lock has a file of its own: closing a descriptor of the catalog file would drop
SQLite's POSIX record locks on it.
"""

from __future__ import annotations

import fcntl
import os

from mosaico.errors import MosaicoError


class StoreBusyError(MosaicoError):
    """Another process has the store folder open."""


LOCK_FILE = ".lock"


class FolderLock:
    """An exclusive, non-blocking lock on a store folder, held until `release`."""

    def __init__(self, folder: str) -> None:
        path = os.path.join(folder, LOCK_FILE)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise StoreBusyError(
                f"store {folder!r} is in use by another process; a store folder is opened "
                "by one process at a time: serve it with `mosaico serve --store DIR` and "
                "connect with --host/--port, or stop the other process"
            ) from None

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
