"""API keys with read/write/delete permissions, checked on every call (spec §2.4).

Missing, unknown and under-privileged keys all get PERMISSION_DENIED, the one error class
the reference client treats specially.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow.flight as flight

from mosaico.errors import InputError
from mosaico.protocol.permissions import API_KEY_HEADER, PERMISSIONS, RPC_PERMISSION

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


# The RPCs other than DoAction: their permission is known from the method alone, so it is
# checked here, before the handler runs (pyarrow loses statuses raised inside GetSchema).
_METHOD_RPC = {
    flight.FlightMethod.GET_FLIGHT_INFO: "get_flight_info",
    flight.FlightMethod.GET_SCHEMA: "get_schema",
    flight.FlightMethod.DO_GET: "do_get",
    flight.FlightMethod.LIST_FLIGHTS: "list_flights",
    flight.FlightMethod.DO_PUT: "do_put",
}


def _digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()


class ApiKeyMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Rejects calls without a known key, or whose key lacks the permission of the RPC;
    remembers what the key may do for DoAction, whose permission depends on the action."""

    def __init__(self, keys: ApiKeys) -> None:
        # Digests of equal length, compared in constant time: the time taken tells nothing
        # about how close a guess was.
        self._keys = [(_digest(key), perms) for key, perms in keys.grants.items()]

    def _lookup(self, token: bytes) -> frozenset[str] | None:
        wanted, granted = _digest(token), None
        for digest, perms in self._keys:  # no early exit, for the same reason
            if hmac.compare_digest(digest, wanted):
                granted = perms
        return granted

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[Any]]) -> _Granted:
        """Called by Flight before each call: look up the key in the API key header
        (``API_KEY_HEADER``) and, for the RPCs other than DoAction, check their permission;
        returns the middleware that holds what the key may do.

        Raises:
            flight.FlightUnauthorizedError: the key is missing, unknown or lacks the RPC's
                permission (``PERMISSION_DENIED``).
        """
        values = headers.get(API_KEY_HEADER) or [b""]
        token = values[0] if isinstance(values[0], bytes) else str(values[0]).encode()
        granted = self._lookup(token) if token else None
        if granted is None:
            what = "unknown API key" if token else f"missing API key (header {API_KEY_HEADER!r})"
            raise flight.FlightUnauthorizedError(f"permission denied: {what}")
        rpc = _METHOD_RPC.get(info.method)
        if rpc is not None:
            _check(granted, RPC_PERMISSION[rpc])
        return _Granted(granted)


def _check(granted: frozenset[str], permission: str | None) -> None:
    if permission is not None and permission not in granted:
        raise flight.FlightUnauthorizedError(
            f"permission denied: this API key lacks the {permission!r} permission"
        )


def require(context: flight.ServerCallContext, permission: str | None) -> None:
    """Fail with PERMISSION_DENIED unless the caller's key grants ``permission`` (DoAction,
    whose permission depends on the action named; other RPCs are checked at the call's
    start)."""
    granted = context.get_middleware(MIDDLEWARE_KEY)
    if granted is not None:  # None: no authentication configured
        _check(granted.permissions, permission)
