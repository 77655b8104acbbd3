"""The Mosaico platform server: Arrow Flight front end, Parquet chunks, SQLite catalog."""

from mosaico.server.embedded import EmbeddedServer
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.store import Store, StoreConfig, StoreError

__all__ = ["EmbeddedServer", "MosaicoFlightServer", "Store", "StoreConfig", "StoreError"]
