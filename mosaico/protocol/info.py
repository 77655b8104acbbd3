"""The ``info`` handshake (spec §5.4.1): server version and message-size limits."""

from __future__ import annotations

import re
from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument

PROTOCOL_VERSION = "0.7.0"
"""The protocol version this package speaks: the reference client's (``mosaicolabs`` 0.7)."""
DEFAULT_PORT = 6726
"""The port a server listens on and a client connects to when none is given."""
MiB = 1024 * 1024


@attrs.frozen
class Limits:
    """Message sizes a server advertises (§2.6), in bytes; the defaults are the reference's.

    Attributes:
        grpc_max_decode_message_size: the largest incoming message the server accepts.
        grpc_max_encode_message_size: the largest outgoing message the server emits.
        grpc_target_encode_message_size: the size the server aims at for DoGet batches.
        max_metadata_bytes: the largest user metadata of a sequence or topic (as compact
            JSON) and the largest notification message (as UTF-8) the server stores; an
            extension of §5.4.1 (an optional key of ``config``; absent from other servers).
    """

    grpc_max_decode_message_size: int = 50 * MiB
    grpc_max_encode_message_size: int = 50 * MiB
    grpc_target_encode_message_size: int = 25 * MiB
    max_metadata_bytes: int = 1 * MiB

    @property
    def upload_batch_limit(self) -> int:
        """Largest IPC payload a client puts in one uploaded batch (§6.5)."""
        return int(0.9 * self.grpc_max_decode_message_size)

    def to_json(self) -> dict[str, int]:
        """The ``config`` object of the ``info`` reply: the three sizes by name."""
        return attrs.asdict(self)


@attrs.frozen
class ServerInfo:
    """The ``info`` reply: the server's version and its message-size limits.

    >>> ServerInfo().to_json()["semver"]
    {'major': 0, 'minor': 7, 'patch': 0, 'pre': None}
    """

    version: str = PROTOCOL_VERSION
    limits: Limits = Limits()

    @property
    def semver(self) -> dict[str, Any]:
        """``version`` split into ``major``, ``minor``, ``patch`` (ints) and ``pre`` (or None).

        Raises:
            InvalidArgument: ``version`` is not ``X.Y.Z`` or ``X.Y.Z-pre``.
        """
        match = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:-(.+))?$", self.version)
        if match is None:
            raise InvalidArgument(f"server version {self.version!r} is not a semantic version")
        major, minor, patch, pre = match.groups()
        return {"major": int(major), "minor": int(minor), "patch": int(patch), "pre": pre}

    def to_json(self) -> dict[str, Any]:
        """The ``info`` payload ``{"version", "semver", "config"}`` (§5.4.1)."""
        return {"version": self.version, "semver": self.semver, "config": self.limits.to_json()}

    @classmethod
    def from_json(cls, obj: Any) -> ServerInfo:
        """Read an ``info`` payload; ``semver`` must be there but its content is not read.

        Raises:
            InvalidArgument: not an object, no ``semver`` or ``config``, or a missing or
                non-integer size in ``config``.
        """
        what = "info response"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} is not a JSON object")
        config = jb.opt_object(obj, "config", what)
        if config is None or jb.opt_object(obj, "semver", what) is None:
            raise InvalidArgument(f"{what} lacks 'semver' or 'config'")
        sizes = {key: jb.req_int(config, key, what) for key in _REQUIRED_LIMITS}
        if (most := jb.opt_int(config, "max_metadata_bytes", what)) is not None:
            sizes["max_metadata_bytes"] = most
        return cls(jb.req_str(obj, "version", what), Limits(**sizes))


_REQUIRED_LIMITS = (
    "grpc_max_decode_message_size",
    "grpc_max_encode_message_size",
    "grpc_target_encode_message_size",
)
