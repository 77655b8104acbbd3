"""The ontology as the runtime sees it: the tag registry and the standard types."""

from __future__ import annotations

import mosaico_ontology  # noqa: F401  - importing registers every standard type
from mosaico_codegen.runtime import (
    ValidationError,
    fingerprint,
    registry,
    schema_fingerprint,
    set_validation,
    validation,
    validation_enabled,
)

__all__ = [
    "ValidationError",
    "fingerprint",
    "registry",
    "schema_fingerprint",
    "set_validation",
    "validation",
    "validation_enabled",
]
