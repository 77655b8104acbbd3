"""mosaico: typed, queryable multi-modal robotics recordings.

The standard ontology types and the client SDK are importable from here:

>>> from mosaico import IMU, MosaicoClient, Message, Vector3d

Subpackages: ``mosaico.types`` (the standard types, generated), ``mosaico.ontology`` (their
run-time support and the tag registry), ``mosaico.client``, ``mosaico.query``,
``mosaico.ml``, ``mosaico.bridges.ros``, ``mosaico.server``, ``mosaico.protocol``,
``mosaico.errors``.
"""

from mosaico import ontology, types
from mosaico.client import *  # noqa: F403
from mosaico.client import __all__ as _client_names
from mosaico.types import *  # noqa: F403
from mosaico.types import __all__ as _type_names

__all__ = ["ontology", "types", *_type_names, *_client_names]
