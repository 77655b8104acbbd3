"""Client-side errors. Server-reported failures use the shared taxonomy of mosaico.protocol."""

from __future__ import annotations

from mosaico.errors import MosaicoError, StateError
from mosaico.protocol.errors import Unavailable

__all__ = ["Unavailable", "UploadError", "WriterClosedError"]


class WriterClosedError(StateError):
    """A write on a sequence or topic writer that was already finalized or closed."""


class UploadError(MosaicoError, RuntimeError):
    """A topic upload failed on a background thread; raised at the next call on the writer.

    Its ``__cause__`` is the server's reason (a `ProtocolError`) or the conversion error.
    """
