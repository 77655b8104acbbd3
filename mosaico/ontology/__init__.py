"""The run-time support of generated ontology types, and the tag registry.

Generated classes (the standard ones in ``mosaico.types`` and those of user ontologies)
import only this package: the base class ``OntologyType``, column-wise conversion and
checks, query proxies (``Type.Q``), the validation switch and the registry. The generator
(``mosaico_codegen``, the ``codegen`` extra) is never needed to use them.

>>> from mosaico.ontology import registry, validation
>>> registry["IMU"].__name__
'IMU'
>>> with validation(False):  # skip value checks in a hot ingest loop
...     ...
"""

from __future__ import annotations

from mosaico.ontology.base import OntologyType
from mosaico.ontology.query import Expression, FieldPath, QueryBuildError, UnknownFieldError
from mosaico.ontology.runtime import (
    TagClashError,
    ValidationError,
    fingerprint,
    register,
    registry,
    schema_fingerprint,
    set_validation,
    topic_schema,
    validation,
    validation_enabled,
)

__all__ = [
    "Expression",
    "FieldPath",
    "OntologyType",
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
