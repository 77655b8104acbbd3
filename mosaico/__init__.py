"""mosaico: typed, queryable multi-modal robotics recordings.

The standard ontology types are importable from here (`from mosaico import IMU, Vector3d`).
"""

from mosaico import ontology
from mosaico_ontology import *  # noqa: F403
from mosaico_ontology import __all__ as _ontology_names

__all__ = ["ontology", *_ontology_names]
