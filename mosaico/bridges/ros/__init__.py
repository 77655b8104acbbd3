"""ROS bridge: ROS 1 bags, rosbag2 (sqlite3, mcap) ⇄ mosaico sequences, built on rosbags.

Ingest decodes each selected ROS topic in batches into Arrow record batches of a mosaico
type (standard adapters by ROS type, a generic adapter for everything else) and hands them
to a `SequenceSink`; export writes stored topics back with the recorded ROS types.
The `mosaico ingest` and `mosaico export` commands are built on `ingest` and `export`.
"""

from mosaico.bridges.ros.adapter import ADAPTERS, Adapter, TopicAdapter
from mosaico.bridges.ros.definitions import Definitions, MissingDefinitionsError
from mosaico.bridges.ros.errors import RosBridgeError, TopicFailure
from mosaico.bridges.ros.export import ExportReport, ExportTopic, default_ros_type, export
from mosaico.bridges.ros.generic import GENERIC, GenericAdapter
from mosaico.bridges.ros.ingest import IngestReport, TopicPlan, ingest, plan
from mosaico.bridges.ros.names import ROS_KEY, topic_name
from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.registry import adapter_for, standard_ros_types
from mosaico.bridges.ros.sink import MemorySequence, MemoryTopic, SequenceSink, TopicSink
from mosaico.bridges.ros.source import RosSource, RosTopic
from mosaico.bridges.ros.topic_filter import TopicFilter

__all__ = [
    "ADAPTERS",
    "GENERIC",
    "ROS_KEY",
    "Adapter",
    "Definitions",
    "ExportReport",
    "ExportTopic",
    "GenericAdapter",
    "IngestReport",
    "MemorySequence",
    "MemoryTopic",
    "MissingDefinitionsError",
    "Progress",
    "RosBridgeError",
    "RosSource",
    "RosTopic",
    "SequenceSink",
    "TopicAdapter",
    "TopicFailure",
    "TopicFilter",
    "TopicPlan",
    "TopicSink",
    "adapter_for",
    "default_ros_type",
    "export",
    "ingest",
    "plan",
    "standard_ros_types",
    "topic_name",
]
