"""How chunk files reach stable storage: the one seam between the chunk store and fsync.

A chunk is durable once its bytes and the directory entries naming it survive a power loss.
On a local filesystem that takes ``fsync`` of the file (before it is renamed into place) and
of the folder it lands in (after the rename, and of ``chunks/`` when a topic folder is new).
An object store's PUT is durable by itself, so other filesystems need nothing; a store
configured for speed over durability (``StoreConfig(durable=False)``, ``mosaico serve
--no-fsync``) skips the calls too.
"""

from __future__ import annotations

import os
from typing import Protocol

import pyarrow.fs as pafs


class Durability(Protocol):
    """What the chunk store calls to make its writes durable (paths as ``pyarrow.fs`` names
    them)."""

    def sync_file(self, path: str) -> None:
        """Return once the file's content is on stable storage."""

    def sync_dir(self, path: str) -> None:
        """Return once the folder's entries (files created, renamed into it) are stable."""


class NoSync:
    """Nothing to do: the filesystem is durable by itself, or durability was switched off."""

    def sync_file(self, path: str) -> None:
        """Nothing."""

    def sync_dir(self, path: str) -> None:
        """Nothing."""


class LocalSync:
    """``os.fsync`` of files and folders of the local filesystem."""

    def sync_file(self, path: str) -> None:
        """fsync the file (Linux flushes a file's data through any descriptor of it)."""
        _fsync(path, os.O_RDONLY)

    def sync_dir(self, path: str) -> None:
        """fsync the folder, so that the entries created or renamed in it persist."""
        _fsync(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durability_for(fs: pafs.FileSystem, durable: bool) -> Durability:
    """The durability policy of a store on ``fs``: fsync on a local filesystem when
    ``durable``, else nothing."""
    if durable and isinstance(fs, pafs.LocalFileSystem):
        return LocalSync()
    return NoSync()
