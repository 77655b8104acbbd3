"""API keys with read/write/delete permissions, checked on every call (spec §2.4).

Missing, unknown and under-privileged keys all get PERMISSION_DENIED, the one error class
the reference client treats specially.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow.flight as flight

from mosaico.errors import InputError
from mosaico.protocol.permissions import API_KEY_HEADER, PERMISSIONS

MIDDLEWARE_KEY = "mosaico-auth"


@attrs.frozen
class ApiKeys:
    """key -> the permissions it grants."""

    grants: Mapping[str, frozenset[str]]

    @classmethod
    def parse(cls, specs: Iterable[str]) -> ApiKeys:
        """`KEY` (every permission) or `KEY:read,write` entries."""
        grants: dict[str, frozenset[str]] = {}
        for spec in specs:
            key, _, perms = spec.partition(":")
            grants[key] = cls._permissions(key, perms.split(",") if perms else list(PERMISSIONS))
        return cls(grants)

    @classmethod
    def from_file(cls, path: str | Path) -> ApiKeys:
        """A JSON object `{"<key>": ["read", "write", "delete"], ...}`."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object of key -> list of permissions")
        return cls({key: cls._permissions(key, perms) for key, perms in data.items()})

    @staticmethod
    def _permissions(key: str, perms: Any) -> frozenset[str]:
        if not key:
            raise InputError("an API key cannot be empty")
        if not isinstance(perms, list) or not set(perms) <= set(PERMISSIONS):
            raise InputError(
                f"permissions of an API key must be a list among {', '.join(PERMISSIONS)}, got {perms!r}"
            )
        return frozenset(perms)


class _Granted(flight.ServerMiddleware):
    def __init__(self, permissions: frozenset[str]) -> None:
        self.permissions = permissions


class ApiKeyMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Rejects calls without a known key; remembers what the key may do for the handlers."""

    def __init__(self, keys: ApiKeys) -> None:
        self._keys = keys

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[Any]]) -> _Granted:
        """Called by Flight before each call: look up the key in the API key header
        (``API_KEY_HEADER``); returns the middleware that holds what the key may do.

        Raises:
            flight.FlightUnauthorizedError: the key is missing or unknown
                (``PERMISSION_DENIED``).
        """
        values = headers.get(API_KEY_HEADER) or []
        token = (
            values[0].decode() if values and isinstance(values[0], bytes) else (values or [""])[0]
        )
        granted = self._keys.grants.get(token)
        if granted is None:
            what = "unknown API key" if token else f"missing API key (header {API_KEY_HEADER!r})"
            raise flight.FlightUnauthorizedError(f"permission denied: {what}")
        return _Granted(granted)


def require(context: flight.ServerCallContext, permission: str | None) -> None:
    """Fail with PERMISSION_DENIED unless the caller's key grants `permission`."""
    granted = context.get_middleware(MIDDLEWARE_KEY)
    if granted is None or permission is None:
        return  # no authentication configured, or any valid key will do
    if permission not in granted.permissions:
        raise flight.FlightUnauthorizedError(
            f"permission denied: this API key lacks the {permission!r} permission"
        )
