"""MCAP beyond ROS: files whose channels carry protobuf or JSON messages (the `mcap` extra).

`McapSource` opens such a file with the `mcap` library and gives the ROS bridge's ingest
loop the interface of `RosSource`: `mosaico.bridges.ros.ingest` and `mosaico ingest` pick it
by themselves for an MCAP file with any channel that is not ROS 2 (`source.open_source`),
and ingest every channel of it, its ROS channels included (ROS 2 CDR, or ROS 1 in a
`ros1` MCAP file). Foxglove's well-known schemas map
to the standard types (`foxglove.py`); other schemas keep their own layout (`generic.py`)
with the schema in the topic's `_mcap_` metadata.
"""

from mosaico.bridges.mcap.decoders import Decoded, decoder_for
from mosaico.bridges.mcap.foxglove import FOXGLOVE, FoxgloveAdapter, JsonView
from mosaico.bridges.mcap.generic import McapGenericAdapter, generic_adapter
from mosaico.bridges.mcap.source import McapSource, needs_mcap
from mosaico.bridges.ros.names import MCAP_KEY

__all__ = [
    "FOXGLOVE",
    "MCAP_KEY",
    "Decoded",
    "FoxgloveAdapter",
    "JsonView",
    "McapGenericAdapter",
    "McapSource",
    "decoder_for",
    "generic_adapter",
    "needs_mcap",
]
