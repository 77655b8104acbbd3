"""Structured log lines: ``event key=value ...`` through stdlib logging."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("mosaico.server")


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def kv(event: str, **fields: Any) -> str:
    """``kv("doput.done", topic="a/b", rows=3)`` -> ``doput.done topic=a/b rows=3``."""
    return " ".join([event, *(f"{k}={_fmt(v)}" for k, v in fields.items())])
