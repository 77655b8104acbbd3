"""The client SDK: connect (remote or embedded), write sequences, read them back typed.

>>> with MosaicoClient.local("store") as client:
...     with client.sequence_create("run-1", {"site": "lab"}) as seq:
...         imu = seq.topic_create("imu", {}, IMU)
...         imu.push(Message(t, IMU(...)))
...     for topic, msg in client.sequence_handler("run-1").get_data_streamer():
...         ...
"""

from mosaico.client.client import MosaicoClient
from mosaico.client.errors import Unavailable, UploadError, WriterClosedError
from mosaico.client.fallback import Unmodeled, UnmodeledTypeWarning
from mosaico.client.handlers import SequenceHandler, TopicHandler
from mosaico.client.message import Message
from mosaico.client.policies import (
    SessionLevelErrorPolicy,
    SessionStatus,
    TopicLevelErrorPolicy,
    TopicWriterStatus,
)
from mosaico.client.sequence_writer import SequenceUpdater, SequenceWriter
from mosaico.client.streams import SequenceDataStreamer, TopicDataStreamer
from mosaico.client.topic_writer import TopicWriter

__all__ = [
    "Message",
    "MosaicoClient",
    "SequenceDataStreamer",
    "SequenceHandler",
    "SequenceUpdater",
    "SequenceWriter",
    "SessionLevelErrorPolicy",
    "SessionStatus",
    "TopicDataStreamer",
    "TopicHandler",
    "TopicLevelErrorPolicy",
    "TopicWriter",
    "TopicWriterStatus",
    "Unavailable",
    "Unmodeled",
    "UnmodeledTypeWarning",
    "UploadError",
    "WriterClosedError",
]
