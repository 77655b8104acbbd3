"""The Mosaico platform server: Arrow Flight front end, Parquet chunks, SQLite catalog."""

from mosaico.server.embedded import EmbeddedServer, ListenError
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.folder_lock import StoreBusyError
from mosaico.server.store import Store, StoreConfig, StoreError, StoreNotFoundError

__all__ = [
    "EmbeddedServer",
    "ListenError",
    "MosaicoFlightServer",
    "Store",
    "StoreConfig",
    "StoreError",
    "StoreBusyError",
    "StoreNotFoundError",
]
