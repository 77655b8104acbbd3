"""mosaico: typed, queryable multi-modal robotics recordings.

The standard ontology types are importable from here (`from mosaico import IMU, Vector3d`),
and so is the client SDK (`from mosaico import MosaicoClient, Message`).
"""

from typing import TYPE_CHECKING

from mosaico import ontology
from mosaico_ontology import *  # noqa: F403
from mosaico_ontology import __all__ as _ontology_names

if not TYPE_CHECKING:
    # Hidden from mypy: importing the client puts this package in an import cycle, where mypy
    # drops the names of the star import above. Typed code imports from mosaico.client.
    from mosaico.client import *  # noqa: F403
    from mosaico.client import __all__ as _client_names
else:
    _client_names: list[str] = []

__all__ = ["ontology", *_ontology_names, *_client_names]
