"""Optional dependencies: check for them where a feature starts, and say what to install.

>>> require("codegen", "jinja2", "yaml")  # if one is missing: MissingExtraError naming the extra
"""

from __future__ import annotations

import importlib

from mosaico.errors import MissingExtraError

# Import name -> distribution name, where the two differ.
_DISTRIBUTIONS = {"yaml": "pyyaml", "PIL": "pillow"}


def missing_extra(extra: str, *modules: str) -> MissingExtraError:
    """The error telling that ``modules`` are missing and which extra installs them."""
    names = ", ".join(_DISTRIBUTIONS.get(m, m) for m in modules)
    msg = f"this needs {names}, which the {extra!r} extra installs.\nHint: pip install 'mosaico-sdk[{extra}]'"
    return MissingExtraError(msg, name=modules[0])


def require(extra: str, *modules: str) -> None:
    """Import ``modules``; raise ``MissingExtraError`` naming the extra if any is missing."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            missing.append(module)
    if missing:
        raise missing_extra(extra, *missing)
