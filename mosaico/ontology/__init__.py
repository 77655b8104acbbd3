"""The run-time support of generated ontology types, and the tag registry.

Generated classes (the standard ones in ``mosaico.types`` and those of user ontologies)
import only this package. One module per job:

* ``base``: ``OntologyType``, the base class (conversions, when checks run);
* ``constraints``: the constraint model (``Constraints``, ``Ordered``, ``AtLeastOneOf``) and
  the texts of failed checks; ``checks`` applies it to Arrow columns;
* ``columnar``: object <-> Arrow conversion; ``placeholders``: values under null parents;
  ``enums``: plain values <-> the generated Enum members of enum fields;
* ``validity``: the validation switch and ``ValidationError``; ``kinds``: the Python kinds
  each scalar accepts;
* ``tags``: the tag registry; ``schema``: topic schemas and fingerprints;
* ``query``: the ``Type.Q`` query proxies.

The generator (``mosaico_codegen``, the ``codegen`` extra) is never needed to use them.

>>> from mosaico.ontology import registry, validation
>>> registry["IMU"].__name__
'IMU'
>>> with validation(False):  # skip value checks in a hot ingest loop
...     ...
"""

from __future__ import annotations

from mosaico.ontology.base import OntologyType
from mosaico.ontology.constraints import AtLeastOneOf, Constraints, Ordered
from mosaico.ontology.query import Expression, FieldPath, QueryBuildError, UnknownFieldError
from mosaico.ontology.schema import fingerprint, schema_fingerprint, topic_schema
from mosaico.ontology.tags import TagClashError, register, registry
from mosaico.ontology.validity import (
    ValidationError,
    set_validation,
    validation,
    validation_enabled,
)

__all__ = [
    "AtLeastOneOf",
    "Constraints",
    "Expression",
    "FieldPath",
    "OntologyType",
    "Ordered",
    "QueryBuildError",
    "TagClashError",
    "UnknownFieldError",
    "ValidationError",
    "fingerprint",
    "register",
    "registry",
    "schema_fingerprint",
    "set_validation",
    "topic_schema",
    "validation",
    "validation_enabled",
]
